// ringhook/verify for Node.js (CommonJS): the verifying exports alone, their wasm loaded
// synchronously from disk. verify.cjs is verify.js made CommonJS by the package build.
const { readFileSync } = require('node:fs');
const path = require('node:path');
const { defineVerifier } = require('./verify.cjs');

const verifier = defineVerifier();
const wasm = new WebAssembly.Module(readFileSync(path.join(__dirname, 'ringhook_verify.wasm')));
verifier.init(new WebAssembly.Instance(wasm, verifier.imports));

const { verifyWebhookSignature, verifyWebhook, verifyRequest } = verifier;
module.exports = { verifyWebhookSignature, verifyWebhook, verifyRequest };

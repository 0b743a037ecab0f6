// ringhook/verify for Node.js (CommonJS): the verifying exports alone, their wasm loaded
// synchronously from disk. verify.cjs is verify.js made CommonJS by the package build.
const { readFileSync } = require('node:fs');
const path = require('node:path');
const verify = require('./verify.cjs');

const wasm = new WebAssembly.Module(readFileSync(path.join(__dirname, 'ringhook_verify.wasm')));
verify.init(new WebAssembly.Instance(wasm, verify.imports));

const { verifyWebhookSignature, verifyWebhook, verifyRequest } = verify;
module.exports = { verifyWebhookSignature, verifyWebhook, verifyRequest };

// Node.js CommonJS: the module loaded synchronously from disk, and the stream and the API's client beside it
// (node/core.cjs, stream.cjs and client.cjs are made from core.js, stream.js and client.js by the package build).
const { readFileSync } = require('node:fs');
const path = require('node:path');
const { defineCore } = require('./node/core.cjs');
const { defineStream } = require('./node/stream.cjs');
const { WebhookClient } = require('./node/client.cjs');

const core = defineCore();
const wasm = new WebAssembly.Module(readFileSync(path.join(__dirname, 'ringhook.wasm')));
core.init(new WebAssembly.Instance(wasm, core.imports));

const { verifyWebhookSignature, verifyWebhook, verifyRequest, signWebhook, CallEventDispatcher } = core;
module.exports = {
  verifyWebhookSignature, verifyWebhook, verifyRequest, signWebhook, CallEventDispatcher, WebhookClient, ...defineStream(core),
};

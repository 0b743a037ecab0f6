// Node.js CommonJS: the wasm-bindgen build, the stream and verifyRequest built on it, and the API's client
// (stream.cjs, request.cjs and client.cjs are made from stream.js, request.js and client.js).
const wasm = require('./node/ringhook.js');
const { defineStream } = require('./node/stream.cjs');
const { WebhookClient } = require('./node/client.cjs');
const { defineVerifyRequest } = require('./node/request.cjs');

const { reconnectDelayMs, ...api } = wasm;
module.exports = { ...api, verifyRequest: defineVerifyRequest(wasm.verifyWebhook), WebhookClient, ...defineStream(wasm) };

// Node.js CommonJS: the wasm-bindgen build, the stream built on it and the API's client (stream.cjs and
// client.cjs are made from stream.js and client.js).
const wasm = require('./node/ringhook.js');
const { defineStream } = require('./node/stream.cjs');
const { WebhookClient } = require('./node/client.cjs');

const { reconnectDelayMs, ...api } = wasm;
module.exports = { ...api, WebhookClient, ...defineStream(wasm) };

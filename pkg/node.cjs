// Node.js CommonJS: the wasm-bindgen build, and the stream built on it (stream.cjs is made from stream.js).
const wasm = require('./node/ringhook.js');
const { defineStream } = require('./node/stream.cjs');

const { reconnectDelayMs, ...api } = wasm;
module.exports = { ...api, ...defineStream(wasm) };

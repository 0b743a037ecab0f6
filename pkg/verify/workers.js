// ringhook/verify for Cloudflare Workers (and other workerd hosts): the runtime compiles the module at deploy time.
import wasmModule from './web/ringhook_bg.wasm';
import * as wasm from './web/ringhook.js';

wasm.initSync({ module: wasmModule });

export { verifyWebhookSignature, verifyWebhook, verifyRequest, signWebhook } from './web/ringhook.js';

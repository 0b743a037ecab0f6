// ringhook/verify for Cloudflare Workers (and other workerd hosts): the runtime compiles the module at deploy time.
import wasmModule from './ringhook_verify.wasm';
import { imports, init } from './verify.js';

init(new WebAssembly.Instance(wasmModule, imports));

export { verifyWebhookSignature, verifyWebhook, verifyRequest } from './verify.js';

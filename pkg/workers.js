// Cloudflare Workers (and other workerd hosts): the runtime compiles the module at deploy time.
import wasmModule from './web/ringhook_bg.wasm';
import { initSync } from './web/ringhook.js';

initSync({ module: wasmModule });

export { verifyWebhookSignature, verifyWebhook, verifyRequest, signWebhook, WebhookClient, CallEventDispatcher } from './web/ringhook.js';

// Cloudflare Workers (and other workerd hosts): the runtime compiles the module at deploy time.
import wasmModule from './web/ringhook_bg.wasm';
import * as wasm from './web/ringhook.js';
import { defineStream } from './stream.js';
import { defineVerifyRequest } from './request.js';

wasm.initSync({ module: wasmModule });

export { verifyWebhookSignature, verifyWebhook, signWebhook, CallEventDispatcher } from './web/ringhook.js';
export const verifyRequest = defineVerifyRequest(wasm.verifyWebhook);
export { WebhookClient } from './client.js';
export const { CallEventStream, CallStore } = defineStream(wasm);

// Browsers and bundlers: fetch and instantiate the module once, before any importer runs.
import init, * as wasm from './web/ringhook.js';
import { defineStream } from './stream.js';
import { defineVerifyRequest } from './request.js';

await init({ module_or_path: new URL('./web/ringhook_bg.wasm', import.meta.url) });

export { verifyWebhookSignature, verifyWebhook, signWebhook, CallEventDispatcher } from './web/ringhook.js';
export const verifyRequest = defineVerifyRequest(wasm.verifyWebhook);
export { WebhookClient } from './client.js';
export const { CallEventStream, CallStore } = defineStream(wasm);

// Browsers and bundlers: fetch and instantiate the module once, before any importer runs.
import init from './web/ringhook.js';

await init({ module_or_path: new URL('./web/ringhook_bg.wasm', import.meta.url) });

export { verifyWebhookSignature, verifyWebhook, verifyRequest, signWebhook, WebhookClient, CallEventDispatcher } from './web/ringhook.js';

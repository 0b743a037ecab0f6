// ringhook/verify for browsers and bundlers: the verifying and signing exports alone, from their own smaller
// wasm build, fetched and instantiated once before any importer runs.
import init from './web/ringhook.js';

await init({ module_or_path: new URL('./web/ringhook_bg.wasm', import.meta.url) });

export { verifyWebhookSignature, verifyWebhook, verifyRequest, signWebhook } from './web/ringhook.js';

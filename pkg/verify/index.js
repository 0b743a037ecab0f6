// ringhook/verify for browsers and bundlers: the verifying exports alone, around their own small
// wasm, fetched and instantiated once before any importer runs.
import { imports, init } from './verify.js';

const response = await fetch(new URL('./ringhook_verify.wasm', import.meta.url));
init((await WebAssembly.instantiate(await response.arrayBuffer(), imports)).instance);

export { verifyWebhookSignature, verifyWebhook, verifyRequest } from './verify.js';

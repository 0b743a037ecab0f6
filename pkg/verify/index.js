// ringhook/verify for browsers and bundlers: the verifying exports alone, around their own small
// wasm, fetched and instantiated once before any importer runs.
import { defineVerifier } from './verify.js';

const verifier = defineVerifier();
const response = await fetch(new URL('./ringhook_verify.wasm', import.meta.url));
verifier.init((await WebAssembly.instantiate(await response.arrayBuffer(), verifier.imports)).instance);

export const { verifyWebhookSignature, verifyWebhook, verifyRequest } = verifier;

// ringhook/verify for Cloudflare Workers (and other workerd hosts): the runtime compiles the module at deploy time.
import wasmModule from './ringhook_verify.wasm';
import { defineVerifier } from './verify.js';

const verifier = defineVerifier();
verifier.init(new WebAssembly.Instance(wasmModule, verifier.imports));

export const { verifyWebhookSignature, verifyWebhook, verifyRequest } = verifier;

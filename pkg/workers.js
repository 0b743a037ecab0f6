// Cloudflare Workers (and other workerd hosts): the runtime compiles the module at deploy time.
import wasmModule from './ringhook.wasm';
import { defineCore } from './core.js';
import { defineStream } from './stream.js';

const core = defineCore();
core.init(new WebAssembly.Instance(wasmModule, core.imports));

export const { verifyWebhookSignature, verifyWebhook, verifyRequest, signWebhook, CallEventDispatcher } = core;
export { WebhookClient } from './client.js';
export const { CallEventStream, CallStore } = defineStream(core);

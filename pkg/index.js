// Browsers and bundlers: fetch and instantiate the module once, before any importer runs.
import { defineCore } from './core.js';
import { defineStream } from './stream.js';

const core = defineCore();
const response = await fetch(new URL('./ringhook.wasm', import.meta.url));
core.init((await WebAssembly.instantiate(await response.arrayBuffer(), core.imports)).instance);

export const { verifyWebhookSignature, verifyWebhook, verifyRequest, signWebhook, CallEventDispatcher } = core;
export { WebhookClient } from './client.js';
export const { CallEventStream, CallStore } = defineStream(core);

// Node.js ES modules: the CommonJS entry, which loads its module synchronously from disk.
import { createRequire } from 'node:module';

const ringhook = createRequire(import.meta.url)('./node.cjs');

export const {
  verifyWebhookSignature, verifyWebhook, verifyRequest, signWebhook, WebhookClient, CallEventDispatcher, CallEventStream,
  CallStore,
} = ringhook;

// Node.js ES modules: the CommonJS build, which loads its module synchronously from disk.
import { createRequire } from 'node:module';

const ringhook = createRequire(import.meta.url)('./node/ringhook.js');

export const { verifyWebhookSignature, verifyWebhook, verifyRequest, signWebhook, WebhookClient, CallEventDispatcher } = ringhook;

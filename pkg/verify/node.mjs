// ringhook/verify for Node.js ES modules: the CommonJS entry, which loads its module synchronously from disk.
import { createRequire } from 'node:module';

export const { verifyWebhookSignature, verifyWebhook, verifyRequest } = createRequire(import.meta.url)('./node.cjs');

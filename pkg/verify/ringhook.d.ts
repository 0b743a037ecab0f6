// ringhook/verify: the verifying part of the package, declared once, with the main entry's types.
export { verifyWebhookSignature, verifyWebhook, verifyRequest } from '../ringhook.js';
export type {
  CallEventType, CallStatus, WebhookEvent, WebhookHeaders, VerifyOptions, VerificationErrorCode,
  WebhookVerificationError,
} from '../ringhook.js';

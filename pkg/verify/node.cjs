// ringhook/verify for Node.js (CommonJS): the verifying and signing exports alone, loaded synchronously from disk.
const { verifyWebhookSignature, verifyWebhook, verifyRequest, signWebhook } = require('./node/ringhook.js');

module.exports = { verifyWebhookSignature, verifyWebhook, verifyRequest, signWebhook };

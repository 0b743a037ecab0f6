// `verifyRequest` for Fetch API receivers (Workers, Node 18+, Deno, Bun), on an entry's own `verifyWebhook`: every
// entry of the package, `ringhook/verify` too, builds it here.

/** @param {(body: ArrayBuffer, headers: unknown, secretKey: unknown, options?: unknown) => unknown} verifyWebhook */
export function defineVerifyRequest(verifyWebhook) {
  return async function verifyRequest(request, secretKey, options) {
    if (typeof request?.arrayBuffer !== 'function') throw new TypeError('verifyRequest takes a Fetch API Request');
    return verifyWebhook(await request.arrayBuffer(), request.headers, secretKey, options);
  };
}

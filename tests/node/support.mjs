// Shared helpers for the ringhook end-to-end tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import crypto from 'node:crypto';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const pkgDir = path.join(repoRoot, 'pkg');

// CI runs in a fresh clone with shared/ beside the repository.
export const vectorsPath = path.join(repoRoot, '..', 'shared', 'vectors', 'signatures.json');
export const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8'));

/** The Standard Webhooks headers of a vector, as the sender would send them. */
export const swHeaders = (v) => ({
  'webhook-id': v.webhook_id,
  'webhook-timestamp': String(v.webhook_timestamp),
  'webhook-signature': v.webhook_signature,
});

/** The setup guide's verifier, copied verbatim from it. */
export function guideVerifyWebhookSignature(payload, signature, secretKey) {
  const expectedSignature = crypto
    .createHmac('sha256', secretKey)
    .update(payload)
    .digest('hex');

  return crypto.timingSafeEqual(
    Buffer.from(signature.replace('sha256=', ''), 'hex'),
    Buffer.from(expectedSignature, 'hex')
  );
}

/** A deterministic PRNG (mulberry32), so a failing random case can be reproduced. */
export function rng(state) {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ASCII, Latin-1, BMP (no surrogates), and astral code points (emoji, CJK ext.).
const RANGES = [[0x20, 0x7e], [0x00, 0x1f], [0xa0, 0x24f], [0x400, 0x4ff], [0x2600, 0x26ff], [0x4e00, 0x9fff], [0x1f300, 0x1faff], [0x20000, 0x2a6df]];

/** A random string of up to maxLen code points, mixing ASCII and multi-byte UTF-8. */
export function randomText(rand, maxLen) {
  const n = Math.floor(rand() * (maxLen + 1));
  let s = '';
  for (let i = 0; i < n; i++) {
    const [lo, hi] = RANGES[rand() < 0.5 ? 0 : Math.floor(rand() * RANGES.length)];
    s += String.fromCodePoint(lo + Math.floor(rand() * (hi - lo + 1)));
  }
  return s;
}

/** A random whsec_ secret of 24-64 key bytes. */
export const randomWhsec = (rand) =>
  'whsec_' + Buffer.from(Array.from({ length: 24 + Math.floor(rand() * 41) }, () => Math.floor(rand() * 256))).toString('base64');

/** The body with one byte changed (XOR 0x01 at a pseudo-random position). */
export function flipByte(body, rand = Math.random) {
  if (body.length === 0) throw new Error('flipByte needs a non-empty body');
  const bytes = Buffer.from(body);
  bytes[Math.floor(rand() * bytes.length)] ^= 0x01;
  return bytes;
}

export const xSignature = (body, secret) => 'sha256=' + crypto.createHmac('sha256', secret).update(body).digest('hex');

export const nowSeconds = () => Math.floor(Date.now() / 1000);

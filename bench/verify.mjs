// Verification speed of the `ringhook` package in Node against the setup guide's node:crypto verifier,
// `standardwebhooks` and `svix`, at 1 KiB and 64 KiB bodies: `node bench/verify.mjs [--json FILE]`.
// Each contender runs in interleaved rounds; the median round counts.
import crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Webhook as SvixWebhook } from 'svix';
import { verifyWebhookSignature, verifyWebhook, signWebhook } from '../pkg/node.mjs';
import * as verifyOnly from '../pkg/verify/node.mjs';

const require = createRequire(import.meta.url);
const { Webhook: StandardWebhook } = require('standardwebhooks');

const ROUNDS = 5;
const ROUND_MS = 300;
const SECRET = 'whsec_' + crypto.randomBytes(32).toString('base64');

// The setup guide's verifier, as users copy it.
function guideVerify(payload, signature, secretKey) {
  const expectedSignature = crypto.createHmac('sha256', secretKey).update(payload).digest('hex');
  return crypto.timingSafeEqual(Buffer.from(signature.replace('sha256=', ''), 'hex'), Buffer.from(expectedSignature, 'hex'));
}

function body(size) {
  const head = `{"id":"evt_01JDQ6W9Z8K4V3N2M1P0Q9R8S7","event":"call.completed","callId":"call_123","status":"completed","timestamp":${Math.floor(Date.now() / 1000)},"data":{"note":"`;
  return head + 'x'.repeat(size - head.length - 3) + '"}}';
}

function measure(fn) {
  let ops = 0;
  const end = performance.now() + ROUND_MS;
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) if (!fn()) throw new Error(`verification failed: ${fn}`);
    ops += 64;
  }
  return (ops * 1000) / ROUND_MS;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const results = [];
for (const size of [1024, 65536]) {
  const payload = body(size);
  const headers = signWebhook(payload, SECRET, { id: 'evt_01JDQ6W9Z8K4V3N2M1P0Q9R8S7' });
  const standardHeaders = { 'webhook-id': headers['webhook-id'], 'webhook-timestamp': headers['webhook-timestamp'], 'webhook-signature': headers['webhook-signature'] };
  const bodySignatureHeaders = { 'x-webhook-signature': headers['x-webhook-signature'] };
  const sig = headers['x-webhook-signature'];
  const standard = new StandardWebhook(SECRET);
  const svix = new SvixWebhook(SECRET);

  const contenders = {
    'ringhook verifyWebhookSignature': () => verifyWebhookSignature(payload, sig, SECRET),
    'ringhook verifyWebhook (Standard Webhooks headers)': () => verifyWebhook(payload, standardHeaders, SECRET) !== undefined,
    'ringhook verifyWebhook (X-Webhook-Signature)': () => verifyWebhook(payload, bodySignatureHeaders, SECRET) !== undefined,
    'ringhook/verify verifyWebhookSignature': () => verifyOnly.verifyWebhookSignature(payload, sig, SECRET),
    'ringhook/verify verifyWebhook (Standard Webhooks headers)': () => verifyOnly.verifyWebhook(payload, standardHeaders, SECRET) !== undefined,
    "node:crypto (the setup guide's verifyWebhookSignature)": () => guideVerify(payload, sig, SECRET),
    'standardwebhooks 1.1.1 verify': () => standard.verify(payload, standardHeaders) !== undefined,
    'svix 2.5.0 verify': () => (svix.verify(payload, standardHeaders), true), // throws on failure
  };
  const samples = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  for (const fn of Object.values(contenders)) measure(fn); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(contenders)) samples[name].push(measure(fn));
  }
  for (const [name, xs] of Object.entries(samples)) results.push({ size, name, opsPerSec: Math.round(median(xs)) });
}

const rate = (size, name) => results.find((r) => r.size === size && r.name.startsWith(name)).opsPerSec;
console.log(`Node ${process.version}, ${ROUNDS} rounds of ${ROUND_MS} ms, median round\n`);
console.log('| body | verifier | ops/s | vs standardwebhooks | vs node:crypto |');
console.log('|---|---|---:|---:|---:|');
for (const r of results) {
  const vsStd = (r.opsPerSec / rate(r.size, 'standardwebhooks')).toFixed(2);
  const vsNode = (r.opsPerSec / rate(r.size, 'node:crypto')).toFixed(2);
  console.log(`| ${r.size / 1024} KiB | ${r.name} | ${r.opsPerSec.toLocaleString('en-US')} | ${vsStd}× | ${vsNode}× |`);
}
const jsonAt = process.argv.indexOf('--json');
if (jsonAt > 0) writeFileSync(process.argv[jsonAt + 1], JSON.stringify({ node: process.version, results }, null, 2));

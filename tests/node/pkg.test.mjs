// The npm package in Node.js: both entry points, the shared vectors, the setup guide's verifier,
// node:crypto, the Standard Webhooks and Svix libraries, rotation and every error code. verify.test.mjs runs
// the same cases through the `ringhook/verify` entry (RINGHOOK_PKG_ENTRY), which verifies only: there the
// deliveries are signed by the main entry's signWebhook.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import crypto from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import {
  pkgDir, vectors, swHeaders, guideVerifyWebhookSignature, rng, randomText, randomWhsec, flipByte, xSignature, nowSeconds,
} from './support.mjs';

/** The entry under test, and what it exports. */
const ENTRY = process.env.RINGHOOK_PKG_ENTRY ?? 'ringhook';
const ENTRIES = {
  ringhook: {
    files: ['node.mjs', 'node.cjs'],
    functions: ['CallEventDispatcher', 'CallEventStream', 'CallStore', 'WebhookClient', 'signWebhook', 'verifyRequest',
      'verifyWebhook', 'verifyWebhookSignature'],
  },
  'ringhook/verify': {
    files: ['verify/node.mjs', 'verify/node.cjs'],
    functions: ['verifyRequest', 'verifyWebhook', 'verifyWebhookSignature'],
  },
};
const require = createRequire(import.meta.url);
const esm = await import(ENTRY);
const cjs = require(ENTRY);
const { verifyWebhook, verifyWebhookSignature } = esm;
const { signWebhook } = await import('ringhook');

const SECRET = vectors.cases[0].secret_key;
const event = (ts, extra = {}) => JSON.stringify({
  id: 'evt_test', event: 'call.status.changed', callId: 'call_1', status: 'ringing', timestamp: ts, data: extra,
});

it(`resolves import and require of ${ENTRY} to its Node entry points`, () => {
  const { files, functions } = ENTRIES[ENTRY];
  assert.equal(fileURLToPath(import.meta.resolve(ENTRY)), path.join(pkgDir, files[0]));
  assert.equal(require.resolve(ENTRY), path.join(pkgDir, files[1]));
  for (const api of [esm, cjs]) {
    assert.deepEqual(Object.keys(api).filter((k) => typeof api[k] === 'function').sort(), functions);
  }
});

for (const [entry, api] of Object.entries({ import: esm, require: cjs })) {
  describe(`shared vectors via ${entry}`, () => {
    for (const v of vectors.cases) {
      it(v.name, () => {
        const signed = (api.signWebhook ?? signWebhook)(v.body, v.secret_key, { id: v.webhook_id, timestamp: v.webhook_timestamp });
        assert.equal(signed['x-webhook-signature'], v.x_webhook_signature);
        assert.equal(signed['webhook-signature'], v.webhook_signature ?? '');
        assert.equal(signed['webhook-id'], v.webhook_id);
        assert.equal(signed['webhook-timestamp'], String(v.webhook_timestamp));

        const sig = v.x_webhook_signature;
        assert.equal(api.verifyWebhookSignature(v.body, sig, v.secret_key), true);
        assert.equal(api.verifyWebhookSignature(Buffer.from(v.body), sig, v.secret_key), true);
        const tampered = v.body ? flipByte(v.body) : Buffer.from(' ');
        assert.equal(api.verifyWebhookSignature(tampered, sig, v.secret_key), false);
        assert.equal(api.verifyWebhookSignature(v.body, undefined, v.secret_key), false);

        const now = v.webhook_timestamp;
        if (v.webhook_signature === null) {
          // A plain (setup-guide-style) secret: only X-Webhook-Signature; this body has no timestamp field.
          const headers = { 'x-webhook-signature': sig };
          assert.deepEqual(api.verifyWebhook(v.body, headers, v.secret_key, { toleranceSeconds: null }), JSON.parse(v.body));
          assert.throws(() => api.verifyWebhook(v.body, headers, v.secret_key, { now }), { code: 'missing_timestamp' });
        } else if (v.body === '') {
          // Correctly signed, but there is no event to return.
          assert.throws(() => api.verifyWebhook(v.body, new Headers(swHeaders(v)), v.secret_key, { now }), { code: 'invalid_payload' });
        } else {
          const expected = JSON.parse(v.body);
          assert.deepEqual(api.verifyWebhook(v.body, new Headers(swHeaders(v)), v.secret_key, { now }), expected);
          assert.deepEqual(api.verifyWebhook(v.body, swHeaders(v), v.secret_key, { now }), expected); // like Node's req.headers
          assert.deepEqual(api.verifyWebhook(Buffer.from(v.body), swHeaders(v), v.secret_key, { now }), expected);
        }
      });
    }
  });
}

describe('random bodies and secrets', () => {
  it("the setup guide's verifyWebhookSignature accepts signWebhook output (200 cases)", () => {
    const rand = rng(1);
    for (let i = 0; i < 200; i++) {
      const body = randomText(rand, 300);
      const secret = rand() < 0.5 ? randomWhsec(rand) : randomText(rand, 40) || 'k';
      const { 'x-webhook-signature': sig } = signWebhook(body, secret, { id: `evt_${i}`, timestamp: 1764355200 + i });
      assert.ok(guideVerifyWebhookSignature(body, sig, secret), `case ${i}: ${JSON.stringify({ body, secret })}`);
    }
  });

  it('verifyWebhookSignature agrees with node:crypto on valid and tampered bodies', () => {
    const rand = rng(2);
    let valid = 0;
    for (let i = 0; i < 300; i++) {
      const secret = randomText(rand, 40) || 'k';
      const bytes = rand() < 0.5;
      const body = bytes ? crypto.randomBytes(Math.floor(rand() * 200)) : randomText(rand, 200);
      const sig = xSignature(body, secret);
      const candidate = body.length > 0 && rand() < 0.5 ? flipByte(body, rand) : body;
      const expected = xSignature(candidate, secret) === sig;
      valid += expected;
      assert.equal(verifyWebhookSignature(candidate, sig, secret), expected, `case ${i}`);
      if (bytes) assert.equal(verifyWebhookSignature(new Uint8Array(candidate).buffer, sig, secret), expected, `case ${i} (ArrayBuffer)`);
    }
    assert.ok(valid > 50 && valid < 250, `a mix of valid and tampered cases (${valid} valid)`);
  });
});

describe('Standard Webhooks libraries', () => {
  const bodies = [event(nowSeconds()), event(nowSeconds(), { note: 'Grüße — 📞 ☎' }), '{}', '{"nested":{"a":[1,2,3]}}'];
  const tamper = (body) => body.replace('}', ' }');

  it('standardwebhooks verifies signWebhook headers', () => {
    for (const body of bodies) {
      const headers = signWebhook(body, SECRET, { timestamp: nowSeconds() });
      assert.deepEqual(new StandardWebhook(SECRET).verify(body, headers), JSON.parse(body));
      assert.throws(() => new StandardWebhook(SECRET).verify(tamper(body), headers), /No matching signature/);
    }
  });

  it('svix verifies signWebhook headers', () => {
    for (const body of bodies) {
      const headers = signWebhook(body, SECRET, { timestamp: nowSeconds() });
      assert.doesNotThrow(() => new SvixWebhook(SECRET).verify(body, headers));
      assert.throws(() => new SvixWebhook(SECRET).verify(tamper(body), headers), /No matching signature/);
    }
  });

  it("verifyWebhook accepts standardwebhooks' own signatures", () => {
    const rand = rng(3);
    for (let i = 0; i < 50; i++) {
      const secret = randomWhsec(rand);
      const ts = 1764355200 + i;
      const body = JSON.stringify({ timestamp: ts, text: randomText(rand, 100) });
      const signature = new StandardWebhook(secret).sign(`msg_${i}`, new Date(ts * 1000), body);
      const headers = { 'webhook-id': `msg_${i}`, 'webhook-timestamp': String(ts), 'webhook-signature': signature };
      assert.deepEqual(verifyWebhook(body, headers, secret, { now: ts }), JSON.parse(body), `case ${i}`);
      assert.equal(signWebhook(body, secret, { id: `msg_${i}`, timestamp: ts })['webhook-signature'], signature);
    }
  });
});

describe('secret rotation', () => {
  const [current, previous, other] = ['rotation-new', 'rotation-old', 'rotation-other'].map(
    (s) => 'whsec_' + crypto.createHash('sha256').update(s).digest('base64'));
  const body = event(1764355200);
  const headers = signWebhook(body, [current, previous], { id: 'evt_rot', timestamp: 1764355200 });
  const now = 1764355200;

  it('signs webhook-signature with both secrets and X-Webhook-Signature with the first', () => {
    assert.equal(headers['webhook-signature'].split(' ').length, 2);
    assert.equal(headers['x-webhook-signature'], xSignature(body, current));
  });

  it('verifies with either secret, not with a third', () => {
    assert.deepEqual(verifyWebhook(body, headers, current, { now }), JSON.parse(body));
    assert.deepEqual(verifyWebhook(body, new Headers(headers), previous, { now }), JSON.parse(body));
    assert.throws(() => verifyWebhook(body, headers, other, { now }), { code: 'signature_mismatch' });
  });
});

describe('errors', () => {
  const now = 1764355200;
  const body = event(now);
  const headers = signWebhook(body, SECRET, { id: 'evt_err', timestamp: now });
  const { 'webhook-id': id, 'webhook-signature': sig, 'webhook-timestamp': ts } = headers;
  const plainSecret = 'plain-secret-hunter2';
  const noTimestamp = '{"event":"call.failed"}';
  const signedText = signWebhook('not json', SECRET, { id: 'evt_txt', timestamp: now });

  const cases = [
    ['signature_mismatch', () => verifyWebhook(body.replace('ringing', 'failed'), headers, SECRET, { now })],
    ['signature_mismatch', () => verifyWebhook(body, headers, plainSecret, { now })],
    ['timestamp_too_old', () => verifyWebhook(body, headers, SECRET, { now: now + 301 })],
    ['timestamp_in_future', () => verifyWebhook(body, headers, SECRET, { now: now - 301 })],
    ['timestamp_too_old', () => verifyWebhook(body, { 'x-webhook-signature': xSignature(body, plainSecret) }, plainSecret, { now: now + 301 })],
    ['missing_signature', () => verifyWebhook(body, { 'content-type': 'application/json' }, SECRET, { now })],
    ['missing_header', () => verifyWebhook(body, { 'webhook-id': id, 'webhook-signature': sig }, SECRET, { now })],
    ['malformed_signature', () => verifyWebhook(body, { ...headers, 'webhook-signature': 'garbage' }, SECRET, { now })],
    ['malformed_signature', () => verifyWebhook(body, { 'x-webhook-signature': 'sha256=xyz' }, plainSecret, { now })],
    ['invalid_timestamp', () => verifyWebhook(body, { ...headers, 'webhook-timestamp': 'yesterday' }, SECRET, { now })],
    ['missing_timestamp', () => verifyWebhook(noTimestamp, { 'x-webhook-signature': xSignature(noTimestamp, plainSecret) }, plainSecret, { now })],
    ['invalid_secret', () => verifyWebhook(body, headers, 'whsec_%%%hunter2', { now })],
    ['invalid_payload', () => verifyWebhook('not json', signedText, SECRET, { now })],
  ];

  for (const [code, fn] of cases) {
    it(`${code}: ${fn.toString().replace(/^\(\) => /, '').slice(0, 80)}`, () => {
      assert.throws(fn, (err) => {
        assert.ok(err instanceof Error);
        assert.equal(err.name, 'WebhookVerificationError');
        assert.equal(err.code, code);
        for (const secret of [SECRET, SECRET.slice(6), plainSecret, 'hunter2']) assert.ok(!err.message.includes(secret), err.message);
        if (code === 'signature_mismatch') assert.match(err.message, /raw request body/);
        return true;
      });
    });
  }

  it('accepts the same requests when nothing is wrong (the cases above are not vacuous)', () => {
    assert.deepEqual(verifyWebhook(body, headers, SECRET, { now: now + 300 }), JSON.parse(body));
    assert.deepEqual(verifyWebhook(body, { 'x-webhook-signature': xSignature(body, plainSecret) }, plainSecret, { now }), JSON.parse(body));
    assert.deepEqual(verifyWebhook(body, headers, SECRET, { now: now + 86400, toleranceSeconds: null }), JSON.parse(body));
    const fresh = event(nowSeconds()); // the default clock is Date.now()
    assert.deepEqual(verifyWebhook(fresh, signWebhook(fresh, SECRET, {}), SECRET), JSON.parse(fresh));
    assert.deepEqual(verifyWebhook(body, { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': sig }, SECRET, { now }), JSON.parse(body));
  });

  it('throws a TypeError for a parsed-object payload', () => {
    const parsed = JSON.parse(body);
    assert.throws(() => verifyWebhook(parsed, headers, SECRET, { now }), TypeError);
    assert.throws(() => verifyWebhookSignature(parsed, headers['x-webhook-signature'], SECRET), TypeError);
    assert.throws(() => signWebhook(parsed, SECRET, {}), TypeError);
  });
});

describe('argument checks', () => {
  const body = event(1764355200);
  const sig = xSignature(body, SECRET);

  it('verifyWebhookSignature returns false, not a wasm trap, for a non-string signature', () => {
    for (const bad of [12, true, {}, null, undefined, []]) assert.equal(verifyWebhookSignature(body, bad, SECRET), false, String(bad));
  });

  it('string bodies are signed as their UTF-8 bytes, three-byte characters and lone surrogates included', () => {
    for (const text of ['€'.repeat(5000), 'a\ud800b', '\udfff', '😀'.repeat(700) + 'é', 'x'.repeat(70000)]) {
      const expected = xSignature(Buffer.from(text), SECRET);
      assert.equal(verifyWebhookSignature(text, expected, SECRET), true, text.slice(0, 8));
      assert.equal(verifyWebhookSignature(text + ' ', expected, SECRET), false, text.slice(0, 8));
    }
  });

  it('a repeated header given as an array is read by its first value', () => {
    assert.equal(verifyWebhookSignature(body, [sig], SECRET), true);
    assert.equal(verifyWebhook(body, { 'x-webhook-signature': [sig] }, SECRET, { now: 1764355200 }).callId, JSON.parse(body).callId);
  });

  it("a plain object's header names are read in any case, some lower case and some not", () => {
    const signed = signWebhook(body, SECRET, { id: 'evt_case', timestamp: 1764355200 });
    const { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': standard } = signed;
    const cases = {
      'X-Webhook-Signature alone': { 'X-Webhook-Signature': sig },
      'Standard Webhooks, capitalised': { 'Webhook-Id': id, 'Webhook-Timestamp': ts, 'Webhook-Signature': standard },
      'Standard Webhooks, one upper case': { 'webhook-id': id, 'WEBHOOK-TIMESTAMP': ts, 'webhook-signature': standard },
    };
    for (const [name, headers] of Object.entries(cases)) {
      assert.equal(verifyWebhook(body, headers, SECRET, { now: 1764355200 }).callId, JSON.parse(body).callId, name);
    }
  });

  it('a missing secret (unset env var) is invalid_secret, for both verifiers', () => {
    for (const missing of [undefined, null, '', 42]) {
      assert.throws(() => verifyWebhook(body, { 'x-webhook-signature': sig }, missing, { now: 1764355200 }), { name: 'WebhookVerificationError', code: 'invalid_secret' });
      assert.throws(() => verifyWebhookSignature(body, sig, missing), { name: 'WebhookVerificationError', code: 'invalid_secret' });
    }
  });

  it('signWebhook refuses a bad id or timestamp instead of guessing', () => {
    for (const timestamp of ['1764355200', NaN, 1.5, -1]) assert.throws(() => signWebhook(body, SECRET, { timestamp }), TypeError, String(timestamp));
    for (const id of ['', 'evt_1\r\nx-evil: 1', 7]) assert.throws(() => signWebhook(body, SECRET, { id }), TypeError, JSON.stringify(id));
  });

  it('a body timestamp that is present but not whole seconds is invalid_timestamp', () => {
    for (const ts of ['1764355200.7', '1e400', '"soon"']) {
      const odd = body.replace('"timestamp":1764355200', `"timestamp":${ts}`);
      assert.throws(() => verifyWebhook(odd, { 'x-webhook-signature': xSignature(odd, SECRET) }, SECRET, { now: 1764355200 }), { code: 'invalid_timestamp' }, ts);
    }
  });
});

describe('verifyRequest (Fetch API receivers)', () => {
  const { verifyRequest } = esm;
  const now = Math.floor(Date.now() / 1000);
  const body = event(now, { note: 'Grüße 📞' });

  it('reads the raw body once and resolves to the verified event', async () => {
    const headers = signWebhook(body, SECRET, { id: 'evt_req' });
    const request = new Request('http://127.0.0.1/api/webhook', { method: 'POST', headers, body });
    const verified = await verifyRequest(request, SECRET);
    assert.deepEqual(verified, JSON.parse(body));
    assert.equal(request.bodyUsed, true);
  });

  it('rejects a tampered body with a WebhookVerificationError', async () => {
    const headers = signWebhook(body, SECRET, { id: 'evt_req' });
    const request = new Request('http://127.0.0.1/api/webhook', { method: 'POST', headers, body: body.replace('ringing', 'failed') });
    await assert.rejects(verifyRequest(request, SECRET), { name: 'WebhookVerificationError', code: 'signature_mismatch' });
  });

  it('rejects what is not a Request', async () => {
    await assert.rejects(verifyRequest({ body }, SECRET), TypeError);
  });

  it('rejects with the platform error when the body was already read, and applies its options', async () => {
    const headers = signWebhook(body, SECRET, { id: 'evt_req' });
    const used = new Request('http://127.0.0.1/api/webhook', { method: 'POST', headers, body });
    await used.text();
    await assert.rejects(verifyRequest(used, SECRET), TypeError);
    const late = new Request('http://127.0.0.1/api/webhook', { method: 'POST', headers, body });
    await assert.rejects(verifyRequest(late, SECRET, { now: now + 3600 }), { code: 'timestamp_too_old' });
  });
});

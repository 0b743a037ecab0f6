// Firebase ID token checks of the ringhook Worker: every way a token can be wrong is 401 unauthorized; valid RS256
// tokens pass; emulator tokens pass only with FIREBASE_AUTH_EMULATOR_HOST; the JWKS is fetched once and cached.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, assertError, b64url, client, emulatorToken, hs256WithPublicKey, kvDump, nowSeconds, otherKeyPair,
  rng, signedToken, startWorker, stopJwksServer,
} from './support.mjs';
import { waitFor } from './receivers.mjs';

const LIST = `${BASE}/subscriptions`;
const now = nowSeconds;

/** The token with its payload replaced by `claims` after signing (signature kept). */
function tamperedToken() {
  const [h, , sig] = signedToken({ sub: 'alice' }).split('.');
  const forged = JSON.parse(Buffer.from(signedToken({ sub: 'mallory' }).split('.')[1], 'base64url'));
  return `${h}.${b64url(forged)}.${sig}`;
}

// [label, Authorization header value or null for none, message pattern]
const UNAUTHORIZED = [
  ['missing header', null, /missing|authorization|header/i],
  ['"Bearer" alone', 'Bearer', null],
  ['"Bearer " with garbage', 'Bearer garbage', null],
  ['another scheme', `Basic ${Buffer.from('alice:pw').toString('base64')}`, null],
  ['token without the Bearer scheme', () => signedToken(), null],
  ['malformed: 2 parts', () => `Bearer ${signedToken().split('.').slice(0, 2).join('.')}`, /malformed|token/i],
  ['malformed: 4 parts', () => `Bearer ${signedToken()}.x`, null],
  ['malformed: payload is not JSON', () => {
    const [h, , s] = signedToken().split('.');
    return `Bearer ${h}.${b64url('not json')}.${s}`;
  }, null],
  ['expired', () => `Bearer ${signedToken({ exp: now() - 10 })}`, /expir/i],
  ['wrong aud', () => `Bearer ${signedToken({ aud: 'other-project' })}`, /aud/i],
  ['wrong iss', () => `Bearer ${signedToken({ iss: 'https://securetoken.google.com/other-project' })}`, /iss/i],
  ['iss of another provider', () => `Bearer ${signedToken({ iss: 'https://accounts.google.com' })}`, /iss/i],
  ['exp equal to now', () => `Bearer ${signedToken({ exp: now() })}`, /expir/i],
  ['iat an hour in the future', () => `Bearer ${signedToken({ iat: now() + 3600 })}`, null],
  ['iat 2 minutes in the future (beyond the 60 s skew)', () => `Bearer ${signedToken({ iat: now() + 120 })}`, null],
  ['auth_time an hour in the future', () => `Bearer ${signedToken({ auth_time: now() + 3600 })}`, null],
  ['auth_time 2 minutes in the future', () => `Bearer ${signedToken({ auth_time: now() + 120 })}`, null],
  ['empty sub', () => `Bearer ${signedToken({ sub: '', user_id: '' })}`, null],
  ['sub over 128 chars', () => `Bearer ${signedToken({ sub: 'a'.repeat(129) })}`, null],
  ['sub not a string', () => `Bearer ${signedToken({ sub: 12345, user_id: '12345' })}`, null],
  ['bad signature: payload altered after signing', () => `Bearer ${tamperedToken()}`, /signature/i],
  ['signed by another key under the published kid', () => `Bearer ${signedToken({}, { key: otherKeyPair.privateKey })}`, /signature/i],
  ['unknown kid', () => `Bearer ${signedToken({}, { kid: 'no-such-key', key: otherKeyPair.privateKey })}`, /kid|key/i],
  ['no kid', () => `Bearer ${signedToken({}, { kid: null })}`, null],
  ['alg RS512 in the header', () => `Bearer ${signedToken({}, { alg: 'RS512' })}`, null],
  ['alg none without FIREBASE_AUTH_EMULATOR_HOST', () => `Bearer ${emulatorToken('alice')}`, /unsigned|none|alg/i],
  ['alg none with a signature part', () => `Bearer ${emulatorToken('alice')}${signedToken().split('.')[2]}`, null],
  ['HS256 keyed with the public key (alg confusion)', () => `Bearer ${hs256WithPublicKey()}`, null],
];

describe('ringhook Worker auth', () => {
  let w;
  let call;
  before(async () => {
    w = await startWorker();
    call = client(w);
  });
  after(async () => {
    await w?.close();
    await stopJwksServer();
  });

  const withHeader = (value) => {
    const v = typeof value === 'function' ? value() : value;
    return v === null ? {} : { authorization: v };
  };

  it('a valid RS256 token → 200, and its sub is the user', async () => {
    const res = await call('GET', LIST, { token: signedToken({ sub: 'alice' }) });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { success: true, subscriptions: [] });

    const made = await call('POST', `${BASE}/subscribe`, {
      token: signedToken({ sub: 'alice' }),
      body: { webhook_url: 'https://alice.example.com/h', events: ['call.completed'] },
    });
    assert.equal(made.status, 201, made.text);
    const mine = await call('GET', LIST, { token: signedToken({ sub: 'alice' }) });
    assert.deepEqual(mine.json.subscriptions.map((s) => s.id), [made.json.subscription.id]);
  });

  // A token whose signature verified is not verified again while the keys are current; its claims still are.
  it('a token sent again passes until it expires, then is refused as expired', async () => {
    // At least 3 s left for the three requests, however busy the machine.
    const exp = now() + 4;
    const token = signedToken({ sub: 'again', exp });
    for (let i = 0; i < 3; i++) assert.equal((await call('GET', LIST, { token })).status, 200);
    await waitFor(() => now() >= exp, 10_000, { message: 'the token\'s exp' });
    const res = await call('GET', LIST, { token });
    assertError(assert, res, 401, 'unauthorized');
    assert.match(res.json.error.message, /expir/i);
  });

  it('a verified token lends nothing to another with its signature or its claims', async () => {
    const token = signedToken({ sub: 'alice' });
    assert.equal((await call('GET', LIST, { token })).status, 200);
    const [header, claims, signature] = token.split('.');
    const forged = JSON.parse(Buffer.from(claims, 'base64url'));
    const variants = [
      `${header}.${b64url({ ...forged, sub: 'mallory', user_id: 'mallory' })}.${signature}`,
      `${header}.${claims}.${signedToken({ sub: 'alice' }, { key: otherKeyPair.privateKey }).split('.')[2]}`,
    ];
    for (const variant of variants) {
      const res = await call('GET', LIST, { token: variant });
      assertError(assert, res, 401, 'unauthorized');
      assert.match(res.json.error.message, /signature/i);
    }
    assert.equal((await call('GET', LIST, { token })).status, 200);
  });

  it('iat and auth_time within the 60 s skew → 200', async () => {
    const res = await call('GET', LIST, { token: signedToken({ sub: 'skew', iat: now() + 30, auth_time: now() + 30 }) });
    assert.equal(res.status, 200, res.text);
  });

  it('a sub of exactly 128 characters → 200', async () => {
    const res = await call('GET', LIST, { token: signedToken({ sub: 'u'.repeat(128) }) });
    assert.equal(res.status, 200, res.text);
  });

  for (const [label, header, message] of UNAUTHORIZED) {
    it(`401 unauthorized: ${label}`, async () => {
      const res = await call('GET', LIST, { token: null, headers: withHeader(header) });
      assertError(assert, res, 401, 'unauthorized', label);
      if (message) assert.match(res.json.error.message, message, `${label}: message says what is wrong`);
    });
  }

  it('refused tokens write nothing', async () => {
    const before = await kvDump(w.kv);
    for (const [label, header] of UNAUTHORIZED) {
      const res = await call('POST', `${BASE}/subscribe`, {
        token: null,
        headers: withHeader(header),
        body: { webhook_url: 'https://mallory.example.com/h', events: ['*'] },
      });
      assertError(assert, res, 401, 'unauthorized', `subscribe: ${label}`);
    }
    assert.deepEqual(await kvDump(w.kv), before);
  });

  it('every API route except openapi.json needs a token', async () => {
    const id = 'sub_00000000000000000000000000';
    for (const [method, p] of [
      ['POST', `${BASE}/subscribe`],
      ['GET', LIST],
      ['GET', `${LIST}/${id}`],
      ['PATCH', `${LIST}/${id}`],
      ['DELETE', `${LIST}/${id}`],
      ['POST', `${LIST}/${id}/rotate-secret`],
    ]) {
      const body = method === 'GET' || method === 'DELETE' ? undefined : { active: false };
      assertError(assert, await call(method, p, { token: null, body }), 401, 'unauthorized', `${method} ${p}`);
    }
    assert.equal((await call('GET', `${BASE}/openapi.json`, { token: null })).status, 200);
    assert.equal((await call('GET', '/healthz', { token: null })).status, 200);
  });

  describe('emulator tokens', () => {
    let emu;
    let ecall;
    before(async () => {
      emu = await startWorker({ FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099' });
      ecall = client(emu);
    });
    after(() => emu?.close());

    it('accepted with FIREBASE_AUTH_EMULATOR_HOST set; the sub is the user', async () => {
      const made = await ecall('POST', `${BASE}/subscribe`, {
        token: emulatorToken('carol'),
        body: { webhook_url: 'http://127.0.0.1:3000/api/webhook', events: ['call.failed'] },
      });
      assert.equal(made.status, 201, made.text);
      const res = await ecall('GET', LIST, { token: emulatorToken('carol') });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json.subscriptions.map((s) => s.id), [made.json.subscription.id]);
      const other = await ecall('GET', LIST, { token: emulatorToken('dave') });
      assert.deepEqual(other.json.subscriptions, []);
    });

    it('still checks the claims of emulator tokens', async () => {
      for (const [label, claims] of [
        ['expired', { exp: now() - 10 }],
        ['wrong aud', { aud: 'other-project' }],
        ['wrong iss', { iss: 'https://securetoken.google.com/other-project' }],
        ['empty sub', { sub: '', user_id: '' }],
      ]) {
        const res = await ecall('GET', LIST, { token: emulatorToken(claims.sub ?? 'carol', claims) });
        assertError(assert, res, 401, 'unauthorized', `emulator token, ${label}`);
      }
    });

    it('RS256 tokens are still accepted, forged ones still refused', async () => {
      assert.equal((await ecall('GET', LIST, { token: signedToken({ sub: 'erin' }) })).status, 200);
      assertError(assert, await ecall('GET', LIST, { token: tamperedToken() }), 401, 'unauthorized');
      assertError(assert, await ecall('GET', LIST, { token: hs256WithPublicKey() }), 401, 'unauthorized');
    });

    it('refused when the project is not a demo- project, even with FIREBASE_AUTH_EMULATOR_HOST set', async () => {
      const real = await startWorker({ FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099', FIREBASE_PROJECT_ID: 'acme-prod' });
      try {
        const token = emulatorToken('carol', { aud: 'acme-prod', iss: 'https://securetoken.google.com/acme-prod' });
        assertError(assert, await client(real)('GET', LIST, { token }), 401, 'unauthorized', 'unsigned token, real project');
      } finally {
        await real.close();
      }
    });

    it('refused by a Worker without FIREBASE_AUTH_EMULATOR_HOST, or with it empty', async () => {
      assertError(assert, await call('GET', LIST, { token: emulatorToken('carol') }), 401, 'unauthorized');
      const empty = await startWorker({ FIREBASE_AUTH_EMULATOR_HOST: '' });
      try {
        assertError(assert, await client(empty)('GET', LIST, { token: emulatorToken('carol') }), 401, 'unauthorized', 'empty var');
      } finally {
        await empty.close();
      }
    });
  });

  describe('JWKS caching', () => {
    let fresh;
    before(async () => {
      fresh = await startWorker();
    });
    after(() => fresh?.close());

    it('many authenticated requests → one JWKS fetch (Cache-Control: max-age=3600)', async () => {
      const fcall = client(fresh);
      assert.equal(fresh.jwksRequests(), 0);
      for (let i = 0; i < 12; i++) {
        const res = await fcall('GET', LIST, { token: signedToken({ sub: `user${i % 3}` }) });
        assert.equal(res.status, 200, res.text);
      }
      const made = await fcall('POST', `${BASE}/subscribe`, {
        token: signedToken({ sub: 'user0' }),
        body: { webhook_url: 'https://cache.example.com/h', events: ['call.failed'] },
      });
      assert.equal(made.status, 201, made.text);
      assert.equal(fresh.jwksRequests(), 1);
    });
  });

  describe('JWKS expiry', () => {
    let uncached;
    before(async () => {
      uncached = await startWorker({}, { jwksMaxAge: 0 });
    });
    after(() => uncached?.close());

    // Expiry at a given max-age is the core's KeyCache (tested with an injected clock); here the Worker is
    // shown to take the max-age from the JWKS response: 3600 above fetched once, 0 fetches for every request.
    it('keys served with max-age=0 are fetched again for each request', async () => {
      const ucall = client(uncached);
      for (let i = 1; i <= 3; i++) {
        assert.equal((await ucall('GET', LIST, { token: signedToken({ sub: 'exp' }) })).status, 200);
        assert.equal(uncached.jwksRequests(), i);
      }
    });
  });

  describe('JWKS faults', () => {
    const started = [];
    const worker = async (fault) => {
      const w = await startWorker({}, { jwksFault: fault });
      started.push(w);
      return w;
    };
    after(() => Promise.all(started.map((w) => w.close())));

    it('a failing key fetch answers 503 auth_unavailable with Retry-After, and is not retried for a few seconds', async () => {
      const w = await worker('status=503');
      const wcall = client(w);
      for (let i = 0; i < 3; i++) {
        const res = await wcall('GET', LIST, { token: signedToken({ sub: 'u' }) });
        assertError(assert, res, 503, 'auth_unavailable');
        const wait = Number(res.headers.get('retry-after'));
        assert.ok(wait >= 1 && wait <= 5, `Retry-After: ${res.headers.get('retry-after')}`);
      }
      assert.equal(w.jwksRequests(), 1, 'the failure is remembered');
    });

    it('a key fetch with no answer is given up: 503, not a hung request', async () => {
      const w = await worker('hang=1');
      const res = await client(w)('GET', LIST, { token: signedToken({ sub: 'u' }) });
      assertError(assert, res, 503, 'auth_unavailable');
    });

    it('a key that cannot be imported is skipped; the others still verify', async () => {
      const w = await worker('broken=1');
      const res = await client(w)('GET', LIST, { token: signedToken({ sub: 'u' }) });
      assert.equal(res.status, 200, res.text);
    });
  });

  it('random Authorization headers → 401 unauthorized, never a 5xx', async () => {
    const rand = rng(20261128);
    const pick = (xs) => xs[Math.floor(rand() * xs.length)];
    const junk = (n) => Array.from({ length: Math.floor(rand() * n) }, () => String.fromCharCode(0x21 + Math.floor(rand() * 94))).join('');
    const bytes = (n) => Buffer.from(Array.from({ length: Math.floor(rand() * n) }, () => Math.floor(rand() * 256))).toString('base64url');
    const [validHeader, validPayload] = signedToken().split('.');
    const JSONS = ['null', '[]', '1', '"x"', '{}', '{"alg":"RS256"}', '{"alg":"none"}', `{"alg":"RS256","kid":${JSON.stringify('k'.repeat(5000))}}`];
    const part = () => pick([junk(40), bytes(300), b64url(pick(JSONS)), validHeader, validPayload, '']);
    const wrong = [];
    for (let i = 0; i < 300; i++) {
      const token = Array.from({ length: 1 + Math.floor(rand() * 4) }, part).join('.');
      const header = pick(['Bearer ', 'bearer ', 'Bearer  ', '']) + token;
      const res = await call('GET', LIST, { token: null, headers: { authorization: header } });
      if (res.status !== 401 || res.json?.error?.code !== 'unauthorized') {
        wrong.push(`${JSON.stringify(header).slice(0, 200)} -> ${res.status} ${res.text.slice(0, 120)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});

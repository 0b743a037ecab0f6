// The ringhook Worker's subscription API (built Worker in workerd through Miniflare), route by route and rule by
// rule as the contract states them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  BASE, RFC3339_UTC, SUB_ID, SUBSCRIPTION_FIELDS,
  assertError, client, kvDump, nowSeconds, objectBytes, oldSubscription, rng, signedToken, startWorker, stopJwksServer,
  writeOldLayout,
} from './support.mjs';

const ALL_EVENTS = [
  'call.initiated', 'call.scheduled', 'call.status.changed', 'call.completed', 'call.failed',
  'webhook.test', 'webhook.subscription.deactivated',
];
// The registration body of the setup guide, as written there.
const GUIDE_BODY = {
  webhook_url: 'https://your-frontend.com/api/webhook',
  events: ['call.status.changed', 'call.completed', 'call.failed'],
};

const as = (uid) => signedToken({ sub: uid });
const secondsOf = (rfc3339) => Date.parse(rfc3339) / 1000;

/** Asserts `s` is a public subscription object: exactly the contract's fields, well-formed. */
function assertSubscription(s, context = '') {
  assert.deepEqual(Object.keys(s).sort(), SUBSCRIPTION_FIELDS, `${context}: fields of ${JSON.stringify(s)}`);
  assert.match(s.id, SUB_ID, context);
  assert.equal(typeof s.webhook_url, 'string', context);
  assert.ok(Array.isArray(s.events) && s.events.length > 0, context);
  assert.equal(typeof s.active, 'boolean', context);
  assert.match(s.created_at, RFC3339_UTC, context);
  assert.match(s.updated_at, RFC3339_UTC, context);
  assert.ok(Number.isInteger(s.failure_count) && s.failure_count >= 0, context);
  if (s.deactivated_at !== null) assert.match(s.deactivated_at, RFC3339_UTC, context);
}

/** Asserts a `secret_key`: whsec_ + standard base64 of exactly 32 bytes. */
function assertSecretKey(secret) {
  assert.match(secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  assert.equal(key.length, 32);
  assert.equal(key.toString('base64'), secret.slice('whsec_'.length), 'canonical base64');
}

/** Asserts `actual` is within `slack` seconds of `expected` (both Unix seconds). */
const assertNear = (actual, expected, slack, what) =>
  assert.ok(Math.abs(actual - expected) <= slack, `${what}: ${actual} vs expected ${expected} ± ${slack}`);

describe('ringhook Worker API', () => {
  let w; // loopback webhooks allowed (local dev), defaults otherwise
  let call;
  before(async () => {
    w = await startWorker();
    call = client(w);
  });
  after(async () => {
    await w?.close();
    await stopJwksServer();
  });

  const subscribe = async (uid, webhook_url, events = ['call.completed']) => {
    const res = await call('POST', `${BASE}/subscribe`, { token: as(uid), body: { webhook_url, events } });
    assert.equal(res.status, 201, `subscribe ${uid} ${webhook_url}: ${res.text}`);
    return res.json;
  };
  const list = async (uid) => {
    const res = await call('GET', `${BASE}/subscriptions`, { token: as(uid) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.success, true);
    return res.json.subscriptions;
  };
  const get = (uid, id) => call('GET', `${BASE}/subscriptions/${id}`, { token: as(uid) });
  const patch = (uid, id, body) => call('PATCH', `${BASE}/subscriptions/${id}`, { token: as(uid), body });

  describe('health and discovery', () => {
    it('GET /healthz → 200 ok with the version, no auth', async () => {
      const res = await call('GET', '/healthz', { token: null });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(res.json, { success: true, status: 'ok', version: '0.1.0' });
    });

    it('GET openapi.json → OpenAPI 3.1 documenting every route of the contract, and only routes that exist', async () => {
      const res = await call('GET', `${BASE}/openapi.json`, { token: null });
      assert.equal(res.status, 200, res.text);
      const doc = res.json;
      assert.ok(doc, 'body is JSON');
      assert.equal(typeof doc.openapi, 'string');
      assert.ok(doc.openapi.startsWith('3.1'), `openapi: ${doc.openapi}`);
      assert.equal(typeof doc.paths, 'object');

      // Path keys are relative to the servers' URL (the path item's own, else the document's).
      const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
      const prefixOf = (servers) => {
        const url = servers?.[0]?.url;
        if (!url) return '';
        return new URL(url, 'http://localhost').pathname.replace(/\/+$/, '');
      };
      const operations = [];
      for (const [template, item] of Object.entries(doc.paths)) {
        const full = prefixOf(item.servers ?? doc.servers) + template;
        for (const method of Object.keys(item)) {
          if (METHODS.includes(method)) operations.push([method.toUpperCase(), full]);
        }
      }
      const documented = new Set(operations.map(([m, p]) => `${m} ${p}`));

      // The subscription API's table, exactly as first templated. Later features add routes (deliveries, test
      // sends, event intake), so the document may hold more; those must exist too (checked below).
      const CONTRACT = [
        'GET /healthz',
        `GET ${BASE}/openapi.json`,
        `POST ${BASE}/subscribe`,
        `GET ${BASE}/subscriptions`,
        `GET ${BASE}/subscriptions/{id}`,
        `PATCH ${BASE}/subscriptions/{id}`,
        `DELETE ${BASE}/subscriptions/{id}`,
        `POST ${BASE}/subscriptions/{id}/rotate-secret`,
      ];
      assert.deepEqual(CONTRACT.filter((op) => !documented.has(op)), [], 'contract routes missing from openapi.json');

      // No phantom routes: each documented path is known to the router (an undocumented method → 405, not 404),
      // and each documented operation is routed (without a token: 200, 401, or another answer the operation
      // documents, such as the stream's 400 for a request that is not a WebSocket handshake; never 404 or 405).
      const concrete = (p) => p.replace(/\{[^}]+\}/g, (m) => (m === '{id}' ? 'sub_00000000000000000000000000' : 'x1'));
      const wrong = [];
      for (const p of new Set(operations.map(([, p]) => p))) {
        const r = await call('PUT', concrete(p), { token: null });
        if (r.status !== 405 || r.json?.error?.code !== 'method_not_allowed') wrong.push(`PUT ${p} -> ${r.status} ${r.text.slice(0, 100)}`);
      }
      const relative = (p) => p.slice(prefixOf(doc.servers).length);
      for (const [method, p] of operations) {
        const r = await call(method, concrete(p), { token: null, ...(['POST', 'PATCH'].includes(method) ? { body: {} } : {}) });
        const documentedAnswer = doc.paths[relative(p)]?.[method.toLowerCase()]?.responses?.[String(r.status)] !== undefined;
        const routed = [200, 401].includes(r.status) || (documentedAnswer && ![404, 405].includes(r.status));
        if (!routed) wrong.push(`${method} ${p} (no token) -> ${r.status} ${r.text.slice(0, 100)}`);
      }
      assert.deepEqual(wrong, []);
    });
  });

  describe('subscribe', () => {
    it('POST subscribe → 201 with a sub_ id, a whsec_ secret of 32 bytes and the public subscription', async () => {
      const before = nowSeconds();
      const res = await call('POST', `${BASE}/subscribe`, {
        token: as('sam'),
        body: { webhook_url: 'https://hooks.example.com/ringhook', events: ['call.completed', 'call.failed'] },
      });
      assert.equal(res.status, 201, res.text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(Object.keys(res.json).sort(), ['secret_key', 'subscription', 'success']);
      assert.equal(res.json.success, true);
      assertSecretKey(res.json.secret_key);
      const s = res.json.subscription;
      assertSubscription(s, 'subscribe');
      assert.equal(s.webhook_url, 'https://hooks.example.com/ringhook');
      assert.deepEqual(s.events, ['call.completed', 'call.failed']);
      assert.equal(s.active, true);
      assert.equal(s.failure_count, 0);
      assert.equal(s.last_failure_at, null);
      assert.equal(s.last_failure_reason, null);
      assert.equal(s.deactivated_at, null);
      assertNear(secondsOf(s.created_at), before, 60, 'created_at');
      assert.equal(s.updated_at, s.created_at);
      assert.ok(!JSON.stringify(s).includes('secret'), 'no secret field in the subscription');
    });

    it('accepts the setup guide\'s registration body as written', async () => {
      const { subscription, secret_key } = await subscribe('guide', GUIDE_BODY.webhook_url, GUIDE_BODY.events);
      assert.equal(subscription.webhook_url, GUIDE_BODY.webhook_url);
      assert.deepEqual(subscription.events, GUIDE_BODY.events);
      assertSecretKey(secret_key);
    });

    it('accepts every valid event, and ["*"] alone', async () => {
      const all = await subscribe('evy', 'https://a.example.com/all', ALL_EVENTS);
      assert.deepEqual(all.subscription.events, ALL_EVENTS);
      const star = await subscribe('evy', 'https://a.example.com/star', ['*']);
      assert.deepEqual(star.subscription.events, ['*']);
    });

    it('normalises the webhook URL (scheme and host case, default port)', async () => {
      const { subscription } = await subscribe('norm', 'HTTPS://Hooks.EXAMPLE.com:443/Path?q=1');
      assert.equal(subscription.webhook_url, 'https://hooks.example.com/Path?q=1');
    });

    it('each subscription gets its own id and secret', async () => {
      const a = await subscribe('twin', 'https://one.example.com/h');
      const b = await subscribe('twin', 'https://two.example.com/h');
      assert.notEqual(a.subscription.id, b.subscription.id);
      assert.notEqual(a.secret_key, b.secret_key);
    });

    it('the same webhook_url twice for one user → 409 subscription_exists naming the existing id', async () => {
      const first = await subscribe('dup', 'https://dup.example.com/hook');
      const res = await call('POST', `${BASE}/subscribe`, {
        token: as('dup'),
        body: { webhook_url: 'https://dup.example.com/hook', events: ['call.failed'] },
      });
      assertError(assert, res, 409, 'subscription_exists');
      assert.ok(res.json.error.message.includes(first.subscription.id), res.json.error.message);
      assert.equal((await list('dup')).length, 1);
      // Another user may register the same URL.
      await subscribe('dup-other', 'https://dup.example.com/hook');
    });
  });

  describe('list and get', () => {
    it('GET subscriptions → the user\'s own subscriptions, oldest first, no secret anywhere', async () => {
      assert.deepEqual(await list('lena'), []);
      const made = [];
      for (const host of ['a', 'b', 'c']) made.push(await subscribe('lena', `https://${host}.example.com/h`));
      await subscribe('not-lena', 'https://z.example.com/h');

      const res = await call('GET', `${BASE}/subscriptions`, { token: as('lena') });
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.json).sort(), ['subscriptions', 'success']);
      assert.deepEqual(res.json.subscriptions, made.map((m) => m.subscription));
      for (const m of made) assert.ok(!res.text.includes(m.secret_key), 'secret_key in the list');
      assert.ok(!res.text.includes('secret'), `"secret" in the list: ${res.text}`);
      assert.ok(!res.text.includes(made[0].secret_key.slice(6)), 'secret base64 in the list');
    });

    it('GET subscriptions/{id} → the subscription, no secret anywhere', async () => {
      const { subscription, secret_key } = await subscribe('gus', 'https://gus.example.com/h');
      const res = await get('gus', subscription.id);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { success: true, subscription });
      assert.ok(!res.text.includes(secret_key));
      assert.ok(!res.text.includes(secret_key.slice(6)));
      assert.ok(!res.text.includes('secret'), res.text);
    });

    it('an unknown id → 404 not_found', async () => {
      assertError(assert, await get('gus', 'sub_00000000000000000000000000'), 404, 'not_found');
      assertError(assert, await get('gus', 'nonsense'), 404, 'not_found');
    });
  });

  describe('patch', () => {
    it('changes events and webhook_url, and moves updated_at', async () => {
      const { subscription: s } = await subscribe('pat', 'https://old.example.com/h', ['call.completed']);
      const before = nowSeconds();
      let res = await patch('pat', s.id, { events: ['call.failed', 'call.initiated'] });
      const after = nowSeconds();
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.json).sort(), ['subscription', 'success']);
      assertSubscription(res.json.subscription, 'patch events');
      assert.deepEqual(res.json.subscription.events, ['call.failed', 'call.initiated']);
      assert.equal(res.json.subscription.webhook_url, 'https://old.example.com/h');
      assert.equal(res.json.subscription.created_at, s.created_at);
      const updated = secondsOf(res.json.subscription.updated_at);
      assert.ok(updated >= before && updated <= after, `updated_at is the time of the PATCH: ${updated} in [${before}, ${after}]`);
      assert.ok(!res.text.includes('secret'), res.text);

      res = await patch('pat', s.id, { webhook_url: 'https://new.example.com/h' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.subscription.webhook_url, 'https://new.example.com/h');
      assert.deepEqual(res.json.subscription.events, ['call.failed', 'call.initiated']);

      // Persisted: GET and list agree with the last PATCH response.
      const got = await get('pat', s.id);
      assert.deepEqual(got.json.subscription, res.json.subscription);
      assert.deepEqual(await list('pat'), [res.json.subscription]);
    });

    it('active:false deactivates (deactivated_at set); active:true reactivates (failure_count 0, deactivated_at null, last failure kept)', async () => {
      const { subscription: s } = await subscribe('act', 'https://act.example.com/h');
      let res = await patch('act', s.id, { active: false });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.subscription.active, false);
      assert.match(res.json.subscription.deactivated_at ?? '', RFC3339_UTC);
      assertNear(secondsOf(res.json.subscription.deactivated_at), nowSeconds(), 60, 'deactivated_at');
      assert.equal(res.json.subscription.deactivation_reason, 'manual');

      res = await patch('act', s.id, { active: true });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.subscription.active, true);
      assert.equal(res.json.subscription.deactivated_at, null);
      assert.equal(res.json.subscription.deactivation_reason, null);
      assert.equal(res.json.subscription.failure_count, 0);

      // A subscription the delivery side deactivated after failures, as the old storage layout kept it.
      const old = oldSubscription('sub_01JACT0000000000000000000A', 'https://act-old.example.com/h', {
        secret: `whsec_${randomBytes(32).toString('base64')}`,
        active: false,
        failure_count: 7,
        last_failure_at: '2026-01-02T03:04:05Z',
        last_failure_reason: 'HTTP 500',
        deactivated_at: '2026-01-02T03:04:06Z',
      });
      await writeOldLayout(w, 'act-old', [old]);
      const before = await get('act-old', old.id);
      assert.equal(before.json.subscription.failure_count, 7);
      assert.equal(before.json.subscription.active, false);

      res = await patch('act-old', old.id, { active: true });
      assert.equal(res.status, 200, res.text);
      const r = res.json.subscription;
      assert.equal(r.active, true);
      assert.equal(r.failure_count, 0);
      assert.equal(r.deactivated_at, null);
      assert.equal(r.last_failure_at, '2026-01-02T03:04:05Z');
      assert.equal(r.last_failure_reason, 'HTTP 500');
      assert.deepEqual((await get('act-old', old.id)).json.subscription, r);
    });

    it('an empty PATCH {} → 400 invalid_request', async () => {
      const { subscription: s } = await subscribe('empty', 'https://empty.example.com/h');
      assertError(assert, await patch('empty', s.id, {}), 400, 'invalid_request');
      assert.deepEqual((await get('empty', s.id)).json.subscription, s);
    });

    it('PATCH of an unknown id → 404 not_found', async () => {
      assertError(assert, await patch('empty', 'sub_00000000000000000000000000', { active: false }), 404, 'not_found');
    });
  });

  describe('delete', () => {
    it('DELETE → 200 {success, id}; then GET, PATCH, DELETE → 404 and the list no longer has it', async () => {
      const keep = await subscribe('dee', 'https://keep.example.com/h');
      const { subscription: s } = await subscribe('dee', 'https://gone.example.com/h');
      const res = await call('DELETE', `${BASE}/subscriptions/${s.id}`, { token: as('dee') });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json, { success: true, id: s.id });
      assertError(assert, await get('dee', s.id), 404, 'not_found');
      assertError(assert, await patch('dee', s.id, { active: false }), 404, 'not_found');
      assertError(assert, await call('DELETE', `${BASE}/subscriptions/${s.id}`, { token: as('dee') }), 404, 'not_found');
      assert.deepEqual(await list('dee'), [keep.subscription]);
      // The URL is free again.
      await subscribe('dee', 'https://gone.example.com/h');
    });
  });

  describe('rotate-secret', () => {
    for (const [label, opts] of [['no body', {}], ['{}', { body: {} }]]) {
      it(`POST rotate-secret (${label}) → a new secret; the previous one expires in 24 h`, async () => {
        const uid = `rot-${label === '{}' ? 'obj' : 'none'}`;
        const { subscription: s, secret_key: old } = await subscribe(uid, 'https://rot.example.com/h');
        const res = await call('POST', `${BASE}/subscriptions/${s.id}/rotate-secret`, { token: as(uid), ...opts });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(Object.keys(res.json).sort(), ['previous_secret_expires_at', 'secret_key', 'subscription', 'success']);
        assert.equal(res.json.success, true);
        assertSecretKey(res.json.secret_key);
        assert.notEqual(res.json.secret_key, old);
        assertSubscription(res.json.subscription, 'rotate');
        assert.equal(res.json.subscription.id, s.id);
        assert.equal(res.json.subscription.webhook_url, s.webhook_url);
        assert.match(res.json.previous_secret_expires_at, RFC3339_UTC);
        assertNear(secondsOf(res.json.previous_secret_expires_at), nowSeconds() + 24 * 3600, 120, 'previous_secret_expires_at');

        // A second rotation gives yet another secret.
        const again = await call('POST', `${BASE}/subscriptions/${s.id}/rotate-secret`, { token: as(uid) });
        assert.equal(again.status, 200, again.text);
        assert.ok(![old, res.json.secret_key].includes(again.json.secret_key));
      });
    }

    it('rotate-secret of an unknown id → 404 not_found', async () => {
      const res = await call('POST', `${BASE}/subscriptions/sub_00000000000000000000000000/rotate-secret`, { token: as('rot-x') });
      assertError(assert, res, 404, 'not_found');
    });
  });

  describe('isolation between users', () => {
    it('bob cannot GET, PATCH, DELETE or rotate alice\'s subscription (404), and it stays unchanged', async () => {
      const { subscription: s } = await subscribe('alice', 'https://alice.example.com/h');
      const aliceBefore = await list('alice');

      assertError(assert, await get('bob', s.id), 404, 'not_found', 'GET');
      assertError(assert, await patch('bob', s.id, { active: false }), 404, 'not_found', 'PATCH active');
      assertError(assert, await patch('bob', s.id, { webhook_url: 'https://bob.example.com/h' }), 404, 'not_found', 'PATCH url');
      assertError(assert, await call('POST', `${BASE}/subscriptions/${s.id}/rotate-secret`, { token: as('bob') }), 404, 'not_found', 'rotate');
      assertError(assert, await call('DELETE', `${BASE}/subscriptions/${s.id}`, { token: as('bob') }), 404, 'not_found', 'DELETE');

      assert.deepEqual(await list('bob'), []);
      assert.deepEqual((await get('alice', s.id)).json.subscription, s);
      assert.deepEqual(await list('alice'), aliceBefore, 'alice\'s subscriptions untouched');
    });
  });

  describe('bad input', () => {
    const URL_OK = 'https://bad-input.example.com/h';
    const SUBSCRIBE_CASES = [
      ['body not JSON', { raw: '{"webhook_url": ' }, 400, 'invalid_json'],
      ['body is plain text', { raw: 'webhook_url=https://x.example.com', headers: { 'content-type': 'text/plain' } }, 400, 'invalid_json'],
      ['empty body', { raw: '' }, 400, 'invalid_json'],
      ['body is a JSON array', { body: [] }, 400, 'invalid_request'],
      ['body is an array of the fields', { body: ['https://arr.example.com/h', ['call.failed']] }, 400, 'invalid_request'],
      ['body is a JSON string', { body: 'https://str.example.com/h' }, 400, 'invalid_request'],
      ['events is a string', { body: { webhook_url: 'https://t1.example.com/h', events: 'call.failed' } }, 400, 'invalid_request', /events/],
      ['webhook_url is a number', { body: { webhook_url: 42, events: ['call.failed'] } }, 400, 'invalid_request', /webhook_url/],
      ['webhook_url is null', { body: { webhook_url: null, events: ['call.failed'] } }, 400, 'invalid_request', /webhook_url/],
      ['an event is a number', { body: { webhook_url: 'https://t2.example.com/h', events: [42] } }, 400, 'invalid_request', /events/],
      ['unknown field `event` instead of `events`', { body: { webhook_url: 'https://t3.example.com/h', event: ['call.failed'] } }, 400, 'invalid_request', /\bevent\b/],
      ['unknown extra field', { body: { webhook_url: 'https://t4.example.com/h', events: ['call.failed'], colour: 'red' } }, 400, 'invalid_request', /colour/],
      ['missing webhook_url', { body: { events: ['call.failed'] } }, 400, 'invalid_request', /webhook_url/],
      ['missing events', { body: { webhook_url: 'https://t5.example.com/h' } }, 400, 'invalid_request', /events/],
      ['empty events', { body: { webhook_url: 'https://t6.example.com/h', events: [] } }, 400, 'invalid_events'],
      ['unknown event', { body: { webhook_url: 'https://t7.example.com/h', events: ['call.exploded'] } }, 400, 'invalid_events'],
      ['event in the wrong case', { body: { webhook_url: 'https://t8.example.com/h', events: ['Call.Failed'] } }, 400, 'invalid_events'],
      ['duplicate events', { body: { webhook_url: 'https://t9.example.com/h', events: ['call.failed', 'call.failed'] } }, 400, 'invalid_events'],
      ['* with others', { body: { webhook_url: 'https://t10.example.com/h', events: ['*', 'call.failed'] } }, 400, 'invalid_events'],
      ['not a url', { body: { webhook_url: 'not a url', events: ['call.failed'] } }, 400, 'invalid_url'],
      ['http to a public host (even with loopback allowed)', { body: { webhook_url: 'http://example.com/', events: ['call.failed'] } }, 400, 'invalid_url'],
      ['ftp', { body: { webhook_url: 'ftp://example.com/x', events: ['call.failed'] } }, 400, 'invalid_url'],
      ['body over 64 KiB', { raw: JSON.stringify({ webhook_url: 'https://big.example.com/' + 'a'.repeat(64 * 1024), events: ['call.failed'] }) }, 413, 'payload_too_large'],
      ['body of 1 MiB', { raw: '{"x":"' + 'a'.repeat(1024 * 1024) + '"}' }, 413, 'payload_too_large'],
    ];

    const PATCH_CASES = [
      ['body not JSON', { raw: 'nope' }, 400, 'invalid_json'],
      ['empty PATCH', { body: {} }, 400, 'invalid_request'],
      ['body is a JSON array', { body: [false] }, 400, 'invalid_request'],
      ['active is a string', { body: { active: 'no' } }, 400, 'invalid_request', /active/],
      ['events is a string', { body: { events: 'call.failed' } }, 400, 'invalid_request', /events/],
      ['unknown field `event`', { body: { event: ['call.failed'] } }, 400, 'invalid_request', /\bevent\b/],
      ['read-only field id', { body: { id: 'sub_00000000000000000000000000' } }, 400, 'invalid_request', /\bid\b/],
      ['empty events', { body: { events: [] } }, 400, 'invalid_events'],
      ['unknown event', { body: { events: ['call.exploded'] } }, 400, 'invalid_events'],
      ['duplicate events', { body: { events: ['call.failed', 'call.failed'] } }, 400, 'invalid_events'],
      ['* with others', { body: { events: ['call.failed', '*'] } }, 400, 'invalid_events'],
      ['ftp url', { body: { webhook_url: 'ftp://example.com/x' } }, 400, 'invalid_url'],
      ['not a url', { body: { webhook_url: 'not a url' } }, 400, 'invalid_url'],
      ['bad url with a valid change', { body: { active: false, webhook_url: 'https://user:pw@example.com/' } }, 400, 'invalid_url'],
      ['body over 64 KiB', { raw: JSON.stringify({ webhook_url: 'https://big.example.com/' + 'a'.repeat(64 * 1024) }) }, 413, 'payload_too_large'],
    ];

    /**
     * Sends every case, checking status and code (and, with `names`, that the message names the field) and that
     * `snapshot()` is unchanged afterwards; fails once at the end listing every case that went wrong.
     */
    async function checkCases(cases, send, snapshot, { namesOnly = false } = {}) {
      let expectedSnapshot = await snapshot();
      const wrong = [];
      for (const [label, opts, status, code, names] of cases) {
        if (namesOnly && !names) continue;
        const res = await send(opts);
        try {
          if (namesOnly) {
            assert.equal(res.json?.error?.code, code);
            assert.match(res.json.error.message, names);
          } else {
            assertError(assert, res, status, code);
          }
        } catch {
          wrong.push(`${label}: got ${res.status} ${res.text.slice(0, 200)}`);
        }
        const after = await snapshot();
        try {
          assert.deepEqual(after, expectedSnapshot);
        } catch {
          wrong.push(`${label}: the request changed the stored state`);
          expectedSnapshot = after; // report each offending case once
        }
      }
      assert.deepEqual(wrong, []);
    }

    it('POST subscribe with bad input → exact status and code, and nothing is stored', async () => {
      const existing = await subscribe('tabby', URL_OK);
      assert.deepEqual(await list('tabby'), [existing.subscription]);
      await checkCases(
        SUBSCRIBE_CASES,
        (opts) => call('POST', `${BASE}/subscribe`, { token: as('tabby'), ...opts }),
        async () => ({ list: await list('tabby') }),
      );
    });

    it('PATCH with bad input → exact status and code, and the subscription is unchanged', async () => {
      const { subscription: s } = await subscribe('patchy', URL_OK);
      await checkCases(
        PATCH_CASES,
        (opts) => call('PATCH', `${BASE}/subscriptions/${s.id}`, { token: as('patchy'), ...opts }),
        async () => ({ get: (await get('patchy', s.id)).json, list: await list('patchy') }),
      );
    });

    it('invalid_request messages name the offending field (wrong type, missing, unknown)', async () => {
      const { subscription: s } = await subscribe('namer', URL_OK);
      const snapshot = async () => list('namer');
      await checkCases(SUBSCRIBE_CASES, (opts) => call('POST', `${BASE}/subscribe`, { token: as('namer'), ...opts }), snapshot, { namesOnly: true });
      await checkCases(PATCH_CASES, (opts) => call('PATCH', `${BASE}/subscriptions/${s.id}`, { token: as('namer'), ...opts }), snapshot, { namesOnly: true });
    });

    it('random bodies to subscribe and PATCH → a JSON answer, never a 5xx', async () => {
      const rand = rng(3);
      const pick = (xs) => xs[Math.floor(rand() * xs.length)];
      const text = () => Array.from({ length: Math.floor(rand() * 12) }, () => String.fromCodePoint(pick([0x20, 0x41, 0xe9, 0x2603, 0x1f600, 0x0]) + Math.floor(rand() * 40))).join('');
      const STRINGS = [...ALL_EVENTS, '*', '', 'https://fuzz.example.com/h', 'https://bücher.example/h', 'http://[::1]:1/x',
        'https://a.example.com/' + '%'.repeat(30), 'https://999.999.999.999/', 'https://example.com:99999/', 'javascript:alert(1)'];
      const value = (depth) => {
        const r = rand();
        if (r < 0.3) return pick(STRINGS);
        if (r < 0.4) return text();
        if (r < 0.5) return pick([0, -1, 1.5, 1e308, true, false, null]);
        if (depth > 2) return null;
        if (r < 0.8) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
        return object(depth + 1);
      };
      const object = (depth) => Object.fromEntries(Array.from({ length: Math.floor(rand() * 4) }, () =>
        [pick(['webhook_url', 'events', 'active', 'event', 'id', text()]), value(depth)]));
      const { subscription: s } = await subscribe('fuzz', 'https://fuzz-base.example.com/h');
      const wrong = [];
      for (let i = 0; i < 250; i++) {
        const raw = rand() < 0.15
          ? Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)))
          : JSON.stringify(rand() < 0.8 ? object(0) : value(0)) ?? 'null';
        const [method, p] = rand() < 0.5 ? ['POST', `${BASE}/subscribe`] : ['PATCH', `${BASE}/subscriptions/${s.id}`];
        const res = await call(method, p, { token: as('fuzz'), raw });
        const ok = res.status < 500 && typeof res.json?.success === 'boolean' &&
          (res.json.success || [400, 409, 413].includes(res.status));
        if (!ok) wrong.push(`${method} ${String(raw).slice(0, 150)} -> ${res.status} ${res.text.slice(0, 150)}`);
      }
      assert.deepEqual(wrong, []);
    });

    it('a body of exactly 64 KiB is not too large', async () => {
      const head = '{"webhook_url":"https://exact.example.com/h","events":["call.failed"]';
      const raw = head + ' '.repeat(64 * 1024 - head.length - 1) + '}';
      assert.equal(Buffer.byteLength(raw), 64 * 1024);
      const res = await call('POST', `${BASE}/subscribe`, { token: as('exact'), raw });
      assert.equal(res.status, 201, res.text);
    });
  });

  describe('webhook URL policy', () => {
    let prod; // no ALLOW_LOOPBACK_WEBHOOKS: https to public hosts only
    before(async () => {
      prod = await startWorker({ ALLOW_LOOPBACK_WEBHOOKS: undefined });
    });
    after(() => prod?.close());

    const PROD_BAD = [
      'http://example.com/x', 'ftp://example.com/x', 'https://user:pw@example.com/', 'https://10.0.0.1/',
      'https://169.254.169.254/', 'https://[::1]/', 'https://[::ffff:127.0.0.1]/', 'https://127.0.0.1/',
      'https://localhost/', 'not a url', 'http://127.0.0.1:9999/hook', 'http://localhost:3000/api/webhook',
    ];

    it('without ALLOW_LOOPBACK_WEBHOOKS, each of the contract\'s bad URLs → 400 invalid_url, nothing stored', async () => {
      const pcall = client(prod);
      for (const webhook_url of PROD_BAD) {
        const res = await pcall('POST', `${BASE}/subscribe`, { token: as('prod'), body: { webhook_url, events: ['call.failed'] } });
        assertError(assert, res, 400, 'invalid_url', webhook_url);
        const l = await pcall('GET', `${BASE}/subscriptions`, { token: as('prod') });
        assert.deepEqual(l.json?.subscriptions, [], `${webhook_url}: list unchanged`);
      }
      // PATCH is validated the same way.
      const ok = await pcall('POST', `${BASE}/subscribe`, { token: as('prod'), body: GUIDE_BODY });
      assert.equal(ok.status, 201, ok.text);
      for (const webhook_url of PROD_BAD) {
        const res = await pcall('PATCH', `${BASE}/subscriptions/${ok.json.subscription.id}`, { token: as('prod'), body: { webhook_url } });
        assertError(assert, res, 400, 'invalid_url', `PATCH ${webhook_url}`);
      }
      const l = await pcall('GET', `${BASE}/subscriptions`, { token: as('prod') });
      assert.deepEqual(l.json.subscriptions, [ok.json.subscription]);
    });

    it('with ALLOW_LOOPBACK_WEBHOOKS=true, loopback http URLs are accepted and http to public hosts is not', async () => {
      for (const url of ['http://127.0.0.1:9999/hook', 'http://localhost:3000/api/webhook', 'http://[::1]:8080/hook']) {
        const { subscription } = await subscribe('dev', url);
        assert.equal(subscription.webhook_url, url);
      }
      const res = await call('POST', `${BASE}/subscribe`, { token: as('dev'), body: { webhook_url: 'http://example.com/', events: ['call.failed'] } });
      assertError(assert, res, 400, 'invalid_url');
      assert.equal((await list('dev')).length, 3);
    });
  });

  describe('limits', () => {
    let lw;
    before(async () => {
      lw = await startWorker({ MAX_SUBSCRIPTIONS_PER_USER: '2' });
    });
    after(() => lw?.close());

    it('more than MAX_SUBSCRIPTIONS_PER_USER → 409 subscription_limit_reached (per user)', async () => {
      const lcall = client(lw);
      const sub = (uid, n) =>
        lcall('POST', `${BASE}/subscribe`, { token: as(uid), body: { webhook_url: `https://l${n}.example.com/h`, events: ['call.failed'] } });
      assert.equal((await sub('lim', 1)).status, 201);
      const second = await sub('lim', 2);
      assert.equal(second.status, 201);
      assertError(assert, await sub('lim', 3), 409, 'subscription_limit_reached');
      const l = await lcall('GET', `${BASE}/subscriptions`, { token: as('lim') });
      assert.equal(l.json.subscriptions.length, 2);
      // Another user has their own allowance.
      assert.equal((await sub('lim-other', 3)).status, 201);
      // Deleting one makes room again.
      const del = await lcall('DELETE', `${BASE}/subscriptions/${second.json.subscription.id}`, { token: as('lim') });
      assert.equal(del.status, 200);
      assert.equal((await sub('lim', 3)).status, 201);
    });
  });

  describe('routing', () => {
    it('an unknown path → 404 not_found', async () => {
      // `/` is the dashboard, served from the static assets before the Worker is asked.
      for (const p of ['/nope', `${BASE}/nope`, `${BASE}/subscriptions/sub_00000000000000000000000000/extra`, '/api/v5/call/webhook/subscriptions']) {
        assertError(assert, await call('GET', p, { token: as('router') }), 404, 'not_found', p);
      }
    });

    it('a known path with the wrong method → 405 method_not_allowed with Allow', async () => {
      const { subscription: s } = await subscribe('router', 'https://router.example.com/h');
      const CASES = [
        ['POST', '/healthz', 'GET'],
        ['POST', `${BASE}/openapi.json`, 'GET'],
        ['GET', `${BASE}/subscribe`, 'POST'],
        ['DELETE', `${BASE}/subscribe`, 'POST'],
        ['POST', `${BASE}/subscriptions`, 'GET'],
        ['DELETE', `${BASE}/subscriptions`, 'GET'],
        ['PUT', `${BASE}/subscriptions/${s.id}`, 'GET, PATCH, DELETE'],
        ['POST', `${BASE}/subscriptions/${s.id}`, 'GET, PATCH, DELETE'],
        ['GET', `${BASE}/subscriptions/${s.id}/rotate-secret`, 'POST'],
        ['GET', '/api/v6/call/events', 'POST'],
        // Methods workers-rs has no name for are not read as GET.
        ['QUERY', '/healthz', 'GET'],
        ['QUERY', `${BASE}/subscriptions`, 'GET'],
        ['PROPFIND', `${BASE}/subscriptions/${s.id}`, 'GET, PATCH, DELETE'],
      ];
      for (const [method, p, allow] of CASES) {
        const res = await call(method, p, { token: as('router') });
        assertError(assert, res, 405, 'method_not_allowed', `${method} ${p}`);
        assert.equal(res.headers.get('allow'), allow, `${method} ${p}`);
      }
      assert.deepEqual(await list('router'), [s]);
    });
  });

  describe('storage', () => {
    let sw;
    let objectsDir;
    before(async () => {
      objectsDir = mkdtempSync(path.join(tmpdir(), 'ringhook-objects-'));
      sw = await startWorker({}, { objectsDir });
    });
    after(async () => {
      await sw?.close();
      rmSync(objectsDir, { recursive: true, force: true });
    });


    it('the user\'s object holds the subscriptions, sealed; no plaintext secret anywhere, no user document in KV', async () => {
      const scall = client(sw);
      const made = [];
      for (const url of ['https://kv1.example.com/h', 'https://kv2.example.com/h']) {
        const res = await scall('POST', `${BASE}/subscribe`, { token: as('kvuser'), body: { webhook_url: url, events: ['*'] } });
        assert.equal(res.status, 201, res.text);
        made.push(res.json);
      }
      const secrets = made.map((m) => m.secret_key);
      const rot = await scall('POST', `${BASE}/subscriptions/${made[0].subscription.id}/rotate-secret`, { token: as('kvuser') });
      assert.equal(rot.status, 200, rot.text);
      secrets.push(rot.json.secret_key);

      const dump = await kvDump(sw.kv);
      assert.deepEqual(Object.keys(dump).filter((k) => k.startsWith('user:')), [], 'no user document in KV');
      const stored = objectBytes(objectsDir);
      for (const m of made) assert.ok(stored.includes(m.subscription.id), `the object holds ${m.subscription.id}`);
      const all = stored + Object.values(dump).join('\n');
      for (const secret of secrets) {
        const key = Buffer.from(secret.slice(6), 'base64');
        for (const form of [secret, secret.slice(6), key.toString('base64url'), key.toString('hex')]) {
          assert.ok(!all.includes(form), `plaintext secret (${form}) in storage`);
        }
      }
    });
  });

  describe('CORS', () => {
    let cw;
    const ALLOWED = 'https://app.example';
    before(async () => {
      cw = await startWorker({ ALLOWED_ORIGINS: `${ALLOWED},https://admin.example` });
    });
    after(() => cw?.close());

    const varyHasOrigin = (res) => (res.headers.get('vary') ?? '').split(',').map((v) => v.trim().toLowerCase()).includes('origin');

    it('an allowed origin is echoed with Vary: Origin, on success and error responses alike', async () => {
      const ccall = client(cw);
      for (const [method, p, token, status] of [
        ['GET', '/healthz', null, 200],
        ['GET', `${BASE}/subscriptions`, signedToken({ sub: 'cors' }), 200],
        ['GET', `${BASE}/subscriptions`, null, 401],
        ['GET', `${BASE}/subscriptions/sub_00000000000000000000000000`, signedToken({ sub: 'cors' }), 404],
      ]) {
        for (const origin of [ALLOWED, 'https://admin.example']) {
          const res = await ccall(method, p, { token, headers: { origin } });
          assert.equal(res.status, status, `${method} ${p}`);
          assert.equal(res.headers.get('access-control-allow-origin'), origin, `${method} ${p} from ${origin}`);
          assert.ok(varyHasOrigin(res), `Vary: ${res.headers.get('vary')}`);
        }
      }
    });

    it('a disallowed origin gets no Access-Control-Allow-Origin', async () => {
      const ccall = client(cw);
      for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'http://app.example']) {
        const res = await ccall('GET', '/healthz', { token: null, headers: { origin } });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
        const pre = await cw.fetch(`${BASE}/subscribe`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST' },
        });
        await pre.arrayBuffer();
        assert.equal(pre.headers.get('access-control-allow-origin'), null, `preflight from ${origin}`);
      }
    });

    it('preflight OPTIONS → 204 with the methods, headers and max-age, no auth needed', async () => {
      for (const p of [`${BASE}/subscribe`, `${BASE}/subscriptions`, `${BASE}/subscriptions/sub_00000000000000000000000000`, '/healthz']) {
        const res = await cw.fetch(p, {
          method: 'OPTIONS',
          headers: {
            origin: ALLOWED,
            'access-control-request-method': 'PATCH',
            'access-control-request-headers': 'authorization, content-type',
          },
        });
        await res.arrayBuffer();
        assert.equal(res.status, 204, p);
        assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED);
        assert.equal(res.headers.get('access-control-allow-methods'), 'GET, POST, PATCH, DELETE, OPTIONS');
        assert.equal(res.headers.get('access-control-allow-headers'), 'Authorization, Content-Type');
        assert.equal(res.headers.get('access-control-max-age'), '86400');
        assert.ok(varyHasOrigin(res), `Vary: ${res.headers.get('vary')}`);
      }
    });

    it('with ALLOWED_ORIGINS unset (default *), any origin is allowed', async () => {
      const res = await call('GET', '/healthz', { token: null, headers: { origin: 'https://anything.example' } });
      assert.ok(['*', 'https://anything.example'].includes(res.headers.get('access-control-allow-origin')),
        `Access-Control-Allow-Origin: ${res.headers.get('access-control-allow-origin')}`);
      const pre = await w.fetch(`${BASE}/subscribe`, {
        method: 'OPTIONS',
        headers: { origin: 'https://anything.example', 'access-control-request-method': 'POST' },
      });
      await pre.arrayBuffer();
      assert.equal(pre.status, 204);
      assert.ok(['*', 'https://anything.example'].includes(pre.headers.get('access-control-allow-origin')));
    });
  });
});

// The ringhook delivery pipeline end to end: the built Worker in Miniflare with its queues,
// publishing call events over HTTP and through the EVENTS queue, delivering them to real HTTP receivers on
// 127.0.0.1, retrying, deactivating, logging, testing, redelivering and signing through a secret rotation.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import {
  BASE, STATUS_OF, assertError, client, nowSeconds, signedToken, startWorker, stopJwksServer, uniqueId,
} from './support.mjs';
import { createReceiver, down, failing, flaky, gone, ok, slow, verdicts, verifying, waitFor } from './receivers.mjs';

const PUBLISH = '/api/v6/call/events';
const PUBLISHER_TOKEN = 'ringhook-publisher-test-token';
const PIPELINE_VARS = {
  CALL_EVENTS_TOKEN: PUBLISHER_TOKEN,
  RETRY_SCHEDULE: '1,1,1', // four tries: at once, then about 1 s apart
  DEACTIVATE_AFTER_FAILURES: '3',
  DEACTIVATE_AFTER_SECONDS: '0', // the window is tested on its own (lose-nothing tests)
  DELIVERY_TIMEOUT_MS: '1000',
  TEST_RATE_LIMIT_PER_MINUTE: '2',
};
const QUEUES = { maxBatchSize: 100, maxBatchTimeout: 0.05 };
/** How long a whole retry series may take: 3 delays of ≤ 1.1 s, each try ≤ 1 s, plus queue latency. */
const SERIES_MS = 15_000;

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const LOG_FIELDS = ['at', 'attempt', 'duration_ms', 'error', 'event', 'event_id', 'next_retry_at', 'outcome', 'response_excerpt', 'status_code'];
const BODY_FIELDS = ['id', 'event', 'callId', 'status', 'timestamp', 'data'];

const as = (uid) => signedToken({ sub: uid });
const bodySignature = (body, secret) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
const countBy = (items, key) => items.reduce((m, x) => m.set(key(x), (m.get(key(x)) ?? 0) + 1), new Map());

/** A valid publish item for `uid`: a call.completed event unless `over` says otherwise. */
function item(uid, over = {}) {
  const event = over.event ?? 'call.completed';
  return { event, callId: 'call_1', status: STATUS_OF[event] ?? 'completed', uid, ...over };
}

/** Asserts one delivery-log entry is well-formed per the contract. */
function assertLogEntry(e, context = '') {
  const where = `${context}: ${JSON.stringify(e)}`;
  assert.deepEqual(Object.keys(e).sort(), LOG_FIELDS, where);
  assert.equal(typeof e.event_id, 'string', where);
  assert.equal(typeof e.event, 'string', where);
  assert.ok(Number.isInteger(e.attempt) && e.attempt >= 1, where);
  assert.ok(['delivered', 'failed', 'dead_lettered', 'skipped'].includes(e.outcome), where);
  assert.ok(e.status_code === null || Number.isInteger(e.status_code), where);
  assert.ok(e.duration_ms === null || (typeof e.duration_ms === 'number' && e.duration_ms >= 0), where);
  assert.ok(e.error === null || typeof e.error === 'string', where);
  assert.ok(e.response_excerpt === null || (typeof e.response_excerpt === 'string' && Buffer.byteLength(e.response_excerpt) <= 1024), where);
  assert.match(e.at, RFC3339, where);
  if (e.next_retry_at !== null) assert.match(e.next_retry_at, RFC3339, where);
}

/** Asserts the entries are newest first. */
function assertNewestFirst(entries, context = '') {
  for (let i = 1; i < entries.length; i++) {
    assert.ok(Date.parse(entries[i - 1].at) >= Date.parse(entries[i].at), `${context}: newest first at ${i}: ${entries[i - 1].at} then ${entries[i].at}`);
  }
}

/** Helpers bound to one Worker: publishing, subscriptions and the delivery log. */
function harness(worker) {
  const call = client(worker);
  const h = {
    call,
    publish: (body, { token = PUBLISHER_TOKEN, raw, headers } = {}) => call('POST', PUBLISH, { token, body, raw, headers }),
    /** Publishes and asserts 202 {success, events}; resolves to the events. */
    async published(body) {
      const res = await h.publish(body);
      assert.equal(res.status, 202, `publish ${JSON.stringify(body).slice(0, 300)} -> ${res.status} ${res.text}`);
      assert.equal(res.json.success, true, res.text);
      assert.ok(Array.isArray(res.json.events), res.text);
      return res.json.events;
    },
    async subscribe(uid, webhook_url, events = ['*']) {
      const res = await call('POST', `${BASE}/subscribe`, { token: as(uid), body: { webhook_url, events } });
      assert.equal(res.status, 201, `subscribe ${uid} ${webhook_url}: ${res.text}`);
      return { subscription: res.json.subscription, secret: res.json.secret_key };
    },
    async subscription(uid, id) {
      const res = await call('GET', `${BASE}/subscriptions/${id}`, { token: as(uid) });
      assert.equal(res.status, 200, res.text);
      return res.json.subscription;
    },
    log: (uid, id, query = '') => call('GET', `${BASE}/subscriptions/${id}/deliveries${query}`, { token: as(uid) }),
    /** Every log entry of a subscription (pages of 100), newest first. */
    async fullLog(uid, id) {
      const entries = [];
      let cursor = null;
      do {
        const res = await h.log(uid, id, `?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(res.status, 200, `log of ${id}: ${res.text}`);
        entries.push(...res.json.deliveries);
        cursor = res.json.cursor;
      } while (cursor);
      return entries;
    },
    /**
     * Waits until everything queued for `uid` so far has been attempted and logged: publishes a marker event of
     * type `event` for the user and waits for its entry in the log of `subscriptionId` (which must listen to it).
     * Local queues hand batches to the consumer in order, one at a time, and a batch's log is written after all
     * its attempts. Resolves to the marker's id, which receivers then also hold.
     */
    async drain(uid, subscriptionId, event = 'call.completed') {
      const [marker] = await h.published(item(uid, { event, id: uniqueId('marker'), callId: 'call_marker' }));
      await h.logUntil(uid, subscriptionId, (e) => e.some((x) => x.event_id === marker.id));
      return marker.id;
    },
    /** Waits until the log of the subscription satisfies `predicate(entries)`; resolves to the entries. */
    async logUntil(uid, id, predicate, timeoutMs = SERIES_MS) {
      let last = [];
      await waitFor(async () => predicate((last = await h.fullLog(uid, id))), timeoutMs, {
        intervalMs: 100,
        message: () => `log of ${id}: ${JSON.stringify(last)}`,
      });
      return last;
    },
  };
  return h;
}

describe('ringhook delivery pipeline', () => {
  let w; // the contract's test settings: DEACTIVATE_AFTER_FAILURES 3
  let patient; // the same with DEACTIVATE_AFTER_FAILURES 10, so that a receiver can fail 3 times and recover
  let W;
  let P;
  const opened = [];
  /** Creates a receiver and remembers it for after(). */
  const open = async (receiverPromise) => {
    const r = await receiverPromise;
    opened.push(r);
    return r;
  };
  /** Waits until `r` has at least `n` requests; resolves to them. */
  const received = (r, n, timeoutMs = SERIES_MS) =>
    waitFor(() => r.requests.length >= n && r.requests, timeoutMs, {
      message: () => `${n} request(s) at ${r.url}, got ${r.requests.length}: ${JSON.stringify(r.requests.map((q) => q.body))}`,
    });

  before(async () => {
    [w, patient] = await Promise.all([
      startWorker(PIPELINE_VARS, { queues: QUEUES }),
      startWorker({ ...PIPELINE_VARS, DEACTIVATE_AFTER_FAILURES: '10' }, { queues: QUEUES }),
    ]);
    W = harness(w);
    P = harness(patient);
  });

  after(async () => {
    await Promise.all(opened.map((r) => r.close()));
    await Promise.all([w?.close(), patient?.close()]);
    await stopJwksServer();
  });

  describe('publishing', () => {
    it('without the publisher token → 401 unauthorized, and nothing is delivered', async () => {
      const r = await open(ok());
      const { subscription } = await W.subscribe('pub-auth', `${r.url}/hook`, ['*']);
      const body = item('pub-auth', { id: uniqueId('auth') });
      const cases = [
        ['no Authorization header', { token: null }],
        ['wrong bearer token', { token: 'not-the-publisher-token' }],
        ['the token with a suffix', { token: `${PUBLISHER_TOKEN}x` }],
        ['a user\'s valid Firebase ID token', { token: as('pub-auth') }],
        ['the token without the Bearer scheme', { token: null, headers: { authorization: PUBLISHER_TOKEN } }],
        ['another scheme', { token: null, headers: { authorization: `Basic ${Buffer.from(`x:${PUBLISHER_TOKEN}`).toString('base64')}` } }],
      ];
      for (const [label, opts] of cases) {
        assertError(assert, await W.publish(body, opts), 401, 'unauthorized', label);
      }
      // The same event with the right token is accepted: the refusals published nothing under its id.
      const [accepted] = await W.published(body);
      assert.deepEqual(accepted, { id: body.id, deliveries: 1, duplicate: false });
      await W.logUntil('pub-auth', subscription.id, (e) => e.some((x) => x.event_id === body.id));
      assert.deepEqual(r.bodies().map((b) => b.id), [body.id], 'the refused publishes delivered nothing');
    });

    it('a bad item refuses the whole request (400, the item named) and nothing is delivered', async () => {
      const r = await open(ok());
      const { subscription } = await W.subscribe('strict', `${r.url}/hook`, ['*']);
      const goods = [];
      const good = () => {
        const g = item('strict', { id: uniqueId('strict'), callId: `call_strict_${goods.length}` });
        goods.push(g);
        return g;
      };
      const without = (field) => {
        const x = item('strict');
        delete x[field];
        return x;
      };
      // [label, body, index of the bad item in the array (null: no index to name)]
      const cases = [
        ['unknown event', [good(), good(), item('strict', { event: 'call.exploded', status: 'failed' })], 2],
        ['webhook.test published', [good(), item('strict', { event: 'webhook.test', status: 'completed' })], 1],
        ['webhook.subscription.deactivated published', [good(), item('strict', { event: 'webhook.subscription.deactivated', status: 'failed' })], 1],
        ['bad status', [good(), good(), item('strict', { status: 'exploded' })], 2],
        ['status in the wrong case', [good(), item('strict', { status: 'Completed' })], 1],
        ['missing uid', [good(), without('uid')], 1],
        ['missing event', [without('event'), good()], 0],
        ['missing callId', [good(), without('callId')], 1],
        ['missing status', [good(), without('status')], 1],
        ['unknown field', [good(), { ...item('strict'), colour: 'red' }], 1],
        ['data is an array', [good(), item('strict', { data: [1, 2] })], 1],
        ['data is a string', [good(), item('strict', { data: 'x' })], 1],
        ['id with a space', [good(), item('strict', { id: 'evt bad' })], 1],
        ['id over 100 characters', [good(), item('strict', { id: 'a'.repeat(101) })], 1],
        ['empty id', [good(), item('strict', { id: '' })], 1],
        ['occurred_at not an integer', [good(), item('strict', { occurred_at: 1764355200.5 })], 1],
        ['occurred_at as a string', [good(), item('strict', { occurred_at: '2026-11-28T20:00:00Z' })], 1],
        ['uid is a number', [good(), item('strict', { uid: 42 })], 1],
        ['an item as an array of its values', [good(), ['call.completed', 'call_x', 'completed', 'strict']], 1],
        ['an item that is null', [good(), null], 1],
        ['101 items', Array.from({ length: 101 }, () => good()), null],
        ['empty array', [], null],
        ['a single bad object', item('strict', { status: 'exploded' }), null],
        ['a JSON string', 'call.completed', null],
      ];
      const wrong = [];
      for (const [label, body, index] of cases) {
        const res = await W.publish(body);
        try {
          assertError(assert, res, 400, 'invalid_request', label);
          if (index !== null) assert.ok(res.json.error.message.includes(`events[${index}]`), `message names events[${index}]`);
        } catch (err) {
          wrong.push(`${label}: ${res.status} ${res.text.slice(0, 200)} (${err.message.split('\n')[0]})`);
        }
      }
      for (const [label, raw, status, code] of [
        ['body not JSON', '{"event": ', 400, 'invalid_json'],
        ['empty body', '', 400, 'invalid_json'],
        ['body over 64 KiB', JSON.stringify([item('strict', { id: uniqueId('big'), data: { pad: 'x'.repeat(66 * 1024) } })]), 413, 'payload_too_large'],
      ]) {
        const res = await W.publish(undefined, { raw });
        try {
          assertError(assert, res, status, code, label);
        } catch {
          wrong.push(`${label}: ${res.status} ${res.text.slice(0, 200)}`);
        }
      }
      assert.deepEqual(wrong, []);

      const marker = await W.drain('strict', subscription.id);
      assert.deepEqual(r.bodies().map((b) => b.id), [marker], 'nothing delivered from refused requests');
      // Nothing was recorded either: the valid items' ids are new when published on their own.
      const firstHundred = goods.slice(0, 100);
      const events = await W.published(firstHundred);
      assert.deepEqual(events.map((e) => [e.id, e.duplicate]), firstHundred.map((g) => [g.id, false]));
      await received(r, 101);
    });

    it('publishing the same id twice → one delivery; the second answer says duplicate (per user)', async () => {
      const r = await open(ok());
      const r2 = await open(ok());
      const { subscription } = await W.subscribe('idem', `${r.url}/hook`, ['call.completed']);
      await W.subscribe('idem-2', `${r2.url}/hook`, ['call.completed']);
      const id = uniqueId('idem');
      const [first] = await W.published(item('idem', { id }));
      assert.deepEqual(first, { id, deliveries: 1, duplicate: false });
      await received(r, 1);
      const [second] = await W.published(item('idem', { id, callId: 'call_other' }));
      assert.equal(second.id, id);
      assert.equal(second.duplicate, true);
      assert.equal(second.deliveries, 0);
      // The same id for another user is that user's own event.
      const [other] = await W.published(item('idem-2', { id }));
      assert.deepEqual(other, { id, deliveries: 1, duplicate: false });
      await received(r2, 1);
      const marker = await W.drain('idem', subscription.id);
      assert.deepEqual(r.bodies().map((b) => b.id), [id, marker], 'one delivery for the duplicated id');
      assert.equal(JSON.parse(r.requests[0].body).callId, 'call_1', 'the first publish is the one delivered');
      assert.equal(r2.requests.length, 1);
    });

    it('the same id twice in one request → the first is published, the second is a duplicate', async () => {
      const r = await open(ok());
      const { subscription } = await W.subscribe('idem-batch', `${r.url}/hook`, ['call.completed']);
      const id = uniqueId('idem-batch');
      const answers = await W.published([item('idem-batch', { id }), item('idem-batch', { id, callId: 'call_second' })]);
      assert.deepEqual(answers.map((a) => [a.id, a.deliveries, a.duplicate]), [[id, 1, false], [id, 0, true]]);
      await received(r, 1);
      const marker = await W.drain('idem-batch', subscription.id);
      assert.deepEqual(r.bodies().map((b) => b.id), [id, marker]);
      assert.equal(JSON.parse(r.requests[0].body).callId, 'call_1', 'the first of the two is the one delivered');
    });

    it('a message on the EVENTS queue is published like the HTTP path', async () => {
      const r = await open(ok());
      const { subscription, secret } = await W.subscribe('queue', `${r.url}/hook`, ['call.scheduled']);
      const base = { event: 'call.scheduled', callId: 'call_q', status: 'scheduled', uid: 'queue', data: { at: '2026-12-01T09:00:00Z', n: 1 }, occurred_at: 1764355200 };
      const viaQueue = { ...base, id: uniqueId('queue') };
      const viaHttp = { ...base, id: uniqueId('http') };
      const events = await w.mf.getQueueProducer('EVENTS');
      await events.send(viaQueue);
      await W.published(viaHttp);
      const got = (await received(r, 2)).slice(0, 2);
      const marker = await W.drain('queue', subscription.id, 'call.scheduled');
      assert.deepEqual(r.bodies().map((b) => b.id).filter((x) => x !== marker).sort(), [viaQueue.id, viaHttp.id].sort(),
        'exactly one delivery per event');
      const byId = new Map(got.map((q) => [JSON.parse(q.body).id, q]));
      const q = byId.get(viaQueue.id);
      const h = byId.get(viaHttp.id);
      assert.ok(q, `the queued event was delivered: ${[...byId.keys()]}`);
      assert.ok(h, 'the HTTP event was delivered');
      assert.equal(q.body.replace(viaQueue.id, viaHttp.id), h.body, 'the same body but for the id');
      assert.deepEqual(verdicts(q.body, q.headers, secret), { guide: true, standard: true, guideError: null, standardError: null });
      assert.equal(q.headers['x-webhook-event'], 'call.scheduled');
      await W.logUntil('queue', subscription.id, (entries) => entries.some((e) => e.event_id === viaQueue.id && e.outcome === 'delivered'));
    });
  });

  describe('fan-out', () => {
    it('every event reaches every matching subscription exactly once, and no other', async () => {
      const [all, done, start, none, otherUser] = await Promise.all([ok(), ok(), ok(), ok(), ok()].map(open));
      const subs = {
        all: (await W.subscribe('fan', `${all.url}/all`, ['*'])).subscription,
        done: (await W.subscribe('fan', `${done.url}/done`, ['call.completed', 'call.failed'])).subscription,
        start: (await W.subscribe('fan', `${start.url}/start`, ['call.initiated', 'call.status.changed'])).subscription,
        none: (await W.subscribe('fan', `${none.url}/none`, ['call.scheduled'])).subscription,
      };
      await W.subscribe('fan-other', `${otherUser.url}/all`, ['*']);
      const TYPES = ['call.initiated', 'call.status.changed', 'call.completed', 'call.failed'];
      const batch = Array.from({ length: 20 }, (_, i) =>
        item('fan', { event: TYPES[i % 4], callId: `call_fan_${i}`, data: { i } }));
      const events = await W.published(batch);

      assert.equal(events.length, 20);
      assert.equal(new Set(events.map((e) => e.id)).size, 20, 'distinct event ids');
      const matches = (filter, type) => filter.includes('*') || filter.includes(type);
      const expected = { all: [], done: [], start: [], none: [] };
      events.forEach((e, i) => {
        assert.equal(typeof e.id, 'string');
        assert.equal(e.duplicate, false);
        const to = Object.keys(subs).filter((k) => matches(subs[k].events, batch[i].event));
        assert.equal(e.deliveries, to.length, `events[${i}] (${batch[i].event}) deliveries`);
        for (const k of to) expected[k].push(e.id);
      });
      assert.deepEqual([expected.all.length, expected.done.length, expected.start.length, expected.none.length], [20, 10, 10, 0]);

      const receivers = { all, done, start, none };
      await waitFor(() => Object.keys(expected).every((k) => receivers[k].requests.length >= expected[k].length), SERIES_MS, {
        message: () => Object.keys(expected).map((k) => `${k}: ${receivers[k].requests.length}/${expected[k].length}`).join(', '),
      });
      // The marker (call.scheduled) reaches `all` and `none`; it is left out of the counts.
      const marker = await W.drain('fan', subs.all.id, 'call.scheduled');
      for (const [k, ids] of Object.entries(expected)) {
        const counts = countBy(receivers[k].bodies().filter((b) => b.id !== marker), (b) => b.id);
        assert.deepEqual([...counts.entries()].sort(), ids.map((id) => [id, 1]).sort(), `${k}: each matching event once, nothing else`);
        const eventOf = new Map(events.map((e, i) => [e.id, batch[i]]));
        for (const b of receivers[k].bodies().filter((x) => x.id !== marker)) {
          assert.equal(b.event, eventOf.get(b.id).event, `${k}: ${b.id} carries its own event`);
          assert.equal(b.callId, eventOf.get(b.id).callId);
          assert.deepEqual(b.data, eventOf.get(b.id).data);
        }
        for (const q of receivers[k].requests) assert.equal(q.url, `/${k}`, `${k}: delivered to the subscription's own URL`);
      }
      assert.equal(otherUser.requests.length, 0, 'another user\'s subscription gets none of them');
    });

    it('the body is exactly {id, event, callId, status, timestamp, data} with every contract header', async () => {
      const r = await open(ok());
      const { subscription, secret } = await W.subscribe('shape', `${r.url}/hooks/shape?x=1`, ['call.status.changed']);
      const published = {
        event: 'call.status.changed',
        callId: 'call_shape_1',
        status: 'in-progress',
        uid: 'shape',
        data: { from: '+15550100', nested: { n: 1, list: [1, 'two', null], note: 'Grüße — 📞 </script> "q" \\ \u2028' } },
        id: uniqueId('shape'),
        occurred_at: 1764355200,
      };
      const [ack] = await W.published(published); // a single object, not an array
      assert.deepEqual(ack, { id: published.id, deliveries: 1, duplicate: false });
      const [q] = await received(r, 1);

      assert.equal(q.method, 'POST');
      assert.equal(q.url, '/hooks/shape?x=1');
      const body = JSON.parse(q.body);
      assert.deepEqual(Object.keys(body), BODY_FIELDS, 'the body\'s fields, in order');
      assert.deepEqual(body, {
        id: published.id, event: published.event, callId: published.callId, status: published.status,
        timestamp: published.occurred_at, data: published.data,
      });
      assert.equal(JSON.stringify(body), q.body, 'JSON.stringify(JSON.parse(body)) === body');

      const hd = q.headers;
      const receivedAt = q.time / 1000;
      assert.equal(hd['content-type'], 'application/json');
      assert.equal(hd['user-agent'], 'ringhook/0.1.0');
      assert.equal(hd['x-webhook-id'], published.id);
      assert.equal(hd['x-webhook-event'], 'call.status.changed');
      assert.match(hd['x-webhook-timestamp'] ?? '', /^\d+$/);
      assert.ok(Math.abs(Number(hd['x-webhook-timestamp']) - receivedAt) <= 5, `x-webhook-timestamp ${hd['x-webhook-timestamp']} is this try's time (${receivedAt})`);
      assert.match(hd['x-webhook-signature'] ?? '', /^sha256=[0-9a-f]{64}$/);
      assert.equal(hd['x-webhook-signature'], bodySignature(q.body, secret), 'x-webhook-signature: HMAC of the raw body keyed with the secret string');
      assert.match(hd['webhook-id'] ?? '', /\S/);
      assert.match(hd['webhook-timestamp'] ?? '', /^\d+$/);
      assert.ok(Math.abs(Number(hd['webhook-timestamp']) - receivedAt) <= 5, `webhook-timestamp ${hd['webhook-timestamp']}`);
      assert.match(hd['webhook-signature'] ?? '', /^v1,[A-Za-z0-9+/]+={0,2}$/, 'one v1 signature outside a rotation');
      assert.deepEqual(new Webhook(secret).verify(q.body, hd), body, 'standardwebhooks verifies the raw body');

      // Without occurred_at the timestamp is the publish time.
      const before = nowSeconds();
      const [ack2] = await W.published(item('shape', { event: 'call.status.changed', callId: 'call_shape_2' }));
      const [, q2] = await received(r, 2);
      const body2 = JSON.parse(q2.body);
      assert.equal(body2.id, ack2.id);
      assert.deepEqual(body2.data, {}, 'data defaults to {}');
      assert.ok(Number.isInteger(body2.timestamp) && body2.timestamp >= before - 2 && body2.timestamp <= nowSeconds() + 2, `timestamp ${body2.timestamp} ≈ now`);
      const entries = await W.logUntil('shape', subscription.id, (e) => e.filter((x) => x.outcome === 'delivered').length === 2);
      for (const e of entries) assertLogEntry(e, 'shape log');
      const first = entries.find((e) => e.event_id === published.id);
      assert.equal(first.event, 'call.status.changed');
      assert.equal(first.attempt, 1);
      assert.equal(first.status_code, 200);
      assert.equal(first.response_excerpt, 'ok', 'the receiver\'s body');
      assert.equal(first.next_retry_at, null);
      assert.equal(first.error, null);
    });

    it('a receiver running both verifiers (the setup guide\'s, on re-serialised JSON; standardwebhooks) accepts every delivery', async () => {
      const r = await open(verifying());
      const { subscription, secret } = await W.subscribe('verify', `${r.url}/api/webhook`, ['*']);
      r.secret = secret;
      const datas = [
        {},
        { duration_seconds: 42, cost: 1.5, ratio: 0.1, negative: -7, ok: true, none: null },
        { note: 'Grüße — 📞 c-ü-☎', html: '</script><b>&amp;</b>', quote: 'say "hi"\\', lines: 'a\nb\tc\r', ctrl: '\u0001\u001f', seps: '\u2028\u2029' },
        { deep: { a: [{ b: [{ c: 'd' }] }], empty: [], emptyObj: {} } },
        { big: 9007199254740991, small: -9007199254740991, zero: 0 },
      ];
      const TYPES = Object.keys(STATUS_OF);
      const batch = datas.map((data, i) => item('verify', { event: TYPES[i % TYPES.length], callId: `c-ü-${i}`, data }));
      const events = await W.published(batch);
      await received(r, datas.length);
      const marker = await W.drain('verify', subscription.id);
      assert.equal(r.requests.length, datas.length + 1, 'every delivery accepted at the first try');
      for (const q of r.requests) {
        assert.deepEqual(q.verdicts, { guide: true, standard: true, guideError: null, standardError: null }, `verdicts on ${q.body}`);
        assert.equal(q.status, 200);
      }
      assert.deepEqual(r.bodies().map((b) => b.id).filter((x) => x !== marker).sort(), events.map((e) => e.id).sort());
    });
  });

  describe('retries and deactivation', () => {
    it('flaky(3): delivered at the 4th try, same event and body; failure_count back to 0; log 4..1 newest first', async () => {
      const r = await open(flaky(3));
      const { subscription } = await P.subscribe('flaky', `${r.url}/hook`, ['call.failed']);
      const id = uniqueId('flaky');
      await P.published(item('flaky', { event: 'call.failed', id }));
      const tries = await received(r, 4);
      assert.deepEqual(tries.map((q) => q.status), [500, 500, 500, 200]);
      for (const q of tries) {
        assert.equal(q.body, tries[0].body, 'the same body on every try');
        assert.equal(q.headers['x-webhook-id'], id);
        assert.equal(q.headers['webhook-id'], tries[0].headers['webhook-id'], 'the same webhook-id on every try');
        assert.ok(Math.abs(Number(q.headers['x-webhook-timestamp']) - q.time / 1000) <= 2, 'x-webhook-timestamp is the time of that try');
      }
      assert.equal(JSON.parse(tries[0].body).id, id);
      for (let i = 1; i < tries.length; i++) {
        const gap = tries[i].time - tries[i - 1].time;
        assert.ok(gap >= 900, `try ${i + 1} came ${gap.toFixed(0)} ms after the previous one (schedule 1 s, never below 1 s)`);
      }

      const entries = await P.logUntil('flaky', subscription.id, (e) => e.some((x) => x.outcome === 'delivered'));
      for (const e of entries) assertLogEntry(e, 'flaky log');
      assert.deepEqual(entries.map((e) => [e.event_id, e.attempt, e.outcome, e.status_code]), [
        [id, 4, 'delivered', 200],
        [id, 3, 'failed', 500],
        [id, 2, 'failed', 500],
        [id, 1, 'failed', 500],
      ]);
      assertNewestFirst(entries, 'flaky log');
      for (const e of entries.slice(1)) {
        assert.match(e.next_retry_at ?? '', RFC3339, 'a failed try names its retry time');
        const wait = Date.parse(e.next_retry_at) - Date.parse(e.at);
        assert.ok(wait >= 0 && wait <= 2500, `next_retry_at ${e.next_retry_at} is about 1 s after ${e.at}`);
      }
      assert.equal(entries[0].next_retry_at, null);
      const s = await P.subscription('flaky', subscription.id);
      assert.equal(s.failure_count, 0, 'a delivery resets failure_count');
      assert.equal(s.active, true);
      assert.match(s.last_failure_reason ?? '', /500/, 'last_failure_reason is kept');
      assert.match(s.last_failure_at ?? '', RFC3339);
      // The delivery is logged with no next try (above), after the attempt: nothing more is scheduled.
      assert.equal(r.requests.length, 4, 'no try after the delivery');
    });

    it('410 Gone deactivates at once: one try, deactivated_at set; later events logged skipped, not sent', async () => {
      const r = await open(gone());
      const { subscription } = await W.subscribe('gone', `${r.url}/hook`, ['call.completed']);
      const first = uniqueId('gone');
      await W.published(item('gone', { id: first }));
      await received(r, 1);
      const s = await waitFor(async () => {
        const x = await W.subscription('gone', subscription.id);
        return x.active === false && x;
      }, 5_000, { message: 'the subscription is deactivated' });
      assert.match(s.deactivated_at ?? '', RFC3339);
      assert.equal(s.deactivation_reason, 'gone');
      const [tried] = await W.logUntil('gone', subscription.id, (e) => e.some((x) => x.event_id === first));
      assert.deepEqual([tried.outcome, tried.next_retry_at], ['failed', null], 'no retry after 410');
      assert.equal(r.requests.length, 1);

      const later = uniqueId('gone-later');
      const [ack] = await W.published(item('gone', { id: later }));
      assert.equal(ack.deliveries, 0, 'no active subscription to enqueue');
      const entries = await W.logUntil('gone', subscription.id, (e) => e.some((x) => x.event_id === later));
      for (const e of entries) assertLogEntry(e, 'gone log');
      assert.deepEqual(entries.filter((e) => e.event_id === first).map((e) => [e.attempt, e.status_code]), [[1, 410]]);
      const skipped = entries.filter((e) => e.event_id === later);
      assert.deepEqual(skipped.map((e) => e.outcome), ['skipped']);
      assert.equal(r.requests.length, 1, 'the later event was not sent (nothing was queued for it)');

      // The test endpoint still sends to an inactive subscription.
      const res = await W.call('POST', `${BASE}/test`, { token: as('gone'), body: { webhook_url: subscription.webhook_url, event_type: 'call.completed' } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.success, false);
      assert.equal(res.json.status_code, 410);
      assert.equal(r.requests.length, 2);
    });

    it('always 500: deactivated after 3 failures, the owner is told, and reactivation delivers again', async () => {
      const bad = await open(failing(500));
      const watcher = await open(ok());
      const bystander = await open(ok());
      const star = await open(ok());
      const { subscription } = await W.subscribe('dead', `${bad.url}/hook`, ['call.completed']);
      const { subscription: starSub } = await W.subscribe('dead', `${star.url}/all`, ['*']);
      const { secret: watcherSecret } = await W.subscribe('dead', `${watcher.url}/notices`, ['webhook.subscription.deactivated']);
      await W.subscribe('dead', `${bystander.url}/failed`, ['call.failed']);

      await W.published(item('dead', { id: uniqueId('dead') }));
      const s = await waitFor(async () => {
        const x = await W.subscription('dead', subscription.id);
        return x.active === false && x;
      }, SERIES_MS, { message: () => `deactivation after ${bad.requests.length} tries` });
      assert.equal(s.failure_count, 3);
      assert.match(s.deactivated_at ?? '', RFC3339);
      assert.equal(s.deactivation_reason, 'failing');
      assert.match(s.last_failure_reason ?? '', /500/);
      assert.match(s.last_failure_at ?? '', RFC3339);
      const entries = await W.logUntil('dead', subscription.id, (e) => e.some((x) => x.attempt === 3));
      assert.equal(entries.find((e) => e.attempt === 3).next_retry_at, null, 'no try after deactivation');
      assert.equal(bad.requests.length, 3, 'three tries');
      for (const e of entries) assertLogEntry(e, 'dead log');
      assert.deepEqual(entries.filter((e) => e.outcome === 'failed').map((e) => [e.attempt, e.status_code]), [[3, 500], [2, 500], [1, 500]]);
      assert.ok(entries.every((e) => e.outcome !== 'delivered'));
      const failed = entries.find((e) => e.attempt === 1);
      assert.equal(failed.response_excerpt, 'x'.repeat(1024), 'the 3000-byte answer is cut to 1 KiB');

      // The owner's subscription to webhook.subscription.deactivated is told; the one to call.failed is not.
      const [notice] = await received(watcher, 1);
      const body = JSON.parse(notice.body);
      assert.deepEqual(Object.keys(body), BODY_FIELDS);
      assert.equal(body.event, 'webhook.subscription.deactivated');
      assert.equal(body.callId, '');
      assert.equal(body.status, 'failed');
      assert.deepEqual(Object.keys(body.data).sort(), ['reason', 'subscription_id', 'webhook_url']);
      assert.equal(body.data.subscription_id, subscription.id);
      assert.equal(body.data.webhook_url, subscription.webhook_url);
      assert.ok(typeof body.data.reason === 'string' && body.data.reason.length > 0, `reason: ${body.data.reason}`);
      assert.equal(notice.headers['x-webhook-event'], 'webhook.subscription.deactivated');
      assert.deepEqual(verdicts(notice.body, notice.headers, watcherSecret), { guide: true, standard: true, guideError: null, standardError: null });
      await W.drain('dead', starSub.id, 'call.initiated');
      assert.equal(watcher.requests.length, 1, 'one notice');
      assert.equal(bystander.requests.length, 0, 'a subscription not listening to it is not told');
      assert.equal(star.bodies().filter((b) => b.event === 'webhook.subscription.deactivated').length, 1, 'a * subscription is told too');

      // Fixed receiver, PATCH active:true → new events are delivered again.
      bad.recover();
      const re = await W.call('PATCH', `${BASE}/subscriptions/${subscription.id}`, { token: as('dead'), body: { active: true } });
      assert.equal(re.status, 200, re.text);
      assert.equal(re.json.subscription.active, true);
      assert.equal(re.json.subscription.failure_count, 0);
      assert.equal(re.json.subscription.deactivated_at, null);
      const next = uniqueId('dead-next');
      const [ack] = await W.published(item('dead', { id: next }));
      assert.equal(ack.deliveries, 2, 'the reactivated subscription and the * one');
      await waitFor(() => bad.bodies().some((b) => b.id === next), SERIES_MS, { message: 'the new event reaches the reactivated subscription' });
      assert.equal(bad.requests.find((q) => JSON.parse(q.body).id === next).status, 200);
      const after = await W.logUntil('dead', subscription.id, (e) => e.some((x) => x.event_id === next && x.outcome === 'delivered'));
      assert.equal(after[0].event_id, next, 'the newest entry is the new delivery');
    });

    it('after the last retry fails the delivery is dead-lettered (4 tries, no more)', async () => {
      const r = await open(failing(503));
      const { subscription } = await P.subscribe('dlq', `${r.url}/hook`, ['call.completed']);
      const id = uniqueId('dlq');
      await P.published(item('dlq', { id }));
      await received(r, 4);
      const entries = await P.logUntil('dlq', subscription.id, (e) => e.some((x) => x.outcome === 'dead_lettered'));
      for (const e of entries) assertLogEntry(e, 'dlq log');
      assert.deepEqual(entries.map((e) => [e.event_id, e.attempt, e.outcome, e.status_code]), [
        [id, 4, 'dead_lettered', 503],
        [id, 3, 'failed', 503],
        [id, 2, 'failed', 503],
        [id, 1, 'failed', 503],
      ]);
      assert.equal(entries[0].next_retry_at, null);
      assert.equal(r.requests.length, 4, 'no try after dead-lettering');
      const s = await P.subscription('dlq', subscription.id);
      assert.equal(s.failure_count, 4);
      assert.equal(s.active, true, 'below DEACTIVATE_AFTER_FAILURES (10)');
    });

    it('a Retry-After header on a failure sets the delay before the next try', async () => {
      const r = await open(createReceiver((_, i) => (i === 0 ? { status: 503, headers: { 'retry-after': '3' } } : 200)));
      await P.subscribe('retry-after', `${r.url}/hook`, ['call.completed']);
      await P.published(item('retry-after', { id: uniqueId('ra') }));
      const [a, b] = await received(r, 2);
      const gap = b.time - a.time;
      assert.ok(gap >= 2700, `the retry came ${gap.toFixed(0)} ms later; Retry-After said 3 s`);
    });

    it('a receiver slower than DELIVERY_TIMEOUT_MS → a failure whose reason mentions the timeout', async () => {
      const r = await open(slow(2500));
      const { subscription } = await W.subscribe('slow', `${r.url}/hook`, ['call.completed']);
      await W.published(item('slow', { id: uniqueId('slow') }));
      const entries = await W.logUntil('slow', subscription.id, (e) => e.some((x) => x.outcome === 'failed'), 8_000);
      const first = entries.find((e) => e.outcome === 'failed');
      assertLogEntry(first, 'slow log');
      assert.equal(first.attempt, 1);
      assert.match(first.error ?? '', /time(d)?[ -]?out/i);
      assert.equal(first.status_code, null, 'no status: the answer never came');
      assert.ok(first.duration_ms >= 900 && first.duration_ms < 2400, `duration_ms ${first.duration_ms}`);
      const s = await W.subscription('slow', subscription.id);
      assert.match(s.last_failure_reason ?? '', /time(d)?[ -]?out/i);
      assert.ok(s.failure_count >= 1);
      assert.ok(r.requests.length >= 1, 'the request did reach the receiver');
    });

    it('a receiver that sends its head, then stalls its body past DELIVERY_TIMEOUT_MS → a timeout, and the connection is let go', async () => {
      const r = await open(createReceiver(() => ({ status: 200, write: (res) => res.write('partial') })));
      const { subscription } = await W.subscribe('stalled', `${r.url}/hook`, ['call.completed']);
      await W.published(item('stalled', { id: uniqueId('stalled') }));
      const entries = await W.logUntil('stalled', subscription.id, (e) => e.some((x) => x.outcome === 'failed'), 8_000);
      const first = entries.find((e) => e.outcome === 'failed');
      assertLogEntry(first, 'stalled log');
      assert.match(first.error ?? '', /time(d)?[ -]?out/i);
      await waitFor(() => r.requests[0].closed, 8_000, { message: () => 'the stalled answer was never let go' });
    });

    it('an answer that never ends → delivered, its first 1 KiB kept as the excerpt, and the connection is let go', async () => {
      const chunk = Buffer.alloc(16 * 1024, 0x65);
      const endless = async (res) => {
        // Writes until the Worker lets go (or 256 MiB, far past anything it reads).
        for (let i = 0; i < 16 * 1024 && !res.destroyed; i++) {
          if (!res.write(chunk)) await new Promise((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
        }
      };
      const r = await open(createReceiver(() => ({ status: 200, write: endless })));
      const { subscription } = await W.subscribe('endless', `${r.url}/hook`, ['call.completed']);
      await W.published(item('endless', { id: uniqueId('endless') }));
      const entries = await W.logUntil('endless', subscription.id, (e) => e.some((x) => x.outcome === 'delivered'), 8_000);
      const delivered = entries.find((e) => e.outcome === 'delivered');
      assertLogEntry(delivered, 'endless log');
      assert.equal(delivered.response_excerpt, 'e'.repeat(1024));
      await waitFor(() => r.requests[0].closed, 8_000, { message: () => 'the endless answer was never let go' });
    });

    it('a receiver that is down, then up within the retry window → delivered', async () => {
      const r = await open(down());
      const { subscription } = await P.subscribe('downup', `${r.url}/hook`, ['call.completed']);
      const id = uniqueId('downup');
      await P.published(item('downup', { id }));
      const failedFirst = await P.logUntil('downup', subscription.id, (e) => e.some((x) => x.outcome === 'failed'), 8_000);
      const refused = failedFirst.find((e) => e.outcome === 'failed');
      assert.equal(refused.status_code, null);
      assert.match(refused.error ?? '', /\S/, 'the failure says why');
      await r.up();
      const [q] = await received(r, 1);
      assert.equal(JSON.parse(q.body).id, id);
      const entries = await P.logUntil('downup', subscription.id, (e) => e.some((x) => x.outcome === 'delivered'));
      assert.equal(entries[0].outcome, 'delivered');
      assert.ok(entries[0].attempt >= 2, `delivered at try ${entries[0].attempt}`);
      const s = await P.subscription('downup', subscription.id);
      assert.equal(s.failure_count, 0);
      assert.ok(s.last_failure_reason, 'the connection failure was recorded');
    });
  });

  describe('test endpoint', () => {
    it('sends a signed sample at once and answers status, time and excerpt; 429 over the limit', async () => {
      const good = await open(ok());
      const bad = await open(failing(500));
      const { secret } = await W.subscribe('tester', `${good.url}/hook`, ['call.completed']);
      await W.subscribe('tester', `${bad.url}/hook`, ['call.completed']);
      const test = (uid, body) => W.call('POST', `${BASE}/test`, { token: as(uid), body });
      // The limit counts per clock minute: the three sends go in one, not across the turn of the next.
      await waitFor(() => Date.now() % 60_000 < 50_000, 15_000, { message: 'a minute with time to spare' });

      const res = await test('tester', { webhook_url: `${good.url}/hook`, event_type: 'call.status.changed' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.success, true);
      assert.equal(res.json.status_code, 200);
      assert.ok(typeof res.json.response_time_ms === 'number' && res.json.response_time_ms >= 0, `response_time_ms ${res.json.response_time_ms}`);
      assert.equal(res.json.response_excerpt, 'ok');
      assert.equal(good.requests.length, 1, 'sent before the answer');
      const q = good.requests[0];
      const body = JSON.parse(q.body);
      assert.deepEqual(Object.keys(body), BODY_FIELDS);
      assert.equal(body.event, 'call.status.changed');
      assert.equal(body.callId, 'call_test');
      assert.deepEqual(body.data, { test: true });
      assert.equal(q.headers['x-webhook-event'], 'call.status.changed');
      assert.deepEqual(verdicts(q.body, q.headers, secret), { guide: true, standard: true, guideError: null, standardError: null });

      const failed = await test('tester', { webhook_url: `${bad.url}/hook`, event_type: 'call.completed' });
      assert.equal(failed.status, 200, failed.text);
      assert.equal(failed.json.success, false);
      assert.equal(failed.json.status_code, 500);
      assert.ok(typeof failed.json.response_excerpt === 'string' && Buffer.byteLength(failed.json.response_excerpt) <= 1024,
        `excerpt of a 3000-byte answer: ${failed.json.response_excerpt?.length}`);
      assert.equal(bad.requests.length, 1);

      assertError(assert, await test('tester', { webhook_url: `${good.url}/hook`, event_type: 'call.completed' }), 429, 'rate_limited', 'third test in a minute');
      assert.equal(good.requests.length, 1, 'nothing sent when rate-limited');
    });

    it("an answer's excerpt is its first 1 KiB, whether its length is declared or it comes in chunks", async () => {
      const answers = await open(createReceiver((q) => (q.url === '/declared'
        ? { status: 200, body: 'd'.repeat(3000), headers: { 'content-length': '3000' } }
        : { status: 200, body: 'c'.repeat(3000) })));
      for (const path of ['declared', 'chunked']) await W.subscribe('excerpts', `${answers.url}/${path}`, ['*']);
      const excerpt = async (path) => {
        const res = await W.call('POST', `${BASE}/test`, { token: as('excerpts'), body: { webhook_url: `${answers.url}/${path}`, event_type: 'call.completed' } });
        assert.equal(res.status, 200, res.text);
        return res.json.response_excerpt;
      };
      assert.deepEqual([await excerpt('declared'), await excerpt('chunked')], ['d'.repeat(1024), 'c'.repeat(1024)]);
    });

    it('an unknown webhook_url → 404; no token → 401', async () => {
      const r = await open(ok());
      await W.subscribe('tester-2', `${r.url}/hook`, ['*']);
      assertError(assert, await W.call('POST', `${BASE}/test`, { token: as('tester-2'), body: { webhook_url: `${r.url}/other`, event_type: 'call.completed' } }), 404, 'not_found');
      // Another user's URL is unknown to this user.
      assertError(assert, await W.call('POST', `${BASE}/test`, { token: as('tester-3'), body: { webhook_url: `${r.url}/hook`, event_type: 'call.completed' } }), 404, 'not_found');
      assertError(assert, await W.call('POST', `${BASE}/test`, { token: null, body: { webhook_url: `${r.url}/hook`, event_type: 'call.completed' } }), 401, 'unauthorized');
      // A test send happens within its request: a refused one has sent nothing, now or later.
      assert.equal(r.requests.length, 0);
    });
  });

  describe('delivery log and redelivery', () => {
    it('limit + cursor visit every entry once, newest first; another user → 404', async () => {
      const r = await open(ok());
      const { subscription } = await W.subscribe('pager', `${r.url}/hook`, ['*']);
      const ids = [];
      for (let i = 0; i < 7; i++) {
        const [e] = await W.published(item('pager', { callId: `call_page_${i}` }));
        ids.push(e.id);
      }
      await received(r, 7);
      await W.logUntil('pager', subscription.id, (e) => e.length >= 7);

      const seen = [];
      const pages = [];
      let cursor = null;
      do {
        const res = await W.log('pager', subscription.id, `?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(Object.keys(res.json).sort(), ['cursor', 'deliveries', 'success']);
        assert.equal(res.json.success, true);
        assert.ok(res.json.deliveries.length <= 3, `page of ${res.json.deliveries.length}`);
        pages.push(res.json.deliveries.length);
        seen.push(...res.json.deliveries);
        cursor = res.json.cursor;
        assert.ok(cursor === null || typeof cursor === 'string');
        assert.ok(pages.length <= 10, 'pagination ends');
      } while (cursor);
      assert.deepEqual(pages.slice(0, 2), [3, 3]);
      for (const e of seen) assertLogEntry(e, 'pager');
      assert.deepEqual(seen.map((e) => e.event_id).sort(), [...ids].sort(), 'every entry exactly once');
      assertNewestFirst(seen, 'pager pages');
      assert.deepEqual((await W.log('pager', subscription.id)).json.deliveries, seen, 'the default limit (20) shows the same entries');

      assertError(assert, await W.log('pager-other', subscription.id), 404, 'not_found', 'another user');
      assertError(assert, await W.log('pager', 'sub_00000000000000000000000000'), 404, 'not_found', 'unknown subscription');
      for (const limit of ['0', '101', 'x']) {
        const res = await W.log('pager', subscription.id, `?limit=${limit}`);
        assert.equal(res.status, 400, `limit=${limit}: ${res.text}`);
      }
    });

    it('a batch of deliveries is one log key; pages split it and show each entry once; a bad cursor → 400', async () => {
      const r = await open(ok());
      const { subscription } = await W.subscribe('grouper', `${r.url}/hook`, ['*']);
      const events = await W.published(Array.from({ length: 25 }, (_, i) => item('grouper', { callId: `call_group_${i}` })));
      await received(r, 25);
      const all = await W.logUntil('grouper', subscription.id, (e) => e.length >= 25);
      assert.deepEqual(all.map((e) => e.event_id).sort(), events.map((e) => e.id).sort());

      const keys = (await w.kv.list({ prefix: `log:grouper:${subscription.id}:` })).keys;
      assert.ok(keys.length >= 1 && keys.length < 25, `25 deliveries in ${keys.length} log keys`);

      for (const limit of [1, 4, 7]) {
        const seen = [];
        let cursor = null;
        do {
          const res = await W.log('grouper', subscription.id, `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
          assert.equal(res.status, 200, res.text);
          assert.ok(res.json.deliveries.length <= limit);
          seen.push(...res.json.deliveries);
          cursor = res.json.cursor;
          assert.ok(seen.length <= 25 + limit, `limit ${limit}: pagination ends`);
        } while (cursor);
        assert.deepEqual(seen, all, `limit ${limit}: the same entries in the same order as one page`);
        assertNewestFirst(seen, `limit ${limit}`);
      }

      const first = await W.log('grouper', subscription.id, '?limit=3');
      const { subscription: other } = await W.subscribe('grouper', `${r.url}/other`, ['*']);
      for (const [cursor, where] of [['nonsense', 'not base64 JSON'], ['e30', 'an empty object'], [first.json.cursor, "another subscription's cursor"]]) {
        assertError(assert, await W.log('grouper', other.id, `?cursor=${encodeURIComponent(cursor)}`), 400, 'invalid_request', where);
      }
    });

    it('redeliver sends the same event id and body again; unknown event or another user → 404', async () => {
      const r = await open(ok());
      const { subscription } = await W.subscribe('redeliver', `${r.url}/hook`, ['call.failed']);
      const id = uniqueId('redo');
      await W.published(item('redeliver', { event: 'call.failed', id, data: { reason: 'busy' } }));
      await received(r, 1);
      const path = (eventId) => `${BASE}/subscriptions/${subscription.id}/deliveries/${eventId}/redeliver`;
      const res = await W.call('POST', path(id), { token: as('redeliver') });
      assert.equal(res.status, 202, res.text);
      assert.deepEqual(res.json, { success: true, event_id: id });
      const [first, again] = await received(r, 2);
      assert.equal(again.body, first.body, 'the same body');
      assert.equal(again.headers['x-webhook-id'], id);
      const entries = await W.logUntil('redeliver', subscription.id, (e) => e.filter((x) => x.outcome === 'delivered').length >= 2);
      assert.deepEqual(entries.map((e) => [e.event_id, e.outcome]), [[id, 'delivered'], [id, 'delivered']]);

      assertError(assert, await W.call('POST', path(uniqueId('never')), { token: as('redeliver') }), 404, 'not_found', 'unknown event');
      assertError(assert, await W.call('POST', path(id), { token: as('redeliver-other') }), 404, 'not_found', 'another user');
      const marker = await W.drain('redeliver', subscription.id, 'call.failed');
      assert.deepEqual(r.bodies().map((b) => b.id), [id, id, marker], 'no delivery from refused redeliveries');
    });
  });

  describe('secret rotation', () => {
    it('during the overlap a delivery carries two v1 signatures; the old and the new secret both verify', async () => {
      const r = await open(ok());
      const { subscription, secret: oldSecret } = await W.subscribe('rotate', `${r.url}/hook`, ['call.completed']);
      await W.published(item('rotate', { id: uniqueId('rot-before') }));
      const [before] = await received(r, 1);
      assert.equal(before.headers['webhook-signature'].split(' ').length, 1, 'one signature before the rotation');

      const rot = await W.call('POST', `${BASE}/subscriptions/${subscription.id}/rotate-secret`, { token: as('rotate') });
      assert.equal(rot.status, 200, rot.text);
      const newSecret = rot.json.secret_key;
      assert.notEqual(newSecret, oldSecret);

      const id = uniqueId('rot-after');
      await W.published(item('rotate', { id }));
      const [, q] = await received(r, 2);
      assert.equal(JSON.parse(q.body).id, id);
      const signatures = q.headers['webhook-signature'].split(' ');
      assert.equal(signatures.length, 2, `webhook-signature: ${q.headers['webhook-signature']}`);
      for (const s of signatures) assert.match(s, /^v1,[A-Za-z0-9+/]+={0,2}$/);
      assert.equal(new Webhook(oldSecret).verify(q.body, q.headers).id, id, 'the old secret verifies');
      assert.equal(new Webhook(newSecret).verify(q.body, q.headers).id, id, 'the new secret verifies');
      assert.throws(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(q.body, q.headers), /signature/i, 'another secret does not');
      // X-Webhook-Signature holds one value: the contract leaves open which secret signs it during the overlap.
      assert.ok([oldSecret, newSecret].some((s) => q.headers['x-webhook-signature'] === bodySignature(q.body, s)),
        'x-webhook-signature verifies under the old or the new secret');
    });
  });
});

// One writer per user, end to end in workerd: each user's Durable Object is the only writer of that user's
// subscriptions, published ids and rate limits. Changes made while a delivery is in flight stand; repeated
// publishes, concurrent failures and parallel test sends are counted exactly; the old KV layout is moved in.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  BASE, callEvent, kvDump, objectSql, oldSubscription, pipelineClient, signedToken, startWorker, stopJwksServer,
  writeOldLayout,
} from './support.mjs';
import { createReceiver, ok, verifying, waitFor } from './receivers.mjs';

const PUBLISHER = 'ringhook-one-writer-test-token';
const as = (uid) => signedToken({ sub: uid });
const guideSignature = (body, secret) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
const event = callEvent;

/**
 * A receiver that holds every request until the test answers it: `held[i]` is the i-th request's record, and
 * `answer(i, status)` lets it go. Later requests are answered with `then` (a status) at once, when set.
 */
async function holding() {
  const waiting = [];
  const r = await createReceiver((record, index) => {
    if (r.then !== undefined && index > 0) return r.then;
    return new Promise((resolve) => { waiting[index] = resolve; });
  });
  r.then = undefined;
  r.answer = (index, status) => waiting[index](status);
  r.close = ((close) => async () => {
    for (const resolve of waiting) resolve?.(200);
    await close();
  })(r.close);
  return r;
}


describe('changes made while a delivery is in flight stand', () => {
  let w;
  let h;
  const receivers = [];
  before(async () => {
    w = await startWorker(
      { CALL_EVENTS_TOKEN: PUBLISHER, RETRY_SCHEDULE: '1,1,1', DELIVERY_TIMEOUT_MS: '20000' },
      { queues: true },
    );
    h = pipelineClient(w, PUBLISHER);
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await w?.close();
  });
  const track = (r) => { receivers.push(r); return r; };

  it('DELETE: the subscription stays deleted and is not tried again', async () => {
    const held = track(await holding());
    const { subscription: s } = await h.subscribe('deleter', `${held.url}/hook`);
    await h.publish(event('deleter'));
    await waitFor(() => held.requests.length === 1, 10_000, { message: 'the delivery is in flight' });

    const del = await h.call('DELETE', `${BASE}/subscriptions/${s.id}`, { token: as('deleter') });
    assert.equal(del.status, 200, del.text);
    held.answer(0, 500);

    const [record] = await waitFor(async () => {
      const records = await h.logged('deleter', s.id);
      return records.length > 0 && records;
    }, 10_000, { message: 'the attempt is logged' });
    assert.deepEqual([record.outcome, record.next_retry_at], ['failed', null], JSON.stringify(record));
    assert.equal((await h.get('deleter', s.id)).status, 404);
    const list = await h.call('GET', `${BASE}/subscriptions`, { token: as('deleter') });
    assert.deepEqual(list.json.subscriptions, []);
  });

  it('PATCH webhook_url: the new URL stands and the retry goes there', async () => {
    const held = track(await holding());
    const next = track(await ok());
    const { subscription: s } = await h.subscribe('mover', `${held.url}/hook`);
    const [published] = await h.publish(event('mover'));
    await waitFor(() => held.requests.length === 1, 10_000, { message: 'the delivery is in flight' });

    const moved = await h.call('PATCH', `${BASE}/subscriptions/${s.id}`, {
      token: as('mover'),
      body: { webhook_url: `${next.url}/hook` },
    });
    assert.equal(moved.status, 200, moved.text);
    held.answer(0, 500);

    await waitFor(() => next.requests.length === 1, 10_000, { message: 'the retry reaches the new URL' });
    assert.equal(next.requests[0].headers['webhook-id'], published.id);
    const after = (await h.get('mover', s.id)).json.subscription;
    assert.equal(after.webhook_url, `${next.url}/hook`);
  });

  it('PATCH webhook_url: a failure of the URL the user left is not counted against the new one', async () => {
    const held = track(await holding());
    const { subscription: s } = await h.subscribe('counter', `${held.url}/hook`);
    await h.publish(event('counter'));
    await waitFor(() => held.requests.length === 1, 10_000, { message: 'the delivery is in flight' });
    const moved = await h.call('PATCH', `${BASE}/subscriptions/${s.id}`, {
      token: as('counter'),
      body: { webhook_url: `${held.url}/new` },
    });
    assert.equal(moved.status, 200, moved.text);
    // Every attempt fails: the held one to the old URL, then the three retries to the new one.
    held.then = 500;
    held.answer(0, 500);
    await waitFor(async () => (await h.logged('counter', s.id)).some((r) => r.outcome === 'dead_lettered'), 15_000, {
      message: 'the series ends',
    });
    assert.deepEqual(held.requests.map((q) => q.url), ['/hook', '/new', '/new', '/new']);
    const after = (await h.get('counter', s.id)).json.subscription;
    assert.equal(after.failure_count, 3);
  });

  it('secret rotation: the new secret signs the retry, and the old one only beside it', async () => {
    const held = track(await holding());
    const { subscription: s, secret_key: oldSecret } = await h.subscribe('rotator', `${held.url}/hook`);
    await h.publish(event('rotator'));
    await waitFor(() => held.requests.length === 1, 10_000, { message: 'the delivery is in flight' });

    const rotated = await h.call('POST', `${BASE}/subscriptions/${s.id}/rotate-secret`, { token: as('rotator') });
    assert.equal(rotated.status, 200, rotated.text);
    const newSecret = rotated.json.secret_key;
    held.then = 200;
    held.answer(0, 500);

    await waitFor(() => held.requests.length === 2, 10_000, { message: 'the retry arrives' });
    const retry = held.requests[1];
    assert.equal(retry.headers['x-webhook-signature'], guideSignature(retry.body, newSecret));
    assert.notEqual(retry.headers['x-webhook-signature'], guideSignature(retry.body, oldSecret));
  });
});

describe('exact counts under concurrency', () => {
  let w;
  let h;
  const receivers = [];
  before(async () => {
    w = await startWorker(
      {
        CALL_EVENTS_TOKEN: PUBLISHER,
        RETRY_SCHEDULE: '3600',
        DEACTIVATE_AFTER_FAILURES: '1000',
        TEST_RATE_LIMIT_PER_MINUTE: '5',
      },
      { queues: { maxBatchSize: 1, maxBatchTimeout: 0.05 } },
    );
    h = pipelineClient(w, PUBLISHER);
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await w?.close();
  });

  it('the same publish id sent 20 times at once is delivered once to each subscription', async () => {
    const [a, b] = [await ok(), await ok()];
    receivers.push(a, b);
    await h.subscribe('twenty', `${a.url}/hook`);
    await h.subscribe('twenty', `${b.url}/hook`);
    const id = `evt_twenty_${randomBytes(4).toString('hex')}`;
    const answers = await Promise.all(Array.from({ length: 20 }, () => h.publish(event('twenty', { id }))));
    const fresh = answers.flat().filter((e) => !e.duplicate);
    assert.equal(fresh.length, 1, JSON.stringify(answers));
    assert.equal(fresh[0].deliveries, 2);

    // A later event marks the end: once it has arrived at both, everything published before it has too.
    const [marker] = await h.publish(event('twenty', { id: `${id}_marker` }));
    const has = (r, eventId) => r.requests.filter((q) => q.headers['webhook-id'] === eventId).length;
    await waitFor(() => has(a, marker.id) && has(b, marker.id), 10_000, { message: 'the marker arrives' });
    assert.deepEqual([has(a, id), has(b, id)], [1, 1]);
  });

  it('failures from many delivery batches of one user are all counted', async () => {
    // Each message is its own batch. Local queues hand the consumer one batch at a time; on Cloudflare batches
    // run side by side, and the object applies each batch's outcomes whole either way.
    const r = await createReceiver(() => ({ status: 500, delayMs: 50 }));
    receivers.push(r);
    const { subscription: s } = await h.subscribe('concurrent', `${r.url}/hook`);
    const N = 12;
    await Promise.all(Array.from({ length: N }, (_, i) => h.publish(event('concurrent', { callId: `call_${i}` }))));
    await waitFor(async () => (await h.logged('concurrent', s.id)).length === N, 20_000, {
      message: 'every attempt is logged',
    });
    assert.equal(r.requests.length, N);
    const after = (await h.get('concurrent', s.id)).json.subscription;
    assert.equal(after.failure_count, N);
  });

  it('25 parallel test sends: exactly the limit goes out, the rest are 429 with Retry-After', async () => {
    const r = await ok();
    receivers.push(r);
    await h.subscribe('tester', `${r.url}/hook`);
    // The limit counts per clock minute: start well inside one, so all 25 calls fall into the same minute.
    await waitFor(() => Date.now() % 60_000 < 45_000, 20_000, { message: 'a fresh minute', intervalMs: 200 });
    const answers = await Promise.all(Array.from({ length: 25 }, () => h.call('POST', `${BASE}/test`, {
      token: as('tester'),
      body: { webhook_url: `${r.url}/hook`, event_type: 'call.completed' },
    })));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [...Array(5).fill(200), ...Array(20).fill(429)]);
    const refused = answers.find((a) => a.status === 429);
    assert.equal(refused.json.error.code, 'rate_limited');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, refused.headers.get('retry-after'));
    assert.equal(r.requests.length, 5);
  });
});

describe('a user stored in the old KV layout', () => {
  let w;
  let h;
  let receiver;
  before(async () => {
    w = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER }, { queues: true });
    h = pipelineClient(w, PUBLISHER);
    receiver = await verifying();
  });
  after(async () => {
    await receiver?.close();
    await w?.close();
    await stopJwksServer();
  });

  it('keeps every subscription and secret, moved into the object on first touch', async () => {
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    receiver.secret = secret;
    const live = oldSubscription('sub_01JOLD0000000000000000000A', `${receiver.url}/hook`, { secret });
    const paused = oldSubscription('sub_01JOLD0000000000000000000B', 'https://paused.example.com/h', {
      secret: `whsec_${randomBytes(32).toString('base64')}`,
      active: false,
      failure_count: 10,
      deactivated_at: '2026-01-02T00:00:00Z',
    });
    await writeOldLayout(w, 'legacy', [live, paused]);

    // Ten first touches at once all see the same two subscriptions.
    const lists = await Promise.all(Array.from({ length: 10 }, () => h.call('GET', `${BASE}/subscriptions`, { token: as('legacy') })));
    const expected = [live, paused].map(({ secret: _, ...fields }) => fields);
    for (const list of lists) assert.deepEqual(list.json.subscriptions, expected);
    assert.equal(await w.kv.get('user:legacy'), null, 'the old document is gone once moved in');

    // The old secret still signs, as the setup guide and standardwebhooks verify.
    const [published] = await h.publish(event('legacy'));
    assert.equal(published.deliveries, 1);
    await waitFor(() => receiver.requests.length === 1, 10_000, { message: 'the delivery arrives' });
    assert.deepEqual(receiver.requests[0].verdicts, { guide: true, standard: true, guideError: null, standardError: null });

    // Moved once: a change after the move is not undone by the old document.
    const del = await h.call('DELETE', `${BASE}/subscriptions/${paused.id}`, { token: as('legacy') });
    assert.equal(del.status, 200, del.text);
    const now = await h.call('GET', `${BASE}/subscriptions`, { token: as('legacy') });
    assert.deepEqual(now.json.subscriptions.map((s) => s.id), [live.id]);
    assert.deepEqual(Object.keys(await kvDump(w.kv)).filter((k) => k.startsWith('user:')), []);
  });
});

describe('an object stored when whether an attempt was followed up had a table of its own', () => {
  const vars = { CALL_EVENTS_TOKEN: PUBLISHER, SECRETS_KEY: randomBytes(32).toString('base64'), RETRY_SCHEDULE: '1,2,4,8,8,8,8' };
  let objectsDir;
  let receiver;
  before(async () => {
    objectsDir = mkdtempSync(path.join(tmpdir(), 'ringhook-followed-'));
    // The first attempt fails and is retried; every later one is delivered.
    receiver = await createReceiver((record, index) => (index === 0 ? 503 : 200));
  });
  after(async () => {
    await receiver?.close();
    rmSync(objectsDir, { recursive: true, force: true });
    await stopJwksServer();
  });

  /**
   * Publishes one event for `uid` with a Worker on the shared object storage (KV starts empty each time), and stops it
   * once its log holds `logged` entries.
   */
  async function publishUntilLogged(uid, url, logged) {
    const w = await startWorker(vars, { queues: true, objectsDir });
    try {
      const h = pipelineClient(w, PUBLISHER);
      const { subscriptions } = (await h.call('GET', `${BASE}/subscriptions`, { token: as(uid) })).json;
      const id = subscriptions[0]?.id ?? (await h.subscribe(uid, url)).subscription.id;
      const [published] = await h.publish(event(uid));
      await waitFor(async () => (await h.logged(uid, id)).length === logged, 30_000, { message: `${logged} log entries` });
      return published.id;
    } finally {
      await w.close();
    }
  }

  it('has them moved into the attempts, finished, and goes on recording there', async () => {
    const first = await publishUntilLogged('followed', `${receiver.url}/hook`, 2);
    // The earlier layout: the followed-up attempts (the failed one, its retry queued; the delivered one) in a table,
    // every attempt made keeping its record, and no version of the tables recorded.
    const [, , , , , before] = await objectSql(objectsDir, 'followed', [
      "DELETE FROM meta WHERE name = 'schema'",
      `CREATE TABLE attempts_followed (subscription_id TEXT NOT NULL, event_id TEXT NOT NULL, series TEXT NOT NULL,
         attempt INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (subscription_id, event_id, series, attempt))`,
      `INSERT INTO attempts_followed SELECT subscription_id, event_id, series, attempt, expires_at FROM attempts
         WHERE followed = 1`,
      'ALTER TABLE attempts DROP COLUMN followed',
      `UPDATE attempts SET done = '{"record":"as an earlier version kept it"}' WHERE done IS NOT NULL`,
      'SELECT attempt FROM attempts_followed ORDER BY attempt',
    ]);
    assert.deepEqual(before, [{ attempt: 1 }, { attempt: 2 }]);

    const second = await publishUntilLogged('followed', `${receiver.url}/hook`, 1);
    const [attempts, tables] = await objectSql(objectsDir, 'followed', [
      `SELECT event_id, attempt, followed, done FROM attempts ORDER BY attempt, event_id = '${second}'`,
      "SELECT name FROM sqlite_master WHERE name = 'attempts_followed'",
    ]);
    assert.deepEqual(
      [attempts, tables],
      [[
        { event_id: first, attempt: 1, followed: 1, done: '' },
        { event_id: second, attempt: 1, followed: 1, done: '' },
        { event_id: first, attempt: 2, followed: 1, done: '' },
      ], []],
    );
  });
});

describe('a Worker of the previous version, asking the user\'s object through fetch while a new one is deployed', () => {
  let w;
  let receiver;
  before(async () => {
    w = await startWorker({});
    receiver = await createReceiver(ok);
  });
  after(async () => {
    await receiver?.close();
    await w?.close();
    await stopJwksServer();
  });

  /** Sends a command to `uid`'s object as the previous version did: POSTed as JSON to its fetch handler. */
  async function sendAsBefore(uid, command) {
    const namespace = await w.mf.getDurableObjectNamespace('USERS', 'ringhook');
    const response = await namespace.get(namespace.idFromName(uid)).fetch('https://user-object/', {
      method: 'POST',
      body: typeof command === 'string' ? command : JSON.stringify({ uid, command }),
    });
    return { status: response.status, json: await response.json() };
  }

  it('is answered as before: the reply, a refusal, and a command it cannot read', async () => {
    const h = pipelineClient(w, PUBLISHER);
    const { subscription } = await h.subscribe('previous', `${receiver.url}/hook`);
    const listed = await sendAsBefore('previous', { api: { op: 'List', body: '' } });
    const refused = await sendAsBefore('previous', { api: { op: 'Subscribe', body: '{"webhook_url":"ftp://x","events":["*"]}' } });
    const unread = await sendAsBefore('previous', 'not a command');
    assert.deepEqual(
      [listed.status, listed.json.subscriptions.map((s) => s.id), refused.status, refused.json.error.code, unread.status, unread.json.error],
      [200, [subscription.id], 400, 'invalid_url', 500, { code: 'internal_error', message: 'internal error: try again later' }],
    );
  });
});

// Delivery that loses nothing, end to end in workerd with real receivers on 127.0.0.1: a receiver that restarts
// loses no event and keeps its subscription; deactivation waits for failures that last the whole window.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import {
  BASE, KV_DOWN, KV_REFUSED, QUEUE_DOWN, assertError, callEvent, nowSeconds, pipelineClient, signedToken, startWorker,
  stopJwksServer,
} from './support.mjs';
import { createReceiver, failing, ok, waitFor } from './receivers.mjs';

const PUBLISH = '/api/v6/call/events';
const PUBLISHER = 'ringhook-lose-nothing-token';
const as = (uid) => signedToken({ sub: uid });
const event = callEvent;


/**
 * A receiver that restarts: it answers 503 until `.refuse()`, then its port refuses connections until `.up()`,
 * then it answers 200. Every request it answered is in `requests`, with the status it got.
 */
async function restarting() {
  const requests = [];
  const record = (status) => (q) => {
    requests.push({ ...q, answered: status });
    return status;
  };
  let server = await createReceiver(record(503));
  const { port, url } = server;
  return {
    url,
    requests,
    delivered: () => requests.filter((q) => q.answered === 200),
    refuse: () => server.close(),
    up: async () => {
      server = await createReceiver(record(200), { port });
    },
    close: () => server.close(),
  };
}

describe('a receiver that restarts for 20 seconds', () => {
  let w;
  let h;
  let r;
  before(async () => {
    w = await startWorker(
      {
        CALL_EVENTS_TOKEN: PUBLISHER,
        // The production schedule starts at 5 s; this one keeps the shape with first retries within seconds.
        RETRY_SCHEDULE: '1,2,4,8,8,8,8',
        DEACTIVATE_AFTER_FAILURES: '3',
        DEACTIVATE_AFTER_SECONDS: '120',
        DELIVERY_TIMEOUT_MS: '2000',
      },
      { queues: true },
    );
    h = pipelineClient(w, PUBLISHER);
    r = await restarting();
  });
  after(async () => {
    await r?.close();
    await w?.close();
  });

  it('loses no event published meanwhile, and the subscription stays active', async () => {
    const { subscription } = await h.subscribe('restart', `${r.url}/hook`);
    // 30 events over 20 s: 10 s of 503, then 10 s of refused connections, then the receiver is back.
    const ids = [];
    const start = Date.now();
    const at = (ms) => waitFor(() => Date.now() >= start + ms, 30_000, { intervalMs: 20, message: `${ms} ms into the outage` });
    for (let i = 0; i < 30; i++) {
      await at(i * 666);
      if (i === 15) await r.refuse();
      const [e] = await h.publish(event('restart', { id: `evt_restart_${i}_${randomBytes(3).toString('hex')}` }));
      ids.push(e.id);
    }
    await at(20_000);
    await r.up();

    await waitFor(() => new Set(r.delivered().map((q) => q.headers['webhook-id'])).size === ids.length, 60_000, {
      intervalMs: 200,
      message: () => `delivered ${new Set(r.delivered().map((q) => q.headers['webhook-id'])).size} of ${ids.length}`,
    });
    const deliveredIds = r.delivered().map((q) => q.headers['webhook-id']);
    assert.deepEqual([...new Set(deliveredIds)].sort(), [...ids].sort(), 'every event arrives');
    const twice = ids.filter((id) => deliveredIds.filter((x) => x === id).length > 1).length;
    console.log(`# outage: ${ids.length} events, ${ids.length - new Set(deliveredIds).size} lost, ${twice} delivered twice, ` +
      `${r.requests.length} requests (${r.requests.filter((q) => q.answered === 503).length} answered 503 during the outage)`);
    const s = await h.subscription('restart', subscription.id);
    assert.equal(s.active, true);
    assert.equal(s.deactivation_reason, null);
  });
});

describe('failures around an attempt', () => {
  let w;
  let h;
  const receivers = [];
  before(async () => {
    w = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER, RETRY_SCHEDULE: '1,1,1' }, { queues: true });
    h = pipelineClient(w, PUBLISHER);
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await w?.close();
  });
  const open = async (receiver) => { receivers.push(await receiver); return receivers.at(-1); };

  it('recover sends again, once each and oldest first, what was dead-lettered or skipped while inactive', async () => {
    const r = await open(failing(500));
    const { subscription } = await h.subscribe('recover', `${r.url}/hook`);
    const recover = (uid, body) => h.call('POST', `${BASE}/subscriptions/${subscription.id}/recover`, { token: as(uid), body });
    const since = nowSeconds() - 1;
    const [dead] = await h.publish(event('recover', { id: `evt_rec_dead_${randomBytes(3).toString('hex')}` }));
    await waitFor(async () => (await h.logged('recover', subscription.id)).some((x) => x.outcome === 'dead_lettered'), 20_000, {
      intervalMs: 100, message: 'the event is dead-lettered',
    });
    const patch = (active) => h.call('PATCH', `${BASE}/subscriptions/${subscription.id}`, { token: as('recover'), body: { active } });
    assert.equal((await patch(false)).status, 200);
    const [first] = await h.publish(event('recover', { id: `evt_rec_skip1_${randomBytes(3).toString('hex')}` }));
    const [second] = await h.publish(event('recover', { id: `evt_rec_skip2_${randomBytes(3).toString('hex')}` }));
    assert.equal((await patch(true)).status, 200);
    r.recover();

    assertError(assert, await recover('recover', { since: Date.now() }), 400, 'invalid_request', 'since in milliseconds');
    const future = await recover('recover', { since: nowSeconds() + 60 });
    assert.deepEqual([future.status, future.json.events], [202, []], 'a since still to come recovers nothing');
    assertError(assert, await recover('someone-else', { since }), 404, 'not_found', 'another user');
    const res = await recover('recover', { since });
    assert.equal(res.status, 202, res.text);
    assert.deepEqual(res.json.events, [dead.id, first.id, second.id]);
    const delivered = () => r.requests.filter((q) => q.status === 200).map((q) => q.headers['webhook-id']);
    await waitFor(() => delivered().length === 3, 15_000, { message: () => `delivered: ${delivered()}` });
    assert.deepEqual([...delivered()].sort(), [dead.id, first.id, second.id].sort());
    await waitFor(async () => (await h.logged('recover', subscription.id)).filter((x) => x.outcome === 'delivered').length === 3, 10_000, {
      message: 'the recovered deliveries are logged',
    });
    const again = await recover('recover', { since });
    assert.deepEqual(again.json.events, [], 'recovered once');
  });

  it('a publish whose enqueue fails answers 503, and the same id published again is delivered once', async () => {
    const r = await open(ok());
    const { subscription } = await h.subscribe('enqueue', `${r.url}/hook`);
    const id = `evt_enqueue_${randomBytes(4).toString('hex')}`;
    await w.kv.put(QUEUE_DOWN, '1');
    const refused = await h.call('POST', PUBLISH, { token: PUBLISHER, body: event('enqueue', { id }) });
    assertError(assert, refused, 503, 'unavailable');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    await w.kv.delete(QUEUE_DOWN);

    const [again] = await h.publish(event('enqueue', { id }));
    assert.deepEqual(again, { id, deliveries: 1, duplicate: false });
    await waitFor(async () => (await h.logged('enqueue', subscription.id)).length === 1, 10_000, { message: 'the delivery is logged' });
    assert.deepEqual(r.requests.map((q) => q.headers['webhook-id']), [id]);
    const [third] = await h.publish(event('enqueue', { id }));
    assert.equal(third.duplicate, true, 'published once it was on the queue');
  });

  it('a publish for two users whose second cannot be queued answers 503; the first is published, and each is delivered once', async () => {
    const [first, second] = [await open(ok()), await open(ok())];
    const subscribed = [await h.subscribe('split-a', `${first.url}/hook`), await h.subscribe('split-b', `${second.url}/hook`)];
    const ids = ['a', 'b'].map((k) => `evt_split_${k}_${randomBytes(4).toString('hex')}`);
    const events = () => [event('split-a', { id: ids[0] }), event('split-b', { id: ids[1] })];
    await w.kv.put(QUEUE_DOWN, 'uid:split-b');
    const refused = await h.call('POST', PUBLISH, { token: PUBLISHER, body: events() });
    assertError(assert, refused, 503, 'unavailable');
    await waitFor(() => first.requests.length === 1, 10_000, { message: "the published user's attempt, made at once" });
    await w.kv.delete(QUEUE_DOWN);

    const again = await h.publish(events());
    assert.deepEqual(again.map((e) => e.duplicate), [true, false]);
    await waitFor(async () => (await h.logged('split-b', subscribed[1].subscription.id)).length === 1, 10_000, {
      message: "the second user's delivery is logged",
    });
    await waitFor(async () => (await h.logged('split-a', subscribed[0].subscription.id)).length === 1, 10_000, {
      message: "the first user's delivery is logged",
    });
    assert.deepEqual([first, second].map((r) => r.requests.map((q) => q.headers['webhook-id'])), [[ids[0]], [ids[1]]]);
  });

  it('KV failing after a send: the attempt is not made again, and is logged once KV is back', async () => {
    const r = await open(ok());
    const { subscription } = await h.subscribe('kvdown', `${r.url}/hook`);
    await w.kv.put(KV_DOWN, `log:kvdown:${subscription.id}:`);
    const [published] = await h.publish(event('kvdown'));
    await waitFor(() => r.requests.length === 1, 10_000, { message: 'the attempt' });
    // The user's object's write of the log fails, and it tries again a few seconds later.
    await waitFor(async () => Number(await w.kv.get(KV_REFUSED)) >= 2, 30_000, { intervalMs: 100, message: 'a retry after the refused log write' });
    await w.kv.delete(KV_DOWN);
    const [entry] = await waitFor(async () => {
      const records = await h.logged('kvdown', subscription.id);
      return records.length > 0 && records;
    }, 30_000, { intervalMs: 100, message: 'the attempt is logged' });
    assert.deepEqual([entry.event_id, entry.outcome], [published.id, 'delivered']);
    assert.equal(r.requests.length, 1, 'the delivered attempt was not sent again');
  });

  it('the same message again and again on the queue makes one attempt and one log entry', async () => {
    const r = await open(ok());
    const { subscription } = await h.subscribe('twice', `${r.url}/hook`);
    const message = (id) => {
      const body = JSON.stringify({ id, event: 'call.completed', callId: 'call_1', status: 'completed', timestamp: 1, data: {} });
      return { uid: 'twice', subscription_id: subscription.id, event_id: id, event: 'call.completed', body, attempt: 1 };
    };
    const id = `evt_twice_${randomBytes(4).toString('hex')}`;
    const deliveries = await w.queue('DELIVERIES');
    await deliveries.send(message(id));
    await deliveries.send(message(id));
    await waitFor(async () => (await h.logged('twice', subscription.id)).length === 1, 30_000, { intervalMs: 100, message: 'the attempt is logged' });
    // Once more now that the attempt is made, then another event behind it: once that one is logged, the queue
    // has handed over the copy before it.
    const after = `evt_after_${randomBytes(4).toString('hex')}`;
    await deliveries.send(message(id));
    await deliveries.send(message(after));
    const logged = await waitFor(async () => {
      const records = await h.logged('twice', subscription.id);
      return records.some((x) => x.event_id === after) && records;
    }, 30_000, { intervalMs: 100, message: 'the event behind the copies is logged' });
    assert.deepEqual(logged.filter((x) => x.event_id === id).map((x) => x.outcome), ['delivered'], 'logged once');
    assert.deepEqual(r.bodies().filter((b) => b.id === id).length, 1, 'sent once');
  });

  it('a malformed message on each queue is dead-lettered with its reason, never dropped', async () => {
    const r = await open(ok());
    const { subscription } = await h.subscribe('malformed', `${r.url}/hook`);
    // Whose it is can be read, but not the delivery: the subscription's log shows it.
    await (await w.queue('DELIVERIES')).send({ uid: 'malformed', subscription_id: subscription.id, event_id: 'evt_bad', event: 'call.completed', body: 42, attempt: 1 });
    const [entry] = await waitFor(async () => {
      const records = await h.logged('malformed', subscription.id);
      return records.length > 0 && records;
    }, 10_000, { message: 'the dead letter in the log' });
    assert.equal(entry.outcome, 'dead_lettered');
    assert.match(entry.error, /not a delivery/);
    // Nothing can be read: kept under dead: with the queue and the reason.
    await (await w.queue('DELIVERIES')).send('hello');
    await (await w.queue('EVENTS')).send({ event: 'call.exploded' });
    const letters = await waitFor(async () => {
      const all = await h.deadLetters();
      return all.length === 2 && all;
    }, 10_000, { message: 'two letters kept' });
    const byQueue = Object.fromEntries(letters.map((l) => [l.queue, l]));
    assert.deepEqual(JSON.parse(byQueue['ringhook-deliveries'].body), 'hello');
    assert.match(byQueue['ringhook-deliveries'].reason, /not a delivery/);
    assert.deepEqual(JSON.parse(byQueue['ringhook-events'].body), { event: 'call.exploded' });
    assert.match(byQueue['ringhook-events'].reason, /publish item/);
    assert.equal(r.requests.length, 0);
  });

  it('a receiver streaming a 100 MB answer: 1 KiB is kept, the rest is not read, the other delivery is unaffected', async () => {
    const big = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const chunk = Buffer.alloc(64 * 1024, 'y');
        let sent = 0;
        const more = () => {
          while (sent < 100 * 1024 * 1024) {
            sent += chunk.length;
            big.sent = sent;
            if (!res.write(chunk)) return res.once('drain', more);
          }
          res.end();
        };
        res.on('close', () => { big.closedAt = sent; });
        more();
      });
    });
    await new Promise((resolve) => big.listen(0, '127.0.0.1', resolve));
    receivers.push({ close: () => new Promise((resolve) => { big.closeAllConnections(); big.close(resolve); }) });
    const other = await open(ok());
    const huge = await h.subscribe('huge', `http://127.0.0.1:${big.address().port}/hook`);
    const fine = await h.subscribe('huge', `${other.url}/hook`);
    await h.publish(event('huge'));
    const [entry] = await waitFor(async () => {
      const records = await h.logged('huge', huge.subscription.id);
      return records.length > 0 && records;
    }, 20_000, { message: 'the attempt is logged' });
    assert.equal(entry.outcome, 'delivered');
    assert.equal(entry.response_excerpt, 'y'.repeat(1024));
    assert.equal((await h.logged('huge', fine.subscription.id))[0]?.outcome, 'delivered');
    await waitFor(() => big.closedAt !== undefined, 10_000, { message: 'the answer is cut off' });
    assert.ok(big.closedAt < 100 * 1024 * 1024, `${big.closedAt} bytes written before the connection closed`);
  });
});

describe('deactivation after the window', () => {
  let w;
  let h;
  const receivers = [];
  before(async () => {
    w = await startWorker(
      {
        CALL_EVENTS_TOKEN: PUBLISHER,
        RETRY_SCHEDULE: '1,1,1,1,1,1,1,1',
        DEACTIVATE_AFTER_FAILURES: '3',
        DEACTIVATE_AFTER_SECONDS: '4',
        DELIVERY_TIMEOUT_MS: '2000',
      },
      { queues: true },
    );
    h = pipelineClient(w, PUBLISHER);
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await w?.close();
    await stopJwksServer();
  });

  it('a receiver failing for the whole window is deactivated as failing, and its owner is told', async () => {
    const bad = await failing(500);
    const watcher = await ok();
    receivers.push(bad, watcher);
    const { subscription } = await h.subscribe('window', `${bad.url}/hook`, ['call.completed']);
    await h.subscribe('window', `${watcher.url}/notices`, ['webhook.subscription.deactivated']);
    await h.publish(event('window'));

    const s = await waitFor(async () => {
      const x = await h.subscription('window', subscription.id);
      return !x.active && x;
    }, 20_000, { intervalMs: 100, message: () => `deactivation after ${bad.requests.length} attempts` });
    assert.equal(s.deactivation_reason, 'failing');
    const streak = Date.parse(s.deactivated_at) - Date.parse(s.failing_since);
    assert.ok(streak >= 4000, `deactivated ${streak} ms into the streak, not before the 4 s window`);
    assert.ok(bad.requests.length >= 4, `${bad.requests.length} attempts: past the 3 the rule needs, as the window took longer`);

    const [notice] = await waitFor(() => watcher.requests.length >= 1 && watcher.requests, 10_000, { message: 'the notice' });
    const body = JSON.parse(notice.body);
    assert.equal(body.event, 'webhook.subscription.deactivated');
    assert.equal(body.data.subscription_id, subscription.id);
  });
});

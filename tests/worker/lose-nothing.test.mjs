// Delivery that loses nothing, end to end in workerd with real receivers on 127.0.0.1: a receiver that restarts
// loses no event and keeps its subscription; deactivation waits for failures that last the whole window.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BASE, client, signedToken, startWorker, stopJwksServer } from './support.mjs';
import { createReceiver, failing, ok, waitFor } from './receivers.mjs';

const PUBLISH = '/api/v6/call/events';
const PUBLISHER = 'ringhook-lose-nothing-token';
const as = (uid) => signedToken({ sub: uid });
const event = (uid, over = {}) => ({ event: 'call.completed', callId: 'call_1', status: 'completed', uid, ...over });

function harness(worker) {
  const call = client(worker);
  const h = {
    call,
    async subscribe(uid, webhook_url, events = ['*']) {
      const res = await call('POST', `${BASE}/subscribe`, { token: as(uid), body: { webhook_url, events } });
      assert.equal(res.status, 201, res.text);
      return res.json;
    },
    async publish(body) {
      const res = await call('POST', PUBLISH, { token: PUBLISHER, body });
      assert.equal(res.status, 202, res.text);
      return res.json.events;
    },
    async subscription(uid, id) {
      const res = await call('GET', `${BASE}/subscriptions/${id}`, { token: as(uid) });
      assert.equal(res.status, 200, res.text);
      return res.json.subscription;
    },
  };
  return h;
}

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
    h = harness(w);
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
    const s = await h.subscription('restart', subscription.id);
    assert.equal(s.active, true);
    assert.equal(s.deactivation_reason, null);
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
    h = harness(w);
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

// First attempts made at once, end to end in workerd: the invocation that publishes an event makes its first
// attempt to each healthy endpoint itself, after its queue message is on the queue (delayed, to fall back on).
// The first Worker has no consumer of the delivery queue, so whatever arrives was sent by the publishing
// invocation; the second shows the delayed queue message finishing what that invocation could not.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { QUEUE_DOWN, callEvent, pipelineClient, startWorker, stopJwksServer } from './support.mjs';
import { createReceiver, failing, ok, waitFor } from './receivers.mjs';

const PUBLISHER = 'ringhook-at-once-token';
after(() => stopJwksServer());

describe('first attempts made at once', () => {
  let w;
  let h;
  const receivers = [];
  before(async () => {
    w = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER, RETRY_SCHEDULE: '1,1,1', DELIVERY_TIMEOUT_MS: '5000' },
      { queues: { consumeDeliveries: false } });
    h = pipelineClient(w, PUBLISHER);
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await w?.close();
  });
  const open = async (receiver) => { receivers.push(await receiver); return receivers.at(-1); };

  it('a healthy endpoint has the event from the publishing invocation, once, and logged once', async () => {
    const r = await open(ok());
    const { subscription } = await h.subscribe('fast', `${r.url}/hook`);
    const [published] = await h.publish(callEvent('fast'));
    const records = await waitFor(async () => {
      const logged = await h.logged('fast', subscription.id);
      return logged.length > 0 && logged;
    }, 10_000, { intervalMs: 50, message: 'the attempt is logged' });
    assert.deepEqual(records.map((x) => [x.event_id, x.attempt, x.outcome]), [[published.id, 1, 'delivered']]);
    assert.deepEqual(r.bodies().map((b) => b.id), [published.id]);
  });

  it('the publisher has its answer while the receiver is still answering', async () => {
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    const r = await open(createReceiver(async () => { await held; return 200; }));
    await h.subscribe('held', `${r.url}/hook`);
    const [published] = await h.publish(callEvent('held'));
    assert.equal(published.deliveries, 1);
    await waitFor(() => r.requests.length === 1, 10_000, { message: 'the attempt reached the receiver' });
    assert.equal(r.requests[0].status, null, 'the receiver has not answered yet');
    release();
    await waitFor(() => r.requests[0].status === 200, 10_000, { message: 'the receiver answered' });
  });

  it('an endpoint with a failure streak gets its next first attempt from the queue, not at once', async () => {
    const healthy = await open(ok());
    const broken = await open(failing(500));
    const a = (await h.subscribe('streak', `${healthy.url}/hook`)).subscription;
    const b = (await h.subscribe('streak', `${broken.url}/hook`)).subscription;
    const [first] = await h.publish(callEvent('streak'));
    await waitFor(async () => (await h.logged('streak', b.id)).length === 1, 10_000, { intervalMs: 50, message: 'the failure is logged' });
    assert.equal((await h.subscription('streak', b.id)).failure_count, 1);

    const [second] = await h.publish(callEvent('streak'));
    // Both attempts of an event are made before either is logged: once the healthy one's is, the other's request is in.
    await waitFor(async () => (await h.logged('streak', a.id)).length === 2, 10_000, { intervalMs: 50, message: 'the second event at the healthy endpoint' });
    assert.deepEqual(healthy.bodies().map((x) => x.id), [first.id, second.id]);
    assert.deepEqual(broken.bodies().map((x) => x.id), [first.id], 'the failing endpoint waits for the queue');
  });
});

describe('the queue message behind the attempts made at once', () => {
  let w;
  let h;
  const receivers = [];
  before(async () => {
    // A 1 s timeout: the message waits 2 s (budget) + 1 s + 5 s behind the attempts.
    w = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER, RETRY_SCHEDULE: '1,1,1', DELIVERY_TIMEOUT_MS: '1000' }, { queues: true });
    h = pipelineClient(w, PUBLISHER);
  });
  after(async () => {
    for (const r of receivers) await r.close();
    await w?.close();
  });

  it('is one for the event, and carries out what the publishing invocation could not: each retry, queued once the queue is back', async () => {
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    // Each first attempt is held until the queue is down, then fails; the second succeeds.
    for (let k = 0; k < 2; k++) receivers.push(await createReceiver(async (_, i) => (i === 0 ? (await held, 500) : 200)));
    const ids = [];
    for (const r of receivers) ids.push((await h.subscribe('fallback', `${r.url}/hook`)).subscription.id);
    const [published] = await h.publish(callEvent('fallback'));
    await waitFor(() => receivers.every((r) => r.requests.length === 1), 10_000, { message: 'the attempts made at once' });
    await w.kv.put(QUEUE_DOWN, '1');
    release();
    // The failures are applied and logged, but their retries cannot be queued.
    for (const id of ids) {
      await waitFor(async () => (await h.logged('fallback', id)).length === 1, 10_000, { intervalMs: 50, message: 'the failure is logged' });
    }
    await w.kv.delete(QUEUE_DOWN);
    await waitFor(() => receivers.every((r) => r.requests.length === 2), 30_000, { message: 'the retries, queued by the message behind the attempts' });
    for (const [k, id] of ids.entries()) {
      const records = await waitFor(async () => {
        const logged = await h.logged('fallback', id);
        return logged.length === 2 && logged;
      }, 10_000, { intervalMs: 50, message: 'the retry is logged' });
      assert.deepEqual(records.map((x) => [x.attempt, x.outcome]).sort(), [[1, 'failed'], [2, 'delivered']]);
      assert.deepEqual(receivers[k].bodies().map((b) => b.id), [published.id, published.id], 'each attempt made once');
    }
  });
});

// Kept event bodies, end to end in workerd: the user's object holds each published body and writes a second's
// bodies together under one KV key; redelivery finds a body wherever it is: still held by the object, in a group
// the object wrote, or under the key of its own that earlier versions wrote.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, callEvent, pipelineClient, signedToken, startWorker, stopJwksServer, uniqueId } from './support.mjs';
import { ok, waitFor } from './receivers.mjs';

const PUBLISHER = 'ringhook-kept-token';
const as = (uid) => signedToken({ sub: uid });

describe('kept event bodies', () => {
  let w;
  let h;
  let r;
  before(async () => {
    w = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER }, { queues: true });
    h = pipelineClient(w, PUBLISHER);
    r = await ok();
  });
  after(async () => {
    await r?.close();
    await w?.close();
    await stopJwksServer();
  });

  const redeliver = (uid, id, eventId) =>
    h.call('POST', `${BASE}/subscriptions/${id}/deliveries/${eventId}/redeliver`, { token: as(uid) });
  const arrivals = (eventId) => r.requests.filter((q) => q.headers['webhook-id'] === eventId);

  it('events published together are kept under one key, and each is redelivered with its exact body', async () => {
    const { subscription } = await h.subscribe('grouped', `${r.url}/grouped`);
    const events = [1, 2, 3].map((n) => callEvent('grouped', { id: uniqueId('kept'), data: { n, text: 'é ✓' } }));
    await h.publish(events);
    const groups = await waitFor(async () => {
      const { keys } = await w.kv.list({ prefix: 'events:grouped:' });
      return keys.length > 0 && keys;
    }, 10_000, { intervalMs: 50, message: 'the bodies are written' });
    assert.equal(groups.length, 1, 'one key for the three');
    const kept = await w.kv.get(groups[0].name, 'json');
    assert.deepEqual(Object.keys(kept).sort(), events.map((e) => e.id).sort());

    await waitFor(() => arrivals(events[1].id).length === 1, 10_000, { message: 'the first delivery' });
    const res = await redeliver('grouped', subscription.id, events[1].id);
    assert.equal(res.status, 202, res.text);
    await waitFor(() => arrivals(events[1].id).length === 2, 10_000, { message: 'the redelivery' });
    const [first, again] = arrivals(events[1].id);
    assert.equal(again.body, first.body, 'the same bytes');
    assert.equal(again.body, kept[events[1].id]);
  });

  it('an event kept under its own key by an earlier version is redelivered from there', async () => {
    const { subscription } = await h.subscribe('legacy', `${r.url}/legacy`);
    const id = uniqueId('old');
    const body = JSON.stringify({ id, event: 'call.completed', callId: 'call_old', status: 'completed', timestamp: 1, data: {} });
    await w.kv.put(`event:legacy:${id}`, body);
    const res = await redeliver('legacy', subscription.id, id);
    assert.equal(res.status, 202, res.text);
    await waitFor(() => arrivals(id).length === 1, 10_000, { message: 'the redelivery' });
    assert.equal(arrivals(id)[0].body, body);
  });
});

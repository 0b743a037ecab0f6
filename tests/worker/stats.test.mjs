// Delivery health end to end in workerd: the per-hour counts the user's object keeps as it applies attempts
// agree with the delivery log, entry for entry, for a receiver that answers, one that keeps failing until its
// retries run out, and an inactive subscription; times come with them; windows and bad input are checked. An object
// laid out before its log buffer held counts keeps counting each attempt once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BASE, assertError, objectSql, pipelineClient, signedToken, startWorker, stopJwksServer } from './support.mjs';
import { createReceiver, waitFor } from './receivers.mjs';

const PUBLISHER = 'stats-publisher-token';
const UID = 'stats-user';
const EVENTS = 4;
const as = (uid) => signedToken({ sub: uid });

/** What the delivery log says, counted as the stats count: a failure with a next attempt is `retried`. */
function fromLog(entries) {
  const counts = { delivered: 0, failed: 0, retried: 0, dead_lettered: 0, skipped: 0 };
  for (const e of entries) {
    if (e.outcome === 'failed') counts[e.next_retry_at ? 'retried' : 'failed'] += 1;
    else counts[e.outcome] += 1;
  }
  return counts;
}
const countsOf = ({ delivered, failed, retried, dead_lettered, skipped }) => ({ delivered, failed, retried, dead_lettered, skipped });

describe('delivery health per subscription', () => {
  let worker;
  let W;
  let good;
  let bad;
  const subs = {};
  before(async () => {
    // Three tries in all for a failing receiver: at once, then twice about 1 s apart, then the dead-letter queue.
    worker = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER, RETRY_SCHEDULE: '1,1' }, { queues: true });
    W = pipelineClient(worker, PUBLISHER);
    good = await createReceiver(() => 200);
    bad = await createReceiver(() => 500);
    subs.good = (await W.subscribe(UID, `${good.url}/ok`)).subscription.id;
    subs.bad = (await W.subscribe(UID, `${bad.url}/fail`)).subscription.id;
    subs.off = (await W.subscribe(UID, `${good.url}/off`)).subscription.id;
    const off = await W.call('PATCH', `${BASE}/subscriptions/${subs.off}`, { token: as(UID), body: { active: false } });
    assert.equal(off.status, 200, off.text);
    for (let i = 0; i < EVENTS; i++) {
      await W.publish({ event: 'call.completed', callId: `call_${i}`, status: 'completed', uid: UID });
    }
    // Done when every event has its last entry in each log: delivered, dead-lettered, skipped.
    await waitFor(async () => {
      const [g, b, o] = await Promise.all([subs.good, subs.bad, subs.off].map((id) => W.logged(UID, id)));
      return fromLog(g).delivered === EVENTS && fromLog(b).dead_lettered === EVENTS && fromLog(o).skipped === EVENTS;
    }, 60_000, { message: 'every delivery settled' });
  });
  after(async () => {
    await good?.close();
    await bad?.close();
    await worker?.close();
    await stopJwksServer();
  });

  const stats = (id, query = '', uid = UID) => W.call('GET', `${BASE}/subscriptions/${id}/stats${query}`, { token: as(uid) });

  for (const name of ['good', 'bad', 'off']) {
    it(`the ${name} subscription's counts for the last 24 h equal its delivery log's`, async () => {
      const res = await stats(subs[name]);
      assert.equal(res.status, 200, res.text);
      const expected = fromLog(await W.logged(UID, subs[name]));
      assert.deepEqual({ totals: countsOf(res.json.totals), thisHour: countsOf(res.json.hours.at(-1)) }, { totals: expected, thisHour: expected });
    });
  }

  it('a failing receiver\'s counts: every try but the last retried, the last dead-lettered, a success rate of 0', async () => {
    const { json } = await stats(subs.bad);
    assert.deepEqual([json.totals.retried, json.totals.dead_lettered, json.totals.delivered, json.totals.success_rate], [2 * EVENTS, EVENTS, 0, 0]);
  });

  it('attempts made have times; skipped events have none', async () => {
    const [goodStats, offStats] = await Promise.all([stats(subs.good), stats(subs.off)]);
    const { p50_ms: p50, p95_ms: p95 } = goodStats.json.totals;
    assert.deepEqual([Number.isInteger(p50) && p50 >= 0, p95 >= p50, offStats.json.totals.p50_ms, offStats.json.totals.success_rate], [true, true, null, null]);
  });

  it('the window has every hour: 24 by default, 168 for 7d, the hour under way last', async () => {
    const [day, week] = await Promise.all([stats(subs.good), stats(subs.good, '?window=7d')]);
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000).toISOString().replace('.000Z', 'Z');
    assert.deepEqual([day.json.window, day.json.hours.length, week.json.window, week.json.hours.length, day.json.hours.at(-1).hour],
      ['24h', 24, '7d', 168, hour]);
  });

  it('the failure streak is the subscription\'s failure_count', async () => {
    const [res, sub] = await Promise.all([stats(subs.bad), W.subscription(UID, subs.bad)]);
    assert.deepEqual([res.json.failure_streak, res.json.failure_streak > 0], [sub.failure_count, true]);
  });

  it('a test send counts as an attempt, as the log has it', async () => {
    const res = await W.call('POST', `${BASE}/test`, { token: as(UID), body: { webhook_url: `${good.url}/ok`, event_type: 'call.failed' } });
    assert.equal(res.status, 200, res.text);
    const [after, log] = await Promise.all([stats(subs.good), W.logged(UID, subs.good)]);
    assert.deepEqual([countsOf(after.json.totals), after.json.totals.delivered], [fromLog(log), EVENTS + 1]);
  });

  it('events published in one request are each counted and logged, the same subscription in one step', async () => {
    const uid = 'stats-batch-user';
    const id = (await W.subscribe(uid, `${good.url}/batch`)).subscription.id;
    await W.publish(Array.from({ length: 5 }, (_, i) => ({ event: 'call.completed', callId: `call_batch_${i}`, status: 'completed', uid })));
    await waitFor(async () => fromLog(await W.logged(uid, id)).delivered === 5, 30_000, { message: 'five deliveries logged' });
    const res = await stats(id, '', uid);
    assert.deepEqual(countsOf(res.json.totals), { delivered: 5, failed: 0, retried: 0, dead_lettered: 0, skipped: 0 });
  });

  it('a window other than 24h or 7d is 400; another user\'s subscription is 404', async () => {
    assertError(assert, await stats(subs.good, '?window=1y'), 400, 'invalid_request');
    assertError(assert, await stats(subs.good, '', 'someone-else'), 404, 'not_found');
  });
});

describe('an object laid out before its log buffer held counts', () => {
  const uid = 'stats-earlier';
  const vars = { CALL_EVENTS_TOKEN: PUBLISHER, SECRETS_KEY: randomBytes(32).toString('base64') };
  let objectsDir;
  let receiver;
  before(async () => {
    objectsDir = mkdtempSync(path.join(tmpdir(), 'ringhook-stats-'));
    receiver = await createReceiver(() => 200);
  });
  after(async () => {
    await receiver?.close();
    rmSync(objectsDir, { recursive: true, force: true });
    await stopJwksServer();
  });

  /** Runs `body(W)` against a Worker on the shared object storage (KV starts empty each time), then stops it. */
  async function withWorker(body) {
    const w = await startWorker(vars, { queues: true, objectsDir });
    try {
      return await body(pipelineClient(w, PUBLISHER));
    } finally {
      await w.close();
    }
  }
  const publishUntilLogged = (W, id, callId, logged) => async () => {
    await W.publish({ event: 'call.completed', callId, status: 'completed', uid });
    await waitFor(async () => (await W.logged(uid, id)).length === logged, 30_000, { message: `${logged} log entries written` });
  };

  it('has the columns added, and counts a record held from before once, as it was counted then', async () => {
    const { id, entry } = await withWorker(async (W) => {
      const { subscription } = await W.subscribe(uid, `${receiver.url}/earlier`);
      await publishUntilLogged(W, subscription.id, 'call_before', 1)();
      return { id: subscription.id, entry: (await W.logged(uid, subscription.id))[0] };
    });
    // The earlier layout, holding one delivery's record that was counted as it came in.
    const held = JSON.stringify({ ...entry, event_id: 'evt_held_from_before' });
    await objectSql(objectsDir, uid, [
      "DELETE FROM meta WHERE name = 'schema'",
      'ALTER TABLE log_buffer DROP COLUMN bucket',
      'ALTER TABLE log_buffer DROP COLUMN kind',
      'ALTER TABLE log_buffer DROP COLUMN hour',
      `INSERT INTO log_buffer (uid, subscription_id, record) VALUES ('${uid}', '${id}', '${held.replaceAll("'", "''")}')`,
      `UPDATE stats_hours SET delivered = delivered + 1 WHERE subscription_id = '${id}'`,
    ]);
    const totals = await withWorker(async (W) => {
      // Both written: the record held from before, and the new delivery's.
      await publishUntilLogged(W, id, 'call_after', 2)();
      const res = await W.call('GET', `${BASE}/subscriptions/${id}/stats`, { token: as(uid) });
      assert.equal(res.status, 200, res.text);
      return countsOf(res.json.totals);
    });
    assert.deepEqual(totals, { delivered: 3, failed: 0, retried: 0, dead_lettered: 0, skipped: 0 });
  });
});

// The live event stream, end to end in workerd over real WebSockets: tickets, the refusals before a socket opens,
// every event of the user in order as its exact webhook body, resuming from a cursor (or a gap), event filters,
// client frames, closing a socket when its sign-in expires, the limit of sockets per user (its default and
// the STREAM_SOCKETS_PER_USER setting), and what is kept (the last 1,000 events) and its cursors across a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import {
  RFC3339_UTC, STATUS_OF, assertError, callEvent, client, jsonOrUndefined, nowSeconds, objectSql, pipelineClient, sealSecret,
  signedToken, startWorker, stopJwksServer, uniqueId,
} from './support.mjs';
import { ok, waitFor } from './receivers.mjs';

const PUBLISHER = 'ringhook-stream-test-token';
const STREAM = '/api/v6/call/stream';
const OCCURRED_AT = 1_764_355_200;
const as = (uid) => signedToken({ sub: uid });

/** A publish item for `uid` with its own id and a fixed time, so the body it becomes is known in full. */
const item = (uid, event = 'call.completed', over = {}) =>
  callEvent(uid, { event, status: STATUS_OF[event], id: uniqueId(event.replaceAll('.', '_')), occurred_at: OCCURRED_AT, ...over });

/** The webhook body of a published item. */
const body = (i) => ({ id: i.id, event: i.event, callId: i.callId, status: i.status, timestamp: i.occurred_at, data: i.data ?? {} });
const eventFrame = (cursor, i) => ({ type: 'event', cursor, event: body(i) });

/** A stream ticket for `uid` (asserts 201). */
async function ticket(w, uid) {
  const res = await client(w)('POST', `${STREAM}/ticket`, { token: as(uid) });
  if (res.status !== 201) throw new Error(`ticket for ${uid}: ${res.status} ${res.text}`);
  return res.json.ticket;
}

/** A ticket sealed as the Worker seals them, with the given fields (`u` user, `n` nonce, `e` expiry, `t` sign-in expiry). */
function sealedTicket(w, fields) {
  const { nonce, ciphertext } = sealSecret(w.bindings.SECRETS_KEY, 'ringhook stream ticket', JSON.stringify(fields));
  const url = (b64) => Buffer.from(b64, 'base64').toString('base64url');
  return `tkt_${url(nonce)}.${url(ciphertext)}`;
}

/** Sockets opened and not yet closed by their test; the last after() ends them. */
const openSockets = new Set();

/**
 * A socket that records what the server sends: `texts` (as sent) and `frames` (parsed JSON; other text as is).
 * `waitForFrames(predicate)` waits until `predicate(frames)` is truthy and resolves to it; `waitForFrame(test)` to
 * the first frame that passes `test`; `close()` closes and waits for the close.
 */
function recorder(ws) {
  const s = { ws, texts: [], frames: [] };
  ws.on('message', (data) => {
    const text = data.toString();
    s.texts.push(text);
    try {
      s.frames.push(JSON.parse(text));
    } catch {
      s.frames.push(text);
    }
  });
  s.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  s.events = () => s.frames.filter((f) => f?.type === 'event');
  s.waitForFrames = (predicate, what = 'frames') => waitFor(() => predicate(s.frames), 10_000, {
    message: () => `${what}; frames so far: ${JSON.stringify(s.frames)}`,
  });
  s.waitForFrame = (test, what) => s.waitForFrames((frames) => frames.find(test), what);
  s.close = async () => {
    openSockets.delete(s);
    if (ws.readyState !== WebSocket.CLOSED) ws.close(1000);
    await s.closed;
  };
  return s;
}

/**
 * Starts a WebSocket handshake with the stream; `query` gives ticket, events and cursor (undefined ones are left
 * out) and `origin` the Origin header. Resolves to { stream } once open, or { refusal: { status, text, json } }.
 */
async function handshake(w, query, { origin } = {}) {
  const params = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined));
  const base = (await w.mf.ready).href.replace(/^http/, 'ws');
  const ws = new WebSocket(`${base}${STREAM.slice(1)}?${params}`, origin ? { origin } : {});
  const stream = recorder(ws); // listening before the upgrade completes: no frame is missed
  ws.on('error', () => {}); // a refusal is read from its answer; ending the handshake then reports an error
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ stream }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        ws.terminate();
        resolve({ refusal: { status: res.statusCode, text, json: jsonOrUndefined(text) } });
      });
    });
  });
}

/** Opens a stream socket (throws with the server's answer when refused). */
async function openStream(w, query, options) {
  const { stream, refusal } = await handshake(w, query, options);
  if (refusal) throw new Error(`the stream was refused: ${refusal.status} ${refusal.text}`);
  openSockets.add(stream);
  return stream;
}

/** The answer to a handshake that must be refused; a socket that opens instead reads as status 101. */
async function refusal(w, query, options) {
  const { stream, refusal: answer } = await handshake(w, query, options);
  if (answer) return answer;
  await stream.close();
  return { status: 101, text: '(the socket opened)', json: undefined };
}

/** A socket of `uid` (a fresh ticket, `query` adding events or cursor), once its `live` frame has arrived. */
async function listen(w, uid, query = {}) {
  const s = await openStream(w, { ticket: await ticket(w, uid), ...query });
  await s.waitForFrame((f) => f?.type === 'live', `${uid}: the live frame`);
  return s;
}

/** Publishes one item and resolves to its published answer. */
const publishOne = async (h, i) => (await h.publish(i))[0];

/** Publishes a marker event for `uid` and waits until every socket in `streams` has it: what came before is in. */
async function mark(h, uid, streams, event = 'call.completed') {
  const marker = item(uid, event, { callId: 'call_marker' });
  await h.publish(marker);
  for (const s of streams) await s.waitForFrame((f) => f?.event?.id === marker.id, `${uid}: the marker`);
  return marker;
}

const eventIds = (s) => s.events().map((f) => f.event.id);

describe('the live event stream', () => {
  let w;
  let h;
  before(async () => {
    w = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER }, { queues: true });
    h = pipelineClient(w, PUBLISHER);
  });
  after(async () => {
    for (const s of openSockets) s.ws.terminate();
    openSockets.clear();
    await w?.close();
  });

  describe('tickets', () => {
    it('201 with a tkt_ ticket that expires about 60 s from now', async () => {
      const res = await client(w)('POST', `${STREAM}/ticket`, { token: as('holder') });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(Object.keys(res.json).sort(), ['expires_at', 'success', 'ticket'], res.text);
      assert.equal(res.json.success, true);
      assert.match(res.json.ticket, /^tkt_[A-Za-z0-9_.-]+$/);
      assert.match(res.json.expires_at, RFC3339_UTC);
      const ahead = Date.parse(res.json.expires_at) / 1000 - nowSeconds();
      assert.ok(ahead > 55 && ahead <= 61, `expires ${ahead} s from now`);
    });

    it('401 unauthorized without a token', async () => {
      const res = await client(w)('POST', `${STREAM}/ticket`, { token: null });
      assertError(assert, res, 401, 'unauthorized');
    });
  });

  describe('refusals', () => {
    it('400 upgrade_required for a request that is not a WebSocket handshake', async () => {
      const res = await client(w)('GET', `${STREAM}?ticket=${await ticket(w, 'plain')}`, { token: null });
      assertError(assert, res, 400, 'upgrade_required');
    });

    it('401 invalid_ticket without a ticket, or with one this service never sealed', async () => {
      for (const [label, t] of [['missing', undefined], ['empty', ''], ['garbage', 'garbage'], ['tkt_ garbage', 'tkt_abc.def']]) {
        assertError(assert, await refusal(w, { ticket: t }), 401, 'invalid_ticket', label);
      }
    });

    it('401 invalid_ticket for an expired ticket', async () => {
      const now = nowSeconds();
      const expired = sealedTicket(w, { u: 'late', n: 'late-nonce', e: now - 1, t: now + 3600 });
      const res = await refusal(w, { ticket: expired });
      assertError(assert, res, 401, 'invalid_ticket');
      assert.match(res.json.error.message, /expired/, 'refused for its expiry, not as unreadable');
    });

    it('401 invalid_ticket for a ticket used before; the first socket keeps receiving', async () => {
      const t = await ticket(w, 'reuser');
      const first = await openStream(w, { ticket: t });
      await first.waitForFrame((f) => f?.type === 'live', 'the first socket is live');
      assertError(assert, await refusal(w, { ticket: t }), 401, 'invalid_ticket', 'second use');
      const sent = item('reuser');
      await h.publish(sent);
      const got = await first.waitForFrame((f) => f?.type === 'event', 'the event on the first socket');
      assert.deepEqual(got.event, body(sent));
      await first.close();
    });

    it('400 invalid_events for an unknown event name', async () => {
      const res = await refusal(w, { ticket: await ticket(w, 'picky'), events: 'call.completed,call.nope' });
      assertError(assert, res, 400, 'invalid_events');
    });

    it('400 invalid_request for a cursor that is not a count', async () => {
      for (const cursor of ['-1', 'abc', '1.5']) {
        const res = await refusal(w, { ticket: await ticket(w, 'counter'), cursor });
        assertError(assert, res, 400, 'invalid_request', `cursor=${cursor}`);
      }
    });

    it('with ALLOWED_ORIGINS="*", any origin connects', async () => {
      const s = await openStream(w, { ticket: await ticket(w, 'anywhere') }, { origin: 'https://elsewhere.example' });
      const live = await s.waitForFrame((f) => f?.type === 'live', 'the live frame');
      assert.deepEqual(live, { type: 'live', cursor: 0 });
      await s.close();
    });
  });

  describe('events', () => {
    it('every event of the user arrives after live, in order, with consecutive cursors, as the exact webhook body', async () => {
      const receiver = await ok();
      let s;
      let stranger;
      try {
        await h.subscribe('reader', `${receiver.url}/hook`);
        s = await listen(w, 'reader');
        stranger = await listen(w, 'stranger');
        const sent = [
          item('reader', 'call.scheduled', { callId: 'call_a', data: { to: '+15550100', attempt: 1 } }),
          item('reader', 'call.status.changed', { callId: 'call_a' }),
          item('reader', 'call.completed', { callId: 'call_a', data: { duration: 42.5 } }),
        ];
        const foreign = item('stranger');
        await h.publish(sent[0]);
        await h.publish(foreign);
        await h.publish(sent[1]);
        await h.publish(sent[2]);
        const marker = await mark(h, 'reader', [s]);
        await stranger.waitForFrame((f) => f?.event?.id === foreign.id, 'the stranger gets its own event');
        await waitFor(() => receiver.requests.length === 4, 10_000, { message: 'the webhook deliveries' });

        const expected = [...sent, marker].map((i, n) => eventFrame(n + 1, i));
        assert.deepEqual(s.frames, [{ type: 'live', cursor: 0 }, ...expected]);
        const delivered = new Map(receiver.requests.map((r) => [JSON.parse(r.body).id, r.body]));
        assert.deepEqual(
          s.texts.slice(1),
          expected.map((f) => `{"type":"event","cursor":${f.cursor},"event":${delivered.get(f.event.id)}}`),
          'each frame carries the delivered body byte for byte',
        );
      } finally {
        await Promise.all([s?.close(), stranger?.close()]);
        await receiver.close();
      }
    });

    it('an id published twice is streamed once', async () => {
      const s = await listen(w, 'twice');
      const first = item('twice');
      assert.equal((await publishOne(h, first)).duplicate, false);
      const again = await publishOne(h, { ...first, callId: 'call_again' });
      assert.equal(again.duplicate, true);
      const marker = await mark(h, 'twice', [s]);
      assert.deepEqual(s.events(), [eventFrame(1, first), eventFrame(2, marker)]);
      await s.close();
    });

    it('an id published 20 times at once to a user with no subscriptions is streamed once', async () => {
      const s = await listen(w, 'twenty');
      const first = item('twenty');
      const answers = await Promise.all(Array.from({ length: 20 }, () => publishOne(h, first)));
      assert.deepEqual(answers.filter((a) => !a.duplicate), [{ id: first.id, deliveries: 0, duplicate: false }]);
      const marker = await mark(h, 'twenty', [s]);
      assert.deepEqual(s.events(), [eventFrame(1, first), eventFrame(2, marker)]);
      await s.close();
    });

    it('two sockets of one user each receive every event once', async () => {
      const [a, b] = [await listen(w, 'pair'), await listen(w, 'pair')];
      const sent = [item('pair', 'call.scheduled'), item('pair', 'call.failed')];
      await h.publish(sent);
      const marker = await mark(h, 'pair', [a, b]);
      const expected = [...sent, marker].map((i) => i.id);
      assert.deepEqual([eventIds(a), eventIds(b)], [expected, expected]);
      await Promise.all([a.close(), b.close()]);
    });

    it('events=call.failed receives only call.failed events', async () => {
      const s = await listen(w, 'failures', { events: 'call.failed' });
      const failed = item('failures', 'call.failed');
      await h.publish([item('failures', 'call.completed'), failed, item('failures', 'call.status.changed')]);
      const marker = await mark(h, 'failures', [s], 'call.failed');
      assert.deepEqual(s.events(), [eventFrame(2, failed), eventFrame(4, marker)]);
      await s.close();
    });
  });

  describe('resuming', () => {
    it('reconnecting with the last cursor seen replays exactly what came after, then live', async () => {
      const s = await listen(w, 'resumer');
      const early = [item('resumer'), item('resumer')];
      for (const i of early) await h.publish(i);
      await s.waitForFrames((frames) => frames.filter((f) => f?.type === 'event').length === 2, 'the first two events');
      const last = s.events().at(-1).cursor;
      await s.close();

      const late = [item('resumer', 'call.failed'), item('resumer')];
      for (const i of late) await h.publish(i);
      const back = await openStream(w, { ticket: await ticket(w, 'resumer'), cursor: String(last) });
      await back.waitForFrame((f) => f?.type === 'live', 'the live frame after the replay');
      assert.deepEqual(back.frames, [eventFrame(last + 1, late[0]), eventFrame(last + 2, late[1]), { type: 'live', cursor: last + 2 }]);
      await back.close();
    });

    it('a resume frame replays what came after its cursor, then live', async () => {
      const s = await listen(w, 'rewinder');
      const sent = [item('rewinder', 'call.scheduled'), item('rewinder', 'call.status.changed'), item('rewinder')];
      await h.publish(sent);
      await s.waitForFrames((frames) => frames.length === 4, 'live and three events');
      s.ws.send(JSON.stringify({ type: 'resume', cursor: 1 }));
      await s.waitForFrames((frames) => frames.filter((f) => f?.type === 'live').length === 2, 'the second live frame');
      assert.deepEqual(s.frames.slice(4), [eventFrame(2, sent[1]), eventFrame(3, sent[2]), { type: 'live', cursor: 3 }]);
      await s.close();
    });

    it('a cursor beyond the last one given → gap, then live', async () => {
      await h.publish(item('gapper'));
      const s = await openStream(w, { ticket: await ticket(w, 'gapper'), cursor: '999999' });
      await s.waitForFrame((f) => f?.type === 'live', 'the live frame');
      assert.deepEqual(s.frames, [{ type: 'gap', cursor: 1 }, { type: 'live', cursor: 1 }]);
      await s.close();
    });
  });

  describe('client frames', () => {
    it('ping is answered with pong', async () => {
      const s = await listen(w, 'pinger');
      s.ws.send('ping');
      await s.waitForFrame((f) => f === 'pong', 'pong');
      assert.deepEqual(s.frames, [{ type: 'live', cursor: 0 }, 'pong']);
      await s.close();
    });

    it('any other frame gets an invalid_frame error; that socket and the others keep receiving', async () => {
      const [s, other] = [await listen(w, 'chatty'), await listen(w, 'chatty')];
      for (const bad of ['hello', '{"type":"subscribe"}', '{"type":"resume","cursor":-1}', Buffer.from('{"type":"resume","cursor":0}')]) {
        const before = s.frames.length;
        s.ws.send(bad);
        const [answer] = await s.waitForFrames((frames) => frames.length > before && frames.slice(before), `the answer to ${bad}`);
        assert.equal(answer?.type, 'error', `${bad}: ${JSON.stringify(answer)}`);
        assert.equal(answer.code, 'invalid_frame', `${bad}: ${JSON.stringify(answer)}`);
        assert.ok(typeof answer.message === 'string' && answer.message.length > 0, JSON.stringify(answer));
      }
      const next = item('chatty');
      await h.publish(next);
      for (const socket of [s, other]) {
        const got = await socket.waitForFrame((f) => f?.type === 'event', 'the next event');
        assert.deepEqual(got, eventFrame(1, next));
      }
      assert.deepEqual(other.frames.filter((f) => f?.type === 'error'), [], 'the other socket got no error');
      await Promise.all([s.close(), other.close()]);
    });
  });

  describe('sign-in expiry', () => {
    it('when the token behind a socket expires, the object sends expired and closes it with 4001', async () => {
      const uid = 'brief';
      const res = await client(w)('POST', `${STREAM}/ticket`, { token: signedToken({ sub: uid, exp: nowSeconds() + 2 }) });
      assert.equal(res.status, 201, res.text);
      const s = await openStream(w, { ticket: res.json.ticket });
      await s.waitForFrame((f) => f?.type === 'expired', 'the expired frame');
      const { code } = await s.closed;
      assert.equal(code, 4001);
      openSockets.delete(s);
    });
  });

  describe('the limit of sockets per user', () => {
    it('the 101st socket of a user → 429 too_many_streams', async () => {
      const tickets = await Promise.all(Array.from({ length: 101 }, () => ticket(w, 'crowd')));
      const sockets = [];
      try {
        for (let i = 0; i < 100; i += 20) {
          sockets.push(...(await Promise.all(tickets.slice(i, i + 20).map((t) => openStream(w, { ticket: t })))));
        }
        assertError(assert, await refusal(w, { ticket: tickets[100] }), 429, 'too_many_streams');
      } finally {
        await Promise.all(sockets.map((s) => s.close()));
      }
    });
  });
});

describe('the live event stream keeps the last 1,000 events', () => {
  let w;
  let h;
  let objectsDir;
  const start = async () => {
    w = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER }, { objectsDir });
    h = pipelineClient(w, PUBLISHER);
  };
  /** Publishes `count` events to `uid`, 100 to a request, and resolves to their items in order. */
  const publishMany = async (uid, count) => {
    const items = Array.from({ length: count }, () => item(uid));
    for (let i = 0; i < count; i += 100) await h.publish(items.slice(i, i + 100));
    return items;
  };
  /** The frames a socket of `uid` resuming from `cursor` gets, up to and with its live frame. */
  const resumed = async (uid, cursor) => {
    const s = await openStream(w, { ticket: await ticket(w, uid), cursor: String(cursor) });
    await s.waitForFrame((f) => f?.type === 'live', `${uid} from ${cursor}: the live frame`);
    await s.close();
    return s.frames;
  };
  let kept;
  before(async () => {
    objectsDir = mkdtempSync(path.join(tmpdir(), 'ringhook-stream-'));
    await start();
    // 1,030 events, then 20: the rows before the last 1,000 are deleted once every 64 cursors, at the 1,024th
    // here, so the object stores 20 rows that are no longer kept.
    kept = [...(await publishMany('keeper', 1_030)), ...(await publishMany('keeper', 20))].slice(50);
    await publishMany('elder', 3);
  });
  after(async () => {
    for (const s of openSockets) s.ws.terminate();
    openSockets.clear();
    await w?.close();
    rmSync(objectsDir, { recursive: true, force: true });
  });

  it('resuming from the 50th of 1,050 events replays the 1,000 after it, then live', async () => {
    assert.deepEqual(await resumed('keeper', 50), [
      ...kept.map((i, k) => eventFrame(51 + k, i)),
      { type: 'live', cursor: 1_050 },
    ]);
  });

  it('resuming from the 49th → gap, then live, though its next event is still stored', async () => {
    assert.deepEqual(await resumed('keeper', 49), [{ type: 'gap', cursor: 1_050 }, { type: 'live', cursor: 1_050 }]);
  });

  describe('after a restart', () => {
    let stored;
    before(async () => {
      await w.close();
      [[stored]] = await objectSql(objectsDir, 'keeper', ['SELECT COUNT(*) AS n, MIN(cursor) AS first, MAX(cursor) AS last FROM stream']);
      // As an object of an earlier version may be: its events all expired, its last cursor only in `meta`.
      await objectSql(objectsDir, 'elder', [
        'DELETE FROM stream',
        "INSERT INTO meta (name, value) VALUES ('stream_last', '5000') ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      ]);
      await start();
    });

    it('the object stored fewer than 64 rows besides the kept ones', () => {
      assert.deepEqual(stored, { n: 1_020, first: 31, last: 1_050 });
    });

    /** Publishes one more event to `uid` while a socket of theirs listens: resolves to its item and the frames. */
    const next = async (uid) => {
      const s = await listen(w, uid);
      const published = item(uid);
      await h.publish(published);
      await s.waitForFrame((f) => f?.type === 'event', `${uid}: the next event`);
      await s.close();
      return { published, events: s.events() };
    };

    it("the next event's cursor follows the stored rows'", async () => {
      const { published, events } = await next('keeper');
      assert.deepEqual(events, [eventFrame(1_051, published)]);
    });

    it("with no row stored, the next event's cursor follows the last one kept in meta", async () => {
      const { published, events } = await next('elder');
      assert.deepEqual(events, [eventFrame(5_001, published)]);
    });
  });
});

describe('the live event stream with STREAM_SOCKETS_PER_USER=2', () => {
  let w;
  before(async () => {
    w = await startWorker({ STREAM_SOCKETS_PER_USER: '2' });
  });
  after(async () => {
    for (const s of openSockets) s.ws.terminate();
    openSockets.clear();
    await w?.close();
  });

  it('the third socket → 429 naming the limit; another user still connects; after a close the user connects again', async () => {
    const [a, b] = [await listen(w, 'pair'), await listen(w, 'pair')];
    const refused = await refusal(w, { ticket: await ticket(w, 'pair') });
    assertError(assert, refused, 429, 'too_many_streams');
    assert.match(refused.json.error.message, /at most 2/);
    const other = await listen(w, 'solo');
    await a.close();
    const again = await waitFor(async () => {
      const { stream, refusal: answer } = await handshake(w, { ticket: await ticket(w, 'pair') });
      return answer ? undefined : stream;
    }, 10_000, { message: 'a socket after one of the two closed' });
    openSockets.add(again);
    await again.waitForFrame((f) => f?.type === 'live', 'the new socket is live');
    await Promise.all([b.close(), other.close(), again.close()]);
  });
});

describe('the live event stream with ALLOWED_ORIGINS set', () => {
  let w;
  before(async () => {
    w = await startWorker({ ALLOWED_ORIGINS: 'https://app.example' });
  });
  after(async () => {
    await w?.close();
    await stopJwksServer();
  });

  it('another origin → 403 forbidden_origin; the allowed origin, or none, connects', async () => {
    const res = await refusal(w, { ticket: await ticket(w, 'browser') }, { origin: 'https://evil.example' });
    assertError(assert, res, 403, 'forbidden_origin');
    for (const origin of ['https://app.example', undefined]) {
      const s = await openStream(w, { ticket: await ticket(w, 'browser') }, { origin });
      const live = await s.waitForFrame((f) => f?.type === 'live', `${origin ?? 'no origin'}: the live frame`);
      assert.deepEqual(live, { type: 'live', cursor: 0 });
      await s.close();
    }
  });
});

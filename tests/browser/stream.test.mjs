// The package's live stream in Chromium: a page imports /pkg/index.js, opens a CallEventStream to the Worker in
// workerd (its real Durable Objects and queues), and receives what is published for its user through a
// CallEventDispatcher, as the callStatusChanged events the setup guide's components listen to.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { entryPage, launchChromium, serveFiles } from '../support/local.mjs';
import { pkgDir } from '../node/support.mjs';
import { callEvent, pipelineClient, signedToken, startWorker, stopJwksServer } from '../worker/support.mjs';
import { createReceiver, waitFor } from '../worker/receivers.mjs';

const PUBLISHER = 'ringhook-stream-browser-test';

describe('CallEventStream in Chromium, against the Worker in workerd', () => {
  let w, h, server, browser, apiBase;
  const problems = [];

  before(async () => {
    w = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER }, { queues: true });
    h = pipelineClient(w, PUBLISHER);
    apiBase = (await w.mf.ready).origin;
    server = await serveFiles({ root: pkgDir, prefix: '/pkg/', page: entryPage() });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
    await w?.close();
    await stopJwksServer();
  });

  /** A tab signed in as `uid` (a fresh token each time the stream asks), its dispatcher and stream made. */
  async function tab(uid, { events, secretKey, firstTokenSecs } = {}) {
    const page = await browser.newPage();
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    let tokens = 0;
    await page.exposeFunction('idToken', () => {
      tokens += 1;
      const short = tokens === 1 && firstTokenSecs !== undefined;
      return signedToken(short ? { sub: uid, exp: Math.floor(Date.now() / 1000) + firstTokenSecs } : { sub: uid });
    });
    page.tokensIssued = () => tokens;
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.ringhookReady === true, null, { timeout: 15_000 });
    await page.evaluate(({ apiBase, events, secretKey }) => {
      const { CallEventDispatcher, CallEventStream } = window.ringhook;
      window.seen = [];
      window.gaps = 0;
      window.states = [];
      window.addEventListener('callStatusChanged', (e) => window.seen.push(`${e.detail.callId}:${e.detail.status}`));
      window.dispatcher = new CallEventDispatcher({ target: window, secretKey });
      window.stream = new CallEventStream({
        baseUrl: apiBase, token: () => window.idToken(), dispatcher: window.dispatcher, events, cursorStore: sessionStorage,
      });
      window.stream.addEventListener('gap', () => { window.gaps += 1; });
      window.stream.addEventListener('state', () => window.states.push(window.stream.state));
    }, { apiBase, events, secretKey });
    return page;
  }

  const seen = (page) => page.evaluate(() => window.seen);
  const connect = (page) => page.evaluate(() => window.stream.connect());
  const waitSeen = (page, n, what) => waitFor(async () => (await seen(page)).length >= n, 15_000, { message: what });

  it('three events published for the tab\'s user arrive in order as callStatusChanged; another user\'s never', async () => {
    const page = await tab('ana');
    await connect(page);
    assert.equal(await page.evaluate(() => window.stream.state), 'live');
    await h.publish(callEvent('bo', { callId: 'bo-call', status: 'ringing', event: 'call.status.changed' }));
    for (const [i, status] of ['initiated', 'ringing', 'completed'].entries()) {
      const event = status === 'completed' ? 'call.completed' : 'call.status.changed';
      await h.publish(callEvent('ana', { callId: 'ana-call', status, event, occurred_at: 1_800_000_000 + i }));
    }
    await waitSeen(page, 3, 'three events');
    // Another user's event, published first, would have arrived before these.
    assert.deepEqual(await seen(page), ['ana-call:initiated', 'ana-call:ringing', 'ana-call:completed']);
    await page.close();
  });

  it('close(), two events published, connect(): exactly those two arrive, none twice', async () => {
    const page = await tab('cy');
    await connect(page);
    await h.publish(callEvent('cy', { callId: 'c1' }));
    await waitSeen(page, 1, 'the first event');
    await page.evaluate(() => window.stream.close());
    assert.equal(await page.evaluate(() => window.stream.state), 'closed');
    await h.publish(callEvent('cy', { callId: 'c2' }));
    await h.publish(callEvent('cy', { callId: 'c3' }));
    await connect(page);
    await waitSeen(page, 3, 'the two events published while closed');
    await h.publish(callEvent('cy', { callId: 'c4' }));
    await waitSeen(page, 4, 'the next live event');
    assert.deepEqual(await seen(page), ['c1:completed', 'c2:completed', 'c3:completed', 'c4:completed']);
    await page.close();
  });

  it('a reload resumes from the cursor kept in sessionStorage', async () => {
    const page = await tab('di');
    await connect(page);
    await h.publish(callEvent('di', { callId: 'd1' }));
    await waitSeen(page, 1, 'the first event');
    await page.evaluate(() => window.stream.close());
    await h.publish(callEvent('di', { callId: 'd2' }));
    await page.reload();
    await page.waitForFunction(() => window.ringhookReady === true);
    await page.evaluate((apiBase) => {
      const { CallEventDispatcher, CallEventStream } = window.ringhook;
      window.seen = [];
      window.addEventListener('callStatusChanged', (e) => window.seen.push(`${e.detail.callId}:${e.detail.status}`));
      window.stream = new CallEventStream({
        baseUrl: apiBase, token: () => window.idToken(), dispatcher: new CallEventDispatcher({ target: window }),
        cursorStore: sessionStorage,
      });
    }, apiBase);
    await connect(page);
    await waitSeen(page, 1, 'the event published before the reload');
    assert.deepEqual(await seen(page), ['d2:completed']);
    await page.close();
  });

  it('a cursor older than what is kept fires gap', async () => {
    const page = await tab('ed');
    await connect(page);
    await page.evaluate(() => window.stream.close());
    // 1,001 events: the first is no longer kept, so the tab's cursor (before it) is behind what is kept.
    for (let batch = 0; batch < 11; batch++) {
      const n = batch < 10 ? 100 : 1;
      await h.publish(Array.from({ length: n }, (_, i) => callEvent('ed', { callId: `e${batch}-${i}` })));
    }
    await connect(page);
    assert.equal(await page.evaluate(() => window.gaps), 1);
    assert.deepEqual(await seen(page), [], 'nothing is replayed after a gap');
    await page.close();
  });

  it('an event delivered by webhook and by stream is dispatched once', async () => {
    const receiver = await createReceiver(() => 200);
    try {
      const { secret_key: secretKey } = await h.subscribe('fay', `${receiver.url}/hook`, ['call.completed']);
      const page = await tab('fay', { secretKey });
      await connect(page);
      await h.publish(callEvent('fay', { callId: 'both-ways' }));
      await waitFor(() => receiver.requests.length === 1, 15_000, { message: 'the webhook delivery' });
      await waitSeen(page, 1, 'the streamed event');
      const [delivery] = receiver.requests;
      const applied = await page.evaluate(({ body, headers }) => window.dispatcher.receive(body, headers),
        { body: delivery.body, headers: delivery.headers });
      assert.equal(applied, false, 'the webhook delivery of an event already streamed is dropped');
      assert.deepEqual(await seen(page), ['both-ways:completed']);
      await page.close();
    } finally {
      await receiver.close();
    }
  });

  it('when the sign-in behind the socket expires, the stream reconnects with a fresh token and misses nothing', async () => {
    const page = await tab('ed', { firstTokenSecs: 2 });
    await connect(page);
    await waitFor(() => page.tokensIssued() === 2, 15_000, { message: 'a second token, asked for after the expiry' });
    await waitFor(async () => (await page.evaluate(() => window.states.join())) === 'connecting,live,reconnecting,live', 15_000, {
      message: async () => `states: ${await page.evaluate(() => window.states.join())}`,
    });
    await h.publish(callEvent('ed', { callId: 'e1' }));
    await waitSeen(page, 1, 'the event after the reconnection');
    assert.deepEqual(await seen(page), ['e1:completed']);
    await page.close();
  });

  it('loads and runs without page errors', () => {
    assert.deepEqual(problems, []);
  });
});

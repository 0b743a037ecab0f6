// What an attacker tries, end to end in workerd: receivers that redirect (the signed POST must never reach the
// redirect's target, through delivery or /test), and webhook URLs that point into private networks by address
// range or by name (refused with invalid_url and a message naming the rule, nothing stored), and request bodies
// without Content-Length (read only up to the 64 KiB limit).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { BASE, assertError, client, pipelineClient, signedToken, startWorker, stopJwksServer, uniqueId } from './support.mjs';
import { createReceiver, ok, waitFor } from './receivers.mjs';

const PUBLISHER = 'ringhook-hardening-test-token';
const as = (uid) => signedToken({ sub: uid });
const REDIRECTS = [301, 302, 303, 307, 308];

after(stopJwksServer);

describe('redirects are never followed', () => {
  let w;
  let h;
  let target; // where every redirect points: must never be reached
  let redirecting; // answers each path's status, with Location pointing at the target
  before(async () => {
    w = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER, RETRY_SCHEDULE: '3600' }, { queues: { maxBatchSize: 100, maxBatchTimeout: 0.05 } });
    h = pipelineClient(w, PUBLISHER);
    target = await ok();
    redirecting = await createReceiver((record) => {
      const status = Number(record.url.split('/')[1]);
      return { status, headers: { location: `${target.url}/stolen${record.url}` } };
    });
  });
  after(async () => {
    await Promise.all([target?.close(), redirecting?.close()]);
    await w?.close();
  });

  for (const status of REDIRECTS) {
    it(`a delivery answered ${status} is a failed attempt recording the status and Location; the target gets nothing`, async () => {
      const uid = `redirected-${status}`;
      const { subscription } = await h.subscribe(uid, `${redirecting.url}/${status}/hook`);
      const id = uniqueId('evt_redirect');
      await h.publish({ id, event: 'call.completed', callId: 'call_1', status: 'completed', uid });
      const [entry] = await waitFor(async () => {
        const res = await h.call('GET', `${BASE}/subscriptions/${subscription.id}/deliveries`, { token: as(uid) });
        const found = res.json?.deliveries?.filter((d) => d.event_id === id);
        return found?.length ? found : undefined;
      }, 15_000, { message: `the log entry of ${id}` });
      assert.deepEqual(
        { outcome: entry.outcome, status_code: entry.status_code, error: entry.error },
        {
          outcome: 'failed',
          status_code: status,
          error: `HTTP ${status}: redirect to ${target.url}/stolen/${status}/hook not followed (subscribe the final URL)`,
        },
      );
      assert.equal(redirecting.requests.filter((r) => r.url === `/${status}/hook`).length, 1, 'one attempt, to the subscribed URL');
      assert.deepEqual(target.requests, [], 'the redirect target was never reached');
    });
  }

  it('/test against a redirecting receiver: success false, the 3xx and the Location in the answer; the target gets nothing', async () => {
    for (const status of REDIRECTS) {
      const uid = `tested-${status}`;
      const webhook_url = `${redirecting.url}/${status}/test`;
      await h.subscribe(uid, webhook_url);
      const res = await h.call('POST', `${BASE}/test`, { token: as(uid), body: { webhook_url, event_type: 'call.completed' } });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(
        { success: res.json.success, status_code: res.json.status_code, error: res.json.error },
        {
          success: false,
          status_code: status,
          error: `HTTP ${status}: redirect to ${target.url}/stolen/${status}/test not followed (subscribe the final URL)`,
        },
      );
    }
    assert.deepEqual(target.requests, [], 'the redirect target was never reached');
  });
});

describe('webhook URLs into private networks are refused by range and by name', () => {
  let prod; // production: https to public hosts only
  let dev; // local development: loopback allowed, nothing else private
  before(async () => {
    prod = await startWorker({ ALLOW_LOOPBACK_WEBHOOKS: undefined });
    dev = await startWorker({});
  });
  after(async () => {
    await prod?.close();
    await dev?.close();
  });

  // Each URL with the words its refusal must contain: the rule it breaks.
  const REFUSED = [
    ['https://10.0.0.1/', 'private'],
    ['https://169.254.169.254/latest/meta-data', 'link-local'],
    ['https://100.64.0.1/', 'CGNAT'],
    ['https://198.18.0.1/', 'benchmarking (198.18.0.0/15)'],
    ['https://192.0.0.8/', 'IETF protocol assignment (192.0.0.0/24)'],
    ['https://[::ffff:0:7f00:1]/', 'IPv4-translated (::ffff:0:0:0/96)'],
    ['https://[2002:7f00:1::]/', '6to4 (2002::/16'],
    ['https://[2002:5db8:d822::1]/', '6to4 (2002::/16'],
    ['https://[64:ff9b:1::a00:1]/', 'local-use NAT64 (64:ff9b:1::/48)'],
    ['https://[fec0::1]/', 'site-local (fec0::/10)'],
    ['https://[100::1]/', 'discard-only (100::/64)'],
    ['https://[::ffff:10.1.2.3]/', 'private'],
    ['https://[64:ff9b::a9fe:a9fe]/', 'link-local'],
    ['https://intranet/', 'single-label'],
    ['https:///hook', 'single-label'],
    ['https://ip6-localhost/', 'single-label'],
    ['https://metadata.google.internal/computeMetadata/v1/', '.internal'],
    ['https://printer.local/', '.local'],
    ['https://box.localdomain/', '.localdomain'],
    ['https://api.default.svc/', '.svc'],
    ['https://router.home.arpa/', '.home.arpa'],
  ];

  it('production: each → 400 invalid_url naming its rule, on subscribe and PATCH; nothing stored', async () => {
    const call = client(prod);
    const made = await call('POST', `${BASE}/subscribe`, { token: as('owner'), body: { webhook_url: 'https://hooks.example.com/ok', events: ['*'] } });
    assert.equal(made.status, 201, made.text);
    const id = made.json.subscription.id;
    for (const [webhook_url, rule] of REFUSED) {
      const answers = [
        ['subscribe', await call('POST', `${BASE}/subscribe`, { token: as('owner'), body: { webhook_url, events: ['*'] } })],
        ['PATCH', await call('PATCH', `${BASE}/subscriptions/${id}`, { token: as('owner'), body: { webhook_url } })],
      ];
      for (const [what, res] of answers) {
        assertError(assert, res, 400, 'invalid_url', `${what} ${webhook_url}`);
        assert.ok(res.json.error.message.includes(rule), `${what} ${webhook_url}: ${res.json.error.message}`);
      }
    }
    const listed = await call('GET', `${BASE}/subscriptions`, { token: as('owner') });
    assert.deepEqual(listed.json.subscriptions, [made.json.subscription], 'only the first subscription, unchanged');
  });

  it('production: loopback in any spelling the URL Standard reads is refused; an international host is kept in Punycode', async () => {
    const call = client(prod);
    for (const webhook_url of ['https://0x7f.1/', 'https://2130706433/', 'https://127.1/', 'https://[::ffff:7f00:1]/', 'https://LOCALHOST./']) {
      const res = await call('POST', `${BASE}/subscribe`, { token: as('spelling'), body: { webhook_url, events: ['*'] } });
      assertError(assert, res, 400, 'invalid_url', webhook_url);
      assert.ok(res.json.error.message.includes('loopback'), `${webhook_url}: ${res.json.error.message}`);
    }
    const made = await call('POST', `${BASE}/subscribe`, { token: as('spelling'), body: { webhook_url: 'https://BÜCHER.example/Hook?a=b c', events: ['*'] } });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.subscription.webhook_url, 'https://xn--bcher-kva.example/Hook?a=b%20c');
  });

  it('local development allows loopback only: each private name and range is still refused', async () => {
    const call = client(dev);
    for (const [webhook_url, rule] of [...REFUSED, ['http://intranet/', 'http is allowed only to localhost']]) {
      const res = await call('POST', `${BASE}/subscribe`, { token: as('developer'), body: { webhook_url, events: ['*'] } });
      assertError(assert, res, 400, 'invalid_url', webhook_url);
      assert.ok(res.json.error.message.includes(rule), `${webhook_url}: ${res.json.error.message}`);
    }
    const loopback = await call('POST', `${BASE}/subscribe`, { token: as('developer'), body: { webhook_url: 'http://localhost:3000/hook', events: ['*'] } });
    assert.equal(loopback.status, 201, loopback.text);
  });
});

describe('bodies without Content-Length are read only up to the limit', () => {
  let w;
  before(async () => {
    w = await startWorker({});
  });
  after(() => w?.close());

  /**
   * POSTs a chunked body (no Content-Length) to the subscribe route over a real connection: `chunks` of 64 KiB.
   * Resolves to the answer's status and JSON once it arrives.
   */
  async function chunked(chunks) {
    const url = new URL(`${BASE}/subscribe`, (await w.mf.ready).href);
    return new Promise((resolve, reject) => {
      const req = http.request(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${as('chunky')}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      }, (res) => {
        const parts = [];
        res.on('data', (c) => parts.push(c));
        res.on('end', () => {
          req.destroy();
          const text = Buffer.concat(parts).toString('utf8');
          resolve({ status: res.statusCode, text, json: JSON.parse(text) });
        });
      });
      req.on('error', (e) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? undefined : reject(e)));
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      (async () => {
        for (let i = 0; i < chunks && !req.destroyed; i++) {
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        if (!req.destroyed) req.end();
      })().catch(() => {});
    });
  }

  it('an 8 MiB chunked body → 413 payload_too_large; nothing stored', async () => {
    const res = await chunked(128);
    assertError(assert, res, 413, 'payload_too_large');
    const listed = await client(w)('GET', `${BASE}/subscriptions`, { token: as('chunky') });
    assert.deepEqual(listed.json.subscriptions, []);
  });
});

describe('limits per user are exact under parallel calls', () => {
  const LIMIT = 5;
  let w;
  let h;
  let receiver;
  before(async () => {
    w = await startWorker({
      CALL_EVENTS_TOKEN: PUBLISHER,
      TEST_RATE_LIMIT_PER_MINUTE: String(LIMIT),
      REDELIVER_RATE_LIMIT_PER_MINUTE: String(LIMIT),
    }, { queues: { maxBatchSize: 100, maxBatchTimeout: 0.05 } });
    h = pipelineClient(w, PUBLISHER);
    receiver = await ok();
  });
  after(async () => {
    await receiver?.close();
    await w?.close();
  });

  const minute = () => Math.floor(Date.now() / 60_000);

  /**
   * The limits count per clock minute: `prepare(attempt)` sets up a fresh user, then `burst(prepared)` runs; again
   * with another user until a burst starts and ends within one minute (at most three; a burst of well under a
   * second straddles two minutes only when it starts in a minute's last moment). Resolves to that burst's answers.
   */
  async function withinOneMinute(prepare, burst) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const prepared = await prepare(attempt);
      const start = minute();
      const answers = await burst(prepared);
      if (minute() === start) return answers;
    }
    throw new Error('three bursts in a row straddled a minute boundary');
  }

  /** Asserts `answers` hold exactly LIMIT of `status` and the rest 429 rate_limited with Retry-After. */
  function assertExactly(answers, status, what) {
    const counts = answers.reduce((m, r) => m.set(r.status, (m.get(r.status) ?? 0) + 1), new Map());
    assert.deepEqual(Object.fromEntries(counts), { [status]: LIMIT, 429: answers.length - LIMIT }, what);
    for (const refused of answers.filter((r) => r.status === 429)) {
      assertError(assert, refused, 429, 'rate_limited', what);
      assert.match(refused.headers.get('retry-after') ?? '', /^[1-9]\d*$/, `${what}: Retry-After`);
    }
  }

  it('25 parallel /test calls: exactly the limit are sent, the rest 429 with Retry-After', async () => {
    let path;
    const answers = await withinOneMinute(async (attempt) => {
      const uid = `tester-${attempt}`;
      path = `/test-burst-${attempt}`;
      const webhook_url = `${receiver.url}${path}`;
      await h.subscribe(uid, webhook_url);
      return { uid, webhook_url };
    }, ({ uid, webhook_url }) => Promise.all(Array.from({ length: 25 }, () =>
      h.call('POST', `${BASE}/test`, { token: as(uid), body: { webhook_url, event_type: 'call.completed' } }))));
    assertExactly(answers, 200, '/test');
    assert.equal(receiver.requests.filter((r) => r.url === path).length, LIMIT, 'test deliveries that reached the receiver');
  });

  it('25 parallel redeliver calls: exactly the limit are queued, the rest 429 with Retry-After', async () => {
    let hits;
    const answers = await withinOneMinute(async (attempt) => {
      const uid = `redeliverer-${attempt}`;
      const path = `/redeliver-burst-${attempt}`;
      const { subscription } = await h.subscribe(uid, `${receiver.url}${path}`);
      const id = uniqueId('evt_burst');
      await h.publish({ id, event: 'call.completed', callId: 'call_1', status: 'completed', uid });
      hits = () => receiver.requests.filter((r) => r.url === path).length;
      await waitFor(async () => {
        const res = await h.call('GET', `${BASE}/subscriptions/${subscription.id}/deliveries`, { token: as(uid) });
        return res.json?.deliveries?.some((d) => d.event_id === id && d.outcome === 'delivered');
      }, 15_000, { message: 'the first delivery, logged' });
      return { uid, redeliver: `${BASE}/subscriptions/${subscription.id}/deliveries/${id}/redeliver` };
    }, ({ uid, redeliver }) => Promise.all(Array.from({ length: 25 }, () => h.call('POST', redeliver, { token: as(uid) }))));
    assertExactly(answers, 202, 'redeliver');
    await waitFor(() => hits() === 1 + LIMIT, 15_000, { message: () => `1 + ${LIMIT} deliveries, got ${hits()}` });
  });
});

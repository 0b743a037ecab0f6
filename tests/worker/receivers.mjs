// Webhook receivers for the delivery tests: real HTTP servers on 127.0.0.1 (node:http, port 0) that record every
// request they get ({ method, url, headers, body, time, status }) and answer as their kind says.
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Epoch milliseconds with sub-millisecond resolution, comparable with Date.now(). */
export const preciseNow = () => performance.timeOrigin + performance.now();

/** Resolves after `ms` milliseconds. */
export const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `predicate` (sync or async) every `intervalMs` until it returns something truthy, which it resolves to;
 * rejects after `timeoutMs` with `message` (a string or a function giving one, called at the time of failure).
 */
export async function waitFor(predicate, timeoutMs = 10_000, { intervalMs = 25, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() >= deadline) {
      const what = typeof message === 'function' ? await message() : message;
      throw new Error(`waitFor timed out after ${timeoutMs} ms: ${what}`);
    }
    await pause(intervalMs);
  }
}

// The setup guide's verifier, as written there (with `require('crypto')` as an import). Node's timingSafeEqual throws
// when the lengths differ; the setup guide's Express handler would answer 500 then, which counts as a failure here too.
export function verifyWebhookSignature(payload, signature, secretKey) {
  const expectedSignature = createHmac('sha256', secretKey)
    .update(payload)
    .digest('hex');

  return timingSafeEqual(
    Buffer.from(signature.replace('sha256=', ''), 'hex'),
    Buffer.from(expectedSignature, 'hex'),
  );
}

/** Both verdicts on one delivery: the setup guide's verifier (on re-serialised JSON, as its Express code does) and standardwebhooks'. */
export function verdicts(body, headers, secret) {
  const out = { guide: false, standard: false, guideError: null, standardError: null };
  try {
    out.guide = verifyWebhookSignature(JSON.stringify(JSON.parse(body)), headers['x-webhook-signature'] ?? '', secret) === true;
    if (!out.guide) out.guideError = 'signature mismatch';
  } catch (err) {
    out.guideError = err.message;
  }
  try {
    new Webhook(secret).verify(body, headers);
    out.standard = true;
  } catch (err) {
    out.standardError = err.message;
  }
  return out;
}

/**
 * A receiver whose answers come from `respond(record, index)` → a status number, or
 * { status, body?, headers?, delayMs?, write? } (`delayMs`: wait that long before answering; `write(res)`: writes the body
 * itself after the head, instead of `body`). `index` counts requests from 0. Each request's record says when its
 * connection's answer was closed (`closed`), by either side.
 */
export async function createReceiver(respond, { port = 0, server: reuse } = {}) {
  const requests = [];
  const server = reuse ?? http.createServer();
  server.keepAliveTimeout = 60_000;
  const receiver = {
    requests,
    server,
    port: 0,
    url: '',
    /** The request bodies parsed as JSON. */
    bodies: () => requests.map((r) => JSON.parse(r.body)),
    /** Stops listening and drops open connections. */
    close: async () => {
      server.closeAllConnections?.();
      if (!server.listening) return;
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  server.on('request', (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const record = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        time: preciseNow(),
        status: null,
        closed: false,
      };
      res.on('close', () => {
        record.closed = true;
      });
      const index = requests.length;
      requests.push(record);
      let answer = await respond(record, index);
      if (typeof answer === 'number') answer = { status: answer };
      const { status, body = status >= 200 && status < 300 ? 'ok' : `error ${status}`, headers = {}, delayMs = 0, write } = answer;
      if (delayMs) await sleep(delayMs);
      record.status = status;
      if (res.destroyed) return; // the caller gave up (a timeout)
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      if (write) await write(res);
      else res.end(body);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  receiver.port = server.address().port;
  receiver.url = `http://127.0.0.1:${receiver.port}`;
  return receiver;
}

/** Answers 200 to everything. */
export const ok = () => createReceiver(() => 200);

/** Answers 500 to the first `n` requests, then 200. */
export const flaky = (n) => createReceiver((_, i) => (i < n ? 500 : 200));

/** Waits `ms` (past the Worker's delivery timeout), then answers 200. */
export const slow = (ms) => createReceiver(() => ({ status: 200, delayMs: ms }));

/** Answers 410 Gone. */
export const gone = () => createReceiver(() => 410);

/**
 * Answers `status` (default 500, with a 3000-character body) until `.recover()`, then 200. `.fail(status)` makes it
 * fail again.
 */
export async function failing(status = 500) {
  let current = status;
  const r = await createReceiver(() => (current >= 200 && current < 300 ? 200 : { status: current, body: 'x'.repeat(3000) }));
  r.recover = () => { current = 200; };
  r.fail = (s = 500) => { current = s; };
  return r;
}

/**
 * A port that was reserved, then closed: connections to it are refused. `.up()` starts an ok() receiver on that same
 * port; its requests land in the same `requests` array.
 */
export async function down() {
  const probe = http.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  const requests = [];
  let live;
  const r = {
    requests,
    port,
    url: `http://127.0.0.1:${port}`,
    upAt: null,
    bodies: () => requests.map((x) => JSON.parse(x.body)),
    up: async () => {
      live = await createReceiver((record) => {
        requests.push(record);
        return 200;
      }, { port });
      r.upAt = preciseNow();
    },
    close: async () => live?.close(),
  };
  return r;
}

/**
 * Verifies each request with the setup guide's `verifyWebhookSignature` (on `JSON.stringify(JSON.parse(body))`) and with
 * standardwebhooks' `new Webhook(secret).verify(body, headers)`; answers 200 only if both pass, else 401. Each
 * record gets `verdicts`. The secret can be set later: `r.secret = secret_key` (subscribing needs the URL first).
 */
export async function verifying(secret) {
  const r = await createReceiver((record) => {
    record.verdicts = verdicts(record.body, record.headers, r.secret ?? '');
    return record.verdicts.guide && record.verdicts.standard ? 200 : { status: 401, body: JSON.stringify(record.verdicts) };
  });
  r.secret = secret;
  return r;
}

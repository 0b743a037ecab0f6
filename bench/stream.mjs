// The live stream on local workerd (Miniflare, the per-user Durable Object, local queues), measured by
// `node bench/stream.mjs` after the Worker and the package are built:
// 1. publish → browser beside publish → webhook receiver, in one run: one Chromium tab with the package's
//    CallEventStream and one webhook subscription of the same user to a keep-alive receiver on 127.0.0.1; events
//    are published one at a time, the next once both routes have the last one. Latency is the arrival time (the
//    page's `performance.timeOrigin + performance.now()`, the receiver's own clock reading; one machine, one
//    clock) minus the start of the publish request.
// 2. one event to 1,000 sockets of one user (Node `ws` clients): the time until the last socket has it, per event.
// 3. memory per idle socket: workerd's resident memory with the 1,000 sockets open, less before they opened.
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { readFile, readFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { launchChromium } from '../tests/support/local.mjs';
import { pkgDir } from '../tests/node/support.mjs';
import { BASE, signedToken, startWorker, stopJwksServer } from '../tests/worker/support.mjs';
import { createReceiver, preciseNow, waitFor } from '../tests/worker/receivers.mjs';

const TOKEN = 'bench-stream-publisher';
const LATENCY_EVENTS = 100;
const SOCKETS = 1000;
const FAN_OUT_EVENTS = 20;
const STREAM = '/api/v6/call/stream';

const worker = await startWorker({ CALL_EVENTS_TOKEN: TOKEN, STREAM_SOCKETS_PER_USER: String(SOCKETS + 10) }, {
  queues: { maxBatchSize: 100, maxBatchTimeout: 0.05 },
  faults: false,
});
const base = (await worker.mf.ready).origin;
const pct = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const ms = (x) => `${x.toFixed(1)} ms`;

async function request(method, url, { token, body }) {
  const res = await worker.fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${url} → ${res.status} ${text}`);
  return JSON.parse(text);
}

const publish = (uid, id) => request('POST', '/api/v6/call/events', {
  token: TOKEN,
  body: { event: 'call.status.changed', callId: `call_${id}`, status: 'ringing', uid, id, data: { bench: true } },
});

/** The resident memory of workerd (every workerd process Miniflare started), in KiB. */
function workerdRssKiB() {
  const pids = execFileSync('pgrep', ['-f', 'workerd'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  let total = 0;
  for (const pid of pids) {
    try {
      const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
      total += Number(line?.match(/(\d+)/)?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

// 1. publish → browser, beside publish → webhook.
async function browserAndWebhook() {
  const uid = 'bench-stream-tab';
  const receiver = await createReceiver(() => 200);
  const page = `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">import * as ringhook from '/pkg/index.js'; window.ringhook = ringhook; window.ready = true;</script>`;
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://localhost');
    if (pathname === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    const file = path.join(pkgDir, pathname.replace(/^\/pkg\//, ''));
    const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
    readFile(file, (err, data) => (err ? res.writeHead(404).end() : res.writeHead(200, { 'content-type': type }).end(data)));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await launchChromium();
  try {
    await request('POST', `${BASE}/subscribe`, { token: signedToken({ sub: uid }), body: { webhook_url: `${receiver.url}/hook`, events: ['*'] } });
    const tab = await browser.newPage();
    await tab.exposeFunction('idToken', () => signedToken({ sub: uid }));
    await tab.goto(`http://127.0.0.1:${server.address().port}/`);
    await tab.waitForFunction(() => window.ready === true);
    await tab.evaluate(async (apiBase) => {
      const { CallEventDispatcher, CallEventStream } = window.ringhook;
      window.arrivals = {};
      const dispatcher = new CallEventDispatcher({ target: window });
      dispatcher.on('*', (event) => { window.arrivals[event.id] = performance.timeOrigin + performance.now(); });
      window.stream = new CallEventStream({ baseUrl: apiBase, token: () => window.idToken(), dispatcher });
      await window.stream.connect();
    }, base);

    const stream = [];
    const webhook = [];
    for (let i = -5; i < LATENCY_EVENTS; i++) { // five to warm up, not counted
      const id = `evt_bench_tab_${i + 5}`;
      const before = receiver.requests.length;
      const start = preciseNow();
      await publish(uid, id);
      const arrivedAt = await waitFor(() => tab.evaluate((id) => window.arrivals[id], id), 30_000, { intervalMs: 5 });
      await waitFor(() => receiver.requests.length > before, 30_000, { intervalMs: 2 });
      if (i < 0) continue;
      stream.push(arrivedAt - start);
      webhook.push(receiver.requests[before].time - start);
    }
    return { stream, webhook };
  } finally {
    await browser.close();
    await new Promise((resolve) => server.close(resolve));
    await receiver.close();
  }
}

// 2 and 3. 1,000 sockets of one user.
async function fanOut() {
  const uid = 'bench-stream-crowd';
  const token = signedToken({ sub: uid });
  const rssBefore = workerdRssKiB();
  const sockets = [];
  for (let i = 0; i < SOCKETS; i += 50) {
    sockets.push(...await Promise.all(Array.from({ length: Math.min(50, SOCKETS - i) }, async () => {
      const { ticket } = await request('POST', `${STREAM}/ticket`, { token });
      const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${STREAM}?ticket=${ticket}`);
      const s = { ws, arrivals: new Map(), live: false };
      ws.on('message', (data) => {
        const at = preciseNow();
        const frame = JSON.parse(data.toString());
        if (frame.type === 'live') s.live = true;
        if (frame.type === 'event') s.arrivals.set(frame.event.id, at);
      });
      await waitFor(() => s.live, 30_000, { intervalMs: 5 });
      return s;
    })));
  }
  // Let the object settle (it may hibernate idle sockets), then read memory.
  await waitFor(() => sockets.every((s) => s.ws.readyState === WebSocket.OPEN), 30_000);
  const rssOpen = workerdRssKiB();

  const toLast = [];
  const perSocket = [];
  for (let i = -2; i < FAN_OUT_EVENTS; i++) {
    const id = `evt_bench_crowd_${i + 2}`;
    const start = preciseNow();
    await publish(uid, id);
    await waitFor(() => sockets.every((s) => s.arrivals.has(id)), 60_000, { intervalMs: 2 });
    if (i < 0) continue;
    const times = sockets.map((s) => s.arrivals.get(id) - start);
    perSocket.push(...times);
    toLast.push(Math.max(...times));
  }
  for (const s of sockets) s.ws.terminate();
  return { toLast, perSocket, perSocketKiB: (rssOpen - rssBefore) / SOCKETS, rssBefore, rssOpen };
}

try {
  const { stream, webhook } = await browserAndWebhook();
  const crowd = await fanOut();
  console.log(`Live stream, local workerd (Miniflare), queues maxBatchSize 100, maxBatchTimeout 0.05 s; ${LATENCY_EVENTS} events ` +
    `published one at a time to one user with one Chromium tab (CallEventStream) and one webhook subscription (a keep-alive ` +
    `receiver on 127.0.0.1), the next once both routes had the last\n`);
  console.log('| route | publish→arrival p50 | p99 |');
  console.log('|---|---:|---:|');
  console.log(`| stream (Chromium tab) | ${ms(pct(stream, 50))} | ${ms(pct(stream, 99))} |`);
  console.log(`| webhook (receiver) | ${ms(pct(webhook, 50))} | ${ms(pct(webhook, 99))} |`);
  console.log(`\n${SOCKETS} sockets of one user (Node \`ws\` clients), ${FAN_OUT_EVENTS} events published one at a time:\n`);
  console.log('| measure | value |');
  console.log('|---|---:|');
  console.log(`| publish → last socket has it, p50 | ${ms(pct(crowd.toLast, 50))} |`);
  console.log(`| publish → last socket has it, p99 (max of ${FAN_OUT_EVENTS}) | ${ms(pct(crowd.toLast, 99))} |`);
  console.log(`| publish → a socket has it, p50 over every socket and event | ${ms(pct(crowd.perSocket, 50))} |`);
  console.log(`| workerd memory per open idle socket | ${crowd.perSocketKiB.toFixed(1)} KiB (${(crowd.rssBefore / 1024).toFixed(0)} → ${(crowd.rssOpen / 1024).toFixed(0)} MiB resident) |`);
} finally {
  await worker.close();
  await stopJwksServer();
}

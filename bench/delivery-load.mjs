// Delivery latency and throughput of the pipeline on local workerd (Miniflare, per-user Durable Objects, in-memory
// KV behind a meter that refuses a second write of a key within a second, local queues):
// `node bench/delivery-load.mjs [--max-batch-timeout SECONDS] [--only MODE]` after the Worker is built. One user with 1, 10 and
// 100 subscriptions, all to one fast keep-alive receiver on 127.0.0.1 (a path per subscription). Two modes:
// latency — one event at a time into an idle pipeline: the next is published 250 ms after every delivery of the
// last arrived, when the consumer has also written the last one's log (on local KV, writes queue behind each other);
// back to back — the same, the next published as soon as the deliveries of the last arrived;
// throughput — N events published 25 per request, 8 requests in flight (deliveries queue behind each other);
// single publishes — N events published one per request, 8 requests in flight (the method svix-server was measured
// with; 30 events to 100 subscriptions take about a second, and the work that follows the last arrival, applying
// the last attempts and writing the log, falls outside the measurement, so a row of 300 events shows the rate
// sustained, with that work inside it). The svix-server figures printed beside the rows are the reference the
// targets are set against: the open-source Svix server (Rust, PostgreSQL, in-memory queue) measured on this kind
// of machine with this method.
// Every row runs without Miniflare's local stand-ins for the edge: the outbound hop (a JavaScript Worker on the same
// workerd thread through which each fetch would pass, to strip `CF-Connecting-IP` and add `CF-Worker`) and the inbound
// one (its entry Worker and the static assets' router, JavaScript Workers on the same thread that each request passes
// through before the Worker's own handler); in production the edge does both outside the Worker. So the publishes
// reach the Worker on a socket of its own and its deliveries go straight to the receiver, as svix-server's requests
// and deliveries did. Two rows, marked "through the local hops", run the single publishes to 100 subscriptions with
// both, as every row once did, to show what they cost. The floors below are reached the same way, on their own socket.
// Latency is the receiver's arrival time minus the start of the publish request that carried the event.
// Each row runs three times (RINGHOOK_DELIVERY_ROUNDS), the rows taking turns, and shows its median run and the range,
// as svix-server's figures are three runs, with the local workerd's CPU time per delivery beside each rate.
import { readdirSync, readFileSync } from 'node:fs';
import { Miniflare } from 'miniflare';
import { BASE, DIRECT_SOCKETS, signedToken, startWorker, stopJwksServer } from '../tests/worker/support.mjs';
import { createReceiver, preciseNow } from '../tests/worker/receivers.mjs';
import { FLOOR_OBJECT } from './floor-object.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const MAX_BATCH_TIMEOUT = Number(arg('--max-batch-timeout', '0.05'));
// --only MODE runs that mode's rows alone (and skips the floor), e.g. --only 'single publishes'.
const ONLY = arg('--only', '');
// Runs per row (see above): runs of one build on this machine differ by up to a fifth.
const ROUNDS = Number(process.env.RINGHOOK_DELIVERY_ROUNDS ?? 3);
const MAX_BATCH_SIZE = 100;
const PUBLISHERS = 8;
const PUBLISH_BATCH = 25;
const SETTLE_MS = 250;
/** The modes that publish one event at a time and wait for its deliveries: measured by their latency. */
const ONE_AT_A_TIME = new Set(['latency', 'back to back']);
const SCENARIOS = [
  { mode: 'latency', subscriptions: 1, events: 30 },
  { mode: 'latency', subscriptions: 10, events: 20 },
  { mode: 'latency', subscriptions: 100, events: 10 },
  { mode: 'back to back', subscriptions: 100, events: 10 },
  { mode: 'throughput', subscriptions: 1, events: 1000 },
  { mode: 'throughput', subscriptions: 10, events: 100 },
  { mode: 'throughput', subscriptions: 100, events: 10 },
  { mode: 'single publishes', subscriptions: 1, events: 1000 },
  { mode: 'single publishes', subscriptions: 100, events: 30 },
  { mode: 'single publishes', subscriptions: 100, events: 300, sustained: true },
  { mode: 'single publishes', subscriptions: 100, events: 30, hop: true },
  { mode: 'single publishes', subscriptions: 100, events: 300, sustained: true, hop: true },
];
// svix-server, three runs each (publish→receive p50, or deliveries/s), and the target for ringhook.
const REFERENCE = {
  'latency 1': { svix: '6.8–13.0 ms', target: '≤ 15 ms' },
  'latency 10': { svix: '10.6–11.6 ms', target: '≤ 15 ms' },
  'latency 100': { svix: '25.7–34.1 ms', target: '≤ 30 ms' },
  'throughput 1': { svix: '', target: '≥ 1,000/s' },
  'single publishes 1': { svix: '', target: '≥ 1,000/s' },
  'single publishes 100': { svix: '2,450–3,031/s', target: '≥ 3,000/s' },
  'single publishes 100 sustained': { svix: 'not measured', target: '' },
};
const WAIT_MS = 120_000; // per scenario, for every delivery to arrive
const TOKEN = 'bench-publisher-token';

// RINGHOOK_KV_METER=off binds KV without the write meter (for a baseline build that rewrites keys).
const kvMeter = process.env.RINGHOOK_KV_METER !== 'off';
const start = (hops) => startWorker({
  CALL_EVENTS_TOKEN: TOKEN,
  MAX_SUBSCRIPTIONS_PER_USER: '200',
}, { queues: { maxBatchSize: MAX_BATCH_SIZE, maxBatchTimeout: MAX_BATCH_TIMEOUT }, kvMeter, faults: false, outboundHop: hops, inboundHop: hops });
const worker = await start(false);
let hopWorker; // started for the first row that asks for the local hops
const receiver = await createReceiver(() => 200);

async function request(method, path, { token, body }, w = worker) {
  const res = await w.fetch(path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text);
}

/**
 * CPU time (ms, user and system) of the processes this one started, the local workerd of each Worker among them:
 * on this machine workerd runs a Worker on one thread, so its CPU per delivery is what bounds the rate, and it
 * varies less from run to run than the rate does. Read from /proc (Linux); null elsewhere.
 */
function childrenCpuMs() {
  try {
    const ticksToMs = 10; // USER_HZ is 100 on Linux
    let ticks = 0;
    for (const pid of readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name))) {
      let stat;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid) ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks * ticksToMs;
  } catch {
    return null;
  }
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function scenario({ mode, subscriptions, events, sustained = false, hop = false }, round) {
  const uid = `bench-${mode.replaceAll(' ', '-')}-${subscriptions}${sustained ? '-sustained' : ''}${hop ? '-hop' : ''}-${round}`;
  const token = signedToken({ sub: uid });
  const w = hop ? (hopWorker ??= await warm(await start(true))) : worker;
  for (let k = 0; k < subscriptions; k++) {
    await request('POST', `${BASE}/subscribe`, { token, body: { webhook_url: `${receiver.url}/${uid}/${k}`, events: ['*'] } }, w);
  }
  const firstRequest = receiver.requests.length;
  const startOf = new Map(); // event id → publish start (epoch ms)
  const ids = Array.from({ length: events }, (_, i) => `evt_${uid}_${i}`);
  let next = 0;
  const started = preciseNow();
  const cpuBefore = childrenCpuMs();
  const arrived = () => receiver.requests.length - firstRequest;
  const oneAtATime = ONE_AT_A_TIME.has(mode);
  const publishers = oneAtATime ? 1 : PUBLISHERS;
  // Throughput mode publishes 25 events per request (the API takes up to 100); the others one at a time.
  const perRequest = mode === 'throughput' ? PUBLISH_BATCH : 1;
  await Promise.all(Array.from({ length: publishers }, async () => {
    while (next < ids.length) {
      const chunk = ids.slice(next, next + perRequest);
      next += chunk.length;
      const at = preciseNow();
      for (const id of chunk) startOf.set(id, at);
      const items = chunk.map((id) => ({ event: 'call.status.changed', callId: `call_${id}`, status: 'ringing', uid, id, data: { bench: true } }));
      const out = await request('POST', '/api/v6/call/events', { token: TOKEN, body: perRequest === 1 ? items[0] : items }, w);
      for (const published of out.events) {
        if (published.deliveries !== subscriptions) throw new Error(`${published.id}: ${JSON.stringify(out)}`);
      }
      if (oneAtATime) {
        const want = next * subscriptions;
        const until = Date.now() + WAIT_MS;
        while (arrived() < want && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
        if (mode === 'latency') await new Promise((r) => setTimeout(r, SETTLE_MS));
      }
    }
  }));
  const expected = subscriptions * events;
  const deadline = Date.now() + WAIT_MS;
  const ours = () => receiver.requests.slice(firstRequest);
  while (ours().length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const cpuAfter = childrenCpuMs();
  const got = ours();
  const latencies = got.map((q) => q.time - startOf.get(JSON.parse(q.body).id)).sort((a, b) => a - b);
  const last = Math.max(...got.map((q) => q.time));
  return {
    mode,
    subscriptions,
    events,
    sustained,
    hop,
    deliveries: got.length,
    expected,
    p50_ms: pct(latencies, 50),
    p99_ms: pct(latencies, 99),
    per_second: got.length / ((last - started) / 1000),
    cpu_us: cpuBefore === null || cpuAfter === null ? undefined : (1000 * (cpuAfter - cpuBefore)) / got.length,
  };
}

/** Warms up a Worker's isolate and queue consumer; resolves to it. */
async function warm(w) {
  const token = signedToken({ sub: 'bench-warm' });
  const first = receiver.requests.length;
  await request('POST', `${BASE}/subscribe`, { token, body: { webhook_url: `${receiver.url}/warm`, events: ['*'] } }, w);
  await request('POST', '/api/v6/call/events', { token: TOKEN, body: { event: 'call.initiated', callId: 'warm', status: 'initiated', uid: 'bench-warm' } }, w);
  const deadline = Date.now() + 30_000;
  while (receiver.requests.length <= first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return w;
}
await warm(worker);

// The runtime's floor for the same fan-out: a plain JavaScript Worker in the same local workerd that does nothing but
// POST a signed-size delivery to the same receiver, 100 times, six in flight (the Workers limit ringhook keeps to).
const FLOOR_WORKER = `export default { async fetch(req) {
  const to = new URL(req.url).searchParams.get('to');
  const body = JSON.stringify({ event: 'call.status.changed', callId: 'call_floor', status: 'ringing', data: { bench: true } });
  let next = 0;
  async function post(i) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 5000);
    const headers = new Headers({ 'content-type': 'application/json', 'user-agent': 'floor', 'x-webhook-signature': 'sha256=' + 'a'.repeat(64),
      'x-webhook-id': 'evt_' + i, 'x-webhook-timestamp': '1', 'x-webhook-event': 'call.status.changed', 'webhook-id': 'evt_' + i,
      'webhook-timestamp': '1', 'webhook-signature': 'v1,' + 'a'.repeat(44) });
    const res = await fetch(to + '/floor/' + i, { method: 'POST', headers, body, redirect: 'manual', signal: abort.signal });
    await res.body.getReader().read();
    abort.abort();
    clearTimeout(timer);
  }
  await Promise.all(Array.from({ length: 6 }, async () => { while (next < 100) await post(next++); }));
  return new Response('ok');
} }`;

// The floor of a single publish with one delivery, in the same local workerd: a plain JavaScript Worker doing the
// least ringhook's pipeline does for it: ask the user's object (one SQLite row; the object queues a message), POST
// the delivery to the receiver, and ask the object again with the outcome, each ask a method call as ringhook's.
// With `queue` false the object queues nothing: the floor of a pipeline whose object kept the fallback of each first
// attempt itself (its alarm queueing it only for an attempt never applied), where ringhook queues it before the attempt.
const pipelineFloorWorker = (queue) => `
${FLOOR_OBJECT}
export default { async fetch(req, env) {
  const url = new URL(req.url);
  const id = 'evt_' + url.searchParams.get('i');
  const user = env.USERS.get(env.USERS.idFromName('floor'));
  await user.write('${queue ? 'publish:' : 'published:'}' + id);
  const body = JSON.stringify({ id, event: 'call.status.changed', callId: 'call_floor', status: 'ringing', data: { bench: true } });
  const res = await fetch(url.searchParams.get('to') + '/pipeline-floor/' + id, { method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-webhook-signature': 'sha256=' + 'a'.repeat(64) } });
  await res.arrayBuffer();
  await user.write('settle:' + id);
  return new Response('ok');
} }`;

async function pipelineFloor(queue) {
  const mf = new Miniflare({
    modules: true, script: pipelineFloorWorker(queue), compatibilityDate: '2025-09-01', stripCfConnectingIp: false,
    durableObjects: { USERS: { className: 'FloorObject', useSQLite: true } }, durableObjectsPersist: false,
    queueProducers: { QUEUE: 'pipeline-floor' }, unsafeDirectSockets: DIRECT_SOCKETS,
  });
  await mf.ready;
  const url = await mf.unsafeGetDirectURL();
  const to = encodeURIComponent(receiver.url);
  try {
    let next = 0;
    const publish = () => fetch(`${url}?to=${to}&i=${next++}`).then((r) => r.text());
    await publish(); // warm-up
    const total = 1000;
    const started = preciseNow();
    await Promise.all(Array.from({ length: PUBLISHERS }, async () => { while (next <= total) await publish(); }));
    return total / ((preciseNow() - started) / 1000);
  } finally {
    await mf.dispose();
  }
}

async function floor() {
  const mf = new Miniflare({ modules: true, script: FLOOR_WORKER, compatibilityDate: '2025-09-01', stripCfConnectingIp: false, unsafeDirectSockets: DIRECT_SOCKETS });
  await mf.ready;
  const url = await mf.unsafeGetDirectURL();
  const run = () => fetch(`${url}?to=${encodeURIComponent(receiver.url)}`).then((r) => r.text());
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  try {
    await run(); // warm-up
    const fiftieth = [];
    const last = [];
    for (let round = 0; round < 9; round++) {
      const first = receiver.requests.length;
      const started = preciseNow();
      await run();
      const times = receiver.requests.slice(first).map((q) => q.time - started).sort((a, b) => a - b);
      fiftieth.push(times[49]);
      last.push(times[99]);
    }
    const rates = [];
    for (let round = 0; round < 3; round++) {
      const started = preciseNow();
      await Promise.all(Array.from({ length: PUBLISHERS }, run));
      rates.push((PUBLISHERS * 100) / ((preciseNow() - started) / 1000));
    }
    return { fiftieth: median(fiftieth), last: median(last), perSecond: median(rates) };
  } finally {
    await mf.dispose();
  }
}

/** What a row's runs are compared by: the latency of the one-at-a-time rows, the rate of the others. */
const key = (r) => (ONE_AT_A_TIME.has(r.mode) ? r.p50_ms : r.per_second);

/** A row's median run (by its key figure), with the range of that figure over the runs. */
function medianRun(runs) {
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  const median = sorted[Math.floor(sorted.length / 2)];
  const missing = runs.find((r) => r.deliveries !== r.expected);
  return { ...(missing ?? median), low: key(sorted[0]), high: key(sorted[sorted.length - 1]) };
}

const results = [];
let runtime;
try {
  const chosen = SCENARIOS.filter((x) => !ONLY || x.mode === ONLY);
  const runs = chosen.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, s] of chosen.entries()) runs[i].push(await scenario(s, round));
  }
  results.push(...runs.map(medianRun));
  if (!ONLY) runtime = { ...(await floor()), pipeline: await pipelineFloor(true), unqueued: await pipelineFloor(false) };
} finally {
  await receiver.close();
  await worker.close();
  await hopWorker?.close();
  await stopJwksServer();
}

console.log(`Delivery pipeline, local workerd (Miniflare), queues maxBatchSize ${MAX_BATCH_SIZE}, maxBatchTimeout ${MAX_BATCH_TIMEOUT} s; ` +
  `one user, one keep-alive receiver on 127.0.0.1; latency: one event at a time, ${SETTLE_MS} ms after the last one's deliveries; ` +
  `back to back: one event at a time, at once; throughput: ${PUBLISHERS} publish requests of ${PUBLISH_BATCH} events in flight; ` +
  `single publishes: ${PUBLISHERS} publish requests of one event in flight; every publish to the Worker's own socket and every ` +
  'delivery straight to the receiver, as with the edge in front, except in the rows marked "through the local hops" (Miniflare\'s ' +
  'stand-ins for the edge\'s inbound and outbound hops, JavaScript Workers on the same thread)\n');
console.log(`Each row is the median of ${ROUNDS} runs, the rows taking turns (by p50 for latency and back to back, by the rate ` +
  'for the others), with the range of that figure over the runs. The CPU time of the local workerd (every thread, the local KV and ' +
  'queues included) from the first publish to the last arrival, per delivery, is that run\'s; the rows one event at a time, which ' +
  'wait between events while the runtime\'s own timers run, have none.\n');
console.log('| mode | subscriptions | events | deliveries | publish→receive p50 | p99 | deliveries/s | range over the runs | workerd CPU per delivery | svix-server | target |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|');
const range = (r) => (ONE_AT_A_TIME.has(r.mode) ? `${r.low.toFixed(1)}–${r.high.toFixed(1)} ms` : `${Math.round(r.low)}–${Math.round(r.high)}/s`);
for (const r of results) {
  const count = r.deliveries === r.expected ? `${r.deliveries}` : `${r.deliveries} of ${r.expected} (timed out)`;
  const ms = (x) => (x === undefined ? 'n/a' : `${x.toFixed(1)} ms`);
  const reference = REFERENCE[`${r.mode} ${r.subscriptions}${r.sustained ? ' sustained' : ''}`] ?? { svix: '', target: '' };
  // A row through the local hops is there for comparison: the target is the row without them.
  const ref = r.hop ? { svix: reference.svix, target: '' } : reference;
  console.log(`| ${r.mode}${r.hop ? ', through the local hops' : ''} | ${r.subscriptions} | ${r.events} | ${count} | ${ms(r.p50_ms)} | ${ms(r.p99_ms)} | ` +
    `${r.deliveries ? Math.round(r.per_second) : 0} | ${range(r)} | ${r.cpu_us === undefined || ONE_AT_A_TIME.has(r.mode) ? '—' : `${Math.round(r.cpu_us)} µs`} | ${ref.svix} | ${ref.target} |`);
}
if (runtime) console.log(`\nThe runtime's floor, same run and receiver: a plain JavaScript Worker POSTing 100 deliveries, six in flight, ` +
  `has the 50th at the receiver after ${runtime.fiftieth.toFixed(1)} ms and the last after ${runtime.last.toFixed(1)} ms ` +
  `(median of 9, from the request that starts it); ${PUBLISHERS} such invocations at once reach ${Math.round(runtime.perSecond)} deliveries/s ` +
  '(median of 3). ringhook\'s 100-subscription rows add publishing, signing and applying each attempt to these. ' +
  `A plain JavaScript Worker doing a single publish's least work for one delivery (ask the user's object, which queues, ` +
  `POST, ask again with the outcome; each ask a method call), ${PUBLISHERS} in flight: ${Math.round(runtime.pipeline)} deliveries/s; ` +
  `the same with nothing queued (an object that kept each first attempt's fallback itself): ${Math.round(runtime.unqueued)} deliveries/s.`);
if (kvMeter) console.log('\nKV writes: at most 1 per key in any second. The benchmark\'s KV refuses a second write of a key within a ' +
  'second (kvWriteMeter in tests/worker/support.mjs; the tests\' outage switches are left out), and every delivery above arrived.');
process.exitCode = results.every((r) => r.deliveries === r.expected) ? 0 : 1;

// Latency of the subscription API on local workerd (Miniflare, in-memory KV) at 1, 10 and 50 concurrent clients,
// about 1,000 requests per row: `node bench/api-load.mjs [--json FILE]` after `make worker`. Each client is its own
// users (emulator tokens): `subscribe` is a new user's first subscription (it creates the user's object and its
// tables); `subscribe again` adds one to each of 1,000 users made before the rows (what a subscribe costs once the
// object exists; local workerd lets objects idle for some seconds go, so this row mostly starts them again), and
// `subscribe again, its object in memory` the same right after a list by the user, untimed; list reads a document of
// one; publish sends one event for a user with no subscriptions (what publishing costs before any delivery); `list,
// a Google-signed token` is list with an RS256 token from a local JWKS server instead, each client sending its one
// token again, as a signed-in app does.
// Each level also measures JavaScript floors: a Worker of a few lines, the same calling a Durable Object, the same
// calling a new Durable Object each request (a new user's first subscribe creates one), and the same in a publish's
// shape (one call to the object, which queues a message); the first and the last also calling the object's method
// (JavaScript RPC) instead of its fetch handler, as ringhook's Worker calls its objects; and, by a method call, an
// object that runs the statements ringhook's object runs for the publish row (a user with no subscription) and writes
// the bodies to KV as its flush does (bench/floor-object.mjs).
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Miniflare } from 'miniflare';
import { emulatorToken } from '../www/emulator-token.js';
import { jwksBaseUrl, signedToken, stopJwksServer } from '../tests/worker/support.mjs';
import { FLOOR_OBJECT, PUBLISH_FLOOR_OBJECT } from './floor-object.mjs';

const LEVELS = [1, 10, 50];
const REQUESTS = 1000;
// RINGHOOK_WORKER_BUILD measures another build (e.g. one from before the per-user objects, as a baseline).
const build = process.env.RINGHOOK_WORKER_BUILD
  ? pathToFileURL(`${process.env.RINGHOOK_WORKER_BUILD.replace(/\/$/, '')}/`)
  : new URL('../crates/ringhook-worker/build/', import.meta.url);
const hasObjects = readFileSync(new URL('index.js', build), 'utf8').includes('UserState');

const mf = new Miniflare({
  modules: true,
  scriptPath: new URL('index.js', build).pathname,
  modulesRoot: build.pathname,
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
  compatibilityDate: '2025-09-01',
  kvNamespaces: ['SUBSCRIPTIONS'],
  kvPersist: false,
  ...(hasObjects ? { durableObjects: { USERS: { className: 'UserState', useSQLite: true } } } : {}),
  durableObjectsPersist: false,
  // Publishing queues its deliveries (none here: the publishing users have no subscriptions).
  queueProducers: { DELIVERIES: 'ringhook-deliveries' },
  bindings: {
    CALL_EVENTS_TOKEN: 'bench-publisher-token',
    FIREBASE_PROJECT_ID: 'demo-ringhook',
    FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099',
    // The tests' JWKS server: Google's keys as published, cached for an hour.
    FIREBASE_JWKS_URL: `${await jwksBaseUrl()}/jwks/api-load`,
    SECRETS_KEY: Buffer.alloc(32, 1).toString('base64'),
    ALLOW_LOOPBACK_WEBHOOKS: 'true',
  },
});
const url = await mf.ready;
// The runtime's floors, in the same local workerd: a few lines of JavaScript answering a constant; the same asking a
// per-user Durable Object (SQLite) to write one row, as every route of ringhook's asks the user's object; and a
// publish's shape at its leanest: ask the object, which writes its row and sends one message to a queue.
const plain = new Miniflare({
  modules: true,
  script: `
const ok = () => new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } });
${FLOOR_OBJECT}
${PUBLISH_FLOOR_OBJECT}
export default {
  async fetch(request, env) {
    const { pathname, searchParams } = new URL(request.url);
    if (pathname === '/') return ok();
    if (pathname === '/publish-statements') {
      const event = await request.json();
      const body = JSON.stringify({ event: event.event, callId: event.callId, status: event.status, data: event.data ?? {} });
      const answer = await env.PUBLISH_FLOOR.getByName(event.uid).publish('evt_' + crypto.randomUUID(), event.event, body);
      return new Response(\`{"success":true,"events":[\${answer}]}\`, { status: 202, headers: { 'content-type': 'application/json' } });
    }
    const object = env.FLOOR.get(env.FLOOR.idFromName(searchParams.get('uid')));
    const body = (pathname.startsWith('/publish') ? 'publish:' : '') + crypto.randomUUID();
    if (pathname.endsWith('-rpc')) await object.write(body);
    else await object.fetch('http://floor/', { method: 'POST', body }).then((r) => r.text());
    return ok();
  },
};`,
  compatibilityDate: '2025-09-01',
  durableObjects: { FLOOR: { className: 'FloorObject', useSQLite: true }, PUBLISH_FLOOR: { className: 'PublishFloor', useSQLite: true } },
  kvNamespaces: ['KV'],
  durableObjectsPersist: false,
  queueProducers: { QUEUE: 'floor-queue' },
});
const plainUrl = await plain.ready;

const token = (uid) => emulatorToken(uid);

async function timed(fn) {
  const start = performance.now();
  const response = await fn();
  await response.arrayBuffer();
  if (response.status >= 300) throw new Error(`status ${response.status}`);
  return performance.now() - start;
}

// `prepare`, if given, runs before each request, untimed, and what it returns is passed to the request; such a row
// has no rate of its own, only that of the pairs (prepare and request).
async function phase(name, clients, request, prepare) {
  const samples = [];
  const perClient = Math.ceil(REQUESTS / clients);
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; i < perClient; i++) {
      const prepared = prepare ? await prepare(c, i) : undefined;
      samples.push(await timed(() => request(c, i, prepared)));
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  samples.sort((a, b) => a - b);
  const pct = (p) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))];
  const rate = Math.round(samples.length / seconds);
  return {
    name, clients, requests: samples.length, p50_ms: +pct(50).toFixed(2), p99_ms: +pct(99).toFixed(2),
    per_second: prepare ? null : rate, ...(prepare ? { pairs_per_second: rate } : {}),
  };
}

// Warm up the isolate.
await fetch(`${url}api/v6/call/webhook/subscriptions`, { headers: { authorization: `Bearer ${token('warm-up')}` } }).then((r) => r.arrayBuffer());

// The users that subscribe again: each has one subscription before the rows start, and one more per level.
const REGULARS = REQUESTS;
const regular = (n) => ({ authorization: `Bearer ${token(`regular-${n}`)}`, 'content-type': 'application/json' });
const subscribeAs = (headers, hook) => fetch(`${url}api/v6/call/webhook/subscribe`, {
  method: 'POST', headers, body: JSON.stringify({ webhook_url: `http://127.0.0.1:9/${hook}`, events: ['*'] }),
});
for (let start = 0; start < REGULARS; start += 50) {
  await Promise.all(Array.from({ length: 50 }, async (_, k) => {
    const response = await subscribeAs(regular(start + k), 'first');
    await response.arrayBuffer();
    if (response.status !== 201) throw new Error(`setting up user ${start + k}: status ${response.status}`);
  }));
}

const results = [];
for (const clients of LEVELS) {
  // A user per subscribe request, so every document has one subscription, whatever the concurrency.
  const auth = (c, i = 0) => ({ authorization: `Bearer ${token(`load-${clients}-${c}-${i}`)}`, 'content-type': 'application/json' });
  // The floors: an empty JavaScript Worker, and ringhook's route that neither authenticates nor touches KV.
  results.push(await phase('plain JavaScript Worker (the runtime floor)', clients, () => fetch(plainUrl)));
  // Each client's object exists before its rows, as a user's does once it has subscribed.
  await Promise.all(Array.from({ length: clients }, (_, c) => fetch(`${plainUrl}object?uid=${clients}-${c}`).then((r) => r.arrayBuffer())));
  results.push(await phase('plain JavaScript Worker, one call to its object', clients, (c) => fetch(`${plainUrl}object?uid=${clients}-${c}`)));
  results.push(await phase('plain JavaScript Worker, one method call to its object (RPC)', clients, (c) => fetch(`${plainUrl}object-rpc?uid=${clients}-${c}`)));
  results.push(await phase('plain JavaScript Worker, one call to a new object', clients, (c, i) => fetch(`${plainUrl}object?uid=new-${clients}-${c}-${i}`)));
  results.push(await phase('plain JavaScript Worker, object that queues', clients, (c) => fetch(`${plainUrl}publish?uid=${clients}-${c}`)));
  results.push(await phase('plain JavaScript Worker, a method call to an object that queues (RPC)', clients, (c) => fetch(`${plainUrl}publish-rpc?uid=${clients}-${c}`)));
  results.push(await phase("plain JavaScript Worker, a publish's statements (RPC)", clients, (c) => fetch(`${plainUrl}publish-statements`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'call.initiated', callId: 'call_load', status: 'initiated', uid: `publish-${clients}-${c}` }),
  })));
  results.push(await phase('healthz (baseline: no auth, no KV)', clients, () => fetch(`${url}healthz`)));
  results.push(await phase('subscribe', clients, (c, i) => fetch(`${url}api/v6/call/webhook/subscribe`, {
    method: 'POST', headers: auth(c, i), body: JSON.stringify({ webhook_url: 'http://127.0.0.1:9/hook', events: ['*'] }),
  })));
  let next = 0;
  results.push(await phase('subscribe again', clients, () => subscribeAs(regular(next++ % REGULARS), `level-${clients}`)));
  // The same with the user's object in memory, as it is while its user is active (the row above may find it gone:
  // local workerd lets an object idle for some seconds go, and each user's comes once a row): a list, untimed, just
  // before.
  let warm = 0;
  results.push(await phase('subscribe again, its object in memory', clients, (c, i, n) => subscribeAs(regular(n), `warm-${clients}`), async () => {
    const n = warm++ % REGULARS;
    await fetch(`${url}api/v6/call/webhook/subscriptions`, { headers: regular(n) }).then((r) => r.arrayBuffer());
    return n;
  }));
  results.push(await phase('list', clients, (c) => fetch(`${url}api/v6/call/webhook/subscriptions`, { headers: auth(c) })));
  const signed = Array.from({ length: clients }, (_, c) => ({ authorization: `Bearer ${signedToken({ sub: `load-${clients}-${c}-0` })}` }));
  results.push(await phase('list, a Google-signed token', clients, (c) => fetch(`${url}api/v6/call/webhook/subscriptions`, { headers: signed[c] })));
  // One event per request, for a user of each client's with no subscriptions: admitted, committed, its body kept.
  results.push(await phase('publish (one event)', clients, (c) => fetch(`${url}api/v6/call/events`, {
    method: 'POST',
    headers: { authorization: 'Bearer bench-publisher-token', 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'call.initiated', callId: 'call_load', status: 'initiated', uid: `publish-${clients}-${c}` }),
  })));
}
await Promise.all([mf.dispose(), plain.dispose()]);
await stopJwksServer();

const wasm = readFileSync(new URL('index_bg.wasm', build));
const js = readFileSync(new URL('index.js', build));
const size = { wasm_raw: wasm.length, wasm_gzip: gzipSync(wasm, { level: 9 }).length, js_gzip: gzipSync(js, { level: 9 }).length };

console.log(`About ${REQUESTS} requests per row from N concurrent clients, each waiting for its answer; local workerd (Miniflare), in-memory KV\n`);
console.log('| concurrent | operation | requests | p50 | p99 | requests/s |');
console.log('|---:|---|---:|---:|---:|---:|');
for (const r of results) console.log(`| ${r.clients} | ${r.name} | ${r.requests} | ${r.p50_ms} ms | ${r.p99_ms} ms | ${r.per_second ?? '—'} |`);
// CPU per request: at the highest concurrency the one isolate is saturated, so a route's time per request is the
// inverse of its throughput; less the no-op route's, it is what the route's own work costs.
const top = Math.max(...LEVELS);
const rate = (name) => results.find((r) => r.clients === top && r.name.startsWith(name)).per_second;
const cpu = (name) => 1000 / rate(name) - 1000 / rate('healthz');
// The row with its object in memory has the rate of its pairs (a list, then the subscribe): less a list's.
const pairs = results.find((r) => r.clients === top && r.name === 'subscribe again, its object in memory').pairs_per_second;
const inMemory = 1000 / pairs - 1000 / rate('list') - 1000 / rate('healthz');
console.log(`\nCPU per request at ${top} clients (1 / requests per second, less healthz's): ${['subscribe', 'list', 'list, a Google-signed token', 'publish']
  .map((name) => `${name} ${cpu(name).toFixed(2)} ms`).join(', ')}; subscribe again ${cpu('subscribe again').toFixed(2)} ms, with its object in memory ${inMemory.toFixed(2)} ms (a list and a subscribe, less a list and healthz).`);
const floor = (name) => (1000 / rate(name) - 1000 / rate('plain JavaScript Worker (')).toFixed(2);
console.log(`The same for the JavaScript floors, less the plain Worker's: one call to a Durable Object ${floor('plain JavaScript Worker, one call to its')} ms; one call to a new object, which lays out its table (a new user's subscribe) ${floor('plain JavaScript Worker, one call to a new')} ms; one call to an object that queues a message (a publish's shape) ${floor('plain JavaScript Worker, object that')} ms; the first and the last as method calls (RPC, as ringhook calls its objects) ${floor('plain JavaScript Worker, one method call')} and ${floor('plain JavaScript Worker, a method call to an object that')} ms; a method call to an object that runs a publish's statements for a user with no subscription and writes the bodies to KV ${floor("plain JavaScript Worker, a publish's statements")} ms.`);
// At one client, each route's p50 over the no-op route's, and each floor's over the plain Worker's.
const one = (name) => results.find((r) => r.clients === 1 && r.name.startsWith(name)).p50_ms;
const over = (name, base) => {
  const by = one(name) - one(base);
  return `${by >= 0 ? '+' : ''}${by.toFixed(2)} ms`;
};
console.log(`At 1 client, p50 over healthz's: ${['subscribe', 'subscribe again', 'subscribe again, its object in memory', 'list', 'list, a Google-signed token', 'publish'].map((name) => `${name} ${over(name, 'healthz')}`).join(', ')}; the floors over the plain Worker's: one call to an object ${over('plain JavaScript Worker, one call to its', 'plain JavaScript Worker (')}, to a new object ${over('plain JavaScript Worker, one call to a new', 'plain JavaScript Worker (')}, a publish's shape ${over('plain JavaScript Worker, object that', 'plain JavaScript Worker (')}, the first and the last by RPC ${over('plain JavaScript Worker, one method call', 'plain JavaScript Worker (')} and ${over('plain JavaScript Worker, a method call to an object that', 'plain JavaScript Worker (')}, a publish's statements ${over("plain JavaScript Worker, a publish's statements", 'plain JavaScript Worker (')}.`);
console.log(`\nWorker bundle: index_bg.wasm ${size.wasm_raw} B raw, ${size.wasm_gzip} B gzip -9; index.js ${size.js_gzip} B gzip -9; together ${((size.wasm_gzip + size.js_gzip) / 1024).toFixed(1)} KiB gzip.`);
const at = process.argv.indexOf('--json');
if (at > 0) writeFileSync(process.argv[at + 1], JSON.stringify({ results, size }, null, 2));

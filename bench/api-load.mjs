// Latency of the subscription API on local workerd (Miniflare, in-memory KV) at 50 concurrent clients:
// `node bench/api-load.mjs [--json FILE]` after `make worker`. Each client is its own user (emulator token),
// so subscribes do not contend on one user's document; list reads a document of 5 subscriptions.
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { Miniflare } from 'miniflare';

const CLIENTS = 50;
const PER_CLIENT = 20;
const build = new URL('../crates/ringhook-worker/build/', import.meta.url);

const mf = new Miniflare({
  modules: true,
  scriptPath: new URL('index.js', build).pathname,
  modulesRoot: build.pathname,
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
  compatibilityDate: '2025-09-01',
  kvNamespaces: ['SUBSCRIPTIONS'],
  kvPersist: false,
  bindings: {
    FIREBASE_PROJECT_ID: 'demo-ringhook',
    FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099',
    SECRETS_KEY: Buffer.alloc(32, 1).toString('base64'),
    ALLOW_LOOPBACK_WEBHOOKS: 'true',
    MAX_SUBSCRIPTIONS_PER_USER: String(PER_CLIENT + 10),
  },
});
const url = await mf.ready;

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function token(uid) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: 'https://securetoken.google.com/demo-ringhook', aud: 'demo-ringhook', sub: uid, iat: now, auth_time: now, exp: now + 3600 };
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}

async function timed(fn) {
  const start = performance.now();
  const response = await fn();
  await response.arrayBuffer();
  if (response.status >= 300) throw new Error(`status ${response.status}`);
  return performance.now() - start;
}

async function phase(name, request) {
  const samples = [];
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    for (let i = 0; i < PER_CLIENT; i++) samples.push(await timed(() => request(c, i)));
  }));
  const seconds = (performance.now() - started) / 1000;
  samples.sort((a, b) => a - b);
  const pct = (p) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))];
  return { name, requests: samples.length, p50_ms: +pct(50).toFixed(2), p99_ms: +pct(99).toFixed(2), per_second: Math.round(samples.length / seconds) };
}

const auth = (c) => ({ authorization: `Bearer ${token(`load-${c}`)}`, 'content-type': 'application/json' });
// Warm up the isolate.
await fetch(`${url}api/v6/call/webhook/subscriptions`, { headers: auth(0) }).then((r) => r.arrayBuffer());

const results = [
  // The floor: a route that neither authenticates nor touches KV, through the same runtime and client.
  await phase('healthz (baseline: no auth, no KV)', () => fetch(`${url}healthz`)),
  await phase('subscribe', (c, i) => fetch(`${url}api/v6/call/webhook/subscribe`, {
    method: 'POST', headers: auth(c), body: JSON.stringify({ webhook_url: `http://127.0.0.1:9/hook/${i}`, events: ['*'] }),
  })),
  await phase('list', (c) => fetch(`${url}api/v6/call/webhook/subscriptions`, { headers: auth(c) })),
];
await mf.dispose();

const wasm = readFileSync(new URL('index_bg.wasm', build));
const js = readFileSync(new URL('index.js', build));
const size = { wasm_raw: wasm.length, wasm_gzip: gzipSync(wasm, { level: 9 }).length, js_gzip: gzipSync(js, { level: 9 }).length };

console.log(`${CLIENTS} concurrent clients × ${PER_CLIENT} requests each, local workerd (Miniflare), in-memory KV\n`);
console.log('| operation | requests | p50 | p99 | requests/s |');
console.log('|---|---:|---:|---:|---:|');
for (const r of results) console.log(`| ${r.name} | ${r.requests} | ${r.p50_ms} ms | ${r.p99_ms} ms | ${r.per_second} |`);
console.log(`\nWorker bundle: index_bg.wasm ${size.wasm_raw} B raw, ${size.wasm_gzip} B gzip -9; index.js ${size.js_gzip} B gzip -9; together ${((size.wasm_gzip + size.js_gzip) / 1024).toFixed(1)} KiB gzip.`);
const at = process.argv.indexOf('--json');
if (at > 0) writeFileSync(process.argv[at + 1], JSON.stringify({ results, size }, null, 2));

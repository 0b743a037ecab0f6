// What a user's object costs as it starts. The runtime evicts an idle object, and the next request to that user
// starts it again: its constructor and its first command run before the answer. Each of USERS users subscribes
// once; the Worker then restarts on the same persisted object storage, and each user lists their subscriptions
// twice, one user at a time: the first list starts the user's object, the second finds it started. The difference
// of the two medians is what a start adds to a request. Local workerd (Miniflare), one client.
// `node bench/object-start.mjs` after the Worker is built; RINGHOOK_WORKER_BUILD=<dir> measures another build (run
// the two one after another, more than once, to compare them: this machine's figures move between runs). The users
// sign in with emulator tokens, which have no signature: a Google-signed token is verified once per isolate, so the
// first request would verify it and the second not. The same is measured, in the same way, for a floor: a JavaScript
// Worker whose SQLite object of a few lines writes a row and lists its rows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { BASE, emulatorToken, startWorker, stopJwksServer } from '../tests/worker/support.mjs';
import { preciseNow } from '../tests/worker/receivers.mjs';

const USERS = Number(process.env.RINGHOOK_OBJECT_START_USERS ?? 300);
const objectsDir = mkdtempSync(path.join(tmpdir(), 'ringhook-object-start-'));
const options = { objectsDir, faults: false, outboundHop: false, inboundHop: false };
const tokens = Array.from({ length: USERS }, (_, i) => emulatorToken(`starting-${i}`));
const settings = { FIREBASE_AUTH_EMULATOR_HOST: '127.0.0.1:9099' };

async function call(worker, method, route, token, body) {
  const res = await worker.fetch(`${BASE}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${text}`);
}

async function timed(fn) {
  const started = preciseNow();
  await fn();
  return preciseNow() - started;
}

const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))];
const ms = (x) => `${x.toFixed(2)} ms`;

// The floor: a Worker passing each request to its user's object, which lays out its one table as it starts, writes
// a row on POST and answers its rows as JSON.
const FLOOR = `
export class Floor {
  constructor(state) {
    this.sql = state.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY, body TEXT NOT NULL)');
  }
  async fetch(request) {
    if (request.method === 'POST') this.sql.exec('INSERT INTO rows (id, body) VALUES (?, ?)', crypto.randomUUID(), await request.text());
    return Response.json(this.sql.exec('SELECT id, body FROM rows').toArray());
  }
}
export default {
  fetch(request, env) {
    return env.FLOOR.get(env.FLOOR.idFromName(new URL(request.url).searchParams.get('uid'))).fetch(request);
  },
};`;

async function floor() {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringhook-object-start-floor-'));
  const start = () => new Miniflare({
    modules: true, script: FLOOR, compatibilityDate: '2025-09-01',
    durableObjects: { FLOOR: { className: 'Floor', useSQLite: true } }, durableObjectsPersist: dir,
  });
  const get = async (base, uid, init) => {
    const res = await fetch(`${base}?uid=${uid}`, init);
    await res.text();
    if (res.status !== 200) throw new Error(`floor: status ${res.status}`);
  };
  try {
    let mf = start();
    let base = await mf.ready;
    for (let i = 0; i < USERS; i++) await get(base, i, { method: 'POST', body: `{"webhook_url":"https://example.com/hook/${i}"}` });
    await mf.dispose();
    mf = start();
    base = await mf.ready;
    const starting = [];
    const started = [];
    try {
      await get(base, 'warm');
      for (let i = 0; i < USERS; i++) {
        starting.push(await timed(() => get(base, i)));
        started.push(await timed(() => get(base, i)));
      }
    } finally {
      await mf.dispose();
    }
    return { starting, started };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  let worker = await startWorker(settings, options);
  for (const [i, token] of tokens.entries()) {
    await call(worker, 'POST', '/subscribe', token, { webhook_url: `https://example.com/hook/${i}`, events: ['*'] });
  }
  await worker.close();

  worker = await startWorker(settings, options);
  const starting = [];
  const started = [];
  try {
    // The Worker itself warms up on a user of its own.
    await call(worker, 'GET', '/subscriptions', emulatorToken('starting-warm'));
    for (const token of tokens) {
      starting.push(await timed(() => call(worker, 'GET', '/subscriptions', token)));
      started.push(await timed(() => call(worker, 'GET', '/subscriptions', token)));
    }
  } finally {
    await worker.close();
  }
  const js = await floor();
  const adds = (runs) => ms(quantile(runs.starting, 0.5) - quantile(runs.started, 0.5));
  console.log(`A user's object starting, local workerd (Miniflare), ${USERS} users with one subscription each, one client\n`);
  console.log('| request | p50 | p90 |');
  console.log('|---|---:|---:|');
  console.log(`| list, the user's object starting | ${ms(quantile(starting, 0.5))} | ${ms(quantile(starting, 0.9))} |`);
  console.log(`| list again, the object started | ${ms(quantile(started, 0.5))} | ${ms(quantile(started, 0.9))} |`);
  console.log(`| floor (a JavaScript Worker and object listing its rows), the object starting | ${ms(quantile(js.starting, 0.5))} | ${ms(quantile(js.starting, 0.9))} |`);
  console.log(`| floor again, the object started | ${ms(quantile(js.started, 0.5))} | ${ms(quantile(js.started, 0.9))} |`);
  console.log(`\nWhat a start adds to a request (p50 less p50): ${adds({ starting, started })}; to the floor's, ${adds(js)}.`);
} finally {
  await stopJwksServer();
  rmSync(objectsDir, { recursive: true, force: true });
}

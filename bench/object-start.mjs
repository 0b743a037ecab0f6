// What a user's object costs as it starts. The runtime evicts an idle object, and the next request to that user
// starts it again: its constructor and its first command run before the answer. Each of USERS users subscribes
// once; the Worker then restarts on the same persisted object storage, and each user lists their subscriptions
// twice, one user at a time: the first list starts the user's object, the second finds it started. The difference
// of the two medians is what a start adds to a request. Local workerd (Miniflare), one client.
// `node bench/object-start.mjs` after the Worker is built; RINGHOOK_WORKER_BUILD=<dir> measures another build (run
// the two one after another, more than once, to compare them: this machine's figures move between runs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BASE, signedToken, startWorker, stopJwksServer } from '../tests/worker/support.mjs';
import { preciseNow } from '../tests/worker/receivers.mjs';

const USERS = Number(process.env.RINGHOOK_OBJECT_START_USERS ?? 300);
const objectsDir = mkdtempSync(path.join(tmpdir(), 'ringhook-object-start-'));
const options = { objectsDir, faults: false, outboundHop: false, inboundHop: false };
const tokens = Array.from({ length: USERS }, (_, i) => signedToken({ sub: `starting-${i}` }));

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

try {
  let worker = await startWorker({}, options);
  for (const [i, token] of tokens.entries()) {
    await call(worker, 'POST', '/subscribe', token, { webhook_url: `https://example.com/hook/${i}`, events: ['*'] });
  }
  await worker.close();

  worker = await startWorker({}, options);
  const starting = [];
  const started = [];
  try {
    // The Worker itself warms up on a user of its own.
    await call(worker, 'GET', '/subscriptions', signedToken({ sub: 'starting-warm' }));
    for (const token of tokens) {
      starting.push(await timed(() => call(worker, 'GET', '/subscriptions', token)));
      started.push(await timed(() => call(worker, 'GET', '/subscriptions', token)));
    }
  } finally {
    await worker.close();
  }
  console.log(`A user's object starting, local workerd (Miniflare), ${USERS} users with one subscription each, one client\n`);
  console.log('| request | p50 | p90 |');
  console.log('|---|---:|---:|');
  console.log(`| list, the user's object starting | ${ms(quantile(starting, 0.5))} | ${ms(quantile(starting, 0.9))} |`);
  console.log(`| list again, the object started | ${ms(quantile(started, 0.5))} | ${ms(quantile(started, 0.9))} |`);
  console.log(`\nWhat a start adds to a request (p50 less p50): ${ms(quantile(starting, 0.5) - quantile(started, 0.5))}.`);
} finally {
  await stopJwksServer();
  rmSync(objectsDir, { recursive: true, force: true });
}

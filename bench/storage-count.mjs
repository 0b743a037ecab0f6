// What a user's object asks of its SQLite storage, on local workerd: the statements it runs, and the rows they write
// and read as the runtime counts them (each cursor's `rowsWritten` and `rowsRead`, the units Durable Objects' SQLite
// storage is billed in), per event published to a user with no subscription (whose events go to the live stream
// only), and per delivery to a user with one subscription: the publish, the first attempt's claim and outcome, the
// log written by the object's alarm, and the queue message behind the attempt, which arrives later and finds it
// finished. Events are published one at a time.
// An instrumented copy of the build counts: its glue's `exec` and `toArray` imports log each statement, and its queue
// handler each batch of messages it is given, so that the count can wait for the messages behind the attempts.
// Run after `make worker`: `node bench/storage-count.mjs`; RINGHOOK_BASELINE_BUILD=<a build directory> measures that
// build too, in the same run.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const EVENTS = 50;
const TAG = 'ringhook-storage-count';
/** The receivers' timeout here, which sets when the queue message behind an attempt made at once is due. */
const TIMEOUT_MS = 500;
/** When that message is due, in seconds after its publish (`delivery::fallback_delay` of TIMEOUT_MS): a bound on the wait. */
const FALLBACK_SECS = Math.ceil((Math.min(2 * TIMEOUT_MS, 10_000) + TIMEOUT_MS) / 1000) + 5;
/** The object writes its log buffer to KV once a second: counting ends once no statement has run for longer. */
const QUIET_MS = 1_500;

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * A copy of `build` whose glue logs each statement as `TAG written read`, each cursor read to its end as
 * `TAG 0 read rows`, and each batch the queue handler is given as `TAG queue messages`.
 */
function instrumented(build) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringhook-storage-'));
  cpSync(build, dir, { recursive: true });
  const file = path.join(dir, 'index.js');
  const glue = readFileSync(file, 'utf8');
  const exec = /(__wbg_exec_[0-9a-f]+:function\((\w+),(\w+),(\w+),(\w+)\)\{)return \2\.exec\((\w+)\(\3,\4\),\.\.\.\5\)\}/;
  const toArray = /(__wbg_toArray_[0-9a-f]+:function\((\w+)\)\{)return \2\.toArray\(\)\}/;
  const queue = /(\w+\.prototype\.queue=function\((\w+)\)\{)/;
  if (!exec.test(glue) || !toArray.test(glue) || !queue.test(glue)) {
    throw new Error(`${build}: its glue's exec and toArray imports and queue handler are not as expected`);
  }
  const out = glue
    .replace(exec, (_, head, sql, text, length, bindings, decode) =>
      `${head}const c=${sql}.exec(${decode}(${text},${length}),...${bindings});console.log("${TAG}",c.rowsWritten,c.rowsRead);return c}`)
    .replace(toArray, (_, head, cursor) =>
      `${head}const b=${cursor}.rowsRead,a=${cursor}.toArray();console.log("${TAG}",0,${cursor}.rowsRead-b,"rows");return a}`)
    .replace(queue, (_, head, batch) => `${head}console.log("${TAG}","queue",${batch}.messages.length);`);
  writeFileSync(file, out);
  return dir;
}

/** Measures the build at RINGHOOK_WORKER_BUILD (already instrumented), printing its counts as JSON. */
async function measure() {
  const { BASE, signedToken, startWorker, stopJwksServer } = await import('../tests/worker/support.mjs');
  const { createReceiver, waitFor } = await import('../tests/worker/receivers.mjs');
  // The statements as the runtime logs them, through Miniflare, to this process's output.
  const counted = { statements: 0, written: 0, read: 0, messages: 0, at: performance.now() };
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => {
    const text = String(chunk);
    if (!text.includes(TAG)) return write(chunk, ...rest);
    for (const line of text.split('\n').filter((l) => l.includes(TAG))) {
      const [written, read, rows] = line.slice(line.indexOf(TAG) + TAG.length).trim().split(/\s+/);
      counted.at = performance.now();
      if (written === 'queue') {
        counted.messages += Number(read);
        continue;
      }
      if (rows !== 'rows') counted.statements += 1;
      counted.written += Number(written);
      counted.read += Number(read);
    }
    return true;
  };
  const quiet = () => performance.now() - counted.at > QUIET_MS;
  const snapshot = () => ({ ...counted });
  const per = (before, events) => ({
    statements: (counted.statements - before.statements) / events,
    written: (counted.written - before.written) / events,
    read: (counted.read - before.read) / events,
  });

  const receiver = await createReceiver(() => 200);
  const worker = await startWorker(
    { CALL_EVENTS_TOKEN: 'storage-count', DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS) },
    { queues: { maxBatchSize: 100, maxBatchTimeout: 0.05 }, faults: false, outboundHop: false, inboundHop: false },
  );
  try {
    const publish = async (uid, i) => {
      const res = await worker.fetch('/api/v6/call/events', {
        method: 'POST',
        headers: { authorization: 'Bearer storage-count', 'content-type': 'application/json' },
        body: JSON.stringify({ event: 'call.initiated', callId: `call_${i}`, status: 'initiated', uid }),
      });
      if (res.status !== 202) throw new Error(`publish: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };
    const subscribed = await worker.fetch(`${BASE}/subscribe`, {
      method: 'POST',
      headers: { authorization: `Bearer ${signedToken({ sub: 'subscribed' })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ webhook_url: `${receiver.url}/hook`, events: ['*'] }),
    });
    if (subscribed.status !== 201) throw new Error(`subscribe: ${subscribed.status} ${await subscribed.text()}`);
    // Each object started and its first events published before counting.
    for (const uid of ['stream-only', 'subscribed']) for (let i = 0; i < 3; i++) await publish(uid, i);
    // The queue messages behind the warm-up's three attempts applied, and the log written.
    await waitFor(() => counted.messages >= 3 && quiet(), FALLBACK_SECS * 1000 + 60_000, { message: 'the warm-up settles' });

    let before = snapshot();
    for (let i = 0; i < EVENTS; i++) await publish('stream-only', 100 + i);
    await waitFor(quiet, 60_000, { message: 'the stream-only publishes settle' });
    const streamOnly = per(before, EVENTS);

    before = snapshot();
    const hits = receiver.requests.length;
    for (let i = 0; i < EVENTS; i++) await publish('subscribed', 100 + i);
    await waitFor(() => receiver.requests.length - hits >= EVENTS, 60_000, { message: 'every delivery arrives' });
    // The queue message behind each attempt, due FALLBACK_SECS after its publish, applied, and the log written.
    await waitFor(() => counted.messages - before.messages >= EVENTS && quiet(), FALLBACK_SECS * 1000 + 60_000, {
      message: () => `${counted.messages - before.messages} of ${EVENTS} queue messages`,
    });
    const delivery = per(before, EVENTS);
    write(`${JSON.stringify({ streamOnly, delivery })}\n`);
  } finally {
    await worker.close();
    await receiver.close();
    await stopJwksServer();
  }
}

if (process.argv[2] === '--measure') {
  await measure();
  process.exit(0);
}

const builds = [['ringhook', path.join(here, '../crates/ringhook-worker/build')]];
if (process.env.RINGHOOK_BASELINE_BUILD) builds.push(['baseline build', path.resolve(process.env.RINGHOOK_BASELINE_BUILD)]);
const rows = [];
for (const [name, build] of builds) {
  const dir = instrumented(build);
  try {
    const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--measure'], {
      env: { ...process.env, RINGHOOK_WORKER_BUILD: dir },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const line = run.stdout.split('\n').find((l) => l.startsWith('{"streamOnly"'));
    if (run.status !== 0 || !line) throw new Error(`${name}: ${run.stderr || run.stdout}`);
    rows.push([name, JSON.parse(line)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const n = (x) => x.toFixed(2);
console.log(`Storage work of a user's object on local workerd, per event, ${EVENTS} events published one at a time\n`);
console.log('| build | published to a user with no subscription: statements | rows written | rows read | a delivery to one subscription: statements | rows written | rows read |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const [name, { streamOnly: s, delivery: d }] of rows) {
  console.log(`| ${name} | ${n(s.statements)} | ${n(s.written)} | ${n(s.read)} | ${n(d.statements)} | ${n(d.written)} | ${n(d.read)} |`);
}

// `ringhook listen` (pkg/bin/ringhook.mjs) end to end: the CLI as a developer runs it, against the built Worker in
// workerd, forwarding the live stream to an Express receiver written as the setup guide writes it, which verifies
// each POST with the secret the CLI printed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import {
  STATUS_OF, callEvent, otherKeyPair, pipelineClient, repoRoot, signedToken, startWorker, stopJwksServer, uniqueId,
} from './support.mjs';
import { down, ok, verifyWebhookSignature, waitFor } from './receivers.mjs';

const PUBLISHER = 'ringhook-listen-test-token';
const CLI = path.join(repoRoot, 'pkg', 'bin', 'ringhook.mjs');
const VERSION = JSON.parse(readFileSync(path.join(repoRoot, 'pkg', 'package.json'), 'utf8')).version;
const OCCURRED_AT = 1_764_355_200;
const WAIT_MS = 20_000;
const as = (uid) => signedToken({ sub: uid });

/** A publish item for `uid` with its own id and a fixed time, so the body it becomes is known in full. */
const item = (uid, event = 'call.completed', over = {}) =>
  callEvent(uid, { event, status: STATUS_OF[event], id: uniqueId(event.replaceAll('.', '_')), occurred_at: OCCURRED_AT, ...over });

/** The webhook body of a published item. */
const body = (i) => ({ id: i.id, event: i.event, callId: i.callId, status: i.status, timestamp: i.occurred_at, data: i.data ?? {} });

/** An event line of the CLI with its clock time and duration blanked and its columns single-spaced. */
const normalised = (line) => line.replace(/^\d\d:\d\d:\d\d/, 'HH:MM:SS').replace(/\(\d+ ms\)/, '(N ms)').replace(/ +/g, ' ');

const temporaryDirs = [];
function configDir() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringhook-listen-'));
  temporaryDirs.push(dir);
  return dir;
}

/** CLIs started and not yet finished; after() ends them. */
const running = new Set();

/**
 * Runs the CLI with `args`, its config in `config` (a fresh directory unless given) and no RINGHOOK_TOKEN from this
 * environment. Records stdout and stderr; `finished` resolves to { code, signal } once it exited and its output closed.
 */
function cli(args, { config = configDir(), env = {} } = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, RINGHOOK_TOKEN: '', RINGHOOK_CONFIG_DIR: config, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = { child, config, stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk) => { run.stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk) => { run.stderr += chunk; });
  run.finished = new Promise((resolve) => child.once('close', (code, signal) => {
    running.delete(run);
    run.ended = { code, signal };
    resolve(run.ended);
  }));
  const output = () => `stdout: ${JSON.stringify(run.stdout)}; stderr: ${JSON.stringify(run.stderr)}`;
  /** Waits until `test(run)` is truthy, and resolves to it; fails at once if the CLI ended first. */
  run.waitFor = (test, what) => waitFor(() => {
    const value = test(run);
    if (!value && run.ended) throw new Error(`the CLI ended (${JSON.stringify(run.ended)}) before ${what}; ${output()}`);
    return value;
  }, WAIT_MS, { message: () => `${what}; ${output()}` });
  /** The signing secret the CLI printed. */
  run.secret = () => run.waitFor(({ stdout }) => stdout.match(/signing secret is (whsec_\S+)/)?.[1], 'the secret');
  /** Resolves once the CLI reports its stream live. */
  run.live = () => run.waitFor(({ stderr }) => stderr.includes('ringhook: live on'), 'the stream is live');
  /** The event lines on stdout, normalised. */
  run.eventLines = () => run.stdout.split('\n').filter((line) => /^\d\d:\d\d:\d\d /.test(line)).map(normalised);
  /** Waits until `n` event lines are out; resolves to them, normalised. */
  run.waitForLines = (n) => run.waitFor(() => run.eventLines().length >= n && run.eventLines(), `${n} event lines`);
  /** SIGTERM, then the end. */
  run.stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return run.finished;
  };
  running.add(run);
  return run;
}

/**
 * An Express app as the setup guide writes its receiver: JSON parsed by express.json(), the signature checked on the
 * re-serialised body with the guide's verifyWebhookSignature and `secret` (set once the CLI printed it). Each hit is
 * recorded with the parsed body, the headers and whether it was verified.
 */
async function guideReceiver() {
  const r = { hits: [], secret: undefined };
  const app = express();
  app.use(express.json());
  app.post('/api/webhook', (req, res) => {
    const hit = { body: req.body, headers: req.headers, verified: null }; // null: the guide's check threw (a 500)
    r.hits.push(hit);
    const signature = req.headers['x-webhook-signature'];
    const verified = verifyWebhookSignature(JSON.stringify(req.body), signature, r.secret);
    hit.verified = verified;
    if (!verified) return res.status(401).json({ error: 'Invalid signature' });
    res.status(200).json({ success: true });
  });
  r.server = await new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server)).once('error', reject);
  });
  r.url = `http://127.0.0.1:${r.server.address().port}/api/webhook`;
  r.close = async () => {
    r.server.closeAllConnections();
    await new Promise((resolve) => r.server.close(() => resolve()));
  };
  return r;
}

describe('ringhook listen', () => {
  let w;
  let h;
  let origin;
  before(async () => {
    w = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER }, { queues: true });
    h = pipelineClient(w, PUBLISHER);
    origin = (await w.mf.ready).origin;
  });
  after(async () => {
    await Promise.all([...running].map((run) => run.stop()));
    await w?.close();
    for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
    await stopJwksServer();
  });

  /** `listen --base-url <the Worker>` as `uid`, with `args` added. */
  const listen = (uid, args, options) => cli(['listen', '--base-url', origin, '--token', as(uid), ...args], options);

  it("forwards exactly the listener's events, each verified by the guide's receiver with the printed secret", async () => {
    const receiver = await guideReceiver();
    try {
      const run = listen('listener', ['--forward-to', receiver.url]);
      receiver.secret = await run.secret();
      await run.live();
      const sent = [
        item('listener', 'call.scheduled', { callId: 'call_1', data: { to: '+15550100', attempt: 1 } }),
        item('listener', 'call.completed', { callId: 'call_1', data: { duration: 42.5 } }),
        item('listener', 'call.failed', { callId: 'call_2' }),
      ];
      await h.publish([item('someone-else', 'call.completed', { callId: 'call_other' }), sent[0], sent[1]]);
      await h.publish(sent[2]);
      await waitFor(() => receiver.hits.length >= sent.length, WAIT_MS, { message: () => `3 hits; got ${JSON.stringify(receiver.hits)}` });
      const lines = await run.waitForLines(sent.length);

      const byId = (a, b) => a.id.localeCompare(b.id);
      const got = receiver.hits.map(({ body: b, headers, verified }) => ({
        id: b.id, body: b, verified, event: headers['x-webhook-event'], webhookId: headers['x-webhook-id'], agent: headers['user-agent'],
      }));
      const expected = sent.map((i) => ({
        id: i.id, body: body(i), verified: true, event: i.event, webhookId: i.id, agent: `ringhook-listen/${VERSION}`,
      }));
      assert.deepEqual(got.sort(byId), expected.sort(byId));
      assert.deepEqual(
        lines.sort(),
        sent.map((i) => `HH:MM:SS ${i.event} ${i.callId} → 200 (N ms)`).sort(),
        run.stdout,
      );
      await run.stop();
    } finally {
      await receiver.close();
    }
  });

  it('keeps its secret in the config directory (0600) across runs; --renew-secret makes and keeps a new one', async () => {
    const config = configDir();
    const secretOf = async (args) => {
      const run = listen('keeper', ['--forward-to', 'http://127.0.0.1:3000/api/webhook', ...args], { config });
      const secret = await run.secret();
      await run.stop();
      return secret;
    };
    const first = await secretOf([]);
    const second = await secretOf([]);
    const renewed = await secretOf(['--renew-secret']);
    const file = path.join(config, 'listen.json');

    assert.match(first, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(first.slice('whsec_'.length), 'base64').length, 32);
    assert.equal(second, first, 'the second run reuses the saved secret');
    assert.notEqual(renewed, first, '--renew-secret makes a new secret');
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { secret: renewed }, 'the new secret is the one kept');
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('an unreachable --forward-to is reported on the event\'s line, and listening goes on', async () => {
    const target = await down();
    try {
      const run = listen('unreached', ['--forward-to', `${target.url}/api/webhook`]);
      await run.live();
      const first = item('unreached', 'call.failed', { callId: 'call_refused' });
      await h.publish(first);
      await run.waitForLines(1);
      await target.up();
      const second = item('unreached', 'call.completed', { callId: 'call_after' });
      await h.publish(second);
      const lines = await run.waitForLines(2);
      assert.deepEqual(lines, [
        `HH:MM:SS call.failed call_refused → failed: connect ECONNREFUSED 127.0.0.1:${target.port}`,
        'HH:MM:SS call.completed call_after → 200 (N ms)',
      ]);
      await run.stop();
    } finally {
      await target.close();
    }
  });

  it('a refused token exits 1, saying to get a fresh one with make token', async () => {
    const forged = signedToken({ sub: 'forger' }, { key: otherKeyPair.privateKey });
    const run = cli(['listen', '--base-url', origin, '--token', forged, '--print-json']);
    const { code } = await run.finished;
    assert.equal(code, 1, run.stderr);
    assert.match(run.stderr, /ringhook: the token was refused \(.+\): get a fresh one \(locally: make token\) and run again\n/);
  });

  it('SIGINT closes the stream and exits 0', async () => {
    const run = listen('interrupted', ['--print-json']);
    await run.live();
    run.child.kill('SIGINT');
    assert.deepEqual(await run.finished, { code: 0, signal: null });
  });

  it('--print-json prints each event as the exact body a webhook delivers, one line each', async () => {
    const receiver = await ok();
    try {
      await h.subscribe('printer', `${receiver.url}/hook`);
      const run = listen('printer', ['--print-json']);
      await run.live();
      await h.publish([
        item('printer', 'call.scheduled', { callId: 'call_print', data: { note: 'café ☎ "quoted"', to: '+15550100' } }),
        item('printer', 'call.completed', { callId: 'call_print', data: { duration: 42.5, nested: { ok: true, list: [1, null] } } }),
      ]);
      await waitFor(() => receiver.requests.length === 2, WAIT_MS, { message: 'the two webhook deliveries' });
      const printed = await run.waitFor(({ stdout }) => stdout.split('\n').length > 2 && stdout, 'two printed events');
      const delivered = new Map(receiver.requests.map((r) => [JSON.parse(r.body).id, r.body]));
      const lines = printed.trimEnd().split('\n');
      assert.deepEqual(lines, lines.map((line) => delivered.get(JSON.parse(line).id)));
      await run.stop();
    } finally {
      await receiver.close();
    }
  });

  it('--help exits 0 and explains every flag', async () => {
    const run = cli(['listen', '--help']);
    const { code } = await run.finished;
    const flags = ['--forward-to', '--print-json', '--events', '--base-url', '--token', 'RINGHOOK_TOKEN', '--renew-secret', '--help'];
    assert.deepEqual({ code, missing: flags.filter((flag) => !run.stdout.includes(flag)) }, { code: 0, missing: [] });
  });

  it('an unknown flag is an error naming it', async () => {
    const run = cli(['listen', '--print-json', '--forward', 'http://127.0.0.1:3000']);
    const { code } = await run.finished;
    assert.deepEqual({ code, named: run.stderr.includes("'--forward'") }, { code: 2, named: true }, run.stderr);
  });

  it('neither --forward-to nor --print-json is an error saying one is needed', async () => {
    const run = cli(['listen', '--token', 'anything']);
    const { code } = await run.finished;
    assert.deepEqual({ code, says: /exactly one of --forward-to .* and --print-json/.test(run.stderr) }, { code: 2, says: true }, run.stderr);
  });

  it('without a token, exits 1 explaining how to get one', async () => {
    const run = cli(['listen', '--print-json']);
    const { code } = await run.finished;
    assert.deepEqual(
      { code, local: run.stderr.includes('make token'), production: run.stderr.includes('getIdToken()') },
      { code: 1, local: true, production: true },
      run.stderr,
    );
  });
});

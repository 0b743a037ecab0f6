// The API against its OpenAPI description, by a conformance fuzzer: schemathesis (installed into .venv by
// `make setup`) generates requests for every operation from crates/ringhook/openapi.json, valid and invalid, and
// checks every answer: no server errors, every status and body as described, valid requests accepted, invalid ones
// refused, 405 with Allow for undeclared methods. The Worker runs as in production (https webhooks only); its
// outbound requests other than to 127.0.0.1 (the test's JWKS server) are answered here, so nothing leaves the
// machine.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot, signedToken, startWorker, stopJwksServer } from './support.mjs';

const SCHEMATHESIS = path.join(repoRoot, '.venv', 'bin', 'schemathesis');
const PUBLISHER = 'conformance-publisher-token';
const MIN_REQUESTS = 300;

/** Fetches a request of the Worker's to 127.0.0.1 for real; answers any other host 200 itself. */
async function outbound(request) {
  const url = new URL(request.url);
  if (url.hostname !== '127.0.0.1') return new Response('ok', { status: 200 });
  const body = ['GET', 'HEAD'].includes(request.method) ? undefined : await request.arrayBuffer();
  const res = await fetch(request.url, { method: request.method, headers: request.headers, body });
  return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
}

/** Runs schemathesis without blocking this process (which answers the Worker's outbound requests). */
function run(args, env, cwd) {
  return new Promise((resolve, reject) => {
    // cwd: schemathesis keeps its example database (.schemathesis/) there.
    const child = spawn(SCHEMATHESIS, args, { cwd, env: { ...process.env, ...env, NO_COLOR: '1' } });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('the API conforms to its OpenAPI description (schemathesis)', () => {
  let worker;
  let dir;
  before(async () => {
    worker = await startWorker({ CALL_EVENTS_TOKEN: PUBLISHER, ALLOW_LOOPBACK_WEBHOOKS: undefined }, { queues: true, outbound });
    dir = mkdtempSync(path.join(tmpdir(), 'ringhook-conformance-'));
  });
  after(async () => {
    await worker?.close();
    await stopJwksServer();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`every operation, at least ${MIN_REQUESTS} generated requests: no server error, no schema violation, no valid request refused`, { timeout: 15 * 60_000 }, async (t) => {
    assert.ok(existsSync(SCHEMATHESIS), `${SCHEMATHESIS} is missing: run make setup`);
    const config = path.join(dir, 'schemathesis.toml');
    writeFileSync(config, `
[auth.openapi.firebase]
bearer = "\${RINGHOOK_FIREBASE_TOKEN}"

[auth.openapi.callSystem]
bearer = "\${RINGHOOK_PUBLISHER_TOKEN}"

# A log cursor is a value this API returned (the description says so, and that any other is 400): a fuzzer cannot
# make one, so a 400 for a made-up cursor is expected here.
[[operations]]
include-name = "GET /api/v6/call/webhook/subscriptions/{id}/deliveries"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "404", "429"]

# The stream is a WebSocket: a ticket this API issued opens one (101), which an HTTP fuzzer cannot follow, so it
# is not handed the tickets other answers carry. Every handshake it makes up is answered as HTTP.
[[operations]]
include-name = "GET /api/v6/call/stream"
phases.fuzzing.extra-data-sources.responses = false
phases.stateful.enabled = false
`);
    const origin = (await worker.mf.ready).origin;
    const { code, output } = await run([
      '--config-file', config, 'run', path.join(repoRoot, 'crates', 'ringhook', 'openapi.json'),
      '--url', origin, '--checks', 'all', '--max-examples', '40', '--seed', '20261204', '--no-color',
    ], { RINGHOOK_FIREBASE_TOKEN: signedToken({ sub: 'conformance-user', exp: Math.floor(Date.now() / 1000) + 3600 }), RINGHOOK_PUBLISHER_TOKEN: PUBLISHER }, dir);
    const generated = Number(/(\d+) generated/.exec(output)?.[1] ?? 0);
    t.diagnostic(`${generated} requests generated`);
    assert.deepEqual({ code, enough: generated >= MIN_REQUESTS }, { code: 0, enough: true }, `${generated} requests generated\n${output}`);
  });
});

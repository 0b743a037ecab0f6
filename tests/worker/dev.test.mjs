// `make dev`'s configuration for real: wrangler dev with this repo's wrangler.toml and .dev.vars, on a free
// port, with a fresh state directory; an emulator token from scripts/token.mjs; a receiver on 127.0.0.1.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let wrangler;
let base;
let state;
let output = '';

const freePort = () => new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  state = mkdtempSync(path.join(tmpdir(), 'ringhook-dev-'));
  wrangler = spawn(path.join(root, 'node_modules/.bin/wrangler'),
    ['dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', state, '--log-level', 'warn'],
    { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' }, detached: true });
  wrangler.stdout.on('data', (d) => { output += d; });
  wrangler.stderr.on('data', (d) => { output += d; });
  const deadline = Date.now() + 90_000;
  for (;;) {
    assert.equal(wrangler.exitCode, null, `wrangler dev exited:\n${output}`);
    assert.ok(Date.now() < deadline, `wrangler dev did not answer in time:\n${output}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
});

after(() => {
  if (wrangler && wrangler.exitCode === null) process.kill(-wrangler.pid, 'SIGTERM');
  if (state) rmSync(state, { recursive: true, force: true });
});

const token = (uid) => execFileSync(process.execPath, [path.join(root, 'scripts/token.mjs'), uid], { encoding: 'utf8' }).trim();

it('serves the API with local KV, emulator tokens and loopback receivers', async () => {
  const headers = { authorization: `Bearer ${token('dev-alice')}`, 'content-type': 'application/json' };
  const created = await fetch(`${base}/api/v6/call/webhook/subscribe`, {
    method: 'POST', headers, body: JSON.stringify({ webhook_url: 'http://127.0.0.1:9/api/webhook', events: ['call.completed'] }),
  });
  assert.equal(created.status, 201, await created.clone().text());
  const { subscription, secret_key: secret } = await created.json();
  assert.match(secret, /^whsec_/);

  const listed = await (await fetch(`${base}/api/v6/call/webhook/subscriptions`, { headers })).json();
  assert.deepEqual(listed.subscriptions.map((s) => s.id), [subscription.id]);
  const other = await (await fetch(`${base}/api/v6/call/webhook/subscriptions`, { headers: { authorization: `Bearer ${token('dev-bob')}` } })).json();
  assert.deepEqual(other.subscriptions, []);
});

it('refuses a request without a token', async () => {
  const r = await fetch(`${base}/api/v6/call/webhook/subscriptions`);
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error.code, 'unauthorized');
});

// `make dev`'s configuration for real: wrangler dev with this repo's wrangler.toml and .dev.vars, on a free
// port, with a fresh state directory; an emulator token from scripts/token.mjs; a receiver on 127.0.0.1.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot as root, startWranglerDev } from '../support/local.mjs';

let wrangler;
let base;

before(async () => {
  wrangler = await startWranglerDev();
  base = wrangler.base;
});

after(() => wrangler?.stop());

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

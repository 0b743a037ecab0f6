// The package's Workers entries in workerd, through Miniflare: pkg/workers.js and ringhook/verify's
// pkg/verify/workers.js, each in a receiver Worker; and a receiver that imports `ringhook/verify` by its package
// name, bundled by wrangler (the `workerd` export condition, the wasm as a module) before it runs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { signWebhook } from 'ringhook';
import { repoRoot, vectors, nowSeconds, xSignature } from './support.mjs';

const SECRET = vectors.cases[0].secret_key;

const fixtures = path.join(repoRoot, 'tests', 'node', 'fixtures');

/** Bundles a fixture as `wrangler deploy` would, into a temporary directory; the bundle's path. */
function wranglerBundle(script) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringhook-wrangler-bundle-'));
  const config = path.join(dir, 'wrangler.toml');
  writeFileSync(config, `name = "receiver"\nmain = ${JSON.stringify(path.join(fixtures, script))}\ncompatibility_date = "2025-09-01"\n`);
  const outdir = path.join(dir, 'out');
  execFileSync(path.join(repoRoot, 'node_modules', '.bin', 'wrangler'), ['deploy', '--dry-run', '--config', config, '--outdir', outdir],
    { cwd: dir, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, stdio: 'pipe' });
  return { scriptPath: path.join(outdir, readdirSync(outdir).find((f) => f.endsWith('.js'))), modulesRoot: outdir, dir };
}

const receivers = {
  'fixtures/worker.mjs': () => ({ scriptPath: path.join(fixtures, 'worker.mjs'), modulesRoot: repoRoot }),
  'fixtures/verify-worker.mjs': () => ({ scriptPath: path.join(fixtures, 'verify-worker.mjs'), modulesRoot: repoRoot }),
  'fixtures/package-verify-worker.mjs, bundled by wrangler': () => wranglerBundle('package-verify-worker.mjs'),
};

for (const [name, prepare] of Object.entries(receivers)) {
  describe(`workerd (Miniflare): ${name}`, () => {
    let mf;
    let built;
    before(async () => {
      built = prepare();
      mf = new Miniflare({
        modules: true,
        scriptPath: built.scriptPath,
        modulesRoot: built.modulesRoot,
        modulesRules: [
          { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
          { type: 'CompiledWasm', include: ['**/*.wasm'] },
        ],
        compatibilityDate: '2025-09-01',
        bindings: { SECRET },
      });
      await mf.ready;
    });
    after(async () => {
      await mf?.dispose();
      if (built?.dir) rmSync(built.dir, { recursive: true, force: true });
    });

    const post = (body, headers) =>
      mf.dispatchFetch('http://localhost/webhook', { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    const delivery = () => {
      const ts = nowSeconds();
      const body = JSON.stringify({ id: 'evt_w', event: 'call.completed', callId: 'call_w', status: 'completed', timestamp: ts, data: { note: 'ü ☎' } });
      return { body, headers: signWebhook(body, SECRET, { id: 'evt_w', timestamp: ts }) };
    };

    it('accepts a correctly signed delivery (Standard Webhooks headers)', async () => {
      const { body, headers } = delivery();
      const res = await post(body, headers);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { ok: true, event: JSON.parse(body) });
    });

    it('accepts a correctly signed delivery (X-Webhook-Signature only)', async () => {
      const { body } = delivery();
      const res = await post(body, { 'X-Webhook-Signature': xSignature(body, SECRET) });
      assert.equal(res.status, 200);
      assert.deepEqual((await res.json()).event, JSON.parse(body));
    });

    it('rejects a tampered delivery with 401 signature_mismatch', async () => {
      const { body, headers } = delivery();
      const res = await post(body.replace('completed"', 'failed"'), headers);
      assert.equal(res.status, 401);
      const json = await res.json();
      assert.equal(json.ok, false);
      assert.equal(json.code, 'signature_mismatch');
    });
  });
}

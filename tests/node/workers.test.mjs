// The package's Workers entries in workerd, through Miniflare: pkg/workers.js and ringhook/verify's
// pkg/verify/workers.js, each in a receiver Worker.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { signWebhook } from 'ringhook';
import { repoRoot, vectors, nowSeconds, xSignature } from './support.mjs';

const SECRET = vectors.cases[0].secret_key;

for (const script of ['worker.mjs', 'verify-worker.mjs']) {
  describe(`workerd (Miniflare): fixtures/${script}`, () => {
    let mf;
    before(async () => {
      mf = new Miniflare({
        modules: true,
        scriptPath: path.join(repoRoot, 'tests', 'node', 'fixtures', script),
        modulesRoot: repoRoot,
        modulesRules: [
          { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
          { type: 'CompiledWasm', include: ['**/*.wasm'] },
        ],
        compatibilityDate: '2025-09-01',
        bindings: { SECRET },
      });
      await mf.ready;
    });
    after(() => mf?.dispose());

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

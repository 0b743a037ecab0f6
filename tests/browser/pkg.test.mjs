// The package's browser entries in headless Chromium: pkg/index.js, which fetches ringhook.wasm, and
// ringhook/verify's pkg/verify/index.js, which fetches its own smaller verify/ringhook_verify.wasm.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { entryPage, launchChromium, serveFiles } from '../support/local.mjs';
import { pkgDir, vectors } from '../node/support.mjs';

for (const [entry, wasmFile] of [['index.js', 'ringhook.wasm'], ['verify/index.js', 'verify/ringhook_verify.wasm']]) {
  const PAGE = entryPage(entry);
  // The main entry signs too; ringhook/verify only verifies.
  const signs = entry === 'index.js';
  describe(`browser (Chromium): ${entry}`, () => {
    let server, browser, page;
    const requests = [];
    const problems = [];

    before(async () => {
      server = await serveFiles({ root: pkgDir, prefix: '/pkg/', page: PAGE, requests });

      browser = await launchChromium();
      page = await browser.newPage();
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      page.on('console', (msg) => ['error', 'warning'].includes(msg.type()) && problems.push(`${msg.type()}: ${msg.text()}`));
      await page.goto(`http://127.0.0.1:${server.address().port}/`);
      await page.waitForFunction(() => window.ringhookReady === true, null, { timeout: 15_000 });
    });

    after(async () => {
      await browser?.close();
      await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
    });

    it(`loads ${entry} and fetches the wasm beside it, without errors`, () => {
      assert.ok(requests.includes(`/pkg/${entry}`));
      assert.ok(requests.includes(`/pkg/${wasmFile}`), requests.join(' '));
      assert.deepEqual(problems, []);
    });

    it('reproduces and verifies every shared vector', async () => {
      const results = await page.evaluate((cases) => cases.map((v) => {
        const { signWebhook, verifyWebhookSignature, verifyWebhook } = window.ringhook;
        const signed = signWebhook?.(v.body, v.secret_key, { id: v.webhook_id, timestamp: v.webhook_timestamp }) ?? {};
        let event;
        if (v.webhook_signature && v.body) {
          const headers = new Headers({ 'webhook-id': v.webhook_id, 'webhook-timestamp': String(v.webhook_timestamp), 'webhook-signature': v.webhook_signature });
          event = verifyWebhook(v.body, headers, v.secret_key, { now: v.webhook_timestamp });
        }
        return {
          x: signed['x-webhook-signature'],
          sw: signed['webhook-signature'],
          valid: verifyWebhookSignature(v.body, v.x_webhook_signature, v.secret_key),
          validBytes: verifyWebhookSignature(new TextEncoder().encode(v.body), v.x_webhook_signature, v.secret_key),
          tampered: verifyWebhookSignature(v.body + ' ', v.x_webhook_signature, v.secret_key),
          event,
        };
      }), vectors.cases);

      results.forEach((r, i) => {
        const v = vectors.cases[i];
        if (signs) {
          assert.equal(r.x, v.x_webhook_signature, v.name);
          assert.equal(r.sw, v.webhook_signature ?? '', v.name);
        }
        assert.deepEqual([r.valid, r.validBytes, r.tampered], [true, true, false], v.name);
        if (v.webhook_signature && v.body) assert.deepEqual(r.event, JSON.parse(v.body), v.name);
      });
      assert.equal(results.filter((r) => r.event).length, 2); // the two non-empty whsec_ vectors
    });

    it('agrees with WebCrypto HMAC-SHA256 on random bodies and secrets, under both signatures', async () => {
      const results = await page.evaluate(async () => {
        const { signWebhook, verifyWebhookSignature, verifyWebhook } = window.ringhook;
        const enc = new TextEncoder();
        const hmac = async (key, msg) => {
          const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
          return new Uint8Array(await crypto.subtle.sign('HMAC', k, msg));
        };
        const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
        const b64 = (b) => btoa(String.fromCharCode(...b));
        const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));
        const out = [];
        for (let i = 0; i < 50; i++) {
          const key = randomBytes(32);
          const secret = 'whsec_' + b64(key);
          const note = Array.from(randomBytes(1 + (i * 7) % 400), (b) => String.fromCodePoint(b < 200 ? 32 + (b % 95) : 0x1f300 + b)).join('');
          const body = JSON.stringify({ note });
          const timestamp = 1764355200 + i;
          const x = 'sha256=' + hex(await hmac(enc.encode(secret), enc.encode(body)));
          const standard = { 'webhook-id': `evt_${i}`, 'webhook-timestamp': String(timestamp), 'webhook-signature': 'v1,' + b64(await hmac(key, enc.encode(`evt_${i}.${timestamp}.${body}`))) };
          const signed = signWebhook?.(body, secret, { id: `evt_${i}`, timestamp });
          out.push({
            signs: signed && signed['x-webhook-signature'] === x && signed['webhook-signature'] === standard['webhook-signature'],
            verifies: verifyWebhookSignature(body, x, secret),
            verifiesStandard: verifyWebhook(body, standard, secret, { now: timestamp }).note === note,
            input: { body, secret },
          });
        }
        return out;
      });
      assert.equal(results.length, 50);
      const signs = entry === 'index.js' ? true : undefined;
      for (const { input, ...r } of results) assert.deepEqual(r, { signs, verifies: true, verifiesStandard: true }, JSON.stringify(input));
    });
  });
}

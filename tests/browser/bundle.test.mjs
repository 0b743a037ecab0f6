// Both entries as a bundler sees them: an app importing `ringhook` or `ringhook/verify`, bundled by esbuild for the
// browser (the `browser` export condition), its wasm copied beside the bundle where the entry's
// `new URL(..., import.meta.url)` asks for it, run in headless Chromium against the shared vectors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { launchChromium, serveFiles } from '../support/local.mjs';
import { pkgDir, repoRoot, swHeaders, vectors } from '../node/support.mjs';

const APP = `import { verifyWebhook, verifyWebhookSignature } from 'ENTRY';
window.verifyVector = (v) => ({
  valid: verifyWebhookSignature(v.body, v.x_webhook_signature, v.secret_key),
  tampered: verifyWebhookSignature(v.body + ' ', v.x_webhook_signature, v.secret_key),
  event: v.headers ? verifyWebhook(v.body, new Headers(v.headers), v.secret_key, { now: v.webhook_timestamp }) : null,
});
window.ready = true;
`;

for (const [entry, entryDir] of [['ringhook', pkgDir], ['ringhook/verify', path.join(pkgDir, 'verify')]]) {
  describe(`an esbuild bundle of ${entry} in Chromium`, () => {
    let dir, server, browser, page, bundle;
    const problems = [];
    const requests = [];

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'ringhook-bundle-'));
      await build({
        stdin: { contents: APP.replace('ENTRY', entry), resolveDir: path.join(repoRoot, 'tests', 'node'), loader: 'js' },
        bundle: true, format: 'esm', platform: 'browser', outfile: path.join(dir, 'app.js'), logLevel: 'silent',
      });
      bundle = await readFile(path.join(dir, 'app.js'), 'utf8');
      // What a bundler leaves to the app: the wasm file the entry asks for, relative to the bundle.
      for (const [, file] of bundle.matchAll(/new URL\("([^"]+\.wasm)", import\.meta\.url\)/g)) {
        await cp(path.join(entryDir, file), path.join(dir, file));
      }
      const html = '<!doctype html><link rel="icon" href="data:,"><script type="module" src="/app.js"></script>';
      server = await serveFiles({ root: dir, page: html, requests });
      browser = await launchChromium();
      page = await browser.newPage();
      page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
      await page.goto(`http://127.0.0.1:${server.address().port}/`);
      await page.waitForFunction(() => window.ready === true, null, { timeout: 15_000 });
    });

    after(async () => {
      await browser?.close();
      await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('loads the bundle and the one wasm beside it, without errors', () => {
      assert.equal(requests.filter((r) => r.endsWith('.wasm')).length, 1, requests.join(' '));
      assert.deepEqual(problems, []);
    });

    it('verifies every shared vector', async () => {
      for (const v of vectors.cases) {
        const headers = v.webhook_signature && v.body ? swHeaders(v) : null;
        const result = await page.evaluate((input) => window.verifyVector(input), { ...v, headers });
        assert.deepEqual(result, { valid: true, tampered: false, event: headers ? JSON.parse(v.body) : null }, v.name);
      }
    });
  });
}

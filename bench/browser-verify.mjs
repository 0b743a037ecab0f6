// verifyWebhookSignature against WebCrypto in headless Chromium, per call at 1 KiB and 64 KiB:
// `node bench/browser-verify.mjs` after `make pkg`. WebCrypto is asynchronous, so each of its calls is awaited
// before the next, as a receiver verifying one request does; the key is imported once, outside the loop.
// verifyWebhookSignature is synchronous and runs in a plain loop.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../tests/support/local.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const page = `<!doctype html><script type="module">
import { verifyWebhookSignature, signWebhook } from '/pkg/index.js';
window.run = async (size, ms) => {
  const secret = 'whsec_' + btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
  const body = JSON.stringify({ id: 'evt_1', event: 'call.completed', callId: 'c', status: 'completed', timestamp: 1, data: { note: 'x'.repeat(size - 106) } });
  const signature = signWebhook(body, secret, { id: 'evt_1' })['x-webhook-signature'];
  const tag = Uint8Array.from(signature.slice(7).match(/../g).map((h) => parseInt(h, 16)));
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const bytes = new TextEncoder().encode(body);
  const rate = async (fn) => {
    for (let i = 0; i < 200; i++) if (!(await fn())) throw new Error('verification failed');
    let n = 0; const end = performance.now() + ms;
    while (performance.now() < end) { for (let i = 0; i < 16; i++) if (!(await fn())) throw new Error('verification failed'); n += 16; }
    return n / (ms / 1000);
  };
  const rateSync = (fn) => {
    for (let i = 0; i < 200; i++) if (!fn()) throw new Error('verification failed');
    let n = 0; const end = performance.now() + ms;
    while (performance.now() < end) { for (let i = 0; i < 16; i++) if (!fn()) throw new Error('verification failed'); n += 16; }
    return n / (ms / 1000);
  };
  const ours = rateSync(() => verifyWebhookSignature(body, signature, secret));
  const webcrypto = await rate(() => crypto.subtle.verify('HMAC', key, tag, new TextEncoder().encode(body)));
  const webcryptoBytes = await rate(() => crypto.subtle.verify('HMAC', key, tag, bytes));
  const encoder = new TextEncoder();
  const perRequest = await rate(async () => {
    const k = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    return crypto.subtle.verify('HMAC', k, tag, encoder.encode(body));
  });
  return { size, ours, webcrypto, webcryptoBytes, perRequest };
};
window.ready = true;
</script>`;

const server = http.createServer(async (req, res) => {
  if (req.url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
  try {
    const file = path.join(root, path.normalize(req.url).replace(/^(\.\.[/\\])+/, ''));
    const content = await readFile(file);
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' }).end(content);
  } catch { res.writeHead(404).end(); }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const browser = await launchChromium();
try {
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  await tab.waitForFunction(() => window.ready === true);
  const rows = [];
  for (const size of [1024, 65536]) rows.push(await tab.evaluate(([s]) => window.run(s, 1500), [size]));
  console.log(`Chromium ${browser.version()}, headless; each WebCrypto call awaited before the next; key imported once\n`);
  console.log('| body | verifyWebhookSignature | subtle.verify, string encoded per call | ratio | subtle.verify, bytes ready | ratio | importKey + verify per call | ratio |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const f = (x) => Math.round(x).toLocaleString('en-US');
    const x = (y) => `${(r.ours / y).toFixed(1)}×`;
    console.log(`| ${r.size / 1024} KiB | ${f(r.ours)}/s | ${f(r.webcrypto)}/s | ${x(r.webcrypto)} | ${f(r.webcryptoBytes)}/s | ${x(r.webcryptoBytes)} | ${f(r.perRequest)}/s | ${x(r.perRequest)} |`);
  }
} finally {
  await browser.close();
  server.close();
}

// What the end-to-end tests start on this machine: free ports, `wrangler dev` with this repo's config, Debian's
// Chromium with the flags a closed network needs, and a file server for the pages the browser tests load.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A TCP port free on 127.0.0.1 at the time of asking. */
export const freePort = () => new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

/**
 * `wrangler dev` with this repo's wrangler.toml and .dev.vars, on a free port, with a fresh state directory.
 * Resolves once /healthz answers; rejects with wrangler's output if it exits or does not answer in time.
 */
export async function startWranglerDev({ timeoutMs = 90_000 } = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const state = mkdtempSync(path.join(tmpdir(), 'ringhook-wrangler-'));
  let output = '';
  const child = spawn(path.join(repoRoot, 'node_modules/.bin/wrangler'),
    ['dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', state, '--log-level', 'warn'],
    { cwd: repoRoot, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' }, detached: true });
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  child.on('exit', (code, signal) => { output += `[exited: ${code ?? signal}]\n`; });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGTERM');
    rmSync(state, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      stop();
      throw new Error(`wrangler dev exited:\n${output}`);
    }
    if (Date.now() > deadline) {
      stop();
      throw new Error(`wrangler dev did not answer in time:\n${output}`);
    }
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { base, output: () => output, stop };
}

/** Debian's Chromium, headless; without the background-networking flags it keeps dialling the closed network. */
export const launchChromium = () => chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
});

/**
 * A page that imports the package's browser `entry` (a path under /pkg/) as `window.ringhook`, then sets
 * `window.ringhookReady`: what a browser test serves at `/` with serveFiles.
 */
export const entryPage = (entry = 'index.js') => `<!doctype html><meta charset="utf-8"><title>ringhook</title><link rel="icon" href="data:,">
<script type="module">
  import * as ringhook from '/pkg/${entry}';
  window.ringhook = ringhook;
  window.ringhookReady = true;
</script>`;

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.ts': 'text/plain' };

/**
 * An HTTP server on a free port of 127.0.0.1 for a browser test: `/` answers `page`, and a path under `prefix` the
 * file at the rest of it under `root` (never outside it). Every path asked for is appended to `requests`.
 * Resolves once it listens.
 */
export async function serveFiles({ root, prefix = '/', page, requests = [] }) {
  const server = http.createServer(async (req, res) => {
    const { pathname } = new URL(req.url, 'http://localhost');
    requests.push(pathname);
    if (pathname === '/') return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    const file = path.join(root, decodeURIComponent(pathname.slice(prefix.length)));
    if (!pathname.startsWith(prefix) || !file.startsWith(root + path.sep)) return res.writeHead(404).end();
    try {
      const data = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(data);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

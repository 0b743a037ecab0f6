// What a browser app ships: an import of each entry, bundled and minified by esbuild for the browser, and the wasm
// the entry loads beside it; gzip -9 sizes. A receiver imports one verifier; a frontend everything the main entry
// has (client, dispatcher, stream, store). `node bench/bundle-size.mjs` after `make pkg`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// GNU gzip, as for the other size rows.
const gz = (bytes) => execFileSync('gzip', ['-9c'], { input: bytes }).length;

console.log('| bundled entry (esbuild --minify, browser) | JS gzip -9 | .wasm gzip -9 | together |');
console.log('|---|---:|---:|---:|');
const rows = [
  ['export * from \'ringhook\'', 'pkg/ringhook.wasm'],
  ['export { verifyWebhook } from \'ringhook\'', 'pkg/ringhook.wasm'],
  ['export { verifyWebhook } from \'ringhook/verify\'', 'pkg/verify/ringhook_verify.wasm'],
];
for (const [source, wasm] of rows) {
  const { outputFiles } = await build({
    stdin: { contents: `${source};`, resolveDir: path.join(root, 'tests', 'node'), loader: 'js' },
    bundle: true, minify: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent',
  });
  const js = gz(outputFiles[0].contents);
  const w = gz(readFileSync(path.join(root, wasm)));
  console.log(`| \`${source}\` | ${js} B | ${w} B | ${js + w} B (${((js + w) / 1024).toFixed(1)} KiB) |`);
}

// The core's JSON writer against JavaScript's own (crates/ringhook/tests/wasm.rs), in Node and in headless Chromium (`make test-wasm`).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../tests/support/local.mjs';

const runs = [
  [['test', '--node'], process.env],
  [['test', '--headless', '--chrome'], { ...process.env, WASM_BINDGEN_USE_BROWSER: '1' }],
];
let status = 0;
for (const [args, env] of runs) {
  ({ status } = spawnSync('wasm-pack', args, { cwd: path.join(repoRoot, 'crates/ringhook'), env, stdio: 'inherit' }));
  if (status !== 0) break;
}
process.exit(status ?? 1);

// The core's JavaScript surface in Node and in headless Chromium (`make test-wasm`). The client's tests talk to
// the real Worker: this starts it in wrangler dev (this repo's config, fresh state, a free port) and compiles
// its address in as RINGHOOK_API_URL.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot, startWranglerDev } from '../tests/support/local.mjs';

const worker = await startWranglerDev();
let status = 0;
try {
  const env = { ...process.env, RINGHOOK_API_URL: worker.base };
  const runs = [
    [['test', '--node', '--', '--features', 'wasm'], env],
    [['test', '--headless', '--chrome', '--', '--features', 'wasm'], { ...env, WASM_BINDGEN_USE_BROWSER: '1' }],
  ];
  for (const [args, runEnv] of runs) {
    ({ status } = spawnSync('wasm-pack', args, { cwd: path.join(repoRoot, 'crates/ringhook'), env: runEnv, stdio: 'inherit' }));
    if (status !== 0) break;
  }
} finally {
  worker.stop();
}
process.exit(status ?? 1);

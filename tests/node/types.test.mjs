// The package's TypeScript declarations: a strict usage file compiles against them, with no `any` exported.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pkgDir, repoRoot } from './support.mjs';

it('a strict TypeScript program type-checks against the package', () => {
  const tsc = path.join(repoRoot, 'node_modules/.bin/tsc');
  const usage = path.join(repoRoot, 'tests/node/fixtures/usage.ts');
  try {
    execFileSync(tsc, ['--noEmit', '--strict', '--noUnusedLocals', 'false', '--target', 'es2022', '--module', 'nodenext',
      '--moduleResolution', 'nodenext', '--lib', 'es2022,dom,esnext.disposable', '--skipLibCheck', 'false', usage],
    { cwd: path.join(repoRoot, 'tests/node'), encoding: 'utf8' });
  } catch (e) {
    assert.fail(`tsc found errors:\n${e.stdout}${e.stderr}`);
  }
});

it('declares no export as any', () => {
  const declarations = readFileSync(path.join(pkgDir, 'ringhook.d.ts'), 'utf8');
  const code = declarations.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const anys = code.split('\n').filter((line) => /\bany\b/.test(line));
  assert.deepEqual(anys, []);
});

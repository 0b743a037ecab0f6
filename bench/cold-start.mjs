// A Worker's cold start on local workerd, side by side in one run: an empty JavaScript Worker (the runtime's
// floor), the workers-rs hello of bench/hello-worker (the floor of any Rust Worker: one fetch handler reading one
// KV key, ringhook's toolchain and release profile), ringhook, and the two floors again with a SQLite-backed
// Durable Object of a few lines bound as ringhook's is (the hello's `object` build): a Worker with an object pays
// for its class and binding before its first answer, whatever its code. Each round, interleaved, starts a fresh
// Miniflare (a new workerd, which compiles the Worker's wasm) and times, from `new Miniflare`: ready, the first
// answer to GET /healthz, and the second answer on its own. Median of 51 rounds (RINGHOOK_COLD_START_ROUNDS): on
// this machine the median of 9 moved by up to 36 ms from one run to the next.
// More rows split compiling from the rest: an empty JavaScript Worker that imports ringhook's wasm, or the
// hello's, and never instantiates it (the runtime compiles a Worker's wasm modules as it loads them); one that has
// ringhook's wasm in its bundle and never imports it (the runtime compiles it all the same, so splitting the wasm into
// modules loaded later would save nothing); and one that instantiates it with no-op imports, without its start.
// Two more import ringhook's wasm with function bodies emptied (each made a single `unreachable`), the largest
// first, until half of its code's bytes, then all of them, are gone: what compiling costs per byte of code.
// Run after `make worker` and `bench/hello-worker/build.sh`: `node bench/cold-start.mjs`.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { Miniflare } from 'miniflare';

const ROUNDS = Number(process.env.RINGHOOK_COLD_START_ROUNDS ?? 51);
const dir = (relative) => new URL(relative, import.meta.url);
const ringhookBuild = dir('../crates/ringhook-worker/build/');
const helloBuild = dir('hello-worker/build/');
const helloObjectBuild = dir('hello-worker/build-object/');
const EMPTY = 'export default { fetch: () => new Response(\'{"ok":true}\', { headers: { "content-type": "application/json" } }) };';
/** The binding of ringhook's user objects, for a class of the given name. */
const objectBinding = (className) => ({ USERS: { className, useSQLite: true } });

/** An empty JavaScript Worker importing `build`'s wasm, which it never instantiates. */
const importing = (build) => () => ({
  modules: [
    { type: 'ESModule', path: 'index.js', contents: `import wasm from './index_bg.wasm';\n${EMPTY.replace('() =>', '() => wasm &&')}` },
    { type: 'CompiledWasm', path: 'index_bg.wasm', contents: readFileSync(new URL('index_bg.wasm', build)) },
  ],
});
/** An empty JavaScript Worker with `build`'s wasm among its modules, which it never imports. */
const bundling = (build) => () => ({
  modules: [
    { type: 'ESModule', path: 'index.js', contents: EMPTY },
    { type: 'CompiledWasm', path: 'index_bg.wasm', contents: readFileSync(new URL('index_bg.wasm', build)) },
  ],
});
/** An empty JavaScript Worker instantiating `build`'s wasm as it loads, every import a no-op, its start not run. */
const instantiating = (build) => () => ({
  modules: [
    {
      type: 'ESModule',
      path: 'index.js',
      contents: `import wasm from './index_bg.wasm';
const noop = (i) => i.kind === 'tag' ? WebAssembly.JSTag : i.kind === 'table' ? new WebAssembly.Table({ element: 'externref', initial: 1 }) : () => {};
const imports = {};
for (const i of WebAssembly.Module.imports(wasm)) (imports[i.module] ??= {})[i.name] = noop(i);
const instance = new WebAssembly.Instance(wasm, imports);
${EMPTY.replace('() =>', '() => instance &&')}`,
    },
    { type: 'CompiledWasm', path: 'index_bg.wasm', contents: readFileSync(new URL('index_bg.wasm', build)) },
  ],
});
/** Reads an unsigned LEB128 number at `at`: [value, the offset after it]. */
function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}
const encodeLeb = (value) => {
  const out = [];
  do {
    const byte = value % 128;
    value = Math.floor(value / 128);
    out.push(value > 0 ? byte | 0x80 : byte);
  } while (value > 0);
  return Buffer.from(out);
};

/** `wasm` with its largest function bodies emptied until `fraction` of its code's bytes are gone (valid: each body
 * becomes no locals and `unreachable`, which fits any signature). */
function emptied(wasm, fraction) {
  const parts = [wasm.subarray(0, 8)];
  for (let at = 8; at < wasm.length;) {
    const id = wasm[at];
    const [size, start] = leb(wasm, at + 1);
    let section = wasm.subarray(start, start + size);
    if (id === 10) {
      let [count, offset] = leb(section, 0);
      const bodies = [];
      for (let i = 0; i < count; i++) {
        const [length, from] = leb(section, offset);
        bodies.push(section.subarray(from, from + length));
        offset = from + length;
      }
      const total = bodies.reduce((sum, body) => sum + body.length, 0);
      const gone = new Set();
      let removed = 0;
      for (const i of bodies.map((_, i) => i).sort((a, b) => bodies[b].length - bodies[a].length)) {
        if (removed >= fraction * total) break;
        gone.add(i);
        removed += bodies[i].length;
      }
      const empty = Buffer.from([0x00, 0x00, 0x0b]);
      section = Buffer.concat([encodeLeb(count), ...bodies.flatMap((body, i) => {
        const kept = gone.has(i) ? empty : body;
        return [encodeLeb(kept.length), kept];
      })]);
    }
    parts.push(Buffer.from([id]), encodeLeb(section.length), section);
    at = start + size;
  }
  return Buffer.concat(parts);
}
/** An empty JavaScript Worker importing ringhook's wasm with `fraction` of its code's bytes emptied, not instantiated. */
const importingEmptied = (fraction) => {
  const wasm = emptied(readFileSync(new URL('index_bg.wasm', ringhookBuild)), fraction);
  return () => ({
    modules: [
      { type: 'ESModule', path: 'index.js', contents: `import wasm from './index_bg.wasm';\n${EMPTY.replace('() =>', '() => wasm &&')}` },
      { type: 'CompiledWasm', path: 'index_bg.wasm', contents: wasm },
    ],
  });
};
const compiled = (build) => ({
  modules: true,
  scriptPath: new URL('index.js', build).pathname,
  modulesRoot: build.pathname,
  modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true }],
});
const WORKERS = [
  ['empty JavaScript Worker', () => ({ modules: true, script: EMPTY }), null],
  ['workers-rs hello (one KV read)', () => ({ ...compiled(helloBuild), kvNamespaces: ['SUBSCRIPTIONS'] }), helloBuild],
  ['ringhook', () => ({
    ...compiled(ringhookBuild),
    kvNamespaces: ['SUBSCRIPTIONS'],
    durableObjects: objectBinding('UserState'),
    bindings: {
      FIREBASE_PROJECT_ID: 'demo-ringhook',
      SECRETS_KEY: Buffer.alloc(32, 1).toString('base64'),
      FIREBASE_JWKS_URL: 'http://127.0.0.1:9/jwks',
    },
  }), ringhookBuild],
  ['empty JavaScript Worker with a Durable Object', () => ({
    modules: true,
    script: `${EMPTY}\nexport class Floor { fetch() { return new Response('{}'); } }`,
    durableObjects: objectBinding('Floor'),
  }), null],
  ['workers-rs hello with a Durable Object', () => ({
    ...compiled(helloObjectBuild), kvNamespaces: ['SUBSCRIPTIONS'], durableObjects: objectBinding('Floor'),
  }), helloObjectBuild],
  ["empty JavaScript Worker importing the hello's wasm, not instantiated", importing(helloBuild), null],
  ["empty JavaScript Worker importing ringhook's wasm, not instantiated", importing(ringhookBuild), null],
  ["empty JavaScript Worker with ringhook's wasm in its bundle, not imported", bundling(ringhookBuild), null],
  ["empty JavaScript Worker instantiating ringhook's wasm, no-op imports", instantiating(ringhookBuild), null],
  ["empty JavaScript Worker importing ringhook's wasm, half its code's bytes emptied", importingEmptied(0.5), null],
  ["empty JavaScript Worker importing ringhook's wasm, every function body emptied", importingEmptied(1), null],
];

// RINGHOOK_BASELINE_BUILD=<a build directory of ringhook>: a row more, that build, measured in the same rounds.
if (process.env.RINGHOOK_BASELINE_BUILD) {
  const baseline = new URL(`${process.env.RINGHOOK_BASELINE_BUILD.replace(/\/$/, '')}/`, `file://${process.cwd()}/`);
  const [, ringhook] = WORKERS[2];
  WORKERS.push(['ringhook, baseline build', () => ({ ...ringhook(), ...compiled(baseline) }), baseline]);
}

async function round(options) {
  const t0 = performance.now();
  const mf = new Miniflare({ compatibilityDate: '2025-09-01', kvPersist: false, durableObjectsPersist: false, ...options });
  try {
    await mf.ready;
    const ready = performance.now();
    const first = await mf.dispatchFetch('http://localhost/healthz');
    await first.arrayBuffer();
    if (!first.ok) throw new Error(`first answer ${first.status}`);
    const answered = performance.now();
    const second = await mf.dispatchFetch('http://localhost/healthz');
    await second.arrayBuffer();
    const again = performance.now();
    return { ready: ready - t0, first: answered - t0, second: again - answered };
  } finally {
    await mf.dispose();
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const samples = WORKERS.map(() => []);
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, [, options]] of WORKERS.entries()) samples[i].push(await round(options()));
}

const size = (build) => {
  if (!build) return '—';
  const wasm = readFileSync(new URL('index_bg.wasm', build));
  const js = readFileSync(new URL('index.js', build));
  return `${(wasm.length / 1024).toFixed(0)} KiB raw, ${((gzipSync(wasm, { level: 9 }).length + gzipSync(js, { level: 9 }).length) / 1024).toFixed(1)} KiB gzip`;
};
const ms = (x) => `${x.toFixed(1)} ms`;
const firstOf = (i) => median(samples[i].map((s) => s.first));
const over = (first, floor) => `${first - floor >= 0 ? '+' : ''}${ms(first - floor)}`;
const [hello, helloObject] = [firstOf(1), firstOf(4)];
console.log(`Cold start on local workerd (Miniflare), from \`new Miniflare\`, median of ${ROUNDS} interleaved rounds\n`);
console.log('| Worker | bundle | ready | first answer | over the hello | over the hello with an object | second answer |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const [i, [name, , build]] of WORKERS.entries()) {
  const first = firstOf(i);
  const rust = build !== null;
  console.log(`| ${name} | ${size(build)} | ${ms(median(samples[i].map((s) => s.ready)))} | ${ms(first)} | ${rust ? over(first, hello) : '—'} | ${rust ? over(first, helloObject) : '—'} | ${ms(median(samples[i].map((s) => s.second)))} |`);
}
// What compiling ringhook's wasm costs over compiling the hello's, beside ringhook's whole cold start over the hello;
// then what its wasm costs the empty Worker imported, in the bundle only, and instantiated.
const named = (start) => WORKERS.findIndex(([name]) => name.startsWith(start));
const importingRinghook = firstOf(named("empty JavaScript Worker importing ringhook's"));
const compiling = importingRinghook - firstOf(named("empty JavaScript Worker importing the hello's"));
console.log(`\nCompiling ringhook's wasm, imported and not instantiated, answers ${over(compiling, 0)} later than the hello's; ringhook answers ${over(firstOf(2), hello)} later than the hello.`);
const bundled = firstOf(named("empty JavaScript Worker with ringhook's")) - firstOf(0);
const instantiated = firstOf(named('empty JavaScript Worker instantiating')) - importingRinghook;
console.log(`Over the empty Worker, ringhook's wasm answers ${over(importingRinghook - firstOf(0), 0)} later imported, ${over(bundled, 0)} in the bundle and never imported; instantiating it with no-op imports moves the first answer by ${over(instantiated, 0)}.`);
const halfGone = importingRinghook - firstOf(named("empty JavaScript Worker importing ringhook's wasm, half"));
const allGone = importingRinghook - firstOf(named("empty JavaScript Worker importing ringhook's wasm, every"));
console.log(`Imported whole, ringhook's wasm answers ${over(halfGone, 0)} later than with half of its code's bytes emptied (the largest function bodies first), and ${over(allGone, 0)} later than with every function body emptied.`);

// The `ringhook/verify` entry (its own smaller wasm build) in Node.js, ES modules and CommonJS: every case of
// pkg.test.mjs, through this entry.
process.env.RINGHOOK_PKG_ENTRY = 'ringhook/verify';
await import('./pkg.test.mjs');

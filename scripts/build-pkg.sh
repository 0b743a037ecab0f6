#!/usr/bin/env bash
# Builds the npm package `ringhook` into pkg/: two wasm modules from the core, each without std or wasm-bindgen
# (ringhook.wasm for the main entry, crates/ringhook/src/wasm.rs; ringhook_verify.wasm for ringhook/verify,
# crates/ringhook/src/verify_abi.rs), under the entry files kept in pkg/ (index.js for browsers and bundlers,
# node.mjs and node.cjs for Node.js, workers.js for Workers, and the same under verify/), and the CommonJS copies
# of the shared JavaScript.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"   # wasm-opt from npm `binaryen`

wasm() {
  local feature=$1 out=$2
  cargo build --quiet --release --target wasm32-unknown-unknown -p ringhook --no-default-features --features "$feature"
  wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    --strip-debug --strip-producers "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/ringhook.wasm" -o "$out"
}

wasm wasm pkg/ringhook.wasm
wasm verify-abi pkg/verify/ringhook_verify.wasm

# CommonJS copies: each file's exports made CommonJS ones, its imports requires (pkg/ is an ES module package;
# pkg/node/ is CommonJS).
rm -rf pkg/web pkg/node
mkdir -p pkg/node
echo '{ "type": "commonjs" }' > pkg/node/package.json
commonjs() {
  local from=$1 to=$2 names=$3
  sed -E -e 's/^export (function|class|const) /\1 /' \
    -e "s|^import \{ defineVerifyRequest \} from '../request.js';|const { defineVerifyRequest } = require('../node/request.cjs');|" \
    -e "s|^import \{ defineVerifier \} from './verify/verify.js';|const { defineVerifier } = require('../verify/verify.cjs');|" \
    "$from" > "$to"
  echo "module.exports = { $names };" >> "$to"
}
commonjs pkg/verify/verify.js pkg/verify/verify.cjs defineVerifier
commonjs pkg/core.js pkg/node/core.cjs defineCore
commonjs pkg/stream.js pkg/node/stream.cjs defineStream
commonjs pkg/request.js pkg/node/request.cjs defineVerifyRequest
commonjs pkg/client.js pkg/node/client.cjs WebhookClient
# The dashboard (www/, served by the Worker as static assets) imports the browser build from /pkg/.
rm -rf www/pkg
mkdir -p www/pkg/verify
cp pkg/index.js pkg/core.js pkg/stream.js pkg/client.js pkg/request.js pkg/ringhook.wasm www/pkg/
cp pkg/verify/verify.js www/pkg/verify/

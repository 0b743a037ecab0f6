#!/usr/bin/env bash
# Builds the npm package `ringhook` into pkg/: one wasm-pack build per runtime family, under the entry files
# kept in pkg/ (index.js for browsers and bundlers, node.mjs and node/ for Node.js, workers.js for Workers).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"   # wasm-opt from npm `binaryen`

build() {
  local target=$1 dir=$2
  wasm-pack --quiet build crates/ringhook --release --no-pack --target "$target" \
    --out-dir "../../pkg/$dir" --out-name ringhook -- --features wasm
  rm -f "pkg/$dir/.gitignore"
}

build web web
build nodejs node
# ringhook/verify: the core's verifier alone, built without std or wasm-bindgen
# (crates/ringhook/src/verify_abi.rs), under the hand-written pkg/verify/verify.js and its CommonJS copy.
cargo build --quiet --release --target wasm32-unknown-unknown -p ringhook --no-default-features --features verify-abi
wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  --strip-debug --strip-producers "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/ringhook.wasm" \
  -o pkg/verify/ringhook_verify.wasm
sed -e 's/^export //' \
  -e "s|^import { defineVerifyRequest } from '../request.js';|const { defineVerifyRequest } = require('../node/request.cjs');|" \
  pkg/verify/verify.js > pkg/verify/verify.cjs
echo 'module.exports = { imports, init, verifyWebhookSignature, verifyWebhook, verifyRequest };' >> pkg/verify/verify.cjs
# pkg/ is an ES module package; the Node.js build is CommonJS.
echo '{ "type": "commonjs" }' > pkg/node/package.json
cp pkg/node/ringhook.d.ts pkg/ringhook.d.ts
# The stream for CommonJS: stream.js with its one export made a CommonJS one.
sed 's/^export function defineStream/function defineStream/' pkg/stream.js > pkg/node/stream.cjs
echo 'module.exports = { defineStream };' >> pkg/node/stream.cjs
# verifyRequest and the API's client likewise.
sed 's/^export function defineVerifyRequest/function defineVerifyRequest/' pkg/request.js > pkg/node/request.cjs
echo 'module.exports = { defineVerifyRequest };' >> pkg/node/request.cjs
sed 's/^export class WebhookClient/class WebhookClient/' pkg/client.js > pkg/node/client.cjs
echo 'module.exports = { WebhookClient };' >> pkg/node/client.cjs
# The dashboard (www/, served by the Worker as static assets) imports the browser build from /pkg/.
rm -rf www/pkg
mkdir -p www/pkg/web
cp pkg/index.js pkg/stream.js pkg/client.js pkg/request.js www/pkg/
cp pkg/web/ringhook.js pkg/web/ringhook_bg.wasm www/pkg/web/

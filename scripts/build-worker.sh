#!/usr/bin/env bash
# Builds the Worker into crates/ringhook-worker/build/ (and its OpenAPI description into www/) with worker-build, offline: wasm-bindgen, wasm-opt and
# esbuild come from this machine (make setup) instead of being downloaded. Given a directory, builds the Worker
# crate there instead (bench/hello-worker), with any further arguments passed to worker-build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
cd "${1:-$root/crates/ringhook-worker}"
worker-build --release "${@:2}"
# The Worker calls its user objects' methods directly (JavaScript RPC), allowed on classes deriving from DurableObject.
[ -n "${1:-}" ] || node "$root/scripts/object-rpc.mjs" "$root/crates/ringhook-worker/build/index.js"
# The OpenAPI description is served from the static assets (the Worker reads it through its ASSETS binding), not
# carried in the wasm.
[ -n "${1:-}" ] || cp "$root/crates/ringhook/openapi.json" "$root/www/openapi.json"

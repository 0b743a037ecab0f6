#!/usr/bin/env bash
# What gloo and serde-wasm-bindgen would cost the package's browser build, in gzip -9 bytes of .wasm + JS glue:
# wasm-bindgen and the core with nothing exported, then with one export using gloo-net's WebSocket and
# gloo-timers, then with one using serde-wasm-bindgen, and, to tell their own bytes from what any Rust frame
# handling needs, one export that only parses a frame with serde_json. Built with wasm-pack (release profile,
# wasm-opt -O3, as the package's wasm is optimised).
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PWD/../../node_modules/.bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/../../target}"
out=$(mktemp -d)
gz() { gzip -9c "$1" | wc -c; }
size() {
  local name=$1; shift
  wasm-pack --quiet build . --release --no-pack --target web --out-dir "$out/$name" --out-name probe -- "$@" >&2
  echo $(( $(gz "$out/$name/probe_bg.wasm") + $(gz "$out/$name/probe.js") ))
}
base=$(size base)
json=$(size json --features json)
gloo=$(size gloo --features gloo)
swb=$(size swb --features swb)
kib() { awk "BEGIN{printf \"%.1f\", $1/1024}"; }
echo "| build (web target) | .wasm + glue gzip -9 | added |"
echo "|---|---:|---:|"
echo "| wasm-bindgen and the core, nothing exported | $base B ($(kib $base) KiB) | |"
echo "| + frames parsed in Rust (serde_json), returned as JSON text | $json B | +$(kib $((json - base))) KiB |"
echo "| + gloo-net WebSocket and gloo-timers backoff | $gloo B | +$(kib $((gloo - base))) KiB |"
echo "| + serde-wasm-bindgen frames | $swb B | +$(kib $((swb - base))) KiB |"
rm -rf "$out"

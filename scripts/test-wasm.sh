#!/usr/bin/env bash
# The core's JavaScript surface in Node and in headless Chromium. The client's tests talk to the real Worker:
# this starts it in wrangler dev (this repo's config, fresh state, a free port) and compiles its address in.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
state=$(mktemp -d)
log="$state/wrangler.log"
cd "$root"
setsid wrangler dev --ip 127.0.0.1 --port "$port" --persist-to "$state" --log-level warn > "$log" 2>&1 &
pid=$!
trap 'kill -- -$pid 2>/dev/null || true; rm -rf "$state"' EXIT
for _ in $(seq 1 240); do
  curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "wrangler dev exited" >&2; exit 1; }
  sleep 0.25
done
curl -sf "http://127.0.0.1:$port/healthz" > /dev/null || { cat "$log"; echo "wrangler dev did not answer" >&2; exit 1; }

export RINGHOOK_API_URL="http://127.0.0.1:$port"
cd crates/ringhook
wasm-pack test --node -- --features wasm
WASM_BINDGEN_USE_BROWSER=1 wasm-pack test --headless --chrome -- --features wasm

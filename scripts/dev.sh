#!/usr/bin/env bash
# make dev: the Worker in wrangler dev (local KV and Queues, state in .wrangler/state) with the dashboard on
# http://127.0.0.1:8787, and the demo receiver on http://127.0.0.1:8788 relaying verified events to the page.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
cd "$root"
node www/demo-receiver/server.mjs &
receiver=$!
trap 'kill $receiver 2>/dev/null || true' EXIT
echo "ringhook: dashboard on http://127.0.0.1:8787/ (sign in with any uid), demo receiver on http://127.0.0.1:8788"
wrangler dev --ip 127.0.0.1 --port 8787 --persist-to .wrangler/state

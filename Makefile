# ringhook: `make dev` runs it locally, `make test` runs every suite, `make pkg` builds the npm package,
# `make bench` measures. Each first installs what the machine lacks (scripts/setup.sh).
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

CORE := crates/ringhook
UID ?= alice

.PHONY: setup pkg worker dev token test test-native test-wasm test-pkg test-worker bench

setup:
	@scripts/setup.sh

pkg: setup
	scripts/build-pkg.sh

worker: setup
	scripts/build-worker.sh

# The Worker in workerd with local KV and Queues, and the dashboard, on http://127.0.0.1:8787 (state in
# .wrangler/state); the demo receiver on http://127.0.0.1:8788.
dev: worker pkg
	scripts/dev.sh

# A Firebase Auth emulator token for local use: make token UID=bob
token:
	@node scripts/token.mjs $(UID)

test: setup
	$(MAKE) --no-print-directory test-native worker test-wasm pkg test-pkg test-worker

# Native unit and integration tests of every crate.
test-native:
	cargo test --workspace

# The core's JSON writer against the JavaScript engines' own, in Node and headless Chromium.
test-wasm:
	node scripts/test-wasm.mjs

# The built package through its entry points: Node (ESM and CommonJS), workerd, Chromium.
test-pkg:
	node --test tests/node/ tests/browser/

# The built Worker in workerd (Miniflare, and wrangler dev with this repo's config), and the deployable bundle.
test-worker:
	node --test tests/worker/
	wrangler deploy --dry-run --env production --outdir "$$(mktemp -d)" > /dev/null

bench: pkg worker
	scripts/bench.sh

# ringhook: `make test` runs every suite, `make pkg` builds the npm package, `make bench` measures it.
# Each target first installs what the machine lacks (scripts/setup.sh), so a fresh machine needs nothing else.
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

CORE := crates/ringhook

.PHONY: setup pkg test test-native test-wasm test-pkg bench

setup:
	@scripts/setup.sh

pkg: setup
	scripts/build-pkg.sh

test: setup
	$(MAKE) --no-print-directory test-native test-wasm pkg test-pkg

# Native unit and integration tests of every crate.
test-native:
	cargo test --workspace

# The core's JavaScript surface inside Node and headless Chromium.
test-wasm:
	cd $(CORE) && wasm-pack test --node -- --features wasm
	cd $(CORE) && WASM_BINDGEN_USE_BROWSER=1 wasm-pack test --headless --chrome -- --features wasm

# The built package through its entry points: Node (ESM and CommonJS), workerd, Chromium.
test-pkg:
	node --test tests/node/ tests/browser/

bench: pkg
	scripts/bench.sh

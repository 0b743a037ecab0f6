#!/usr/bin/env bash
# Installs what ringhook's build and tests need and a fresh machine lacks; skips whatever is already there at
# the right version, so a warm machine is done in seconds. Run as root (apt) or with the tools already present.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' Cargo.toml)
WASM_PACK_VERSION=0.15.1
WORKER_BUILD_VERSION=0.8.7
SCHEMATHESIS_VERSION=4.32.5
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf 'setup: %s\n' "$*"; }

# Debian: Chromium and its driver for the browser tests.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  say "installing chromium and chromium-driver"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# cargo tools at pinned versions. wasm-bindgen-cli must equal the wasm-bindgen crate pinned in Cargo.toml;
# it is installed without --locked because one of its locked dependencies is not served by the registry here.
has_version() { command -v "$1" >/dev/null && "$1" --version 2>/dev/null | grep -qE "(^| )$2( |$)"; }
if ! has_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi
if ! has_version wasm-pack "$WASM_PACK_VERSION"; then
  say "installing wasm-pack $WASM_PACK_VERSION"
  cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked --force
fi
if ! has_version worker-build "$WORKER_BUILD_VERSION"; then
  say "installing worker-build $WORKER_BUILD_VERSION"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force
fi

# npm: wrangler (workerd, Miniflare, esbuild), binaryen's wasm-opt, the libraries the tests compare against.
# Skipped when node_modules was installed from this very lockfile (a stamp of its hash).
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.ringhook-lock 2>/dev/null)" != "$lock_hash" ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.ringhook-lock
fi

# schemathesis, the OpenAPI conformance fuzzer of tests/worker/conformance.test.mjs, in a virtual environment of
# the repository's own (.venv), pinned.
if ! .venv/bin/schemathesis --version 2>/dev/null | grep -q " $SCHEMATHESIS_VERSION\$"; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into .venv"
  if ! python3 -m venv .venv 2>/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv .venv
  fi
  .venv/bin/pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# The Node tests import the built package by its name.
mkdir -p tests/node/node_modules
ln -sfn ../../../pkg tests/node/node_modules/ringhook
say "ready"

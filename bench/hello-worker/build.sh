#!/usr/bin/env bash
# Builds the hello Worker into bench/hello-worker/build/ as ringhook's is built, in the repo's target directory, and
# the hello with a Durable Object (its `object` feature) into build-object/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../../target}"
"$here/../../scripts/build-worker.sh" "$here"
"$here/../../scripts/build-worker.sh" "$here" --out-dir build-object -- --features object

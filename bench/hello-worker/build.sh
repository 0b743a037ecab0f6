#!/usr/bin/env bash
# Builds the hello Worker into bench/hello-worker/build/ as ringhook's is built, in the repo's target directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../../target}"
exec "$here/../../scripts/build-worker.sh" "$here"

#!/usr/bin/env bash
# Measures the package (Node benchmark, size of each build target) and the native core (criterion), and
# rewrites the measured part of BENCHMARKS.md. Run through `make bench`, which builds the package first.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)

gz() { gzip -9c "$1" | wc -c; }
{
  # Each entry's JavaScript is every file it loads, as published (unminified), each gzipped: the entry file, the
  # core's and the verifier's JavaScript sides, verifyRequest, the client and the stream.
  echo "| build target | .wasm raw | .wasm gzip -9 | JS gzip -9 (entry, core, verifier, verifyRequest, client, stream) | together gzip -9 |"
  echo "|---|---:|---:|---:|---:|"
  for t in web node; do
    w=pkg/ringhook.wasm
    if [ $t = web ]; then files="pkg/index.js pkg/core.js pkg/verify/verify.js pkg/request.js pkg/client.js pkg/stream.js"
    else files="pkg/node.cjs pkg/node/core.cjs pkg/verify/verify.cjs pkg/node/request.cjs pkg/node/client.cjs pkg/node/stream.cjs"; fi
    j=0; for f in $files; do j=$(( j + $(gz $f) )); done
    echo "| $t | $(wc -c < $w) B | $(gz $w) B | $j B | $(( $(gz $w) + j )) B ($(awk "BEGIN{printf \"%.1f\", ($(gz $w) + $j)/1024}") KiB) |"
  done
  # ringhook/verify in a browser: its wasm, its entry and the glue the entry imports (each gzipped, as served).
  w=pkg/verify/ringhook_verify.wasm js=$(( $(gz pkg/verify/index.js) + $(gz pkg/verify/verify.js) + $(gz pkg/request.js) ))
  echo "| ringhook/verify | $(wc -c < $w) B | $(gz $w) B | $js B | $(( $(gz $w) + js )) B ($(awk "BEGIN{printf \"%.1f\", ($(gz $w) + $js)/1024}") KiB) |"
  echo
  node bench/bundle-size.mjs
} > "$out/size.md"

node bench/verify.mjs > "$out/node.md"
node bench/browser-verify.mjs > "$out/browser.md"
# The Worker's start-up log line (its sign-in mode) goes to the same stdout; it is not a figure.
node bench/api-load.mjs | grep -v '^sign-in: ' > "$out/api.md"
node bench/delivery-load.mjs > "$out/delivery.md"
node bench/stream.mjs > "$out/stream.md"
bash bench/wasm-size-probe/measure.sh > "$out/probe.md"
bench/hello-worker/build.sh >&2
node bench/cold-start.mjs > "$out/cold-start.md"
node bench/object-start.mjs > "$out/object-start.md"
node bench/storage-count.mjs > "$out/storage.md"

cargo bench -p ringhook --bench core -- --warm-up-time 1 --measurement-time 3 --noplot > "$out/native.txt" 2>/dev/null

python3 - "$out" <<'PY'
import sys, re, pathlib, platform, subprocess
out = pathlib.Path(sys.argv[1])
doc = pathlib.Path("BENCHMARKS.md")
text = doc.read_text() if doc.exists() else "# Benchmarks\n\n<!-- measured:start -->\n<!-- measured:end -->\n"
native = re.findall(r"(signature/\S+)\s+time:\s+\[\S+ \S+ (\S+ \S+) \S+ \S+\]\s+thrpt:\s+\[\S+ \S+ (\S+ \S+) \S+ \S+\]",
                    (out / "native.txt").read_text())
native_md = "| benchmark | median time | throughput |\n|---|---:|---:|\n" + "".join(f"| {n} | {t} | {r} |\n" for n, t, r in native)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
measured = f"""<!-- measured:start -->
Measured by `make bench` on {cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores.

### Package size (`make pkg`)
{(out/'size.md').read_text()}
### Verification in Node (`node bench/verify.mjs`)
{(out/'node.md').read_text()}
### Verification in Chromium against WebCrypto (`node bench/browser-verify.mjs`)
{(out/'browser.md').read_text()}
### Subscription API on local workerd (`node bench/api-load.mjs`)
{(out/'api.md').read_text()}
### Delivery pipeline on local workerd (`node bench/delivery-load.mjs`)
{(out/'delivery.md').read_text()}
### Live stream on local workerd and Chromium (`node bench/stream.mjs`)
{(out/'stream.md').read_text()}
### What gloo and serde-wasm-bindgen would add to the package (`bench/wasm-size-probe/measure.sh`)
{(out/'probe.md').read_text()}
### Cold start on local workerd (`node bench/cold-start.mjs`)
{(out/'cold-start.md').read_text()}
### A user's object starting on local workerd (`node bench/object-start.mjs`)
{(out/'object-start.md').read_text()}
### A user's object and its SQLite storage on local workerd (`node bench/storage-count.mjs`)
{(out/'storage.md').read_text()}
### Native core (`cargo bench -p ringhook --bench core`)
{native_md}<!-- measured:end -->"""
text = re.sub(r"<!-- measured:start -->.*<!-- measured:end -->", lambda _: measured, text, flags=re.S)
doc.write_text(text)
PY
echo "BENCHMARKS.md updated"

#!/usr/bin/env bash
# Main command (for now): install the ONNX Runtime library, build painters, and show
# what it finds in every bundled exported model.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-ort.sh >/dev/null
cargo build --release --locked -q
for m in tests/fixtures/*/model.onnx; do
  echo "== $m"
  target/release/painters inspect "$m" | sed -n '2,4p'
done

#!/usr/bin/env bash
# The test command: installs what the tests need (the ONNX Runtime library
# from PyPI into .ort/), then runs the whole workspace's tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-ort.sh >/dev/null
scripts/install-clients.sh >/dev/null
export ORT_DYLIB_PATH="$PWD/.ort/lib/libonnxruntime.so"
cargo test --workspace --locked "$@"

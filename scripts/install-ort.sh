#!/usr/bin/env bash
# Installs the ONNX Runtime shared library from the PyPI wheel
# onnxruntime==1.31.1 into .ort/lib/ (git-ignored). Idempotent.
# Usage: scripts/install-ort.sh [--gpu]   (--gpu: onnxruntime-gpu, needs CUDA 13)
set -euo pipefail
ORT_VERSION=1.31.1
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.ort/lib"
package=onnxruntime
if [[ "${1:-}" == "--gpu" ]]; then package=onnxruntime-gpu; dest="$root/.ort/gpu/lib"; fi
if [[ -f "$dest/libonnxruntime.so.$ORT_VERSION" && -e "$dest/libonnxruntime.so" ]]; then
  echo "$dest/libonnxruntime.so"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: "$package==$ORT_VERSION" -d "$tmp" >&2
wheel="$(ls "$tmp"/*.whl)"
python3 - "$wheel" "$tmp/x" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.startswith("onnxruntime/capi/lib") and ".so" in n:
            z.extract(n, sys.argv[2])
PY
mkdir -p "$dest"
cp "$tmp"/x/onnxruntime/capi/lib*.so* "$dest/"
ln -sf "libonnxruntime.so.$ORT_VERSION" "$dest/libonnxruntime.so"
echo "$dest/libonnxruntime.so"

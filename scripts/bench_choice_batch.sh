#!/usr/bin/env bash
# BENCHMARKS.md §11: multiple choice on a with-past model, each choice's
# continuation run on its own on the context's KV cache (OLD, a build of
# 1fb31d3) against all continuations of an example in one batch on the
# repeated cache (NEW). SmolLM2-135M with past, 40 examples of three BIG-bench
# tasks (18.8, 5 and 4 choices on average), RUNS processes each, interleaved;
# prints one JSON line per process (task seconds inside painters).
# Usage: OLD=out/painters-old NEW=target/release/painters scripts/bench_choice_batch.sh [RUNS] > out/bench-choice-batch.jsonl
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# It measured BIG-bench tasks; PyPI no longer serves bigbench 1.0.0 (scripts/DATA.md).
[[ -f data/bigbench/candidates.json ]] || { echo "$(basename "$0"): needs data/bigbench (scripts/fetch-data.sh with the bigbench 1.0.0 archive in data/cache/; scripts/DATA.md)" >&2; exit 2; }
RUNS=${1:-3}
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/lib/libonnxruntime.so}
OLD=${OLD:?a painters binary built from 1fb31d3}
NEW=${NEW:-target/release/painters}
M=models/smollm2-135m-past
for _ in $(seq "$RUNS"); do
  for t in reasoning_about_colored_objects unit_conversion__si_conversion ruin_names; do
    for which in old new; do
      b=$OLD; [[ $which == new ]] && b=$NEW
      "$b" eval "$M" --task choice --data "data/bigbench/$t/task.json" --limit 40 --threads 2 --json 2>/dev/null \
        | python3 -c 'import json,sys; v=json.load(sys.stdin); t=v["painters.timing"]; print(json.dumps({"build": "'"$which"'", "task": "'"$t"'", "task_s": round(t["task_seconds"], 3), "runs": t["runs"], "acc": v["results"]["choice"]["acc,none"], "acc_norm": v["results"]["choice"]["acc_norm,none"]}))'
    done
  done
done

#!/usr/bin/env bash
# BENCHMARKS.md §3 follow-up: painters' `run` calls cold (the first of a
# process) and warm, against onnxruntime-Python's (scripts/bench_ort_gap.py),
# same model, batch 8 × 512, 2 threads. painters: `painters eval --task
# perplexity` on 4096 tokens (one run of 8 windows) and on 8192 tokens (two
# runs); the second run's time is Σ run(8192) − Σ run(4096). RUNS processes each,
# interleaved. Usage: scripts/bench_ort_gap.sh [RUNS] > out/bench-ort-gap.jsonl
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${1:-5}
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/lib/libonnxruntime.so}
P=${PAINTERS:-target/release/painters}
M=models/smollm2-135m
for _ in $(seq "$RUNS"); do
  for tok in 4096 8192; do
    "$P" eval "$M" --task perplexity --data data/text/brown.txt --window 512 --stride 512 --max-tokens "$tok" --threads 2 --json 2>/dev/null \
      | python3 -c 'import json,sys; t=json.load(sys.stdin)["painters.timing"]; print(json.dumps({"engine": "painters", "tokens": '"$tok"', "runs": t["runs"], "run_s": round(t["run_seconds"], 3), "session_s": round(t["session_seconds"], 2)}))'
  done
  .venv-fixtures/bin/python scripts/bench_ort_gap.py "$M/model.onnx" --sessions 1 --runs 4 | sed 's/^{/{"engine": "ort-python", /'
done

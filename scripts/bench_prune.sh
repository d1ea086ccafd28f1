#!/usr/bin/env bash
# BENCHMARKS.md §8: greedy (SLEB) pruning search on SmolLM2-135M, candidates
# scored from the model's pieces and the reused stream (default) vs every
# candidate as its own model in its own session (--no-reuse), RUNS runs each
# (medians reported), then the issue's time check: K = 6 on 2048 tokens.
# Usage: scripts/bench_prune.sh [RUNS] > out/bench-prune.jsonl (one JSON line per run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${1:-3}
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/lib/libonnxruntime.so}
P=target/release/painters
M=models/smollm2-135m
one() { # label, args...
  local label=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$P" prune "$M" --method greedy --json "$@" 2>/dev/null > /tmp/bench-prune.json
  t1=$(date +%s.%N)
  python3 - "$label" "$t0" "$t1" "$*" <<'PY'
import json, sys
d = json.load(open("/tmp/bench-prune.json"))
label, t0, t1, args = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
print(json.dumps({"label": label, "args": args, "wall_s": round(t1 - t0, 2), "search_s": round(d["seconds"], 2),
                  "removed": d["removed"], "scoring": d["scoring"], "evaluated": d["evaluated"],
                  "scores": [s for r in d["rounds"] for s in r["scores"]]}), flush=True)
PY
}
for _ in $(seq "$RUNS"); do
  one reuse --budget 1 --calib README.md --window 128 --max-tokens 512
  one no-reuse --budget 1 --calib README.md --window 128 --max-tokens 512 --no-reuse
done
one k6-2048 --budget 6 --calib data/text/shakespeare.txt --window 128 --max-tokens 2048

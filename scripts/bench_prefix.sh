#!/usr/bin/env bash
# BENCHMARKS.md §10: would evaluating each sweep configuration from cached
# prefix hidden states pay off? Every configuration at start layer N runs
# blocks 0..N-1 of the full model first, so a sweep could compute the stream
# entering block N once per N and start every configuration there. This
# measures what that could save at most: the cost of a block in the sweep's
# own evaluation, from models running the first B blocks (B = 1, 8, 15, 30;
# plan 0-(B-1), the head included), fitted as a + b·B per task, then the
# blocks a cache would skip summed over the reproduction's configurations.
# Usage: scripts/bench_prefix.sh [RUNS] > out/bench-prefix.jsonl
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# It measured BIG-bench tasks; PyPI no longer serves bigbench 1.0.0 (scripts/DATA.md).
[[ -f data/bigbench/candidates.json ]] || { echo "$(basename "$0"): needs data/bigbench (scripts/fetch-data.sh with the bigbench 1.0.0 archive in data/cache/; scripts/DATA.md)" >&2; exit 2; }
RUNS=${1:-3}
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/lib/libonnxruntime.so}
P=${PAINTERS:-target/release/painters}
M=models/smollm2-135m-past
W=out/bench-prefix
mkdir -p "$W"
for B in 1 8 15 30; do
  [[ -f "$W/b$B/model.onnx" ]] || "$P" rewrite "$M" --plan "0-$((B - 1))" -o "$W/b$B/" --link >/dev/null
done
one() { # blocks, task label, eval args...
  local b=$1 label=$2; shift 2
  "$P" eval "$W/b$b" "$@" --threads 2 --json 2>/dev/null > "$W/eval.json"
  python3 - "$b" "$label" <<'PY'
import json, sys
d = json.load(open("out/bench-prefix/eval.json"))
t = d["painters.timing"]
print(json.dumps({"blocks": int(sys.argv[1]), "task": sys.argv[2], "task_s": round(t["task_seconds"], 3),
                  "run_s": round(t["run_seconds"], 3), "runs": t["runs"]}), flush=True)
PY
}
for _ in $(seq "$RUNS"); do
  for B in 1 8 15 30; do
    one "$B" brown-4096 --task perplexity --data data/text/brown.txt --window 512 --stride 512 --max-tokens 4096
    one "$B" si_conversion-100 --task choice --data data/bigbench/unit_conversion__si_conversion/task.json --limit 100
  done
done
# The fit and what a prefix cache would save over the reproduction's configurations
# (scripts/repro.sh: N = 0..14, the six presets, looped-parallel with 3, 2 and 4 loops).
for N in $(seq 0 14); do
  for p in skip middle-repeat reverse random parallel; do
    echo "$N $("$P" plan --preset "$p" --layers 30 --n "$N" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"])')"
  done
  for K in 3 2 4; do
    echo "$N $("$P" plan --preset looped-parallel --layers 30 --n "$N" --loops "$K" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["instances"])')"
  done
done > "$W/configs.txt"

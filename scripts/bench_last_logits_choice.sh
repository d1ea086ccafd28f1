#!/usr/bin/env bash
# BENCHMARKS.md §12: multiple choice on a with-past model, the prefill computing
# the LM head at every context position (OLD: out/painters-repro-b, a build of a11dd7b) against the
# scoring form that computes it at the last position only (NEW). SmolLM2-135M
# with past, 40 examples of each choice task of the reproduction's suite, one
# thread (as each of the reproduction's two processes), RUNS rounds,
# interleaved; prints one JSON line per process: task seconds inside
# painters, and the largest difference of a per-choice log-likelihood from
# OLD's of the same round.
# Usage: OLD=out/painters-old NEW=target/release/painters scripts/bench_last_logits_choice.sh [RUNS] > out/bench-last-logits.jsonl
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# It measured BIG-bench tasks; PyPI no longer serves bigbench 1.0.0 (scripts/DATA.md).
[[ -f data/bigbench/candidates.json ]] || { echo "$(basename "$0"): needs data/bigbench (scripts/fetch-data.sh with the bigbench 1.0.0 archive in data/cache/; scripts/DATA.md)" >&2; exit 2; }
RUNS=${1:-3}
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/lib/libonnxruntime.so}
OLD=${OLD:?a painters binary built before the scoring form, e.g. from a11dd7b}
NEW=${NEW:-target/release/painters}
M=models/smollm2-135m-past
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for _ in $(seq "$RUNS"); do
  for t in reasoning_about_colored_objects unit_conversion__si_conversion unit_conversion__unit_identification movie_recommendation; do
    for which in old new; do
      b=$OLD; [[ $which == new ]] && b=$NEW
      "$b" eval "$M" --task choice --data "data/bigbench/$t/task.json" --limit 40 --threads 1 --json 2>/dev/null > "$tmp/$which.json"
    done
    python3 - "$tmp" "$t" <<'PY'
import json, sys
d, t = sys.argv[1:]
v = {w: json.load(open(f"{d}/{w}.json")) for w in ("old", "new")}
ll = {w: [x for r in v[w]["details"]["ll"] for x in r] for w in v}
diff = max(abs(a - b) for a, b in zip(ll["old"], ll["new"]))
for w in ("old", "new"):
    tm = v[w]["painters.timing"]
    print(json.dumps({"build": w, "task": t, "task_s": round(tm["task_seconds"], 3), "runs": tm["runs"], "acc": v[w]["results"]["choice"]["acc,none"], "max_ll_diff": diff, "n_ll": len(ll[w])}))
PY
  done
done

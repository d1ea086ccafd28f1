#!/usr/bin/env bash
# The full reproduction on record (issue: research-grade sweeps): the paper's
# experiment on SmolLM2-135M (every start layer N = 0..14, the six presets,
# looped-parallel with 3, 2 and 4 loops, scripts/suites/smollm2-repro.json)
# and on all-MiniLM-L6-v2 (N = 0..2, scripts/suites/minilm-repro.json). Many hours
# on 2 cores: it runs as SHARDS shards one after another (each shard a spread
# of the configurations, so a partial run already covers every preset) and
# is resumable: rerun it and it continues where it stopped. After each shard
# (and with --publish) the results, manifests, report and plots are copied to
# docs/results/{smollm2,minilm}/ (the work folders stay in out/).
#   scripts/repro.sh            run (or resume), publishing as it goes
#   scripts/repro.sh --publish  only merge what is there and publish
# Without data/bigbench (PyPI no longer serves it) the SmolLM2 part runs the generated tasks
# (scripts/suites/smollm2-repro-gen.json -> docs/results/smollm2-gen/). A fresh out/ is seeded
# from the records in docs/results/, so a new machine resumes where the last one stopped.
# PAR shards run at once (default 2), each with --threads = cores / PAR: on 2 cores
# two 1-thread processes score 1.3x the examples per second of one 2-thread process,
# with bit-identical numbers (BENCHMARKS.md §11).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/long_run.sh
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/lib/libonnxruntime.so}
P=${PAINTERS:-target/release/painters}
# The report (--report-only) is written by the newest build even when PAINTERS pins the build that
# evaluates (a resumed run keeps evaluating with the binary it started with; report rules change).
R=${PAINTERS_REPORT:-target/release/painters}; [[ -x $R ]] || R=$P
SHARDS=${SHARDS:-8}
PAR=${PAR:-2}
THREADS=$(( $(nproc) / PAR > 0 ? $(nproc) / PAR : 1 ))
publish_only=0; [[ "${1:-}" == "--publish" ]] && publish_only=1

sm=(--model models/smollm2-135m-past --n-range 0..14 --loops 3,2,4 --tasks scripts/suites/smollm2-repro.json --title "SmolLM2-135M-Instruct")
sm_out=out/repro-smollm2 sm_docs=docs/results/smollm2
if [[ ! -f data/bigbench/candidates.json ]]; then
  # No BIG-bench on this machine (PyPI no longer serves bigbench 1.0.0, scripts/DATA.md): the
  # reproduction on the generated tasks, a sweep of its own with its own folder.
  echo "no data/bigbench: the SmolLM2 reproduction runs scripts/suites/smollm2-repro-gen.json (docs/results/smollm2-gen)" >&2
  sm=(--model models/smollm2-135m-past --n-range 0..14 --loops 3,2,4 --tasks scripts/suites/smollm2-repro-gen.json --title "SmolLM2-135M-Instruct, generated tasks")
  sm_out=out/repro-smollm2-gen sm_docs=docs/results/smollm2-gen
fi
mini=(--model models/minilm-l6 --n-range 0..2 --loops 3,2,4 --tasks scripts/suites/minilm-repro.json --title "all-MiniLM-L6-v2")
mini_out=out/repro-minilm-large # until 2026-12-07: out/repro-minilm with scripts/suites/minilm.json (repro_notes/minilm.md)

# A new machine starts from the records on record: the shards' results and manifests are
# copied from docs/results/ into an out folder that has none, and the sweep resumes from them
# (it checks that they belong to this sweep: model digest, suite, plans).
seed() { # out-folder, docs-folder
  if [[ -d $2 ]] && ! ls "$1"/results*.jsonl >/dev/null 2>&1; then
    mkdir -p "$1"
    cp "$2"/results*.jsonl "$2"/sweep*.json "$2"/wall.log "$1"/ 2>/dev/null || true
    echo "seeded $1 from $2 ($(cat "$1"/results*.jsonl 2>/dev/null | wc -l) records)" >&2
  fi
}
seed "$mini_out" docs/results/minilm
seed "$sm_out" "$sm_docs"

# The arguments as one copy-pasteable shell line (an argument with a space or quote is quoted).
quoted() {
  local a out=()
  for a in "$@"; do [[ $a =~ [^A-Za-z0-9_./,:=+@%-] ]] && a="'${a//\'/\'\\\'\'}'"; out+=("$a"); done
  echo "${out[*]}"
}

publish() { # out-folder, docs-folder, how its shards ran (one|par), sweep args...
  local out=$1 dest=$2 how=$3; shift 3
  local merged; merged=$("$R" sweep "$@" --out "$out" --report-only --partial)
  mkdir -p "$dest"
  cp "$out"/results*.jsonl "$out"/sweep*.json "$out"/report.md "$out"/*.png "$out"/*.svg "$out"/normalized_score.csv "$out"/claims.json "$dest"/ 2>/dev/null || true
  [[ -f "$out/similarity.csv" ]] && cp "$out/similarity.csv" "$out/similarity.json" "$dest"/
  [[ -f $dest/RUN.md ]] && cp "$dest/RUN.md" "$dest/RUN.md.old"
  # Updated: when the records last changed (a publish without new records keeps the line on record).
  local records; records=$(cat "$out"/results*.jsonl | wc -l)
  local updated; updated=$({ grep -o "^Updated: [^.]*\. Records: $records;" "$dest/RUN.md.old" 2>/dev/null || true; } | cut -d' ' -f2 | tr -d .)
  {
    echo "# How these results were made"
    echo
    if [[ $how == par ]]; then
      echo "Command: \`scripts/repro.sh\` (SHARDS=$SHARDS, PAR=$PAR), i.e. for I in 1..$SHARDS, $PAR at a time: \`painters sweep $(quoted "$@") --out $out --shard I/$SHARDS --threads $THREADS\`, then \`--report-only --partial\`."
    else
      echo "Command: \`scripts/repro.sh\` (SHARDS=$SHARDS), i.e. for I in 1..$SHARDS, one at a time with every core: \`painters sweep $(quoted "$@") --out $out --shard I/$SHARDS\`, then \`--report-only --partial\`."
    fi
    # The machines the records were evaluated on, in order: the list on record, and this machine
    # once it adds records (a publish of a finished run on another machine keeps the list).
    local here; here=$(machine)
    local machines; machines=$(sed -n -e 's/^Machine: \(.*\), ONNX Runtime from onnxruntime==1\.31\.1\.$/\1/p' -e 's/^Machines, in order: \(.*\)\. ONNX Runtime from onnxruntime==1\.31\.1\.$/\1/p' "$dest/RUN.md.old" 2>/dev/null || true)
    if [[ -z $machines ]]; then machines=$here
    elif [[ -z $updated && "; $machines; " != *"; $here; "* ]]; then machines="$machines; $here"; fi
    if [[ $machines == *"; "* ]]; then
      echo "Machines, in order: $machines. ONNX Runtime from onnxruntime==1.31.1."
    else
      echo "Machine: $machines, ONNX Runtime from onnxruntime==1.31.1."
    fi
    # What changed while it ran (edit that file, not this one: a running bash reads its script as it goes).
    local notes; notes="scripts/repro_notes/$(basename "$dest").md"
    if [[ -f $notes ]]; then echo; cat "$notes"; echo; fi
    echo "Updated: ${updated:-$(date -u +%Y-%m-%dT%H:%MZ)}. Records: $records; evaluation seconds so far: $(cat "$out"/results*.jsonl | python3 -c 'import json,sys; print(round(sum(json.loads(l)["seconds"]["eval"]+json.loads(l)["seconds"]["rewrite"]+json.loads(l)["seconds"]["session"] for l in sys.stdin)))')."
    if [[ -f $out/wall.log ]]; then
      echo "Wall time kept since $(head -n 1 "$out/wall.log")Z: $(wall_time "$out/wall.log") in which its shards ran (\`wall.log\`: a line for each minute)."
      cp "$out/wall.log" "$dest"/
    fi
    # How far: the merged results (with those of configurations not evaluated again) of all configurations x tasks.
    echo "Progress: ${merged%%[^0-9]*} of $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(len(m["configs"])*len(m["tasks"]))' "$(ls "$out"/sweep*.json | head -n 1)") results (configurations x tasks)."
    # What is left, from a fit of the finished configurations' times (nothing once done).
    python3 scripts/repro_eta.py "$out" "$SHARDS" "$([[ $how == par ]] && echo "$PAR" || echo 1)"
    # The report's numbers recomputed by a second implementation (docs/EVAL.md).
    echo
    echo "Checked: \`$(python3 scripts/check_report.py "$dest" || true)\`"
  } > "$dest/RUN.md"
  rm -f "$dest/RUN.md.old"
}

if [[ $publish_only == 0 ]]; then
  for i in $(seq "$SHARDS"); do
    "$P" sweep "${mini[@]}" --out "$mini_out" --shard "$i/$SHARDS"
  done
  publish "$mini_out" docs/results/minilm one "${mini[@]}"
  # The wall time: a line for each minute in which the shards run (a killed run loses at most one).
  heartbeat "$sm_out/wall.log"
  for i in $(seq "$SHARDS"); do
    while (( $(jobs -rp | wc -l) >= PAR + 1 )); do wait -n || true; done
    (
      "$P" sweep "${sm[@]}" --out "$sm_out" --shard "$i/$SHARDS" --threads "$THREADS"
      exec 9>out/repro-publish.lock && flock 9 # one publish at a time
      publish "$sm_out" "$sm_docs" par "${sm[@]}"
    ) &
  done
  while (( $(jobs -rp | wc -l) > 1 )); do wait -n || true; done
  kill "$HEARTBEAT"
fi
publish "$mini_out" docs/results/minilm one "${mini[@]}"
publish "$sm_out" "$sm_docs" par "${sm[@]}"

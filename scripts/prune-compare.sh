#!/usr/bin/env bash
# The pruning comparison on record: `painters prune --compare` on SmolLM2-135M for K = 1..8,
# every method, scored on held-out Shakespeare and the generated budget suite
# (scripts/suites/smollm2-budget-gen.json), into docs/results/prune-smollm2-gen/. Hours on
# 2 cores, so it is resumable across sessions and machines like repro.sh: every plan scored
# is a line of compare.cells.jsonl and every greedy candidate one of prune.log.jsonl (keyed by
# the model, the windows and the suite; docs/PRUNE.md); a fresh out/ is seeded from the lines
# on record, and a rerun scores only the rest.
#   scripts/prune-compare.sh            run (or resume), then publish
#   scripts/prune-compare.sh --publish  only publish what is there (while a run goes on: its logs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/long_run.sh
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/lib/libonnxruntime.so}
P=${PAINTERS:-target/release/painters}
out=out/prune-smollm2-gen docs=docs/results/prune-smollm2-gen
args=(prune models/smollm2-135m --compare --budget 1..8 --calib data/text/shakespeare.txt --heldout data/text/heldout.txt --eval scripts/suites/smollm2-budget-gen.json --max-tokens 2048)
publish_only=0; [[ "${1:-}" == "--publish" ]] && publish_only=1

# A new machine starts from the lines on record.
if [[ -d $docs && ! -f $out/compare.cells.jsonl ]]; then
  mkdir -p "$out"
  cp "$docs"/compare.cells.jsonl "$docs"/prune.log.jsonl "$docs"/wall.log "$docs"/runs.log "$out"/ 2>/dev/null || true
  echo "seeded $out from $docs ($(wc -l < "$out/compare.cells.jsonl" 2>/dev/null || echo 0) plans scored)" >&2
fi

publish() {
  mkdir -p "$docs"
  cp "$out"/compare.cells.jsonl "$out"/prune.log.jsonl "$out"/wall.log "$out"/runs.log "$docs"/ 2>/dev/null || true
  # The report once the comparison has finished (written after its last plan).
  local finished=0
  if [[ -f $out/compare.json && $out/compare.json -nt $out/compare.cells.jsonl ]]; then
    finished=1
    cp "$out"/compare.json "$out"/prune_report.md "$out"/prune_compare.svg "$out"/prune_compare.png "$docs"/
    [[ -f $out/time.txt ]] && cp "$out/time.txt" "$docs"/
  fi
  {
    echo "# How these results were made"
    echo
    echo "Command: \`scripts/prune-compare.sh\`, i.e."
    echo
    echo '```sh'
    echo "painters ${args[*]} --out $out"
    echo '```'
    echo
    echo "Run, resumed where it stopped (\`runs.log\`: when each run started, on which machine, with which build):"
    echo
    sed 's/^/- /' "$out/runs.log" 2>/dev/null || true
    echo
    if [[ -f $out/wall.log ]]; then
      echo "Wall time: $(wall_time "$out/wall.log") in which it ran (\`wall.log\`: a line for each minute), ONNX Runtime from onnxruntime==1.31.1."
    fi
    if [[ -f $docs/time.txt && $finished == 1 ]]; then
      echo "The last run, measured by \`/usr/bin/time -v\` (\`time.txt\`): $(grep -E 'Elapsed \(wall' "$docs/time.txt" | sed 's/.*: //') wall, peak RSS $(awk '/Maximum resident/ {printf "%.1f GB", $NF/1e6}' "$docs/time.txt")."
    fi
    local plans=0 cands=0
    [[ -f $out/compare.cells.jsonl ]] && plans=$(wc -l < "$out/compare.cells.jsonl")
    [[ -f $out/prune.log.jsonl ]] && cands=$(wc -l < "$out/prune.log.jsonl")
    if [[ $finished == 1 ]]; then
      echo "Finished: $plans plans scored (the full model and every method's plan for K = 1..8; a plan two methods agree on is scored once); greedy evaluated $cands candidates. The results are \`prune_report.md\` and \`compare.json\`."
    else
      echo "Not finished: plans scored so far: $plans (of at most 33: the full model and 4 methods x 8 budgets; a plan two methods agree on is scored once), greedy's candidates so far: $cands. \`scripts/prune-compare.sh\` goes on from them; the report is written when every plan is in."
    fi
  } > "$docs/RUN.md"
}

if [[ $publish_only == 0 ]]; then
  mkdir -p "$out"
  build=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.lock || echo "+changes")
  echo "$(date -u +%Y-%m-%dT%H:%MZ) on $(machine); build of commit $build" >> "$out/runs.log"
  heartbeat "$out/wall.log"
  trap 'kill $HEARTBEAT 2>/dev/null || true' EXIT
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -v -o "$out/time.txt" "$P" "${args[@]}" --out "$out"
  else
    "$P" "${args[@]}" --out "$out"
  fi
fi
publish

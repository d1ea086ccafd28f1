#!/usr/bin/env bash
# A manual end-to-end check of scripts/slurm under a real Slurm, on one machine
# with root and apt (NOT part of CI: it installs packages and starts daemons).
# It installs slurm-wlm and munge if missing, starts a throwaway single-node
# cluster (local-cluster.sh), and on the fixture tests/fixtures/llama-optimum
# with the suite tests/data/suite.json (N 0..1: 13 configurations, 9 distinct models, x 4 tasks):
#   A. submit.sh 3: the array and the merge; shard 2 is requeued mid-way
#      (scontrol requeue) and resumes; the merge runs after it;
#   B. submit.sh 3 again into a new folder; shard 3 is killed mid-way
#      (scancel), the merge is cancelled (its dependency can no longer be met);
#      ARRAY=3 submit.sh 3 reruns shard 3, which resumes, and a new merge;
#   C. a partial array submitted by hand without SHARDS is refused;
# and compares A's and B's records and report.md with one `painters sweep`
# without --shard (records without their timings, report without its
# "Evaluation time:" line). Stops the cluster if it started it. Exits non-zero
# on any failure or mismatch.
#   scripts/slurm/test-local.sh            (from the repository root, as root)
# Environment: PAINTERS (default target/release/painters), ORT_DYLIB_PATH
# (default .ort/lib/libonnxruntime.so), WORK (default a new /tmp folder),
# TIMEOUT (seconds per wait, default 600), KEEP_CLUSTER=1 (leave it running).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
PAINTERS=$(realpath "${PAINTERS:-$root/target/release/painters}")
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$root/.ort/lib/libonnxruntime.so}
TIMEOUT=${TIMEOUT:-600}
WORK=${WORK:-$(mktemp -d /tmp/painters-slurm-test.XXXXXX)}
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
export MODEL=$root/tests/fixtures/llama-optimum SUITE=$root/tests/data/suite.json N_RANGE=0..1 PAINTERS
unset PRESETS LOOPS EXTRA THREADS ARRAY SHARDS SHARD_BASE
t0=$SECONDS
say() { echo "test-local [$((SECONDS - t0))s]: $*"; }
fail() { echo "test-local: FAIL: $*" >&2; exit 1; }
[[ -x $PAINTERS ]] || fail "no painters binary at $PAINTERS (cargo build --release, or set PAINTERS)"
[[ -f $ORT_DYLIB_PATH ]] || fail "no ONNX Runtime at $ORT_DYLIB_PATH (set ORT_DYLIB_PATH)"
if ! command -v python3 >/dev/null; then
  [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null || fail "python3 is needed (compare.py)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
fi

"$here/local-cluster.sh" install
started=1
"$here/local-cluster.sh" status | grep -q "slurmctld running" && started=0
stop_cluster() {
  if [[ $started == 1 && ${KEEP_CLUSTER:-0} != 1 ]]; then "$here/local-cluster.sh" stop; fi
}
trap stop_cluster EXIT
"$here/local-cluster.sh" start
eval "$("$here/local-cluster.sh" env)"
say "$(slurmd -V); work folder $WORK"
# A 2-core node: the #SBATCH defaults (4 CPUs, 16G) do not fit; 1 CPU each.
opts=(--cpus-per-task=1 --mem=1G --time=0:20:00)

# The state of a job (the first task's, for an array task id like 12_3).
state() { scontrol show job -o "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n 1 | cut -d= -f2; }
# Waits until job $1 is in one of the states $2 (a regex); fails on timeout.
wait_for() {
  local s="" start=$SECONDS
  while (( SECONDS - start < TIMEOUT )); do
    s=$(state "$1")
    [[ $s =~ ^($2)$ ]] && { echo "$s"; return; }
    sleep 1
  done
  fail "job $1 still '$s' after ${TIMEOUT}s (wanted $2)"
}
# Waits until file $1 has at least $2 lines (polling fast); fails on timeout.
wait_lines() {
  local start=$SECONDS
  while (( SECONDS - start < TIMEOUT )); do
    [[ -f $1 ]] && (( $(wc -l <"$1") >= $2 )) && return
    sleep 0.1
  done
  fail "$1 has fewer than $2 lines after ${TIMEOUT}s"
}
records() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
# The records shard $1 of 3 holds when done: the single run's records of the configurations
# at positions ≡ $1 − 1 (mod 3) in its sweep.json (a configuration that runs an earlier one's
# blocks has none: it is not evaluated again).
expect() {
  python3 - "$WORK/single" "$1" <<'PY'
import json, sys
out, i = sys.argv[1], int(sys.argv[2])
pos = {(c[0], c[1]): k for k, c in enumerate(json.load(open(f"{out}/sweep.json"))["configs"])}
print(sum(1 for l in open(f"{out}/results.jsonl") if pos[(r := json.loads(l))["preset"], r["n"]] % 3 == i - 1))
PY
}
# submit.sh; sets $array and $merge from its last line.
submit() {
  local out
  out=$("$here/submit.sh" "$@" "${opts[@]}")
  echo "$out"
  read -r _ array merge <<<"$(tail -n 1 <<<"$out")"
}

say "single run: painters sweep (no --shard) into $WORK/single"
s=$SECONDS
"$PAINTERS" sweep --model "$MODEL" --tasks "$SUITE" --out "$WORK/single" --n-range "$N_RANGE" --threads 1 >"$WORK/single.log" 2>&1 ||
  { cat "$WORK/single.log"; fail "single run"; }
say "single run done in $((SECONDS - s))s"
e2=$(expect 2) e3=$(expect 3)
(( e2 >= 4 && e3 >= 4 )) || fail "shards 2 and 3 would hold $e2 and $e3 records: too few to stop one mid-way"

# A: the array and the merge; shard 2 requeued mid-way.
mkdir -p "$WORK/a" && cd "$WORK/a"
export OUT=$WORK/a/out
say "A: submit.sh 3 ${opts[*]}"
s=$SECONDS
submit 3
shard=$OUT/results.shard-2-of-3.jsonl
wait_lines "$shard" 2
scontrol requeue "${array}_2"
# A requeued job is held ~2 minutes before it is eligible again: once it is
# pending (stopped, not still completing), note what it wrote, make it eligible now.
if [[ $(wait_for "${array}_2" "PENDING|RUNNING|COMPLETED") == PENDING ]]; then
  before=$(records "$shard")
  head -n "$before" "$shard" >"$WORK/a-shard-2.before"
  scontrol update JobId="${array}_2" StartTime=now || true
else
  before=$e2
fi
say "A: requeued ${array}_2 with $before of $e2 records"
wait_for "$merge" "COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL" >/dev/null
s_merge=$(state "$merge")
say "A: merge job $merge $s_merge after $((SECONDS - s))s"
for f in painters-sweep-"$array"_*.out painters-merge-"$merge".out; do echo "--- $f"; cat "$f"; done
[[ $s_merge == COMPLETED ]] || fail "A: merge job $merge is $s_merge"
[[ -f $OUT/report.md ]] || fail "A: no $OUT/report.md"
(( before < e2 )) || fail "A: shard 2 had finished before it was requeued ($before records)"
grep -q "restart 1" "painters-sweep-${array}_2.out" || fail "A: shard 2's log shows no restart (requeue)"
head -n "$before" "$shard" | cmp -s - "$WORK/a-shard-2.before" || fail "A: shard 2's first $before records were redone, not kept (no resume)"
(( $(records "$shard") == e2 )) || fail "A: shard 2 has $(records "$shard") records, not $e2"
(( $(grep -c "^painters-sweep: shard 2/3" "painters-sweep-${array}_2.out") == 2 )) || fail "A: shard 2's log lost its first run (not appended)"
python3 "$here/compare.py" "$OUT" "$WORK/single" || fail "A: the merged sweep differs from the single run"

# B: shard 3 killed mid-way, the merge cancelled, shard 3 resubmitted.
mkdir -p "$WORK/b" && cd "$WORK/b"
export OUT=$WORK/b/out
say "B: submit.sh 3 ${opts[*]}"
s=$SECONDS
submit 3
first_merge=$merge first_array=$array
shard=$OUT/results.shard-3-of-3.jsonl
wait_lines "$shard" 2
scancel --signal=KILL "${array}_3"
wait_for "${array}_3" "CANCELLED|FAILED" >/dev/null
killed=$(records "$shard")
head -n "$killed" "$shard" >"$WORK/b-shard-3.before"
say "B: killed ${array}_3 with $killed of $e3 records"
(( killed < e3 )) || fail "B: shard 3 had finished before it was killed ($killed records)"
s_merge=$(wait_for "$first_merge" "CANCELLED|PENDING")
[[ $s_merge == CANCELLED ]] || { sleep 5; s_merge=$(state "$first_merge"); }
[[ $s_merge == CANCELLED ]] || fail "B: the first merge job $first_merge is $s_merge, not cancelled (kill-on-invalid-dep)"
say "B: first merge job $first_merge cancelled; resubmitting shard 3: ARRAY=3 submit.sh 3"
[[ ! -f $OUT/report.md ]] || fail "B: a report before every shard ran"
ARRAY=3 submit 3
wait_for "$array" "COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL" >/dev/null
wait_for "$merge" "COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL" >/dev/null
s_merge=$(state "$merge")
say "B: merge job $merge $s_merge after $((SECONDS - s))s"
for f in painters-sweep-"$first_array"_*.out painters-sweep-"$array"_*.out painters-merge-"$merge".out; do echo "--- $f"; cat "$f"; done
[[ $s_merge == COMPLETED ]] || fail "B: merge job $merge is $s_merge"
grep -q "^painters-sweep: shard 3/3" "painters-sweep-${array}_3.out" || fail "B: the resubmitted task did not run shard 3/3"
head -n "$killed" "$shard" | cmp -s - "$WORK/b-shard-3.before" || fail "B: shard 3's first $killed records were redone, not kept (no resume)"
python3 "$here/compare.py" "$OUT" "$WORK/single" || fail "B: the merged sweep differs from the single run"

# C: a part of an array without SHARDS would be shard 1/1: refused.
mkdir -p "$WORK/c" && cd "$WORK/c"
export OUT=$WORK/c/out
c=$(sbatch --parsable --array=2 "${opts[@]}" "$here/sweep.sbatch")
c=${c%%;*}
s_c=$(wait_for "${c}_2" "COMPLETED|FAILED|CANCELLED")
cat "painters-sweep-${c}_2.out"
[[ $s_c == FAILED ]] || fail "C: sbatch --array=2 without SHARDS is $s_c, not refused"
grep -q "set SHARDS=N" "painters-sweep-${c}_2.out" || fail "C: no 'set SHARDS' message"
[[ ! -e $OUT ]] || fail "C: the refused task wrote $OUT"

say "PASS ($(slurmd -V)): A (array + merge, requeue) and B (kill, resubmit, merge) equal the single run; C refused"

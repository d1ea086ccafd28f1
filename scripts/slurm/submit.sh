#!/usr/bin/env bash
# Submits a sharded painters sweep to Slurm: an array of SHARDS tasks
# (scripts/slurm/sweep.sbatch) and a merge job that runs once all of them
# succeeded (scripts/slurm/merge.sbatch).
#   MODEL=models/smollm2-135m SUITE=scripts/suite.json OUT=/shared/sweep N_RANGE=0..14 \
#     scripts/slurm/submit.sh 8 [extra sbatch options, e.g. --partition=cpu]
# The sbatch options go to both jobs and override the scripts' #SBATCH lines,
# e.g. on a small node: submit.sh 3 --cpus-per-task=1 --mem=1G
# Environment: MODEL, SUITE, OUT, N_RANGE (required; relative paths are from
# the directory you submit from, the jobs' working directory); PRESETS, LOOPS,
# PAINTERS (the binary; default: painters on PATH), EXTRA (more `painters
# sweep` flags; not --threads: set THREADS), THREADS (default: the task's
# --cpus-per-task), ARRAY (which shards to submit, default 1-SHARDS: e.g.
# ARRAY=2,5 reruns shards 2 and 5 of the same sweep, with a new merge after
# them). The whole environment (ORT_DYLIB_PATH, PATH...) goes to the jobs.
# Prints the array and merge job ids, then "submitted ARRAY_ID MERGE_ID" last.
set -euo pipefail
SHARDS=${1:?usage: submit.sh SHARDS [sbatch options]}
shift
[[ $SHARDS =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: SHARDS must be a positive integer, not '$SHARDS'" >&2; exit 2; }
: "${MODEL:?}" "${SUITE:?}" "${OUT:?}" "${N_RANGE:?}"
export SHARDS
unset SHARD_BASE
ARRAY=${ARRAY:-1-$SHARDS}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
array=$(sbatch --parsable --array="$ARRAY" --export=ALL "$@" "$here/sweep.sbatch")
array=${array%%;*}
echo "sweep array $array (shards $ARRAY of $SHARDS)"
merge=$(sbatch --parsable --dependency=afterok:"$array" --export=ALL "$@" "$here/merge.sbatch")
merge=${merge%%;*}
echo "merge job $merge (after array $array succeeds): report in $OUT/report.md"
echo "submitted $array $merge"

#!/usr/bin/env bash
# Submits a sharded painters sweep to Slurm: an array of SHARDS tasks
# (scripts/slurm/sweep.sbatch) and a merge job that runs once all of them
# succeeded (scripts/slurm/merge.sbatch).
#   MODEL=models/smollm2-135m SUITE=scripts/suite.json OUT=/shared/sweep N_RANGE=0..14 \
#     scripts/slurm/submit.sh 8 [extra sbatch options, e.g. --partition=cpu]
# Environment: MODEL, SUITE, OUT, N_RANGE (required); PRESETS, LOOPS, PAINTERS
# (the binary; default: painters on PATH), EXTRA (more `painters sweep` flags).
set -euo pipefail
SHARDS=${1:?usage: submit.sh SHARDS [sbatch options]}
shift
: "${MODEL:?}" "${SUITE:?}" "${OUT:?}" "${N_RANGE:?}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
array=$(sbatch --parsable --array=1-"$SHARDS" --export=ALL "$@" "$here/sweep.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$array" --export=ALL "$@" "$here/merge.sbatch")
echo "sweep array $array ($SHARDS shards), merge job ${merge%%;*}: report in $OUT/report.md"

#!/usr/bin/env bash
# The benchmark suite of painters (the performance issue): runs every benchmark and
# writes BENCHMARKS.md (machine, versions, commands, tables, plots under bench/out/plots).
#
#   scripts/bench.sh            all benchmarks (about 30 minutes on 2 cores)
#   BENCH_ONLY=1,6 scripts/bench.sh   a subset (1 and 6 need no real model); BENCHMARKS.md is
#                               rebuilt from every fragment in bench/out/md (older ones kept)
#   BENCH_RUNS=5                timed runs per command (medians; a warm-up is always excluded)
#   BENCH_ONLY=none scripts/bench.sh   only reassemble BENCHMARKS.md from the fragments
#
# Needs: target/release/painters (built here), .venv-fixtures (onnx, onnxruntime, torch,
# transformers, tokenizers, numpy; scripts/requirements-fixtures.txt) plus
#   matplotlib==3.10.9          (pip install into .venv-fixtures; plots are skipped without it)
# perf (profiles; optional), /usr/bin/time. Benchmarks 2-5 and 7 need models/smollm2-135m,
# models/smollm2-135m-past, models/hf/smollm2-135m and data/ (made by the fetch scripts).
# Outputs: bench/out/ (git-ignored): models, results/*.json, md/*.md, plots, sweep/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
START=$(date +%s)
PY=.venv-fixtures/bin/python
ONLY=${BENCH_ONLY:-1,2,3,4,5,6,7}
RUNS=${BENCH_RUNS:-5}
mkdir -p bench/out/md bench/out/results bench/out/plots bench/out/templates
for b in ${ONLY//,/ }; do rm -f bench/out/md/"$b"-*.md; done   # fragments of other benchmarks stay

cargo build --release --locked -q
"$PY" -c "import matplotlib" 2>/dev/null || "$PY" -m pip install -q "matplotlib==3.10.9" || true

has() { [[ ",$ONLY," == *",$1,"* ]]; }

# Timings need a quiet machine: wait (up to BENCH_WAIT_MAX s, default 1800; 0 = don't)
# until no fetch/export/sweep job of the project runs and the 1-minute load is below 1.5.
wait_quiet() {
  local waited=0 max=${BENCH_WAIT_MAX:-1800}
  while (( waited < max )); do
    local busy
    busy=$(pgrep -f "fetch-models|fetch-data|data_select|optimum|make_fixtures|painters sweep|painters eval" || true)
    if [[ -z "$busy" ]] && awk '{exit !($1 < 1.5)}' /proc/loadavg; then return 0; fi
    sleep 15; waited=$((waited + 15))
  done
  echo "bench.sh: machine still busy after ${max}s (load $(cut -d' ' -f1-3 /proc/loadavg)); measuring anyway" >&2
}

# The Llama-2-7B-width template (a real optimum export, ~3 min, ~6 GB RAM); cached.
if has 1 || has 6; then
  [[ -f bench/out/templates/llama-h4096.onnx ]] ||
    "$PY" scripts/bench_make_graph.py template --hidden 4096 --out bench/out/templates/llama-h4096.onnx
fi
wait_quiet
if has 1 && has 6; then "$PY" scripts/bench_rewrite.py --runs $((RUNS + 2)) --py-runs "$RUNS"
elif has 1; then "$PY" scripts/bench_rewrite.py --runs $((RUNS + 2)) --py-runs "$RUNS" --only 1
elif has 6; then "$PY" scripts/bench_rewrite.py --runs $((RUNS + 2)) --py-runs "$RUNS" --only 6
fi
MODEL_BENCH=$(echo "$ONLY" | tr ',' '\n' | grep -E '^[23457]$' | paste -sd, - || true)
if [[ -n "$MODEL_BENCH" ]]; then
  wait_quiet
  "$PY" scripts/bench_models.py --only "$MODEL_BENCH" --runs "$RUNS" --lat-runs 20
fi
END=$(date +%s)

# ---- BENCHMARKS.md
{
  echo "# Benchmarks"
  echo
  echo "Written by \`scripts/bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') (wall time of this run: $((END - START)) s, benchmarks ${ONLY} rerun;"
  echo "each section ends with the time it was measured: a section not rerun keeps its earlier fragment)."
  echo "Every number is a median of ≥ 5 runs after a warm-up unless stated; the exact command is given"
  echo "with each table. Raw numbers: \`bench/out/results/*.json\`. Targets in [brackets]."
  echo
  echo "## Machine"
  echo
  echo "| | |"
  echo "| --- | --- |"
  echo "| CPU | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') |"
  echo "| cores | $(nproc) |"
  echo "| RAM | $(free -g | awk '/Mem:/{print $2}') GiB |"
  echo "| kernel | $(uname -r) |"
  echo "| disk | $(df -h . | awk 'NR==2{print $1", "$2}') |"
  echo "| load average at the end | $(cut -d' ' -f1-3 /proc/loadavg) |"
  echo "| painters | $(target/release/painters --version 2>/dev/null || echo '?') (release build: $(grep -A3 'profile.release' Cargo.toml | tr '\n' ' ' | sed 's/  */ /g')) |"
  echo "| rustc | $(rustc --version) |"
  echo "| Python | $("$PY" -c 'import sys,onnx,onnxruntime as o,numpy;print(sys.version.split()[0]+", onnx",onnx.__version__+", onnxruntime",o.__version__+", numpy",numpy.__version__)') |"
  echo "| torch / transformers / tokenizers | $("$PY" -c 'import torch,transformers,tokenizers;print(torch.__version__,"/",transformers.__version__,"/",tokenizers.__version__)' 2>/dev/null) |"
  echo "| ONNX Runtime used by painters | $(ls .ort/lib 2>/dev/null | grep -m1 libonnxruntime || echo 'onnxruntime Python package') |"
  echo
  "$PY" scripts/bench_summary.py
  echo
  # The analysis of the misses (written by hand from the profiles below; committed).
  if [[ -f docs/bench/NOTES.md ]]; then cat docs/bench/NOTES.md; echo; fi
  for f in bench/out/md/*.md; do cat "$f"; echo; done
} > BENCHMARKS.md
# The plots BENCHMARKS.md shows are committed next to it.
mkdir -p docs/bench
cp bench/out/plots/*.svg bench/out/plots/*.png docs/bench/ 2>/dev/null || true
echo "wrote BENCHMARKS.md ($((END - START)) s)"

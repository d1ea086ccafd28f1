#!/usr/bin/env bash
# Fuzzes one target (or all) for EXECS executions each (default 1,000,000).
#   scripts/fuzz.sh TARGET|all [EXECS]
# Targets: plan plan_file model_bytes model_mutate suite task_data tokenizer config
# (docs/FUZZ.md). Coverage-guided with cargo-fuzz (libFuzzer, `fuzz/`) when
# nightly Rust and cargo-fuzz are installed, else the seeded structure-aware
# harness of crates/painters-fuzz, which needs only stable Rust.
#   FUZZ_ENGINE=harness|libfuzzer   force one engine
#   SEED=N                          the harness's seed (default 1)
# Crashing inputs: fuzz-crashes/<target>/ (harness) or fuzz/artifacts/<target>/
# (libFuzzer). Once fixed, copy them to crates/painters-fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target=${1:?usage: scripts/fuzz.sh TARGET|all [EXECS]}
execs=${2:-1000000}
engine=${FUZZ_ENGINE:-auto}
targets=(plan plan_file model_bytes model_mutate suite task_data tokenizer config)
[[ $target == all ]] && list=("${targets[@]}") || list=("$target")

if [[ $engine == auto ]]; then
    if cargo +nightly --version >/dev/null 2>&1 && cargo fuzz --version >/dev/null 2>&1; then
        engine=libfuzzer
    else
        engine=harness
    fi
fi

cargo build --release --locked -p painters-fuzz
harness="${CARGO_TARGET_DIR:-target}/release/painters-fuzz"

if [[ $engine == harness ]]; then
    for t in "${list[@]}"; do
        "$harness" "$t" --execs "$execs" --seed "${SEED:-1}" --out fuzz-crashes
    done
    exit 0
fi

for t in "${list[@]}"; do
    corpus="fuzz/corpus/$t"
    if [[ ! -d $corpus ]]; then
        # Seed libFuzzer with structure-aware inputs of the harness and the regressions.
        mkdir -p "$corpus"
        "$harness" "$t" --seed 1 --execs 256 --dump fuzz/corpus-seed >/dev/null
        cp fuzz/corpus-seed/"$t"/* "$corpus"/ 2>/dev/null || true
        cp crates/painters-fuzz/regressions/"$t"/* "$corpus"/ 2>/dev/null || true
        rm -rf fuzz/corpus-seed
    fi
    # Model inputs are whole fixtures (up to ~600 KB).
    max_len=65536
    [[ $t == model_bytes ]] && max_len=1048576
    (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -runs="$execs" -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=2048 -print_final_stats=1)
done

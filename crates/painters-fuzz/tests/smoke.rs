#![allow(clippy::panic, clippy::unwrap_used)]
//! A short seeded run of every fuzz target (a few seconds each, so
//! `cargo test --workspace` runs them), and the replay of every input that
//! once broke an invariant (`regressions/<target>/`).
use std::path::Path;

use painters_fuzz::{fixtures, run_one, Rng, Target};

#[global_allocator]
static ALLOC: painters_fuzz::alloc::Bounded = painters_fuzz::alloc::Bounded;

/// Not the harness's default seed: CI covers inputs the long runs did not.
const SEED: u64 = 0x5EED;

fn smoke(t: Target, execs: u64) {
    for i in 0..execs {
        let data = t.generate(&mut Rng::for_exec(SEED, i));
        if let Err(v) = run_one(t, &data) {
            panic!("{} exec {i} (painters-fuzz {} --seed {SEED} --from {i} --execs 1): {v}", t.name(), t.name());
        }
    }
}

#[test]
fn smoke_plan() {
    smoke(Target::Plan, 3_000);
}

#[test]
fn smoke_plan_file() {
    smoke(Target::PlanFile, 3_000);
}

#[test]
fn smoke_model_bytes() {
    smoke(Target::ModelBytes, 150);
}

#[test]
fn smoke_model_mutate() {
    smoke(Target::ModelMutate, 60);
}

#[test]
fn smoke_suite() {
    smoke(Target::Suite, 1_000);
}

#[test]
fn smoke_task_data() {
    smoke(Target::TaskData, 2_000);
}

#[test]
fn smoke_tokenizer() {
    smoke(Target::Tokenizer, 300);
}

#[test]
fn smoke_config() {
    smoke(Target::Config, 2_000);
}

#[test]
fn the_model_targets_mutate_every_committed_fixture() {
    let names: Vec<&str> = fixtures::all().iter().map(|f| f.name.as_str()).collect();
    assert!(names.len() >= 20, "{names:?}");
    assert!(painters_fuzz::alloc::installed());
}

#[test]
fn every_regression_input_holds_its_invariants() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut count = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let t = Target::from_name(&name).unwrap_or_else(|| panic!("regressions/{name}: not a target"));
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let data = std::fs::read(&f).unwrap();
            if let Err(v) = run_one(t, &data) {
                panic!("{}: {v}", f.display());
            }
            count += 1;
        }
    }
    assert!(count >= 15, "only {count} regression inputs");
}

#[test]
fn violations_are_detected() {
    // The checks themselves can fail: a multi-line error is a violation.
    let e = painters_fuzz::one_line("x", &"two\nlines").unwrap_err();
    assert!(e.0.contains("not one line"), "{e}");
    assert!(painters_fuzz::one_line("x", &"").is_err());
    assert!(painters_fuzz::one_line("x", &"one line").is_ok());
}

//! painters-fuzz: a fuzz target for every input parser of painters. Each
//! target is a function `fn(&[u8]) -> Result<(), Violation>` that feeds the
//! bytes to the parser exactly as the command line would and checks the
//! invariants (docs/FUZZ.md):
//! - no panic ([`run_one`] catches one and reports it);
//! - no hang: the input finishes within the target's time bound;
//! - no unbounded allocation: the peak of live bytes stays within the
//!   target's budget (measured when [`alloc::Bounded`] is the allocator);
//! - the result is valid (a plan round-trips through its canonical string,
//!   a model's blocks are found and summarised), or the error is ONE line:
//!   its `Display` is not empty and has no line break.
//!
//! Targets take raw bytes so that libFuzzer (`fuzz/`), the seeded harness
//! (`src/main.rs`, stable Rust) and the regression corpus
//! (`regressions/<target>/`) drive them alike. [`Target::generate`] makes the
//! structure-aware inputs of the seeded harness.
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

pub mod alloc;
pub mod fixtures;
pub mod gen;
pub mod mutate_model;
pub mod rng;
pub mod targets;

pub use rng::Rng;

/// A broken invariant, with what broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Violation {
    pub fn new(s: impl Into<String>) -> Self {
        Violation(s.into())
    }
}

/// Checks that an error displays as exactly one non-empty line.
pub fn one_line(what: &str, e: &dyn fmt::Display) -> Result<(), Violation> {
    let s = e.to_string();
    if s.trim().is_empty() || s.contains('\n') || s.contains('\r') {
        return Err(Violation(format!("{what}: the error is not one line: {s:?}")));
    }
    Ok(())
}

/// Every fuzz target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Plan strings (`painters_rewrite::parse`), with the round trip through `Display`.
    Plan,
    /// Plan files, TOML and JSON (`painters_rewrite::planfile::from_str`).
    PlanFile,
    /// Arbitrary bytes as a model: load, canonicalize, detect, declared depth.
    ModelBytes,
    /// Structure-aware mutations of the committed fixtures, then the same pipeline.
    ModelMutate,
    /// Suite files (`painters_run::sweep::suite::Suite::from_str`).
    Suite,
    /// Task data: BIG-bench `task.json`, JSONL choice and probe sets (`painters_run::eval::data`).
    TaskData,
    /// `tokenizer.json` with the model's `config.json` (`painters_run::tokenizer::Tokenizer::from_parts`).
    Tokenizer,
    /// `config.json` / `genai_config.json` beside a model (declared depth, folder rewrite).
    Config,
}

impl Target {
    pub const ALL: [Target; 8] =
        [Target::Plan, Target::PlanFile, Target::ModelBytes, Target::ModelMutate, Target::Suite, Target::TaskData, Target::Tokenizer, Target::Config];

    pub fn name(self) -> &'static str {
        match self {
            Target::Plan => "plan",
            Target::PlanFile => "plan_file",
            Target::ModelBytes => "model_bytes",
            Target::ModelMutate => "model_mutate",
            Target::Suite => "suite",
            Target::TaskData => "task_data",
            Target::Tokenizer => "tokenizer",
            Target::Config => "config",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name.replace('-', "_"))
    }

    /// Runs the target on one input (no panic catching: see [`run_one`]).
    pub fn run(self, data: &[u8]) -> Result<(), Violation> {
        match self {
            Target::Plan => targets::plan(data),
            Target::PlanFile => targets::plan_file(data),
            Target::ModelBytes => targets::model_bytes(data),
            Target::ModelMutate => targets::model_mutate(data),
            Target::Suite => targets::suite(data),
            Target::TaskData => targets::task_data(data),
            Target::Tokenizer => targets::tokenizer(data),
            Target::Config => targets::config(data),
        }
    }

    /// A structure-aware input for the seeded harness.
    pub fn generate(self, rng: &mut Rng) -> Vec<u8> {
        match self {
            Target::Plan => gen::plan(rng),
            Target::PlanFile => gen::plan_file(rng),
            Target::ModelBytes => gen::model_bytes(rng),
            Target::ModelMutate => gen::model_mutate(rng),
            Target::Suite => gen::suite(rng),
            Target::TaskData => gen::task_data(rng),
            Target::Tokenizer => gen::tokenizer(rng),
            Target::Config => gen::config(rng),
        }
    }

    /// How long one input of `len` bytes may take: a base, plus 1 s per MiB
    /// of input (parsing is linear; a 7 MB task file is legitimate), 10x in
    /// debug builds.
    pub fn time_bound(self, len: usize) -> Duration {
        let base = match self {
            Target::Plan | Target::PlanFile | Target::Suite | Target::TaskData | Target::Config => 1_000,
            Target::ModelBytes | Target::ModelMutate | Target::Tokenizer => 5_000,
        };
        let ms = base + ((len as u64 * 1_000) >> 20);
        Duration::from_millis(if cfg!(debug_assertions) { ms * 10 } else { ms })
    }

    /// The most bytes one input may have live at once, beyond what was live before.
    pub fn alloc_budget(self) -> usize {
        match self {
            Target::Plan | Target::PlanFile | Target::Suite | Target::TaskData | Target::Config => 256 << 20,
            Target::ModelBytes | Target::ModelMutate | Target::Tokenizer => 512 << 20,
        }
    }
}

/// Runs `target` on `data` and checks every invariant: a panic, a run past
/// the time bound and a peak allocation past the budget are violations too.
pub fn run_one(target: Target, data: &[u8]) -> Result<(), Violation> {
    let base = alloc::reset_peak();
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| target.run(data)));
    let took = start.elapsed();
    let peak = alloc::peak().saturating_sub(base);
    match result {
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            return Err(Violation(format!("panic: {msg}")));
        }
        Ok(Err(v)) => return Err(v),
        Ok(Ok(())) => {}
    }
    let bound = target.time_bound(data.len());
    if took > bound {
        return Err(Violation(format!("slow: {:.3} s, the bound is {:.3} s", took.as_secs_f64(), bound.as_secs_f64())));
    }
    if alloc::installed() && peak > target.alloc_budget() {
        return Err(Violation(format!("allocated {} MiB at peak; the budget is {} MiB", peak >> 20, target.alloc_budget() >> 20)));
    }
    Ok(())
}

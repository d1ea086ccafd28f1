//! The plan arguments shared by `plan` and `rewrite`: a plan string, a plan
//! file, or a preset with its parameters.
use std::path::PathBuf;

use painters_rewrite::{parse, planfile, preset, Plan, Preset, PresetParams};

#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// A plan string, e.g. "0-11,[12-20]*3,21-31"
    #[arg(long, conflicts_with_all = ["plan_file", "preset"])]
    pub plan: Option<String>,
    /// A TOML or JSON file with `plan = "..."` or a plan `tree`
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    pub plan_file: Option<PathBuf>,
    /// A preset from the paper: skip, middle-repeat, reverse, random, parallel, looped-parallel, skip-one, swap
    #[arg(long, value_parser = clap::value_parser!(String))]
    pub preset: Option<String>,
    /// Start layer N: the affected middle blocks are N+1 … T-N-1
    #[arg(long, conflicts_with = "m")]
    pub n: Option<usize>,
    /// Number of affected middle blocks M (centred), instead of --n
    #[arg(long)]
    pub m: Option<usize>,
    /// Seed of the random preset
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Loops of looped-parallel
    #[arg(long, default_value_t = 2)]
    pub loops: usize,
    /// Block index of skip-one and swap
    #[arg(long)]
    pub index: Option<usize>,
}

impl PlanArgs {
    /// The plan, given the model's block count `layers`.
    pub fn resolve(&self, layers: usize) -> anyhow::Result<Plan> {
        let plan = if let Some(s) = &self.plan {
            parse(s)?
        } else if let Some(f) = &self.plan_file {
            planfile::load(f)?
        } else if let Some(name) = &self.preset {
            let p: Preset = name.parse().map_err(anyhow::Error::msg)?;
            let params = PresetParams {
                layers,
                n: self.n,
                m: self.m,
                seed: self.seed,
                loops: Some(self.loops),
                index: self.index,
            };
            preset(p, &params)?
        } else {
            anyhow::bail!("give a plan: --plan PLAN, --plan-file FILE or --preset NAME");
        };
        plan.validate(layers)?;
        Ok(plan)
    }
}

//! `painters sweep --model DIR --presets LIST --n-range A..B --tasks SUITE --out DIR`.
use std::path::{Path, PathBuf};

use painters_rewrite::Preset;
use painters_run::session::Device;
use painters_run::sweep::{self, suite::Suite, SweepOptions};
use painters_run::{Runtime, SessionOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model (an .onnx file or a folder with tokenizer.json)
    #[arg(long)]
    model: PathBuf,
    /// Comma-separated presets: skip, middle-repeat, reverse, random, parallel, looped-parallel
    #[arg(long, default_value = "skip,middle-repeat,reverse,random,parallel,looped-parallel")]
    presets: String,
    /// Start layers N: "A..B" (inclusive) or a comma list "1,4,8"
    #[arg(long)]
    n_range: String,
    /// Step through --n-range A..B
    #[arg(long, default_value_t = 1)]
    n_step: usize,
    /// The suite file (JSON; see the README)
    #[arg(long)]
    tasks: PathBuf,
    /// Output folder: results.jsonl, plots, report.md
    #[arg(long)]
    out: PathBuf,
    /// Seed of the random preset
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Loops of looped-parallel
    #[arg(long, default_value_t = 3)]
    loops: usize,
    /// Intra-op threads (0: ONNX Runtime's default)
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Rows per run
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// cpu, cuda or cuda:ID
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Only rewrite the plots and report.md from results.jsonl
    #[arg(long)]
    report_only: bool,
    /// Title of the report
    #[arg(long)]
    title: Option<String>,
}

pub fn parse_n(s: &str, step: usize) -> anyhow::Result<Vec<usize>> {
    let bad = || anyhow::anyhow!("--n-range '{s}': expected A..B or a comma list of numbers");
    if let Some((a, b)) = s.split_once("..") {
        let (a, b): (usize, usize) = (a.trim().parse().map_err(|_| bad())?, b.trim().trim_start_matches('=').parse().map_err(|_| bad())?);
        if a > b {
            return Err(bad());
        }
        return Ok((a..=b).step_by(step.max(1)).collect());
    }
    s.split(',').map(|x| x.trim().parse().map_err(|_| bad())).collect()
}

pub fn main(args: Args, ort_lib: Option<&Path>) -> anyhow::Result<()> {
    let model = super::resolve_model(&args.model)?;
    let presets: Vec<Preset> = args.presets.split(',').map(|p| p.trim().parse().map_err(anyhow::Error::msg)).collect::<anyhow::Result<_>>()?;
    let n_values = parse_n(&args.n_range, args.n_step)?;
    let suite = Suite::load(&args.tasks)?;
    let title = args.title.clone().unwrap_or_else(|| suite.name.clone());
    let device: Device = args.device.parse().map_err(anyhow::Error::msg)?;
    let opts = SweepOptions {
        model,
        presets,
        n_values,
        suite,
        out: args.out.clone(),
        seed: args.seed,
        loops: args.loops,
        session: SessionOptions { threads: args.threads, optimization: 3, device, ..Default::default() },
        batch: args.batch_size,
    };
    let runtime = Runtime::global(ort_lib)?;
    let records = if args.report_only {
        sweep::load_records(&args.out.join("results.jsonl"))
    } else {
        sweep::run(runtime, &opts)?
    };
    if records.is_empty() {
        anyhow::bail!("{} has no results yet", args.out.join("results.jsonl").display());
    }
    let sim = sweep::similarity(runtime, &opts)?;
    sweep::report::write(&args.out, &records, sim.as_ref(), &title)?;
    println!("{} results in {}", records.len(), args.out.join("results.jsonl").display());
    println!("report: {}", args.out.join("report.md").display());
    Ok(())
}

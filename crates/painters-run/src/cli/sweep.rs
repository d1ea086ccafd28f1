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
    /// Loops of looped-parallel; a comma list runs it once per value (the
    /// first labelled looped-parallel, the others looped-parallel-K)
    #[arg(long, default_value = "3")]
    loops: String,
    /// Run only part I of N of the job list (configurations round-robin; e.g.
    /// a Slurm array task: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT);
    /// results go to results.shard-I-of-N.jsonl, merged by --report-only
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Intra-op threads (0: ONNX Runtime's default)
    #[arg(long, default_value_t = 0, value_parser = super::threads)]
    threads: usize,
    /// Rows per run
    #[arg(long, default_value_t = 8, value_parser = super::positive)]
    batch_size: usize,
    /// cpu, cuda or cuda:ID
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Only write the plots and report.md, from results.jsonl or every shard's
    /// results (checked to be one sweep: same model and suite, each result once)
    #[arg(long)]
    report_only: bool,
    /// With --report-only: report even if some shards have no results yet (the title says which)
    #[arg(long)]
    partial: bool,
    /// Title of the report
    #[arg(long)]
    title: Option<String>,
    /// Print a JSON summary to stdout instead of text: the results, the files and the claims
    #[arg(long)]
    json: bool,
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
    let loops: Vec<usize> = args
        .loops
        .split(',')
        .map(|x| x.trim().parse().ok().filter(|&k: &usize| k >= 1).ok_or_else(|| anyhow::anyhow!("--loops '{}': expected positive numbers, comma-separated", args.loops)))
        .collect::<anyhow::Result<_>>()?;
    let shard: Option<sweep::Shard> = args.shard.as_deref().map(str::parse).transpose().map_err(anyhow::Error::msg)?;
    if shard.is_some() && args.report_only {
        anyhow::bail!("--report-only merges every shard; drop --shard");
    }
    let opts = SweepOptions {
        model,
        presets,
        n_values,
        suite,
        out: args.out.clone(),
        seed: args.seed,
        loops,
        session: SessionOptions { threads: args.threads, optimization: 3, device, ..Default::default() },
        batch: args.batch_size,
        shard,
    };
    let runtime = Runtime::global(ort_lib)?;
    if let Some(s) = shard {
        let records = sweep::run(runtime, &opts)?;
        let file = sweep::results_file(&args.out, Some(s));
        if args.json {
            println!("{}", serde_json::json!({"shard": [s.index, s.count], "results": records.len(), "file": file.display().to_string()}));
        } else {
            println!("shard {}/{}: {} results in {}", s.index, s.count, records.len(), file.display());
            println!("when every shard is done: painters sweep ... --out {} --report-only", args.out.display());
        }
        return Ok(());
    }
    if !args.report_only {
        sweep::run(runtime, &opts)?;
    }
    let (records, missing) = sweep::merged_records(&args.out, args.partial)?;
    if args.report_only {
        // After the merge, which checks that the shards agree with each other.
        sweep::check_inputs(&opts)?;
    }
    let title = if missing.is_empty() { title } else { format!("{title} (partial: shards {} missing)", missing.join(", ")) };
    if records.is_empty() {
        anyhow::bail!("{} has no results yet", args.out.join("results.jsonl").display());
    }
    let sim = sweep::similarity(runtime, &opts)?;
    let uniform = sweep::uniform_baselines(&opts)?;
    let claims = sweep::report::write(&args.out, &records, sim.as_ref(), &uniform, &title)?;
    let repeated = records.iter().filter(|r| r.same_as.is_some()).count();
    if args.json {
        let v = serde_json::json!({
            "out": args.out.display().to_string(),
            "results": records.len(),
            "evaluated": records.len() - repeated,
            "missing_shards": missing,
            "report": args.out.join("report.md").display().to_string(),
            "claims": claims,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let shard_files = std::fs::read_dir(&args.out)
        .map(|d| d.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().starts_with("results.shard-")).count())
        .unwrap_or(0);
    let repeats = if repeated > 0 { format!(" ({repeated} of them of configurations that run an earlier one's blocks, not evaluated again)") } else { String::new() };
    if shard_files > 0 {
        println!("{} results{repeats} merged from {shard_files} shard files (and results.jsonl, if any) in {}", records.len(), args.out.display());
    } else {
        println!("{} results{repeats} in {}", records.len(), args.out.join("results.jsonl").display());
    }
    println!("report: {}", args.out.join("report.md").display());
    for c in &claims {
        println!("  {}", c.summary());
    }
    Ok(())
}

//! `painters prune MODEL --budget K --method METHOD --calib TEXT [-o OUT] [--json]`.
use std::path::{Path, PathBuf};

use painters_rewrite::{parse, rewrite_model, WriteOptions};
use painters_run::prune::{self, calib::Calibration, Method, PruneOptions};
use painters_run::tokenizer::Tokenizer;
use painters_run::{Runtime, SessionOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An .onnx file or a model folder (with tokenizer.json)
    model: PathBuf,
    /// K: how many blocks to remove (with --compare: 1..K, every budget up to K)
    #[arg(long)]
    budget: String,
    /// bi (ShortGPT), angular (Gromov et al.), greedy (SLEB), paper (the paper's skip preset)
    #[arg(long, value_enum, required_unless_present_any = ["compare", "mode"])]
    method: Option<Method>,
    /// delete: remove K blocks; parallel: run adjacent blocks as parallel groups so the
    /// model has K fewer sequential steps (greedy on calibration NLL)
    #[arg(long, value_enum, default_value = "delete")]
    mode: Mode,
    /// Compare methods for every K in 1..K on held-out text: writes compare.json,
    /// prune_report.md and prune_compare.{svg,png} into --out
    #[arg(long, requires_all = ["heldout", "out"])]
    compare: bool,
    /// --compare: the methods (comma-separated)
    #[arg(long, default_value = "bi,angular,greedy,paper")]
    methods: String,
    /// --compare: held-out text (must be disjoint from --calib)
    #[arg(long)]
    heldout: Option<PathBuf>,
    /// --compare: the report folder
    #[arg(long)]
    out: Option<PathBuf>,
    /// --compare: also score every result on this suite (the sweep's suite format; decoder tasks)
    #[arg(long, value_name = "SUITE")]
    eval: Option<PathBuf>,
    /// Calibration text (a UTF-8 file)
    #[arg(long)]
    calib: PathBuf,
    /// Tokens per calibration window
    #[arg(long, default_value_t = 128)]
    window: usize,
    /// Calibration tokens used (the first ones of the text)
    #[arg(long, default_value_t = 2048)]
    max_tokens: usize,
    /// Let the first and last blocks be removed too
    #[arg(long)]
    allow_ends: bool,
    /// Write the pruned model folder here (model.onnx, config files, prune.json)
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Greedy: the resumable log of evaluated candidates (default OUT/prune.log.jsonl with -o)
    #[arg(long)]
    log: Option<PathBuf>,
    /// Greedy searches: run every candidate as its own model in its own session,
    /// instead of on the model's pieces (opened once) from the stream entering
    /// the first block the candidate changes (slower; for comparison)
    #[arg(long)]
    no_reuse: bool,
    /// Intra-op threads (0: ONNX Runtime's default)
    #[arg(long, default_value_t = 0, value_parser = super::threads)]
    threads: usize,
    /// Print prune.json to stdout
    #[arg(long)]
    json: bool,
}

/// Remove blocks, or group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    Delete,
    Parallel,
}

/// `K`, or `1..K` (every budget up to K).
fn parse_budget(s: &str) -> anyhow::Result<(usize, bool)> {
    let bad = || anyhow::anyhow!("--budget '{s}': expected a number K or a range 1..K");
    match s.split_once("..") {
        Some(("1", k)) => Ok((k.trim().parse().map_err(|_| bad())?, true)),
        Some(_) => Err(bad()),
        None => Ok((s.trim().parse().map_err(|_| bad())?, false)),
    }
}

pub fn main(args: Args, ort_lib: Option<&Path>) -> anyhow::Result<()> {
    let src = super::resolve_model(&args.model)?;
    let (budget, range) = parse_budget(&args.budget)?;
    if range && !args.compare {
        anyhow::bail!("--budget 1..K needs --compare (one search removes exactly K blocks)");
    }
    let (model, layout) = painters_rewrite::open(&src, false)?;
    let tok = Tokenizer::for_model(&src, None)?;
    let calib = Calibration::load(&args.calib, &tok, args.window, args.max_tokens)?;
    let runtime = Runtime::global(ort_lib)?;
    if args.compare {
        return compare(&args, runtime, &model, &layout, &src, calib, &tok, budget);
    }
    if args.mode == Mode::Parallel {
        if args.method.is_some_and(|m| m != Method::Greedy) {
            anyhow::bail!("--mode parallel searches greedily on calibration NLL; --method {} does not apply", args.method.map(Method::name).unwrap_or_default());
        }
        return parallel(&args, runtime, &model, &layout, &src, calib, budget);
    }
    let method = args.method.ok_or_else(|| anyhow::anyhow!("give --method (or --compare)"))?;
    let _lock = args.output.as_deref().map(|o| painters_graph::lock::FolderLock::acquire(o, "prune")).transpose()?;
    let log = args.log.clone().or_else(|| args.output.as_ref().filter(|_| method == Method::Greedy).map(|o| o.join("prune.log.jsonl")));
    if let Some(dir) = log.as_ref().and_then(|l| l.parent()).filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let opts = options(&args, budget, method, log);
    let outcome = prune::prune(runtime, &model, &layout, calib, &opts)?;
    if report(&outcome, &outcome.plan, &args, &model, &layout, &src)? {
        return Ok(());
    }
    println!("method    {} (K = {})", outcome.method.name(), outcome.budget);
    println!("removed   {:?} (in removal order; excluded: {:?})", outcome.removed, outcome.excluded);
    println!("plan      {}", outcome.plan);
    if let (Some(a), Some(b)) = (outcome.nll_full, outcome.nll) {
        println!("calib NLL {a:.4} -> {b:.4} ({} tokens in {} windows)", outcome.calibration.tokens, outcome.calibration.n_windows);
    }
    if let Some(out) = &args.output {
        println!("wrote     {} and prune.json", out.join("model.onnx").display());
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn compare(
    args: &Args,
    runtime: &Runtime,
    model: &painters_graph::OnnxModel,
    layout: &painters_graph::BlockLayout,
    src: &Path,
    calib: Calibration,
    tok: &Tokenizer,
    max_budget: usize,
) -> anyhow::Result<()> {
    use clap::ValueEnum;
    let out = args.out.as_deref().ok_or_else(|| anyhow::anyhow!("--compare needs --out DIR"))?;
    let heldout_path = args.heldout.as_deref().ok_or_else(|| anyhow::anyhow!("--compare needs --heldout TEXT"))?;
    let methods: Vec<Method> = args
        .methods
        .split(',')
        .map(|m| Method::from_str(m.trim(), true).map_err(|_| anyhow::anyhow!("--methods: unknown method '{m}' (bi, angular, greedy, paper)")))
        .collect::<anyhow::Result<_>>()?;
    let heldout = Calibration::load(heldout_path, tok, args.window, args.max_tokens)?;
    let suite = args.eval.as_deref().map(painters_run::sweep::suite::Suite::load).transpose()?;
    let _lock = painters_graph::lock::FolderLock::acquire(out, "prune")?;
    let log = Some(args.log.clone().unwrap_or_else(|| out.join("prune.log.jsonl")));
    let opts = options(args, max_budget, methods.first().copied().unwrap_or(Method::Paper), log);
    let c = prune::compare::compare(
        runtime,
        model,
        layout,
        &src.display().to_string(),
        calib,
        heldout,
        &methods,
        max_budget,
        &opts,
        suite.as_ref().map(|s| (s, tok)),
        out,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
        return Ok(());
    }
    println!("{:<8} {:>3} {:>10} {:>12}  95% CI", "method", "K", "calib NLL", "heldout ppl");
    println!("{:<8} {:>3} {:>10.4} {:>12.3}  [{:.3}, {:.3}]", "full", 0, c.full.calibration_nll, c.full.heldout_perplexity, c.full.heldout_ci.0, c.full.heldout_ci.1);
    for x in &c.cells {
        println!("{:<8} {:>3} {:>10.4} {:>12.3}  [{:.3}, {:.3}]", x.method.name(), x.budget, x.calibration_nll, x.heldout_perplexity, x.heldout_ci.0, x.heldout_ci.1);
    }
    println!("wrote     {}/prune_report.md, compare.json, prune_compare.svg/png", out.display());
    Ok(())
}

fn parallel(
    args: &Args,
    runtime: &Runtime,
    model: &painters_graph::OnnxModel,
    layout: &painters_graph::BlockLayout,
    src: &Path,
    calib: Calibration,
    budget: usize,
) -> anyhow::Result<()> {
    let _lock = args.output.as_deref().map(|o| painters_graph::lock::FolderLock::acquire(o, "prune")).transpose()?;
    let log = args.log.clone().or_else(|| args.output.as_ref().map(|o| o.join("prune.log.jsonl")));
    let opts = options(args, budget, Method::Greedy, log);
    if let Some(dir) = opts.log.as_ref().and_then(|l| l.parent()).filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let outcome = prune::parallel::search(runtime, model, layout, calib, &opts)?;
    if report(&outcome, &outcome.plan, args, model, layout, src)? {
        return Ok(());
    }
    let l = &outcome.latency;
    println!("mode      parallel (K = {}: {} blocks in {} sequential stages)", outcome.budget, outcome.blocks, outcome.depth);
    println!("plan      {}", outcome.plan);
    println!("calib NLL {:.4} -> {:.4}", outcome.nll_full, outcome.nll);
    println!(
        "latency   {} tokens, median of {}: source {:.1} ms ({:.1} ms in ORT's parallel mode); result {:.1} ms sequential, {:.1} ms in the parallel mode ({} inter-op threads)",
        l.tokens, l.runs, l.source_ms, l.source_parallel_ms, l.result_sequential_ms, l.result_parallel_ms, l.inter_threads
    );
    if let Some(out) = &args.output {
        println!("wrote     {} and prune.json", out.join("model.onnx").display());
    }
    Ok(())
}

/// The search options the flags give (budget, method and log decided by the caller).
fn options(args: &Args, budget: usize, method: Method, log: Option<PathBuf>) -> PruneOptions {
    PruneOptions {
        budget,
        method,
        allow_ends: args.allow_ends,
        session: SessionOptions { threads: args.threads, ..Default::default() },
        log,
        reuse: !args.no_reuse,
    }
}

/// `prune.json` of a search (with the model's path and, with `-o`, the
/// rewrite report), written beside the pruned model when `-o` is given and
/// printed with `--json`; true when printed (nothing else to print).
fn report(
    outcome: &impl serde::Serialize,
    plan: &str,
    args: &Args,
    model: &painters_graph::OnnxModel,
    layout: &painters_graph::BlockLayout,
    src: &Path,
) -> anyhow::Result<bool> {
    let mut report = serde_json::to_value(outcome)?;
    report["model"] = serde_json::Value::from(src.display().to_string());
    if let Some(out) = &args.output {
        let w = rewrite_model(model, layout, &parse(plan)?, &out.join("model.onnx"), &WriteOptions::default())?;
        report["output"] = serde_json::to_value(&w)?;
        let text = serde_json::to_string_pretty(&report)? + "\n";
        painters_graph::write_atomic(&out.join("prune.json"), |f| std::io::Write::write_all(f, text.as_bytes()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(args.json)
}

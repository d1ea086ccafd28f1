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
    /// K: how many blocks to remove
    #[arg(long)]
    budget: usize,
    /// bi (ShortGPT), angular (Gromov et al.), greedy (SLEB), paper (the paper's skip preset)
    #[arg(long, value_enum)]
    method: Method,
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
    /// Greedy: re-run the whole model for every candidate instead of reusing the
    /// stream entering it (slower; for comparison)
    #[arg(long)]
    no_reuse: bool,
    /// Greedy: sessions of partial models kept between candidates (memory: each holds the weights it reads)
    #[arg(long, default_value_t = 8)]
    session_cache: usize,
    /// Intra-op threads (0: ONNX Runtime's default)
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Print prune.json to stdout
    #[arg(long)]
    json: bool,
}

pub fn main(args: Args, ort_lib: Option<&Path>) -> anyhow::Result<()> {
    let src = super::resolve_model(&args.model)?;
    let (model, layout) = painters_rewrite::open(&src, false)?;
    let tok = Tokenizer::for_model(&src, None)?;
    let calib = Calibration::load(&args.calib, &tok, args.window, args.max_tokens)?;
    let runtime = Runtime::global(ort_lib)?;
    let _lock = args.output.as_deref().map(|o| painters_graph::lock::FolderLock::acquire(o, "prune")).transpose()?;
    let log = args.log.clone().or_else(|| args.output.as_ref().filter(|_| args.method == Method::Greedy).map(|o| o.join("prune.log.jsonl")));
    if let Some(dir) = log.as_ref().and_then(|l| l.parent()).filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let opts = PruneOptions {
        budget: args.budget,
        method: args.method,
        allow_ends: args.allow_ends,
        session: SessionOptions { threads: args.threads, ..Default::default() },
        log,
        reuse: !args.no_reuse,
        session_cache: args.session_cache,
    };
    let outcome = prune::prune(runtime, &model, &layout, calib, &opts)?;
    let mut report = serde_json::to_value(&outcome)?;
    report["model"] = serde_json::Value::from(src.display().to_string());
    if let Some(out) = &args.output {
        let path = out.join("model.onnx");
        let w = rewrite_model(&model, &layout, &parse(&outcome.plan)?, &path, &WriteOptions::default())?;
        report["output"] = serde_json::to_value(&w)?;
        let text = serde_json::to_string_pretty(&report)? + "\n";
        painters_graph::write_atomic(&out.join("prune.json"), |f| std::io::Write::write_all(f, text.as_bytes()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
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

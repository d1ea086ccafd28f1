//! `painters eval MODEL --task NAME --data PATH …`: one task, a table on
//! stdout or harness-shaped JSON with `--json`.
use std::path::{Path, PathBuf};

use painters_graph::{BlockLayout, OnnxModel};
use painters_run::eval::task::{self, TaskInputs, TaskSpec};
use painters_run::eval::{probe, similarity, TaskResult, Timing};
use painters_run::Error;
use painters_run::lm::LanguageModel;
use painters_run::session::Device;
use painters_run::tokenizer::Tokenizer;
use painters_run::{Runtime, SessionOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Task {
    Perplexity,
    Choice,
    Generate,
    Probe,
    Fidelity,
    Similarity,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An .onnx file or a model folder (with tokenizer.json)
    pub model: PathBuf,
    #[arg(long, value_enum)]
    pub task: Task,
    /// The data: a text file (perplexity, similarity), BIG-bench task.json or JSONL (choice, generate), JSONL (probe, fidelity)
    #[arg(long)]
    pub data: PathBuf,
    /// Use only the first N examples (choice, generate, probe, fidelity) or texts (similarity)
    #[arg(long, value_parser = super::positive)]
    pub limit: Option<usize>,
    /// A tokenizer.json (default: the model folder's)
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// cpu, cuda or cuda:ID
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Intra-op threads (0: ONNX Runtime's default)
    #[arg(long, default_value_t = 0, value_parser = super::threads)]
    pub threads: usize,
    /// Graph optimization level: 0 (none) to 3 (all)
    #[arg(long, default_value_t = 3)]
    pub opt_level: u8,
    /// Rows per run (perplexity windows, probe texts)
    #[arg(long, default_value_t = 8, value_parser = super::positive)]
    pub batch_size: usize,
    /// perplexity: window length in tokens (default 512, or the model's max_position_embeddings where smaller)
    #[arg(long)]
    pub window: Option<usize>,
    /// perplexity: stride (default: the window, i.e. disjoint windows)
    #[arg(long)]
    pub stride: Option<usize>,
    /// perplexity: keep the first N tokens; similarity: tokens per text (default 64)
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// choice: few-shot examples
    #[arg(long, default_value_t = 0)]
    pub fewshot: usize,
    /// choice: few-shot seed
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    /// choice: score every (context + choice) from scratch even when the model has a KV cache
    #[arg(long)]
    pub no_cache_reuse: bool,
    /// choice: score the uniform model instead (every token equally likely, so the choice with
    /// the fewest tokens wins) with the model's tokenizer; no session is opened
    #[arg(long)]
    pub uniform: bool,
    /// generate: new tokens at most
    #[arg(long, default_value_t = 16)]
    pub max_new_tokens: usize,
    /// generate: stop strings (default: a newline)
    #[arg(long)]
    pub stop: Vec<String>,
    /// fidelity: the reference model (usually the unmodified one)
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// similarity: folder for similarity.{json,csv,png,svg} (default: next to the model)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print lm-evaluation-harness-shaped JSON
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: Args, ort_lib: Option<&Path>) -> anyhow::Result<()> {
    let path = super::resolve_model(&args.model)?;
    // Loaded once: checked, and (similarity) detected, before anything else;
    // the session then runs the file's graph as it is.
    let model = OnnxModel::load(&path)?;
    let plan = model.proto.metadata_props.iter().find(|p| p.key() == painters_graph::conventions::meta::PLAN).map(|p| p.value().to_string());
    let tok = Tokenizer::for_model(&path, args.tokenizer.as_deref())?;
    let source = match spec(&args, tok.max_positions) {
        Some(spec) => {
            model.clone().canonicalize()?; // the one definition of a valid input model, as in every command
            Source::Task(spec, model)
        }
        None => {
            let (model, layout) = painters_rewrite::declared::open_model(model)?;
            Source::Similarity(model, layout)
        }
    };
    let device: Device = args.device.parse().map_err(anyhow::Error::msg)?;
    if args.uniform && args.task != Task::Choice {
        anyhow::bail!("--uniform scores multiple choice only (--task choice)");
    }
    let runtime = Runtime::global(ort_lib)?;
    let opts = SessionOptions { threads: args.threads, optimization: args.opt_level, device, ..Default::default() };
    let result = run_one(&args, &path, source, runtime, &opts, &tok)?;
    if args.json {
        let v = result.harness_json(&path.display().to_string(), plan.as_deref());
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{:<12} {:<24} {:>14}", "task", "metric", "value");
        for (k, v) in &result.metrics {
            println!("{:<12} {:<24} {:>14.6}", result.task, k, v);
        }
        println!("({} samples{})", result.n_samples, plan.map(|p| format!("; plan {p}")).unwrap_or_default());
    }
    Ok(())
}

/// The task and the model, loaded once: as it was read (a session runs
/// it), or for similarity in canonical form with its blocks (they are tapped).
enum Source {
    Task(TaskSpec, OnnxModel),
    Similarity(OnnxModel, BlockLayout),
}

/// The flags of one task as the registry's typed spec (`eval::task`);
/// `max_positions`: what the model's config.json declares.
fn spec(args: &Args, max_positions: Option<usize>) -> Option<TaskSpec> {
    Some(match args.task {
        Task::Perplexity => {
            let window = args.window.unwrap_or_else(|| max_positions.map_or(512, |m| m.min(512)));
            TaskSpec::Perplexity { window, stride: args.stride, max_tokens: args.max_tokens }
        }
        Task::Choice => TaskSpec::Choice { fewshot: args.fewshot, seed: args.seed, max_len: None, reuse_cache: !args.no_cache_reuse },
        Task::Generate => TaskSpec::Generate {
            max_new_tokens: args.max_new_tokens,
            stop: if args.stop.is_empty() { vec!["\n".to_string()] } else { args.stop.clone() },
        },
        Task::Probe => TaskSpec::Probe,
        Task::Fidelity => TaskSpec::Fidelity,
        Task::Similarity => return None,
    })
}

fn run_one(args: &Args, path: &Path, source: Source, runtime: &Runtime, opts: &SessionOptions, tok: &Tokenizer) -> anyhow::Result<TaskResult> {
    let (spec, model) = match source {
        Source::Task(spec, model) => (spec, model),
        Source::Similarity(model, layout) => return similarity_task(args, path, (model, layout), runtime, opts, tok),
    };
    // Fidelity: the reference model's embeddings first.
    let reference = match spec {
        TaskSpec::Fidelity => {
            let reference = args.reference.as_ref().ok_or_else(|| anyhow::anyhow!("fidelity needs --reference MODEL"))?;
            let ref_path = super::resolve_model(reference)?;
            let texts = task::fidelity_texts(&args.data, args.limit)?;
            let ref_tok = Tokenizer::for_model(&ref_path, args.tokenizer.as_deref())?;
            Some((probe::embed(&mut LanguageModel::open(runtime, &ref_path, opts)?, &ref_tok, &texts, args.batch_size)?, ref_path))
        }
        _ => None,
    };
    let io = TaskInputs { data: &args.data, limit: args.limit, batch: args.batch_size, model: path, reference: reference.as_ref().map(|(e, _)| e.as_slice()) };
    if args.uniform {
        return task::uniform_baseline(tok, &spec, &io)?.ok_or_else(|| anyhow::anyhow!("--uniform scores multiple choice only"));
    }
    // Session creation, then the task on it, timed apart (`painters.timing`).
    let start = std::time::Instant::now();
    let mut lm = LanguageModel::open_model(runtime, &model, opts)?;
    drop(model);
    let session_seconds = start.elapsed().as_secs_f64();
    let start = std::time::Instant::now();
    let mut result = task::run(&mut lm, tok, &spec, &io)?;
    let stats = lm.session.stats();
    result.timing = Some(Timing { session_seconds, task_seconds: start.elapsed().as_secs_f64(), run_seconds: stats.run_seconds, runs: stats.runs });
    if let Some((_, ref_path)) = &reference {
        // as before the registry: fidelity names its reference and reports no timing
        result.config = serde_json::json!({"reference": ref_path.display().to_string(), "pooling": "mean"});
        result.timing = None;
    }
    Ok(result)
}

fn similarity_task(
    args: &Args,
    path: &Path,
    source: (OnnxModel, BlockLayout),
    runtime: &Runtime,
    opts: &SessionOptions,
    tok: &Tokenizer,
) -> anyhow::Result<TaskResult> {
    let text = std::fs::read_to_string(&args.data).map_err(|e| Error::Data { path: args.data.display().to_string(), reason: e.to_string() })?;
    let mut texts = similarity::paragraphs(&text);
    if let Some(n) = args.limit {
        texts.truncate(n);
    }
    if texts.is_empty() {
        return Err(Error::Data { path: args.data.display().to_string(), reason: "no text".into() }.into());
    }
    let (mut lm, blocks) = similarity::tapped_session_of(runtime, source, opts)?;
    let (result, sim) = similarity::similarity(&mut lm, blocks, tok, &texts, args.max_tokens.unwrap_or(64))?;
    let out = args.out.clone().unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).to_path_buf());
    similarity::write_files(&out, &sim).map_err(Error::io(&out))?;
    Ok(result)
}

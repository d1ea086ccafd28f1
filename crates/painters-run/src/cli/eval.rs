//! `painters eval MODEL --task NAME --data PATH …`: one task, a table on
//! stdout or harness-shaped JSON with `--json`.
use std::path::{Path, PathBuf};

use painters_graph::OnnxModel;
use painters_run::eval::{choice, data, generate, perplexity, probe, similarity, EvalError, TaskResult, Timing};
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
    #[arg(long)]
    pub limit: Option<usize>,
    /// A tokenizer.json (default: the model folder's)
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// cpu, cuda or cuda:ID
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Intra-op threads (0: ONNX Runtime's default)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Graph optimization level: 0 (none) to 3 (all)
    #[arg(long, default_value_t = 3)]
    pub opt_level: u8,
    /// Rows per run (perplexity windows, probe texts)
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// perplexity: window length in tokens
    #[arg(long, default_value_t = 512)]
    pub window: usize,
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
    let mut model = OnnxModel::load(&path)?;
    model.canonicalize()?; // the one definition of a valid input model, as in every command
    let plan = model.proto.metadata_props.iter().find(|p| p.key() == painters_graph::conventions::meta::PLAN).map(|p| p.value().to_string());
    let device: Device = args.device.parse().map_err(anyhow::Error::msg)?;
    let tok = Tokenizer::for_model(&path, args.tokenizer.as_deref())?;
    let runtime = Runtime::global(ort_lib)?;
    let opts = SessionOptions { threads: args.threads, optimization: args.opt_level, device, ..Default::default() };
    let result = run_task(&args, &path, runtime, &opts, &tok)?;
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

fn limited<T: Clone>(v: Vec<T>, limit: Option<usize>) -> Vec<T> {
    match limit {
        Some(n) => v.into_iter().take(n).collect(),
        None => v,
    }
}

fn max_len(path: &Path) -> usize {
    let config = path.parent().map(|d| d.join("config.json")).and_then(|p| std::fs::read_to_string(p).ok());
    config
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|c| c["max_position_embeddings"].as_u64().or(c["n_positions"].as_u64()))
        .map(|n| n as usize)
        .unwrap_or(2048)
}

fn run_task(args: &Args, path: &Path, runtime: &Runtime, opts: &SessionOptions, tok: &Tokenizer) -> Result<TaskResult, EvalError> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| EvalError::Data { path: p.display().to_string(), reason: e.to_string() });
    let open = || LanguageModel::open(runtime, path, opts);
    // Session creation, then the task on it, timed apart (`painters.timing`).
    let timed = |task: &mut dyn FnMut(&mut LanguageModel) -> Result<TaskResult, EvalError>| {
        let start = std::time::Instant::now();
        let mut lm = open()?;
        let session_seconds = start.elapsed().as_secs_f64();
        let start = std::time::Instant::now();
        let mut result = task(&mut lm)?;
        let stats = lm.session.stats();
        result.timing =
            Some(Timing { session_seconds, task_seconds: start.elapsed().as_secs_f64(), run_seconds: stats.run_seconds, runs: stats.runs });
        Ok::<_, EvalError>(result)
    };
    match args.task {
        Task::Perplexity => {
            let text = read(&args.data)?;
            let p = perplexity::PerplexityParams {
                window: args.window,
                stride: args.stride.unwrap_or(args.window),
                max_tokens: args.max_tokens,
                batch: args.batch_size,
            };
            timed(&mut |lm| perplexity::perplexity(lm, tok, &text, &p))
        }
        Task::Choice => {
            let examples = limited(data::load_choice(&args.data)?, args.limit);
            let p = choice::ChoiceParams { fewshot: args.fewshot, seed: args.seed, max_len: max_len(path), reuse_cache: !args.no_cache_reuse };
            timed(&mut |lm| choice::choice(lm, tok, &examples, &p))
        }
        Task::Generate => {
            let examples = limited(data::load_generate(&args.data)?, args.limit);
            let stop = if args.stop.is_empty() { vec!["\n".to_string()] } else { args.stop.clone() };
            let p = generate::GenerateParams { max_new_tokens: args.max_new_tokens, stop };
            timed(&mut |lm| generate::generate(lm, tok, &examples, &p))
        }
        Task::Probe => {
            let examples = limited(data::load_probe(&args.data)?, args.limit);
            timed(&mut |lm| probe::probe(lm, tok, &examples, args.batch_size))
        }
        Task::Fidelity => {
            let reference = args.reference.as_ref().ok_or_else(|| EvalError::Task("fidelity needs --reference MODEL".into()))?;
            let ref_path = super::resolve_model(reference).map_err(|e| EvalError::Task(e.to_string()))?;
            let texts: Vec<String> = limited(data::load_probe(&args.data)?, args.limit).into_iter().map(|e| e.text).collect();
            let a = probe::embed(&mut open()?, tok, &texts, args.batch_size)?;
            let ref_tok = Tokenizer::for_model(&ref_path, args.tokenizer.as_deref())?;
            let b = probe::embed(&mut LanguageModel::open(runtime, &ref_path, opts)?, &ref_tok, &texts, args.batch_size)?;
            Ok(probe::fidelity_result(&a, &b, serde_json::json!({"reference": ref_path.display().to_string(), "pooling": "mean"})))
        }
        Task::Similarity => {
            let texts = limited(similarity::paragraphs(&read(&args.data)?), args.limit);
            if texts.is_empty() {
                return Err(EvalError::Data { path: args.data.display().to_string(), reason: "no text".into() });
            }
            let (mut lm, blocks) = similarity::tapped_session(runtime, path, opts)?;
            let (result, sim) = similarity::similarity(&mut lm, blocks, tok, &texts, args.max_tokens.unwrap_or(64))?;
            let out = args.out.clone().unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).to_path_buf());
            write_similarity(&out, &sim).map_err(|e| EvalError::Task(format!("{}: {e}", out.display())))?;
            Ok(result)
        }
    }
}

fn write_similarity(dir: &Path, sim: &similarity::Similarity) -> std::io::Result<()> {
    similarity::write_files(dir, sim)
}

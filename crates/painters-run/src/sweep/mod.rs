//! `painters sweep`: for every preset and start layer N, rewrite the model
//! (into a work folder, weights hard-linked, never copied), evaluate the
//! suite, and append one JSON line per (plan, task) to `results.jsonl`.
//! Rerunning skips what is done, so a killed sweep loses at most the task
//! that was running. Then `report` writes the plots and `report.md`.
pub mod report;
pub mod suite;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use painters_graph::{detect, OnnxModel};
use painters_rewrite::{preset, rewrite_file, Plan, Preset, PresetParams, WriteOptions};
use serde::{Deserialize, Serialize};

use crate::eval::{choice, data, generate, perplexity, probe, EvalError, TaskResult};
use crate::lm::LanguageModel;
use crate::session::SessionOptions;
use crate::tokenizer::Tokenizer;
use crate::Runtime;
use suite::{Suite, SuiteTask};

/// One line of `results.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub model: String,
    /// `full` for the unmodified model.
    pub preset: String,
    pub n: Option<usize>,
    /// Number of affected middle blocks (0 for the full model).
    pub m: usize,
    pub layers: usize,
    pub plan: String,
    pub task: String,
    pub group: String,
    pub metric: String,
    pub value: f64,
    pub stderr: Option<f64>,
    pub chance: Option<f64>,
    pub n_samples: usize,
    pub metrics: BTreeMap<String, f64>,
    pub seconds: Timing,
}

/// Where the time of one record went (rewrite and session: once per configuration).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Timing {
    pub rewrite: f64,
    pub session: f64,
    pub eval: f64,
}

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub model: PathBuf,
    pub presets: Vec<Preset>,
    pub n_values: Vec<usize>,
    pub suite: Suite,
    pub out: PathBuf,
    pub seed: u64,
    pub loops: usize,
    pub session: SessionOptions,
    pub batch: usize,
}

/// One configuration: a preset at a start layer (or the full model).
#[derive(Debug, Clone)]
pub struct Config {
    pub preset: String,
    pub n: Option<usize>,
    pub m: usize,
    pub plan: Plan,
}

/// The configurations of a sweep, the full model first.
pub fn configs(layers: usize, presets: &[Preset], n_values: &[usize], seed: u64, loops: usize) -> Result<Vec<Config>, EvalError> {
    let mut out = vec![Config { preset: "full".into(), n: None, m: 0, plan: Plan::sequence(0..layers) }];
    for &p in presets {
        if !p.uses_middle() {
            return Err(EvalError::Task(format!("preset {p} takes --index, not a range of N; sweep the middle presets")));
        }
        for &n in n_values {
            if layers < 2 * n + 2 {
                continue;
            }
            let params = PresetParams { layers, n: Some(n), seed, loops: Some(loops), ..Default::default() };
            let plan = preset(p, &params)?;
            out.push(Config { preset: p.name().into(), n: Some(n), m: layers - 2 * n - 1, plan });
        }
    }
    Ok(out)
}

/// A sweep killed while writing leaves a partial last line: cut it off so
/// the next record starts on a line of its own.
fn drop_torn_tail(path: &Path) -> std::io::Result<()> {
    let Ok(bytes) = std::fs::read(path) else { return Ok(()) };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map(|i| i + 1).unwrap_or(0);
    std::fs::OpenOptions::new().write(true).open(path)?.set_len(keep as u64)
}

/// Records already in `results.jsonl` (a torn last line is ignored).
pub fn load_records(path: &Path) -> Vec<Record> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
        .unwrap_or_default()
}

fn key(preset: &str, n: Option<usize>, task: &str) -> String {
    format!("{preset}|{n:?}|{task}")
}

/// Runs the sweep; returns every record (old and new).
pub fn run(runtime: &Runtime, o: &SweepOptions) -> Result<Vec<Record>, EvalError> {
    let io = |e: std::io::Error| EvalError::Task(format!("{}: {e}", o.out.display()));
    std::fs::create_dir_all(&o.out).map_err(io)?;
    let _lock = painters_graph::lock::FolderLock::acquire(&o.out, "sweep")?;
    let (model, layout) = painters_rewrite::open(&o.model, false)?;
    let layers = layout.num_blocks();
    let base = base_model(&o.model, &model, &o.out)?;
    let results = o.out.join("results.jsonl");
    drop_torn_tail(&results).map_err(io)?;
    let mut done: HashSet<String> = load_records(&results).iter().map(|r| key(&r.preset, r.n, &r.task)).collect();
    let configs = configs(layers, &o.presets, &o.n_values, o.seed, o.loops)?;
    let todo: Vec<&Config> =
        configs.iter().filter(|c| o.suite.tasks.iter().any(|t| !done.contains(&key(&c.preset, c.n, &t.name)))).collect();
    let bar = crate::eval::progress(todo.len() as u64, "configs");
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&results).map_err(io)?;
    let tok = Tokenizer::for_model(&base, None)?;
    let mut reference_embeddings: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    let work = o.out.join(".work");
    for c in todo {
        bar.set_message(format!("{} N={}", c.preset, c.n.map(|n| n.to_string()).unwrap_or("-".into())));
        let t0 = Instant::now();
        let dir = work.join(format!("{}-{}", c.preset, c.n.map(|n| n.to_string()).unwrap_or_default()));
        let path = if c.preset == "full" {
            base.clone()
        } else {
            std::fs::create_dir_all(&dir).map_err(io)?;
            let p = dir.join("model.onnx");
            rewrite_file(&base, &c.plan, &p, &WriteOptions { link: true, ..Default::default() })?;
            p
        };
        let rewrite_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let mut lm = LanguageModel::open(runtime, &path, &o.session)?;
        // Rewrite and session time belong to the configuration: recorded on its first
        // new line only, so summing `seconds` over results.jsonl gives the real totals.
        let (mut rewrite_s, mut session_s) = (rewrite_s, t1.elapsed().as_secs_f64());
        for t in &o.suite.tasks {
            let k = key(&c.preset, c.n, &t.name);
            if done.contains(&k) {
                continue;
            }
            let t2 = Instant::now();
            if t.task == "fidelity" && !reference_embeddings.contains_key(&t.name) {
                let texts = fidelity_texts(t)?;
                let mut reference = LanguageModel::open(runtime, &base, &o.session)?;
                reference_embeddings.insert(t.name.clone(), probe::embed(&mut reference, &tok, &texts, o.batch)?);
            }
            let r = run_task(&mut lm, &tok, t, o.batch, reference_embeddings.get(&t.name))?;
            let metric = t.metric().to_string();
            let value = *r.metrics.get(&metric).ok_or_else(|| EvalError::Task(format!("task '{}' has no metric '{metric}'", t.name)))?;
            let rec = Record {
                model: o.model.display().to_string(),
                preset: c.preset.clone(),
                n: c.n,
                m: c.m,
                layers,
                plan: c.plan.to_string(),
                task: t.name.clone(),
                group: t.group.clone(),
                stderr: r.metrics.get(&format!("{metric}_stderr")).copied().filter(|v| v.is_finite()),
                metric,
                value,
                chance: t.chance,
                n_samples: r.n_samples,
                metrics: r.metrics.clone(),
                seconds: Timing { rewrite: rewrite_s, session: session_s, eval: t2.elapsed().as_secs_f64() },
            };
            let line = serde_json::to_string(&rec).map_err(|e| EvalError::Task(e.to_string()))?;
            writeln!(file, "{line}").map_err(io)?;
            file.sync_data().map_err(io)?;
            done.insert(k);
            (rewrite_s, session_s) = (0.0, 0.0);
        }
        drop(lm);
        if c.preset != "full" {
            let _ = std::fs::remove_dir_all(&dir);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let _ = std::fs::remove_dir_all(&work);
    Ok(load_records(&results))
}

/// The similarity matrix of the unmodified model (computed once, kept in `out/similarity.json`).
pub fn similarity(runtime: &Runtime, o: &SweepOptions) -> Result<Option<crate::eval::similarity::Similarity>, EvalError> {
    let Some(spec) = &o.suite.similarity else { return Ok(None) };
    let cached = o.out.join("similarity.json");
    if let Some(s) = std::fs::read_to_string(&cached).ok().and_then(|t| serde_json::from_str(&t).ok()) {
        return Ok(Some(s));
    }
    let base = o.out.join("base/model.onnx");
    let text = std::fs::read_to_string(&spec.data).map_err(|e| EvalError::Data { path: spec.data.display().to_string(), reason: e.to_string() })?;
    let texts: Vec<String> = crate::eval::similarity::paragraphs(&text).into_iter().take(spec.texts).collect();
    let tok = Tokenizer::for_model(&base, None)?;
    let (mut lm, blocks) = crate::eval::similarity::tapped_session(runtime, &base, &o.session)?;
    let (_, sim) = crate::eval::similarity::similarity(&mut lm, blocks, &tok, &texts, spec.max_tokens)?;
    crate::eval::similarity::write_files(&o.out, &sim).map_err(|e| EvalError::Task(format!("{}: {e}", o.out.display())))?;
    Ok(Some(sim))
}

/// The unmodified model with external data in `out/base/` (once), so every
/// configuration can hard-link its weights instead of copying them.
fn base_model(src: &Path, model: &OnnxModel, out: &Path) -> Result<PathBuf, EvalError> {
    let dir = out.join("base");
    let path = dir.join("model.onnx");
    if path.is_file() {
        return Ok(path);
    }
    let layers = detect(model)?.num_blocks(); // `model` is in canonical form (painters_rewrite::open)
    let opts = WriteOptions { external_data: !model.has_external_data(), link: true, ..Default::default() };
    rewrite_file(src, &Plan::sequence(0..layers), &path, &opts)?;
    Ok(path)
}

fn fidelity_texts(t: &SuiteTask) -> Result<Vec<String>, EvalError> {
    let texts: Vec<String> = data::load_probe(&t.data)?.into_iter().map(|e| e.text).collect();
    Ok(match t.limit {
        Some(n) => texts.into_iter().take(n).collect(),
        None => texts,
    })
}

fn p_usize(v: &serde_json::Value, k: &str) -> Option<usize> {
    v[k].as_u64().map(|x| x as usize)
}

/// Runs one suite task on an open model.
pub fn run_task(lm: &mut LanguageModel, tok: &Tokenizer, t: &SuiteTask, batch: usize, reference: Option<&Vec<Vec<f64>>>) -> Result<TaskResult, EvalError> {
    let limit = |n: usize| t.limit.unwrap_or(n).min(n);
    let p = &t.params;
    let mut r = match t.task.as_str() {
        "perplexity" => {
            let text = std::fs::read_to_string(&t.data).map_err(|e| EvalError::Data { path: t.data.display().to_string(), reason: e.to_string() })?;
            let window = p_usize(p, "window").unwrap_or(512);
            let params = perplexity::PerplexityParams {
                window,
                stride: p_usize(p, "stride").unwrap_or(window),
                max_tokens: p_usize(p, "max_tokens"),
                batch,
            };
            perplexity::perplexity(lm, tok, &text, &params)?
        }
        "choice" => {
            let mut ex = data::load_choice(&t.data)?;
            ex.truncate(limit(ex.len()));
            let params = choice::ChoiceParams {
                fewshot: p_usize(p, "fewshot").unwrap_or(0),
                seed: p["seed"].as_u64().unwrap_or(1234),
                max_len: p_usize(p, "max_len").unwrap_or(2048),
                reuse_cache: true,
            };
            choice::choice(lm, tok, &ex, &params)?
        }
        "generate" => {
            let mut ex = data::load_generate(&t.data)?;
            ex.truncate(limit(ex.len()));
            let stop = p["stop"].as_str().unwrap_or("\n").to_string();
            generate::generate(lm, tok, &ex, &generate::GenerateParams { max_new_tokens: p_usize(p, "max_new_tokens").unwrap_or(16), stop: vec![stop] })?
        }
        "probe" => {
            let ex = data::load_probe(&t.data)?;
            probe::probe(lm, tok, &ex, batch)?
        }
        "fidelity" => {
            let texts = fidelity_texts(t)?;
            let reference = reference.ok_or_else(|| EvalError::Task("fidelity needs the reference embeddings".into()))?;
            let emb = probe::embed(lm, tok, &texts, batch)?;
            TaskResult {
                task: "fidelity".into(),
                metrics: BTreeMap::from([("cosine".to_string(), probe::fidelity(&emb, reference))]),
                n_samples: texts.len(),
                config: serde_json::Value::Null,
                details: serde_json::Value::Null,
                timing: None,
            }
        }
        other => return Err(EvalError::Task(format!("unknown task kind '{other}'"))),
    };
    r.task = t.name.clone();
    Ok(r)
}

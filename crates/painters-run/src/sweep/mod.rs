//! `painters sweep`: for every preset and start layer N, rewrite the model
//! (into a work folder, weights hard-linked, never copied), evaluate the
//! suite, and append one JSON line per (plan, task) to `results.jsonl`.
//! Rerunning skips what is done, so a killed sweep loses at most the task
//! that was running. Then `report` writes the plots and `report.md`.
//! `folder` owns the results files, their manifests and the merge of a
//! split's shards; `suite` the suite file; `stats` the intervals; `claims`
//! the report's verdicts on the paper's claims.
pub mod claims;
pub mod folder;
pub mod report;
pub mod stats;
pub mod suite;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use painters_graph::{BlockLayout, OnnxModel};
use painters_rewrite::{preset, rewrite_model, Plan, Preset, PresetParams, WriteOptions};

use crate::eval::{probe, task, TaskResult, Units};
use crate::error::Error;
use crate::lm::LanguageModel;
use crate::session::SessionOptions;
use crate::tokenizer::Tokenizer;
use crate::Runtime;
use folder::{check_plans, drop_torn_tail, key, label, manifest_file};
pub use folder::{check_inputs, load_records, merged_records, results_file, suite_digest, Manifest, Record, Shard, Timing};
pub(crate) use folder::model_digest;
use suite::{Suite, SuiteTask};

/// What to sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub model: PathBuf,
    pub presets: Vec<Preset>,
    pub n_values: Vec<usize>,
    pub suite: Suite,
    pub out: PathBuf,
    pub seed: u64,
    /// Loops of looped-parallel (one configuration set per entry).
    pub loops: Vec<usize>,
    pub session: SessionOptions,
    pub batch: usize,
    /// Run only this part of the job list.
    pub shard: Option<Shard>,
}

/// One configuration: a preset at a start layer (or the full model).
#[derive(Debug, Clone)]
pub struct Config {
    pub preset: String,
    pub n: Option<usize>,
    pub m: usize,
    pub plan: Plan,
}

/// The configurations of a sweep, the full model first. `looped-parallel`
/// runs once per entry of `loops`: the first is labelled `looped-parallel`,
/// the others `looped-parallel-{loops}`.
///
/// A start layer N needs 2N + 2 blocks (N + 1 before the middle, as many
/// after it, and a middle); larger N are left out, and none fitting is an error.
pub fn configs(layers: usize, presets: &[Preset], n_values: &[usize], seed: u64, loops: &[usize]) -> Result<Vec<Config>, Error> {
    if !presets.is_empty() && !n_values.iter().any(|&n| layers >= 2 * n + 2) {
        let fits = if layers >= 2 { format!("N ≤ {} here", (layers - 2) / 2) } else { "none here".to_string() };
        return Err(Error::Task(format!("--n-range: no start layer N fits a model of {layers} blocks (a preset at N needs 2N + 2 blocks: {fits})")));
    }
    let mut out = vec![Config { preset: "full".into(), n: None, m: 0, plan: Plan::sequence(0..layers) }];
    for &p in presets {
        if !p.uses_middle() {
            return Err(Error::Task(format!("preset {p} takes --index, not a range of N; sweep the middle presets")));
        }
        let variants: Vec<(String, usize)> = match p {
            Preset::LoopedParallel if !loops.is_empty() => loops
                .iter()
                .enumerate()
                .map(|(i, &k)| (if i == 0 { p.name().to_string() } else { format!("{}-{k}", p.name()) }, k))
                .collect(),
            _ => vec![(p.name().to_string(), loops.first().copied().unwrap_or(3))],
        };
        for (label, k) in variants {
            for &n in n_values {
                if layers < 2 * n + 2 {
                    continue;
                }
                let params = PresetParams { layers, n: Some(n), seed, loops: Some(k), ..Default::default() };
                let plan = preset(p, &params)?;
                out.push(Config { preset: label.clone(), n: Some(n), m: middle_blocks(layers, n), plan });
            }
        }
    }
    Ok(out)
}

/// M, the middle blocks a preset at start layer `n` affects.
fn middle_blocks(layers: usize, n: usize) -> usize {
    layers.saturating_sub(2 * n + 1)
}

/// For each plan (in configuration order), the position of the first
/// earlier one that runs the same blocks in the same order (`Plan::order`;
/// plans that average compare as written). At the last start layer of an
/// even-depth model M = 1, and reverse, random, middle-repeat and parallel of
/// one block are all the full model.
pub fn duplicates_of<'a>(plans: impl IntoIterator<Item = &'a str>) -> Vec<Option<usize>> {
    let keys: Vec<String> = plans.into_iter().map(model_key).collect();
    keys.iter().enumerate().map(|(i, k)| keys[..i].iter().position(|e| e == k)).collect()
}

/// One string per model a plan builds: the plan of its block order when it
/// averages nothing (`0-1,[2],3` and `0-3` give `0-3`), else the plan as written.
pub fn model_key(plan: &str) -> String {
    match painters_rewrite::parse(plan).ok().and_then(|p| p.order()) {
        Some(order) => Plan::sequence(order).to_string(),
        None => plan.to_string(),
    }
}

/// Runs the sweep; returns every record (old and new).
pub fn run(runtime: &Runtime, o: &SweepOptions) -> Result<Vec<Record>, Error> {
    let io = |source: std::io::Error| Error::Io { path: o.out.clone(), source };
    // The model and the configurations first: refused before anything is written.
    let (model, layout) = painters_rewrite::open(&o.model, false)?;
    let layers = layout.num_blocks();
    let configs = configs(layers, &o.presets, &o.n_values, o.seed, &o.loops)?;
    let too_large: Vec<String> = o.n_values.iter().filter(|&&n| layers < 2 * n + 2).map(|n| n.to_string()).collect();
    if !too_large.is_empty() {
        eprintln!("painters: note: N = {} left out: a preset at N needs 2N + 2 blocks, and the model has {layers}", too_large.join(", "));
    }
    if o.out.exists() && !o.out.is_dir() {
        return Err(Error::Task(format!("--out {} is a file, not a folder", o.out.display())));
    }
    std::fs::create_dir_all(&o.out).map_err(io)?;
    // One writer per results file: shards of one sweep run side by side in one folder.
    let _lock = match o.shard {
        None => painters_graph::lock::FolderLock::acquire(&o.out, "sweep")?,
        Some(s) => painters_graph::lock::FolderLock::acquire_file(&o.out, &format!(".painters.{}.lock", s.tag()), "sweep shard")?,
    };
    let manifest = Manifest {
        model: o.model.display().to_string(),
        model_blake3: model_digest(&model)?,
        suite_blake3: suite_digest(&o.suite)?,
        shard: o.shard.map(|s| [s.index, s.count]),
        configs: configs.iter().map(|c| (c.preset.clone(), c.n, c.plan.to_string())).collect(),
        tasks: o.suite.tasks.iter().map(|t| t.name.clone()).collect(),
    };
    let mpath = manifest_file(&o.out, o.shard);
    if let Some(old) = std::fs::read_to_string(&mpath).ok().and_then(|t| serde_json::from_str::<Manifest>(&t).ok()) {
        if (&old.model_blake3, &old.suite_blake3) != (&manifest.model_blake3, &manifest.suite_blake3) {
            return Err(Error::Task(format!(
                "{} holds results of another {} (its {} says so); use another --out",
                o.out.display(),
                if old.model_blake3 != manifest.model_blake3 { "model" } else { "suite" },
                mpath.display()
            )));
        }
    }
    let results = results_file(&o.out, o.shard);
    drop_torn_tail(&results).map_err(io)?;
    let old_records = load_records(&results);
    check_plans(&old_records, &manifest.configs, &results.display().to_string())?;
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| Error::Task(e.to_string()))?;
    painters_graph::write_atomic(&mpath, |w| w.write_all(text.as_bytes()))?;
    let base = base_model(&model, &layout, &o.out)?;
    drop(model);
    // The base model, loaded and detected once for every configuration written from it.
    let mut base_source: Option<(OnnxModel, BlockLayout)> = None;
    let mut done: HashSet<String> = old_records.iter().map(|r| key(&r.preset, r.n, &r.task)).collect();
    drop(old_records);
    // A configuration that runs an earlier one's blocks is that model: the report lists it with
    // those results (`merged_records`), and no shard evaluates it again.
    let same = duplicates_of(manifest.configs.iter().map(|(_, _, p)| p.as_str()));
    let repeats: Vec<String> = configs
        .iter()
        .zip(&same)
        .filter_map(|(c, s)| s.map(|j| format!("{} = {}", label(&c.preset, c.n), label(&configs[j].preset, configs[j].n))))
        .collect();
    if !repeats.is_empty() {
        eprintln!("not evaluated again, the report lists each with the results of the same model: {}", repeats.join(", "));
    }
    let todo: Vec<&Config> = configs
        .iter()
        .enumerate()
        .filter(|(i, _)| o.shard.is_none_or(|s| s.owns(*i)) && same[*i].is_none())
        .map(|(_, c)| c)
        .filter(|c| o.suite.tasks.iter().any(|t| !done.contains(&key(&c.preset, c.n, &t.name))))
        .collect();
    let bar = crate::eval::progress(todo.len() as u64, "configs");
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&results).map_err(io)?;
    let tok = Tokenizer::for_model(&base, None)?;
    let mut reference_embeddings: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
    let work = o.out.join(match o.shard {
        None => ".work".to_string(),
        Some(s) => format!(".work.{}", s.tag()),
    });
    for c in todo {
        bar.set_message(format!("{} N={}", c.preset, c.n.map(|n| n.to_string()).unwrap_or("-".into())));
        let t0 = Instant::now();
        let dir = work.join(format!("{}-{}", c.preset, c.n.map(|n| n.to_string()).unwrap_or_default()));
        let path = if c.preset == "full" {
            base.clone()
        } else {
            std::fs::create_dir_all(&dir).map_err(io)?;
            let p = dir.join("model.onnx");
            let (m, l) = match &base_source {
                Some(source) => source,
                None => base_source.insert(painters_rewrite::open(&base, false)?),
            };
            rewrite_model(m, l, &c.plan, &p, &WriteOptions { link: true, ..Default::default() })?;
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
                let texts = task::fidelity_texts(&t.data, t.limit)?;
                let mut reference = LanguageModel::open(runtime, &base, &o.session)?;
                reference_embeddings.insert(t.name.clone(), probe::embed(&mut reference, &tok, &texts, o.batch)?);
            }
            let r = run_task(&mut lm, &tok, t, o.batch, reference_embeddings.get(&t.name), &path)?;
            let metric = t.metric().to_string();
            let value = *r.metrics.get(&metric).ok_or_else(|| Error::Task(format!("task '{}' has no metric '{metric}'", t.name)))?;
            let units = r.units.get(&metric).cloned();
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
                units,
                same_as: None,
            };
            let line = serde_json::to_string(&rec).map_err(|e| Error::Task(e.to_string()))?;
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

/// The similarity matrix of the unmodified model (computed once, kept in
/// `out/similarity.json` with the digest of the texts and token limit it was
/// computed from; another spec, or a file without per-text matrices, is
/// computed again).
pub fn similarity(runtime: &Runtime, o: &SweepOptions) -> Result<Option<crate::eval::similarity::Similarity>, Error> {
    let Some(spec) = &o.suite.similarity else { return Ok(None) };
    let text = std::fs::read_to_string(&spec.data).map_err(|e| Error::Data { path: spec.data.display().to_string(), reason: e.to_string() })?;
    let texts: Vec<String> = crate::eval::similarity::paragraphs(&text).into_iter().take(spec.texts).collect();
    let source = blake3::hash(serde_json::json!([texts, spec.max_tokens]).to_string().as_bytes()).to_hex().to_string();
    let cached = o.out.join("similarity.json");
    let read = std::fs::read_to_string(&cached).ok().and_then(|t| serde_json::from_str::<crate::eval::similarity::Similarity>(&t).ok());
    // A file written before `source` was kept passes if it has a matrix per text.
    let current = |s: &crate::eval::similarity::Similarity| s.per_text.len() == texts.len() && s.source.as_deref().is_none_or(|k| k == source);
    if let Some(s) = read.filter(current) {
        return Ok(Some(s));
    }
    let base = unmodified(o);
    let tok = Tokenizer::for_model(&base, None)?;
    let (mut lm, blocks) = crate::eval::similarity::tapped_session(runtime, &base, &o.session)?;
    let (_, mut sim) = crate::eval::similarity::similarity(&mut lm, blocks, &tok, &texts, spec.max_tokens)?;
    sim.source = Some(source);
    crate::eval::similarity::write_files(&o.out, &sim).map_err(Error::io(&o.out))?;
    Ok(Some(sim))
}

/// The unmodified model to compute from: the sweep's `out/base/` copy, or the
/// model itself where the folder has none (a folder of results copied
/// elsewhere): the identity rewrite gives bit-identical outputs.
fn unmodified(o: &SweepOptions) -> PathBuf {
    let base = o.out.join("base/model.onnx");
    if base.is_file() { base } else { o.model.clone() }
}

/// Per choice task of the suite, what a model giving every token the same
/// probability scores on each example, in the task's metric
/// (`eval::task::uniform_baseline`; the report keeps a task in the
/// normalised scores only where the full model beats it).
pub fn uniform_baselines(o: &SweepOptions) -> Result<BTreeMap<String, Units>, Error> {
    let model = unmodified(o);
    let mut out = BTreeMap::new();
    let mut tok: Option<Tokenizer> = None;
    for t in &o.suite.tasks {
        let spec = t.spec()?;
        if spec.kind() != "choice" {
            continue;
        }
        let tok = match &mut tok {
            Some(t) => t,
            None => tok.insert(Tokenizer::for_model(&model, None)?),
        };
        let io = task::TaskInputs { data: &t.data, limit: t.limit, batch: o.batch, model: &model, reference: None };
        if let Some(mut r) = task::uniform_baseline(tok, &spec, &io)? {
            if let Some(u) = r.units.remove(t.metric()) {
                out.insert(t.name.clone(), u);
            }
        }
    }
    Ok(out)
}

/// The unmodified model (`model`, in canonical form, with its `layout`)
/// with external data in `out/base/` (once), so every configuration can
/// hard-link its weights instead of copying them. Shards sharing the folder
/// take turns: the first writes it, the others wait.
fn base_model(model: &OnnxModel, layout: &BlockLayout, out: &Path) -> Result<PathBuf, Error> {
    let dir = out.join("base");
    let path = dir.join("model.onnx");
    if path.is_file() {
        return Ok(path);
    }
    let start = Instant::now();
    let _lock = loop {
        match painters_graph::lock::FolderLock::acquire(&dir, "sweep (writing the base model)") {
            Ok(l) => break l,
            Err(_) if start.elapsed().as_secs() < 1800 => std::thread::sleep(std::time::Duration::from_millis(200)),
            Err(e) => return Err(e.into()),
        }
    };
    if path.is_file() {
        return Ok(path);
    }
    let opts = WriteOptions { external_data: !model.has_external_data(), link: true, ..Default::default() };
    rewrite_model(model, layout, &Plan::sequence(0..layout.num_blocks()), &path, &opts)?;
    Ok(path)
}

/// Runs one suite task on an open model (the registry: `eval::task`);
/// `model` is the model file (its folder's config.json gives defaults).
pub fn run_task(
    lm: &mut LanguageModel,
    tok: &Tokenizer,
    t: &SuiteTask,
    batch: usize,
    reference: Option<&Vec<Vec<f64>>>,
    model: &Path,
) -> Result<TaskResult, Error> {
    let spec = t.spec()?;
    let io = task::TaskInputs { data: &t.data, limit: t.limit, batch, model, reference: reference.map(Vec::as_slice) };
    let mut r = task::run(lm, tok, &spec, &io)?;
    r.task = t.name.clone();
    Ok(r)
}

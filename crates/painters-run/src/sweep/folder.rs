//! A sweep's folder: its results files (`results.jsonl`, or
//! `results.shard-I-of-N.jsonl` per shard), the manifest beside each
//! (`sweep.json`, `sweep.shard-I-of-N.json`: model and suite digests and the
//! configurations), and the merge of them into one sweep's records.
//! Invariant: the records of a folder belong to one model (file and
//! external data) and one suite (definitions and data bytes), hold one
//! plan per configuration, and each (configuration, task) once; a run or a
//! merge that would break it is refused with one line, before anything is
//! written.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use painters_graph::OnnxModel;
use serde::{Deserialize, Serialize};

use super::suite::Suite;
use super::{duplicates_of, middle_blocks, SweepOptions};
use crate::error::Error;

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
    /// The metric on every example (window), for intervals and the paired bootstrap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<crate::eval::Units>,
    /// The configuration whose results these are (`full`, `reverse N=3`): this
    /// one runs the same blocks in the same order, so it is not evaluated
    /// again (set by [`merged_records`]; never in a results file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
}

/// Where the time of one record went (rewrite and session: once per configuration).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Timing {
    pub rewrite: f64,
    pub session: f64,
    pub eval: f64,
}

/// A deterministic part of a sweep: shard `index` of `count` (1-based, as
/// Slurm's array ids) runs the configurations whose position in the
/// configuration list (the full model first) is `index − 1` modulo `count`,
/// with every task of each. The split does not depend on what is done, so a
/// rerun of a shard resumes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("--shard '{s}': expected I/N with 1 <= I <= N (e.g. 2/8)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl Shard {
    pub(super) fn owns(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }

    pub(super) fn tag(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

/// The results file of a run (`results.jsonl`, or `results.shard-I-of-N.jsonl`).
pub fn results_file(out: &Path, shard: Option<Shard>) -> PathBuf {
    out.join(match shard {
        None => "results.jsonl".to_string(),
        Some(s) => format!("results.{}.jsonl", s.tag()),
    })
}

/// What a results file belongs to (`sweep.json`, or `sweep.shard-I-of-N.json`
/// beside a shard's results): records of different models or suites never mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub model: String,
    /// BLAKE3 of the model file.
    pub model_blake3: String,
    /// BLAKE3 of the suite: every task's definition and data bytes (`suite_digest`).
    pub suite_blake3: String,
    /// `[index, count]` of a shard.
    pub shard: Option<[usize; 2]>,
    /// Every configuration of the sweep, in order: `[preset, N, plan]`.
    pub configs: Vec<(String, Option<usize>, String)>,
    pub tasks: Vec<String>,
}

pub(super) fn manifest_file(out: &Path, shard: Option<Shard>) -> PathBuf {
    out.join(match shard {
        None => "sweep.json".to_string(),
        Some(s) => format!("sweep.{}.json", s.tag()),
    })
}

/// BLAKE3 over a suite's tasks: name, kind, group, metric, chance, limit,
/// parameters and the bytes of the data file (not its path, which differs
/// between machines).
pub fn suite_digest(suite: &Suite) -> Result<String, Error> {
    let mut h = blake3::Hasher::new();
    for t in &suite.tasks {
        let def = serde_json::json!([t.name, t.task, t.group, t.metric, t.chance, t.limit, t.params]);
        h.update(def.to_string().as_bytes());
        let bytes = std::fs::read(&t.data).map_err(|e| Error::Data { path: t.data.display().to_string(), reason: e.to_string() })?;
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(h.finalize().to_hex().to_string())
}

/// A record of a configuration under another plan than the sweep's (an
/// earlier run into the same folder with another `--seed` or `--loops`)
/// would pass for this configuration's result: refused.
pub(super) fn check_plans(records: &[Record], configs: &[(String, Option<usize>, String)], file: &str) -> Result<(), Error> {
    for r in records {
        if let Some((_, _, plan)) = configs.iter().find(|(p, n, _)| *p == r.preset && *n == r.n).filter(|(_, _, p)| *p != r.plan) {
            return Err(Error::Task(format!(
                "{file} holds {} as the plan {} where this sweep's is {plan} (another --seed or --loops?); use another --out",
                label(&r.preset, r.n),
                r.plan
            )));
        }
    }
    Ok(())
}

pub(super) fn label(preset: &str, n: Option<usize>) -> String {
    match n {
        Some(n) => format!("{preset} N={n}"),
        None => preset.to_string(),
    }
}

/// A sweep killed while writing leaves a partial last line: cut it off so
/// the next record starts on a line of its own.
pub(super) fn drop_torn_tail(path: &Path) -> std::io::Result<()> {
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

pub(super) fn key(preset: &str, n: Option<usize>, task: &str) -> String {
    format!("{preset}|{n:?}|{task}")
}

/// Every record of the sweep in `out`: `results.jsonl` and every shard's
/// file, checked to belong to one sweep (the same model and suite digests in
/// their manifests, one plan per configuration, every shard of a split
/// present) and to hold each (configuration, task) once; in the order of
/// a single run (configurations, then tasks). A configuration that runs the
/// same blocks as an earlier one (`duplicates_of`), which no shard
/// evaluates, gets that one's records with `same_as` set. With `partial`,
/// missing shards are allowed (a look at a split still running) and returned.
pub fn merged_records(out: &Path, partial: bool) -> Result<(Vec<Record>, Vec<String>), Error> {
    let io = |source: std::io::Error| Error::Io { path: out.to_path_buf(), source };
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let mut counts: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for entry in std::fs::read_dir(out).map_err(io)? {
        let name = entry.map_err(io)?.file_name().to_string_lossy().to_string();
        if name == "results.jsonl" {
            files.push((name.clone(), out.join(&name)));
        } else if let Some(tag) = name.strip_prefix("results.").and_then(|n| n.strip_suffix(".jsonl")) {
            let shard = tag.strip_prefix("shard-").and_then(|t| t.replacen("-of-", "/", 1).parse::<Shard>().ok());
            if let Some(s) = shard {
                counts.entry(s.count).or_default().push(s.index);
                files.push((name.clone(), out.join(&name)));
            }
        }
    }
    files.sort();
    if counts.len() > 1 {
        return Err(Error::Task(format!(
            "{} holds shards of different splits ({}); merge one split",
            out.display(),
            counts.keys().map(|n| format!("of {n}")).collect::<Vec<_>>().join(", ")
        )));
    }
    let mut absent = Vec::new();
    if let Some((n, have)) = counts.iter().next() {
        for missing in (1..=*n).filter(|i| !have.contains(i)) {
            if !partial {
                return Err(Error::Task(format!(
                    "shard {missing}/{n} has no results yet ({} is missing; --partial reports without it)",
                    results_file(out, Some(Shard { index: missing, count: *n })).display()
                )));
            }
            absent.push(format!("{missing}/{n}"));
        }
    }
    // Manifests: one model, one suite, one plan per configuration.
    let mut first: Option<(String, Manifest)> = None;
    let mut order: Vec<(String, Option<usize>, String)> = Vec::new();
    let mut tasks: Vec<String> = Vec::new();
    let mut plans: BTreeMap<String, String> = BTreeMap::new();
    for (name, _) in &files {
        let mname = name.replacen("results", "sweep", 1).replace(".jsonl", ".json");
        let Some(m) = std::fs::read_to_string(out.join(&mname)).ok().and_then(|t| serde_json::from_str::<Manifest>(&t).ok()) else { continue };
        if let Some((fname, f)) = &first {
            if f.model_blake3 != m.model_blake3 || f.suite_blake3 != m.suite_blake3 {
                return Err(Error::Task(format!(
                    "{mname} and {fname} belong to different sweeps (another {}); merge shards of one sweep only",
                    if f.model_blake3 != m.model_blake3 { "model" } else { "suite" }
                )));
            }
        } else {
            first = Some((mname.clone(), m.clone()));
        }
        for (preset, n, plan) in &m.configs {
            let k = format!("{preset}|{n:?}");
            if let Some(p) = plans.insert(k.clone(), plan.clone()).filter(|p| p != plan) {
                return Err(Error::Task(format!("{preset} N={n:?} is the plan {p} in one shard and {plan} in {mname}: not one sweep")));
            }
            if !order.iter().any(|(p, m, _)| p == preset && m == n) {
                order.push((preset.clone(), *n, plan.clone()));
            }
        }
        for t in &m.tasks {
            if !tasks.contains(t) {
                tasks.push(t.clone());
            }
        }
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut records = Vec::new();
    for (name, path) in &files {
        let rs = load_records(path);
        check_plans(&rs, &order, name)?;
        for r in rs {
            let k = key(&r.preset, r.n, &r.task);
            if let Some(other) = seen.insert(k, name.clone()) {
                return Err(Error::Task(format!(
                    "{} N={:?} task {} is in both {other} and {name}: remove one (a folder holds one run or the shards of one split)",
                    r.preset, r.n, r.task
                )));
            }
            records.push(r);
        }
    }
    let same = duplicates_of(order.iter().map(|(_, _, p)| p.as_str()));
    let mut copies = Vec::new();
    for ((preset, n, plan), j) in order.iter().zip(&same) {
        let Some((from, from_n, _)) = j.map(|j| &order[j]) else { continue };
        for r in records.iter().filter(|r| r.preset == *from && r.n == *from_n) {
            if !seen.contains_key(&key(preset, *n, &r.task)) {
                copies.push(Record {
                    preset: preset.clone(),
                    n: *n,
                    m: n.map(|n| middle_blocks(r.layers, n)).unwrap_or(0),
                    plan: plan.clone(),
                    seconds: Timing::default(),
                    same_as: Some(label(from, *from_n)),
                    ..r.clone()
                });
            }
        }
    }
    records.extend(copies);
    let pos = |r: &Record| {
        let c = order.iter().position(|(p, n, _)| *p == r.preset && *n == r.n).unwrap_or(usize::MAX);
        let t = tasks.iter().position(|t| *t == r.task).unwrap_or(usize::MAX);
        (c, t)
    };
    records.sort_by_key(pos);
    Ok((records, absent))
}

/// For `--report-only`: the model and suite given are the ones every
/// manifest in `out` names (their digests), so the report's uniform model
/// and similarity come from the sweep's own data, not from another suite
/// or limit. A folder without manifests passes; the manifests' agreement
/// with each other is `merged_records`' check.
pub fn check_inputs(o: &SweepOptions) -> Result<(), Error> {
    let io = |source: std::io::Error| Error::Io { path: o.out.clone(), source };
    let mut manifests = Vec::new();
    for entry in std::fs::read_dir(&o.out).map_err(io)? {
        let name = entry.map_err(io)?.file_name().to_string_lossy().to_string();
        if name == "sweep.json" || (name.starts_with("sweep.shard-") && name.ends_with(".json")) {
            let text = std::fs::read_to_string(o.out.join(&name)).map_err(io)?;
            let m: Manifest = serde_json::from_str(&text).map_err(|e| Error::Task(format!("{}: {e}", o.out.join(&name).display())))?;
            manifests.push((name, m));
        }
    }
    manifests.sort_by(|a, b| a.0.cmp(&b.0));
    let Some((name, first)) = manifests.first() else { return Ok(()) };
    if suite_digest(&o.suite)? != first.suite_blake3 {
        return Err(Error::Task(format!(
            "--tasks is not the suite the results in {} were made with ({name} has another digest: a task's definition, limit or data differs); report with the sweep's own suite",
            o.out.display()
        )));
    }
    let (model, _) = painters_rewrite::open(&o.model, false)?;
    if model_digest(&model)? != first.model_blake3 {
        return Err(Error::Task(format!(
            "--model {} is not the model the results in {} were made with ({name} has another digest); report with the sweep's own model",
            o.model.display(),
            o.out.display()
        )));
    }
    Ok(())
}

/// BLAKE3 of the model: of its file (the memory map) and, where it has
/// external data, of every external data file's name and bytes after it.
/// Two exports of one architecture can write byte-identical `.onnx` files
/// with different weights beside them. (A model without external data
/// keeps the digest of its file alone, as `b3sum` prints it.)
pub(crate) fn model_digest(model: &OnnxModel) -> Result<String, Error> {
    let mut files: Vec<PathBuf> = Vec::new();
    for t in model.external_tensors() {
        let (file, _, _) = model.external_span(t)?;
        if !files.contains(&file) {
            files.push(file);
        }
    }
    let mut h = blake3::Hasher::new();
    let bytes = model.source_bytes();
    if bytes.is_empty() {
        let path = model.path().ok_or_else(|| Error::Task("the model has no file".into()))?;
        h.update(&std::fs::read(path).map_err(|e| Error::Data { path: path.display().to_string(), reason: e.to_string() })?);
    } else {
        h.update(bytes);
    }
    for file in &files {
        let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        h.update(&(name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        let mut f = std::fs::File::open(file).map_err(|e| Error::Data { path: file.display().to_string(), reason: e.to_string() })?;
        h.update_reader(&mut f).map_err(|e| Error::Data { path: file.display().to_string(), reason: e.to_string() })?;
    }
    Ok(h.finalize().to_hex().to_string())
}

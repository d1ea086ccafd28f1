//! `painters prune`: choosing which blocks to remove for a budget of K
//! blocks, by the layer-pruning literature's methods (exact definitions and
//! sources in `docs/PRUNE.md`), on calibration text:
//! - `bi` — ShortGPT's Block Influence, one shot: the K lowest;
//! - `angular` — Gromov et al.'s angular distance of a span of K blocks, one
//!   shot: the contiguous span with the smallest distance;
//! - `greedy` — SLEB: K rounds, each removes the block whose removal gives
//!   the lowest calibration NLL (resumable: every evaluated candidate is
//!   appended to a log and reused on a rerun);
//! - `paper` — the paper's skip preset with M = K centred blocks (baseline).
//!
//! The first and last blocks are excluded unless `allow_ends` (as SLEB and
//! Shortened-LLaMA do). The result is a plan (the blocks kept, in order);
//! writing it is an ordinary rewrite, so the pruned model is bit-identical
//! to `painters rewrite --plan` of the same plan.
pub mod calib;
pub mod chain;
pub mod compare;
pub mod metrics;
pub mod parallel;

use std::io::Write;
use std::path::{Path, PathBuf};

use painters_graph::{BlockLayout, Family, OnnxModel};
use painters_rewrite::{preset, Plan, Preset, PresetParams};
use serde::Serialize;

use crate::eval::progress;
use crate::error::Error;
use crate::session::SessionOptions;
use crate::Runtime;
use calib::Calibration;

/// A pruning method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Bi,
    Angular,
    Greedy,
    Paper,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Bi => "bi",
            Method::Angular => "angular",
            Method::Greedy => "greedy",
            Method::Paper => "paper",
        }
    }
}

/// What to search for.
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// K, the number of blocks to remove.
    pub budget: usize,
    pub method: Method,
    /// Consider the first and last blocks too.
    pub allow_ends: bool,
    pub session: SessionOptions,
    /// Greedy: the resumable log of evaluated candidates (JSON lines).
    pub log: Option<PathBuf>,
    /// Greedy: score candidates on the model's pieces opened once, from the
    /// stream entering the first stage a candidate changes (`chain`); false
    /// runs every candidate's whole model in a session of its own (`calib::nlls`).
    pub reuse: bool,
}

/// One round of a search: every candidate's score, and the block removed.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub round: usize,
    /// (candidate block, score): calibration NLL (greedy), BI, or angular distance of the span starting there.
    pub scores: Vec<(usize, f64)>,
    pub removed: Vec<usize>,
}

/// The result of a search.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub method: Method,
    pub budget: usize,
    pub blocks: usize,
    /// Blocks removed, in removal order.
    pub removed: Vec<usize>,
    /// Blocks kept, in order: the plan.
    pub kept: Vec<usize>,
    pub plan: String,
    /// Blocks no method may remove (the ends, unless `allow_ends`).
    pub excluded: Vec<usize>,
    pub rounds: Vec<Round>,
    pub calibration: Calibration,
    /// Calibration NLL of the unmodified model and of the result (decoders).
    pub nll_full: Option<f64>,
    pub nll: Option<f64>,
    /// Candidates evaluated in this run, and reused from the log (greedy).
    pub evaluated: usize,
    pub reused: usize,
    /// Greedy: whether a round's candidates shared one session (what they compute alike, once).
    pub reuse: bool,
    /// Greedy: sessions opened and seconds inside ONNX Runtime's `run`.
    pub scoring: calib::Scoring,
    pub seconds: f64,
}

/// Runs the search.
pub fn prune(
    runtime: &Runtime,
    model: &OnnxModel,
    layout: &BlockLayout,
    calib: Calibration,
    o: &PruneOptions,
) -> Result<Outcome, Error> {
    let start = std::time::Instant::now();
    let t = layout.num_blocks();
    let excluded: Vec<usize> = if o.allow_ends { Vec::new() } else { vec![0, t - 1] };
    let eligible: Vec<usize> = (0..t).filter(|b| !excluded.contains(b)).collect();
    if o.budget == 0 || o.budget > eligible.len() || o.budget >= t {
        return Err(Error::Task(format!(
            "--budget {} is not possible: the model has {t} blocks, {} of them eligible{}",
            o.budget,
            eligible.len(),
            if o.allow_ends { "" } else { " (the first and last are excluded; --allow-ends includes them)" }
        )));
    }
    let decoder = layout.family == Family::Decoder;
    if o.method == Method::Greedy && !decoder {
        return Err(Error::Task("--method greedy scores calibration NLL, which needs a decoder (logits)".into()));
    }
    let mut rounds = Vec::new();
    let (mut evaluated, mut reused) = (0, 0);
    let mut scoring = calib::Scoring::default();
    let removed: Vec<usize> = match o.method {
        Method::Paper => {
            let plan = preset(Preset::Skip, &PresetParams { layers: t, m: Some(o.budget), ..Default::default() })?;
            let kept = plan.blocks();
            (0..t).filter(|b| !kept.contains(b)).collect()
        }
        Method::Bi | Method::Angular => {
            let mut lm = calib::session_for(runtime, model, layout, &Plan::sequence(0..t), true, &o.session)?;
            let hidden = calib::hidden_states(&mut lm, t, &calib)?;
            if o.method == Method::Bi {
                let bi = metrics::block_influence(&hidden);
                let mut order: Vec<usize> = eligible.clone();
                order.sort_by(|&a, &b| bi[a].total_cmp(&bi[b]).then(a.cmp(&b)));
                let chosen: Vec<usize> = order.into_iter().take(o.budget).collect();
                rounds.push(Round { round: 0, scores: (0..t).map(|b| (b, bi[b])).collect(), removed: chosen.clone() });
                chosen
            } else {
                let d = metrics::angular(&hidden, o.budget);
                let span_ok = |l: usize| (l..l + o.budget).all(|b| !excluded.contains(&b));
                let best = (0..d.len())
                    .filter(|&l| span_ok(l))
                    .min_by(|&a, &b| d[a].total_cmp(&d[b]).then(a.cmp(&b)))
                    .ok_or_else(|| Error::Task("no span of that length avoids the excluded blocks".into()))?;
                let chosen: Vec<usize> = (best..best + o.budget).collect();
                rounds.push(Round { round: 0, scores: d.iter().copied().enumerate().collect(), removed: chosen.clone() });
                chosen
            }
        }
        Method::Greedy => {
            let mut log = GreedyLog::open(o.log.as_deref(), &GreedyLog::key("delete", model, &calib)?)?;
            let mut pieces = open_chain(runtime, model, layout, o, &mut scoring)?;
            let mut removed = Vec::new();
            let total: u64 = (0..o.budget).map(|r| (eligible.len() - r) as u64).sum();
            let bar = progress(total, "greedy");
            for round in 0..o.budget {
                let candidates: Vec<usize> = eligible.iter().copied().filter(|b| !removed.contains(b)).collect();
                let kept: Vec<usize> = (0..t).filter(|b| !removed.contains(b)).collect();
                let todo: Vec<usize> = candidates.iter().copied().filter(|&c| log.get(&removed, c).is_none()).collect();
                reused += candidates.len() - todo.len();
                bar.inc((candidates.len() - todo.len()) as u64);
                let done = |i: usize, v: f64| {
                    log.put(&removed, todo[i], v)?;
                    evaluated += 1;
                    bar.inc(1);
                    Ok(())
                };
                match &mut pieces {
                    Some(ch) => {
                        // Removing the block at position p: the stages before p as they were, then those after p.
                        let current: Vec<Vec<usize>> = kept.iter().map(|&b| vec![b]).collect();
                        let cands: Vec<(usize, Vec<Vec<usize>>)> = todo
                            .iter()
                            .map(|&c| {
                                let p = kept.iter().position(|&b| b == c).unwrap_or(0);
                                (p, current[p + 1..].to_vec())
                            })
                            .collect();
                        chain::nlls(ch, &current, &cands, &calib, done)?;
                    }
                    None => {
                        let plans: Vec<Plan> = todo.iter().map(|&c| Plan::sequence(kept.iter().copied().filter(|&b| b != c))).collect();
                        calib::nlls(runtime, model, layout, &plans, &calib, &o.session, &mut scoring, done)?;
                    }
                }
                let scores: Vec<(usize, f64)> = candidates
                    .iter()
                    .map(|&c| log.get(&removed, c).map(|v| (c, v)).ok_or_else(|| Error::Task(format!("block {c} was not scored"))))
                    .collect::<Result<_, _>>()?;
                let best = scores.iter().min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0))).map(|s| s.0).unwrap_or(0);
                removed.push(best);
                rounds.push(Round { round, scores, removed: vec![best] });
            }
            bar.finish_and_clear();
            if let Some(ch) = &pieces {
                scoring.run_seconds += ch.run_seconds();
            }
            removed
        }
    };
    let kept: Vec<usize> = (0..t).filter(|b| !removed.contains(b)).collect();
    let plan = Plan::sequence(kept.iter().copied());
    let (nll_full, nll) = if decoder {
        let mut full = calib::session_for(runtime, model, layout, &Plan::sequence(0..t), false, &o.session)?;
        let mut pruned = calib::session_for(runtime, model, layout, &Plan::sequence(kept.iter().copied()), false, &o.session)?;
        (Some(calib::nll(&mut full, &calib)?), Some(calib::nll(&mut pruned, &calib)?))
    } else {
        (None, None)
    };
    Ok(Outcome {
        method: o.method,
        budget: o.budget,
        blocks: t,
        removed,
        plan: plan.to_string(),
        kept,
        excluded,
        rounds,
        calibration: calib,
        nll_full,
        nll,
        evaluated,
        reused,
        reuse: o.method == Method::Greedy && scoring.chain,
        scoring,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The pieces a greedy search scores its candidates with (`chain`), unless
/// `--no-reuse`; a model they cannot be cut from (a float16 stream) is
/// scored candidate by candidate, with a note saying so.
pub(crate) fn open_chain(
    runtime: &Runtime,
    model: &OnnxModel,
    layout: &BlockLayout,
    o: &PruneOptions,
    scoring: &mut calib::Scoring,
) -> Result<Option<chain::Chain>, Error> {
    if !o.reuse {
        return Ok(None);
    }
    match chain::Chain::open(runtime, model, layout, &o.session) {
        Ok(c) => {
            scoring.sessions += layout.num_blocks() + 2;
            scoring.chain = true;
            Ok(Some(c))
        }
        Err(e) => {
            eprintln!("painters: note: the model cannot be run piece by piece ({}); every candidate runs as a whole model", crate::error::chain(&e));
            Ok(None)
        }
    }
}

/// The greedy search's log: one JSON line per evaluated candidate, keyed by
/// what its NLL depends on (`GreedyLog::key`: the mode, the model file and
/// the calibration windows), the blocks already removed and the candidate. A
/// killed search reruns without repeating what it evaluated; a torn last
/// line (killed mid-write) is ignored; lines of another key are kept but
/// never reused (a note says how many).
struct GreedyLog {
    file: Option<std::fs::File>,
    key: String,
    seen: Vec<(Vec<usize>, usize, f64)>,
}

#[derive(Serialize, serde::Deserialize)]
struct LogLine {
    /// `GreedyLog::key` (logs before 2026-12-07 held the calibration text's digest alone).
    #[serde(alias = "calib")]
    key: String,
    removed: Vec<usize>,
    candidate: usize,
    nll: f64,
}

/// A resumable JSON-lines log (`path`): the lines that parse as `T`, and the file
/// opened for appending. A torn last line (killed mid-write) is dropped from the file.
pub(crate) fn open_log<T: serde::de::DeserializeOwned>(path: &Path) -> Result<(Vec<T>, std::fs::File), Error> {
    let io = |source: std::io::Error| Error::Io { path: path.to_path_buf(), source };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(e)),
    };
    let lines: Vec<T> = text.lines().filter_map(|l| serde_json::from_str::<T>(l).ok()).collect();
    if !text.is_empty() && !text.ends_with('\n') {
        // a torn last line: rewrite the file without it
        let good: String = text.lines().filter(|l| serde_json::from_str::<T>(l).is_ok()).map(|l| format!("{l}\n")).collect();
        std::fs::write(path, good).map_err(io)?;
    }
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
    Ok((lines, file))
}

/// Appends one line to a log `open_log` opened.
pub(crate) fn append_log<T: Serialize>(file: &mut std::fs::File, line: &T) -> Result<(), Error> {
    let line = serde_json::to_string(line).map_err(|e| Error::Task(e.to_string()))?;
    file.write_all(format!("{line}\n").as_bytes()).map_err(|e| Error::Task(format!("prune log: {e}")))
}

/// BLAKE3 of calibration windows' token ids (another text, tokenizer, `--window` or
/// `--max-tokens` gives another digest).
pub(crate) fn windows_digest(calib: &Calibration) -> String {
    let mut h = blake3::Hasher::new();
    for w in &calib.windows {
        h.update(&(w.len() as u64).to_le_bytes());
        for id in w {
            h.update(&id.to_le_bytes());
        }
    }
    h.finalize().to_hex().to_string()
}

impl GreedyLog {
    fn open(path: Option<&Path>, key: &str) -> Result<Self, Error> {
        let Some(path) = path else { return Ok(Self { file: None, key: key.into(), seen: Vec::new() }) };
        let (lines, file) = open_log::<LogLine>(path)?;
        let (seen, other): (Vec<LogLine>, Vec<LogLine>) = lines.into_iter().partition(|l| l.key == key);
        if !other.is_empty() {
            eprintln!(
                "painters: note: {}: {} logged candidates are of another model, calibration or mode; not reused",
                path.display(),
                other.len()
            );
        }
        let seen = seen.into_iter().map(|l| (l.removed, l.candidate, l.nll)).collect();
        Ok(Self { file: Some(file), key: key.into(), seen })
    }

    /// `mode:model:windows`: BLAKE3 of the model file and of the calibration
    /// windows' token ids (`windows_digest`).
    pub(crate) fn key(mode: &str, model: &OnnxModel, calib: &Calibration) -> Result<String, Error> {
        Ok(format!("{mode}:{}:{}", crate::sweep::model_digest(model)?, windows_digest(calib)))
    }

    fn get(&self, removed: &[usize], candidate: usize) -> Option<f64> {
        self.seen.iter().find(|(r, c, _)| r == removed && *c == candidate).map(|s| s.2)
    }

    fn put(&mut self, removed: &[usize], candidate: usize, nll: f64) -> Result<(), Error> {
        self.seen.push((removed.to_vec(), candidate, nll));
        if let Some(f) = &mut self.file {
            append_log(f, &LogLine { key: self.key.clone(), removed: removed.to_vec(), candidate, nll })?;
        }
        Ok(())
    }
}

//! `painters prune --mode parallel`: instead of deleting K blocks, reduce the
//! model's sequential depth by K by running adjacent blocks as parallel
//! groups (the paper: parallel groups lose less than skipping the same span).
//! Greedy on calibration NLL: the stages start as the T blocks; each round
//! evaluates merging every pair of adjacent stages (neither holding an
//! excluded block) into one parallel group — the branches read the same
//! stream, the output is their mean — and keeps the merge with the lowest
//! NLL. After K rounds the plan has T − K sequential stages. Resumable like
//! the deleting search (its own key in the log). The result's latency is
//! measured against the source: sequentially, and with ONNX Runtime's
//! parallel execution mode, which can run a group's branches at once.
use painters_graph::{BlockLayout, OnnxModel};
use painters_rewrite::Plan;
use serde::Serialize;

use super::calib::{self, Calibration};
use super::chain;
use super::{GreedyLog, PruneOptions};
use crate::eval::progress;
use crate::error::Error;
use crate::session::SessionOptions;
use crate::Runtime;

/// One round: every candidate merge (by the first block of its left stage) and its NLL.
#[derive(Debug, Clone, Serialize)]
pub struct MergeRound {
    pub round: usize,
    pub scores: Vec<(usize, f64)>,
    pub merged: usize,
}

/// Forward latency of one calibration window, median of `runs` (after a warm-up run).
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub tokens: usize,
    pub runs: usize,
    pub source_ms: f64,
    /// The source in the parallel mode too (what the thread setting alone changes).
    pub source_parallel_ms: f64,
    pub result_sequential_ms: f64,
    /// ONNX Runtime parallel execution mode, `inter_threads` inter-op threads, 1 intra-op thread each.
    pub result_parallel_ms: f64,
    pub inter_threads: usize,
}

/// The result of a parallel search.
#[derive(Debug, Clone, Serialize)]
pub struct ParallelOutcome {
    pub mode: &'static str,
    pub budget: usize,
    pub blocks: usize,
    /// Sequential stages of the result (T − K).
    pub depth: usize,
    pub stages: Vec<Vec<usize>>,
    pub plan: String,
    pub excluded: Vec<usize>,
    pub rounds: Vec<MergeRound>,
    pub calibration: Calibration,
    pub nll_full: f64,
    pub nll: f64,
    pub latency: Latency,
    pub evaluated: usize,
    pub reused: usize,
    /// Whether candidates were scored on the model's pieces (`chain`).
    pub reuse: bool,
    pub scoring: calib::Scoring,
    pub seconds: f64,
}

/// The plan of `stages`: a block, or a parallel group of single-block branches.
pub fn plan_of(stages: &[Vec<usize>]) -> Plan {
    Plan::Seq(
        stages
            .iter()
            .map(|s| if s.len() == 1 { Plan::Block(s[0]) } else { Plan::Parallel(s.iter().map(|&b| Plan::Block(b)).collect()) })
            .collect(),
    )
}

/// Runs the search.
pub fn search(runtime: &Runtime, model: &OnnxModel, layout: &BlockLayout, calib: Calibration, o: &PruneOptions) -> Result<ParallelOutcome, Error> {
    let start = std::time::Instant::now();
    let t = layout.num_blocks();
    let excluded: Vec<usize> = if o.allow_ends { Vec::new() } else { vec![0, t - 1] };
    let mergeable = |a: &[usize], b: &[usize]| a.iter().chain(b).all(|x| !excluded.contains(x));
    let possible = (0..t.saturating_sub(1)).filter(|&i| mergeable(&[i], &[i + 1])).count();
    if o.budget == 0 || o.budget > possible {
        return Err(Error::Task(format!(
            "--budget {} is not possible in parallel mode: {t} blocks allow at most {possible} merges of adjacent blocks{}",
            o.budget,
            if o.allow_ends { "" } else { " (the first and last are excluded; --allow-ends includes them)" }
        )));
    }
    let nll_of = |stages: &[Vec<usize>]| -> Result<f64, Error> {
        let mut lm = calib::session_for(runtime, model, layout, &plan_of(stages), false, &o.session)?;
        calib::nll(&mut lm, &calib)
    };
    let mut log = GreedyLog::open(o.log.as_deref(), &GreedyLog::key("parallel", model, &calib)?)?;
    let mut stages: Vec<Vec<usize>> = (0..t).map(|b| vec![b]).collect();
    let (mut chosen, mut rounds, mut evaluated, mut reused) = (Vec::new(), Vec::new(), 0, 0);
    let bar = progress((0..o.budget).map(|r| (possible - r) as u64).sum(), "parallel");
    let mut scoring = calib::Scoring::default();
    let mut pieces = super::open_chain(runtime, model, layout, o, &mut scoring)?;
    for round in 0..o.budget {
        // Every possible merge this round: (key, stages with it merged).
        let options: Vec<(usize, Vec<Vec<usize>>)> = (0..stages.len() - 1)
            .filter(|&i| mergeable(&stages[i], &stages[i + 1]))
            .map(|i| {
                let mut merged = stages.clone();
                let right = merged.remove(i + 1);
                merged[i].extend(right);
                (stages[i][0], merged)
            })
            .collect();
        let todo: Vec<&(usize, Vec<Vec<usize>>)> = options.iter().filter(|(key, _)| log.get(&chosen, *key).is_none()).collect();
        reused += options.len() - todo.len();
        bar.inc((options.len() - todo.len()) as u64);
        let done = |i: usize, v: f64| {
            log.put(&chosen, todo[i].0, v)?;
            evaluated += 1;
            bar.inc(1);
            Ok(())
        };
        match &mut pieces {
            Some(ch) => {
                // Merging the stages at i and i + 1: the stages before i as they were, then the merged rest.
                let cands: Vec<(usize, Vec<Vec<usize>>)> = todo
                    .iter()
                    .map(|(key, merged)| {
                        let i = stages.iter().position(|s| s[0] == *key).unwrap_or(0);
                        (i, merged[i..].to_vec())
                    })
                    .collect();
                chain::nlls(ch, &stages, &cands, &calib, done)?;
            }
            None => {
                let plans: Vec<Plan> = todo.iter().map(|(_, st)| plan_of(st)).collect();
                calib::nlls(runtime, model, layout, &plans, &calib, &o.session, &mut scoring, done)?;
            }
        }
        let scores: Vec<(usize, f64)> = options
            .iter()
            .map(|(key, _)| log.get(&chosen, *key).map(|v| (*key, v)).ok_or_else(|| Error::Task(format!("merge at {key} was not scored"))))
            .collect::<Result<_, _>>()?;
        let best = scores.iter().min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0))).map(|s| s.0).ok_or_else(|| Error::Task("no merge left".into()))?;
        let i = stages.iter().position(|s| s[0] == best).unwrap_or(0);
        let right = stages.remove(i + 1);
        stages[i].extend(right);
        chosen.push(best);
        rounds.push(MergeRound { round, scores, merged: best });
    }
    bar.finish_and_clear();
    if let Some(ch) = &pieces {
        scoring.run_seconds += ch.run_seconds();
    }
    let full: Vec<Vec<usize>> = (0..t).map(|b| vec![b]).collect();
    let nll_full = nll_of(&full)?;
    let nll = nll_of(&stages)?;
    let latency = measure(runtime, model, layout, &plan_of(&full), &plan_of(&stages), &calib, &o.session)?;
    Ok(ParallelOutcome {
        mode: "parallel",
        budget: o.budget,
        blocks: t,
        depth: stages.len(),
        plan: plan_of(&stages).to_string(),
        stages,
        excluded,
        rounds,
        calibration: calib,
        nll_full,
        nll,
        latency,
        evaluated,
        reused,
        reuse: scoring.chain,
        scoring,
        seconds: start.elapsed().as_secs_f64(),
    })
}

const RUNS: usize = 7;

fn measure(
    runtime: &Runtime,
    model: &OnnxModel,
    layout: &BlockLayout,
    source: &Plan,
    result: &Plan,
    calib: &Calibration,
    base: &SessionOptions,
) -> Result<Latency, Error> {
    let window = calib.windows.first().cloned().unwrap_or_default();
    let inter = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
    let time = |plan: &Plan, opts: &SessionOptions| -> Result<f64, Error> {
        let mut lm = calib::session_for(runtime, model, layout, plan, false, opts)?;
        lm.forward_logits(std::slice::from_ref(&window), None, |_| ())?;
        let mut ms: Vec<f64> = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t0 = std::time::Instant::now();
            lm.forward_logits(std::slice::from_ref(&window), None, |_| ())?;
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        Ok(ms[RUNS / 2])
    };
    let parallel = SessionOptions { threads: 1, inter_threads: inter, ..base.clone() };
    Ok(Latency {
        tokens: window.len(),
        runs: RUNS,
        source_ms: time(source, base)?,
        source_parallel_ms: time(source, &parallel)?,
        result_sequential_ms: time(result, base)?,
        result_parallel_ms: time(result, &parallel)?,
        inter_threads: inter,
    })
}

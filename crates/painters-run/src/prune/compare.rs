//! `painters prune --compare`: every method for every budget K = 1 … K_max
//! on the same calibration data, each result scored on held-out text, in one
//! table (`compare.json`, `prune_report.md`) and one plot (held-out
//! perplexity vs K, one line per method, 95% intervals).
//! - Held-out perplexity: exp of the mean NLL per predicted token over the
//!   held-out windows; its 95% interval is a percentile bootstrap over
//!   windows, the sweep's (`sweep::stats`: 1,000 resamples seeded with the
//!   name `heldout`, percentiles interpolated), the same resamples for every
//!   model, so differences between methods are paired.
//! - Calibration and held-out data must be disjoint: different file digests,
//!   and no held-out window's tokens occur as a calibration window. Checked
//!   before any work; the report states both.
//! - One search per method serves every K where the method is incremental
//!   (greedy's removal order, BI's ranking); `angular` and `paper` are
//!   searched per K.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use painters_graph::{BlockLayout, OnnxModel};
use painters_rewrite::Plan;
use serde::Serialize;

use super::calib::{self, Calibration};
use super::{prune, Method, Outcome, PruneOptions};
use crate::error::Error;
use crate::plot::{grid_svg, write_svg_png, LineChart, Series};
use crate::sweep::stats;
use crate::sweep::suite::Suite;
use crate::tokenizer::Tokenizer;
use crate::Runtime;

/// One (method, K) cell of the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub method: Method,
    pub budget: usize,
    pub plan: String,
    pub removed: Vec<usize>,
    pub calibration_nll: f64,
    pub heldout_perplexity: f64,
    /// 95% bootstrap interval of the held-out perplexity.
    pub heldout_ci: (f64, f64),
    /// `--eval SUITE`: each task's metric and its 95% interval (a bootstrap over
    /// its examples, or ± 1.96 standard errors without per-example scores), by task name.
    pub suite: BTreeMap<String, SuiteScore>,
}

/// One task's score in a comparison cell.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SuiteScore {
    pub metric: String,
    pub value: f64,
    pub ci: Option<(f64, f64)>,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub model: String,
    pub blocks: usize,
    pub calibration: Calibration,
    pub heldout: Calibration,
    pub disjoint: Disjointness,
    pub full: Cell,
    pub cells: Vec<Cell>,
    pub seconds: f64,
}

/// How calibration and held-out data were checked to be disjoint.
#[derive(Debug, Clone, Serialize)]
pub struct Disjointness {
    pub calibration_blake3: String,
    pub heldout_blake3: String,
    /// Held-out windows whose tokens also form a calibration window (must be 0).
    pub shared_windows: usize,
}

/// Where `--compare` logs the plans it scored (in its out folder).
pub const CELL_LOG: &str = "compare.cells.jsonl";

/// Every number of a cell, from one session of its plan.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct Scores {
    calibration_nll: f64,
    heldout_perplexity: f64,
    heldout_ci: (f64, f64),
    suite: BTreeMap<String, SuiteScore>,
}

/// One line of `CELL_LOG`: a plan's scores, keyed by what they depend on (the
/// model file, the calibration and held-out windows, the suite's digest). A line
/// that does not parse (a NaN score is written as null) is scored again.
#[derive(Serialize, serde::Deserialize)]
struct CellLine {
    key: String,
    kept: Vec<usize>,
    scores: Scores,
}

/// Perplexity and its percentile-bootstrap 95% interval over windows (`draws` shared by every model).
fn perplexity_ci(lls: &[(f64, usize)], draws: &[Vec<usize>]) -> (f64, (f64, f64)) {
    let ppl = |idx: &mut dyn Iterator<Item = usize>| {
        let (mut s, mut n) = (0f64, 0usize);
        for i in idx {
            s += lls[i].0;
            n += lls[i].1;
        }
        (-s / n.max(1) as f64).exp()
    };
    let point = ppl(&mut (0..lls.len()));
    let boot: Vec<f64> = draws.iter().map(|d| ppl(&mut d.iter().copied())).collect();
    (point, stats::interval(&boot).unwrap_or((f64::NAN, f64::NAN)))
}

/// Runs every method for K = 1 … `max_budget` and writes the report into `out`.
#[allow(clippy::too_many_arguments)]
pub fn compare(
    runtime: &Runtime,
    model: &OnnxModel,
    layout: &BlockLayout,
    model_name: &str,
    calibration: Calibration,
    heldout: Calibration,
    methods: &[Method],
    max_budget: usize,
    o: &PruneOptions,
    suite: Option<(&Suite, &Tokenizer)>,
    out: &Path,
) -> Result<Comparison, Error> {
    let start = std::time::Instant::now();
    if let Some((suite, _)) = suite {
        for t in &suite.tasks {
            if t.task == "fidelity" || t.task == "probe" {
                return Err(Error::Task(format!("suite task '{}': {} needs an encoder; --eval scores decoders", t.name, t.task)));
            }
            let digest = std::fs::read(&t.data).map(|b| blake3::hash(&b).to_hex().to_string()).unwrap_or_default();
            if digest == calibration.blake3 {
                return Err(Error::Task(format!(
                    "suite task '{}' reads the calibration text ({}): evaluation data must be disjoint from it",
                    t.name,
                    t.data.display()
                )));
            }
        }
    }
    let shared_windows = heldout.windows.iter().filter(|w| calibration.windows.contains(w)).count();
    let disjoint = Disjointness { calibration_blake3: calibration.blake3.clone(), heldout_blake3: heldout.blake3.clone(), shared_windows };
    if disjoint.calibration_blake3 == disjoint.heldout_blake3 || shared_windows > 0 {
        return Err(Error::Task(format!(
            "the calibration and held-out texts are not disjoint ({}); give a different --heldout text",
            if shared_windows > 0 { format!("{shared_windows} held-out windows occur in the calibration data") } else { "same file contents".into() }
        )));
    }
    let t = layout.num_blocks();
    let n = heldout.windows.len();
    if n < stats::MIN_UNITS {
        return Err(Error::Task(format!(
            "the held-out text gives {n} window(s): its perplexity's interval resamples windows and needs at least {}; give a longer --heldout text",
            stats::MIN_UNITS
        )));
    }
    let draws = stats::resamples("heldout", n);
    // Every number of a cell from one session of its plan; a plan two methods agree on is
    // scored once. Resumable: each scored plan is a line of OUT/compare.cells.jsonl, reused
    // by a rerun with the same model, calibration and held-out windows, and suite.
    let key = format!(
        "compare:{}:{}:{}",
        super::GreedyLog::key("delete", model, &calibration)?,
        super::windows_digest(&heldout),
        suite.map(|(s, _)| crate::sweep::suite_digest(s)).transpose()?.unwrap_or_else(|| "none".into())
    );
    std::fs::create_dir_all(out).map_err(|source| Error::Io { path: out.to_path_buf(), source })?;
    let log_path = out.join(CELL_LOG);
    let (lines, mut log) = super::open_log::<CellLine>(&log_path)?;
    let (mine, other): (Vec<CellLine>, Vec<CellLine>) = lines.into_iter().partition(|l| l.key == key);
    if !other.is_empty() {
        eprintln!("painters: note: {}: {} scored plans are of another model, calibration, held-out text or suite; not reused", log_path.display(), other.len());
    }
    if !mine.is_empty() {
        eprintln!("painters: note: {}: {} plans scored by an earlier run are reused", log_path.display(), mine.len());
    }
    let mut scored: Vec<(Vec<usize>, Scores)> = mine.into_iter().map(|l| (l.kept, l.scores)).collect();
    let mut evaluate = |kept: &[usize]| -> Result<Scores, Error> {
        if let Some((_, s)) = scored.iter().find(|(k, _)| k == kept) {
            return Ok(s.clone());
        }
        let mut lm = calib::session_for(runtime, model, layout, &Plan::sequence(kept.iter().copied()), false, &o.session)?;
        let calibration_nll = calib::nll(&mut lm, &calibration)?;
        let (heldout_perplexity, heldout_ci) = perplexity_ci(&calib::window_lls(&mut lm, &heldout)?, &draws);
        let mut scores = BTreeMap::new();
        for (t, tok) in suite.into_iter().flat_map(|(s, tok)| s.tasks.iter().map(move |t| (t, tok))) {
            let r = crate::sweep::run_task(&mut lm, tok, t, 8, None, model.path().unwrap_or(Path::new("model.onnx")))?;
            let metric = t.metric().to_string();
            let value = r.metrics.get(&metric).copied().unwrap_or(f64::NAN);
            // A sweep's interval: the percentile bootstrap over the task's examples (windows,
            // for perplexity), seeded by the task's name, so every cell resamples alike;
            // ± 1.96 standard errors (clamped to [0, 1] for rates) where there are no units.
            let rate = metric.starts_with("acc") || metric == "exact_match";
            let clamp = |v: f64| if rate { v.clamp(0.0, 1.0) } else { v };
            let boot = r.units.get(&metric).and_then(|u| stats::unit_draws(u, &stats::resamples(&t.name, u.len()))).and_then(|d| stats::interval(&d));
            let ci = boot.or_else(|| r.metrics.get(&format!("{metric}_stderr")).map(|se| (clamp(value - 1.96 * se), clamp(value + 1.96 * se))));
            scores.insert(t.name.clone(), SuiteScore { metric, value, ci });
        }
        let s = Scores { calibration_nll, heldout_perplexity, heldout_ci, suite: scores };
        super::append_log(&mut log, &CellLine { key: key.clone(), kept: kept.to_vec(), scores: s.clone() })?;
        scored.push((kept.to_vec(), s.clone()));
        Ok(s)
    };
    let all: Vec<usize> = (0..t).collect();
    let cell = |method: Method, budget: usize, removed: Vec<usize>, kept: &[usize], s: &Scores| Cell {
        method,
        budget,
        plan: painters_rewrite::Plan::sequence(kept.iter().copied()).to_string(),
        removed,
        calibration_nll: s.calibration_nll,
        heldout_perplexity: s.heldout_perplexity,
        heldout_ci: s.heldout_ci,
        suite: s.suite.clone(),
    };
    let full = cell(Method::Paper, 0, Vec::new(), &all, &evaluate(&all)?);
    let mut cells = Vec::new();
    for &method in methods {
        // Incremental methods: one search at K_max; K's result is its first K removals.
        let incremental = matches!(method, Method::Greedy | Method::Bi);
        let mut last: Option<Outcome> = None;
        for k in 1..=max_budget {
            let outcome = match (&last, incremental) {
                (Some(o_max), true) => o_max.clone(),
                _ => {
                    let mut opts = o.clone();
                    opts.method = method;
                    opts.budget = if incremental { max_budget } else { k };
                    let r = prune(runtime, model, layout, calibration.clone(), &opts)?;
                    last = Some(r.clone());
                    r
                }
            };
            let removed: Vec<usize> = if incremental { outcome.removed[..k].to_vec() } else { outcome.removed.clone() };
            let kept: Vec<usize> = (0..t).filter(|b| !removed.contains(b)).collect();
            let scores = evaluate(&kept)?;
            cells.push(cell(method, k, removed, &kept, &scores));
        }
    }
    let c = Comparison {
        model: model_name.to_string(),
        blocks: t,
        calibration,
        heldout,
        disjoint,
        full,
        cells,
        seconds: start.elapsed().as_secs_f64(),
    };
    write_report(&c, methods, out)?;
    Ok(c)
}

fn write_report(c: &Comparison, methods: &[Method], out: &Path) -> Result<(), Error> {
    let io = |source: std::io::Error| Error::Io { path: out.to_path_buf(), source };
    std::fs::create_dir_all(out).map_err(io)?;
    let json = serde_json::to_string_pretty(c).map_err(|e| Error::Task(e.to_string()))? + "\n";
    painters_graph::write_atomic(&out.join("compare.json"), |w| w.write_all(json.as_bytes()))?;
    let series: Vec<Series> = methods
        .iter()
        .map(|m| {
            let cells: Vec<&Cell> = c.cells.iter().filter(|x| x.method == *m).collect();
            Series {
                name: m.name().to_string(),
                points: std::iter::once((0.0, c.full.heldout_perplexity)).chain(cells.iter().map(|x| (x.budget as f64, x.heldout_perplexity))).collect(),
                intervals: std::iter::once((0.0, c.full.heldout_ci.0, c.full.heldout_ci.1))
                    .chain(cells.iter().map(|x| (x.budget as f64, x.heldout_ci.0, x.heldout_ci.1)))
                    .collect(),
            }
        })
        .collect();
    let chart = LineChart {
        title: format!("{}: held-out perplexity after removing K blocks", c.model),
        x_label: "K (blocks removed)".into(),
        y_label: "held-out token perplexity (95% CI)".into(),
        series,
        y_range: None,
        hlines: vec![(c.full.heldout_perplexity, "full model".into())],
    };
    write_svg_png(&grid_svg(&[chart], 1, 760.0, 420.0), &out.join("prune_compare")).map_err(io)?;
    let mut md = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(md, "# Pruning methods compared: {}\n", c.model);
    let _ = writeln!(
        md,
        "{} blocks. Calibration: `{}` ({} tokens in {} windows of {}, BLAKE3 `{}`). Held-out: `{}` ({} tokens in {} windows, BLAKE3 `{}`). \
         The two are disjoint: different digests, and {} held-out windows occur among the calibration windows. \
         Held-out perplexity intervals: 95% percentile bootstrap over windows, {} resamples (seeded as a sweep's, docs/EVAL.md, with the name `heldout`), the same resamples for every row. \
         Task scores (`--eval`): the suite's metric with its 95% interval, a percentile bootstrap over the task's examples (windows, for perplexity; {} resamples seeded by the task's name, as a sweep's), or ± 1.96 standard errors where a task has no per-example scores; every suite file's digest differs from the calibration text's. \
         Methods: docs/PRUNE.md.\n",
        c.blocks,
        c.calibration.path,
        c.calibration.tokens,
        c.calibration.n_windows,
        c.calibration.window,
        c.calibration.blake3,
        c.heldout.path,
        c.heldout.tokens,
        c.heldout.n_windows,
        c.heldout.blake3,
        c.disjoint.shared_windows,
        stats::DRAWS,
        stats::DRAWS
    );
    let tasks: Vec<String> = c.full.suite.keys().cloned().collect();
    let task_head: String = tasks.iter().map(|t| format!(" {t} ({}) |", c.full.suite[t].metric)).collect();
    let task_rule: String = tasks.iter().map(|_| " --- |").collect();
    let _ = writeln!(
        md,
        "| method | K | removed (in order) | plan | calibration NLL | held-out perplexity | 95% CI |{task_head}\n| --- | ---: | --- | --- | ---: | ---: | --- |{task_rule}"
    );
    let row = |md: &mut String, name: &str, x: &Cell| {
        let cells: String = tasks
            .iter()
            .map(|t| match x.suite.get(t) {
                Some(SuiteScore { value, ci: Some((lo, hi)), .. }) => format!(" {value:.3} [{lo:.3}, {hi:.3}] |"),
                Some(SuiteScore { value, ci: None, .. }) => format!(" {value:.3} |"),
                None => " |".into(),
            })
            .collect();
        let _ = writeln!(
            md,
            "| {name} | {} | {:?} | `{}` | {:.4} | {:.3} | [{:.3}, {:.3}] |{cells}",
            x.budget, x.removed, x.plan, x.calibration_nll, x.heldout_perplexity, x.heldout_ci.0, x.heldout_ci.1
        );
    };
    row(&mut md, "full model", &c.full);
    for x in &c.cells {
        row(&mut md, x.method.name(), x);
    }
    let mut best: BTreeMap<usize, (&str, f64)> = BTreeMap::new();
    for x in &c.cells {
        let e = best.entry(x.budget).or_insert((x.method.name(), x.heldout_perplexity));
        if x.heldout_perplexity < e.1 {
            *e = (x.method.name(), x.heldout_perplexity);
        }
    }
    let _ = writeln!(md, "\nLowest held-out perplexity per K (point estimates; overlapping intervals mean the data cannot rank them):\n");
    for (k, (m, p)) in best {
        let _ = writeln!(md, "- K = {k}: {m} ({p:.3})");
    }
    let _ = writeln!(md, "\n![held-out perplexity vs K](prune_compare.png)");
    painters_graph::write_atomic(&out.join("prune_report.md"), |w| w.write_all(md.as_bytes()))?;
    Ok(())
}

//! The uncertainty of a sweep's numbers (docs/EVAL.md, "Intervals and
//! verdicts"): a paired bootstrap over each task's examples. Every
//! configuration of a sweep scores the same examples of a task, so one
//! resample of a task's example indices is applied to every configuration
//! (the full model included): differences between configurations keep the
//! pairing, and the normalised scores (score − random) / (full − random)
//! and their median across tasks are recomputed on every draw.
//!
//! - `DRAWS` resamples; the indices of task t come from SplitMix64 seeded
//!   with `SEED` XOR the FNV-1a hash of t's name (the same draws whatever
//!   else the sweep holds).
//! - An interval is the 2.5th and 97.5th percentile of the draws.
//! - A claim is a statistic of the draws with the sign the paper predicts:
//!   **agrees** when its interval lies above 0, **disagrees** when below,
//!   **inconclusive** otherwise.
use std::collections::BTreeMap;

use super::Record;
use crate::eval::{SplitMix64, Units};

/// Bootstrap draws.
pub const DRAWS: usize = 1000;
/// The bootstrap's seed.
pub const SEED: u64 = 0x9A1D_7E25;

/// FNV-1a of a task name.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// `DRAWS` resamples (with replacement) of `n` example indices of `task`.
pub fn resamples(task: &str, n: usize) -> Vec<Vec<usize>> {
    let mut rng = SplitMix64(SEED ^ fnv(task));
    (0..DRAWS).map(|_| (0..n).map(|_| (rng.next_u64() % n.max(1) as u64) as usize).collect()).collect()
}

/// The 2.5th and 97.5th percentiles of `draws` (finite values only).
pub fn interval(draws: &[f64]) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = draws.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 2 {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let pos = q * (v.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    };
    Some((at(0.025), at(0.975)))
}

/// The fewest examples (windows) a bootstrap resamples: every resample of
/// one example is that example, a zero-width interval that would decide
/// any claim.
pub const MIN_UNITS: usize = 2;

/// A record's metric on every draw of its task (`None` without per-example
/// units, or with fewer than [`MIN_UNITS`]).
pub fn record_draws(r: &Record, resamples: &[Vec<usize>]) -> Option<Vec<f64>> {
    unit_draws(r.units.as_ref()?, resamples)
}

/// A metric on every draw, from its per-example units (`None` with fewer
/// than [`MIN_UNITS`], or resamples of another length).
pub fn unit_draws(u: &Units, resamples: &[Vec<usize>]) -> Option<Vec<f64>> {
    if u.len() < MIN_UNITS || resamples.first().is_some_and(|s| s.len() != u.len()) {
        return None;
    }
    Some(resamples.iter().map(|idx| u.stat(idx.iter().copied())).collect())
}

/// The 95% interval of one record: the bootstrap over its examples, or
/// ±1.96 standard errors when it has no per-example units (older results).
pub fn record_interval(r: &Record, resamples: Option<&Vec<Vec<usize>>>) -> Option<(f64, f64)> {
    if let Some(d) = resamples.and_then(|s| record_draws(r, s)) {
        return interval(&d);
    }
    r.stderr.filter(|s| s.is_finite()).map(|s| (r.value - 1.96 * s, r.value + 1.96 * s))
}

/// A claim's verdict from the interval of its statistic (positive: as the paper says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")] // as `Verdict::short`
pub enum Verdict {
    Agrees,
    Disagrees,
    Inconclusive,
}

impl Verdict {
    pub fn of(ci: Option<(f64, f64)>) -> Self {
        match ci {
            Some((lo, _)) if lo > 0.0 => Verdict::Agrees,
            Some((_, hi)) if hi < 0.0 => Verdict::Disagrees,
            _ => Verdict::Inconclusive,
        }
    }

    /// The one word of `claims.json` and of the command's summary lines.
    pub fn short(self) -> &'static str {
        match self {
            Verdict::Agrees => "agrees",
            Verdict::Disagrees => "disagrees",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Verdict::Agrees => "agrees",
            Verdict::Disagrees => "disagrees",
            Verdict::Inconclusive => "inconclusive at this sample size",
        }
    }
}

/// Examples per task that would resolve an inconclusive statistic of
/// observed value `d` and interval `ci` measured on `n` examples per task:
/// the interval's reach from `d` towards 0 (`d − lo` for `d` > 0, `hi − d`
/// for `d` < 0: the interval need not be symmetric) shrinks as 1/√n, so it
/// falls below |d| at n·(reach/|d|)².
pub fn examples_needed(d: f64, ci: (f64, f64), n: usize) -> Option<usize> {
    let hw = if d > 0.0 { d - ci.0 } else { ci.1 - d };
    if d.is_nan() || d.abs() <= 1e-12 || !hw.is_finite() {
        return None;
    }
    let need = n as f64 * (hw / d.abs()).powi(2);
    (need.is_finite() && need < 1e12).then(|| need.ceil() as usize)
}

/// Per configuration (preset, m): the median normalised score on every draw,
/// and per (preset, m, task) the normalised score on every draw.
#[derive(Debug, Clone, Default)]
pub struct Draws {
    pub median: BTreeMap<(String, usize), Vec<f64>>,
    pub normalized: BTreeMap<(String, usize), BTreeMap<String, Vec<f64>>>,
    /// Examples per scored task (the smallest, when records disagree).
    pub examples: BTreeMap<String, usize>,
    /// The resamples of every task with units.
    pub resamples: BTreeMap<String, Vec<Vec<usize>>>,
}

/// The paired bootstrap of a sweep's normalised scores. Tasks whose
/// records lack per-example units are left out of the draws (and the
/// report says so).
pub fn draws(records: &[Record], scored: impl Fn(&Record) -> bool) -> Draws {
    let mut d = Draws::default();
    for r in records {
        if let Some(u) = &r.units {
            let n = d.examples.entry(r.task.clone()).or_insert(u.len());
            *n = (*n).min(u.len());
        }
    }
    for (task, &n) in d.examples.iter().filter(|(_, &n)| n >= MIN_UNITS) {
        d.resamples.insert(task.clone(), resamples(task, n));
    }
    let full: BTreeMap<&str, Vec<f64>> = records
        .iter()
        .filter(|r| r.preset == "full")
        .filter_map(|r| Some((r.task.as_str(), record_draws(r, d.resamples.get(&r.task)?)?)))
        .collect();
    for r in records.iter().filter(|r| r.preset != "full" && scored(r)) {
        let (Some(c), Some(f), Some(s)) = (r.chance, full.get(r.task.as_str()), d.resamples.get(&r.task)) else { continue };
        let Some(x) = record_draws(r, s) else { continue };
        let norm: Vec<f64> = x.iter().zip(f).map(|(x, f)| if (f - c).abs() > 1e-12 { (x - c) / (f - c) } else { f64::NAN }).collect();
        d.normalized.entry((r.preset.clone(), r.m)).or_default().insert(r.task.clone(), norm);
    }
    for (key, by_task) in &d.normalized {
        let med: Vec<f64> = (0..DRAWS)
            .map(|b| {
                let mut v: Vec<f64> = by_task.values().map(|x| x[b]).collect();
                super::report::median(&mut v).unwrap_or(f64::NAN)
            })
            .collect();
        d.median.insert(key.clone(), med);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_example_gives_no_interval() {
        let r = |values: Vec<f64>| super::super::report::tests::record("full", "t", values);
        let one = [r(vec![1.0])];
        let d = draws(&one, |_| true);
        assert!(d.resamples.is_empty());
        assert_eq!(record_interval(&one[0], d.resamples.get("t")), None);
        assert_eq!(record_interval(&one[0], Some(&resamples("t", 1))), None);
        let two = [r(vec![1.0, 0.0])];
        let d = draws(&two, |_| true);
        assert_eq!(record_interval(&two[0], d.resamples.get("t")), Some((0.0, 1.0)));
    }

    #[test]
    fn resamples_are_seeded_per_task_and_in_range() {
        let a = resamples("arc", 10);
        assert_eq!(a, resamples("arc", 10));
        assert_ne!(a, resamples("piqa", 10));
        assert_eq!(a.len(), DRAWS);
        assert!(a.iter().all(|s| s.len() == 10 && s.iter().all(|&i| i < 10)));
    }

    #[test]
    fn a_bernoulli_interval_matches_the_normal_approximation() {
        // 200 examples at p = 0.3: the normal interval is 0.3 ± 1.96·√(0.21/200) = ±0.0635.
        let u = Units::mean((0..200).map(|i| f64::from(u8::from(i % 10 < 3))).collect());
        let d: Vec<f64> = resamples("t", 200).iter().map(|s| u.stat(s.iter().copied())).collect();
        let (lo, hi) = interval(&d).unwrap();
        assert!((hi - lo) / 2.0 > 0.05 && (hi - lo) / 2.0 < 0.075, "{lo} {hi}");
        assert!(lo < 0.3 && hi > 0.3);
    }

    #[test]
    fn verdicts_follow_the_interval() {
        assert_eq!(Verdict::of(Some((0.01, 0.2))), Verdict::Agrees);
        assert_eq!(Verdict::of(Some((-0.2, -0.01))), Verdict::Disagrees);
        assert_eq!(Verdict::of(Some((-0.1, 0.2))), Verdict::Inconclusive);
        assert_eq!(Verdict::of(None), Verdict::Inconclusive);
        // half-width 0.1 at n = 100 against an effect of 0.05: 400 examples.
        assert_eq!(examples_needed(0.05, (-0.05, 0.15), 100), Some(400));
        // An asymmetric interval: what counts is its reach towards 0 (0.125 from −0.122), not its half-width (0.115).
        assert_eq!(examples_needed(-0.122, (-0.227, 0.003), 200), Some(210));
    }

    #[test]
    fn a_verdict_is_written_as_its_short_word() {
        for v in [Verdict::Agrees, Verdict::Disagrees, Verdict::Inconclusive] {
            assert_eq!(serde_json::to_value(v).unwrap(), v.short());
        }
    }
}

//! The findings of a sweep's report: each claim of the paper decided from
//! the 95% interval of the statistic it is about (agrees, disagrees, or
//! inconclusive, with the examples per task that would resolve it), over
//! the M at which the configurations compared are different models.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::report::{ci_text, f, mean, scored, Summary};
use super::stats::{self, Draws, Verdict};
use super::Record;
use crate::eval::similarity::Similarity;

/// One claim as `claims.json` holds it: the report's line as data.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    pub claim: String,
    /// What the value is (positive: as the paper says).
    pub statistic: String,
    pub value: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    /// `agrees`, `disagrees`, `inconclusive`; null where the value could not be measured.
    pub verdict: Option<Verdict>,
    /// Examples per task (texts, for the similarity claim): the smallest and the largest task.
    pub examples_per_task: [usize; 2],
    /// Where inconclusive: the examples per task (of the smallest task) that would
    /// resolve it at the observed effect, to two significant figures.
    pub examples_needed: Option<usize>,
    /// The same statistic at each M, where the claim has one per M (looping, skip).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_m: Vec<AtM>,
}

impl Claim {
    /// One line: the verdict, the claim, and its value with its interval.
    pub fn summary(&self) -> String {
        let verdict = self.verdict.map_or("not decided", Verdict::short);
        let value = match (self.value, self.ci95) {
            (Some(v), Some([lo, hi])) => format!("{v:.3} [{lo:.3}, {hi:.3}]"),
            (Some(v), None) => format!("{v:.3}, no interval"),
            _ => "not measurable".to_string(),
        };
        format!("{verdict:<12} {}: {value}", self.claim)
    }
}

/// A claim's statistic at one M.
#[derive(Debug, Clone, Serialize)]
pub struct AtM {
    pub m: usize,
    pub value: f64,
    pub ci95: Option<[f64; 2]>,
    pub verdict: Verdict,
}

impl AtM {
    fn new(m: usize, value: f64, ci: Option<(f64, f64)>) -> Self {
        AtM { m, value, ci95: ci.map(|(lo, hi)| [lo, hi]), verdict: Verdict::of(ci) }
    }

    fn text(&self) -> String {
        format!("M={}: {:.3} {} {}", self.m, self.value, ci_text(self.ci95.map(|[lo, hi]| (lo, hi))), self.verdict.word())
    }
}

/// Writes the "Findings, compared with the paper" section into `o`; returns its claims.
pub(super) fn findings(o: &mut String, s: &Summary, d: &Draws, records: &[Record], presets: &[String], sim: Option<&Similarity>) -> Vec<Claim> {
    let mut claims = Vec::new();
    let sizes: Vec<usize> = d.examples.iter().filter(|(t, _)| records.iter().any(|r| &r.task == *t && scored(r))).map(|(_, n)| *n).collect();
    let n = (sizes.iter().copied().min().unwrap_or(0), sizes.iter().copied().max().unwrap_or(0));
    let _ = writeln!(o, "## Findings, compared with the paper\n");
    let _ = writeln!(o, "Each claim is decided from the 95% interval of the statistic it is about: **agrees** when the interval lies on the paper's side of 0, **disagrees** when on the other, **inconclusive** otherwise. A comparison leaves out the M at which the configurations it compares are one model, or one of them is the full model (at M = 1 reverse, random, middle-repeat and parallel of one block are the full model): that is no intervention, and a tie or a loss against it there is not evidence.\n");
    let same_model = Models::of(records);
    let means: Vec<(String, f64)> = presets
        .iter()
        .filter_map(|p| mean(s.median.get(p).into_iter().flatten().map(|&(_, v)| v)).map(|m| (p.clone(), m)))
        .collect();
    let mut ranked = means.clone();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    if !ranked.is_empty() {
        // A partial run (or a merge of some shards) has different M for different presets:
        // then each mean says which M it is over, and the ranking says it is not like for like.
        let ms_of = |p: &str| -> Vec<usize> { s.median.get(p).into_iter().flatten().map(|&(m, _)| m).collect() };
        let uneven = ranked.iter().any(|(p, _)| ms_of(p) != ms_of(&ranked[0].0));
        let entries: Vec<String> = ranked
            .iter()
            .map(|(p, v)| if uneven { format!("`{p}` {v:.3} (M {})", ms_of(p).iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ")) } else { format!("`{p}` {v:.3}") })
            .collect();
        let caveat = if uneven { "; the presets have different M so far, so it does not compare like with like" } else { "" };
        let _ = writeln!(o, "- **Ranking** (descriptive: mean over M of the normalised median score{caveat}): {}.", entries.join(", "));
    }
    if presets.iter().any(|p| p == "middle-repeat") && presets.len() > 1 {
        // The smallest margin of any other preset over middle-repeat, on the Ms both measured.
        let others: Vec<&String> = presets.iter().filter(|p| *p != "middle-repeat").collect();
        let mut point: Option<f64> = None;
        let mut draws: Option<Vec<f64>> = Some(vec![f64::INFINITY; stats::DRAWS]);
        // Each preset's margin and the M it is over, smallest first; the presets without an M in common.
        let (mut margins, mut apart): (Vec<(f64, String)>, Vec<String>) = (Vec::new(), Vec::new());
        for p in &others {
            let ms = common_ms(s, &[p.as_str(), "middle-repeat"], &same_model);
            let (Some(a), Some(b)) = (point_mean(s, p, &ms), point_mean(s, "middle-repeat", &ms)) else {
                apart.push(format!("`{p}`"));
                continue;
            };
            margins.push((a - b, format!("`{p}` {:.3} (M {})", a - b, ms.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", "))));
            point = Some(point.map_or(a - b, |x: f64| x.min(a - b)));
            draws = match (draws, mean_median(d, p, &ms), mean_median(d, "middle-repeat", &ms)) {
                (Some(acc), Some(x), Some(y)) => Some(acc.iter().zip(x.iter().zip(&y)).map(|(m, (x, y))| m.min(x - y)).collect()),
                _ => None,
            };
        }
        margins.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut each = format!("; each preset's margin: {}", margins.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(", "));
        if !apart.is_empty() {
            let _ = write!(each, "; no M to compare with middle-repeat at: {}", apart.join(", "));
        }
        let each = if margins.is_empty() { String::new() } else { each };
        claims.push(claim(o, "Repeating the centre layer is the worst", "smallest margin of another preset over middle-repeat (mean normalised median score over the common M)", point, draws, n, &each, Vec::new()));
    }
    if presets.iter().any(|p| p == "parallel") && presets.iter().any(|p| p == "looped-parallel") {
        let ms = common_ms(s, &["looped-parallel", "parallel"], &same_model);
        let point = point_mean(s, "looped-parallel", &ms).zip(point_mean(s, "parallel", &ms)).map(|(a, b)| a - b);
        let draws = mean_median(d, "looped-parallel", &ms).zip(mean_median(d, "parallel", &ms)).map(|(a, b)| a.iter().zip(&b).map(|(x, y)| x - y).collect::<Vec<f64>>());
        let per_m: Vec<AtM> = ms
            .iter()
            .filter_map(|&m| {
                let get = |p: &str| s.median.get(p)?.iter().find(|(k, _)| *k == m).map(|(_, v)| *v);
                let dm = get("looped-parallel")? - get("parallel")?;
                let x = d.median.get(&("looped-parallel".to_string(), m))?;
                let y = d.median.get(&("parallel".to_string(), m))?;
                let diff: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
                Some(AtM::new(m, dm, stats::interval(&diff)))
            })
            .collect();
        let extra = if per_m.is_empty() { String::new() } else { format!("; at each M: {}", per_m.iter().map(AtM::text).collect::<Vec<_>>().join("; ")) };
        claims.push(claim(o, "Looping the parallel block beats a single parallel pass", "looped-parallel − parallel (mean normalised median score over the common M)", point, draws, n, &extra, per_m));
    }
    if let Some(sk) = s.median.get("skip") {
        if let Some(&(m0, v0)) = sk.iter().min_by_key(|(m, _)| *m) {
            let draws = d.median.get(&("skip".to_string(), m0)).map(|x| x.iter().map(|v| v - 0.5).collect::<Vec<f64>>());
            // The same statistic at every M skip was measured at: where it stops keeping half.
            let per_m: Vec<AtM> = sk
                .iter()
                .map(|&(m, v)| AtM::new(m, v - 0.5, d.median.get(&("skip".to_string(), m)).and_then(|x| stats::interval(&x.iter().map(|v| v - 0.5).collect::<Vec<f64>>()))))
                .collect();
            let extra = if per_m.len() > 1 { format!("; at each M: {}", per_m.iter().map(AtM::text).collect::<Vec<_>>().join("; ")) } else { String::new() };
            let per_m = if per_m.len() > 1 { per_m } else { Vec::new() };
            claims.push(claim(o, "Skipping middle layers degrades gracefully", &format!("skip's normalised median score at the smallest M ({m0}) − 0.5 (it keeps more than half the full model's margin over random)"), Some(v0 - 0.5), draws, n, &extra, per_m));
        }
    }
    let order: Vec<&str> = ["reverse", "random"].into_iter().filter(|p| presets.iter().any(|q| q == p)).collect();
    if !order.is_empty() {
        let in_group = |t: &str, g: &str| s.groups.get(t).map(String::as_str) == Some(g);
        // A reverse or random that keeps the order (one block, or a shuffle that left it) reorders nothing.
        let cells = |g: &str| -> Vec<(&(String, usize), &String)> {
            s.normalized
                .iter()
                .filter(|((p, m), _)| order.contains(&p.as_str()) && !same_model.all_one(&[p, "full"], *m))
                .flat_map(|(k, by)| by.keys().filter(|t| in_group(t, g)).map(move |t| (k, t)))
                .collect()
        };
        let point_of = |g: &str| mean(cells(g).into_iter().filter_map(|(k, t)| s.normalized.get(k)?.get(t).copied()));
        let draws_of = |g: &str| -> Option<Vec<f64>> {
            let rows: Vec<&Vec<f64>> = cells(g).into_iter().filter_map(|(k, t)| d.normalized.get(k)?.get(t)).collect();
            (!rows.is_empty()).then(|| (0..stats::DRAWS).map(|b| rows.iter().map(|r| r[b]).sum::<f64>() / rows.len() as f64).collect())
        };
        let (r, se) = (point_of("reasoning"), point_of("semantic"));
        let point = se.zip(r).map(|(a, b)| a - b);
        let draws = draws_of("semantic").zip(draws_of("reasoning")).map(|(a, b)| a.iter().zip(&b).map(|(x, y)| x - y).collect::<Vec<f64>>());
        // How many tasks each side stands on: the interval resamples their examples, not the tasks.
        let tasks_of = |g: &str| {
            let names: std::collections::BTreeSet<&String> = cells(g).into_iter().map(|(_, t)| t).collect();
            match names.len() {
                1 => format!("1 task, {}", names.iter().next().map(|t| t.as_str()).unwrap_or_default()),
                k => format!("{k} tasks"),
            }
        };
        let extra = format!(
            " (reasoning {} over {}, semantic {} over {}; the interval resamples the tasks' examples, not the tasks)",
            f(r),
            tasks_of("reasoning"),
            f(se),
            tasks_of("semantic")
        );
        claims.push(claim(o, "Order matters more for reasoning and math than for semantic tasks", &format!("semantic − reasoning mean normalised score under {}", order.join(" and ")), point, draws, n, &extra, Vec::new()));
    }
    if let Some(sim) = sim {
        let n = sim.matrix.len();
        if n >= 6 {
            // Rows/columns a..b of the matrix are the outputs of blocks a-1 … b-2 (row 0 is the embeddings).
            let (a, b) = (n / 4, 3 * n / 4);
            let margin = |m: &[Vec<f64>]| -> Option<f64> {
                let middle = mean((a..b).flat_map(|i| (a..b).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| m[i][j]))?;
                Some(middle - mean((a..b).map(|j| m[0][j]))?)
            };
            let texts: Vec<f64> = sim.per_text.iter().filter(|m| m.len() == n).filter_map(|m| margin(m)).collect();
            let draws = (texts.len() == sim.per_text.len() && texts.len() >= 2).then(|| {
                stats::resamples("similarity", texts.len()).iter().map(|idx| idx.iter().map(|&i| texts[i]).sum::<f64>() / idx.len() as f64).collect::<Vec<f64>>()
            });
            let what = format!("mean cosine among the outputs of blocks {}–{} − mean cosine between the embeddings and those blocks (over the similarity texts)", a.saturating_sub(1), b - 2);
            claims.push(claim(o, "Middle layers share a representation space", &what, margin(&sim.matrix), draws, (texts.len(), texts.len()), " (Figure 3; the interval resamples the texts)", Vec::new()));
        }
    }
    claims
}

/// One claim decided from the interval of its statistic (positive: as the paper says),
/// written as the report's line and returned as data.
/// `n`: the examples per task, the smallest and the largest (equal where every task has as many).
#[allow(clippy::too_many_arguments)]
fn claim(o: &mut String, name: &str, what: &str, point: Option<f64>, draws: Option<Vec<f64>>, n: (usize, usize), extra: &str, per_m: Vec<AtM>) -> Claim {
    let ci = draws.as_deref().and_then(stats::interval);
    let verdict = match point {
        Some(_) => Verdict::of(ci),
        None => Verdict::Inconclusive,
    };
    let numbers = match (point, ci) {
        (Some(p), Some((lo, hi))) => format!("{what} = {p:.3}, 95% interval [{lo:.3}, {hi:.3}]"),
        (Some(p), None) => format!("{what} = {p:.3}, no interval (the records have no per-example scores)"),
        _ => format!("{what}: not measurable from these records"),
    };
    let needed = match (verdict, point, ci) {
        (Verdict::Inconclusive, Some(p), Some(ci)) => stats::examples_needed(p, ci, n.0),
        _ => None,
    };
    let need = match (verdict, point, ci) {
        (Verdict::Inconclusive, Some(_), Some(_)) => match needed {
            Some(k) => {
                // An extrapolation: two significant figures, and a word where it is out of reach.
                let factor = k as f64 / n.0.max(1) as f64;
                let k = two_figures(k);
                let reach = if factor > 100.0 { " — over 100 times as many: at an effect this small, more examples are no practical way to settle it" } else { "" };
                if n.0 == n.1 {
                    format!(" Resolving it at the observed effect needs about {k} examples per task (now {}){reach}.", n.0)
                } else {
                    // Tasks of different sizes: every task needs the same factor more.
                    format!(" Resolving it at the observed effect needs about {factor:.1}× the examples of every task ({k} for the smallest, now {}){reach}.", n.0)
                }
            }
            None => " The observed effect is too close to 0 for any sample size to resolve it.".to_string(),
        },
        _ => String::new(),
    };
    let word = if point.is_some() { verdict.word() } else { "not decided" };
    let _ = writeln!(o, "- **{name}** (paper): **{word}** — {numbers}{extra}.{need}");
    Claim {
        claim: name.to_string(),
        statistic: what.to_string(),
        value: point,
        ci95: ci.map(|(lo, hi)| [lo, hi]),
        verdict: point.map(|_| verdict),
        examples_per_task: [n.0, n.1],
        examples_needed: needed.map(two_figures),
        per_m,
    }
}

/// `k` to two significant figures (1234 → 1200; below 100 as it is).
fn two_figures(k: usize) -> usize {
    if k < 100 {
        return k;
    }
    let p = 10usize.pow(k.ilog10() - 1);
    (k + p / 2) / p * p
}

/// Per draw, the mean over `ms` of a preset's median normalised score.
fn mean_median(d: &Draws, preset: &str, ms: &[usize]) -> Option<Vec<f64>> {
    let rows: Vec<&Vec<f64>> = ms.iter().map(|m| d.median.get(&(preset.to_string(), *m))).collect::<Option<_>>()?;
    (!rows.is_empty()).then(|| (0..stats::DRAWS).map(|b| rows.iter().map(|r| r[b]).sum::<f64>() / rows.len() as f64).collect())
}

/// The Ms at which every preset in `presets` was measured, less those where
/// they are all one model or one of them is the full model (`same`): a
/// configuration that is the full model applies no intervention there (at
/// M = 1, middle-repeat and parallel of one block), so a tie or a loss at
/// that M is structural, not evidence.
fn common_ms(s: &Summary, presets: &[&str], same: &Models) -> Vec<usize> {
    let of = |p: &str| -> BTreeSet<usize> { s.median.get(p).into_iter().flatten().map(|(m, _)| *m).collect() };
    let mut it = presets.iter();
    let first = it.next().map(|p| of(p)).unwrap_or_default();
    let ms = it.fold(first, |acc, p| acc.intersection(&of(p)).copied().collect::<BTreeSet<usize>>());
    ms.into_iter().filter(|&m| !same.all_one(presets, m) && !presets.iter().any(|p| same.all_one(&[p, "full"], m))).collect()
}

/// Which model each configuration builds (`sweep::model_key` of its plan).
struct Models(BTreeMap<(String, usize), String>);

impl Models {
    fn of(records: &[Record]) -> Self {
        Self(records.iter().map(|r| ((r.preset.clone(), r.m), crate::sweep::model_key(&r.plan))).collect())
    }

    /// Whether the presets at M (the full model: preset `full`, M 0) are one model.
    fn all_one(&self, presets: &[&str], m: usize) -> bool {
        let key = |p: &str| self.0.get(&(p.to_string(), if p == "full" { 0 } else { m }));
        let first = presets.first().and_then(|p| key(p));
        first.is_some() && presets.iter().all(|p| key(p) == first)
    }
}

fn point_mean(s: &Summary, preset: &str, ms: &[usize]) -> Option<f64> {
    mean(s.median.get(preset)?.iter().filter(|(m, _)| ms.contains(m)).map(|(_, v)| *v))
}

#[cfg(test)]
mod tests {
    use super::super::report::tests::{record, units};
    use super::super::report::write;
    use super::*;

    /// The report of `records` (no similarity, no uniform-model baselines).
    fn report_of(records: &[Record]) -> String {
        let out = tempfile::tempdir().unwrap();
        write(out.path(), records, None, &BTreeMap::new(), "t").unwrap();
        std::fs::read_to_string(out.path().join("report.md")).unwrap()
    }

    #[test]
    fn examples_needed_are_given_to_two_figures() {
        assert_eq!([7, 99, 100, 1234, 1250, 19405445, 125646].map(two_figures), [7, 99, 100, 1200, 1300, 19000000, 130000]);
    }

    #[test]
    fn claims_leave_out_the_m_where_the_compared_configurations_are_one_model() {
        // 4 blocks; at M = 1 reverse and middle-repeat of one block are the full model (and score as it).
        let at = |preset: &str, m: usize, plan: &str, task: &str, group: &str, right: fn(usize) -> bool| Record {
            group: group.into(),
            m,
            plan: plan.into(),
            ..record(preset, task, units(right))
        };
        let records = vec![
            at("full", 0, "0-3", "r1", "reasoning", |i| i % 5 != 0),
            at("full", 0, "0-3", "s1", "semantic", |i| i % 5 != 0),
            at("reverse", 3, "0,3-1", "r1", "reasoning", |i| i % 2 == 0),
            at("reverse", 3, "0,3-1", "s1", "semantic", |i| i % 5 != 0),
            at("reverse", 1, "0-3", "r1", "reasoning", |i| i % 5 != 0),
            at("reverse", 1, "0-3", "s1", "semantic", |i| i % 5 != 0),
            at("middle-repeat", 3, "0,2*3", "r1", "reasoning", |i| i % 4 == 0),
            at("middle-repeat", 3, "0,2*3", "s1", "semantic", |i| i % 4 == 0),
            at("middle-repeat", 1, "0-1,2*1,3", "r1", "reasoning", |i| i % 5 != 0),
            at("middle-repeat", 1, "0-1,2*1,3", "s1", "semantic", |i| i % 5 != 0),
            // No M in common with middle-repeat: named, not compared.
            at("skip", 2, "0,3", "r1", "reasoning", |i| i % 2 == 0),
            at("skip", 2, "0,3", "s1", "semantic", |i| i % 2 == 0),
            // At M = 1 middle-repeat is the full model: no intervention to compare with.
            at("looped-parallel", 1, "0-1,[2]*2,3", "r1", "reasoning", |i| i % 4 == 0),
            at("looped-parallel", 1, "0-1,[2]*2,3", "s1", "semantic", |i| i % 4 == 0),
        ];
        let report = report_of(&records);
        // Order, at M = 3 only: s1 keeps the full score (1), r1 drops to (0.5 − 0.25) / (0.8 − 0.25).
        let order = report.lines().find(|l| l.contains("Order matters more")).unwrap();
        assert!(order.contains(&format!("= {:.3},", 1.0 - 0.25 / 0.55)), "{order}");
        // Middle-repeat the worst, at M = 3 only: reverse's median (1 and 0.455) − middle-repeat's (0).
        let worst = report.lines().find(|l| l.contains("Repeating the centre layer")).unwrap();
        assert!(worst.contains(&format!("= {:.3},", (1.0 + 0.25 / 0.55) / 2.0)), "{worst}");
        assert!(worst.contains(&format!("each preset's margin: `reverse` {:.3} (M 3); no M to compare with middle-repeat at: `skip`, `looped-parallel`.", (1.0 + 0.25 / 0.55) / 2.0)), "{worst}");
    }

    #[test]
    fn tasks_of_different_sizes_get_the_factor_more_examples_each_needs() {
        let sized = |preset: &str, task: &str, n: usize, right: fn(usize) -> bool| {
            let u: Vec<f64> = (0..n).map(|i| f64::from(u8::from(right(i)))).collect();
            Record { m: 3, plan: format!("{preset}-3"), ..record(preset, task, u) }
        };
        let mut records = Vec::new();
        for (task, n) in [("a", 200), ("b", 100)] {
            records.push(Record { plan: "0-3".into(), m: 0, ..sized("full", task, n, |i| i % 5 != 0) });
            records.push(sized("parallel", task, n, |i| i % 2 == 0));
            records.push(sized("looped-parallel", task, n, |i| i % 2 == 1 || i % 20 == 0));
        }
        let report = report_of(&records);
        let line = report.lines().find(|l| l.contains("Looping the parallel block")).unwrap();
        assert!(line.contains("**inconclusive"), "{line}");
        let (factor, rest) = line.split_once("needs about ").unwrap().1.split_once("× the examples of every task (").unwrap();
        let smallest: f64 = rest.split_once(" for the smallest, now 100)").unwrap().0.parse().unwrap();
        // The count has two significant figures, the factor one decimal.
        assert!((factor.parse::<f64>().unwrap() - smallest / 100.0).abs() <= 0.05 * smallest / 100.0 + 0.051, "{line}");
    }

    #[test]
    fn a_ranking_over_different_m_says_so() {
        let at = |preset: &str, m: usize, right: fn(usize) -> bool| Record { m, plan: format!("{preset}-{m}"), ..record(preset, "t", units(right)) };
        let ranking = |records: &[Record]| report_of(records).lines().find(|l| l.contains("**Ranking**")).unwrap().to_string();
        let mut records = vec![record("full", "t", units(|i| i % 5 != 0)), at("reverse", 3, |i| i % 2 == 0), at("skip", 3, |i| i % 4 == 0)];
        let even = ranking(&records);
        assert!(!even.contains("(M ") && !even.contains("like with like"), "{even}");
        // skip also at M = 1: the means are over different M.
        records.push(at("skip", 1, |i| i % 5 != 0));
        let uneven = ranking(&records);
        assert!(uneven.contains("so it does not compare like with like"), "{uneven}");
        assert!(uneven.contains("`reverse` 0.455 (M 3)") && uneven.contains("`skip` 0.500 (M 1, 3)"), "{uneven}");
    }


    #[test]
    fn the_skip_claim_is_decided_at_the_smallest_m_and_listed_at_each() {
        let skip = |m: usize, right: fn(usize) -> bool| Record { m, plan: format!("skip-{m}"), ..record("skip", "t", units(right)) };
        // Full 80% right; skip keeps it at M = 1 (normalised 1) and falls to chance at M = 3 (0).
        let records = vec![record("full", "t", units(|i| i % 5 != 0)), skip(1, |i| i % 5 != 0), skip(3, |i| i % 4 == 0)];
        let report = report_of(&records);
        let line = report.lines().find(|l| l.contains("Skipping middle layers")).unwrap();
        assert!(line.contains("**agrees**") && line.contains("at the smallest M (1)"), "{line}");
        assert!(line.contains("at each M: M=1: 0.500 ") && line.contains("; M=3: -0.500 ") && line.ends_with("disagrees."), "{line}");
    }

    #[test]
    fn the_order_claim_says_how_many_tasks_each_group_stands_on() {
        let grouped = |preset: &str, task: &str, group: &str, right: fn(usize) -> bool| Record { group: group.into(), ..record(preset, task, units(right)) };
        let records = vec![
            grouped("full", "r1", "reasoning", |i| i % 5 != 0),
            grouped("full", "r2", "reasoning", |i| i % 4 != 0),
            grouped("full", "s1", "semantic", |i| i % 5 != 0),
            grouped("reverse", "r1", "reasoning", |i| i % 2 == 0),
            grouped("reverse", "r2", "reasoning", |i| i % 3 == 0),
            grouped("reverse", "s1", "semantic", |i| i % 4 != 0),
        ];
        let report = report_of(&records);
        let line = report.lines().find(|l| l.contains("Order matters more")).unwrap();
        assert!(line.contains("over 2 tasks, semantic") && line.contains("over 1 task, s1;"), "{line}");
    }
}

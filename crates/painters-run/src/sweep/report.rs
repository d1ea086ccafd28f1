//! The sweep report: normalised scores (the paper's `(score − random) /
//! (full − random)`, median across tasks), plots (Figure 11: normalised
//! median score vs affected layers M per preset; one panel per task;
//! perplexity vs M; the layer-similarity heatmap), and `report.md` with every
//! number from `results.jsonl` and the findings stated against the paper.
use std::io::Write;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use super::claims::Claim;
use super::stats::{self, Draws};
use super::Record;
use crate::eval::similarity::Similarity;
use crate::eval::Units;
use crate::plot::{grid_svg, write_svg_png, LineChart, Series};

/// Median of finite values.
pub fn median(v: &mut [f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Aggregates of a sweep.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub tasks: Vec<String>,
    pub groups: BTreeMap<String, String>,
    pub full: BTreeMap<String, f64>,
    pub chance: BTreeMap<String, f64>,
    /// (preset, m) → task → normalised score.
    pub normalized: BTreeMap<(String, usize), BTreeMap<String, f64>>,
    /// preset → [(m, median normalised score)].
    pub median: BTreeMap<String, Vec<(usize, f64)>>,
}

/// Whether a task's score is normalisable: it has a chance level and is a task score, not
/// perplexity and not fidelity (cosine to the full model's own embeddings: 1 for the full
/// model by construction, a distance from it rather than a capability, and with no
/// chance level of its own). Both stay in the tables and plots.
pub(super) fn scored(r: &Record) -> bool {
    r.chance.is_some() && r.group != "perplexity" && r.group != "fidelity"
}

/// The normalised scores of the records `keep` accepts (and the full model's
/// and chance scores of every task).
pub fn summarize(records: &[Record], keep: impl Fn(&Record) -> bool) -> Summary {
    let mut s = Summary::default();
    for r in records {
        if !s.tasks.contains(&r.task) {
            s.tasks.push(r.task.clone());
        }
        s.groups.insert(r.task.clone(), r.group.clone());
        if let Some(c) = r.chance {
            s.chance.insert(r.task.clone(), c);
        }
        if r.preset == "full" {
            s.full.insert(r.task.clone(), r.value);
        }
    }
    for r in records.iter().filter(|r| r.preset != "full" && scored(r) && keep(r)) {
        let (Some(full), Some(c)) = (s.full.get(&r.task), r.chance) else { continue };
        let v = if (full - c).abs() > 1e-12 { (r.value - c) / (full - c) } else { f64::NAN };
        s.normalized.entry((r.preset.clone(), r.m)).or_default().insert(r.task.clone(), v);
    }
    for ((preset, m), by_task) in &s.normalized {
        let mut v: Vec<f64> = by_task.values().copied().collect();
        if let Some(med) = median(&mut v) {
            s.median.entry(preset.clone()).or_default().push((*m, med));
        }
    }
    s
}

fn presets(records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in records {
        if r.preset != "full" && !out.contains(&r.preset) {
            out.push(r.preset.clone());
        }
    }
    out
}

/// The full model against the uniform model (every token equally likely)
/// on one task: its score, the uniform model's, and the 95% interval of the
/// difference (the paired bootstrap over the task's examples).
#[derive(Debug, Clone, Copy)]
pub struct AgainstUniform {
    pub full: f64,
    pub uniform: f64,
    pub interval: Option<(f64, f64)>,
}

impl AgainstUniform {
    /// Whether the full model beats the uniform model: the interval of the
    /// difference lies above 0 (without one, the difference itself).
    pub fn informative(&self) -> bool {
        match self.interval {
            Some((lo, _)) => lo > 0.0,
            None => self.full > self.uniform,
        }
    }
}

/// The full model against the uniform model on every task `uniform` gives
/// (per-example units in the task's metric, as the records hold them).
pub fn against_uniform(records: &[Record], uniform: &BTreeMap<String, Units>) -> BTreeMap<String, AgainstUniform> {
    let mut out = BTreeMap::new();
    for (task, u) in uniform {
        let Some(full) = records.iter().find(|r| r.preset == "full" && &r.task == task) else { continue };
        let all = u.stat(0..u.len());
        let interval = full.units.as_ref().filter(|f| f.len() == u.len() && u.len() >= stats::MIN_UNITS).and_then(|f| {
            let diffs: Vec<f64> = stats::resamples(task, u.len()).iter().map(|idx| f.stat(idx.iter().copied()) - u.stat(idx.iter().copied())).collect();
            stats::interval(&diffs)
        });
        out.insert(task.clone(), AgainstUniform { full: full.value, uniform: all, interval });
    }
    out
}

/// The records with `chance` raised to the uniform model's score where that
/// is higher: the "random" of the normalised scores.
fn with_random(records: &[Record], vs: &BTreeMap<String, AgainstUniform>) -> Vec<Record> {
    records
        .iter()
        .cloned()
        .map(|mut r| {
            if let (Some(c), Some(v)) = (r.chance, vs.get(&r.task)) {
                r.chance = Some(c.max(v.uniform));
            }
            r
        })
        .collect()
}

/// Writes the plots and `report.md` into `out`. `uniform`: per choice task,
/// the uniform model's per-example scores (`sweep::uniform_baselines`); a task
/// whose full model does not beat it is left out of the normalised scores.
pub fn write(out: &Path, records: &[Record], similarity: Option<&Similarity>, uniform: &BTreeMap<String, Units>, title: &str) -> std::io::Result<Vec<Claim>> {
    let vs = against_uniform(records, uniform);
    let chance: BTreeMap<String, f64> = records.iter().filter_map(|r| Some((r.task.clone(), r.chance?))).collect();
    // "random" of the normalised score: the larger of chance and the uniform model (both know nothing).
    let records = &with_random(records, &vs);
    let informative = |r: &Record| vs.get(&r.task).is_none_or(AgainstUniform::informative);
    // A configuration enters the normalised scores once every kept task is in (a partial run).
    let missing = incomplete(records, |r| scored(r) && informative(r));
    let keep = |r: &Record| informative(r) && !missing.contains_key(&(r.preset.clone(), r.m));
    let s = summarize(records, keep);
    let d = stats::draws(records, |r| scored(r) && keep(r));
    let presets = presets(records);
    let model = records.first().map(|r| r.model.clone()).unwrap_or_default();
    let layers = records.first().map(|r| r.layers).unwrap_or(0);
    // Figure 11: the plot, and its numbers for scripts.
    let fig11 = figure11(&s, &d, &presets);
    let chart = LineChart {
        title: format!("{title}: normalised median score vs affected layers"),
        x_label: "M (affected middle layers)".into(),
        y_label: "normalised median score".into(),
        series: presets
            .iter()
            .map(|p| {
                let rows = fig11.iter().filter(|r| &r.0 == p);
                Series {
                    name: p.clone(),
                    points: std::iter::once((0.0, 1.0)).chain(rows.clone().map(|r| (r.1 as f64, r.2))).collect(),
                    intervals: rows.filter_map(|r| r.3.map(|(lo, hi)| (r.1 as f64, lo, hi))).collect(),
                }
            })
            .collect(),
        y_range: None,
        hlines: vec![(1.0, "full model".into()), (0.0, "random".into())],
    };
    write_svg_png(&grid_svg(&[chart], 1, 760.0, 420.0), &out.join("normalized_score"))?;
    let mut csv = String::from("preset,m,median,ci_low,ci_high\n");
    for (p, m, v, ci) in &fig11 {
        let (lo, hi) = ci.map_or((String::new(), String::new()), |(lo, hi)| (lo.to_string(), hi.to_string()));
        let _ = writeln!(csv, "{p},{m},{v},{lo},{hi}");
    }
    painters_graph::write_atomic(&out.join("normalized_score.csv"), |w| w.write_all(csv.as_bytes())).map_err(std::io::Error::other)?;
    // One panel per task (raw metric).
    let mut panels = Vec::new();
    for task in &s.tasks {
        let rs: Vec<&Record> = records.iter().filter(|r| &r.task == task).collect();
        let metric = rs.first().map(|r| r.metric.clone()).unwrap_or_default();
        let is_ppl = s.groups.get(task).map(String::as_str) == Some("perplexity");
        let tf = |v: f64| if is_ppl { v.max(1e-12).log10() } else { v };
        let full = s.full.get(task).copied();
        let ci = |r: &Record| stats::record_interval(r, d.resamples.get(task)).map(|(lo, hi)| (r.m as f64, tf(lo.max(1e-300)), tf(hi.max(1e-300))));
        let full_ci = rs.iter().find(|r| r.preset == "full").and_then(|r| ci(r));
        let mut hlines = Vec::new();
        if let Some(f) = full {
            hlines.push((tf(f), "full".to_string()));
        }
        if let Some(c) = chance.get(task).filter(|_| !is_ppl) {
            hlines.push((*c, "chance".to_string()));
        }
        if let Some(v) = vs.get(task) {
            hlines.push((v.uniform, "uniform model".to_string()));
        }
        panels.push(LineChart {
            title: format!("{task} ({})", s.groups.get(task).cloned().unwrap_or_default()),
            x_label: "M".into(),
            y_label: if is_ppl { format!("log10 {metric}") } else { metric },
            series: presets
                .iter()
                .map(|p| Series {
                    name: p.clone(),
                    points: full
                        .map(|f| (0.0, tf(f)))
                        .into_iter()
                        .chain(rs.iter().filter(|r| &r.preset == p).map(|r| (r.m as f64, tf(r.value))))
                        .collect(),
                    intervals: full_ci.into_iter().chain(rs.iter().filter(|r| &r.preset == p).filter_map(|r| ci(r))).collect(),
                })
                .collect(),
            y_range: None,
            hlines,
        });
    }
    if !panels.is_empty() {
        write_svg_png(&grid_svg(&panels, 3, 520.0, 300.0), &out.join("tasks"))?;
    }
    let ppl_tasks: Vec<&String> = s.tasks.iter().filter(|t| s.groups.get(*t).map(String::as_str) == Some("perplexity")).collect();
    let ppl_panels: Vec<LineChart> = panels.iter().filter(|p| ppl_tasks.iter().any(|t| p.title.starts_with(t.as_str()))).cloned().collect();
    if !ppl_panels.is_empty() {
        write_svg_png(&grid_svg(&ppl_panels, 2, 620.0, 360.0), &out.join("perplexity"))?;
    }
    let (md, claims) = markdown(&s, &d, records, &presets, similarity, &vs, &chance, &missing, &model, layers, title, out);
    let json = serde_json::json!({ "title": title, "records": records.iter().filter(|r| r.same_as.is_none()).count(), "claims": claims });
    let text = serde_json::to_string_pretty(&json).map_err(std::io::Error::other)?;
    painters_graph::write_atomic(&out.join("claims.json"), |w| w.write_all(text.as_bytes())).map_err(std::io::Error::other)?;
    painters_graph::write_atomic(&out.join("report.md"), |w| w.write_all(md.as_bytes())).map_err(std::io::Error::other)?;
    Ok(claims)
}

/// The configurations (preset, M) that lack a record of some task the full model has a
/// `kept` record of (a partial run, or a merge of some shards), with the tasks they lack.
/// Their median over the tasks they have would be a median over other tasks than the
/// rest's (one task of four, early on), so they stay out of the normalised scores, Figure
/// 11 and the claims until every kept task is in.
pub(super) fn incomplete(records: &[Record], kept: impl Fn(&Record) -> bool) -> BTreeMap<(String, usize), Vec<String>> {
    let tasks: BTreeSet<&str> = records.iter().filter(|r| r.preset == "full" && kept(r)).map(|r| r.task.as_str()).collect();
    let mut have: BTreeMap<(String, usize), BTreeSet<&str>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.preset != "full") {
        let got = have.entry((r.preset.clone(), r.m)).or_default();
        if tasks.contains(r.task.as_str()) {
            got.insert(r.task.as_str());
        }
    }
    have.into_iter()
        .map(|(k, got)| (k, tasks.difference(&got).map(|t| t.to_string()).collect::<Vec<_>>()))
        .filter(|(_, lack)| !lack.is_empty())
        .collect()
}

/// One point of Figure 11: (preset, M, median normalised score, its 95% interval).
type Fig11Row = (String, usize, f64, Option<(f64, f64)>);

/// The paper's Figure 11 as numbers, presets in `presets` order, M ascending.
fn figure11(s: &Summary, d: &Draws, presets: &[String]) -> Vec<Fig11Row> {
    presets
        .iter()
        .flat_map(|p| s.median.get(p).into_iter().flatten().map(move |&(m, v)| (p.clone(), m, v, d.median.get(&(p.clone(), m)).and_then(|x| stats::interval(x)))))
        .collect()
}

pub(super) fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    if v.is_empty() { None } else { Some(v.iter().sum::<f64>() / v.len() as f64) }
}

pub(super) fn f(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "n/a".into())
}

pub(super) fn ci_text(ci: Option<(f64, f64)>) -> String {
    ci.map(|(lo, hi)| format!("[{lo:.3}, {hi:.3}]")).unwrap_or_else(|| "-".into())
}

#[allow(clippy::too_many_arguments)]
fn markdown(
    s: &Summary,
    d: &Draws,
    records: &[Record],
    presets: &[String],
    sim: Option<&Similarity>,
    vs: &BTreeMap<String, AgainstUniform>,
    chance: &BTreeMap<String, f64>,
    missing: &BTreeMap<(String, usize), Vec<String>>,
    model: &str,
    layers: usize,
    title: &str,
    out: &Path,
) -> (String, Vec<Claim>) {
    let mut o = String::new();
    let _ = writeln!(o, "# {title}: Transformer Layers as Painters, reproduced\n");
    let evaluated = records.iter().filter(|r| r.same_as.is_none()).count();
    let _ = writeln!(o, "Model `{model}` ({layers} blocks). Every number below comes from `results.jsonl` in this folder ({evaluated} records).\n");
    let mut same: Vec<String> = Vec::new();
    for r in records.iter().filter(|r| r.same_as.is_some()) {
        let line = format!("{} N={} = {}", r.preset, r.n.map(|n| n.to_string()).unwrap_or_default(), r.same_as.as_deref().unwrap_or_default());
        if !same.contains(&line) {
            same.push(line);
        }
    }
    if !same.is_empty() {
        let _ = writeln!(
            o,
            "Some configurations run the same blocks in the same order as an earlier one and are that model: {}. The sweep did not evaluate them again; their {} rows below carry that configuration's results, and the plan column of All results names it.\n",
            same.join(", "),
            records.len() - evaluated
        );
    }
    let _ = writeln!(o, "## Setup\n");
    // The uniform model's columns only where a choice task has one.
    let uni = !vs.is_empty();
    if uni {
        let _ = writeln!(o, "| task | group | metric | chance | uniform model | full model | 95% interval | full − uniform, 95% | n |");
        let _ = writeln!(o, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    } else {
        let _ = writeln!(o, "| task | group | metric | random | full model | 95% interval | n |");
        let _ = writeln!(o, "| --- | --- | --- | --- | --- | --- | --- |");
    }
    for t in &s.tasks {
        let r = records.iter().find(|r| &r.task == t && r.preset == "full");
        let v = vs.get(t);
        let cells = [
            t.clone(),
            s.groups.get(t).cloned().unwrap_or_default(),
            r.map(|r| r.metric.clone()).unwrap_or_default(),
            f(chance.get(t).copied()),
            f(v.map(|v| v.uniform)),
            f(s.full.get(t).copied()),
            ci_text(r.and_then(|r| stats::record_interval(r, d.resamples.get(t)))),
            v.map(|v| format!("{:.3} {}", v.full - v.uniform, ci_text(v.interval))).unwrap_or_else(|| "-".into()),
            r.map(|r| r.n_samples.to_string()).unwrap_or_default(),
        ];
        let shown: Vec<&str> = cells.iter().enumerate().filter(|(i, _)| uni || (*i != 4 && *i != 7)).map(|(_, c)| c.as_str()).collect();
        let _ = writeln!(o, "| {} |", shown.join(" | "));
    }
    if !vs.is_empty() {
        let _ = writeln!(o, "\nUniform model: what a model giving every token the same probability scores (it picks the choice with the fewest tokens, or the fewest per character for `acc_norm`; docs/EVAL.md). Where it beats chance, the task's tokenization gives answers away, and a model damaged towards uniform output scores it without knowing anything: *random* in the normalised score is therefore the larger of chance and the uniform model. A choice task enters the normalised scores and the claims only where the full model beats the uniform model (the 95% interval of full − uniform lies above 0).\n");
        let out_tasks: Vec<String> = vs
            .iter()
            .filter(|(_, v)| !v.informative())
            .map(|(t, v)| format!("`{t}` (full {:.3}, uniform model {:.3}, difference {:.3} {})", v.full, v.uniform, v.full - v.uniform, ci_text(v.interval)))
            .collect();
        if out_tasks.is_empty() {
            let _ = writeln!(o, "The full model beats the uniform model on every choice task.");
        } else {
            let _ = writeln!(o, "**Left out, the full model does not beat the uniform model:** {}. Their scores stay in the tables and plots.", out_tasks.join("; "));
        }
    }
    let ms: BTreeSet<usize> = records.iter().filter(|r| r.preset != "full").map(|r| r.m).collect();
    let _ = writeln!(o, "\nPresets: {}. Affected layers M: {}. Normalised score = (score − random) / (full − random), median across the tasks other than perplexity and fidelity{} (the paper's Figure 11).\n", presets.join(", "), ms.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", "), if vs.values().any(|v| !v.informative()) { " kept" } else { "" });
    if !missing.is_empty() {
        let lack: Vec<String> = missing
            .iter()
            .map(|((p, m), lack)| format!("{p} M={m} (lacks {})", lack.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")))
            .collect();
        let _ = writeln!(
            o,
            "**Not yet in the normalised scores, Figure 11 and the claims**, until every kept task is in (a median over some of the tasks is not one over all of them; their scores so far are in All results): {}.\n",
            lack.join("; ")
        );
    }
    let without: Vec<&String> = s.tasks.iter().filter(|t| records.iter().any(|r| &r.task == *t && scored(r)) && !d.resamples.contains_key(*t)).collect();
    let _ = writeln!(
        o,
        "Intervals: 95%, a paired bootstrap over each task's examples ({} draws, seeded; the same resample for every configuration, the full model included; docs/EVAL.md). {}\n",
        stats::DRAWS,
        if without.is_empty() { "Every task has per-example scores.".to_string() } else { format!("Tasks without per-example scores for {} or more examples (left out of the intervals): {}.", stats::MIN_UNITS, without.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")) }
    );
    let _ = writeln!(o, "![normalised score](normalized_score.png)\n\n![tasks](tasks.png)\n");
    if out.join("perplexity.png").exists() {
        let _ = writeln!(o, "![perplexity](perplexity.png)\n");
    }
    if sim.is_some() {
        let _ = writeln!(o, "![layer similarity](similarity.png)\n");
    }
    let claims = super::claims::findings(&mut o, s, d, records, presets, sim);
    // Figure 11's numbers: M down, presets across.
    let fig11 = figure11(s, d, presets);
    if !fig11.is_empty() {
        let _ = writeln!(o, "\n## Normalised median score (Figure 11)\n");
        let _ = writeln!(o, "The median over the kept tasks of (score − random) / (full − random), with its 95% interval; `-` where the preset was not run at that M (also in `normalized_score.csv`).\n");
        let _ = writeln!(o, "| M | {} |", presets.join(" | "));
        let _ = writeln!(o, "| --- |{}", " --- |".repeat(presets.len()));
        let ms: BTreeSet<usize> = fig11.iter().map(|r| r.1).collect();
        for m in ms {
            let cells: Vec<String> = presets
                .iter()
                .map(|p| fig11.iter().find(|r| &r.0 == p && r.1 == m).map_or("-".to_string(), |r| format!("{:.3} {}", r.2, ci_text(r.3))))
                .collect();
            let _ = writeln!(o, "| {m} | {} |", cells.join(" | "));
        }
    }
    // Every number.
    let _ = writeln!(o, "\n## All results\n");
    let _ = writeln!(o, "| preset | N | M | plan | task | metric | value | 95% interval | normalised | normalised 95% |");
    let _ = writeln!(o, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in records {
        let norm = s.normalized.get(&(r.preset.clone(), r.m)).and_then(|m| m.get(&r.task)).copied();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {:.4} | {} | {} | {} |",
            r.preset,
            r.n.map(|n| n.to_string()).unwrap_or("-".into()),
            r.m,
            match &r.same_as {
                Some(s) => format!("`{}` = {s}", r.plan),
                None => format!("`{}`", r.plan),
            },
            r.task,
            r.metric,
            r.value,
            ci_text(stats::record_interval(r, d.resamples.get(&r.task))),
            norm.map(|v| format!("{v:.3}")).unwrap_or("-".into()),
            ci_text(d.normalized.get(&(r.preset.clone(), r.m)).and_then(|m| m.get(&r.task)).and_then(|x| stats::interval(x)))
        );
    }
    let total: f64 = records.iter().map(|r| r.seconds.eval).sum();
    let _ = writeln!(o, "\nEvaluation time: {total:.0} s over {} records (rewrite and session times per record are in `results.jsonl`).", records.iter().filter(|r| r.same_as.is_none()).count());
    (o, claims)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sweep::Timing;

    /// A record of `task` on 4 blocks (preset `full`: M 0, else N 1, M 2) with per-example `units`.
    pub(crate) fn record(preset: &str, task: &str, units: Vec<f64>) -> Record {
        let value = units.iter().sum::<f64>() / units.len() as f64;
        Record {
            model: "m.onnx".into(),
            preset: preset.into(),
            n: (preset != "full").then_some(1),
            m: usize::from(preset != "full") * 2,
            layers: 4,
            plan: if preset == "full" { "0-3" } else { "0,2,1,3" }.into(),
            task: task.into(),
            group: "reasoning".into(),
            metric: "acc".into(),
            value,
            stderr: None,
            chance: Some(0.25),
            n_samples: units.len(),
            metrics: BTreeMap::new(),
            seconds: Timing::default(),
            units: Some(Units::mean(units)),
            same_as: None,
        }
    }

    /// 200 examples, right where `right(i)`.
    pub(crate) fn units(right: impl Fn(usize) -> bool) -> Vec<f64> {
        (0..200).map(|i| f64::from(u8::from(right(i)))).collect()
    }

    #[test]
    fn a_task_the_full_model_does_not_beat_the_uniform_model_on_leaves_the_normalised_scores() {
        // `easy`: the full model is right on 80%, the uniform model on 20%; `giveaway`: the
        // uniform model is right on 55%, the full model on 50% (each on different examples).
        let records = vec![
            record("full", "easy", units(|i| i % 5 != 0)),
            record("full", "giveaway", units(|i| i % 2 == 0)),
            record("skip", "easy", units(|i| i % 2 == 0)),
            record("skip", "giveaway", units(|i| i % 4 != 3)),
        ];
        let uniform = BTreeMap::from([("easy".to_string(), Units::mean(units(|i| i % 5 == 0))), ("giveaway".to_string(), Units::mean(units(|i| i % 20 < 11)))]);
        let vs = against_uniform(&records, &uniform);
        assert!(vs["easy"].informative(), "{:?}", vs["easy"]);
        assert!(!vs["giveaway"].informative(), "{:?}", vs["giveaway"]);
        assert!((vs["giveaway"].uniform - 0.55).abs() < 1e-12);
        let (lo, hi) = vs["giveaway"].interval.unwrap();
        assert!(lo < -0.05 && hi > -0.05, "{lo} {hi}");
        let keep = |r: &Record| vs.get(&r.task).is_none_or(AgainstUniform::informative);
        let s = summarize(&records, keep);
        let by_task = &s.normalized[&("skip".to_string(), 2)];
        assert_eq!(by_task.keys().collect::<Vec<_>>(), vec!["easy"]);
        // (0.5 − 0.25) / (0.8 − 0.25)
        assert!((s.median["skip"][0].1 - 0.25 / 0.55).abs() < 1e-12);
        let d = stats::draws(&records, |r| scored(r) && keep(r));
        assert_eq!(d.normalized[&("skip".to_string(), 2)].keys().collect::<Vec<_>>(), vec!["easy"]);
        // "random" is the larger of chance and the uniform model.
        let raised = with_random(&records, &vs);
        assert_eq!(raised.iter().map(|r| r.chance.unwrap()).collect::<Vec<_>>(), vec![0.25, 0.55, 0.25, 0.55]);
    }

    #[test]
    fn a_configuration_enters_the_normalised_scores_and_claims_once_every_kept_task_is_in() {
        // Skip at M = 1 has one task of two so far (a partial run); at M = 3 both.
        let skip = |m: usize, task: &str, right: fn(usize) -> bool| Record { m, plan: format!("skip-{m}"), ..record("skip", task, units(right)) };
        let ppl = |preset: &str, m: usize| Record { m, group: "perplexity".into(), metric: "perplexity".into(), chance: None, ..record(preset, "ppl", vec![3.0; 200]) };
        let records = vec![
            record("full", "a", units(|i| i % 5 != 0)),
            record("full", "b", units(|i| i % 5 != 0)),
            ppl("full", 0),
            // On `a` alone skip M = 1 would keep the full score (normalised 1, "agrees").
            skip(1, "a", |i| i % 5 != 0),
            ppl("skip", 1),
            skip(3, "a", |i| i % 4 == 0),
            skip(3, "b", |i| i % 4 == 0),
        ];
        let missing = incomplete(&records, scored);
        assert_eq!(missing, BTreeMap::from([(("skip".to_string(), 1), vec!["b".to_string()])]));
        let out = tempfile::tempdir().unwrap();
        let claims = write(out.path(), &records, None, &BTreeMap::new(), "t").unwrap();
        let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
        assert!(report.contains("**Not yet in the normalised scores, Figure 11 and the claims**, until every kept task is in") && report.contains(": skip M=1 (lacks `b`)."), "{report}");
        // Decided at M = 3, the smallest complete M: normalised 0, 0.5 below the bar.
        let skip_claim = claims.iter().find(|c| c.claim == "Skipping middle layers degrades gracefully").unwrap();
        assert!(skip_claim.statistic.contains("smallest M (3)") && skip_claim.per_m.is_empty(), "{skip_claim:?}");
        assert_eq!(skip_claim.verdict, Some(stats::Verdict::Disagrees));
        // Figure 11 has M = 3 only; All results keeps M = 1's score with no normalised one.
        let csv = std::fs::read_to_string(out.path().join("normalized_score.csv")).unwrap();
        assert_eq!(csv.lines().skip(1).map(|l| l.split(',').take(2).collect::<Vec<_>>().join(",")).collect::<Vec<_>>(), vec!["skip,3"], "{csv}");
        assert!(report.lines().any(|l| l.starts_with("| skip | 1 | 1 |") && l.contains("| a | acc | 0.8000 |") && l.ends_with("| - | - |")), "{report}");
        // Once `b` is in, M = 1 decides it.
        let mut records = records;
        records.push(skip(1, "b", |i| i % 5 != 0));
        assert!(incomplete(&records, scored).is_empty());
        let claims = write(out.path(), &records, None, &BTreeMap::new(), "t").unwrap();
        let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
        assert!(!report.contains("Not yet in"), "{report}");
        let skip_claim = claims.iter().find(|c| c.claim == "Skipping middle layers degrades gracefully").unwrap();
        assert!(skip_claim.statistic.contains("smallest M (1)") && skip_claim.verdict == Some(stats::Verdict::Agrees), "{skip_claim:?}");
    }

    #[test]
    fn fidelity_stays_out_of_the_normalised_score() {
        // A probe task and a fidelity task (cosine to the full model: 1 for it, "chance" 0 in the suite).
        let fid = |preset: &str, cos: f64| Record { group: "fidelity".into(), metric: "cosine".into(), chance: Some(0.0), ..record(preset, "fid", vec![cos; 200]) };
        let records = vec![record("full", "t", units(|i| i % 5 != 0)), fid("full", 1.0), record("skip", "t", units(|i| i % 2 == 0)), fid("skip", 0.3)];
        let s = summarize(&records, |_| true);
        assert_eq!(s.normalized[&("skip".to_string(), 2)].keys().collect::<Vec<_>>(), vec!["t"]);
        // (0.5 − 0.25) / (0.8 − 0.25), not the median of that and 0.3.
        assert!((s.median["skip"][0].1 - 0.25 / 0.55).abs() < 1e-12);
        let d = stats::draws(&records, scored);
        assert_eq!(d.normalized[&("skip".to_string(), 2)].keys().collect::<Vec<_>>(), vec!["t"]);
        let out = tempfile::tempdir().unwrap();
        write(out.path(), &records, None, &BTreeMap::new(), "t").unwrap();
        let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
        // Its raw score stays in the table, with no normalised score.
        assert!(report.lines().any(|l| l.starts_with("| skip | 1 | 2 |") && l.contains("| fid | cosine | 0.3000 |") && l.ends_with("| - | - |")), "{report}");
    }

    #[test]
    fn figure_11_is_a_table_and_a_csv_with_intervals() {
        let at = |preset: &str, m: usize, right: fn(usize) -> bool| Record { m, plan: format!("{preset}-{m}"), ..record(preset, "t", units(right)) };
        let records = vec![record("full", "t", units(|i| i % 5 != 0)), at("reverse", 3, |i| i % 2 == 0), at("skip", 1, |i| i % 5 != 0), at("skip", 3, |i| i % 4 == 0)];
        let out = tempfile::tempdir().unwrap();
        write(out.path(), &records, None, &BTreeMap::new(), "t").unwrap();
        let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
        let table: Vec<&str> = report.lines().skip_while(|l| !l.starts_with("## Normalised median score")).skip(4).take_while(|l| l.starts_with('|')).collect();
        assert_eq!(table[0], "| M | reverse | skip |", "{report}");
        assert!(table[2].starts_with("| 1 | - | 1.000 [") && table[3].starts_with("| 3 | 0.455 [") && table[3].contains("| 0.000 ["), "{table:?}");
        assert_eq!(table.len(), 4, "{table:?}");
        // The CSV: the same numbers, with the interval the table prints.
        let csv = std::fs::read_to_string(out.path().join("normalized_score.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "preset,m,median,ci_low,ci_high");
        assert_eq!(lines.len(), 4, "{csv}");
        let rev: Vec<f64> = lines.iter().find(|l| l.starts_with("reverse,3,")).unwrap().split(',').skip(2).map(|x| x.parse().unwrap()).collect();
        assert!((rev[0] - 0.25 / 0.55).abs() < 1e-12 && rev[1] < rev[0] && rev[0] < rev[2], "{rev:?}");
        assert!(table[3].contains(&format!("0.455 [{:.3}, {:.3}]", rev[1], rev[2])), "{table:?}");
    }

}

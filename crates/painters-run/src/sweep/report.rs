//! The sweep report: normalised scores (the paper's `(score − random) /
//! (full − random)`, median across tasks), plots (Figure 11: normalised
//! median score vs affected layers M per preset; one panel per task;
//! perplexity vs M; the layer-similarity heatmap), and `report.md` with every
//! number from `results.jsonl` and the findings stated against the paper.
use std::io::Write;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use super::Record;
use crate::eval::similarity::Similarity;
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

/// Whether a task's score is normalisable (has a chance level and is not perplexity).
fn scored(r: &Record) -> bool {
    r.chance.is_some() && r.group != "perplexity"
}

pub fn summarize(records: &[Record]) -> Summary {
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
    for r in records.iter().filter(|r| r.preset != "full" && scored(r)) {
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

/// Writes the plots and `report.md` into `out`.
pub fn write(out: &Path, records: &[Record], similarity: Option<&Similarity>, title: &str) -> std::io::Result<()> {
    let s = summarize(records);
    let presets = presets(records);
    let model = records.first().map(|r| r.model.clone()).unwrap_or_default();
    let layers = records.first().map(|r| r.layers).unwrap_or(0);
    // Figure 11.
    let fig11 = LineChart {
        title: format!("{title}: normalised median score vs affected layers"),
        x_label: "M (affected middle layers)".into(),
        y_label: "normalised median score".into(),
        series: presets
            .iter()
            .map(|p| Series {
                name: p.clone(),
                points: std::iter::once((0.0, 1.0)).chain(s.median.get(p).into_iter().flatten().map(|&(m, v)| (m as f64, v))).collect(),
                intervals: Vec::new(),
            })
            .collect(),
        y_range: None,
        hlines: vec![(1.0, "full model".into()), (0.0, "random".into())],
    };
    write_svg_png(&grid_svg(&[fig11], 1, 760.0, 420.0), &out.join("normalized_score"))?;
    // One panel per task (raw metric).
    let mut panels = Vec::new();
    for task in &s.tasks {
        let rs: Vec<&Record> = records.iter().filter(|r| &r.task == task).collect();
        let metric = rs.first().map(|r| r.metric.clone()).unwrap_or_default();
        let is_ppl = s.groups.get(task).map(String::as_str) == Some("perplexity");
        let tf = |v: f64| if is_ppl { v.max(1e-12).log10() } else { v };
        let full = s.full.get(task).copied();
        let mut hlines = Vec::new();
        if let Some(f) = full {
            hlines.push((tf(f), "full".to_string()));
        }
        if let Some(c) = s.chance.get(task).filter(|_| !is_ppl) {
            hlines.push((*c, "random".to_string()));
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
                    intervals: Vec::new(),
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
    let md = markdown(&s, records, &presets, similarity, &model, layers, title, out);
    painters_graph::write_atomic(&out.join("report.md"), |w| w.write_all(md.as_bytes())).map_err(std::io::Error::other)
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    if v.is_empty() { None } else { Some(v.iter().sum::<f64>() / v.len() as f64) }
}

fn f(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "n/a".into())
}

#[allow(clippy::too_many_arguments)]
fn markdown(s: &Summary, records: &[Record], presets: &[String], sim: Option<&Similarity>, model: &str, layers: usize, title: &str, out: &Path) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {title}: Transformer Layers as Painters, reproduced\n");
    let _ = writeln!(o, "Model `{model}` ({layers} blocks). Every number below comes from `results.jsonl` in this folder ({} records).\n", records.len());
    let _ = writeln!(o, "## Setup\n");
    let _ = writeln!(o, "| task | group | metric | random | full model | n |");
    let _ = writeln!(o, "| --- | --- | --- | --- | --- | --- |");
    for t in &s.tasks {
        let r = records.iter().find(|r| &r.task == t && r.preset == "full");
        let _ = writeln!(
            o,
            "| {t} | {} | {} | {} | {} | {} |",
            s.groups.get(t).cloned().unwrap_or_default(),
            r.map(|r| r.metric.clone()).unwrap_or_default(),
            f(s.chance.get(t).copied()),
            f(s.full.get(t).copied()),
            r.map(|r| r.n_samples.to_string()).unwrap_or_default()
        );
    }
    let ms: BTreeSet<usize> = records.iter().filter(|r| r.preset != "full").map(|r| r.m).collect();
    let _ = writeln!(o, "\nPresets: {}. Affected layers M: {}. Normalised score = (score − random) / (full − random), median across the non-perplexity tasks (the paper's Figure 11).\n", presets.join(", "), ms.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", "));
    let _ = writeln!(o, "![normalised score](normalized_score.png)\n\n![tasks](tasks.png)\n");
    if out.join("perplexity.png").exists() {
        let _ = writeln!(o, "![perplexity](perplexity.png)\n");
    }
    if sim.is_some() {
        let _ = writeln!(o, "![layer similarity](similarity.png)\n");
    }
    // Findings.
    let _ = writeln!(o, "## Findings, compared with the paper\n");
    let means: Vec<(String, f64)> = presets
        .iter()
        .filter_map(|p| mean(s.median.get(p).into_iter().flatten().map(|&(_, v)| v)).map(|m| (p.clone(), m)))
        .collect();
    let mut ranked = means.clone();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    if let (Some(best), Some(worst)) = (ranked.first(), ranked.last()) {
        let _ = writeln!(
            o,
            "- **Ranking** (mean over M of the normalised median score): {}. Degrades least: `{}` ({:.3}); most: `{}` ({:.3}).",
            ranked.iter().map(|(p, v)| format!("`{p}` {v:.3}")).collect::<Vec<_>>().join(", "),
            best.0,
            best.1,
            worst.0,
            worst.1
        );
    }
    let get = |p: &str| means.iter().find(|(q, _)| q == p).map(|(_, v)| *v);
    if let Some(mr) = get("middle-repeat") {
        let worst = ranked.last().map(|(p, _)| p == "middle-repeat").unwrap_or(false);
        let _ = writeln!(o, "- **Repeating the centre layer is the worst** (paper): {} — middle-repeat scores {mr:.3}{}.", if worst { "agrees" } else { "does not agree" }, if worst { ", the lowest of all presets" } else { "" });
    }
    if let (Some(p), Some(lp)) = (get("parallel"), get("looped-parallel")) {
        let _ = writeln!(o, "- **Looping the parallel block beats a single parallel pass** (paper): {} — looped-parallel {lp:.3} vs parallel {p:.3}.", if lp > p { "agrees" } else { "does not agree" });
    }
    if let Some(sk) = s.median.get("skip") {
        let small: Vec<String> = sk.iter().map(|(m, v)| format!("M={m}: {v:.3}")).collect();
        let first = sk.iter().min_by_key(|(m, _)| *m).map(|(_, v)| *v);
        let _ = writeln!(o, "- **Skipping middle layers degrades gracefully** (paper): {} — skip keeps {} of the full model's margin over random at the smallest M ({}).", if first.unwrap_or(0.0) >= 0.5 { "agrees" } else { "does not agree" }, f(first), small.join(", "));
    }
    let order: Vec<&str> = ["reverse", "random"].into_iter().filter(|p| presets.iter().any(|q| q == p)).collect();
    if !order.is_empty() {
        let group_mean = |g: &str| {
            mean(s.normalized.iter().filter(|((p, _), _)| order.contains(&p.as_str())).flat_map(|(_, by)| by.iter()).filter(|(t, _)| s.groups.get(*t).map(String::as_str) == Some(g)).map(|(_, v)| *v))
        };
        let (r, se) = (group_mean("reasoning"), group_mean("semantic"));
        let verdict = match (r, se) {
            (Some(a), Some(b)) if a < b => "agrees",
            (Some(_), Some(_)) => "does not agree",
            _ => "cannot be tested (needs reasoning and semantic tasks)",
        };
        let _ = writeln!(o, "- **Order matters more for reasoning and math than for semantic tasks** (paper): {verdict} — under {} the mean normalised score is {} on reasoning tasks and {} on semantic tasks.", order.join(" and "), f(r), f(se));
    }
    if let Some(sim) = sim {
        let n = sim.matrix.len();
        if n >= 6 {
            let (a, b) = (n / 4, 3 * n / 4);
            let middle = mean((a..b).flat_map(|i| (a..b).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| sim.matrix[i][j]));
            let first = mean((a..b).map(|j| sim.matrix[0][j]));
            let _ = writeln!(o, "- **Middle layers share a representation space** (paper, Figure 3): {} — mean cosine among the outputs of blocks {}–{} is {}, against {} between the embeddings and those blocks.", if middle > first { "agrees" } else { "does not agree" }, a.saturating_sub(1), b - 2, f(middle), f(first));
        }
    }
    // Every number.
    let _ = writeln!(o, "\n## All results\n");
    let _ = writeln!(o, "| preset | N | M | plan | task | metric | value | stderr | normalised |");
    let _ = writeln!(o, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in records {
        let norm = s.normalized.get(&(r.preset.clone(), r.m)).and_then(|m| m.get(&r.task)).copied();
        let _ = writeln!(
            o,
            "| {} | {} | {} | `{}` | {} | {} | {:.4} | {} | {} |",
            r.preset,
            r.n.map(|n| n.to_string()).unwrap_or("-".into()),
            r.m,
            r.plan,
            r.task,
            r.metric,
            r.value,
            r.stderr.map(|v| format!("{v:.4}")).unwrap_or("-".into()),
            norm.map(|v| format!("{v:.3}")).unwrap_or("-".into())
        );
    }
    let total: f64 = records.iter().map(|r| r.seconds.eval).sum();
    let _ = writeln!(o, "\nEvaluation time: {total:.0} s over {} records (rewrite and session times per record are in `results.jsonl`).", records.len());
    o
}

//! Layer similarity (the paper's Figure 3): the model is rewritten with the
//! identity plan and hidden-state taps; sim[i][j] = mean over texts of the
//! mean over tokens of cos(h_i, h_j), with h_0 the stream entering block 0
//! and h_{i+1} the output of block i; influence[i] = 1 − sim[i][i+1]. Each
//! text's own matrix is kept too, so a statistic of the matrix gets a
//! bootstrap interval over texts (the sweep report's similarity claim).
use std::io::Write;
use std::collections::BTreeMap;
use std::path::Path;

use painters_rewrite::{emit_with, EmitOptions};

use super::{progress, TaskResult};
use crate::error::Error;
use crate::lm::LanguageModel;
use crate::session::SessionOptions;
use crate::tokenizer::Tokenizer;
use crate::Runtime;

/// The similarity matrix and influences.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Similarity {
    pub labels: Vec<String>,
    pub matrix: Vec<Vec<f64>>,
    pub influence: Vec<f64>,
    /// Each text's matrix (the mean over tokens for that text; `matrix` is their mean).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_text: Vec<Vec<Vec<f64>>>,
    /// What a cached matrix was computed from (`painters sweep`: BLAKE3 of its
    /// texts and token limit), so a changed similarity spec is recomputed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Opens `model` with taps on every block output.
pub fn tapped_session(runtime: &Runtime, model: &Path, opts: &SessionOptions) -> Result<(LanguageModel, usize), Error> {
    tapped_session_of(runtime, painters_rewrite::open(model, false)?, opts)
}

/// [`tapped_session`] of a model already loaded and detected (`painters_rewrite::open`).
pub fn tapped_session_of(
    runtime: &Runtime,
    source: (painters_graph::OnnxModel, painters_graph::BlockLayout),
    opts: &SessionOptions,
) -> Result<(LanguageModel, usize), Error> {
    let (m, layout) = source;
    let t = layout.num_blocks();
    let proto = emit_with(&m, &layout, &painters_rewrite::sequence(&m, &layout, 0..t)?, &EmitOptions { tap: true })?;
    Ok((LanguageModel::open_emitted(runtime, &m, proto, opts)?, t))
}


/// Computes the similarity matrix over `texts` (each truncated to `max_tokens`).
pub fn similarity(lm: &mut LanguageModel, blocks: usize, tok: &Tokenizer, texts: &[String], max_tokens: usize) -> Result<(TaskResult, Similarity), Error> {
    let n = blocks + 1;
    let mut sum = vec![vec![0f64; n]; n];
    let mut per_text = Vec::with_capacity(texts.len());
    let bar = progress(texts.len() as u64, "similarity");
    for text in texts {
        let mut ids = tok.encode(text, true)?.ids;
        ids.truncate(max_tokens);
        let outs = lm.forward(&[ids.clone()], None)?;
        let mut hs = Vec::with_capacity(n);
        for k in 0..n {
            let name = painters_graph::conventions::hidden_name(k.checked_sub(1));
            let t = outs.iter().find(|(o, _)| *o == name).map(|(_, t)| t).ok_or_else(|| Error::MissingOutput(name.clone()))?;
            hs.push(t.as_f32().unwrap_or(&[]).to_vec());
        }
        if ids.is_empty() {
            return Err(Error::Task("a similarity text has no tokens".into()));
        }
        let d = hs[0].len() / ids.len();
        if d == 0 || hs.iter().any(|h| h.len() != ids.len() * d) {
            return Err(Error::Task(format!("the hidden-state taps are not [1, {}, hidden] float32 tensors", ids.len())));
        }
        let mut own = vec![vec![0f64; n]; n];
        let norms: Vec<Vec<f64>> = hs.iter().map(|h| h.chunks(d).map(|v| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt()).collect()).collect();
        for i in 0..n {
            for j in i..n {
                let mut acc = 0.0;
                for (p, (a, b)) in hs[i].chunks(d).zip(hs[j].chunks(d)).enumerate() {
                    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
                    acc += dot / (norms[i][p] * norms[j][p]).max(1e-300);
                }
                let v = acc / ids.len().max(1) as f64;
                sum[i][j] += v;
                own[i][j] = v;
                if i != j {
                    sum[j][i] += v;
                    own[j][i] = v;
                }
            }
        }
        per_text.push(own);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let count = texts.len().max(1) as f64;
    let matrix: Vec<Vec<f64>> = sum.into_iter().map(|r| r.into_iter().map(|v| v / count).collect()).collect();
    let influence: Vec<f64> = (0..blocks).map(|i| 1.0 - matrix[i][i + 1]).collect();
    let labels: Vec<String> = std::iter::once("embed".to_string()).chain((0..blocks).map(|i| format!("block {i}"))).collect();
    let mean_influence = influence.iter().sum::<f64>() / blocks.max(1) as f64;
    let result = TaskResult {
        task: "similarity".into(),
        metrics: BTreeMap::from([("mean_influence".to_string(), mean_influence)]),
        n_samples: texts.len(),
        config: serde_json::json!({"max_tokens": max_tokens, "blocks": blocks}),
        details: serde_json::json!({"matrix": matrix, "influence": influence, "labels": labels}),
        units: BTreeMap::new(),
        timing: None,
    };
    Ok((result, Similarity { labels, matrix, influence, per_text, source: None }))
}

/// Texts of a file: its blank-line-separated paragraphs.
pub fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n").map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

/// Writes `similarity.{json,csv,png,svg}` into `dir`.
pub fn write_files(dir: &Path, sim: &Similarity) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(sim).map_err(std::io::Error::other)?;
    painters_graph::write_atomic(&dir.join("similarity.json"), |w| w.write_all(json.as_bytes())).map_err(std::io::Error::other)?;
    let mut csv = format!(",{}\n", sim.labels.join(","));
    for (l, row) in sim.labels.iter().zip(&sim.matrix) {
        csv.push_str(&format!("{l},{}\n", row.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(",")));
    }
    painters_graph::write_atomic(&dir.join("similarity.csv"), |w| w.write_all(csv.as_bytes())).map_err(std::io::Error::other)?;
    crate::plot::heatmap(&sim.matrix, &sim.labels, "cosine similarity of block outputs (Figure 3)", &dir.join("similarity"))
}

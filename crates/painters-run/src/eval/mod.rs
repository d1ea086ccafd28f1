//! Evaluation tasks over a `LanguageModel` (conventions: docs/EVAL.md) and
//! their results in lm-evaluation-harness's shape.
pub mod choice;
pub mod data;
pub mod generate;
pub mod perplexity;
pub mod probe;
pub mod similarity;
pub mod task;

use std::collections::BTreeMap;

use serde::Serialize;

/// The result of one task.
#[derive(Debug, Clone, Serialize)]
pub struct TaskResult {
    pub task: String,
    /// Metric name (`acc`, `token_perplexity`, …) → value.
    pub metrics: BTreeMap<String, f64>,
    pub n_samples: usize,
    /// Task parameters (window, stride, few-shot, …).
    pub config: serde_json::Value,
    /// Per-example data (log-likelihoods, generations, matrices).
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
    /// Metric → its value on every example (window, for perplexity), in
    /// order: what intervals and the sweep's paired bootstrap resample.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub units: BTreeMap<String, Units>,
    /// Where the time went (set by the command line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

/// A metric's value on each example, from which the metric of any
/// resample of the examples is recomputed: the mean of `values`, or, with
/// `weights` (perplexity: Σ log p per window and its token count),
/// exp(−Σ values / Σ weights).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Units {
    pub values: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
}

impl Units {
    pub fn mean(values: Vec<f64>) -> Self {
        Self { values, weights: None }
    }

    pub fn perplexity(lls: Vec<f64>, tokens: Vec<f64>) -> Self {
        Self { values: lls, weights: Some(tokens) }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The metric over the examples `idx` (with repeats: a resample).
    pub fn stat(&self, idx: impl Iterator<Item = usize>) -> f64 {
        let (mut num, mut den) = (0f64, 0f64);
        for i in idx {
            num += self.values[i];
            den += self.weights.as_ref().map_or(1.0, |w| w[i]);
        }
        match self.weights {
            Some(_) => (-num / den).exp(),
            None => num / den,
        }
    }

    /// The metric over every example.
    pub fn value(&self) -> f64 {
        self.stat(0..self.len())
    }
}

/// Where an evaluation's time went.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timing {
    /// Creating the ONNX Runtime session (model load and graph optimization).
    pub session_seconds: f64,
    /// The task after the session existed: tokenization, inputs, runs, scoring.
    pub task_seconds: f64,
    /// Inside ONNX Runtime's `run` calls.
    pub run_seconds: f64,
    pub runs: usize,
}

impl TaskResult {
    /// `{"results": {task: {"metric,none": v}}, "config": …, "n-samples": …}`.
    pub fn harness_json(&self, model: &str, plan: Option<&str>) -> serde_json::Value {
        let metrics: serde_json::Map<String, serde_json::Value> =
            self.metrics.iter().map(|(k, v)| (format!("{k},none"), serde_json::json!(v))).collect();
        serde_json::json!({
            "results": {&self.task: metrics},
            "config": {"model": model, "painters.plan": plan, "task": self.config},
            "n-samples": {&self.task: {"original": self.n_samples, "effective": self.n_samples}},
            "details": self.details,
            "painters.timing": self.timing,
        })
    }
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
pub fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} ({per_sec}, ETA {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// Mean and standard error (sample std / sqrt(n)) of scores.
pub fn mean_stderr(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    if x.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = x.iter().sum::<f64>() / n;
    if x.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// SplitMix64, the generator of docs/EVAL.md (same as the `random` preset).
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for j in (1..v.len()).rev() {
            let r = (self.next_u64() % (j as u64 + 1)) as usize;
            v.swap(j, r);
        }
    }
}

//! The one registry of evaluation tasks: a typed spec per kind — `painters
//! eval` builds it from its flags, a suite task from its `task` and
//! `params` — one set of defaults (docs/EVAL.md), and one [`run`].
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{choice, data, generate, perplexity, probe, TaskResult};
use crate::error::Error;
use crate::lm::LanguageModel;
use crate::tokenizer::Tokenizer;

/// A task and its parameters. In a suite: `{"task": "choice", "params": {"fewshot": 1}}`;
/// an unknown parameter is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "lowercase", deny_unknown_fields)]
pub enum TaskSpec {
    /// Windows of `window` tokens every `stride` (default: the window) over the first `max_tokens`.
    Perplexity {
        #[serde(default = "default_window")]
        window: usize,
        #[serde(default)]
        stride: Option<usize>,
        #[serde(default)]
        max_tokens: Option<usize>,
    },
    /// `fewshot` examples drawn with `seed`; contexts cut to `max_len` tokens
    /// (default: the model's `max_position_embeddings`, else 2048); a KV cache
    /// reused across an example's choices when the model has one.
    Choice {
        #[serde(default)]
        fewshot: usize,
        #[serde(default = "default_seed")]
        seed: u64,
        #[serde(default)]
        max_len: Option<usize>,
        #[serde(default = "yes")]
        reuse_cache: bool,
    },
    /// Greedy decoding of at most `max_new_tokens`, cut at the first of `stop` (a string or a list).
    Generate {
        #[serde(default = "default_new_tokens")]
        max_new_tokens: usize,
        #[serde(default = "default_stop", deserialize_with = "one_or_many")]
        stop: Vec<String>,
    },
    /// A logistic-regression probe on mean-pooled last hidden states.
    Probe,
    /// Mean cosine of mean-pooled embeddings against a reference model's.
    Fidelity,
}

fn default_window() -> usize {
    512
}
fn default_seed() -> u64 {
    1234
}
fn yes() -> bool {
    true
}
fn default_new_tokens() -> usize {
    16
}
fn default_stop() -> Vec<String> {
    vec!["\n".to_string()]
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl TaskSpec {
    /// A suite task's spec: its kind and its `params` object.
    pub fn from_suite(kind: &str, params: &serde_json::Value) -> Result<Self, String> {
        let mut obj = match params {
            serde_json::Value::Null => serde_json::Map::new(),
            serde_json::Value::Object(m) => m.clone(),
            other => return Err(format!("params must be an object, not {other}")),
        };
        obj.insert("task".into(), serde_json::Value::String(kind.to_string()));
        serde_json::from_value(serde_json::Value::Object(obj)).map_err(|e| e.to_string())
    }

    /// The kind's name (`perplexity`, `choice`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            TaskSpec::Perplexity { .. } => "perplexity",
            TaskSpec::Choice { .. } => "choice",
            TaskSpec::Generate { .. } => "generate",
            TaskSpec::Probe => "probe",
            TaskSpec::Fidelity => "fidelity",
        }
    }

    /// The metric a sweep reports unless the suite names another.
    pub fn default_metric(&self) -> &'static str {
        match self {
            TaskSpec::Perplexity { .. } => "token_perplexity",
            TaskSpec::Generate { .. } => "exact_match",
            TaskSpec::Fidelity => "cosine",
            TaskSpec::Choice { .. } | TaskSpec::Probe => "acc",
        }
    }
}

/// What a task reads besides its spec.
#[derive(Debug, Clone, Copy)]
pub struct TaskInputs<'a> {
    pub data: &'a Path,
    /// The first N examples only (choice, generate, probe, fidelity).
    pub limit: Option<usize>,
    /// Rows per run (perplexity windows, probe and fidelity texts).
    pub batch: usize,
    /// The model file: its folder's `config.json` gives choice's default context length.
    pub model: &'a Path,
    /// Fidelity: the reference model's embeddings of the same texts.
    pub reference: Option<&'a [Vec<f64>]>,
}

/// The texts a fidelity task embeds.
pub fn fidelity_texts(data: &Path, limit: Option<usize>) -> Result<Vec<String>, Error> {
    Ok(limited(data::load_probe(data)?, limit).into_iter().map(|e| e.text).collect())
}

fn limited<T>(mut v: Vec<T>, limit: Option<usize>) -> Vec<T> {
    if let Some(n) = limit {
        v.truncate(n);
    }
    v
}

/// The context length the model's folder declares (`tokenizer::declared_positions`
/// of its config.json, or of genai_config.json), else 2048.
pub fn model_max_len(model: &Path) -> usize {
    let dir = model.parent().unwrap_or(Path::new("."));
    ["config.json", "genai_config.json"]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|c| crate::tokenizer::declared_positions(&c))
        .unwrap_or(2048)
}

/// What a model giving every token the same probability scores on a choice
/// task ([`choice::uniform`]: no model runs; per-example `acc` and `acc_norm`
/// units included). `None` for the other kinds.
pub fn uniform_baseline(tok: &Tokenizer, spec: &TaskSpec, io: &TaskInputs<'_>) -> Result<Option<TaskResult>, Error> {
    let Some((examples, p)) = choice_inputs(spec, io)? else { return Ok(None) };
    choice::uniform(tok, &examples, &p).map(Some)
}

/// A choice task's examples (the first `io.limit`) and parameters; `None` for the other kinds.
fn choice_inputs(spec: &TaskSpec, io: &TaskInputs<'_>) -> Result<Option<(Vec<data::ChoiceExample>, choice::ChoiceParams)>, Error> {
    let TaskSpec::Choice { fewshot, seed, max_len, reuse_cache } = spec else { return Ok(None) };
    let examples = limited(data::load_choice(io.data)?, io.limit);
    let p = choice::ChoiceParams { fewshot: *fewshot, seed: *seed, max_len: max_len.unwrap_or_else(|| model_max_len(io.model)), reuse_cache: *reuse_cache };
    Ok(Some((examples, p)))
}

/// A perplexity window no longer than the positions the model declares
/// (`tokenizer::declared_positions`): past them it was never trained, and the
/// scores are silently those of an extrapolation.
pub fn check_window(window: usize, tok: &Tokenizer) -> Result<(), Error> {
    match tok.max_positions {
        Some(max) if window > max => Err(Error::Task(format!(
            "a window of {window} tokens is longer than the {max} positions the model declares (max_position_embeddings, n_positions or genai's context_length); use a window of at most {max}"
        ))),
        _ => Ok(()),
    }
}

/// Runs one task on an open model.
pub fn run(lm: &mut LanguageModel, tok: &Tokenizer, spec: &TaskSpec, io: &TaskInputs<'_>) -> Result<TaskResult, Error> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| Error::Data { path: p.display().to_string(), reason: e.to_string() });
    match spec {
        TaskSpec::Perplexity { window, stride, max_tokens } => {
            check_window(*window, tok)?;
            let text = read(io.data)?;
            let p = perplexity::PerplexityParams { window: *window, stride: stride.unwrap_or(*window), max_tokens: *max_tokens, batch: io.batch };
            perplexity::perplexity(lm, tok, &text, &p)
        }
        TaskSpec::Choice { .. } => {
            let (examples, p) = choice_inputs(spec, io)?.ok_or_else(|| Error::Task("not a choice task".into()))?;
            choice::choice(lm, tok, &examples, &p)
        }
        TaskSpec::Generate { max_new_tokens, stop } => {
            let examples = limited(data::load_generate(io.data)?, io.limit);
            generate::generate(lm, tok, &examples, &generate::GenerateParams { max_new_tokens: *max_new_tokens, stop: stop.clone() })
        }
        TaskSpec::Probe => {
            let examples = limited(data::load_probe(io.data)?, io.limit);
            probe::probe(lm, tok, &examples, io.batch)
        }
        TaskSpec::Fidelity => {
            let reference = io.reference.ok_or_else(|| Error::Task("fidelity needs the reference model's embeddings".into()))?;
            let texts = fidelity_texts(io.data, io.limit)?;
            let emb = probe::embed(lm, tok, &texts, io.batch)?;
            if emb.len() != reference.len() {
                return Err(Error::Task(format!("fidelity: {} texts but {} reference embeddings", emb.len(), reference.len())));
            }
            Ok(probe::fidelity_result(&emb, reference, serde_json::json!({"pooling": "mean"})))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_params_become_typed_specs_with_the_documented_defaults() {
        assert_eq!(
            TaskSpec::from_suite("perplexity", &serde_json::json!({"window": 32})).unwrap(),
            TaskSpec::Perplexity { window: 32, stride: None, max_tokens: None }
        );
        assert_eq!(
            TaskSpec::from_suite("choice", &serde_json::Value::Null).unwrap(),
            TaskSpec::Choice { fewshot: 0, seed: 1234, max_len: None, reuse_cache: true }
        );
        assert_eq!(
            TaskSpec::from_suite("generate", &serde_json::json!({"stop": "."})).unwrap(),
            TaskSpec::Generate { max_new_tokens: 16, stop: vec![".".into()] }
        );
        let e = TaskSpec::from_suite("choice", &serde_json::json!({"fewshots": 2})).unwrap_err();
        assert!(e.contains("unknown field `fewshots`"), "{e}");
        assert!(TaskSpec::from_suite("nope", &serde_json::Value::Null).is_err());
    }
}

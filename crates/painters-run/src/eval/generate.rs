//! Generation: greedy decoding (`LanguageModel::greedy`: the KV cache, or
//! recomputation when the model has none), stop strings, exact match
//! against the targets (docs/EVAL.md).
use std::collections::BTreeMap;

use super::data::GenExample;
use super::{mean_stderr, progress, TaskResult, Units};
use crate::error::Error;
use crate::lm::{Greedy, LanguageModel};
use crate::tokenizer::Tokenizer;

/// Generation parameters.
#[derive(Debug, Clone)]
pub struct GenerateParams {
    pub max_new_tokens: usize,
    pub stop: Vec<String>,
}

/// Generates for every example and scores exact match.
pub fn generate(lm: &mut LanguageModel, tok: &Tokenizer, examples: &[GenExample], p: &GenerateParams) -> Result<TaskResult, Error> {
    let bar = progress(examples.len() as u64, "generate");
    let mut scores = Vec::new();
    let mut outputs = Vec::new();
    for e in examples {
        let mut ids = tok.encode(&e.prompt, false)?.ids;
        if ids.is_empty() {
            ids = vec![tok.bos.or(tok.eos).unwrap_or(0)];
        }
        let new = lm.greedy(&ids, &Greedy { eos: tok.eos, ..Greedy::new(p.max_new_tokens) })?.tokens;
        let mut text = tok.decode(&new)?;
        for s in &p.stop {
            if let Some(pos) = text.find(s.as_str()) {
                text.truncate(pos);
            }
        }
        let text = text.trim().to_string();
        scores.push(f64::from(u8::from(e.targets.iter().any(|t| t.trim() == text))));
        outputs.push(text);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (em, se) = mean_stderr(&scores);
    Ok(TaskResult {
        task: "generate".into(),
        metrics: BTreeMap::from([("exact_match".to_string(), em), ("exact_match_stderr".to_string(), se)]),
        n_samples: examples.len(),
        config: serde_json::json!({"max_new_tokens": p.max_new_tokens, "stop": p.stop, "kv_cache": lm.has_cache()}),
        details: serde_json::json!({"outputs": outputs}),
        units: BTreeMap::from([("exact_match".to_string(), Units::mean(scores))]),
        timing: None,
    })
}

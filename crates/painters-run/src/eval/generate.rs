//! Greedy generation with the KV cache (or recomputation when the model has
//! none), stop strings, exact match against the targets (docs/EVAL.md).
use std::collections::BTreeMap;

use super::data::GenExample;
use super::{mean_stderr, progress, EvalError, TaskResult, Units};
use crate::lm::{logits_row, LanguageModel, LmError};
use crate::tokenizer::Tokenizer;

/// Generation parameters.
#[derive(Debug, Clone)]
pub struct GenerateParams {
    pub max_new_tokens: usize,
    pub stop: Vec<String>,
}

/// Greedy continuation of `prompt` (ids), stopping at `eos`.
pub fn greedy_ids(lm: &mut LanguageModel, prompt: &[i64], max_new: usize, eos: Option<i64>) -> Result<Vec<i64>, EvalError> {
    let mut out = Vec::new();
    let last_logits = |outs: &[(String, crate::tensor::HostTensor)], pos: usize| -> Result<Vec<f32>, EvalError> {
        let l = outs.iter().find(|(k, _)| k == "logits").map(|(_, t)| t).ok_or_else(|| LmError::MissingOutput("logits".into()))?;
        Ok(logits_row(l, 0, pos)?.to_vec())
    };
    if lm.has_cache() {
        let (outs, mut cache) = lm.prefill(prompt, None)?;
        let mut row = last_logits(&outs, prompt.len() - 1)?;
        for _ in 0..max_new {
            let next = crate::decode::argmax(&row) as i64;
            if Some(next) == eos {
                break;
            }
            out.push(next);
            if out.len() == max_new {
                break;
            }
            let (outs, c) = lm.prefill(&[next], Some(&cache))?;
            cache = c;
            row = last_logits(&outs, 0)?;
        }
    } else {
        let mut seq = prompt.to_vec();
        for _ in 0..max_new {
            let outs = lm.forward(&[seq.clone()], None)?;
            let next = crate::decode::argmax(&last_logits(&outs, seq.len() - 1)?) as i64;
            if Some(next) == eos {
                break;
            }
            out.push(next);
            seq.push(next);
        }
    }
    Ok(out)
}

/// Generates for every example and scores exact match.
pub fn generate(lm: &mut LanguageModel, tok: &Tokenizer, examples: &[GenExample], p: &GenerateParams) -> Result<TaskResult, EvalError> {
    let bar = progress(examples.len() as u64, "generate");
    let mut scores = Vec::new();
    let mut outputs = Vec::new();
    for e in examples {
        let mut ids = tok.encode(&e.prompt, false)?.ids;
        if ids.is_empty() {
            ids = vec![tok.bos.or(tok.eos).unwrap_or(0)];
        }
        let new = greedy_ids(lm, &ids, p.max_new_tokens, tok.eos)?;
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

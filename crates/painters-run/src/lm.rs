//! `LanguageModel`: a causal LM or encoder session with its inputs filled
//! from what the graph declares (`input_ids`, `attention_mask`,
//! `position_ids`, `token_type_ids`, `past_key_values.*`). Rows of a batch
//! are right-padded; padding never changes a real position's result (causal
//! attention, masked keys). Log-probabilities are computed in f64.
use std::path::Path;

use crate::session::{ModelSession, SessionOptions};
use crate::tensor::HostTensor;
use crate::Runtime;

/// Errors running a model.
#[derive(Debug, thiserror::Error)]
pub enum LmError {
    #[error("the model has an input painters does not know how to fill: '{0}' (known: input_ids, attention_mask, position_ids, token_type_ids, past_key_values.*)")]
    UnknownInput(String),
    #[error("the model has no '{0}' output")]
    MissingOutput(String),
    #[error("KV input '{0}' does not have a static [batch, heads, past, head_dim] shape")]
    KvShape(String),
    #[error("{0}")]
    Ort(#[from] ort::Error),
}

/// The KV cache of one sequence: every `present.*` of a run, by slot input name.
#[derive(Debug, Clone)]
pub struct Cache {
    pub tensors: Vec<(String, HostTensor)>,
    pub len: usize,
}

/// A model ready to score token sequences.
#[derive(Debug)]
pub struct LanguageModel {
    pub session: ModelSession,
    kv: Vec<(String, i64, i64)>,
}

impl LanguageModel {
    pub fn open(runtime: &Runtime, model: &Path, opts: &SessionOptions) -> Result<Self, LmError> {
        Self::from_session(ModelSession::open(runtime, model, opts)?)
    }

    /// Wraps an open session, checking that every input can be filled.
    pub fn from_session(session: ModelSession) -> Result<Self, LmError> {
        let mut kv = Vec::new();
        for (name, shape) in session.inputs.iter().zip(&session.input_shapes) {
            match name.as_str() {
                "input_ids" | "attention_mask" | "position_ids" | "token_type_ids" => {}
                n if n.starts_with("past_key_values.") => {
                    if shape.len() != 4 || shape[1] < 0 || shape[3] < 0 {
                        return Err(LmError::KvShape(n.to_string()));
                    }
                    kv.push((n.to_string(), shape[1], shape[3]));
                }
                other => return Err(LmError::UnknownInput(other.to_string())),
            }
        }
        Ok(Self { session, kv })
    }

    /// Whether the model takes a KV cache.
    pub fn has_cache(&self) -> bool {
        !self.kv.is_empty()
    }

    /// Runs right-padded `rows` (each continuing `cache` when given, batch 1
    /// then) and returns every output.
    pub fn forward(&mut self, rows: &[Vec<i64>], cache: Option<&Cache>) -> Result<Vec<(String, HostTensor)>, LmError> {
        let b = rows.len() as i64;
        let len = rows.iter().map(Vec::len).max().unwrap_or(0) as i64;
        let past = cache.map(|c| c.len).unwrap_or(0) as i64;
        let mut ids = Vec::with_capacity((b * len) as usize);
        let mut mask = Vec::with_capacity((b * (past + len)) as usize);
        let mut pos = Vec::with_capacity((b * len) as usize);
        for r in rows {
            mask.extend(std::iter::repeat_n(1i64, past as usize));
            for k in 0..len as usize {
                ids.push(r.get(k).copied().unwrap_or(0));
                mask.push(i64::from(k < r.len()));
                pos.push(past + k as i64);
            }
        }
        let mut inputs = Vec::new();
        for name in &self.session.inputs {
            let t = match name.as_str() {
                "input_ids" => HostTensor::i64(vec![b, len], ids.clone()),
                "attention_mask" => HostTensor::i64(vec![b, past + len], mask.clone()),
                "position_ids" => HostTensor::i64(vec![b, len], pos.clone()),
                "token_type_ids" => HostTensor::i64(vec![b, len], vec![0; (b * len) as usize]),
                n => match cache.and_then(|c| c.tensors.iter().find(|(k, _)| k == n)) {
                    Some((_, t)) => t.clone(),
                    None => {
                        let (_, heads, hd) = self.kv.iter().find(|(k, _, _)| k == n).ok_or_else(|| LmError::UnknownInput(n.into()))?;
                        HostTensor::f32(vec![b, *heads, 0, *hd], Vec::new())
                    }
                },
            };
            inputs.push((name.clone(), t));
        }
        Ok(self.session.run(&inputs)?)
    }

    /// Runs one sequence and keeps its cache (with-past models).
    pub fn prefill(&mut self, tokens: &[i64], cache: Option<&Cache>) -> Result<(Vec<(String, HostTensor)>, Cache), LmError> {
        let outs = self.forward(&[tokens.to_vec()], cache)?;
        let mut tensors = Vec::new();
        for (name, _, _) in &self.kv {
            let present = name.replacen("past_key_values.", "present.", 1);
            let t = outs.iter().find(|(n, _)| *n == present).ok_or_else(|| LmError::MissingOutput(present.clone()))?;
            tensors.push((name.clone(), t.1.clone()));
        }
        let len = cache.map(|c| c.len).unwrap_or(0) + tokens.len();
        Ok((outs, Cache { tensors, len }))
    }
}

/// `log_softmax(row)[target]` in f64.
pub fn log_prob(row: &[f32], target: usize) -> f64 {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)) as f64;
    let sum: f64 = row.iter().map(|&x| (x as f64 - max).exp()).sum();
    row[target] as f64 - max - sum.ln()
}

/// The logits row of (batch row `r`, position `p`) of a `[B, S, V]` output.
pub fn logits_row(logits: &HostTensor, r: usize, p: usize) -> &[f32] {
    let (s, v) = (logits.shape[1] as usize, logits.shape[2] as usize);
    let data = logits.as_f32().unwrap_or(&[]);
    let start = (r * s + p) * v;
    &data[start..start + v]
}

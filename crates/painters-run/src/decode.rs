//! Greedy decoding of a causal LM, with the KV cache (`past_key_values.*`
//! fed back from `present.*`) or by recomputing the whole sequence each
//! step. Inputs are discovered from the session: `input_ids`,
//! `attention_mask`, `position_ids`, `past_key_values.{s}.key/value`.
use crate::session::ModelSession;
use crate::tensor::HostTensor;

/// Result of a greedy decode.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The new tokens.
    pub tokens: Vec<i64>,
    /// The logits of the last position at each step (one row per new token).
    pub logits: Vec<Vec<f32>>,
}

/// Why decoding could not run.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the model has an input the decoder does not know how to fill: '{0}'")]
    UnknownInput(String),
    #[error("the model has no 'logits' output")]
    NoLogits,
    #[error("KV input '{0}' has no static head and size dimensions")]
    KvShape(String),
    #[error("{0}")]
    Ort(#[from] ort::Error),
}

/// Greedy decoding of `max_new` tokens after `prompt` (batch 1).
/// `use_cache`: feed back `present.*` and run one token per step; otherwise
/// run the whole sequence with an empty cache each step.
pub fn greedy(session: &mut ModelSession, prompt: &[i64], max_new: usize, use_cache: bool) -> Result<Decoded, DecodeError> {
    let kv: Vec<(String, Vec<i64>)> = session
        .inputs
        .iter()
        .zip(&session.input_shapes)
        .filter(|(n, _)| painters_graph::conventions::kv::is_past(n))
        .map(|(n, s)| (n.clone(), s.clone()))
        .collect();
    for (name, shape) in &kv {
        if shape.len() != 4 || shape[1] < 0 || shape[3] < 0 {
            return Err(DecodeError::KvShape(name.clone()));
        }
    }
    for name in &session.inputs {
        if !matches!(name.as_str(), "input_ids" | "attention_mask" | "position_ids") && !painters_graph::conventions::kv::is_past(name) {
            return Err(DecodeError::UnknownInput(name.clone()));
        }
    }
    let mut seq: Vec<i64> = prompt.to_vec();
    let mut past: Vec<(String, HostTensor)> =
        kv.iter().map(|(n, s)| (n.clone(), HostTensor::f32(vec![1, s[1], 0, s[3]], Vec::new()))).collect();
    let mut out = Decoded { tokens: Vec::new(), logits: Vec::new() };
    let mut fed = 0usize; // tokens already in the cache
    for _ in 0..max_new {
        let (start, empty_past) = if use_cache { (fed, false) } else { (0, true) };
        let step: Vec<i64> = seq[start..].to_vec();
        let n = step.len() as i64;
        let total = seq.len() as i64;
        let mut inputs: Vec<(String, HostTensor)> = Vec::new();
        for name in &session.inputs {
            let t = match name.as_str() {
                "input_ids" => HostTensor::i64(vec![1, n], step.clone()),
                "attention_mask" => HostTensor::i64(vec![1, total], vec![1; total as usize]),
                "position_ids" => HostTensor::i64(vec![1, n], (start as i64..total).collect()),
                other => {
                    let (i, (_, s)) = kv.iter().enumerate().find(|(_, (k, _))| k == other).ok_or_else(|| DecodeError::UnknownInput(other.into()))?;
                    if empty_past {
                        HostTensor::f32(vec![1, s[1], 0, s[3]], Vec::new())
                    } else {
                        past[i].1.clone()
                    }
                }
            };
            inputs.push((name.clone(), t));
        }
        let outputs = session.run(&inputs)?;
        let logits = outputs.iter().find(|(n, _)| n == "logits").map(|(_, t)| t).ok_or(DecodeError::NoLogits)?;
        let vocab = *logits.shape.last().unwrap_or(&0) as usize;
        let data = logits.as_f32().ok_or(DecodeError::NoLogits)?;
        let last = data[data.len() - vocab..].to_vec();
        let next = argmax(&last) as i64;
        if use_cache {
            for (i, (name, _)) in kv.iter().enumerate() {
                let present = painters_graph::conventions::kv::present_of(name);
                if let Some((_, t)) = outputs.iter().find(|(n, _)| *n == present) {
                    past[i].1 = t.clone();
                }
            }
            fed = seq.len();
        }
        out.tokens.push(next);
        out.logits.push(last);
        seq.push(next);
    }
    Ok(out)
}

/// Index of the largest value (the first on ties, as `torch.argmax`).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

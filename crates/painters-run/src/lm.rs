//! `LanguageModel`: a causal LM or encoder session with its inputs filled
//! from what the graph declares (`input_ids`, `attention_mask`,
//! `position_ids`, `token_type_ids`, `past_key_values.*`). Rows of a batch
//! are right-padded; padding never changes a real position's result (causal
//! attention, masked keys). Log-probabilities: f32 exponentials (vectorized),
//! f64 sums (`log_prob`). Greedy decoding (`LanguageModel::greedy`), with the
//! KV cache or by recomputation, is the one decoder: the generation task
//! and the tests use it.
use std::path::Path;

use painters_graph::conventions::kv;

use crate::error::{Error, Result};
use crate::session::{ModelSession, SessionOptions};
use crate::tensor::HostTensor;
use crate::Runtime;

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
    /// Whether several sequences can continue one cache in one run
    /// ([`Self::score_on_cache`]); not with onnxruntime-genai's
    /// `GroupQueryAttention`, which takes a batch of one when it reads a
    /// cache with more than one new token.
    cache_batches: bool,
    /// The graph takes `painters_rewrite::head::LOGITS_FROM` (its scoring form).
    logits_from: bool,
}

impl LanguageModel {
    pub fn open(runtime: &Runtime, model: &Path, opts: &SessionOptions) -> Result<Self> {
        match painters_graph::OnnxModel::load(model) {
            Ok(m) => Self::open_model(runtime, &m, opts),
            Err(_) => Self::from_session(ModelSession::open(runtime, model, opts)?),
        }
    }

    /// [`Self::open`] for a model already loaded from its file (as loaded,
    /// not canonicalized: see [`ModelSession::open_model`]).
    pub fn open_model(runtime: &Runtime, model: &painters_graph::OnnxModel, opts: &SessionOptions) -> Result<Self> {
        if let Some(lm) = Self::scoring_form(runtime, model, &model.proto, opts) {
            return Ok(lm);
        }
        Self::from_session(ModelSession::open_model(runtime, model, opts)?)
    }

    /// A session of `proto`, a model emitted from `model` (a rewrite held in
    /// memory, never written): its weights are read in place from the
    /// source's file (inline weights) or its external-data files.
    pub fn open_emitted(
        runtime: &Runtime,
        model: &painters_graph::OnnxModel,
        proto: painters_graph::proto::onnx::ModelProto,
        opts: &SessionOptions,
    ) -> Result<Self> {
        if let Some(lm) = Self::scoring_form(runtime, model, &proto, opts) {
            return Ok(lm);
        }
        let (bytes, _) = model.session_form(proto, crate::session::IN_PLACE_MIN)?;
        Self::from_session(ModelSession::open_serialized(runtime, model, &bytes, opts)?)
    }

    /// A with-past decoder in its scoring form (`painters_rewrite::head`: a
    /// prefill computes the LM head at its last position only), where the
    /// graph allows it and a probe shows the last position's logits are
    /// what the graph as it is gives; else `None` and the graph is opened as
    /// it is.
    fn scoring_form(
        runtime: &Runtime,
        model: &painters_graph::OnnxModel,
        proto: &painters_graph::proto::onnx::ModelProto,
        opts: &SessionOptions,
    ) -> Option<Self> {
        if !proto.graph.as_ref()?.input.iter().any(|v| kv::is_past(v.name())) {
            return None;
        }
        let sliced = painters_rewrite::head::logits_from(proto)?;
        let (bytes, _) = model.session_form(sliced, crate::session::IN_PLACE_MIN).ok()?;
        let mut lm = Self::from_session(ModelSession::open_serialized(runtime, model, &bytes, opts).ok()?).ok()?;
        let holds = lm.last_logits_hold().ok()?;
        lm.session.reset_stats(); // the probe belongs to opening the model, not to a task's runs
        holds.then_some(lm)
    }

    /// The probe of [`Self::scoring_form`]: two tokens, the logits of the
    /// second computed from position 0 and from position 1 on, equal to
    /// 1e-4 relative (on this CPU they are bit-identical: BENCHMARKS.md §12).
    /// A head that is not the position-wise product `painters_rewrite::head`
    /// takes it for (logits not `[batch, positions, vocab]`, or other
    /// values) fails here, and the graph opens as it is.
    fn last_logits_hold(&mut self) -> Result<bool> {
        let rows = [vec![0i64, 1]];
        let mut read = |from: usize| -> Result<Option<Vec<f32>>> {
            let inputs = self.inputs_from(&rows, None, from)?;
            self.session.run_with(&inputs, |outs| {
                let l = logits(outs, "logits")?;
                Ok((l.seq == 2 - from).then(|| l.row(0, 1 - from).to_vec()))
            })?
        };
        let (Some(all), Some(last)) = (read(0)?, read(1)?) else { return Ok(false) };
        Ok(all.len() == last.len() && all.iter().zip(&last).all(|(a, b)| (a - b).abs() <= 1e-4 * a.abs().max(1.0)))
    }

    /// Whether a prefill computes the LM head at its last position only
    /// (the scoring form of [`Self::open`]).
    pub fn last_logits_only(&self) -> bool {
        self.logits_from
    }

    /// Wraps an open session, checking that every input can be filled.
    pub fn from_session(session: ModelSession) -> Result<Self> {
        let mut kv = Vec::new();
        let mut logits_from = false;
        for (name, shape) in session.inputs.iter().zip(&session.input_shapes) {
            match name.as_str() {
                "input_ids" | "attention_mask" | "position_ids" | "token_type_ids" => {}
                painters_rewrite::head::LOGITS_FROM => logits_from = true,
                n if kv::is_past(n) => {
                    if shape.len() != 4 || shape[1] < 0 || shape[3] < 0 {
                        return Err(Error::KvShape(n.to_string()));
                    }
                    kv.push((n.to_string(), shape[1], shape[3]));
                }
                other => return Err(Error::UnknownInput(other.to_string())),
            }
        }
        let cache_batches = !session.ops.contains("GroupQueryAttention");
        Ok(Self { session, kv, cache_batches, logits_from })
    }

    /// Whether the model takes a KV cache.
    pub fn has_cache(&self) -> bool {
        !self.kv.is_empty()
    }

    /// Runs right-padded `rows` (each continuing `cache` when given: a
    /// one-sequence cache is repeated for every row) and returns every output.
    pub fn forward(&mut self, rows: &[Vec<i64>], cache: Option<&Cache>) -> Result<Vec<(String, HostTensor)>> {
        let inputs = self.inputs(rows, cache)?;
        self.session.run(&inputs)
    }

    /// Runs right-padded `rows` like [`Self::forward`] and hands `score` the
    /// `logits` output in place (no copy of the `[B, S, V]` array).
    pub fn forward_logits<R>(
        &mut self,
        rows: &[Vec<i64>],
        cache: Option<&Cache>,
        score: impl FnOnce(Logits<'_>) -> R,
    ) -> Result<R> {
        let inputs = self.inputs(rows, cache)?;
        self.session.run_with(&inputs, |outs| Ok(score(logits(outs, "logits")?)))?
    }

    fn inputs(&self, rows: &[Vec<i64>], cache: Option<&Cache>) -> Result<Vec<(String, HostTensor)>> {
        self.inputs_from(rows, cache, 0)
    }

    /// [`Self::inputs`], the logits computed from position `from` on (where the graph takes that).
    fn inputs_from(&self, rows: &[Vec<i64>], cache: Option<&Cache>, from: usize) -> Result<Vec<(String, HostTensor)>> {
        let s = &self.session;
        s.inputs
            .iter()
            .zip(&s.input_shapes)
            .map(|(name, shape)| {
                Ok((
                    name.clone(),
                    match name.as_str() {
                        painters_rewrite::head::LOGITS_FROM => HostTensor::i64(vec![1], vec![from as i64]),
                        _ => standard_input(name, shape, rows, cache)?,
                    },
                ))
            })
            .collect()
    }

    /// Scores `rows`, each continuing the one-sequence `cache`: `score(logits,
    /// b, r)` reads row `r`'s result at batch row `b`. All rows run in one
    /// batch (the cache repeated for each) where the model takes that, else
    /// one run per row.
    pub fn score_on_cache(&mut self, rows: &[Vec<i64>], cache: &Cache, mut score: impl FnMut(Logits<'_>, usize, usize) -> f64) -> Result<Vec<f64>> {
        if self.cache_batches || rows.len() == 1 {
            return self.forward_logits(rows, Some(cache), |l| (0..rows.len()).map(|r| score(l, r, r)).collect());
        }
        rows.iter().enumerate().map(|(r, row)| self.forward_logits(std::slice::from_ref(row), Some(cache), |l| score(l, 0, r))).collect()
    }

    /// Runs one sequence (continuing `cache` when given) and returns its
    /// last position's logits and the cache after it (with-past models).
    /// In the scoring form the head runs at that position only.
    pub fn prefill(&mut self, tokens: &[i64], cache: Option<&Cache>) -> Result<(Vec<f32>, Cache)> {
        let last = tokens.len().checked_sub(1).ok_or(Error::EmptyPrompt)?;
        let from = if self.logits_from { last } else { 0 };
        let inputs = self.inputs_from(&[tokens.to_vec()], cache, from)?;
        let kv = &self.kv;
        let (row, tensors) = self.session.run_with(&inputs, |outs| -> Result<_> {
            let l = logits(outs, "logits")?;
            if l.seq != tokens.len() - from {
                return Err(Error::OutputShape {
                    output: "logits".into(),
                    expected: format!("[1, {}, vocab]", tokens.len() - from),
                    shape: vec![1, l.seq as i64, l.vocab as i64],
                });
            }
            let row = l.row(0, last - from).to_vec();
            let tensors = kv.iter().map(|(name, _, _)| Ok((name.clone(), outs.host(&kv::present_of(name))?))).collect::<Result<Vec<_>>>()?;
            Ok((row, tensors))
        })??;
        let len = cache.map(|c| c.len).unwrap_or(0) + tokens.len();
        Ok((row, Cache { tensors, len }))
    }

    /// Greedy decoding after `prompt` (batch 1): at most `g.max_new` tokens,
    /// stopping before `g.eos`. With `g.use_cache` and a model that has a KV
    /// cache, the prompt runs once and every new token runs on the cache
    /// (`present.*` fed back); otherwise each step recomputes the whole
    /// sequence (with an empty cache, when the model takes one).
    pub fn greedy(&mut self, prompt: &[i64], g: &Greedy) -> Result<Decoded> {
        if prompt.is_empty() {
            return Err(Error::EmptyPrompt);
        }
        let mut out = Decoded { tokens: Vec::new(), logits: Vec::new() };
        let last_row = |outs: &[(String, HostTensor)], pos: usize| -> Result<Vec<f32>> {
            let l = outs.iter().find(|(k, _)| k == "logits").map(|(_, t)| t).ok_or_else(|| Error::MissingOutput("logits".into()))?;
            Ok(logits_row(l, 0, pos)?.to_vec())
        };
        let push = |out: &mut Decoded, row: Vec<f32>| -> Option<i64> {
            let next = argmax(&row) as i64;
            if Some(next) == g.eos {
                return None;
            }
            out.tokens.push(next);
            if g.keep_logits {
                out.logits.push(row);
            }
            Some(next)
        };
        if g.use_cache && self.has_cache() {
            let (mut row, mut cache) = self.prefill(prompt, None)?;
            while out.tokens.len() < g.max_new {
                let Some(next) = push(&mut out, row) else { break };
                if out.tokens.len() == g.max_new {
                    break;
                }
                (row, cache) = self.prefill(&[next], Some(&cache))?;
            }
        } else {
            let mut seq = prompt.to_vec();
            while out.tokens.len() < g.max_new {
                let outs = self.forward(std::slice::from_ref(&seq), None)?;
                let Some(next) = push(&mut out, last_row(&outs, seq.len() - 1)?) else { break };
                seq.push(next);
            }
        }
        Ok(out)
    }
}

/// How [`LanguageModel::greedy`] decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greedy {
    /// New tokens at most.
    pub max_new: usize,
    /// Stop before this token (it is not returned).
    pub eos: Option<i64>,
    /// Run each new token on the KV cache when the model has one (else recompute).
    pub use_cache: bool,
    /// Keep the last position's logits of every step ([`Decoded::logits`]).
    pub keep_logits: bool,
}

impl Greedy {
    /// `max_new` tokens, no stop token, with the cache, no logits kept.
    pub fn new(max_new: usize) -> Self {
        Self { max_new, eos: None, use_cache: true, keep_logits: false }
    }
}

/// The result of a greedy decode.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The new tokens.
    pub tokens: Vec<i64>,
    /// With [`Greedy::keep_logits`]: the logits each token was chosen from (one row per token).
    pub logits: Vec<Vec<f32>>,
}

/// The index of the largest value, the first on ties (as `torch.argmax`);
/// 0 for an empty slice (a comparison with NaN is false).
pub fn argmax<T: PartialOrd>(v: &[T]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// The model input `name` (declared `shape`) for right-padded `rows`, each
/// continuing `cache` when given: token ids, the attention mask (1 for the
/// cache and every real token), positions, zero token types, a KV input from
/// the cache or empty (past length 0).
pub fn standard_input(name: &str, shape: &[i64], rows: &[Vec<i64>], cache: Option<&Cache>) -> Result<HostTensor> {
    let b = rows.len() as i64;
    let len = rows.iter().map(Vec::len).max().unwrap_or(0);
    let past = cache.map(|c| c.len).unwrap_or(0);
    let grid = |f: &dyn Fn(&[i64], usize) -> i64| -> Vec<i64> { rows.iter().flat_map(|r| (0..len).map(move |k| f(r, k))).collect() };
    Ok(match name {
        "input_ids" => HostTensor::i64(vec![b, len as i64], grid(&|r, k| r.get(k).copied().unwrap_or(0))),
        "position_ids" => HostTensor::i64(vec![b, len as i64], grid(&|_, k| (past + k) as i64)),
        "token_type_ids" => HostTensor::i64(vec![b, len as i64], vec![0; rows.len() * len]),
        "attention_mask" => {
            let mask = rows.iter().flat_map(|r| std::iter::repeat_n(1i64, past).chain((0..len).map(|k| i64::from(k < r.len())))).collect();
            HostTensor::i64(vec![b, (past + len) as i64], mask)
        }
        n if kv::is_past(n) => match cache.and_then(|c| c.tensors.iter().find(|(k, _)| k == n)) {
            Some((_, t)) => repeat_rows(n, t, rows.len())?,
            None if shape.len() == 4 && shape[1] >= 0 && shape[3] >= 0 => HostTensor::f32(vec![b, shape[1], 0, shape[3]], Vec::new()),
            None => return Err(Error::KvShape(n.to_string())),
        },
        other => return Err(Error::UnknownInput(other.to_string())),
    })
}

/// A one-sequence cache tensor `[1, ...]` repeated for `b` rows (`[b, ...]`);
/// a cache of `b` rows as it is.
fn repeat_rows(name: &str, t: &HostTensor, b: usize) -> Result<HostTensor> {
    let refuse = || Error::CacheRows { input: name.to_string(), shape: t.shape.clone(), rows: b };
    match t.shape.first() {
        Some(&n) if n as usize == b => Ok(t.clone()),
        Some(1) => {
            let one = t.as_f32().ok_or_else(refuse)?;
            let mut shape = t.shape.clone();
            shape[0] = b as i64;
            Ok(HostTensor::f32(shape, one.repeat(b)))
        }
        _ => Err(refuse()),
    }
}

/// The `[B, S, V]` output `name`, checked, where ONNX Runtime left it.
pub(crate) fn logits<'a>(outs: &'a crate::session::Outputs<'_, '_>, name: &str) -> Result<Logits<'a>> {
    let (shape, data) = outs.f32(name).map_err(|_| Error::MissingOutput(name.into()))?;
    if shape.len() != 3 || shape.iter().any(|&d| d < 0) || data.len() != shape.iter().product::<i64>() as usize {
        return Err(Error::OutputShape { output: name.into(), expected: "[batch, seq, vocab] float32".into(), shape });
    }
    Ok(Logits { seq: shape[1] as usize, vocab: shape[2] as usize, data })
}

/// A `[B, S, V]` logits array, read where ONNX Runtime left it.
#[derive(Debug, Clone, Copy)]
pub struct Logits<'a> {
    seq: usize,
    vocab: usize,
    data: &'a [f32],
}

impl<'a> Logits<'a> {
    /// The row of (batch row `r`, position `p`).
    pub fn row(&self, r: usize, p: usize) -> &'a [f32] {
        let start = (r * self.seq + p) * self.vocab;
        &self.data[start..start + self.vocab]
    }
}

/// `log_softmax(row)[target]`: the maximum and the exponentials in f32 (as
/// PyTorch's `log_softmax` over f32 logits, the lm-evaluation-harness
/// convention), vectorized; the sum and the logarithm in f64. Agrees with an
/// f64 log-softmax to ~1e-6 relative.
pub fn log_prob(row: &[f32], target: usize) -> f64 {
    let (max, sum) = max_and_sum_exp(row);
    row[target] as f64 - max as f64 - sum.ln()
}

/// The row maximum and Σ exp(x − max), with AVX2 + FMA when the CPU has them
/// (the same arithmetic, twice as wide as the SSE2 baseline).
fn max_and_sum_exp(row: &[f32]) -> (f32, f64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            #[allow(unsafe_code)]
            // SAFETY: the CPU supports AVX2 and FMA (checked just above), which is all
            // `max_and_sum_exp_avx2` requires.
            return unsafe { max_and_sum_exp_avx2(row) };
        }
    }
    let max = max_f32(row);
    (max, sum_exp(row, max))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn max_and_sum_exp_avx2(row: &[f32]) -> (f32, f64) {
    let max = max_f32(row);
    (max, sum_exp(row, max))
}

const LANES: usize = 16;

#[inline(always)]
fn max_f32(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            *m = if x > *m { x } else { *m };
        }
    }
    tail.iter().chain(&lanes).fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

/// Σ exp(x − max) over `row`: f32 lanes flushed into f64 every 1024 values.
#[inline(always)]
fn sum_exp(row: &[f32], max: f32) -> f64 {
    let mut total = 0f64;
    for block in row.chunks(LANES * 64) {
        let mut lanes = [0f32; LANES];
        let chunks = block.chunks_exact(LANES);
        let tail = chunks.remainder();
        for c in chunks {
            for (s, &x) in lanes.iter_mut().zip(c) {
                *s += exp_f32(x - max);
            }
        }
        total += lanes.iter().map(|&v| v as f64).sum::<f64>();
        total += tail.iter().map(|&x| ((x - max) as f64).exp()).sum::<f64>();
    }
    total
}

/// exp(x) for x ≤ 0 (0 below −87), relative error < 2e-7: Cephes' `expf`
/// polynomial after range reduction, written branch-free so the loops above
/// vectorize.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    let tiny = x < -87.0;
    let x = if tiny { -87.0 } else { x };
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if tiny { 0.0 } else { y * scale }
}

/// The logits row of (batch row `r`, position `p`) of a `[B, S, V]` output.
pub fn logits_row(logits: &HostTensor, r: usize, p: usize) -> Result<&[f32]> {
    let bad = || Error::OutputShape {
        output: "logits".into(),
        expected: format!("[batch, seq, vocab] float32 with row {r}, position {p}"),
        shape: logits.shape.clone(),
    };
    let (&[b, s, v], Some(data)) = (logits.shape.as_slice(), logits.as_f32()) else { return Err(bad()) };
    let (b, s, v) = (usize::try_from(b).map_err(|_| bad())?, usize::try_from(s).map_err(|_| bad())?, usize::try_from(v).map_err(|_| bad())?);
    if r >= b || p >= s || data.len() != b * s * v {
        return Err(bad());
    }
    let start = (r * s + p) * v;
    Ok(&data[start..start + v])
}

#[cfg(test)]
mod tests {
    use super::{argmax, exp_f32, log_prob};

    #[test]
    fn argmax_takes_the_first_of_equal_maxima() {
        assert_eq!(argmax(&[1.0f32, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[-1.0f64, -1.0]), 0);
        assert_eq!(argmax(&[0.5f64, f64::NAN, 0.7]), 2);
        assert_eq!(argmax::<f32>(&[]), 0);
    }

    #[test]
    fn fast_exp_is_accurate_on_its_domain() {
        let mut x = -100.0f32;
        while x <= 0.0 {
            let (got, want) = (exp_f32(x) as f64, (x as f64).exp());
            if x >= -87.0 {
                assert!((got - want).abs() <= 3e-7 * want, "exp({x}) = {got}, want {want}");
            } else {
                assert!(got <= 2e-38, "exp({x}) = {got}");
            }
            x += 0.0137;
        }
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn the_wide_and_the_baseline_paths_agree() {
        let row: Vec<f32> = (0..49_157).map(|i| ((i * 7919 % 1013) as f32 - 500.0) * 0.05).collect();
        let base = (super::max_f32(&row), super::sum_exp(&row, super::max_f32(&row)));
        assert_eq!(super::max_and_sum_exp(&row), base);
    }

    #[test]
    fn log_prob_agrees_with_an_f64_log_softmax() {
        // A vocabulary-sized row with a wide range, and short rows (tails only).
        for n in [1usize, 7, 17, 1000, 49_152] {
            let row: Vec<f32> = (0..n).map(|i| ((i * 7919 % 1013) as f32 - 500.0) * 0.05).collect();
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)) as f64;
            let lse = max + row.iter().map(|&x| (x as f64 - max).exp()).sum::<f64>().ln();
            for t in [0, n / 2, n - 1] {
                let (got, want) = (log_prob(&row, t), row[t] as f64 - lse);
                assert!((got - want).abs() <= 1e-6 * want.abs().max(1.0), "n={n} t={t}: {got} vs {want}");
            }
        }
    }
}

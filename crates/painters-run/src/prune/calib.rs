//! The calibration data of a pruning search, and the two things measured on
//! it. Protocol (the PyTorch reference `scripts/make_prune_references.py`
//! implements the same; see `docs/PRUNE.md`): the text is tokenized once as
//! `tokenizer(text)` does, cut to `max_tokens` and split into consecutive
//! windows of `window` tokens (a last window of fewer than 2 tokens is
//! dropped); each window is one sequence, no KV cache.
//! - hidden states: h_0 the stream entering the first block instance, h_{k+1}
//!   the output of instance k (painters' taps on the identity graph);
//! - calibration NLL: the mean over every predicted token of every window of
//!   −log p(token | the window's earlier tokens).
use std::path::Path;

use painters_graph::{BlockLayout, OnnxModel};
use painters_rewrite::{emit_with, EmitOptions, Schedule};
use protobuf::Message;

use crate::eval::EvalError;
use crate::lm::{log_prob, LanguageModel, LmError};
use crate::session::{ModelSession, SessionOptions};
use crate::tokenizer::Tokenizer;
use crate::Runtime;

/// Calibration windows and where they came from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Calibration {
    pub path: String,
    /// BLAKE3 of the text file, as `b3sum` prints it.
    pub blake3: String,
    pub window: usize,
    pub max_tokens: usize,
    pub tokens: usize,
    #[serde(skip)]
    pub windows: Vec<Vec<i64>>,
    pub n_windows: usize,
}

impl Calibration {
    /// Tokenizes `path` with `tok` by the protocol above.
    pub fn load(path: &Path, tok: &Tokenizer, window: usize, max_tokens: usize) -> Result<Self, EvalError> {
        if window < 2 {
            return Err(EvalError::Task(format!("--window must be at least 2 (got {window})")));
        }
        let bytes = std::fs::read(path).map_err(|e| EvalError::Data { path: path.display().to_string(), reason: e.to_string() })?;
        let text = String::from_utf8(bytes.clone())
            .map_err(|_| EvalError::Data { path: path.display().to_string(), reason: "not UTF-8 text".into() })?;
        let mut ids = tok.encode(&text, true)?.ids;
        ids.truncate(max_tokens);
        let windows: Vec<Vec<i64>> = ids.chunks(window).filter(|w| w.len() >= 2).map(<[i64]>::to_vec).collect();
        if windows.is_empty() {
            return Err(EvalError::Data { path: path.display().to_string(), reason: "fewer than 2 tokens of calibration text".into() });
        }
        Ok(Self {
            path: path.display().to_string(),
            blake3: blake3::hash(&bytes).to_hex().to_string(),
            window,
            max_tokens,
            tokens: windows.iter().map(Vec::len).sum(),
            n_windows: windows.len(),
            windows,
        })
    }
}

/// A session running `schedule` over `layout` (hidden-state taps when `tap`),
/// without writing a model folder: in memory, or for external-data models a
/// temporary file beside the source (its data paths are relative to it).
pub fn session_for(
    runtime: &Runtime,
    model: &OnnxModel,
    layout: &BlockLayout,
    schedule: &Schedule,
    tap: bool,
    opts: &SessionOptions,
) -> Result<LanguageModel, EvalError> {
    session_with(runtime, model, layout, schedule, &EmitOptions { tap, ..Default::default() }, opts)
}

/// [`session_for`] with any emission options (a stream input: the rest of a model).
pub fn session_with(
    runtime: &Runtime,
    model: &OnnxModel,
    layout: &BlockLayout,
    schedule: &Schedule,
    emit: &EmitOptions,
    opts: &SessionOptions,
) -> Result<LanguageModel, EvalError> {
    let proto = emit_with(model, layout, schedule, emit)?;
    let bytes = proto.write_to_bytes().map_err(|e| EvalError::Task(e.to_string()))?;
    let session = if model.has_external_data() {
        let dir = model.dir();
        let tmp = tempfile::Builder::new()
            .prefix(".painters-prune-")
            .suffix(".onnx")
            .tempfile_in(dir)
            .map_err(|e| EvalError::Task(format!("{}: {e}", dir.display())))?;
        std::fs::write(tmp.path(), &bytes).map_err(|e| EvalError::Task(format!("{}: {e}", tmp.path().display())))?;
        ModelSession::open(runtime, tmp.path(), opts)?
    } else {
        ModelSession::open_bytes(runtime, &bytes, opts)?
    };
    Ok(LanguageModel::from_session(session)?)
}

/// The hidden states of one window: `instances + 1` tensors of `len × d` floats.
#[derive(Debug, Clone)]
pub struct Hidden {
    pub states: Vec<Vec<f32>>,
    pub len: usize,
    pub dim: usize,
}

/// Runs every window through a tapped session of `instances` block instances.
pub fn hidden_states(lm: &mut LanguageModel, instances: usize, calib: &Calibration) -> Result<Vec<Hidden>, EvalError> {
    let mut out = Vec::with_capacity(calib.windows.len());
    for w in &calib.windows {
        let outs = lm.forward(std::slice::from_ref(w), None)?;
        let mut states = Vec::with_capacity(instances + 1);
        for k in 0..=instances {
            let name = painters_graph::conventions::hidden_name(k.checked_sub(1));
            let t = outs.iter().find(|(o, _)| *o == name).map(|(_, t)| t).ok_or_else(|| LmError::MissingOutput(name.clone()))?;
            let data = t.as_f32().ok_or_else(|| EvalError::Task(format!("{name} is not float32")))?;
            if data.is_empty() || data.len() % w.len() != 0 {
                return Err(EvalError::Task(format!("{name}: {} values for {} tokens", data.len(), w.len())));
            }
            states.push(data.to_vec());
        }
        let dim = states[0].len() / w.len();
        out.push(Hidden { states, len: w.len(), dim });
    }
    Ok(out)
}

/// The calibration NLL of a decoder (mean −log p per predicted token).
pub fn nll(lm: &mut LanguageModel, calib: &Calibration) -> Result<f64, EvalError> {
    nll_from(lm, calib, None)
}

/// [`nll`] of the rest of a model (emitted with a stream input) fed, for
/// window w, the stream `streams[w]` entering its first block.
pub fn nll_from(lm: &mut LanguageModel, calib: &Calibration, streams: Option<&[&[f32]]>) -> Result<f64, EvalError> {
    let lls = window_lls(lm, calib, streams)?;
    let (sum, n) = lls.iter().fold((0f64, 0usize), |(s, n), (ll, k)| (s + ll, n + k));
    Ok(-sum / n.max(1) as f64)
}

/// Per window: (Σ log p of its predicted tokens, how many).
pub fn window_lls(lm: &mut LanguageModel, calib: &Calibration, streams: Option<&[&[f32]]>) -> Result<Vec<(f64, usize)>, EvalError> {
    let mut out = Vec::with_capacity(calib.windows.len());
    for (i, w) in calib.windows.iter().enumerate() {
        let score = |logits: crate::lm::Logits<'_>| {
            (1..w.len())
                .map(|k| {
                    let row = logits.row(0, k - 1);
                    let t = usize::try_from(w[k]).ok().filter(|&t| t < row.len())?;
                    Some(log_prob(row, t))
                })
                .sum::<Option<f64>>()
        };
        let ll = match streams {
            None => lm.forward_logits(std::slice::from_ref(w), None, score)?,
            Some(s) => {
                let h = s.get(i).ok_or_else(|| EvalError::Task("a stream per calibration window is needed".into()))?;
                let t = crate::HostTensor::f32(vec![1, w.len() as i64, (h.len() / w.len()) as i64], h.to_vec());
                lm.forward_logits_from(w, t, score)?
            }
        };
        let ll = ll.ok_or_else(|| EvalError::Task(format!("a token id of {} is outside the model's vocabulary (wrong tokenizer?)", calib.path)))?;
        out.push((ll, w.len() - 1));
    }
    Ok(out)
}

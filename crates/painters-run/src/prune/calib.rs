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
use painters_rewrite::{emit_with, lower, EmitOptions, Plan};

use crate::error::Error;
use crate::lm::{log_prob, LanguageModel};
use crate::session::SessionOptions;
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
    pub fn load(path: &Path, tok: &Tokenizer, window: usize, max_tokens: usize) -> Result<Self, Error> {
        if window < 2 {
            return Err(Error::Task(format!("--window must be at least 2 (got {window})")));
        }
        crate::eval::task::check_window(window, tok)?;
        let bytes = std::fs::read(path).map_err(|e| Error::Data { path: path.display().to_string(), reason: e.to_string() })?;
        let text = String::from_utf8(bytes.clone())
            .map_err(|_| Error::Data { path: path.display().to_string(), reason: "not UTF-8 text".into() })?;
        let mut ids = tok.encode(&text, true)?.ids;
        ids.truncate(max_tokens);
        let windows: Vec<Vec<i64>> = ids.chunks(window).filter(|w| w.len() >= 2).map(<[i64]>::to_vec).collect();
        if windows.is_empty() {
            return Err(Error::Data { path: path.display().to_string(), reason: "fewer than 2 tokens of calibration text".into() });
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

/// A session running `plan` over `layout` (hidden-state taps when `tap`),
/// without writing a model folder.
pub fn session_for(
    runtime: &Runtime,
    model: &OnnxModel,
    layout: &BlockLayout,
    plan: &Plan,
    tap: bool,
    opts: &SessionOptions,
) -> Result<LanguageModel, Error> {
    let proto = emit_with(model, layout, &lower(plan, model, layout)?, &EmitOptions { tap })?;
    LanguageModel::open_emitted(runtime, model, proto, opts)
}

/// How candidates were scored.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Scoring {
    /// Sessions opened to score candidates.
    pub sessions: usize,
    /// Seconds inside ONNX Runtime's `run`.
    pub run_seconds: f64,
    /// Whether candidates ran as chains of pieces opened once (`chain`),
    /// from the stream entering the first stage they change.
    pub chain: bool,
}

/// Scores every plan's calibration NLL, each its own model in a session
/// of its own run from the tokens, calling `done(i, nll)` as each is known.
#[allow(clippy::too_many_arguments)]
pub fn nlls(
    runtime: &Runtime,
    model: &OnnxModel,
    layout: &BlockLayout,
    plans: &[Plan],
    calib: &Calibration,
    opts: &SessionOptions,
    scoring: &mut Scoring,
    mut done: impl FnMut(usize, f64) -> Result<(), Error>,
) -> Result<(), Error> {
    for (i, s) in plans.iter().enumerate() {
        let mut lm = session_for(runtime, model, layout, s, false, opts)?;
        let v = nll(&mut lm, calib)?;
        scoring.sessions += 1;
        scoring.run_seconds += lm.session.stats().run_seconds;
        done(i, v)?;
    }
    Ok(())
}

/// The hidden states of one window: `instances + 1` tensors of `len × d` floats.
#[derive(Debug, Clone)]
pub struct Hidden {
    pub states: Vec<Vec<f32>>,
    pub len: usize,
    pub dim: usize,
}

/// Runs every window through a tapped session of `instances` block instances.
pub fn hidden_states(lm: &mut LanguageModel, instances: usize, calib: &Calibration) -> Result<Vec<Hidden>, Error> {
    let mut out = Vec::with_capacity(calib.windows.len());
    for w in &calib.windows {
        let outs = lm.forward(std::slice::from_ref(w), None)?;
        let mut states = Vec::with_capacity(instances + 1);
        for k in 0..=instances {
            let name = painters_graph::conventions::hidden_name(k.checked_sub(1));
            let t = outs.iter().find(|(o, _)| *o == name).map(|(_, t)| t).ok_or_else(|| Error::MissingOutput(name.clone()))?;
            let data = t.as_f32().ok_or_else(|| Error::Task(format!("{name} is not float32")))?;
            if data.is_empty() || data.len() % w.len() != 0 {
                return Err(Error::Task(format!("{name}: {} values for {} tokens", data.len(), w.len())));
            }
            states.push(data.to_vec());
        }
        let dim = states[0].len() / w.len();
        out.push(Hidden { states, len: w.len(), dim });
    }
    Ok(out)
}

/// The calibration NLL of a decoder (mean −log p per predicted token).
pub fn nll(lm: &mut LanguageModel, calib: &Calibration) -> Result<f64, Error> {
    let lls = window_lls(lm, calib)?;
    let (sum, n) = lls.iter().fold((0f64, 0usize), |(s, n), (ll, k)| (s + ll, n + k));
    Ok(-sum / n.max(1) as f64)
}

/// Σ log p of window `w`'s predicted tokens under `logits`; `None` when a
/// token is outside the vocabulary.
pub(crate) fn window_ll(w: &[i64], logits: crate::lm::Logits<'_>) -> Option<f64> {
    (1..w.len())
        .map(|k| {
            let row = logits.row(0, k - 1);
            let t = usize::try_from(w[k]).ok().filter(|&t| t < row.len())?;
            Some(log_prob(row, t))
        })
        .sum::<Option<f64>>()
}

pub(crate) fn out_of_vocab(calib: &Calibration) -> Error {
    Error::Task(format!("a token id of {} is outside the model's vocabulary (wrong tokenizer?)", calib.path))
}

/// Per window: (Σ log p of its predicted tokens, how many).
pub fn window_lls(lm: &mut LanguageModel, calib: &Calibration) -> Result<Vec<(f64, usize)>, Error> {
    let mut out = Vec::with_capacity(calib.windows.len());
    for w in &calib.windows {
        let ll = lm.forward_logits(std::slice::from_ref(w), None, |logits| window_ll(w, logits))?;
        out.push((ll.ok_or_else(|| out_of_vocab(calib))?, w.len() - 1));
    }
    Ok(out)
}

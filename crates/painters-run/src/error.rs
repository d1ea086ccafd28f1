//! The one error type of `painters-run`'s library: finding ONNX Runtime,
//! sessions and runs (each naming its model file), the inputs and outputs a
//! language model needs, tokenizers, data files and tasks. Every variant
//! displays as one line. A variant that wraps another error either is
//! `transparent` (the graph and rewrite errors, which name their own
//! context) or prints its own context and chains the source without
//! printing it: the command line joins the chain with ": ".
use std::path::PathBuf;

use painters_graph::names::one_line;

/// Errors of sessions, evaluation, sweeps and pruning.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // --- the ONNX Runtime library ---
    #[error("ONNX Runtime library {} does not exist", one_line(&.0.display().to_string()))]
    OrtMissing(PathBuf),
    #[error(
        "ONNX Runtime library not found: run scripts/install-ort.sh (installs onnxruntime 1.31.1 from PyPI into .ort/), \
         or pass --ort-lib PATH / set ORT_DYLIB_PATH to a libonnxruntime.so"
    )]
    OrtNotFound,
    #[error("cannot load ONNX Runtime from {}", one_line(&.path.display().to_string()))]
    OrtLoad {
        path: PathBuf,
        /// `ort`'s loader error or its environment error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    // --- sessions and runs ---
    /// Creating a session of `model` (a file, or a model emitted in memory from that file).
    #[error("cannot open an ONNX Runtime session for {}", one_line(&.model.display().to_string()))]
    Session {
        model: PathBuf,
        #[source]
        source: ort::Error,
    },
    #[error("ONNX Runtime failed running {}", one_line(&.model.display().to_string()))]
    Run {
        model: PathBuf,
        #[source]
        source: ort::Error,
    },

    // --- what a language model reads and returns ---
    #[error("the model has an input painters does not know how to fill: '{}' (known: input_ids, attention_mask, position_ids, token_type_ids, past_key_values.*)", one_line(.0))]
    UnknownInput(String),
    #[error("the model has no '{}' output", one_line(.0))]
    MissingOutput(String),
    #[error("the model's '{}' output is not {expected} (got shape {shape:?})", one_line(.output))]
    OutputShape { output: String, expected: String, shape: Vec<i64> },
    #[error("KV input '{}' does not have a static [batch, heads, past, head_dim] shape", one_line(.0))]
    KvShape(String),
    #[error("the cache for KV input '{}' (shape {shape:?}, float32 expected) cannot continue {rows} rows", one_line(.input))]
    CacheRows { input: String, shape: Vec<i64>, rows: usize },
    #[error("greedy decoding needs a prompt of at least one token")]
    EmptyPrompt,

    // --- tokenizers ---
    #[error("no tokenizer.json next to {}; pass --tokenizer PATH", one_line(&.0.display().to_string()))]
    NoTokenizer(PathBuf),
    #[error("cannot load tokenizer {}: {}", one_line(&.path.display().to_string()), one_line(.reason))]
    TokenizerLoad { path: PathBuf, reason: String },
    #[error("tokenizer: {}", one_line(.0))]
    Tokenize(String),

    // --- files, data and tasks ---
    #[error("{}", one_line(&.path.display().to_string()))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {}", one_line(.path), one_line(.reason))]
    Data { path: String, reason: String },
    /// A reference file (`reference.json`); `tensor` when one tensor is at fault.
    #[error("{}: {}{}", one_line(&.path.display().to_string()), .tensor.as_deref().map_or(String::new(), |t| format!("tensor '{}': ", one_line(t))), one_line(.reason))]
    Reference { path: PathBuf, tensor: Option<String>, reason: String },
    #[error("{0}")]
    Task(String),

    // --- the other crates' errors, which name their own context ---
    #[error(transparent)]
    Graph(#[from] painters_graph::GraphError),
    #[error(transparent)]
    Rewrite(#[from] painters_rewrite::RewriteError),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `e` and its sources, each once, joined by ": " on one line (what the
/// command line prints; for notes that show an error and carry on).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut next = e.source();
    while let Some(s) = next {
        parts.push(s.to_string());
        next = s.source();
    }
    parts.join(": ").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_prints_its_context_and_chains_its_source_once() {
        let e = Error::Session { model: "m.onnx".into(), source: ort::Error::new("unknown op") };
        assert_eq!(e.to_string(), "cannot open an ONNX Runtime session for m.onnx");
        assert_eq!(chain(&e), "cannot open an ONNX Runtime session for m.onnx: unknown op");
        let e = Error::from(painters_graph::GraphError::Io { path: "x.onnx".into(), source: std::io::Error::other("gone") });
        assert_eq!(chain(&e), "cannot read x.onnx: gone");
        let e = Error::io("data.txt")(std::io::Error::other("gone"));
        assert_eq!(chain(&e), "data.txt: gone");
    }
}

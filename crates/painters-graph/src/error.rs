//! The one error type of `painters-graph`. Every variant names what the user
//! can act on: the file, the node, the tensor or the block.
use std::path::PathBuf;

/// Errors from loading, validating and analysing an ONNX model.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an ONNX model: {reason}")]
    NotOnnx { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tensor '{tensor}': external data location '{location}' {reason}")]
    ExternalLocation {
        tensor: String,
        location: String,
        reason: String,
    },
    #[error("tensor '{tensor}': external data file {path} is missing")]
    ExternalMissing { tensor: String, path: PathBuf },
    #[error("tensor '{tensor}': external data [{offset}, {end}) lies past the end of {path} ({size} bytes)")]
    ExternalOutOfRange {
        tensor: String,
        path: PathBuf,
        offset: u64,
        end: u64,
        size: u64,
    },
    #[error("tensor '{tensor}': {reason}")]
    BadTensor { tensor: String, reason: String },
    #[error("invalid graph: {0}")]
    Invalid(String),
    #[error("no transformer blocks found: {0}")]
    NoBlocks(String),
    #[error("block detection failed at node '{node}' (tensor '{tensor}'): {reason}")]
    Detection {
        node: String,
        tensor: String,
        reason: String,
    },
}

pub type Result<T, E = GraphError> = std::result::Result<T, E>;

//! The one error type of `painters-graph`. Every variant names what the user
//! can act on: the file, the node, the tensor or the block. Each displays
//! as one line: names and paths quoted from a model are escaped
//! ([`one_line`]).
use std::path::PathBuf;

use crate::names::one_line;

/// Errors from loading, validating and analysing an ONNX model.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("cannot read {}: {}", one_line(&.path.display().to_string()), one_line(&.source.to_string()))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not an ONNX model: {}", one_line(&.path.display().to_string()), one_line(.reason))]
    NotOnnx { path: PathBuf, reason: String },
    #[error("cannot write {}: {}", one_line(&.path.display().to_string()), one_line(&.source.to_string()))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("tensor '{}': external data location '{}' {}", one_line(.tensor), one_line(.location), one_line(.reason))]
    ExternalLocation {
        tensor: String,
        location: String,
        reason: String,
    },
    #[error("tensor '{}': external data file {} is missing", one_line(.tensor), one_line(&.path.display().to_string()))]
    ExternalMissing { tensor: String, path: PathBuf },
    #[error("tensor '{}': external data [{offset}, {end}) lies past the end of {} ({size} bytes)", one_line(.tensor), one_line(&.path.display().to_string()))]
    ExternalOutOfRange {
        tensor: String,
        path: PathBuf,
        offset: u64,
        end: u64,
        size: u64,
    },
    #[error("tensor '{}': {}", one_line(.tensor), one_line(.reason))]
    BadTensor { tensor: String, reason: String },
    #[error("invalid graph: {}", one_line(.0))]
    Invalid(String),
    #[error("no transformer blocks found: {}", one_line(.0))]
    NoBlocks(String),
    #[error("block detection failed at node '{}' (tensor '{}'): {}", one_line(.node), one_line(.tensor), one_line(.reason))]
    Detection {
        node: String,
        tensor: String,
        reason: String,
    },
}

pub type Result<T, E = GraphError> = std::result::Result<T, E>;

//! The one error type of `painters-graph`. Every variant carries what the
//! user can act on as data — the file, the node, the tensor, the block — and
//! displays as one line: names and paths quoted from a model are escaped
//! ([`one_line`]). A variant that wraps another error (`#[source]`) prints
//! its own context only; the source is the next link of the chain, which
//! the command line joins with ": ".
use std::path::PathBuf;

use crate::layout::Section;
use crate::names::one_line;

/// Errors from loading, validating and analysing an ONNX model.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    // --- files ---
    #[error("cannot read {}", one_line(&.path.display().to_string()))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not an ONNX model: {}", one_line(&.path.display().to_string()), one_line(.reason))]
    NotOnnx { path: PathBuf, reason: String },
    #[error("cannot write {}", one_line(&.path.display().to_string()))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot write {}: the folder is in use by another painters {} (pid {}{}); wait for it, or remove {} if that process is gone",
        one_line(&.dir.display().to_string()), one_line(.what), .pid.map_or("?".into(), |p| p.to_string()),
        .host.as_deref().map_or(String::new(), |h| format!(" on {}", one_line(h))), one_line(&.lock.display().to_string())
    )]
    Locked {
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// What holds it (`sweep`, `rewrite`, …), its process id and, when not this machine, its host.
        what: String,
        pid: Option<i32>,
        host: Option<String>,
    },
    #[error("cannot write {}: another process took the stale lock first", one_line(&.dir.display().to_string()))]
    LockTaken { dir: PathBuf },
    /// The model header is unusable (no IR version, no opset, no nodes);
    /// a file with such a header reads as [`GraphError::NotOnnx`].
    #[error("invalid model: {0}")]
    Header(HeaderDefect),
    #[error("cannot serialize the model: {}", one_line(.reason))]
    Serialize { reason: String },

    // --- tensors and external data ---
    #[error("tensor '{}': external data location '{}' {}", one_line(.tensor), one_line(.location), one_line(.reason))]
    ExternalLocation { tensor: String, location: String, reason: String },
    #[error("tensor '{}': external data file {} is missing", one_line(.tensor), one_line(&.path.display().to_string()))]
    ExternalMissing { tensor: String, path: PathBuf },
    #[error("tensor '{}': external data [{offset}, {end}) lies past the end of {} ({size} bytes)", one_line(.tensor), one_line(&.path.display().to_string()))]
    ExternalOutOfRange { tensor: String, path: PathBuf, offset: u64, end: u64, size: u64 },
    #[error("tensor '{}': {}", one_line(.tensor), one_line(.reason))]
    BadTensor { tensor: String, reason: String },

    // --- graph structure (`validate`, `index`, `subgraph`) ---
    #[error("invalid graph: node '{}' reads tensor '{}' but nothing produces it", one_line(.node), one_line(.tensor))]
    UndefinedInput { node: String, tensor: String },
    #[error(
        "invalid graph: node '{}' reads tensor '{}' but it is produced later, by node '{}' (not in topological order)",
        one_line(.node), one_line(.tensor), one_line(.producer)
    )]
    OutOfOrder { node: String, tensor: String, producer: String },
    #[error("invalid graph: tensor '{}' is produced more than once ({}, again by node '{}')", one_line(.tensor), first_producer(.first), one_line(.second))]
    DuplicateProducer {
        tensor: String,
        /// The node that made it first; `None` when it is a graph input or an initializer.
        first: Option<String>,
        second: String,
    },
    #[error("invalid graph: graph output '{}' is not produced", one_line(.output))]
    UnproducedOutput { output: String },
    #[error("invalid graph: node '{}' ({}) is dead: none of its outputs is read or returned", one_line(.node), one_line(.op))]
    DeadNode { node: String, op: String },
    #[error("invalid graph: the graph has a cycle through node '{}'", one_line(.node))]
    Cycle { node: String },
    #[error("invalid graph: the model has no graph")]
    NoGraph,
    #[error("invalid graph: node #{index} is not in the graph")]
    NoSuchNode { index: usize },
    #[error("invalid graph: the piece reads tensor '{}', which is produced outside it and is not one of its inputs", one_line(.tensor))]
    PieceInput { tensor: String },

    // --- block detection finds no blocks ---
    #[error(
        "no transformer blocks found: no token input: no graph input is named 'input_ids' or indexes an embedding Gather (inputs: {})",
        one_line(&.inputs.join(", "))
    )]
    NoTokenInput { inputs: Vec<String> },
    #[error("no transformer blocks found: no graph output depends on '{}' through a chain of layers", one_line(.token))]
    NoLayerChain { token: String },
    /// Neither way of placing block boundaries worked: why not by names
    /// and why not by structure (`None`: that way was not tried).
    #[error("no transformer blocks found: {}", boundary_reasons(.names, .structure))]
    NoBoundaries { names: Option<String>, structure: Option<String> },

    // --- block detection finds a layout it cannot trust (names node and tensor) ---
    #[error(
        "block detection failed at node '{}' (tensor '{}'): the output of block {block} is made in {section}",
        one_line(.node), one_line(.tensor)
    )]
    BoundaryElsewhere { block: usize, node: String, tensor: String, section: Section },
    #[error("block detection failed at tensor '{}': the output of block {block} is {}", one_line(.tensor), .origin)]
    BoundaryNotMade { block: usize, tensor: String, origin: TensorOrigin },
    #[error(
        "block detection failed at node '{}' (tensor '{}'): {reader} reads it but it is made in {maker}; only the residual stream and context may cross a block boundary",
        one_line(.node), one_line(.tensor)
    )]
    CrossesBoundary { node: String, tensor: String, reader: Section, maker: Section },
    #[error(
        "block detection failed at {} (tensor '{}'): the input of block {block} is a graph output (hidden states); export without output_hidden_states",
        node_or_input(.node), one_line(.tensor)
    )]
    HiddenStatesOutput {
        block: usize,
        /// Its producer; `None` when it is a graph input.
        node: Option<String>,
        tensor: String,
    },
    #[error(
        "block detection failed at node '{}' (tensor '{}'): fused residual node {}: split it first (OnnxModel::canonicalize)",
        one_line(.node), one_line(.tensor), one_line(.op)
    )]
    FusedNode { node: String, tensor: String, op: String },
    #[error(
        "block detection failed at node '{}' (tensor '{}'): output {output} of {} (mean / inverse std) is read; painters cannot split this node",
        one_line(.node), one_line(.tensor), one_line(.op)
    )]
    FusedStatsRead { node: String, tensor: String, output: usize, op: String },
    #[error("block detection failed at node '{}' (tensor '{}'): {} without its input and skip", one_line(.node), one_line(.tensor), one_line(.op))]
    FusedWithoutInputs { node: String, tensor: String, op: String },
    #[error(
        "block detection failed at node '{}' (tensor '{}'): op {}:{} on the residual stream is not one painters understands (known: the ONNX standard ops and com.microsoft {})",
        one_line(.node), one_line(.tensor), one_line(.domain), one_line(.op), .known.join(", ")
    )]
    UnknownOp { node: String, tensor: String, domain: String, op: String, known: &'static [&'static str] },
    #[error("block detection failed at node '{}' (tensor '{}'): graph output made in block {block} does not depend on the token ids", one_line(.node), one_line(.tensor))]
    ConstantBlockOutput { block: usize, node: String, tensor: String },
}

/// What is wrong with a model's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderDefect {
    #[error("it has no IR version (truncated or not an ONNX file?)")]
    NoIrVersion,
    #[error("it imports no operator set")]
    NoOpset,
    #[error("its graph has no nodes")]
    NoNodes,
}

/// Where a tensor no node makes comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorOrigin {
    GraphInput,
    Initializer,
    /// Nothing defines it.
    Nothing,
}

impl std::fmt::Display for TensorOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TensorOrigin::GraphInput => "a graph input, not made by any node",
            TensorOrigin::Initializer => "an initializer, not made by any node",
            TensorOrigin::Nothing => "not made by any node",
        })
    }
}

fn first_producer(first: &Option<String>) -> String {
    match first {
        Some(n) => format!("first by node '{}'", one_line(n)),
        None => "it is a graph input or an initializer".into(),
    }
}

fn node_or_input(node: &Option<String>) -> String {
    match node {
        Some(n) => format!("node '{}'", one_line(n)),
        None => "a graph input".into(),
    }
}

fn boundary_reasons(names: &Option<String>, structure: &Option<String>) -> String {
    match (names, structure) {
        (Some(n), Some(s)) => format!("{}; and by structure: {}", one_line(n), one_line(s)),
        (Some(r), None) | (None, Some(r)) => one_line(r).into_owned(),
        (None, None) => "no way of placing block boundaries was tried".into(),
    }
}

pub type Result<T, E = GraphError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_source_is_chained_not_printed() {
        let e = GraphError::Io { path: "m.onnx".into(), source: std::io::Error::other("gone") };
        assert_eq!(e.to_string(), "cannot read m.onnx");
        assert_eq!(std::error::Error::source(&e).map(|s| s.to_string()).as_deref(), Some("gone"));
    }

    #[test]
    fn a_boundary_no_node_makes_names_the_tensor_not_a_node() {
        let e = GraphError::BoundaryNotMade { block: 2, tensor: "input_ids".into(), origin: TensorOrigin::GraphInput };
        assert_eq!(e.to_string(), "block detection failed at tensor 'input_ids': the output of block 2 is a graph input, not made by any node");
        let e = GraphError::CrossesBoundary { node: "n\nx".into(), tensor: "t".into(), reader: Section::Block(3), maker: Section::Prologue };
        assert_eq!(
            e.to_string(),
            "block detection failed at node 'n\\nx' (tensor 't'): block 3 reads it but it is made in the prologue; only the residual stream and context may cross a block boundary"
        );
    }
}

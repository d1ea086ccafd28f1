//! The token input and the value-dependent part of the graph. A tensor is
//! *value-dependent* when its values depend on the values of the token ids:
//! the embeddings, the residual stream, attention and MLP activations, the
//! logits. `Shape` and `Size` break the dependence (their outputs depend on
//! the stream's shape only), so masks, rotary tables and shape vectors are
//! not value-dependent even when an exporter derives them from the stream.
use foldhash::HashSet;

use crate::error::{GraphError, Result};
use crate::index::{GraphIndex, Source};
use crate::proto::onnx::NodeProto;

/// Ops whose outputs carry only shape information about their inputs.
pub fn is_shape_op(node: &NodeProto) -> bool {
    matches!(node.domain(), "" | "ai.onnx") && matches!(node.op_type(), "Shape" | "Size")
}

/// Finds the graph input holding token ids: `input_ids` when present,
/// otherwise the first graph input used (directly or through a cast or
/// reshape) as the indices of a `Gather` — the embedding lookup.
pub fn token_input<'g>(index: &GraphIndex<'g>) -> Result<&'g str> {
    let graph = index.graph();
    let inputs: Vec<&str> = graph
        .input
        .iter()
        .map(|v| v.name())
        .filter(|n| index.source(n) == Some(Source::GraphInput))
        .collect();
    if let Some(name) = inputs.iter().find(|n| **n == "input_ids") {
        return Ok(name);
    }
    for name in &inputs {
        if feeds_gather_indices(index, name, 3) {
            return Ok(name);
        }
    }
    Err(GraphError::NoBlocks(format!(
        "no token input: no graph input is named 'input_ids' or indexes an embedding Gather (inputs: {})",
        inputs.join(", ")
    )))
}

fn feeds_gather_indices(index: &GraphIndex<'_>, tensor: &str, depth: usize) -> bool {
    index.consumers(tensor).iter().any(|&c| {
        let n = index.node(c);
        match n.op_type() {
            "Gather" => n.input.get(1).map(String::as_str) == Some(tensor),
            "Cast" | "Reshape" | "Unsqueeze" | "Squeeze" | "Identity" if depth > 0 => {
                index.outputs(c).any(|o| feeds_gather_indices(index, o, depth - 1))
            }
            _ => false,
        }
    })
}

/// The value-dependent tensors (the token input included).
pub fn value_dependent<'g>(index: &GraphIndex<'g>, token: &'g str) -> HashSet<&'g str> {
    let mut value: HashSet<&str> = [token].into_iter().collect();
    for &n in index.topo_order() {
        if is_shape_op(index.node(n)) {
            continue;
        }
        if index.inputs(n).iter().any(|t| value.contains(t)) {
            value.extend(index.outputs(n));
        }
    }
    value
}

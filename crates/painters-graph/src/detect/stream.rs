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

/// Ops whose outputs carry only shape information about their inputs (and
/// the casts painters made for shape reads only, see [`crate::casts`]).
pub fn is_shape_op(node: &NodeProto) -> bool {
    matches!(node.domain(), "" | "ai.onnx")
        && (matches!(node.op_type(), "Shape" | "Size")
            || (node.op_type() == "Cast" && node.name().contains(crate::casts::SHAPE_CAST)))
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
    Err(GraphError::NoTokenInput { inputs: inputs.iter().map(|s| s.to_string()).collect() })
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

/// Whether output `out` of `node` can depend on the values of its input
/// `input` (positions). True but for fused ops with outputs computed from
/// some inputs only: `EmbedLayerNormalization`'s mask index (output 1) comes
/// from the attention mask (input 7) alone, not from the token ids.
pub fn output_reads(node: &NodeProto, out: usize, input: usize) -> bool {
    match (node.domain(), node.op_type()) {
        ("com.microsoft", "EmbedLayerNormalization") if out == 1 => input == 7,
        _ => true,
    }
}

/// The value-dependent tensors (the token input included).
pub fn value_dependent<'g>(index: &GraphIndex<'g>, token: &'g str) -> HashSet<&'g str> {
    let mut value: HashSet<&str> = [token].into_iter().collect();
    for &n in index.topo_order() {
        let node = index.node(n);
        if is_shape_op(node) {
            continue;
        }
        let value_inputs: Vec<usize> =
            node.input.iter().enumerate().filter(|(_, t)| value.contains(t.as_str())).map(|(i, _)| i).collect();
        if value_inputs.is_empty() && !index.inputs(n).iter().any(|t| value.contains(t)) {
            continue;
        }
        let subgraph_read = value_inputs.is_empty(); // only through a subgraph: every output
        for (o, name) in node.output.iter().enumerate().filter(|(_, o)| !o.is_empty()) {
            if subgraph_read || value_inputs.iter().any(|&i| output_reads(node, o, i)) {
                value.insert(name.as_str());
            }
        }
    }
    value
}

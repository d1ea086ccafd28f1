//! The ops painters understands on the residual stream. Standard ONNX ops
//! compute what their spec says; of the non-standard ones (ORT contrib ops,
//! `com.microsoft`), only those listed here are known to read the stream as
//! an ordinary op does (every value output depends on every value input, or
//! as `stream::output_reads` says). A node of any other non-standard op that
//! reads or makes a value-dependent tensor (the residual stream and
//! everything computed from it) is refused by name: a layout built through
//! an op whose dataflow painters does not know could be wrong.
use foldhash::HashSet;

use crate::error::{GraphError, Result};
use crate::index::GraphIndex;

/// ORT contrib ops of the transformer optimizer, the genai builder and the
/// ORT quantizers, as they occur in Llama-family and BERT-family graphs.
pub const KNOWN_CONTRIB_OPS: [&str; 22] = [
    "Attention",
    "BiasAdd",
    "BiasGelu",
    "BiasSoftmax",
    "DequantizeLinear",
    "DynamicQuantizeMatMul",
    "EmbedLayerNormalization",
    "FastGelu",
    "FusedMatMul",
    "GatherBlockQuantized",
    "Gelu",
    "GroupQueryAttention",
    "MatMulIntegerToFloat",
    "MatMulNBits",
    "MultiHeadAttention",
    "QuantizeLinear",
    "QuickGelu",
    "RotaryEmbedding",
    "SimplifiedLayerNormalization",
    "SkipLayerNormalization",
    "SkipSimplifiedLayerNormalization",
    "LayerNormalization",
];

fn is_standard(domain: &str) -> bool {
    matches!(domain, "" | "ai.onnx")
}

/// Fails on the first node of an unknown non-standard op that reads or makes a value-dependent tensor.
pub fn check(index: &GraphIndex<'_>, value: &HashSet<&str>) -> Result<()> {
    let on_stream = value;
    for &n in index.topo_order() {
        let node = index.node(n);
        if is_standard(node.domain()) || (node.domain() == "com.microsoft" && KNOWN_CONTRIB_OPS.contains(&node.op_type())) {
            continue;
        }
        let touches = index.inputs(n).iter().copied().chain(index.outputs(n)).find(|t| on_stream.contains(t));
        if let Some(t) = touches {
            return Err(GraphError::UnknownOp {
                node: super::verify::node_label(index, n),
                tensor: t.to_string(),
                domain: node.domain().to_string(),
                op: node.op_type().to_string(),
                known: &KNOWN_CONTRIB_OPS,
            });
        }
    }
    Ok(())
}

//! Casts of graph inputs shared by a shape read and a block, split for
//! detection. fp16 conversions that keep fp32 inputs
//! (`onnxruntime.transformers.float16`, `keep_io_types=True`) put one `Cast`
//! behind each KV-cache input, and the past length the prologue reads
//! (`Shape`) then goes through the same `Cast` as the layer's `Concat`. That
//! cast can belong neither to the prologue (every instance of the block
//! would read slot 0's cache) nor to the block (the prologue reads it). The
//! canonical form gives the shape readers a cast of their own,
//! `{node}/painters.shape_cast`: the same value, so outputs are unchanged.
//! Only casts of KV-cache inputs (`conventions::kv::is_past`) are split; whether every
//! block then has its cache is checked against the inputs (`declared`).
use crate::proto::onnx::GraphProto;

pub use crate::conventions::SHAPE_CAST;

/// Splits every such cast of `graph` in place; returns how many.
pub fn split(graph: &mut GraphProto) -> usize {
    // KV-cache inputs only (other shared casts, e.g. of the attention mask, are context anyway).
    let inputs: foldhash::HashSet<String> =
        graph.input.iter().map(|v| v.name().to_string()).filter(|n| crate::conventions::kv::is_past(n)).collect();
    let mut count = 0;
    let mut i = 0;
    while i < graph.node.len() {
        let n = &graph.node[i];
        let is_input_cast = matches!(n.domain(), "" | "ai.onnx")
            && n.op_type() == "Cast"
            && n.input.len() == 1
            && inputs.contains(&n.input[0])
            && n.output.len() == 1;
        if !is_input_cast {
            i += 1;
            continue;
        }
        let out = n.output[0].clone();
        let readers: Vec<(usize, bool)> = graph
            .node
            .iter()
            .enumerate()
            .filter(|(_, r)| r.input.contains(&out))
            .map(|(j, r)| (j, crate::detect::is_shape_op(r)))
            .collect();
        let shapes = readers.iter().filter(|r| r.1).count();
        if shapes == 0 || shapes == readers.len() {
            i += 1;
            continue;
        }
        let mut cast = n.clone();
        cast.set_name(format!("{}{SHAPE_CAST}", n.name()));
        let new_out = format!("{out}{SHAPE_CAST}");
        cast.output = vec![new_out.clone()];
        for &(j, shape) in &readers {
            if shape {
                for t in graph.node[j].input.iter_mut().filter(|t| **t == out) {
                    t.clone_from(&new_out);
                }
            }
        }
        graph.node.insert(i + 1, cast);
        count += 1;
        i += 2;
    }
    count
}

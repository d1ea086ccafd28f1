//! The scoring form of a decoder: its LM head runs only from position
//! `painters.logits_from` (a new graph input, `[1]` int64) on. A prefill
//! whose score needs the last position's logits alone then skips the head
//! over the rest of the context: 13–17% of a SmolLM2 prefill (BENCHMARKS.md
//! §12). Invariant: with `logits_from = 0` every output is the source
//! graph's, and every output but `logits` is the source graph's for any
//! value; `logits` is the source's from that position on.
//!
//! Applied only where that holds by construction: `logits` is made by a
//! default-domain `MatMul` of the hidden states and a constant matrix (a
//! position-wise product: with `[batch, positions, vocab]` logits, axis 1 of
//! the hidden states is the positions), and the hidden states are sliced on
//! axis 1. The caller still checks the result on a probe before it trusts it
//! (`painters-run`'s `LanguageModel::open`).
use painters_graph::{GraphIndex, Source};
use painters_graph::proto::onnx::{tensor_proto, tensor_shape_proto, type_proto, ModelProto, NodeProto, TensorProto, TypeProto, ValueInfoProto};

/// The graph input of the first position whose logits are computed.
pub const LOGITS_FROM: &str = "painters.logits_from";

/// The scoring form of `model` ([module docs](self)), or `None` where its
/// head is not a `MatMul` of the hidden states by a constant, the opset is
/// older than 13, or the names it adds are taken.
pub fn logits_from(model: &ModelProto) -> Option<ModelProto> {
    let opset = model.opset_import.iter().find(|o| o.domain().is_empty() || o.domain() == "ai.onnx").map(|o| o.version())?;
    if opset < 13 {
        return None;
    }
    let g = model.graph.as_ref()?;
    let index = GraphIndex::new(g).ok()?;
    g.output.iter().find(|o| o.name() == "logits")?;
    let head = index.producer("logits")?;
    let n = &g.node[head];
    // Constant: an initializer, or made by nodes that no graph input reaches.
    let inputs: Vec<&str> = g.input.iter().map(|v| v.name()).collect();
    let from_inputs = index.descendants_of(&inputs);
    let constant = |t: &str| match index.source(t) {
        Some(Source::Initializer) => true,
        Some(Source::Node(i)) => !from_inputs.contains(&i),
        _ => false,
    };
    if n.op_type() != "MatMul" || !n.domain().is_empty() || n.input.len() != 2 || index.source(&n.input[0]) == Some(Source::GraphInput) || !constant(&n.input[1]) {
        return None;
    }
    let names = [LOGITS_FROM.to_string(), format!("{LOGITS_FROM}/end"), format!("{LOGITS_FROM}/axes"), format!("{LOGITS_FROM}/hidden"), format!("{LOGITS_FROM}/Slice")];
    if names.iter().any(|t| index.source(t).is_some() || g.node.iter().any(|n| n.name() == t)) {
        return None;
    }
    let mut m = model.clone();
    let g = m.graph.as_mut()?;
    g.input.push(int64_input(LOGITS_FROM));
    g.initializer.push(int64_tensor(&names[1], i64::MAX));
    g.initializer.push(int64_tensor(&names[2], 1));
    let mut slice = NodeProto::new();
    slice.set_op_type("Slice".into());
    slice.set_name(names[4].clone());
    slice.input = vec![g.node[head].input[0].clone(), LOGITS_FROM.into(), names[1].clone(), names[2].clone()];
    slice.output = vec![names[3].clone()];
    g.node[head].input[0] = names[3].clone();
    g.node.insert(head, slice);
    // The logits' positions are no longer the input's: an open dimension.
    g.value_info.retain(|v| v.name() != "logits");
    for o in g.output.iter_mut().filter(|o| o.name() == "logits") {
        if let Some(type_proto::Value::TensorType(t)) = o.type_.as_mut().and_then(|t| t.value.as_mut()) {
            if let Some(d) = t.shape.as_mut().and_then(|s| s.dim.get_mut(1)) {
                d.value = Some(tensor_shape_proto::dimension::Value::DimParam("painters_logits_positions".into()));
            }
        }
    }
    painters_graph::validate(g).ok()?;
    Some(m)
}

fn int64_input(name: &str) -> ValueInfoProto {
    let mut dim = tensor_shape_proto::Dimension::new();
    dim.value = Some(tensor_shape_proto::dimension::Value::DimValue(1));
    let mut shape = painters_graph::proto::onnx::TensorShapeProto::new();
    shape.dim.push(dim);
    let mut t = type_proto::Tensor::new();
    t.elem_type = Some(tensor_proto::DataType::INT64 as i32);
    t.shape = Some(shape).into();
    let mut ty = TypeProto::new();
    ty.value = Some(type_proto::Value::TensorType(t));
    let mut v = ValueInfoProto::new();
    v.set_name(name.to_string());
    v.type_ = Some(ty).into();
    v
}

fn int64_tensor(name: &str, value: i64) -> TensorProto {
    let mut t = TensorProto::new();
    t.set_name(name.to_string());
    t.set_data_type(tensor_proto::DataType::INT64 as i32);
    t.dims = vec![1];
    t.int64_data = vec![value];
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use painters_graph::testing::{GraphBuilder, F32, I64};

    /// hidden = Gather(embedding, input_ids); logits = MatMul(hidden, head).
    fn toy(head_op: &str, head_b: &str) -> ModelProto {
        GraphBuilder::new()
            .input_unshaped("input_ids", I64)
            .input_unshaped("w", F32)
            .init_f32("emb", &[4, 2], &[0.0; 8])
            .init_f32("head", &[2, 4], &[0.0; 8])
            .node("Gather", &["emb", "input_ids"], &["hidden"])
            .name("gather")
            .node(head_op, &["hidden", head_b], &["logits"])
            .name("head")
            .output_unshaped("logits", F32)
            .model(17)
    }

    #[test]
    fn the_head_reads_the_hidden_states_from_the_given_position_on() {
        let m = logits_from(&toy("MatMul", "head")).expect("a MatMul head by a constant");
        let g = m.graph.as_ref().unwrap();
        assert!(g.input.iter().any(|v| v.name() == LOGITS_FROM));
        let slice = g.node.iter().position(|n| n.op_type() == "Slice").unwrap();
        let head = g.node.iter().position(|n| n.name() == "head").unwrap();
        assert!(slice < head);
        assert_eq!(g.node[slice].input[0], "hidden");
        assert_eq!(g.node[head].input[0], g.node[slice].output[0]);
        assert_eq!(g.node[head].input[1], "head");
    }

    #[test]
    fn other_heads_are_left_alone() {
        assert!(logits_from(&toy("Mul", "head")).is_none(), "not a MatMul");
        assert!(logits_from(&toy("MatMul", "w")).is_none(), "the matrix is an input");
        let mut old = toy("MatMul", "head");
        old.opset_import[0].set_version(11);
        assert!(logits_from(&old).is_none(), "opset 11");
        let twice = logits_from(&toy("MatMul", "head")).unwrap();
        assert!(logits_from(&twice).is_none(), "the names it adds are taken");
    }
}

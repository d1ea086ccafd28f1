//! A piece of a model as a model of its own: some of its nodes, with the
//! tensors they read from elsewhere as graph inputs. A pruning search runs a
//! model piece by piece (the prologue, each block, the epilogue) so that any
//! plan is a chain of pieces opened once (`painters-run`'s `prune::chain`).
use foldhash::{HashSet, HashSetExt};

use crate::error::{GraphError, Result};
use crate::index::node_inputs;
use crate::proto::onnx::{tensor_proto, type_proto, GraphProto, ModelProto, TypeProto, ValueInfoProto};

/// The model of `model`'s nodes `nodes` (in their order) returning
/// `outputs`. A tensor the nodes read is, in this order: an initializer of
/// `model` (shared, not copied), a graph input of `model` (declared as it is
/// there), one of `inputs` (a graph input of element type `elem`, shape
/// left open), or produced by the nodes; anything else is refused. Outputs
/// are declared without a type (ONNX Runtime infers it). Split fused
/// halves that are both inside are joined; nodes the outputs do not need
/// are dropped.
pub fn extract(model: &ModelProto, nodes: &[usize], inputs: &[(String, i32)], outputs: &[String]) -> Result<ModelProto> {
    let src = model.graph.as_ref().ok_or(GraphError::NoGraph)?;
    let mut g = GraphProto::new();
    g.name = src.name.clone();
    for &i in nodes {
        let n = src.node.get(i).ok_or(GraphError::NoSuchNode { index: i })?;
        g.node.push(n.clone());
    }
    let produced: HashSet<&str> = g.node.iter().flat_map(|n| n.output.iter().map(String::as_str)).collect();
    let mut read: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for n in &g.node {
        for t in node_inputs(n) {
            if !produced.contains(t) && seen.insert(t) {
                read.push(t);
            }
        }
    }
    for o in outputs {
        if !produced.contains(o.as_str()) && seen.insert(o.as_str()) {
            read.push(o.as_str());
        }
    }
    let mut graph_inputs = Vec::new();
    let mut inits = Vec::new();
    for t in read {
        if let Some(init) = src.initializer.iter().find(|i| i.name() == t) {
            inits.push(init.clone());
        } else if let Some(v) = src.input.iter().find(|v| v.name() == t) {
            graph_inputs.push(v.clone());
        } else if let Some((_, elem)) = inputs.iter().find(|(n, _)| n == t) {
            graph_inputs.push(tensor_input(t, *elem));
        } else {
            return Err(GraphError::PieceInput { tensor: t.to_string() });
        }
    }
    g.input = graph_inputs;
    g.initializer = inits;
    g.output = outputs
        .iter()
        .map(|o| {
            let mut v = ValueInfoProto::new();
            v.set_name(o.clone());
            v
        })
        .collect();
    g.value_info = src.value_info.iter().filter(|v| produced.contains(v.name())).cloned().collect();
    crate::fused::join(&mut g);
    keep_live(&mut g);
    crate::validate(&g)?;
    let mut m = ModelProto::new();
    m.ir_version = model.ir_version;
    m.opset_import = model.opset_import.clone();
    m.producer_name = model.producer_name.clone();
    m.functions = model.functions.clone();
    m.graph = Some(g).into();
    Ok(m)
}

/// A graph input: a tensor of element type `elem`, shape unknown.
fn tensor_input(name: &str, elem: i32) -> ValueInfoProto {
    let mut t = type_proto::Tensor::new();
    t.elem_type = Some(elem);
    let mut ty = TypeProto::new();
    ty.value = Some(type_proto::Value::TensorType(t));
    let mut v = ValueInfoProto::new();
    v.set_name(name.to_string());
    v.type_ = Some(ty).into();
    v
}

/// ONNX's element type code of float32 (`TensorProto.FLOAT`).
pub const FLOAT: i32 = tensor_proto::DataType::FLOAT as i32;

/// Drops the nodes, initializers, inputs and value infos the outputs do not need.
fn keep_live(g: &mut GraphProto) {
    let mut needed: HashSet<String> = g.output.iter().map(|v| v.name().to_string()).collect();
    let mut keep = vec![false; g.node.len()];
    for (i, n) in g.node.iter().enumerate().rev() {
        if n.output.iter().any(|o| needed.contains(o)) {
            keep[i] = true;
            needed.extend(node_inputs(n).into_iter().map(String::from));
        }
    }
    let nodes = std::mem::take(&mut g.node);
    g.node = nodes.into_iter().zip(keep).filter_map(|(n, k)| k.then_some(n)).collect();
    g.initializer.retain(|t| needed.contains(t.name()));
    g.input.retain(|v| needed.contains(v.name()));
    g.value_info.retain(|v| needed.contains(v.name()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Dim, GraphBuilder, F32};

    /// x → Relu → a → MatMul(w) → b → Neg → y, and a → Sigmoid → unused.
    fn model() -> ModelProto {
        GraphBuilder::new()
            .input("x", F32, &[Dim::Sym("batch"), Dim::N(2)])
            .init_f32("w", &[2, 2], &[1.0, 0.0, 0.0, 1.0])
            .node("Relu", &["x"], &["a"])
            .node("MatMul", &["a", "w"], &["b"])
            .node("Sigmoid", &["a"], &["unused"])
            .node("Neg", &["b"], &["y"])
            .output("y", F32, &[Dim::Sym("batch"), Dim::N(2)])
            .model(17)
    }

    #[test]
    fn a_piece_reads_its_inputs_and_drops_what_its_outputs_do_not_need() {
        let m = model();
        let piece = extract(&m, &[1, 2], &[("a".to_string(), FLOAT)], &["b".to_string()]).unwrap();
        let g = piece.graph.as_ref().unwrap();
        assert_eq!(g.node.iter().map(|n| n.op_type()).collect::<Vec<_>>(), ["MatMul"], "Sigmoid is not needed for b");
        assert_eq!(g.input.iter().map(|v| v.name()).collect::<Vec<_>>(), ["a"]);
        assert_eq!(g.initializer.iter().map(|t| t.name()).collect::<Vec<_>>(), ["w"]);
        assert_eq!(piece.opset_import, m.opset_import);
        // The model's own graph input is declared as it is there.
        let first = extract(&m, &[0], &[], &["a".to_string()]).unwrap();
        assert_eq!(first.graph.as_ref().unwrap().input[0], m.graph.as_ref().unwrap().input[0]);
        // A tensor made outside the piece that is not one of its inputs is refused.
        let err = extract(&m, &[3], &[], &["y".to_string()]).unwrap_err().to_string();
        assert!(err.contains("reads tensor 'b'"), "{err}");
    }
}

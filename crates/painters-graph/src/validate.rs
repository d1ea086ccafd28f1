//! `validate`: the structural invariants every graph painters writes must
//! keep. Called after every emission: each tensor produced once, every input
//! defined before use (the node list is in topological order), every graph
//! output produced, and no dead nodes (a node none of whose outputs is read
//! or returned). One pass over the nodes with two hash sets: it runs on every
//! rewrite, so it builds no full index.
use foldhash::{HashSet, HashSetExt};

use crate::error::{GraphError, Result};
use crate::index::node_inputs;
use crate::proto::onnx::GraphProto;

/// Checks `graph` and returns the first violation, naming node and tensor.
pub fn validate(graph: &GraphProto) -> Result<()> {
    check(graph, true)
}

/// The same checks for a model painters is given, which may hold dead
/// nodes (exporters leave some): every input defined before use, one
/// producer per tensor, every graph output produced. Every command reads a
/// model through this (after sorting it topologically; see
/// `OnnxModel::canonicalize`), so they agree on what a valid input is.
pub fn validate_input(graph: &GraphProto) -> Result<()> {
    check(graph, false)
}

fn check(graph: &GraphProto, no_dead_nodes: bool) -> Result<()> {
    let names = graph.input.len() + graph.initializer.len() + graph.node.len() * 2;
    let mut defined: HashSet<&str> = HashSet::with_capacity(names);
    let mut read: HashSet<&str> = HashSet::with_capacity(names);
    defined.extend(graph.input.iter().map(|v| v.name()));
    defined.extend(graph.initializer.iter().map(|t| t.name()));
    for (k, node) in graph.node.iter().enumerate() {
        for t in node_inputs(node) {
            if !defined.contains(t) {
                let (node, tensor) = (node.name().to_string(), t.to_string());
                return Err(match graph.node.iter().find(|n| n.output.iter().any(|o| o == t)) {
                    Some(p) => GraphError::OutOfOrder { node, tensor, producer: p.name().to_string() },
                    None => GraphError::UndefinedInput { node, tensor },
                });
            }
            read.insert(t);
        }
        for o in node.output.iter().filter(|o| !o.is_empty()) {
            if !defined.insert(o.as_str()) {
                // An earlier node (or this one, listing it twice); none: a graph input or initializer.
                let twice = node.output.iter().filter(|p| *p == o).count() > 1;
                let first = graph.node[..k].iter().find(|n| n.output.contains(o)).or(twice.then_some(node)).map(|n| n.name().to_string());
                return Err(GraphError::DuplicateProducer { tensor: o.clone(), first, second: node.name().to_string() });
            }
        }
    }
    for v in &graph.output {
        if !defined.contains(v.name()) {
            return Err(GraphError::UnproducedOutput { output: v.name().to_string() });
        }
        read.insert(v.name());
    }
    for node in graph.node.iter().filter(|_| no_dead_nodes) {
        if !node.output.iter().any(|o| !o.is_empty() && read.contains(o.as_str())) {
            return Err(GraphError::DeadNode { node: node.name().to_string(), op: node.op_type().to_string() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;
    use crate::proto::onnx::{GraphProto, NodeProto, ValueInfoProto};

    fn node(name: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
        let mut n = NodeProto::new();
        n.set_name(name.to_string());
        n.set_op_type("Relu".to_string());
        n.input = inputs.iter().map(|s| s.to_string()).collect();
        n.output = outputs.iter().map(|s| s.to_string()).collect();
        n
    }

    fn graph(nodes: Vec<NodeProto>, output: &str) -> GraphProto {
        let value = |name: &str| {
            let mut v = ValueInfoProto::new();
            v.set_name(name.to_string());
            v
        };
        let mut g = GraphProto::new();
        g.input = vec![value("x")];
        g.output = vec![value(output)];
        g.node = nodes;
        g
    }

    #[test]
    fn violations_carry_their_names_as_data() {
        use crate::GraphError;
        let g = graph(vec![node("b", &["y"], &["z"]), node("a", &["x"], &["y"])], "z");
        assert!(matches!(validate(&g), Err(GraphError::OutOfOrder { node, tensor, producer }) if node == "b" && tensor == "y" && producer == "a"));
        let g = graph(vec![node("a", &["x"], &["y"]), node("b", &["y"], &["y"])], "y");
        assert!(matches!(validate(&g), Err(GraphError::DuplicateProducer { tensor, first: Some(first), second }) if tensor == "y" && first == "a" && second == "b"));
        let g = graph(vec![node("a", &["x"], &["y"]), node("b", &["x"], &["z"])], "z");
        assert!(matches!(validate(&g), Err(GraphError::DeadNode { node, op }) if node == "a" && op == "Relu"));
    }

    fn error(g: &GraphProto) -> String {
        validate(g).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn a_chain_is_valid() {
        assert!(validate(&graph(vec![node("a", &["x"], &["y"]), node("b", &["y"], &["z"])], "z")).is_ok());
    }

    #[test]
    fn each_violation_names_node_and_tensor() {
        let g = graph(vec![node("b", &["y"], &["z"]), node("a", &["x"], &["y"])], "z");
        assert!(error(&g).contains("node 'b' reads tensor 'y' but it is produced later, by node 'a'"), "{}", error(&g));
        let g = graph(vec![node("a", &["w"], &["z"])], "z");
        assert!(error(&g).contains("node 'a' reads tensor 'w' but nothing produces it"), "{}", error(&g));
        let g = graph(vec![node("a", &["x"], &["y"]), node("b", &["y"], &["y"])], "y");
        assert!(error(&g).contains("tensor 'y' is produced more than once (first by node 'a', again by node 'b')"), "{}", error(&g));
        let g = graph(vec![node("a", &["x"], &["x"])], "x");
        assert!(error(&g).contains("tensor 'x' is produced more than once (it is a graph input or an initializer, again by node 'a')"), "{}", error(&g));
        let g = graph(vec![node("a", &["x"], &["y"])], "q");
        assert!(error(&g).contains("graph output 'q' is not produced"), "{}", error(&g));
        let g = graph(vec![node("a", &["x"], &["y"]), node("b", &["x"], &["z"])], "z");
        assert!(error(&g).contains("node 'a' (Relu) is dead"), "{}", error(&g));
    }
}

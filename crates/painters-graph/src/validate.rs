//! `validate`: the structural invariants every graph painters writes must
//! keep. Called after every emission: each tensor produced once, every input
//! defined before use (the node list is in topological order), every graph
//! output produced, and no dead nodes (a node none of whose outputs is read
//! or returned).
use std::collections::HashSet;

use crate::error::{GraphError, Result};
use crate::index::{GraphIndex, Source};
use crate::proto::onnx::GraphProto;

/// Checks `graph` and returns the first violation, naming node and tensor.
pub fn validate(graph: &GraphProto) -> Result<()> {
    let index = GraphIndex::new(graph)?;
    if let Some((t, n)) = index.duplicate_producers().first() {
        return Err(GraphError::Invalid(format!(
            "tensor '{t}' is produced more than once (again by node '{}')",
            graph.node[*n].name()
        )));
    }
    let mut defined: HashSet<&str> = graph.input.iter().map(|v| v.name()).collect();
    defined.extend(graph.initializer.iter().map(|t| t.name()));
    for (i, node) in graph.node.iter().enumerate() {
        for t in index.inputs(i) {
            if !defined.contains(t) {
                let why = match index.source(t) {
                    Some(Source::Node(p)) => format!("it is produced later, by node '{}' (not in topological order)", graph.node[p].name()),
                    _ => "nothing produces it".to_string(),
                };
                return Err(GraphError::Invalid(format!("node '{}' reads tensor '{t}' but {why}", node.name())));
            }
        }
        defined.extend(index.outputs(i));
    }
    let returned: HashSet<&str> = graph.output.iter().map(|v| v.name()).collect();
    for v in &graph.output {
        if !defined.contains(v.name()) {
            return Err(GraphError::Invalid(format!("graph output '{}' is not produced", v.name())));
        }
    }
    for (i, node) in graph.node.iter().enumerate() {
        let used = index.outputs(i).any(|o| returned.contains(o) || !index.consumers(o).is_empty());
        if !used {
            return Err(GraphError::Invalid(format!(
                "node '{}' ({}) is dead: none of its outputs is read or returned",
                node.name(),
                node.op_type()
            )));
        }
    }
    Ok(())
}

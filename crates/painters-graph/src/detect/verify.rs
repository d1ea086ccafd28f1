//! Detection checks its own result: every block is single-entry and
//! single-exit on the residual stream, and nothing else crosses a boundary
//! except context (prologue tensors that depend only on graph inputs) and
//! the KV cache (graph inputs and outputs). A failure names node and tensor.
use foldhash::HashSet;

use super::sections::{section, Level};
use crate::error::{GraphError, Result, TensorOrigin};
use crate::index::{GraphIndex, Source};

/// Checks levels against the boundaries `bounds` (b_0 … b_T).
pub fn check(index: &GraphIndex<'_>, value: &HashSet<&str>, bounds: &[&str], level: &[Level]) -> Result<()> {
    let t_blocks = bounds.len() - 1;
    for (i, b) in bounds.iter().enumerate().skip(1) {
        let block = i - 1;
        match index.source(b) {
            Some(Source::Node(p)) if level[p] == block as Level => {}
            Some(Source::Node(p)) => {
                return Err(GraphError::BoundaryElsewhere {
                    block,
                    node: node_label(index, p),
                    tensor: b.to_string(),
                    section: section(level[p], t_blocks),
                })
            }
            other => return Err(GraphError::BoundaryNotMade { block, tensor: b.to_string(), origin: origin(other) }),
        }
    }
    for &n in index.topo_order() {
        let l = level[n];
        for &t in index.inputs(n) {
            let Some(Source::Node(p)) = index.source(t) else { continue };
            let lp = level[p];
            if lp == l {
                continue;
            }
            if lp == -1 && !value.contains(t) {
                continue; // context
            }
            if l >= 0 && (l as usize) < bounds.len() && bounds[l as usize] == t && lp == l - 1 {
                continue; // the residual input
            }
            return Err(GraphError::CrossesBoundary {
                node: node_label(index, n),
                tensor: t.to_string(),
                reader: section(l, t_blocks),
                maker: section(lp, t_blocks),
            });
        }
    }
    let outputs: HashSet<&str> = index.graph().output.iter().map(|v| v.name()).collect();
    for (i, b) in bounds.iter().enumerate().take(t_blocks) {
        if outputs.contains(b) {
            return Err(GraphError::HiddenStatesOutput { block: i, node: index.producer(b).map(|p| node_label(index, p)), tensor: b.to_string() });
        }
    }
    Ok(())
}

/// What defines a tensor no node makes.
fn origin(source: Option<Source>) -> TensorOrigin {
    match source {
        Some(Source::GraphInput) => TensorOrigin::GraphInput,
        Some(Source::Initializer) => TensorOrigin::Initializer,
        Some(Source::Node(_)) | None => TensorOrigin::Nothing,
    }
}

/// A node's name, or its op and position when it has none.
pub fn node_label(index: &GraphIndex<'_>, n: usize) -> String {
    let node = index.node(n);
    if node.name().is_empty() {
        format!("#{n} {}", node.op_type())
    } else {
        node.name().to_string()
    }
}

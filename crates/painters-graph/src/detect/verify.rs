//! Detection checks its own result: every block is single-entry and
//! single-exit on the residual stream, and nothing else crosses a boundary
//! except context (prologue tensors that depend only on graph inputs) and
//! the KV cache (graph inputs and outputs). A failure names node and tensor.
use foldhash::HashSet;

use super::sections::{describe, Level};
use crate::error::{GraphError, Result};
use crate::index::{GraphIndex, Source};

/// Checks levels against the boundaries `bounds` (b_0 … b_T).
pub fn check(index: &GraphIndex<'_>, value: &HashSet<&str>, bounds: &[&str], level: &[Level]) -> Result<()> {
    let t_blocks = bounds.len() - 1;
    let fail = |node: usize, tensor: &str, reason: String| GraphError::Detection {
        node: node_label(index, node),
        tensor: tensor.to_string(),
        reason,
    };
    for (i, b) in bounds.iter().enumerate().skip(1) {
        match index.producer(b) {
            Some(p) if level[p] == i as Level - 1 => {}
            Some(p) => {
                return Err(fail(p, b, format!("the output of block {} is made in {}", i - 1, describe(level[p], t_blocks))))
            }
            None => return Err(fail(0, b, format!("the output of block {} is not made by any node", i - 1))),
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
            return Err(fail(
                n,
                t,
                format!(
                    "{} reads it but it is made in {}; only the residual stream and context may cross a block boundary",
                    describe(l, t_blocks),
                    describe(lp, t_blocks)
                ),
            ));
        }
    }
    let outputs: HashSet<&str> = index.graph().output.iter().map(|v| v.name()).collect();
    for (i, b) in bounds.iter().enumerate().take(t_blocks) {
        if outputs.contains(b) {
            let p = index.producer(b).unwrap_or(0);
            return Err(fail(
                p,
                b,
                format!("the input of block {i} is a graph output (hidden states); export without output_hidden_states"),
            ));
        }
    }
    Ok(())
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

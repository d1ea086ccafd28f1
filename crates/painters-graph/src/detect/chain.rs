//! The residual chain: the tensors every value path from the token input to
//! the main output passes through (its dominators in the value-dependent
//! dataflow graph). In a pre-norm decoder these are the embeddings, each
//! residual `Add` (two per layer) and the epilogue; in a post-norm encoder,
//! each `LayerNormalization` output and its inputs. Block boundaries are a
//! subsequence of this chain.
use foldhash::{HashMap, HashMapExt, HashSet};

use petgraph::algo::dominators::simple_fast;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::error::{GraphError, Result};
use crate::index::GraphIndex;

/// The dominator chain (token input first) of the main output: the
/// value-dependent graph output with the most value-dependent ancestors
/// (`logits`, `last_hidden_state`; not a `present.*` KV output, whose
/// dominator chain can be longer but stops inside the last layer).
pub fn residual_chain<'g>(
    index: &GraphIndex<'g>,
    token: &'g str,
    value: &HashSet<&'g str>,
) -> Result<Vec<&'g str>> {
    let mut ids: HashMap<&str, NodeIndex> = HashMap::new();
    let mut names: Vec<&str> = Vec::new();
    let mut dag: DiGraph<(), ()> = DiGraph::new();
    let mut id_of = |t: &'g str, dag: &mut DiGraph<(), ()>| {
        *ids.entry(t).or_insert_with(|| {
            names.push(t);
            dag.add_node(())
        })
    };
    let root = id_of(token, &mut dag);
    for &n in index.topo_order() {
        if super::stream::is_shape_op(index.node(n)) {
            continue;
        }
        let node = index.node(n);
        let ins: Vec<&str> = index.inputs(n).iter().copied().filter(|t| value.contains(t)).collect();
        if ins.is_empty() {
            continue;
        }
        for (oi, o) in node.output.iter().enumerate().filter(|(_, o)| value.contains(o.as_str())) {
            let o_id = id_of(o, &mut dag);
            for &i in &ins {
                // positions of `i` among the node's direct inputs (none: read by a subgraph)
                let mut at = node.input.iter().enumerate().filter(|(_, t)| t.as_str() == i).map(|(p, _)| p).peekable();
                if at.peek().is_some() && !at.any(|p| super::stream::output_reads(node, oi, p)) {
                    continue;
                }
                let i_id = id_of(i, &mut dag);
                dag.add_edge(i_id, o_id, ());
            }
        }
    }
    let doms = simple_fast(&dag, root);
    let mut main: Option<(usize, NodeIndex)> = None;
    for out in &index.graph().output {
        let Some(&id) = ids.get(out.name()) else { continue };
        let mut dfs = petgraph::visit::Dfs::new(petgraph::visit::Reversed(&dag), id);
        let mut ancestors = 0usize;
        while dfs.next(petgraph::visit::Reversed(&dag)).is_some() {
            ancestors += 1;
        }
        if main.is_none_or(|(best, _)| ancestors > best) {
            main = Some((ancestors, id));
        }
    }
    let mut best: Vec<&str> = Vec::new();
    if let Some(iter) = main.and_then(|(_, id)| doms.dominators(id)) {
        best = iter.map(|d| names[d.index()]).collect();
        best.reverse();
    }
    if best.len() < 3 {
        return Err(GraphError::NoLayerChain { token: token.to_string() });
    }
    Ok(best)
}

//! Assigning every node to the prologue, a block or the epilogue.
//! - A value-dependent node goes to the block of the last boundary it
//!   depends on (before b_0: prologue; after b_T: epilogue).
//! - Any other node is context: it goes as early as its inputs allow (a
//!   node reading only graph inputs, initializers and other context goes to
//!   the prologue, whatever its name says — real exports compute rotary
//!   tables and masks inside layer 0 for every layer). Shape reads count:
//!   `Shape(x)` is placed no earlier than `x`'s producer.
//! - Then context whose readers all sit in one later section moves there
//!   (a layer's own constants and shape arithmetic stay with the layer),
//!   unless it reads a value tensor that section may not read (a shape
//!   read of the embeddings stays in the prologue).
use foldhash::{HashMap, HashSet};

use crate::index::{GraphIndex, Source};
use crate::layout::Section;

/// Level of a section: -1 prologue, i block i, T epilogue.
pub type Level = isize;

/// The level of every node (indexed by node id).
pub fn assign(index: &GraphIndex<'_>, value: &HashSet<&str>, bounds: &[&str]) -> Vec<Level> {
    let bound_of: HashMap<&str, Level> = bounds.iter().enumerate().map(|(i, t)| (*t, i as Level)).collect();
    let mut level: Vec<Level> = vec![-1; index.len()];
    let mut is_value = vec![false; index.len()];
    let producer_level = |t: &str, level: &[Level]| match index.source(t) {
        Some(Source::Node(p)) => level[p],
        _ => -1,
    };
    for &n in index.topo_order() {
        let node = index.node(n);
        let value_node = !super::stream::is_shape_op(node) && index.inputs(n).iter().any(|t| value.contains(t));
        is_value[n] = value_node;
        let mut lv: Level = -1;
        for &t in index.inputs(n) {
            let l = if value_node && value.contains(t) {
                bound_of.get(t).copied().unwrap_or_else(|| producer_level(t, &level))
            } else {
                producer_level(t, &level)
            };
            lv = lv.max(l);
        }
        level[n] = lv;
    }
    // Pull context down to its only reader section.
    let graph_outputs: HashSet<&str> = index.graph().output.iter().map(|v| v.name()).collect();
    for &n in index.topo_order().iter().rev() {
        if is_value[n] {
            continue;
        }
        let mut readers: Option<Level> = None;
        let mut single = true;
        for o in index.outputs(n) {
            if graph_outputs.contains(o) {
                single = false;
            }
            for &c in index.consumers(o) {
                match readers {
                    None => readers = Some(level[c]),
                    Some(r) if r != level[c] => single = false,
                    _ => {}
                }
            }
        }
        if let (true, Some(r)) = (single, readers) {
            if r > level[n] && may_read_from(index, value, bounds, &level, n, r) {
                level[n] = r;
            }
        }
    }
    level
}

/// Whether node `n` (context) can sit at level `r` and still read every
/// value-dependent input as a block may: made at `r`, or `r`'s residual
/// input. Only shape ops read value tensors as context: a shape read of a
/// value tensor made earlier (the embeddings' `Shape` in a one-block Gemma)
/// stays where that tensor is readable. (Context inputs need no check: their
/// makers follow their readers down, being visited later.)
fn may_read_from(index: &GraphIndex<'_>, value: &HashSet<&str>, bounds: &[&str], level: &[Level], n: usize, r: Level) -> bool {
    index.inputs(n).iter().filter(|t| value.contains(*t)).all(|&t| match index.source(t) {
        Some(Source::Node(p)) => level[p] == r || (bounds.get(r as usize) == Some(&t) && level[p] == r - 1),
        _ => true,
    })
}

/// The section a level stands for, given T blocks.
pub fn section(level: Level, num_blocks: usize) -> Section {
    if level < 0 {
        Section::Prologue
    } else if level as usize >= num_blocks {
        Section::Epilogue
    } else {
        Section::Block(level as usize)
    }
}


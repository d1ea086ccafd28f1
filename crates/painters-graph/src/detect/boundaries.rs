//! Placing block boundaries on the residual chain. Two independent ways:
//! by names (the last chain tensor made in layer i is the output of block
//! i), and by structure (the chain is cut into atoms, one per chain step; the
//! longest run of a repeating atom pattern is the block sequence). Names are
//! used when they are present and consistent; structure otherwise.
use foldhash::{HashMap, HashMapExt, HashSet};

use crate::error::{GraphError, Result};
use crate::index::GraphIndex;
use crate::layout::DetectionMethod;
use crate::names::{node_layer, NamingStyle};

/// Chain positions of b_0 … b_T (b_i = input of block i, b_T = output of
/// the last block) and how they were found.
pub fn find(
    index: &GraphIndex<'_>,
    value: &HashSet<&str>,
    chain: &[&str],
    naming: NamingStyle,
) -> Result<(Vec<usize>, DetectionMethod)> {
    let by_names = if naming == NamingStyle::Anonymous { Err("the graph has no layer names".to_string()) } else { by_names(index, chain) };
    match by_names {
        Ok(b) => Ok((b, DetectionMethod::Names)),
        Err(name_reason) => match by_structure(index, value, chain) {
            Ok(b) => Ok((b, DetectionMethod::Structure)),
            Err(structure_reason) => {
                Err(GraphError::NoBoundaries { names: Some(name_reason), structure: Some(structure_reason) })
            }
        },
    }
}

/// Boundaries from the layer index of each chain tensor's producer: each
/// maximal run of one index along the chain is a block, ending at the last
/// tensor of the run. Indices need not start at 0 or increase, so a graph
/// painters rewrote (blocks skipped, reordered, repeated) is read back too:
/// a later instance of a block (node names suffixed `__k`) is a run of its
/// own even right after the first, and the `Mean` of a parallel group
/// (`painters.mean.*`) ends a block made of the whole group.
pub fn by_names(index: &GraphIndex<'_>, chain: &[&str]) -> Result<Vec<usize>, String> {
    let labels: Vec<Option<Label>> = chain.iter().map(|t| index.producer(t).and_then(|p| label(index, p, 0))).collect();
    let Some(first) = labels.iter().position(Option::is_some) else {
        return Err("no node on the residual chain carries a layer index in its name".into());
    };
    if first == 0 {
        return Err("a layer makes the token input".into());
    }
    let mut bounds = vec![first - 1];
    let mut run: Option<(Label, usize)> = None; // (label, last position)
    for (pos, l) in labels.iter().enumerate().skip(first) {
        let Some(l) = l.clone() else { continue };
        match run {
            Some((ref cur, _)) if *cur == l => run = Some((l, pos)),
            Some((_, last)) => {
                bounds.push(last);
                run = Some((l, pos));
            }
            None => run = Some((l, pos)),
        }
    }
    if let Some((_, last)) = run {
        bounds.push(last);
    }
    Ok(bounds)
}

/// What places a chain tensor's producer in a block instance.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Label {
    /// Layer index and painters' copy suffix (`__1`, `__2_1`, …; empty
    /// without; of a split node's name, the suffixes on both sides of the
    /// split marker, in order).
    Layer(usize, String),
    /// The `Mean` node closing a parallel group (`painters.mean.3`, `painters.mean.3__1`).
    Mean(String),
}

/// The label of node `n`. The halves of a split fused node (see
/// [`crate::fused`]) are placed by what they compute: the add ends the block
/// instance of the sub-layer it adds (the producer of the input that is not
/// the residual: not another split half, nor a parallel group's `Mean`); the norm belongs to that
/// instance too (post-LN: BERT's `SkipLayerNormalization`), unless the fused
/// node's own name (layer index and copy suffix) places it in another
/// instance — then it is the next block's input norm (pre-LN: the genai
/// builder names the node `layers.{i+1}/input_layernorm`) or the final norm
/// (`layers.{T}/final_norm`), and carries no label of its own.
fn label(index: &GraphIndex<'_>, n: usize, depth: usize) -> Option<Label> {
    let node = index.node(n);
    let name = node.name();
    if crate::conventions::is_mean(name) {
        return Some(Label::Mean(name.to_string()));
    }
    let upstream = |depth: usize| {
        let first = node.input.first()?;
        let p = index.producer(first)?;
        (depth < 16).then(|| label(index, p, depth + 1)).flatten()
    };
    if crate::fused::is_split_add(node) {
        // The sub-layer's output, not the residual: the residual is made by another split
        // add (pre-LN), a split norm (post-LN), a parallel group's `Mean`, or the embeddings
        // (no label).
        let residual = |p: usize| {
            let n = index.node(p);
            crate::fused::is_split_add(n) || crate::fused::is_split_norm(n) || crate::conventions::is_mean(n.name())
        };
        let producers: Vec<usize> = node.input.iter().filter_map(|t| index.producer(t)).collect();
        if depth >= 16 {
            return None;
        }
        // the sub-layer's instance (the fused node may be named for the next one)
        return producers
            .iter()
            .filter(|&&p| !residual(p))
            .chain(producers.iter().filter(|&&p| residual(p)))
            .find_map(|&p| label(index, p, depth + 1));
    }
    let own = node_layer(node).or_else(|| index.outputs(n).find_map(crate::names::layer_in));
    if crate::fused::is_split_norm(node) {
        let own = own.map(|l| Label::Layer(l, split_suffix(name, crate::fused::SPLIT_NORM)));
        return match (own, upstream(depth)) {
            (Some(o), Some(up)) if o != up => None,
            (_, up) => up,
        };
    }
    own.map(|l| Label::Layer(l, copy_suffix(name).to_string()))
}

/// The copy suffix of a split node's name `{base}{marker}{suffix}`: the
/// base's suffix (a rewrite being split) followed by the one after the marker.
fn split_suffix(name: &str, marker: &str) -> String {
    match name.split_once(marker) {
        Some((base, rest)) => format!("{}{}", copy_suffix(base), copy_suffix(rest)),
        None => copy_suffix(name).to_string(),
    }
}

pub use crate::conventions::copy_suffix;

/// Boundaries from the repeating pattern of chain atoms.
pub fn by_structure(index: &GraphIndex<'_>, value: &HashSet<&str>, chain: &[&str]) -> Result<Vec<usize>, String> {
    let pos: HashMap<&str, usize> = chain.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    // Level of a tensor: the last chain position it depends on.
    let mut level: HashMap<&str, usize> = HashMap::new();
    let atoms = chain.len() - 1;
    let mut ops: Vec<Vec<String>> = vec![Vec::new(); atoms];
    for &n in index.topo_order() {
        let node = index.node(n);
        if super::stream::is_shape_op(node) {
            continue;
        }
        let lv = index
            .inputs(n)
            .iter()
            .filter(|t| value.contains(*t))
            .map(|t| pos.get(t).copied().or_else(|| level.get(t).copied()).unwrap_or(0))
            .max();
        let Some(lv) = lv else { continue };
        if lv < atoms {
            ops[lv].push(format!("{}:{}", node.domain(), node.op_type()));
        }
        for o in index.outputs(n) {
            level.insert(o, lv);
        }
    }
    let mut ids: HashMap<String, usize> = HashMap::new();
    let sig: Vec<usize> = ops
        .into_iter()
        .map(|mut v| {
            v.sort();
            let next = ids.len();
            *ids.entry(v.join(",")).or_insert(next)
        })
        .collect();
    let ends_on_residual_op = |start: usize, period: usize, count: usize| {
        (1..=count).all(|i| {
            let op = index.producer(chain[start + i * period]).map(|p| index.node(p).op_type()).unwrap_or("");
            is_residual_op(op)
        })
    };
    let (start, period, count) =
        best_repeat(&sig, ends_on_residual_op).ok_or_else(|| "the residual chain has no repeating pattern of layers".to_string())?;
    Ok((0..=count).map(|i| start + i * period).collect())
}

/// The longest run `sig[s .. s + p*t]` made of `t ≥ 2` copies of one
/// pattern of length `p`: maximal coverage `p*t`, then the shortest period;
/// among the starts left, those where `good_end(start, p, t)` holds (the block
/// outputs are made by residual ops), then the latest start (so a post-norm
/// block ends on its norm).
pub fn best_repeat(sig: &[usize], good_end: impl Fn(usize, usize, usize) -> bool) -> Option<(usize, usize, usize)> {
    let n = sig.len();
    type Key = (usize, std::cmp::Reverse<usize>, bool, usize);
    let mut best: Option<(Key, (usize, usize, usize))> = None;
    for p in 1..=n / 2 {
        let mut k = 0;
        while k + p < n {
            if sig[k] != sig[k + p] {
                k += 1;
                continue;
            }
            let a = k;
            while k + p < n && sig[k] == sig[k + p] {
                k += 1;
            }
            let r = k - a;
            let t = r / p + 1;
            if t < 2 {
                continue;
            }
            for s in a..=a + r % p {
                let key = (p * t, std::cmp::Reverse(p), good_end(s, p, t), s);
                if best.as_ref().is_none_or(|(b, _)| key > *b) {
                    best = Some((key, (s, p, t)));
                }
            }
        }
    }
    best.map(|(_, v)| v)
}

/// Ops that end a residual step: the `Add` of a pre-norm residual, or the
/// normalization of a post-norm one.
fn is_residual_op(op: &str) -> bool {
    matches!(
        op,
        "Add" | "Sum" | "LayerNormalization" | "SimplifiedLayerNormalization" | "SkipLayerNormalization"
            | "SkipSimplifiedLayerNormalization" | "RMSNormalization"
    )
}

#[cfg(test)]
mod tests {
    use super::best_repeat;

    #[test]
    fn finds_pre_norm_layers() {
        // prologue P, 4 layers of (attention A, mlp M), epilogue E E
        let (p, a, m, e) = (0, 1, 2, 3);
        let sig = [p, a, m, a, m, a, m, a, m, e, e];
        assert_eq!(best_repeat(&sig, |_, _, _| true), Some((1, 2, 4)));
    }

    #[test]
    fn post_norm_blocks_end_on_their_norm() {
        // embeddings G, norm N, 3 layers of (attention A, N, ffn F, N)
        let (g, n, a, f) = (0, 1, 2, 3);
        let sig = [g, n, a, n, f, n, a, n, f, n, a, n, f, n];
        assert_eq!(best_repeat(&sig, |_, _, _| true), Some((2, 4, 3)));
    }

    #[test]
    fn prefers_the_primitive_period() {
        let sig = [9, 1, 2, 1, 2, 1, 2, 1, 2];
        assert_eq!(best_repeat(&sig, |_, _, _| true), Some((1, 2, 4)));
    }

    #[test]
    fn nothing_repeats() {
        assert_eq!(best_repeat(&[0, 1, 2, 3], |_, _, _| true), None);
        assert_eq!(best_repeat(&[], |_, _, _| true), None);
    }

    #[test]
    fn residual_ends_break_phase_ties() {
        // a cast C before each sub-layer: C A C M; blocks must end on M's Add
        let (g, c, a, m) = (0, 1, 2, 3);
        let sig = [g, c, a, c, m, c, a, c, m, c, 7];
        assert_eq!(best_repeat(&sig, |_, _, _| true), Some((2, 4, 2)));
        assert_eq!(best_repeat(&sig, |s, _, _| s == 1), Some((1, 4, 2)));
    }
}

//! Fused residual nodes, split for detection and joined again on the way out.
//!
//! Deployment graphs fuse the residual add with the normalization that
//! follows it: `SkipSimplifiedLayerNormalization` (onnxruntime-genai builder,
//! pre-LN: the add ending block i and the input norm of block i+1 are one
//! node, whose output 3 is the residual and output 0 the normed input) and
//! `SkipLayerNormalization` (ORT transformer optimizer, post-LN BERT: the add
//! and the norm ending a sub-layer). A block boundary can fall *inside* such
//! a node, so the canonical form painters detects and rewrites has each of
//! them split into its exact unfused equivalent:
//!
//! ```text
//! Skip*(input, skip, gamma[, beta][, bias])  →  Add(input, skip)            (or Sum(input, skip, bias))
//!                                               *Normalization(sum, gamma[, beta], axis=-1, epsilon)
//! ```
//!
//! named `{node}/painters.split.add` and `{node}/painters.split.norm`; the sum
//! keeps the name of output 3 (or gets `{node}/painters.split.sum`), the norm
//! keeps output 0. [`join`] is the inverse: every split norm whose input is
//! made by a split add becomes one fused node again, named after the norm's
//! node. On a graph nothing moved (the identity plan) that restores every
//! fused node exactly; where a plan made a split add feed another block's
//! norm, the pair fuses into the node of that norm (the same computation);
//! where nothing fits (a parallel group's `Mean` feeds the norm), the split
//! stays: an `Add` and a standard normalization, the same computation
//! unfused. Invariants: [`split`] refuses a fused node whose mean or
//! inverse-std outputs are read (they have no unfused equivalent here), and
//! changes nothing else.
use crate::error::{GraphError, Result};
use crate::proto::onnx::{attribute_proto::AttributeType, AttributeProto, GraphProto, NodeProto};

pub use crate::conventions::{SPLIT_ADD, SPLIT_NORM, SPLIT_SUM};

const MS: &str = "com.microsoft";
/// Default epsilon of both fused ops (ORT contrib spec).
const SKIP_EPSILON: f32 = 1e-12;

/// The fused residual ops and their unfused normalization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `SkipSimplifiedLayerNormalization` ↔ `SimplifiedLayerNormalization` (RMS norm).
    Simplified,
    /// `SkipLayerNormalization` ↔ `LayerNormalization`.
    Layer,
}

impl Kind {
    fn of_fused(n: &NodeProto) -> Option<Self> {
        if n.domain() != MS {
            return None;
        }
        match n.op_type() {
            "SkipSimplifiedLayerNormalization" => Some(Self::Simplified),
            "SkipLayerNormalization" => Some(Self::Layer),
            _ => None,
        }
    }

    fn of_norm(n: &NodeProto) -> Option<Self> {
        if !matches!(n.domain(), "" | "ai.onnx") {
            return None;
        }
        match n.op_type() {
            "SimplifiedLayerNormalization" => Some(Self::Simplified),
            "LayerNormalization" => Some(Self::Layer),
            _ => None,
        }
    }

    fn fused_op(self) -> &'static str {
        match self {
            Self::Simplified => "SkipSimplifiedLayerNormalization",
            Self::Layer => "SkipLayerNormalization",
        }
    }

    fn norm_op(self) -> &'static str {
        match self {
            Self::Simplified => "SimplifiedLayerNormalization",
            Self::Layer => "LayerNormalization",
        }
    }

    /// Input positions of (gamma, beta, bias) in the fused op.
    fn params(self) -> (usize, Option<usize>, usize) {
        match self {
            Self::Simplified => (2, None, 3),
            Self::Layer => (2, Some(3), 4),
        }
    }
}

/// Whether a node is a fused residual node that [`split`] splits.
pub fn is_fused(n: &NodeProto) -> bool {
    Kind::of_fused(n).is_some()
}

/// Whether a node is the add half of a split fused node.
pub fn is_split_add(n: &NodeProto) -> bool {
    base_name(n.name(), SPLIT_ADD).is_some()
}

/// Whether a node is the normalization half of a split fused node.
pub fn is_split_norm(n: &NodeProto) -> bool {
    base_name(n.name(), SPLIT_NORM).is_some()
}

/// The fused node's name a split half came from, with painters' copy
/// suffix kept (`X/painters.split.norm__2` → `X__2`).
fn base_name(name: &str, marker: &str) -> Option<String> {
    let at = name.find(marker)?;
    Some(format!("{}{}", &name[..at], &name[at + marker.len()..]))
}

/// Splits every fused residual node of `graph` in place; returns how many.
pub fn split(graph: &mut GraphProto) -> Result<usize> {
    if !graph.node.iter().any(|n| Kind::of_fused(n).is_some()) {
        return Ok(0);
    }
    let read: foldhash::HashSet<&str> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().map(String::as_str))
        .chain(graph.output.iter().map(|v| v.name()))
        .collect();
    let mut out = Vec::with_capacity(graph.node.len() + 16);
    let mut count = 0;
    for n in &graph.node {
        let Some(kind) = Kind::of_fused(n) else {
            out.push(n.clone());
            continue;
        };
        for (i, o) in n.output.iter().enumerate().skip(1).take(2) {
            if !o.is_empty() && read.contains(o.as_str()) {
                return Err(GraphError::FusedStatsRead {
                    node: n.name().to_string(),
                    tensor: o.clone(),
                    output: i,
                    op: n.op_type().to_string(),
                });
            }
        }
        let get = |i: usize| n.input.get(i).filter(|s| !s.is_empty()).cloned();
        let (Some(x), Some(skip)) = (get(0), get(1)) else {
            return Err(GraphError::FusedWithoutInputs {
                node: n.name().to_string(),
                tensor: n.input.first().cloned().unwrap_or_default(),
                op: n.op_type().to_string(),
            });
        };
        let (g, b, bias) = kind.params();
        let gamma = get(g).unwrap_or_default();
        let epsilon = n.attribute.iter().find(|a| a.name() == "epsilon").map_or(SKIP_EPSILON, |a| a.f());
        let sum = n.output.get(3).filter(|s| !s.is_empty()).cloned().unwrap_or_else(|| format!("{}{SPLIT_SUM}", n.name()));
        let mut add = NodeProto::new();
        add.set_name(format!("{}{SPLIT_ADD}", n.name()));
        add.input = vec![x, skip];
        match get(bias) {
            Some(bias) => {
                add.set_op_type("Sum".into());
                add.input.push(bias);
            }
            None => add.set_op_type("Add".into()),
        }
        add.output = vec![sum.clone()];
        let mut norm = NodeProto::new();
        norm.set_name(format!("{}{SPLIT_NORM}", n.name()));
        norm.set_op_type(kind.norm_op().into());
        norm.input = vec![sum, gamma];
        if let Some(beta) = b.and_then(get) {
            norm.input.push(beta);
        }
        norm.output = vec![n.output.first().cloned().unwrap_or_default()];
        norm.attribute = vec![int_attr("axis", -1), float_attr("epsilon", epsilon)];
        out.push(add);
        if !norm.output[0].is_empty() {
            out.push(norm); // (a fused node whose normed output nobody asked for is just its add)
        }
        count += 1;
    }
    graph.node = out;
    Ok(count)
}

/// Joins split halves back into fused nodes (see the module docs); returns
/// how many pairs it fused.
pub fn join(graph: &mut GraphProto) -> usize {
    if !graph.node.iter().any(is_split_norm) {
        return 0;
    }
    let producer: foldhash::HashMap<&str, usize> =
        graph.node.iter().enumerate().flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i))).collect();
    let mut reads: foldhash::HashMap<&str, usize> = foldhash::HashMap::default();
    for t in graph.node.iter().flat_map(|n| n.input.iter().map(String::as_str)).chain(graph.output.iter().map(|v| v.name())) {
        *reads.entry(t).or_default() += 1;
    }
    let readers = |t: &str| reads.get(t).copied().unwrap_or(0);
    // norm node -> add node it fuses with (each add fuses once, with its first split norm).
    let mut pair: Vec<Option<usize>> = vec![None; graph.node.len()];
    let mut taken = vec![false; graph.node.len()];
    for (i, n) in graph.node.iter().enumerate() {
        if Kind::of_norm(n).is_none() || !is_split_norm(n) {
            continue;
        }
        let Some(&a) = n.input.first().and_then(|t| producer.get(t.as_str())) else { continue };
        let add = &graph.node[a];
        let arity_ok = match add.op_type() {
            "Add" => add.input.len() == 2,
            "Sum" => add.input.len() == 3,
            _ => false,
        };
        // The fused node takes the add's place: the norm's parameters must exist there already.
        let params_ready = n.input.iter().skip(1).all(|t| producer.get(t.as_str()).is_none_or(|&p| p < a));
        if taken[a] || !is_split_add(add) || !arity_ok || !params_ready || !matches!(add.domain(), "" | "ai.onnx") {
            continue;
        }
        taken[a] = true;
        pair[i] = Some(a);
    }
    let mut fused_at: Vec<Option<NodeProto>> = vec![None; graph.node.len()];
    let mut drop = vec![false; graph.node.len()];
    let mut count = 0;
    for (i, a) in pair.iter().enumerate() {
        let Some(a) = *a else { continue };
        let (norm, add) = (&graph.node[i], &graph.node[a]);
        let Some(kind) = Kind::of_norm(norm) else { continue };
        let sum = add.output.first().cloned().unwrap_or_default();
        let mut f = NodeProto::new();
        f.set_name(base_name(norm.name(), SPLIT_NORM).unwrap_or_default());
        f.set_op_type(kind.fused_op().into());
        f.set_domain(MS.into());
        let (g, b, bias) = kind.params();
        let mut inputs = vec![String::new(); bias + 1];
        inputs[0].clone_from(&add.input[0]);
        inputs[1].clone_from(&add.input[1]);
        inputs[g] = norm.input.get(1).cloned().unwrap_or_default();
        if let Some(b) = b {
            inputs[b] = norm.input.get(2).cloned().unwrap_or_default();
        }
        if add.input.len() == 3 {
            inputs[bias].clone_from(&add.input[2]);
        }
        while inputs.last().is_some_and(String::is_empty) {
            inputs.pop();
        }
        f.input = inputs;
        let sum_read = readers(&sum) > 1;
        let mut outputs = vec![norm.output.first().cloned().unwrap_or_default()];
        if sum_read {
            outputs.extend([String::new(), String::new(), sum]);
        }
        f.output = outputs;
        let epsilon = norm.attribute.iter().find(|x| x.name() == "epsilon").map_or(SKIP_EPSILON, AttributeProto::f);
        f.attribute = vec![float_attr("epsilon", epsilon)];
        fused_at[a] = Some(f);
        drop[i] = true;
        count += 1;
    }
    let old = std::mem::take(&mut graph.node);
    for (i, n) in old.into_iter().enumerate() {
        if drop[i] {
            continue;
        }
        graph.node.push(fused_at[i].take().unwrap_or(n));
    }
    count
}

fn int_attr(name: &str, v: i64) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.set_name(name.into());
    a.set_type(AttributeType::INT);
    a.set_i(v);
    a
}

fn float_attr(name: &str, v: f32) -> AttributeProto {
    let mut a = AttributeProto::new();
    a.set_name(name.into());
    a.set_type(AttributeType::FLOAT);
    a.set_f(v);
    a
}

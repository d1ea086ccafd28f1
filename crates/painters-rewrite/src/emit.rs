//! Emission: a `Schedule` (lowered for this model: every instance's names,
//! output tensor and KV slots already decided) over the blocks of a
//! `BlockLayout` becomes a new graph. Emission only follows the schedule.
//! Invariants kept:
//! - the prologue and epilogue are kept as they are; context tensors feed
//!   every instance;
//! - an instance's nodes and tensors get its suffix (none for a block's first
//!   instance, so the identity schedule reproduces the source graph);
//! - initializers are shared by name: no weight is copied, in memory or on disk;
//! - the last stage writes the last block's output tensor, so the epilogue
//!   and graph outputs (`last_hidden_state`) keep their names;
//! - every instance's KV tensors move to its slots (`past_key_values.{s}.*`
//!   → `present.{s}.*`);
//! - fused residual nodes split for detection are joined again (`fused::join`);
//! - unused nodes and initializers are removed, and the result is validated.
use foldhash::{HashMap, HashMapExt, HashSet};

use painters_graph::index::node_inputs;
use painters_graph::proto::onnx::{GraphProto, ModelProto, NodeProto, ValueInfoProto};
use painters_graph::{validate, BlockLayout, OnnxModel};

use crate::error::{Result, RewriteError};
use crate::schedule::{Instance, Schedule, Stage};

/// Options of an emission.
#[derive(Debug, Clone, Default)]
pub struct EmitOptions {
    /// Add the residual stream entering the first instance
    /// (`painters.hidden.input`) and every block instance's output
    /// (`painters.hidden.{k}`, k in execution order) as graph outputs.
    pub tap: bool,
}

use painters_graph::conventions as names;

/// Emits the model that runs `schedule` (lowered for `model`) over `layout`'s blocks.
pub fn emit(model: &OnnxModel, layout: &BlockLayout, schedule: &Schedule) -> Result<ModelProto> {
    emit_with(model, layout, schedule, &EmitOptions::default())
}

/// [`emit`] with options.
pub fn emit_with(model: &OnnxModel, layout: &BlockLayout, schedule: &Schedule, opts: &EmitOptions) -> Result<ModelProto> {
    if schedule.source_blocks() != layout.num_blocks() || layout.blocks.last().map(|b| &b.output) != Some(&schedule.final_output) {
        return Err(RewriteError::ScheduleMismatch { lowered_for: schedule.source_blocks(), blocks: layout.num_blocks() });
    }
    let src = model.graph();
    let mut e = Emitter { src, layout, nodes: Vec::with_capacity(src.node.len()), kv_inputs: Vec::new(), kv_outputs: Vec::new(), taps: Vec::new() };
    e.nodes.extend(layout.prologue.iter().map(|&n| src.node[n].clone()));
    let stream = e.stages(schedule.stages(), layout.blocks[0].input.clone());
    if stream != schedule.final_output {
        e.nodes.push(node("Identity", names::IDENTITY_NODE, vec![stream], schedule.final_output.clone()));
    }
    e.nodes.extend(layout.epilogue.iter().map(|&n| src.node[n].clone()));
    let taps = std::mem::take(&mut e.taps);
    let mut graph = e.assemble();
    if opts.tap {
        add_taps(&mut graph, &layout.blocks[0].input, &taps);
    }
    // Fused residual nodes the source had, split for detection, join again.
    painters_graph::fused::join(&mut graph);
    validate(&graph).map_err(RewriteError::Invalid)?;
    // Every field but the graph, without cloning the source graph (an
    // exhaustive literal: a field added to the schema must be handled here).
    let p = &model.proto;
    Ok(ModelProto {
        ir_version: p.ir_version,
        opset_import: p.opset_import.clone(),
        producer_name: p.producer_name.clone(),
        producer_version: p.producer_version.clone(),
        domain: p.domain.clone(),
        model_version: p.model_version,
        doc_string: p.doc_string.clone(),
        graph: Some(graph).into(),
        metadata_props: p.metadata_props.clone(),
        training_info: p.training_info.clone(),
        functions: p.functions.clone(),
        configuration: p.configuration.clone(),
        special_fields: p.special_fields.clone(),
    })
}

struct Emitter<'a> {
    src: &'a GraphProto,
    layout: &'a BlockLayout,
    nodes: Vec<NodeProto>,
    kv_inputs: Vec<ValueInfoProto>,
    kv_outputs: Vec<ValueInfoProto>,
    taps: Vec<String>,
}

impl Emitter<'_> {
    /// Emits `stages` reading `input`; returns the stream tensor they produce.
    fn stages(&mut self, stages: &[Stage], input: String) -> String {
        let mut cur = input;
        for stage in stages {
            cur = match stage {
                Stage::Block(i) => self.block(i, cur),
                Stage::Parallel { branches, mean: None } => branches.iter().fold(cur, |c, b| self.stages(b, c)),
                Stage::Parallel { branches, mean: Some(mean) } => {
                    let outs: Vec<String> = branches.iter().map(|b| self.stages(b, cur.clone())).collect();
                    self.nodes.push(node("Mean", &mean.name, outs, mean.output.clone()));
                    mean.output.clone()
                }
            };
        }
        cur
    }

    /// Emits instance `inst` reading `input`; returns its output.
    fn block(&mut self, inst: &Instance, input: String) -> String {
        let block = &self.layout.blocks[inst.block];
        let mut rename: HashMap<String, String> = HashMap::new();
        if !inst.suffix.is_empty() {
            for &n in &block.nodes {
                for o in self.src.node[n].output.iter().filter(|o| !o.is_empty()) {
                    rename.insert(o.clone(), format!("{o}{}", inst.suffix));
                }
            }
        }
        rename.insert(block.output.clone(), inst.output.clone());
        rename.insert(block.input.clone(), input);
        if let (Some(kv), Some(base)) = (&block.kv, inst.kv_slot) {
            let caches = crate::lower::cache_indices(kv.inputs.iter().chain(&kv.outputs));
            let slot = |name: &str| {
                (!inst.kv_keeps_names).then(|| names::kv::index(name).and_then(|(_, _, i)| caches.binary_search(&i).ok()).map_or(base, |r| base + r))
            };
            move_to_slot(&kv.inputs, &self.src.input, &slot, &mut rename, &mut self.kv_inputs);
            move_to_slot(&kv.outputs, &self.src.output, &slot, &mut rename, &mut self.kv_outputs);
        }
        for &n in &block.nodes {
            let mut node = self.src.node[n].clone();
            if !inst.suffix.is_empty() && !node.name().is_empty() {
                node.set_name(format!("{}{}", node.name(), inst.suffix));
            }
            rename_node(&mut node, &rename);
            self.nodes.push(node);
        }
        self.taps.push(inst.output.clone());
        inst.output.clone()
    }

    /// The new graph: nodes, KV inputs/outputs in slot order, dead code removed.
    fn assemble(self) -> GraphProto {
        let kv_in: HashSet<&str> = self.layout.blocks.iter().flat_map(|b| b.kv.iter()).flat_map(|k| k.inputs.iter().map(String::as_str)).collect();
        let kv_out: HashSet<&str> = self.layout.blocks.iter().flat_map(|b| b.kv.iter()).flat_map(|k| k.outputs.iter().map(String::as_str)).collect();
        // Nodes outside the blocks that read a KV input (the past-length `Shape`
        // of slot 0) read slot 0 of the same kind once the slots are renumbered.
        let new_names: HashSet<String> = self.kv_inputs.iter().map(|v| v.name().to_string()).collect();
        let slot0: Vec<String> = self
            .layout
            .blocks
            .iter()
            .find_map(|b| b.kv.as_ref())
            .map(|k| k.inputs.iter().enumerate().map(|(i, _)| self.kv_inputs.get(i).map(|v| v.name().to_string()).unwrap_or_default()).collect())
            .unwrap_or_default();
        let kind: HashMap<&str, usize> = self
            .layout
            .blocks
            .iter()
            .flat_map(|b| b.kv.iter())
            .flat_map(|k| k.inputs.iter().enumerate().map(|(i, n)| (n.as_str(), i)))
            .collect();
        let mut nodes = self.nodes;
        for n in &mut nodes {
            for t in &mut n.input {
                if kv_in.contains(t.as_str()) && !new_names.contains(t.as_str()) {
                    if let Some(s0) = kind.get(t.as_str()).and_then(|&i| slot0.get(i)).filter(|s| !s.is_empty()) {
                        t.clone_from(s0);
                    }
                }
            }
        }
        let src = self.src;
        let output = splice(&src.output, &kv_out, self.kv_outputs);
        let (nodes, needed) = live_nodes(nodes, &output);
        let produced: HashSet<&str> = nodes.iter().flat_map(|n| n.output.iter().map(String::as_str)).collect();
        let value_info = src.value_info.iter().filter(|v| produced.contains(v.name())).cloned().collect();
        // Only the initializers still read are cloned (a clone shares the weight bytes).
        let initializer = src.initializer.iter().filter(|t| needed.contains(t.name())).cloned().collect();
        // An exhaustive literal: a field added to the schema must be handled here.
        GraphProto {
            node: nodes,
            name: src.name.clone(),
            initializer,
            sparse_initializer: src.sparse_initializer.clone(),
            doc_string: src.doc_string.clone(),
            input: splice(&src.input, &kv_in, self.kv_inputs),
            output,
            value_info,
            quantization_annotation: src.quantization_annotation.clone(),
            metadata_props: src.metadata_props.clone(),
            special_fields: src.special_fields.clone(),
        }
    }
}

/// Renames KV tensors `names` to their slots (`slot(name)`; `None` keeps the
/// name), recording the new graph input/output entries (typed as the
/// originals in `declared`).
fn move_to_slot(
    names: &[String],
    declared: &[ValueInfoProto],
    slot: &dyn Fn(&str) -> Option<usize>,
    rename: &mut HashMap<String, String>,
    out: &mut Vec<ValueInfoProto>,
) {
    for name in names {
        let new = slot(name).map_or_else(|| name.clone(), |s| names::kv::slot_name(name, s));
        if let Some(v) = declared.iter().find(|v| v.name() == name) {
            let mut v = v.clone();
            v.set_name(new.clone());
            out.push(v);
        }
        rename.insert(name.clone(), new);
    }
}

/// Replaces the entries of `list` named in `old` by `new`, at the position of the first one.
fn splice(list: &[ValueInfoProto], old: &HashSet<&str>, new: Vec<ValueInfoProto>) -> Vec<ValueInfoProto> {
    let mut out = Vec::with_capacity(list.len());
    let mut new = Some(new);
    for v in list {
        if old.contains(v.name()) {
            if let Some(n) = new.take() {
                out.extend(n);
            }
        } else {
            out.push(v.clone());
        }
    }
    if let Some(n) = new {
        out.extend(n);
    }
    out
}

fn rename_node(node: &mut NodeProto, rename: &HashMap<String, String>) {
    for t in node.input.iter_mut().chain(node.output.iter_mut()) {
        if let Some(new) = rename.get(t.as_str()) {
            t.clone_from(new);
        }
    }
    for a in &mut node.attribute {
        for g in a.g.as_mut().into_iter().chain(a.graphs.iter_mut()) {
            for n in &mut g.node {
                for t in &mut n.input {
                    if let Some(new) = rename.get(t.as_str()) {
                        t.clone_from(new);
                    }
                }
            }
        }
    }
}

/// Adds `painters.hidden.*` outputs (Identity of each stream tensor), typed
/// like the main output.
fn add_taps(g: &mut GraphProto, input: &str, taps: &[String]) {
    let taps = std::iter::once((names::hidden_name(None), input.to_string()))
        .chain(taps.iter().enumerate().map(|(k, t)| (names::hidden_name(Some(k)), t.clone())));
    for (name, tensor) in taps {
        g.node.push(node("Identity", &name, vec![tensor], name.clone()));
        let v = float_value(g, &name);
        g.output.push(v);
    }
}

/// A value typed like the graph's main output (its element type, no shape).
fn float_value(g: &GraphProto, name: &str) -> ValueInfoProto {
    use painters_graph::proto::onnx::{type_proto, TypeProto};
    let elem = g
        .output
        .first()
        .and_then(|v| match v.type_.as_ref().and_then(|t| t.value.as_ref()) {
            Some(type_proto::Value::TensorType(t)) => Some(t.elem_type()),
            _ => None,
        })
        .unwrap_or(1);
    let mut tt = type_proto::Tensor::new();
    tt.set_elem_type(elem);
    let mut tp = TypeProto::new();
    tp.value = Some(type_proto::Value::TensorType(tt));
    let mut v = ValueInfoProto::new();
    v.set_name(name.to_string());
    v.type_ = Some(tp).into();
    v
}

fn node(op: &str, name: &str, inputs: Vec<String>, output: String) -> NodeProto {
    let mut n = NodeProto::new();
    n.set_op_type(op.to_string());
    n.set_name(name.to_string());
    n.input = inputs;
    n.output = vec![output];
    n
}

/// Keeps the nodes some of whose outputs are needed by `outputs` (dead code
/// removed); returns them with the set of tensor names they read.
fn live_nodes(nodes: Vec<NodeProto>, outputs: &[ValueInfoProto]) -> (Vec<NodeProto>, HashSet<String>) {
    let mut needed: HashSet<String> = outputs.iter().map(|v| v.name().to_string()).collect();
    let mut keep = vec![false; nodes.len()];
    for (i, n) in nodes.iter().enumerate().rev() {
        if n.output.iter().any(|o| needed.contains(o)) {
            keep[i] = true;
            needed.extend(node_inputs(n).into_iter().map(String::from));
        }
    }
    let live = nodes.into_iter().zip(keep).filter_map(|(n, k)| k.then_some(n)).collect();
    (live, needed)
}

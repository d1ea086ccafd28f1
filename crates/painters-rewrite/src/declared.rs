//! Never silently wrong about depth: what a model declares about its number
//! of layers, checked against the blocks detection found. The declarations,
//! each independent of detection:
//! - `config.json` beside the model (`num_hidden_layers`, `n_layer`,
//!   `num_layers`, also under `text_config`);
//! - `genai_config.json` beside it (`model.decoder.num_hidden_layers`), when
//!   its `model.decoder.filename` is this file;
//! - the KV-cache inputs (`past_key_values.{i}.*`, distinct indices);
//! - the layer indices in the names of weight-reading nodes (MatMul, Gemm,
//!   MatMulNBits, attention ops), distinct: not of norms, since the genai
//!   builder names the final norm `layers.{T}`.
//!
//! A model painters rewrote declares its plan instead (`painters.plan` in
//! its metadata): it reads back with one block per top-level stage and has
//! one KV slot per executed instance. [`open`] is how every command loads a
//! model to rewrite or evaluate: load, canonical form, detect, check.
use std::path::Path;

use painters_graph::names::node_layer;
use painters_graph::proto::onnx::GraphProto;
use painters_graph::{detect, BlockLayout, OnnxModel};
use serde_json::Value;

use crate::error::{Result, RewriteError};

/// Loads `path` (prefetching its bytes when `prefetch`), splits fused
/// residual nodes, detects its blocks and checks them against what the model
/// declares.
pub fn open(path: &Path, prefetch: bool) -> Result<(OnnxModel, BlockLayout)> {
    open_model(OnnxModel::load_with(path, prefetch)?)
}

/// [`open`] on a model already loaded (from a file or from bytes): canonical
/// form, detection, the depth check.
pub fn open_model(mut model: OnnxModel) -> Result<(OnnxModel, BlockLayout)> {
    model.canonicalize()?;
    let layout = detect(&model)?;
    check(&model, &layout)?;
    Ok((model, layout))
}

/// One statement of depth and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub source: String,
    pub blocks: usize,
}

/// Fails with one line naming both numbers when a declaration disagrees
/// with the detected block count.
pub fn check(model: &OnnxModel, layout: &BlockLayout) -> Result<()> {
    let detected = layout.num_blocks();
    let kv = kv_indices(model.graph());
    if kv > 0 {
        if let Some(b) = layout.blocks.iter().find(|b| b.kv.is_none()) {
            return Err(RewriteError::DepthMismatch {
                detected,
                declared: kv,
                by: format!("its KV-cache inputs (block {} reads none of them alone)", b.index),
            });
        }
    }
    for d in declarations(model, layout)? {
        if d.blocks != detected {
            return Err(RewriteError::DepthMismatch { detected, declared: d.blocks, by: d.source });
        }
    }
    Ok(())
}

/// Everything the model and its folder declare about its depth, as block
/// counts comparable with detection.
pub fn declarations(model: &OnnxModel, layout: &BlockLayout) -> Result<Vec<Declaration>> {
    let graph = model.graph();
    let mut out = Vec::new();
    let meta = |k: &str| model.proto.metadata_props.iter().find(|p| p.key() == k).map(|p| p.value().to_string());
    let kv = kv_indices(graph);
    if let Some(plan_text) = meta(painters_graph::conventions::meta::PLAN) {
        // A painters rewrite: blocks = top-level stages, KV slots = instances.
        let plan = crate::parse(&plan_text)?;
        out.push(Declaration { source: format!("its painters.plan '{plan_text}' (one block per stage)"), blocks: plan.stages() });
        return Ok(out);
    }
    if kv > 0 {
        out.push(Declaration { source: "its KV-cache inputs".into(), blocks: kv });
    }
    let names = named_layers(graph);
    if names > 0 && layout.method == painters_graph::DetectionMethod::Names {
        out.push(Declaration { source: "the layer indices in its node names".into(), blocks: names });
    }
    let dir = model.dir();
    let file = model.path().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().to_string());
    if let Some(config) = read_json(&dir.join("config.json")) {
        if let Some(n) = config_depth(&config) {
            out.push(Declaration { source: format!("{}", dir.join("config.json").display()), blocks: n });
        }
    }
    if let Some(genai) = read_json(&dir.join("genai_config.json")) {
        let decoder = &genai["model"]["decoder"];
        let names_this = decoder["filename"].as_str().is_none_or(|f| Some(f.to_string()) == file);
        if let (true, Some(n)) = (names_this, decoder["num_hidden_layers"].as_u64()) {
            out.push(Declaration { source: format!("{}", dir.join("genai_config.json").display()), blocks: n as usize });
        }
    }
    Ok(out)
}

/// The depth a `config.json` declares, if any.
pub fn config_depth(config: &Value) -> Option<usize> {
    if config.get("painters").is_some() {
        return None; // written by painters for a rewrite: compared through the plan
    }
    for scope in [config, &config["text_config"]] {
        for key in crate::folder::DEPTH_KEYS {
            if let Some(n) = scope.get(key).and_then(Value::as_u64) {
                return Some(n as usize);
            }
        }
    }
    None
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Distinct layer indices of the KV-cache inputs.
fn kv_indices(graph: &GraphProto) -> usize {
    let mut idx: Vec<usize> = graph
        .input
        .iter()
        .map(|v| v.name())
        .filter(|n| painters_graph::conventions::kv::is_past(n))
        .filter_map(|n| painters_graph::conventions::kv::index(n).map(|(_, _, i)| i))
        .collect();
    idx.sort_unstable();
    idx.dedup();
    idx.len()
}

/// Distinct layer indices in the names of weight-reading nodes.
fn named_layers(graph: &GraphProto) -> usize {
    const WEIGHTED: [&str; 8] =
        ["MatMul", "Gemm", "MatMulNBits", "MatMulInteger", "DynamicQuantizeMatMul", "Attention", "GroupQueryAttention", "MultiHeadAttention"];
    let mut idx: Vec<usize> =
        graph.node.iter().filter(|n| WEIGHTED.contains(&n.op_type())).filter_map(node_layer).collect();
    idx.sort_unstable();
    idx.dedup();
    idx.len()
}

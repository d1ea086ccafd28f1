//! `ModelSummary`: what `painters inspect` reports about a model and its
//! detected layout, as one serializable value (the `--json` schema).
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::layout::{BlockLayout, DetectionMethod, Family};
use crate::model::OnnxModel;
use crate::names::NamingStyle;
use crate::proto::onnx::{type_proto, ValueInfoProto};
use crate::tensor::{byte_size, external_ref};

#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    pub model: String,
    pub family: Family,
    pub exporter: Exporter,
    pub detection: DetectionMethod,
    pub num_blocks: usize,
    pub blocks: Vec<BlockSummary>,
    pub context: Vec<String>,
    pub prologue_nodes: usize,
    pub epilogue_nodes: usize,
    pub total_nodes: usize,
    pub parameter_bytes: u64,
    pub external_data: Vec<String>,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    /// The model's `metadata_props` (painters writes its provenance here).
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Exporter {
    pub producer: String,
    pub producer_version: String,
    pub naming: NamingStyle,
    pub ir_version: i64,
    pub opset: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockSummary {
    pub index: usize,
    pub nodes: usize,
    pub input: String,
    pub output: String,
    pub kv_inputs: Vec<String>,
    pub kv_outputs: Vec<String>,
    pub parameter_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: String,
    /// Dimensions: numbers, or names for symbolic ones (`batch_size`).
    pub shape: Vec<serde_json::Value>,
}

impl ModelSummary {
    pub fn new(model: &OnnxModel, layout: &BlockLayout) -> Self {
        let graph = model.graph();
        let sizes: BTreeMap<&str, u64> = graph.initializer.iter().map(|t| (t.name(), byte_size(t))).collect();
        let blocks = layout
            .blocks
            .iter()
            .map(|b| BlockSummary {
                index: b.index,
                nodes: b.nodes.len(),
                input: b.input.clone(),
                output: b.output.clone(),
                kv_inputs: b.kv.as_ref().map(|k| k.inputs.clone()).unwrap_or_default(),
                kv_outputs: b.kv.as_ref().map(|k| k.outputs.clone()).unwrap_or_default(),
                parameter_bytes: b.initializers.iter().filter_map(|t| sizes.get(t.as_str())).sum(),
            })
            .collect();
        let external: BTreeSet<String> = model.external_tensors().filter_map(|t| external_ref(t).ok()).map(|r| r.location).collect();
        let opset = model
            .proto
            .opset_import
            .iter()
            .find(|o| matches!(o.domain(), "" | "ai.onnx"))
            .map(|o| o.version())
            .unwrap_or(0);
        Self {
            model: model.path().map(|p| p.display().to_string()).unwrap_or_default(),
            family: layout.family,
            exporter: Exporter {
                producer: model.proto.producer_name().to_string(),
                producer_version: model.proto.producer_version().to_string(),
                naming: layout.naming,
                ir_version: model.proto.ir_version(),
                opset,
            },
            detection: layout.method,
            num_blocks: layout.num_blocks(),
            blocks,
            context: layout.context.clone(),
            prologue_nodes: layout.prologue.len(),
            epilogue_nodes: layout.epilogue.len(),
            total_nodes: graph.node.len(),
            parameter_bytes: sizes.values().sum(),
            external_data: external.into_iter().collect(),
            inputs: graph.input.iter().map(tensor_info).collect(),
            outputs: graph.output.iter().map(tensor_info).collect(),
            metadata: model.proto.metadata_props.iter().filter(|p| p.key() != crate::conventions::meta::PADDING).map(|p| (p.key().to_string(), p.value().to_string())).collect(),
        }
    }
}

fn tensor_info(v: &ValueInfoProto) -> TensorInfo {
    let mut dtype = "unknown".to_string();
    let mut shape = Vec::new();
    if let Some(type_proto::Value::TensorType(t)) = v.type_.as_ref().and_then(|t| t.value.as_ref()) {
        dtype = dtype_name(t.elem_type()).to_string();
        if let Some(s) = t.shape.as_ref() {
            for d in &s.dim {
                use crate::proto::onnx::tensor_shape_proto::dimension::Value as D;
                shape.push(match &d.value {
                    Some(D::DimValue(v)) => serde_json::Value::from(*v),
                    Some(D::DimParam(p)) => serde_json::Value::from(p.clone()),
                    None => serde_json::Value::Null,
                });
            }
        }
    }
    TensorInfo { name: v.name().to_string(), dtype, shape }
}

/// The ONNX name of a `TensorProto.DataType`, lower case (`float`, `int64`).
pub fn dtype_name(t: i32) -> &'static str {
    match t {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        14 => "complex64",
        15 => "complex128",
        16 => "bfloat16",
        _ => "other",
    }
}

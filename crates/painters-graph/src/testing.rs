//! Tests only (`cfg(test)` here, the `testing` feature for other crates'
//! tests): small ONNX graphs built by name instead of spelled out protobuf
//! field by field. A builder sets exactly the fields it is told and nothing
//! else — no validation, no defaults beyond the IR version — so a test can
//! also build the malformed graphs and tensors it means to refuse.
//!
//! ```ignore
//! use painters_graph::testing::{Dim, GraphBuilder, F32};
//! let m = GraphBuilder::new()
//!     .input("x", F32, &[Dim::Sym("batch"), Dim::N(4)])
//!     .init_f32("w", &[4, 4], &[0.0; 16])
//!     .node("MatMul", &["x", "w"], &["y"])
//!     .output("y", F32, &[Dim::Sym("batch"), Dim::N(4)])
//!     .model(17);
//! ```
use crate::proto::onnx::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto, AttributeProto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

/// ONNX element type codes (`TensorProto.DataType`).
pub const F32: i32 = DataType::FLOAT as i32;
pub const U8: i32 = DataType::UINT8 as i32;
pub const I32: i32 = DataType::INT32 as i32;
pub const I64: i32 = DataType::INT64 as i32;
pub const BOOL: i32 = DataType::BOOL as i32;
pub const F16: i32 = DataType::FLOAT16 as i32;

/// The IR version [`GraphBuilder::model`] writes.
pub const IR_VERSION: i64 = 8;

/// One dimension of a declared shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    N(i64),
    /// A symbolic size (`dim_param`), e.g. `batch`.
    Sym(&'static str),
}

/// A tensor, field by field as asked (the fields' consistency is not checked).
#[derive(Debug, Clone)]
pub struct Tensor(TensorProto);

/// A tensor named `name` of element type `elem` and dimensions `dims`, without data yet.
pub fn tensor(name: &str, elem: i32, dims: &[i64]) -> Tensor {
    let mut t = TensorProto::new();
    t.set_name(name.to_string());
    t.set_data_type(elem);
    t.dims = dims.to_vec();
    Tensor(t)
}

impl Tensor {
    /// `raw_data`.
    pub fn raw(mut self, bytes: Vec<u8>) -> Self {
        self.0.set_raw_data(bytes.into());
        self
    }

    /// `float_data`.
    pub fn floats(mut self, values: &[f32]) -> Self {
        self.0.float_data = values.to_vec();
        self
    }

    /// `int64_data`.
    pub fn int64s(mut self, values: &[i64]) -> Self {
        self.0.int64_data = values.to_vec();
        self
    }

    /// `doc_string` (serialized after the payload).
    pub fn doc(mut self, doc: &str) -> Self {
        self.0.set_doc_string(doc.to_string());
        self
    }

    /// The proto.
    pub fn build(self) -> TensorProto {
        self.0
    }
}

impl From<Tensor> for TensorProto {
    fn from(t: Tensor) -> Self {
        t.0
    }
}

/// A graph, built in order: inputs, initializers, nodes and outputs are
/// appended as they are added; `name` and `attr_*` apply to the last node.
#[derive(Debug, Clone, Default)]
pub struct GraphBuilder {
    graph: GraphProto,
}

impl GraphBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The graph's name.
    pub fn graph_name(mut self, name: &str) -> Self {
        self.graph.set_name(name.to_string());
        self
    }

    /// A graph input: a tensor of element type `elem` and shape `dims`.
    pub fn input(mut self, name: &str, elem: i32, dims: &[Dim]) -> Self {
        self.graph.input.push(value_info(name, Some(elem), Some(dims)));
        self
    }

    /// A graph input: a tensor of element type `elem`, no shape declared.
    pub fn input_unshaped(mut self, name: &str, elem: i32) -> Self {
        self.graph.input.push(value_info(name, Some(elem), None));
        self
    }

    /// A graph input declared by its name alone (no type).
    pub fn input_untyped(mut self, name: &str) -> Self {
        self.graph.input.push(value_info(name, None, None));
        self
    }

    /// A graph output: a tensor of element type `elem` and shape `dims`.
    pub fn output(mut self, name: &str, elem: i32, dims: &[Dim]) -> Self {
        self.graph.output.push(value_info(name, Some(elem), Some(dims)));
        self
    }

    /// A graph output: a tensor of element type `elem`, no shape declared.
    pub fn output_unshaped(mut self, name: &str, elem: i32) -> Self {
        self.graph.output.push(value_info(name, Some(elem), None));
        self
    }

    /// A graph output declared by its name alone (no type: ONNX Runtime infers it).
    pub fn output_untyped(mut self, name: &str) -> Self {
        self.graph.output.push(value_info(name, None, None));
        self
    }

    /// An initializer.
    pub fn init(mut self, t: impl Into<TensorProto>) -> Self {
        self.graph.initializer.push(t.into());
        self
    }

    /// A float32 initializer (`float_data`).
    pub fn init_f32(self, name: &str, dims: &[i64], values: &[f32]) -> Self {
        self.init(tensor(name, F32, dims).floats(values))
    }

    /// An int64 initializer (`int64_data`).
    pub fn init_i64(self, name: &str, dims: &[i64], values: &[i64]) -> Self {
        self.init(tensor(name, I64, dims).int64s(values))
    }

    /// A node of the default domain, without a name.
    pub fn node(mut self, op: &str, inputs: &[&str], outputs: &[&str]) -> Self {
        let mut n = NodeProto::new();
        n.set_op_type(op.to_string());
        n.input = inputs.iter().map(|s| s.to_string()).collect();
        n.output = outputs.iter().map(|s| s.to_string()).collect();
        self.graph.node.push(n);
        self
    }

    /// Names the last node.
    pub fn name(self, name: &str) -> Self {
        self.with_last(|n| n.set_name(name.to_string()))
    }

    /// Sets the last node's domain (`com.microsoft`, …).
    pub fn domain(self, domain: &str) -> Self {
        self.with_last(|n| n.set_domain(domain.to_string()))
    }

    /// An `INT` attribute on the last node.
    pub fn attr_int(self, name: &str, v: i64) -> Self {
        self.attr(name, AttributeType::INT, |a| a.set_i(v))
    }

    /// A `FLOAT` attribute on the last node.
    pub fn attr_float(self, name: &str, v: f32) -> Self {
        self.attr(name, AttributeType::FLOAT, |a| a.set_f(v))
    }

    /// An `INTS` attribute on the last node.
    pub fn attr_ints(self, name: &str, v: &[i64]) -> Self {
        self.attr(name, AttributeType::INTS, |a| a.ints = v.to_vec())
    }

    /// A `STRING` attribute on the last node.
    pub fn attr_string(self, name: &str, v: &str) -> Self {
        self.attr(name, AttributeType::STRING, |a| a.set_s(v.as_bytes().to_vec().into()))
    }

    /// A `TENSOR` attribute on the last node (a `Constant`'s `value`).
    pub fn attr_tensor(self, name: &str, t: impl Into<TensorProto>) -> Self {
        let t = t.into();
        self.attr(name, AttributeType::TENSOR, |a| a.t = Some(t).into())
    }

    fn attr(self, name: &str, ty: AttributeType, set: impl FnOnce(&mut AttributeProto)) -> Self {
        let mut a = AttributeProto::new();
        a.set_name(name.to_string());
        a.set_type(ty);
        set(&mut a);
        self.with_last(|n| n.attribute.push(a))
    }

    /// Applies `f` to the last node; does nothing before the first node.
    fn with_last(mut self, f: impl FnOnce(&mut NodeProto)) -> Self {
        if let Some(n) = self.graph.node.last_mut() {
            f(n);
        }
        self
    }

    /// The graph.
    pub fn graph(self) -> GraphProto {
        self.graph
    }

    /// A model of the graph: IR version [`IR_VERSION`], the default domain at `opset`.
    pub fn model(self, opset: i64) -> ModelProto {
        let mut op = OperatorSetIdProto::new();
        op.set_version(opset);
        let mut m = ModelProto::new();
        m.set_ir_version(IR_VERSION);
        m.opset_import.push(op);
        m.graph = Some(self.graph).into();
        m
    }
}

/// A value info: `name`, and a tensor type when `elem` is given (with a shape when `dims` is).
fn value_info(name: &str, elem: Option<i32>, dims: Option<&[Dim]>) -> ValueInfoProto {
    let mut v = ValueInfoProto::new();
    v.set_name(name.to_string());
    if let Some(elem) = elem {
        let mut t = type_proto::Tensor::new();
        t.set_elem_type(elem);
        if let Some(dims) = dims {
            let mut shape = TensorShapeProto::new();
            shape.dim = dims
                .iter()
                .map(|d| {
                    let mut dim = tensor_shape_proto::Dimension::new();
                    dim.value = Some(match d {
                        Dim::N(n) => tensor_shape_proto::dimension::Value::DimValue(*n),
                        Dim::Sym(s) => tensor_shape_proto::dimension::Value::DimParam(s.to_string()),
                    });
                    dim
                })
                .collect();
            t.shape = Some(shape).into();
        }
        let mut ty = TypeProto::new();
        ty.value = Some(type_proto::Value::TensorType(t));
        v.type_ = Some(ty).into();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_what_it_is_told() {
        let m = GraphBuilder::new()
            .input("x", F32, &[Dim::Sym("batch"), Dim::N(4)])
            .init_f32("w", &[4, 4], &[0.5; 16])
            .node("MatMul", &["x", "w"], &["y"])
            .name("mm")
            .node("Concat", &["y", "y"], &["z"])
            .attr_int("axis", 1)
            .output_untyped("z")
            .model(17);
        let g = m.graph.as_ref().unwrap();
        assert_eq!((m.ir_version(), m.opset_import[0].version()), (IR_VERSION, 17));
        assert_eq!(g.node.iter().map(|n| n.name()).collect::<Vec<_>>(), ["mm", ""]);
        assert_eq!(g.node[1].attribute[0].i(), 1);
        assert_eq!(g.initializer[0].float_data.len(), 16);
        let shape = match &g.input[0].type_.value {
            Some(type_proto::Value::TensorType(t)) => t.shape.dim.iter().map(|d| d.value.clone()).collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        assert_eq!(
            shape,
            [Some(tensor_shape_proto::dimension::Value::DimParam("batch".into())), Some(tensor_shape_proto::dimension::Value::DimValue(4))]
        );
        assert!(g.output[0].type_.is_none());
        crate::validate(g).unwrap();
    }
}

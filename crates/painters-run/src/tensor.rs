//! `HostTensor`: a tensor in host memory with the element types painters
//! feeds to and reads from models, convertible to and from ONNX Runtime values.
use ort::value::{DynValue, Tensor, ValueType};

/// Element data of a host tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum HostData {
    F32(Vec<f32>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
}

/// A dense row-major tensor in host memory.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<i64>,
    pub data: HostData,
}

impl HostTensor {
    pub fn f32(shape: Vec<i64>, data: Vec<f32>) -> Self {
        Self { shape, data: HostData::F32(data) }
    }

    pub fn i64(shape: Vec<i64>, data: Vec<i64>) -> Self {
        Self { shape, data: HostData::I64(data) }
    }

    /// The values as f32 slice, when the tensor holds f32.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            HostData::F32(v) => Some(v),
            _ => None,
        }
    }

    /// Converts into an ONNX Runtime value.
    pub fn to_value(&self) -> ort::Result<DynValue> {
        let shape = self.shape.clone();
        Ok(match &self.data {
            HostData::F32(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
            HostData::I64(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
            HostData::I32(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
            HostData::Bool(v) => Tensor::from_array((shape, v.clone()))?.into_dyn(),
        })
    }

    /// Copies an ONNX Runtime tensor value into host memory.
    pub fn from_value(v: &DynValue) -> ort::Result<Self> {
        use ort::value::TensorElementType as T;
        let ty = match v.dtype() {
            ValueType::Tensor { ty, .. } => *ty,
            other => return Err(ort::Error::new(format!("expected a tensor, got {other:?}"))),
        };
        let (shape, data) = match ty {
            T::Float32 => {
                let (s, d) = v.try_extract_tensor::<f32>()?;
                (s.to_vec(), HostData::F32(d.to_vec()))
            }
            T::Int64 => {
                let (s, d) = v.try_extract_tensor::<i64>()?;
                (s.to_vec(), HostData::I64(d.to_vec()))
            }
            T::Int32 => {
                let (s, d) = v.try_extract_tensor::<i32>()?;
                (s.to_vec(), HostData::I32(d.to_vec()))
            }
            T::Bool => {
                let (s, d) = v.try_extract_tensor::<bool>()?;
                (s.to_vec(), HostData::Bool(d.to_vec()))
            }
            other => return Err(ort::Error::new(format!("unsupported output element type {other:?}"))),
        };
        Ok(Self { shape, data })
    }
}

//! Reference files (`reference.json` in each fixture): named input tensors
//! and the outputs an independent implementation (PyTorch) computed on them.
//! `{"inputs": {NAME: {"dtype", "shape", "data"}}, "outputs": {…}}`, data
//! flat and row-major.
use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::tensor::{HostData, HostTensor};

#[derive(Debug, Deserialize)]
struct RawTensor {
    dtype: String,
    shape: Vec<i64>,
    data: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct RawReference {
    inputs: BTreeMap<String, RawTensor>,
    #[serde(default)]
    outputs: BTreeMap<String, RawTensor>,
}

/// Inputs and expected outputs, each in file order of names.
#[derive(Debug, Clone)]
pub struct Reference {
    pub inputs: Vec<(String, HostTensor)>,
    pub outputs: Vec<(String, HostTensor)>,
}

impl Reference {
    /// Reads a reference file; errors name the file and the tensor.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        let bad = |tensor: Option<&str>, reason: String| Error::Reference { path: path.to_path_buf(), tensor: tensor.map(String::from), reason };
        let raw: RawReference = serde_json::from_str(&text).map_err(|e| bad(None, e.to_string()))?;
        let conv = |m: BTreeMap<String, RawTensor>| -> Result<Vec<(String, HostTensor)>> {
            m.into_iter().map(|(name, t)| Ok((name.clone(), convert(&t).map_err(|e| bad(Some(&name), e))?))).collect()
        };
        Ok(Self { inputs: conv(raw.inputs)?, outputs: conv(raw.outputs)? })
    }
}

fn convert(t: &RawTensor) -> Result<HostTensor, String> {
    let n: i64 = t.shape.iter().product();
    if n as usize != t.data.len() {
        return Err(format!("shape {:?} needs {n} values, data has {}", t.shape, t.data.len()));
    }
    let num = |v: &serde_json::Value| v.as_f64().ok_or_else(|| format!("{v} is not a number"));
    let data = match t.dtype.as_str() {
        "float32" | "float" => HostData::F32(t.data.iter().map(|v| num(v).map(|x| x as f32)).collect::<Result<_, _>>()?),
        "int64" => HostData::I64(t.data.iter().map(|v| v.as_i64().ok_or_else(|| format!("{v} is not an int"))).collect::<Result<_, _>>()?),
        "int32" => HostData::I32(
            t.data.iter().map(|v| v.as_i64().map(|x| x as i32).ok_or_else(|| format!("{v} is not an int"))).collect::<Result<_, _>>()?,
        ),
        "bool" => HostData::Bool(t.data.iter().map(|v| v.as_bool().unwrap_or(v.as_i64() == Some(1))).collect()),
        other => return Err(format!("unsupported dtype '{other}'")),
    };
    Ok(HostTensor { shape: t.shape.clone(), data })
}

/// Largest absolute difference between two f32 tensors of the same shape.
pub fn max_abs_diff(a: &HostTensor, b: &HostTensor) -> Option<f32> {
    if a.shape != b.shape {
        return None;
    }
    let (x, y) = (a.as_f32()?, b.as_f32()?);
    Some(x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max))
}

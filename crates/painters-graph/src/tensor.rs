//! Facts about tensors that need no data: element sizes, byte counts, and the
//! external-data fields of a `TensorProto`.
use crate::proto::onnx::{tensor_proto::DataLocation, TensorProto};

/// Bits per element of an ONNX `TensorProto.DataType`, `None` for strings,
/// undefined or unknown types.
pub fn element_bits(data_type: i32) -> Option<u64> {
    Some(match data_type {
        1 | 6 | 12 => 32,                // FLOAT, INT32, UINT32
        2 | 3 | 9 | 17..=20 | 24 => 8,   // UINT8, INT8, BOOL, FLOAT8*, FLOAT8E8M0
        4 | 5 | 10 | 16 => 16,           // UINT16, INT16, FLOAT16, BFLOAT16
        7 | 11 | 13 | 14 => 64,          // INT64, DOUBLE, UINT64, COMPLEX64
        15 => 128,                       // COMPLEX128
        21..=23 => 4,                    // UINT4, INT4, FLOAT4E2M1
        25 | 26 => 2,                    // UINT2, INT2
        _ => return None,
    })
}

/// Number of elements (product of dims; 1 for a scalar). `None` on a negative dim.
pub fn element_count(t: &TensorProto) -> Option<u64> {
    t.dims.iter().try_fold(1u64, |acc, &d| u64::try_from(d).ok().and_then(|d| acc.checked_mul(d)))
}

/// Bytes the tensor's values occupy, computed from its type and shape alone.
pub fn byte_size(t: &TensorProto) -> u64 {
    match (element_count(t), element_bits(t.data_type())) {
        (Some(n), Some(bits)) => (n * bits).div_ceil(8),
        _ => 0,
    }
}

/// True when the tensor's values live in an external file.
pub fn is_external(t: &TensorProto) -> bool {
    t.data_location.map(|l| l.enum_value() == Ok(DataLocation::EXTERNAL)).unwrap_or(false)
}

/// The `location`, `offset` and `length` entries of an external tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalRef {
    pub location: String,
    pub offset: u64,
    pub length: Option<u64>,
}

/// Makes `t` an external tensor: its data is `length` bytes at `offset` of
/// the file `location` (relative to the model); inline data is dropped.
pub fn set_external(t: &mut TensorProto, location: &str, offset: u64, length: u64) {
    t.raw_data = None;
    t.external_data.clear();
    for (k, v) in [("location", location.to_string()), ("offset", offset.to_string()), ("length", length.to_string())] {
        let mut e = crate::proto::onnx::StringStringEntryProto::new();
        e.set_key(k.to_string());
        e.set_value(v);
        t.external_data.push(e);
    }
    t.set_data_location(DataLocation::EXTERNAL);
}

/// Reads the external-data entries of `t`; `Err` names the malformed entry.
pub fn external_ref(t: &TensorProto) -> Result<ExternalRef, String> {
    let mut location = None;
    let mut offset = 0u64;
    let mut length = None;
    for entry in &t.external_data {
        let value = entry.value();
        match entry.key() {
            "location" => location = Some(value.to_string()),
            "offset" => offset = value.parse().map_err(|_| format!("offset '{value}' is not a number"))?,
            "length" => length = Some(value.parse().map_err(|_| format!("length '{value}' is not a number"))?),
            _ => {}
        }
    }
    let location = location.ok_or_else(|| "has no 'location' entry".to_string())?;
    Ok(ExternalRef { location, offset, length })
}

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

/// Bytes the tensor's values occupy, computed from its type and shape alone
/// (saturating; a loaded model's sizes were checked by [`check_size`]).
pub fn byte_size(t: &TensorProto) -> u64 {
    match (element_count(t), element_bits(t.data_type())) {
        (Some(n), Some(bits)) => n.saturating_mul(bits).div_ceil(8),
        _ => 0,
    }
}

/// Checks that `t`'s type and dims describe a representable size and that
/// the data present has exactly that size: `raw_data`, the value list of
/// its type (`float_data`, `int64_data`, …), or the external `length`.
/// `Err` says what the header claims and what is there.
pub fn check_size(t: &TensorProto) -> Result<(), String> {
    if let Some(d) = t.dims.iter().find(|&&d| d < 0) {
        return Err(format!("has a negative dimension ({d}) in dims {:?}", t.dims));
    }
    let n = element_count(t).ok_or_else(|| format!("dims {:?} overflow a 64-bit element count", t.dims))?;
    let Some(bits) = element_bits(t.data_type()) else { return Ok(()) };
    let bytes = n
        .checked_mul(bits)
        .map(|b| b.div_ceil(8))
        .ok_or_else(|| format!("dims {:?} claim {n} elements of {bits} bits: more bytes than 64 bits can count", t.dims))?;
    if is_external(t) {
        let r = external_ref(t)?;
        if let Some(len) = r.length.filter(|&len| len != bytes) {
            return Err(format!("external data length {len} but dims {:?} of data type {} need {bytes} bytes", t.dims, t.data_type()));
        }
        r.offset
            .checked_add(r.length.unwrap_or(bytes))
            .ok_or_else(|| format!("external data offset {} plus its length overflows 64 bits", r.offset))?;
        return Ok(());
    }
    let held = match (&t.raw_data, t.data_type()) {
        (Some(raw), _) => Some((raw.len() as u64, bytes, "raw_data bytes")),
        (None, 1) => Some((t.float_data.len() as u64, n, "float_data values")),
        (None, 6) => Some((t.int32_data.len() as u64, n, "int32_data values")),
        (None, 7) => Some((t.int64_data.len() as u64, n, "int64_data values")),
        (None, 11) => Some((t.double_data.len() as u64, n, "double_data values")),
        (None, 13) => Some((t.uint64_data.len() as u64, n, "uint64_data values")),
        _ => None,
    };
    match held {
        Some((have, need, what)) if have != need => {
            Err(format!("dims {:?} of data type {} need {need} {what} but it holds {have}", t.dims, t.data_type()))
        }
        _ => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(dtype: i32, dims: &[i64], raw: Option<usize>) -> TensorProto {
        let t = crate::testing::tensor("w", dtype, dims);
        match raw {
            Some(n) => t.raw(vec![0u8; n]).build(),
            None => t.build(),
        }
    }

    #[test]
    fn sizes_claimed_by_the_header_must_be_present() {
        assert_eq!(check_size(&tensor(1, &[2, 3], Some(24))), Ok(()));
        assert_eq!(check_size(&tensor(21, &[3], Some(2))), Ok(()), "int4 packs two per byte");
        assert_eq!(
            check_size(&tensor(1, &[1024, 1024], Some(16))).unwrap_err(),
            "dims [1024, 1024] of data type 1 need 4194304 raw_data bytes but it holds 16"
        );
        let floats = crate::testing::tensor("w", crate::testing::F32, &[4]).floats(&[1.0; 3]).build();
        assert_eq!(check_size(&floats).unwrap_err(), "dims [4] of data type 1 need 4 float_data values but it holds 3");
    }

    #[test]
    fn element_counts_that_overflow_are_refused() {
        assert_eq!(check_size(&tensor(1, &[-1, 4], Some(0))).unwrap_err(), "has a negative dimension (-1) in dims [-1, 4]");
        assert_eq!(
            check_size(&tensor(1, &[i64::MAX, 4], Some(0))).unwrap_err(),
            "dims [9223372036854775807, 4] overflow a 64-bit element count"
        );
        assert_eq!(
            check_size(&tensor(11, &[1 << 31, 1 << 31], Some(0))).unwrap_err(),
            "dims [2147483648, 2147483648] claim 4611686018427387904 elements of 64 bits: more bytes than 64 bits can count"
        );
        assert_eq!(byte_size(&tensor(11, &[1 << 31, 1 << 31], None)), u64::MAX.div_ceil(8), "saturates, never wraps");
    }

    #[test]
    fn external_lengths_must_match_the_dims() {
        let mut t = tensor(1, &[8], None);
        set_external(&mut t, "w.bin", 0, 32);
        assert_eq!(check_size(&t), Ok(()));
        set_external(&mut t, "w.bin", 0, 4);
        assert_eq!(check_size(&t).unwrap_err(), "external data length 4 but dims [8] of data type 1 need 32 bytes");
        set_external(&mut t, "w.bin", u64::MAX, 32);
        assert_eq!(check_size(&t).unwrap_err(), "external data offset 18446744073709551615 plus its length overflows 64 bits");
    }
}

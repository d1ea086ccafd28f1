//! Structure-aware model mutation: a script of bytes is interpreted as edits
//! of a committed fixture's parsed `ModelProto` (byte 0 picks the fixture;
//! then each op byte and its argument bytes: drop, duplicate or reorder
//! nodes, rename tensors, change op types, dtypes, dims and attributes,
//! point external data anywhere, damage the header, declare a plan), the
//! result is serialized and, optionally, truncated or bit-flipped. A short
//! script is a small, readable regression input; libFuzzer mutates scripts.
use std::path::Path;

use bytes::Bytes;
use painters_graph::proto::onnx::tensor_proto::DataLocation;
use painters_graph::proto::onnx::tensor_shape_proto::dimension;
use painters_graph::proto::onnx::type_proto;
use painters_graph::proto::onnx::{ModelProto, StringStringEntryProto};
use protobuf::{EnumOrUnknown, Message};

/// Reads argument bytes; 0 once the script is used up.
struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn arg(&mut self) -> u8 {
        self.byte().unwrap_or(0)
    }
    fn index(&mut self, len: usize) -> Option<usize> {
        let v = u16::from_le_bytes([self.arg(), self.arg()]) as usize;
        (len > 0).then(|| v % len)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.arg() as usize % items.len()]
    }
    fn number(&mut self) -> i64 {
        *self.pick(&[0, 1, 2, 3, 4, 7, 64, -1, -2, i64::MAX, i64::MIN, 1 << 32, 1 << 40, 4_294_967_295, 100_000, 18])
    }
}

const NAMES: &[&str] = &[
    "",
    "x",
    "a\nb",
    "/model/layers.7/self_attn/q_proj/MatMul",
    "/model/layers.18446744073709551616/mlp/MatMul",
    "past_key_values.99.key",
    "past_key_values.0.value",
    "present.0.key",
    "logits",
    "last_hidden_state",
    "input_ids",
    "attention_mask",
    "\u{0}",
    "'quoted'\r",
];

const OPS: &[&str] = &[
    "Add",
    "MatMul",
    "Shape",
    "Constant",
    "Cast",
    "SkipLayerNormalization",
    "SkipSimplifiedLayerNormalization",
    "SimplifiedLayerNormalization",
    "LayerNormalization",
    "GroupQueryAttention",
    "Attention",
    "EmbedLayerNormalization",
    "Loop",
    "If",
    "",
    "Mean",
];

const LOCATIONS: &[&str] = &[
    "model.onnx.data",
    "weights.bin",
    "model.onnx",
    "/etc/passwd",
    "../model.onnx",
    "a/../../x",
    "",
    "C:\\Windows\\x",
    "\\\\server\\share",
    "./model.onnx.data",
    "nul\u{0}",
    "dir/",
    ".",
];

const OFFSETS: &[&str] = &["0", "1", "-1", "18446744073709551615", "99999999999999999999", "abc", "", "4096", "9223372036854775807"];

enum Post {
    Truncate(u8),
    Flip(u16, u8),
}

fn any_tensor_name(m: &ModelProto, s: &mut Script<'_>) -> String {
    let g = m.graph.get_or_default();
    match s.arg() % 4 {
        0 => s.index(g.node.len()).and_then(|i| g.node[i].output.first().cloned()).unwrap_or_default(),
        1 => s.index(g.initializer.len()).map(|i| g.initializer[i].name().to_string()).unwrap_or_default(),
        2 => s.index(g.input.len()).map(|i| g.input[i].name().to_string()).unwrap_or_default(),
        _ => s.pick(NAMES).to_string(),
    }
}

/// Applies the script; the serialized model and the fixture's folder
/// (external data resolves there), or `None` without fixtures.
pub fn apply(script: &[u8]) -> Option<(Vec<u8>, &'static Path)> {
    let (&first, rest) = script.split_first()?;
    let fx = crate::fixtures::by_byte(first)?;
    let mut m = fx.proto.clone();
    let mut s = Script(rest);
    let mut post = Vec::new();
    while let Some(op) = s.byte() {
        edit(&mut m, op, &mut s, &mut post);
    }
    let mut bytes = m.write_to_bytes().ok()?;
    for p in post {
        match p {
            Post::Truncate(f) => bytes.truncate(bytes.len() * f as usize / 256),
            Post::Flip(at, bit) => {
                if !bytes.is_empty() {
                    let i = (at as usize * 97) % bytes.len();
                    bytes[i] ^= 1 << (bit % 8);
                }
            }
        }
    }
    Some((bytes, &fx.dir))
}

fn edit(m: &mut ModelProto, op: u8, s: &mut Script<'_>, post: &mut Vec<Post>) {
    match op % 22 {
        0..=13 => edit_graph(m, op % 22, s),
        14 => {
            let v = s.number();
            match s.arg() % 3 {
                0 => m.set_ir_version(v),
                1 => m.opset_import.clear(),
                _ => {
                    if let Some(o) = m.opset_import.first_mut() {
                        o.set_version(v);
                    }
                }
            }
        }
        15 => {
            let plan = s.pick(&["0-3", "[0-5]*99999999999", "0-1,(2*3)", "", "x", "0-99999", "0,0,0,0,0,0", "(((((0)))))*9"]).to_string();
            m.metadata_props.retain(|p| p.key() != "painters.plan");
            let mut e = StringStringEntryProto::new();
            e.set_key("painters.plan".into());
            e.set_value(plan);
            m.metadata_props.push(e);
        }
        16 => post.push(Post::Truncate(s.arg())),
        17 => {
            let at = u16::from_le_bytes([s.arg(), s.arg()]);
            post.push(Post::Flip(at, s.arg()));
        }
        18 => {
            // Graph input / output shapes.
            let g = m.graph.mut_or_insert_default();
            let out = s.arg() % 2 == 1;
            let list = if out { &mut g.output } else { &mut g.input };
            let Some(i) = s.index(list.len()) else { return };
            let v = s.number();
            if let Some(type_proto::Value::TensorType(t)) = list[i].type_.mut_or_insert_default().value.as_mut() {
                let dims = &mut t.shape.mut_or_insert_default().dim;
                match s.arg() % 3 {
                    0 => dims.clear(),
                    1 => {
                        if let Some(d) = dims.first_mut() {
                            d.value = Some(dimension::Value::DimValue(v));
                        }
                    }
                    _ => t.set_elem_type(v as i32),
                }
            }
        }
        19 => {
            // Drop graph inputs or outputs, or rename one.
            let g = m.graph.mut_or_insert_default();
            let name = s.pick(NAMES).to_string();
            match s.arg() % 3 {
                0 => {
                    if let Some(i) = s.index(g.input.len()) {
                        g.input.remove(i);
                    }
                }
                1 => {
                    if let Some(i) = s.index(g.output.len()) {
                        g.output.remove(i);
                    }
                }
                _ => {
                    if let Some(i) = s.index(g.output.len()) {
                        g.output[i].set_name(name);
                    }
                }
            }
        }
        20 => {
            // Node attributes.
            let g = m.graph.mut_or_insert_default();
            let Some(i) = s.index(g.node.len()) else { return };
            let n = &mut g.node[i];
            let Some(a) = s.index(n.attribute.len()) else { return };
            let v = s.number();
            match s.arg() % 4 {
                0 => n.attribute[a].set_i(v),
                1 => n.attribute[a].set_f(f32::NAN),
                2 => n.attribute[a].type_ = Some(EnumOrUnknown::from_i32(v as i32)),
                _ => {
                    n.attribute.remove(a);
                }
            }
        }
        _ => {
            // Node names.
            let g = m.graph.mut_or_insert_default();
            if let Some(i) = s.index(g.node.len()) {
                let name = s.pick(NAMES).to_string();
                g.node[i].set_name(name);
            }
        }
    }
}

fn edit_graph(m: &mut ModelProto, op: u8, s: &mut Script<'_>) {
    let name = any_tensor_name(m, s);
    let g = m.graph.mut_or_insert_default();
    match op {
        0 => {
            if let Some(i) = s.index(g.node.len()) {
                g.node.remove(i);
            }
        }
        1 => {
            if let (Some(i), Some(at)) = (s.index(g.node.len()), s.index(g.node.len() + 1)) {
                let n = g.node[i].clone();
                g.node.insert(at, n);
            }
        }
        2 => {
            if let (Some(i), Some(j)) = (s.index(g.node.len()), s.index(g.node.len())) {
                g.node.swap(i, j);
            }
        }
        3 => {
            if let Some(i) = s.index(g.node.len()) {
                if let Some(k) = s.index(g.node[i].input.len()) {
                    g.node[i].input[k] = name;
                }
            }
        }
        4 => {
            if let Some(i) = s.index(g.node.len()) {
                if let Some(k) = s.index(g.node[i].output.len()) {
                    g.node[i].output[k] = name;
                }
            }
        }
        5 => {
            if let Some(i) = s.index(g.node.len()) {
                let op = s.pick(OPS).to_string();
                g.node[i].set_op_type(op);
            }
        }
        6 => {
            if let Some(i) = s.index(g.initializer.len()) {
                let t = *s.pick(&[-1, 0, 1, 7, 8, 10, 16, 21, 25, 99, i32::MAX]);
                g.initializer[i].set_data_type(t);
            }
        }
        7 => {
            if let Some(i) = s.index(g.initializer.len()) {
                let n = s.arg() % 7;
                let dims: Vec<i64> = (0..n).map(|_| s.number()).collect();
                g.initializer[i].dims = dims;
            }
        }
        8 => {
            if let Some(i) = s.index(g.initializer.len()) {
                let t = &mut g.initializer[i];
                let loc = s.pick(LOCATIONS).to_string();
                let offset = s.pick(OFFSETS).to_string();
                let length = s.pick(OFFSETS).to_string();
                let with_length = s.arg().is_multiple_of(2);
                t.raw_data = None;
                t.external_data.clear();
                for (k, v) in [("location", Some(loc)), ("offset", Some(offset)), ("length", with_length.then_some(length))] {
                    if let Some(v) = v {
                        let mut e = StringStringEntryProto::new();
                        e.set_key(k.into());
                        e.set_value(v);
                        t.external_data.push(e);
                    }
                }
                t.set_data_location(DataLocation::EXTERNAL);
            }
        }
        9 => {
            if let Some(i) = s.index(g.initializer.len()) {
                g.initializer.remove(i);
            }
        }
        10 => {
            if let Some(i) = s.index(g.initializer.len()) {
                let t = &mut g.initializer[i];
                let cut = s.arg() as usize;
                match t.raw_data.as_ref().map(|r| r.len()) {
                    Some(len) => t.raw_data = Some(Bytes::from(vec![0u8; len * cut / 256])),
                    None => t.float_data.truncate(t.float_data.len() * cut / 256),
                }
            }
        }
        11 => {
            if let Some(i) = s.index(g.initializer.len()) {
                g.initializer[i].set_name(name);
            }
        }
        12 => {
            // A cycle: node i reads a later node's output.
            if let (Some(i), Some(j)) = (s.index(g.node.len()), s.index(g.node.len())) {
                let (i, j) = (i.min(j), i.max(j));
                if let Some(out) = g.node[j].output.first().cloned() {
                    if let Some(k) = s.index(g.node[i].input.len()) {
                        g.node[i].input[k] = out;
                    }
                }
            }
        }
        _ => {
            // Value-info / graph-input elem types.
            if let Some(i) = s.index(g.value_info.len()) {
                let v = s.number() as i32;
                if let Some(type_proto::Value::TensorType(t)) = g.value_info[i].type_.mut_or_insert_default().value.as_mut() {
                    t.set_elem_type(v);
                }
            }
        }
    }
}

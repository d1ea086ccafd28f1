//! Block detection on every fixture made by the real exporters: block count,
//! family, residual chaining, KV slots, and agreement of the two detection
//! methods (names vs. structure) wherever a graph has names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use painters_graph::{detect, detect_graph_with, DetectionMethod, Family, NamingStyle, OnnxModel};

#[test]
fn every_fixture_has_the_expected_blocks() {
    for f in common::fixtures() {
        let model = common::load(f.model());
        let layout = detect(&model).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(layout.num_blocks(), f.num_blocks(), "{}", f.name);
        let family = match layout.family {
            Family::Decoder => "decoder",
            Family::Encoder => "encoder",
        };
        assert_eq!(family, f.family(), "{}", f.name);
        for w in layout.blocks.windows(2) {
            assert_eq!(w[0].output, w[1].input, "{}: blocks must chain on the residual stream", f.name);
        }
        for (i, b) in layout.blocks.iter().enumerate() {
            assert_eq!(b.index, i);
            assert!(!b.nodes.is_empty(), "{}: block {i} is empty", f.name);
            assert!(!b.initializers.is_empty(), "{}: block {i} reads no weights", f.name);
            match (&b.kv, f.with_past()) {
                (Some(kv), true) => {
                    let mut ins = kv.inputs.clone();
                    ins.sort();
                    assert_eq!(ins, vec![format!("past_key_values.{i}.key"), format!("past_key_values.{i}.value")], "{}", f.name);
                    let mut outs = kv.outputs.clone();
                    outs.sort();
                    assert_eq!(outs, vec![format!("present.{i}.key"), format!("present.{i}.value")], "{}", f.name);
                }
                (None, false) => {}
                (kv, _) => panic!("{}: block {i} has KV slot {kv:?}, expected with_past={}", f.name, f.with_past()),
            }
        }
        // Context never includes the residual stream or a KV input.
        for c in &layout.context {
            assert!(!layout.blocks.iter().any(|b| &b.input == c || &b.output == c), "{}: {c}", f.name);
            assert!(!c.starts_with("past_key_values"), "{}: {c}", f.name);
        }
        if f.expected["anonymous"].as_bool() == Some(true) {
            assert_eq!(layout.naming, NamingStyle::Anonymous, "{}", f.name);
            assert_eq!(layout.method, DetectionMethod::Structure, "{}", f.name);
        } else {
            assert_eq!(layout.method, DetectionMethod::Names, "{}", f.name);
        }
    }
}

#[test]
fn names_and_structure_agree_on_named_exports() {
    for f in common::fixtures() {
        let model = common::load(f.model());
        if f.expected["anonymous"].as_bool() == Some(true) {
            continue;
        }
        let by_names = detect_graph_with(model.graph(), Some(DetectionMethod::Names)).unwrap();
        let by_structure = detect_graph_with(model.graph(), Some(DetectionMethod::Structure))
            .unwrap_or_else(|e| panic!("{}: structure: {e}", f.name));
        assert_eq!(by_names.blocks, by_structure.blocks, "{}", f.name);
        assert_eq!(by_names.prologue, by_structure.prologue, "{}", f.name);
        assert_eq!(by_names.epilogue, by_structure.epilogue, "{}", f.name);
    }
}

#[test]
fn anonymous_export_matches_its_named_source() {
    // llama-anon is llama-optimum with every name replaced: the layout must be the same nodes.
    let named = OnnxModel::load(common::fixtures_dir().join("llama-optimum/model.onnx")).unwrap();
    let anon = OnnxModel::load(common::fixtures_dir().join("llama-anon/model.onnx")).unwrap();
    let (a, b) = (detect(&named).unwrap(), detect(&anon).unwrap());
    assert_eq!(a.num_blocks(), b.num_blocks());
    for (x, y) in a.blocks.iter().zip(&b.blocks) {
        assert_eq!(x.nodes, y.nodes);
    }
    assert_eq!(a.prologue, b.prologue);
    assert_eq!(a.epilogue, b.epilogue);
}

/// Block 2 of llama-optimum made to read a tensor computed inside block 0:
/// bare detection then merges blocks 0–2 into one (the residual chain no
/// longer passes their boundaries), and the declared-depth check (here the
/// layer indices in node names) refuses the model with both numbers
/// instead of handing on a misread layout.
#[test]
fn a_block_reading_another_blocks_tensor_is_refused_not_misread() {
    let dir = common::fixtures_dir().join("llama-optimum");
    let mut m = painters_graph::OnnxModel::load(dir.join("model.onnx")).unwrap();
    m.canonicalize().unwrap();
    let layout = painters_graph::detect(&m).unwrap();
    assert_eq!(layout.num_blocks(), 4);
    let g = m.graph();
    let inner = layout.blocks[0].nodes.iter().map(|&n| &g.node[n]).find(|n| n.op_type() == "MatMul").unwrap().output[0].clone();
    let reader = layout.blocks[2].nodes.iter().copied().find(|&n| g.node[n].op_type() == "Add").unwrap();
    m.graph_mut().node[reader].input[0] = inner;
    assert_ne!(painters_graph::detect(&m).unwrap().num_blocks(), 4, "the edit no longer changes what bare detection sees");
    let tmp = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(dir.join(f), tmp.path().join(f)).unwrap();
    }
    std::fs::write(tmp.path().join("model.onnx"), painters_graph::model::proto_bytes(&m.proto).unwrap()).unwrap();
    let err = painters_rewrite::open(&tmp.path().join("model.onnx"), false).unwrap_err().to_string();
    assert!(err.contains("detected 3 blocks") && err.contains("says 4") && err.contains("refusing"), "{err}");
    let line = common::fails(&["inspect", tmp.path().join("model.onnx").to_str().unwrap()]);
    assert!(line.contains("detected 3 blocks"), "{line}");
}

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

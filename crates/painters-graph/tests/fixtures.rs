//! painters-graph on the committed fixtures (real exporter output): every
//! model loads, canonicalizes and is detected with the depth its
//! `config.json` declares, blocks partition the graph and chain, and every
//! block of a model with a KV cache owns a slot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use painters_graph::{detect, Family, OnnxModel};

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("model.onnx").is_file()).collect();
    dirs.sort();
    assert!(dirs.len() >= 20, "fixtures missing under {}", root.display());
    dirs
}

fn declared_depth(dir: &Path) -> usize {
    let c: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    ["num_hidden_layers", "n_layers", "n_layer"].iter().find_map(|k| c[k].as_u64()).unwrap() as usize
}

#[test]
fn every_fixture_is_detected_with_its_declared_depth() {
    for dir in fixtures() {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut m = OnnxModel::load(dir.join("model.onnx")).unwrap();
        m.canonicalize().unwrap();
        let layout = detect(&m).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(layout.num_blocks(), declared_depth(&dir), "{name}");
        let encoder = ["bert", "roberta", "distilbert"].iter().any(|p| name.starts_with(p));
        assert_eq!(layout.family == Family::Encoder, encoder, "{name}: family {:?}", layout.family);
        // Prologue, blocks and epilogue never share a node.
        let mut seen = vec![false; m.graph().node.len()];
        for &n in layout.prologue.iter().chain(layout.blocks.iter().flat_map(|b| &b.nodes)).chain(&layout.epilogue) {
            assert!(!seen[n], "{name}: node #{n} in two sections");
            seen[n] = true;
        }
        for (i, b) in layout.blocks.iter().enumerate() {
            assert!(!b.nodes.is_empty(), "{name}: block {i} is empty");
            if i > 0 {
                assert_eq!(b.input, layout.blocks[i - 1].output, "{name}: block {i} does not read block {}'s output", i - 1);
            }
        }
        let kv = m.graph().input.iter().any(|v| painters_graph::conventions::kv::is_past(v.name()));
        assert_eq!(layout.blocks.iter().all(|b| b.kv.is_some()), kv, "{name}: KV slots");
    }
}

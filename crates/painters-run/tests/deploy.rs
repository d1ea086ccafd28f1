//! Deployment formats: what a model declares about its depth is checked
//! against detection (a disagreement is refused in one line, in every
//! command that reads blocks), an op painters does not understand on the
//! residual stream is refused by name, and the configuration files of a
//! rewritten folder describe the graph in it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::path::{Path, PathBuf};

use painters_graph::OnnxModel;

use common::{fails, painters};

/// A copy of a fixture folder (model, weights, configuration and tokenizer files).
fn copy_fixture(name: &str, dest: &Path) -> PathBuf {
    let dir = common::fixtures_dir().join(name);
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dest.join(p.file_name().unwrap())).unwrap();
        }
    }
    dest.join("model.onnx")
}

fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_declared_depth_that_disagrees_is_refused_in_one_line() {
    for (fixture, file, pointer) in [
        ("llama-genai", "config.json", "/num_hidden_layers"),
        ("llama-genai", "genai_config.json", "/model/decoder/num_hidden_layers"),
        ("bert-ortopt", "config.json", "/num_hidden_layers"),
        ("llama-optimum-past", "config.json", "/num_hidden_layers"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let model = copy_fixture(fixture, tmp.path());
        let m = model.to_str().unwrap();
        let (code, _, err) = painters(&["inspect", m]);
        assert_eq!(code, 0, "{fixture}: the unmodified folder must pass: {err}");
        edit_json(&tmp.path().join(file), |v| *v.pointer_mut(pointer).unwrap() = serde_json::Value::from(30));
        let out = tmp.path().join("out");
        for args in [
            vec!["inspect", m],
            vec!["rewrite", m, "--plan", "0", "-o", out.to_str().unwrap()],
            vec!["plan", "--preset", "skip", "--model", m, "--n", "1"],
        ] {
            let line = fails(&args);
            assert!(line.contains("30") && line.contains(file) && line.contains("detected"), "{fixture} {file}: {line}");
        }
        assert!(!out.exists(), "{fixture}: nothing may be written");
    }
}

#[test]
fn kv_inputs_and_layer_names_are_declarations_too() {
    // Drop one layer's KV inputs from the graph inputs' view by renaming them: the model
    // then declares 3 caches for 4 blocks, and one block owns no cache.
    let tmp = tempfile::tempdir().unwrap();
    let model = copy_fixture("llama-genai", tmp.path());
    let mut m = OnnxModel::load(&model).unwrap();
    let g = m.proto.graph.as_mut().unwrap();
    for name in ["past_key_values.3.key", "past_key_values.3.value"] {
        let new = name.replace("past_key_values.3", "cache3");
        for v in g.input.iter_mut().filter(|v| v.name() == name) {
            v.set_name(new.clone());
        }
        for n in &mut g.node {
            for t in n.input.iter_mut().filter(|t| *t == name) {
                t.clone_from(&new);
            }
        }
    }
    let edited = tmp.path().join("edited.onnx");
    m.save(&edited).unwrap();
    let line = fails(&["inspect", edited.to_str().unwrap()]);
    assert!(line.contains("KV-cache inputs") && line.contains("detected 4 blocks"), "{line}");
}

#[test]
fn an_unknown_fused_op_on_the_residual_stream_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let model = copy_fixture("llama-genai", tmp.path());
    let mut m = OnnxModel::load(&model).unwrap();
    let g = m.proto.graph.as_mut().unwrap();
    let node = g.node.iter_mut().find(|n| n.name() == "/model/layers.1/attn/GroupQueryAttention").unwrap();
    node.set_op_type("SparseAttention".into());
    let edited = tmp.path().join("edited.onnx");
    m.save(&edited).unwrap();
    let line = fails(&["inspect", edited.to_str().unwrap()]);
    assert!(line.contains("com.microsoft:SparseAttention") && line.contains("/model/layers.1/attn/GroupQueryAttention"), "{line}");
}

/// A rewritten folder's configuration files follow its schedule, and the
/// folder reads back (its declarations agree with what it holds).
#[test]
fn rewritten_folders_describe_their_graph() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::fixtures_dir().join("llama-genai");
    for (plan, instances, blocks) in [("0-3,2-3", 6, 6), ("0,[1-2]*2,3", 6, 4), ("0,3", 2, 2)] {
        let out = tmp.path().join(plan.replace([',', '[', ']', '*'], "_"));
        let (code, _, err) = painters(&["rewrite", src.to_str().unwrap(), "--plan", plan, "-o", &format!("{}/", out.display())]);
        assert_eq!(code, 0, "{plan}: {err}");
        let config = read_json(&out.join("config.json"));
        assert_eq!(config["num_hidden_layers"], instances, "{plan}");
        assert_eq!(config["painters"]["source_num_hidden_layers"], 4, "{plan}");
        assert_eq!(config["painters"]["schedule"].as_array().unwrap().len(), instances, "{plan}");
        let genai = read_json(&out.join("genai_config.json"));
        assert_eq!(genai["model"]["decoder"]["num_hidden_layers"], instances, "{plan}");
        assert_eq!(genai["model"]["decoder"]["filename"], "model.onnx", "{plan}");
        assert!(genai.get("painters").is_none());
        // Everything else is the source's.
        let source = read_json(&src.join("genai_config.json"));
        assert_eq!(genai["search"], source["search"]);
        assert_eq!(genai["model"]["decoder"]["head_size"], source["model"]["decoder"]["head_size"]);
        let (code, text, err) = painters(&["inspect", out.to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{plan}: read back: {err}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["num_blocks"], blocks, "{plan}");
        let kv = v["inputs"].as_array().unwrap().iter().filter(|i| i["name"].as_str().unwrap().starts_with("past_key_values.")).count();
        assert_eq!(kv, 2 * instances, "{plan}: one KV slot per instance");
    }
}

/// The identity plan on each deployment fixture gives back the source's
/// fused nodes (same op types, same count; bit-identical outputs are checked
/// for every fixture in rewrite.rs).
#[test]
fn identity_keeps_the_fused_nodes() {
    for name in ["llama-genai", "llama-genai-int4", "bert-ortopt"] {
        let tmp = tempfile::tempdir().unwrap();
        let src = common::fixtures_dir().join(name);
        let out = tmp.path().join("id");
        let t = common::fixtures().into_iter().find(|f| f.name == name).unwrap().num_blocks();
        let (code, _, err) = painters(&["rewrite", src.to_str().unwrap(), "--plan", &format!("0-{}", t - 1), "-o", &format!("{}/", out.display())]);
        assert_eq!(code, 0, "{name}: {err}");
        let ops = |p: &Path| {
            let m = OnnxModel::load(p).unwrap();
            let mut v: Vec<String> = m.graph().node.iter().map(|n| format!("{}:{}", n.domain(), n.op_type())).collect();
            v.sort();
            v
        };
        assert_eq!(ops(&src.join("model.onnx")), ops(&out.join("model.onnx")), "{name}");
    }
}

/// One definition of a valid input model, in every command: an undefined
/// input or a second producer of a tensor is one line and nothing written; a
/// graph merely out of topological order is sorted (the same in inspect,
/// rewrite, eval).
#[test]
fn every_command_agrees_on_what_a_valid_model_is() {
    let tmp = tempfile::tempdir().unwrap();
    let src = copy_fixture("llama-optimum", tmp.path());
    let data = common::fixtures_dir().join("../data/text.txt");
    let variant = |name: &str, edit: &dyn Fn(&mut painters_graph::proto::onnx::GraphProto)| {
        let mut m = OnnxModel::load(&src).unwrap();
        edit(m.proto.graph.as_mut().unwrap());
        let p = tmp.path().join(name);
        m.save(&p).unwrap();
        p
    };
    let undefined = variant("undefined.onnx", &|g| {
        let n = g.node.iter_mut().find(|n| n.name() == "/model/layers.1/self_attn/q_proj/MatMul").unwrap();
        n.input[0] = "nowhere".into();
    });
    let duplicate = variant("duplicate.onnx", &|g| {
        let out = g.node.iter().find(|n| n.name() == "/model/layers.1/self_attn/q_proj/MatMul").unwrap().output[0].clone();
        let n = g.node.iter_mut().find(|n| n.name() == "/model/layers.1/self_attn/k_proj/MatMul").unwrap();
        n.output[0] = out;
    });
    let unsorted = variant("unsorted.onnx", &|g| g.node.reverse());
    for (bad, what) in [(&undefined, "nothing produces it"), (&duplicate, "produced more than once")] {
        let b = bad.to_str().unwrap();
        let out = tmp.path().join("out.onnx");
        for args in [
            vec!["inspect", b],
            vec!["rewrite", b, "--plan", "0-3", "-o", out.to_str().unwrap()],
            vec!["eval", b, "--task", "perplexity", "--data", data.to_str().unwrap(), "--window", "8", "--max-tokens", "16"],
        ] {
            let line = fails(&args);
            assert!(line.contains(what), "{args:?}: {line}");
        }
        assert!(!out.exists());
    }
    let u = unsorted.to_str().unwrap();
    let (code, _, err) = painters(&["inspect", u]);
    assert_eq!(code, 0, "{err}");
    let out = tmp.path().join("sorted.onnx");
    let (code, _, err) = painters(&["rewrite", u, "--plan", "0-3", "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let reference = common::fixtures().into_iter().find(|f| f.name == "llama-optimum").unwrap().reference();
    assert_eq!(common::run(&out, &reference.inputs), common::run(&src, &reference.inputs), "sorting changes no output");
}

/// A one-block rewrite of a deployment graph reads back as one block (the ORT
/// optimizer renames fused nodes generically, so few node names carry the
/// module path; their outputs do).
#[test]
fn one_block_rewrites_read_back() {
    for name in ["bert-ortopt", "llama-genai", "llama-genai-int4"] {
        let tmp = tempfile::tempdir().unwrap();
        let src = common::fixtures_dir().join(name);
        let out = format!("{}/", tmp.path().join("one").display());
        let (code, _, err) = painters(&["rewrite", src.to_str().unwrap(), "--plan", "1", "-o", &out]);
        assert_eq!(code, 0, "{name}: {err}");
        let (code, text, err) = painters(&["inspect", &out, "--json"]);
        assert_eq!(code, 0, "{name}: {err}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["num_blocks"], 1, "{name}");
    }
}

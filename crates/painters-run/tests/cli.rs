//! The `painters` binary on good and bad input: bad input gives exactly one
//! line on stderr and a non-zero exit, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::path::Path;

use painters_graph::OnnxModel;

use common::{fails, painters};

#[test]
fn inspect_json_reports_blocks_and_residuals() {
    for f in common::fixtures() {
        let (code, out, err) = painters(&["inspect", f.dir.to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{}: {err}", f.name);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["num_blocks"].as_u64().unwrap() as usize, f.num_blocks(), "{}", f.name);
        assert_eq!(v["family"], f.expected["family"], "{}", f.name);
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), f.num_blocks());
        for (i, b) in blocks.iter().enumerate() {
            assert_eq!(b["index"].as_u64().unwrap() as usize, i);
            assert!(b["input"].is_string() && b["output"].is_string());
        }
        for key in ["context", "inputs", "outputs"] {
            assert!(v[key].is_array(), "{}: {key}", f.name);
        }
        // The readable form works too.
        let (code, text, _) = painters(&["inspect", f.model().to_str().unwrap()]);
        assert_eq!(code, 0);
        assert!(text.contains(&format!("{} blocks", f.num_blocks())), "{}: {text}", f.name);
    }
}

#[test]
fn inspect_snapshots() {
    // The inspect report of each fixture is committed; UPDATE_SNAPSHOTS=1 rewrites them.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    for f in common::fixtures() {
        let (code, out, err) = painters(&["inspect", f.model().to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{err}");
        let mut v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["model"] = serde_json::Value::from(format!("tests/fixtures/{}/model.onnx", f.name));
        let text = serde_json::to_string_pretty(&v).unwrap() + "\n";
        let snap = dir.join(format!("{}.inspect.json", f.name));
        if update {
            std::fs::write(&snap, &text).unwrap();
            continue;
        }
        // A missing snapshot fails (a test that writes what it should compare with cannot fail).
        let expected = std::fs::read_to_string(&snap)
            .unwrap_or_else(|_| panic!("{}: no snapshot {}; run with UPDATE_SNAPSHOTS=1 and review it", f.name, snap.display()));
        if expected != text {
            let diff: Vec<String> = expected
                .lines()
                .zip(text.lines())
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .take(5)
                .map(|(i, (a, b))| format!("line {}: -{a} +{b}", i + 1))
                .collect();
            panic!("{}: inspect output changed; rerun with UPDATE_SNAPSHOTS=1 if intended\n{}", f.name, diff.join("\n"));
        }
    }
}

#[test]
fn not_onnx() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("notes.onnx");
    std::fs::write(&p, "this is a text file, not a model\n").unwrap();
    let err = fails(&["inspect", p.to_str().unwrap()]);
    assert!(err.contains("is not an ONNX model"), "{err}");
    let empty = tmp.path().join("empty.onnx");
    std::fs::write(&empty, "").unwrap();
    assert!(fails(&["inspect", empty.to_str().unwrap()]).contains("empty"));
    assert!(fails(&["inspect", tmp.path().join("missing.onnx").to_str().unwrap()]).contains("cannot read"));
}

#[test]
fn truncated_file() {
    let tmp = tempfile::tempdir().unwrap();
    let src = std::fs::read(common::fixtures_dir().join("llama-optimum/model.onnx")).unwrap();
    for cut in [src.len() / 2, src.len() - 7, 100] {
        let p = tmp.path().join("cut.onnx");
        std::fs::write(&p, &src[..cut]).unwrap();
        let err = fails(&["inspect", p.to_str().unwrap()]);
        assert!(err.contains("is not an ONNX model") || err.contains("no transformer blocks"), "{cut}: {err}");
    }
}

#[test]
fn graph_without_blocks() {
    let m = painters_graph::testing::GraphBuilder::new()
        .input_untyped("input_ids")
        .output_untyped("y")
        .node("Identity", &["input_ids"], &["y"])
        .name("id")
        .model(17);
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("tiny.onnx");
    OnnxModel::from_proto(m, tmp.path()).unwrap().save(&p).unwrap();
    let err = fails(&["inspect", p.to_str().unwrap()]);
    assert!(err.contains("no transformer blocks found"), "{err}");
}

#[test]
fn missing_external_data() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(common::fixtures_dir().join("llama-dynamo/model.onnx"), tmp.path().join("model.onnx")).unwrap();
    let err = fails(&["inspect", tmp.path().join("model.onnx").to_str().unwrap()]);
    assert!(err.contains("is missing"), "{err}");
}

#[test]
fn escaping_external_locations() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::fixtures_dir().join("llama-optimum-extdata");
    let model = OnnxModel::load(src.join("model.onnx")).unwrap();
    assert!(model.has_external_data());
    for (location, needle) in [("../weights.bin", "'..' is not allowed"), ("/etc/weights.bin", "is absolute")] {
        let mut bad = model.clone();
        for t in &mut bad.graph_mut().initializer {
            for e in &mut t.external_data {
                if e.key() == "location" {
                    e.set_value(location.to_string());
                }
            }
        }
        let p = tmp.path().join("bad.onnx");
        std::fs::write(&p, bad.to_bytes().unwrap()).unwrap();
        let err = fails(&["inspect", p.to_str().unwrap()]);
        assert!(err.contains(needle), "{location}: {err}");
    }
}

#[test]
fn missing_ort_library_is_one_line() {
    let f = &common::fixtures()[0];
    let err = fails(&[
        "--ort-lib",
        "/nonexistent/libonnxruntime.so",
        "run",
        f.model().to_str().unwrap(),
        "--inputs",
        f.dir.join("reference.json").to_str().unwrap(),
    ]);
    assert!(err.contains("does not exist"), "{err}");
}

/// A nested error prints each link of its chain once, joined by ": ": a
/// variant prints its own context and chains its source without printing
/// it, so nothing needs de-duplicating.
#[test]
fn a_nested_error_prints_each_piece_once() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::fixtures_dir().join("llama-optimum");
    // run: the reference file's Error::Io, then the I/O error.
    let missing = tmp.path().join("missing.json");
    let line = fails(&["run", model.to_str().unwrap(), "--inputs", missing.to_str().unwrap()]);
    assert_eq!(line.trim_end(), format!("painters: error: {}: No such file or directory (os error 2)", missing.display()));
    // rewrite: RewriteError::Graph (transparent), GraphError::Write naming the folder, then the I/O error.
    let file = tmp.path().join("file");
    std::fs::write(&file, "").unwrap();
    let out = file.join("sub/out.onnx");
    let line = fails(&["rewrite", model.to_str().unwrap(), "--plan", "0-3", "-o", out.to_str().unwrap()]);
    assert_eq!(line.trim_end(), format!("painters: error: cannot write {}: Not a directory (os error 20)", file.join("sub").display()));
    // inspect: its context (the path), GraphError::Io, the I/O error: each once.
    let line = fails(&["inspect", missing.to_str().unwrap()]);
    assert_eq!(line.matches("cannot read").count(), 1, "{line}");
    assert_eq!(line.matches("No such file or directory").count(), 1, "{line}");
}

#[test]
fn run_compares_with_reference() {
    let f = common::fixtures().into_iter().find(|f| f.name == "llama-optimum").unwrap();
    let (code, out, err) = painters(&[
        "run",
        f.model().to_str().unwrap(),
        "--inputs",
        f.dir.join("reference.json").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let d = v["outputs"][0]["max_abs_diff"].as_f64().unwrap();
    assert!(d < 1e-4, "{d}");
}

#[test]
fn plan_prints_presets_and_canonical_plans() {
    let (code, out, err) = painters(&["plan", "--preset", "looped-parallel", "--layers", "32", "--n", "11", "--loops", "3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "0-11,[12-20]*3,21-31");
    let model = common::fixtures_dir().join("llama-optimum");
    let (code, out, _) = painters(&["plan", "--preset", "swap", "--index", "1", "--model", model.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["plan"], "0,2,1,3");
    assert_eq!(v["layers"], 4);
    assert_eq!(v["schedule"], serde_json::json!([0, 2, 1, 3]));
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("plan.toml");
    std::fs::write(&f, "plan = \"0, 1,2, 3*2\"\n").unwrap();
    let (code, out, _) = painters(&["plan", "--plan-file", f.to_str().unwrap(), "--layers", "4"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "0-2,3*2");
    let err = fails(&["plan", "--preset", "skip", "--layers", "32", "--n", "16"]);
    assert!(err.contains("no middle layer"), "{err}");
    let err = fails(&["plan", "--preset", "sideways", "--layers", "32", "--n", "1"]);
    assert!(err.contains("unknown preset"), "{err}");
}

/// Two painters processes never write one folder at once: a folder locked by
/// a live process is refused in one line; a lock left by a killed process is
/// taken over; the lock is gone when the command ends.
#[test]
fn a_folder_in_use_is_refused_and_a_stale_lock_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let lock = out.join(painters_graph::lock::LOCK_FILE);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into());
    let m = common::fixtures_dir().join("llama-optimum");
    let target = format!("{}/", out.display());
    let rewrite = ["rewrite", m.to_str().unwrap(), "--plan", "0,3", "-o", &target];
    // pid 1 is alive: the folder is in use
    std::fs::write(&lock, format!("1\n{host}\n0\nsweep\n")).unwrap();
    let line = fails(&rewrite);
    assert!(line.contains("in use by another painters sweep (pid 1)"), "{line}");
    assert!(!out.join("model.onnx").exists());
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/suite.json");
    let line = fails(&["sweep", "--model", m.to_str().unwrap(), "--n-range", "0..0", "--tasks", suite.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(line.contains("in use by another painters sweep"), "{line}");
    // a lock whose process is gone is taken over
    std::fs::write(&lock, format!("999999999\n{host}\n0\nsweep\n")).unwrap();
    let (code, _, err) = painters(&rewrite);
    assert_eq!(code, 0, "{err}");
    assert!(out.join("model.onnx").is_file());
    assert!(!lock.exists(), "the lock is released");
}

/// One definition of a valid input model: a node reading a tensor nothing
/// produces, a tensor produced twice, and a weight whose header claims more
/// bytes than it holds are refused by inspect, rewrite, eval, sweep and
/// prune alike, with one line, and nothing is written.
#[test]
fn invalid_models_are_refused_by_every_command_and_nothing_is_written() {
    use painters_graph::proto::onnx::ModelProto;
    type Edit = fn(&mut ModelProto);
    let cases: [(&str, Edit, &str); 3] = [
        (
            "undefined",
            |m| {
                let g = m.graph.as_mut().unwrap();
                let k = (g.node.len() / 2..g.node.len()).find(|&k| !g.node[k].input.is_empty()).unwrap();
                g.node[k].input[0] = "nowhere".into();
            },
            "'nowhere' but nothing produces it",
        ),
        (
            "duplicate",
            |m| {
                let g = m.graph.as_mut().unwrap();
                let k = g.node.len() / 2;
                let o = g.node[k - 1].output[0].clone();
                let mut copy = g.node[k - 1].clone();
                copy.set_name("copy".into());
                copy.output = vec![o];
                g.node.insert(k, copy);
            },
            "is produced more than once",
        ),
        (
            "header",
            |m| {
                let g = m.graph.as_mut().unwrap();
                let t = g.initializer.iter_mut().find(|t| t.raw_data.as_ref().is_some_and(|r| r.len() > 64) && !t.dims.is_empty()).unwrap();
                t.dims[0] *= 2;
            },
            "but it holds",
        ),
    ];
    let src = common::fixtures_dir().join("llama-optimum");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (text, suite) = (root.join("tests/data/text.txt"), root.join("tests/data/suite.json"));
    for (name, edit, expect) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("model");
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["config.json", "tokenizer.json"] {
            if src.join(f).exists() {
                std::fs::copy(src.join(f), dir.join(f)).unwrap();
            }
        }
        let mut proto = OnnxModel::load(src.join("model.onnx")).unwrap().proto.clone();
        edit(&mut proto);
        std::fs::write(dir.join("model.onnx"), painters_graph::model::proto_bytes(&proto).unwrap()).unwrap();
        let d = dir.to_str().unwrap();
        let out = tmp.path().join("out");
        let o = out.to_str().unwrap();
        let commands: [Vec<&str>; 5] = [
            vec!["inspect", d],
            vec!["rewrite", d, "--plan", "0-1", "-o", o],
            vec!["eval", d, "--task", "perplexity", "--data", text.to_str().unwrap()],
            vec!["sweep", "--model", d, "--n-range", "0..0", "--tasks", suite.to_str().unwrap(), "--out", o],
            vec!["prune", d, "--budget", "1", "--method", "bi", "--calib", text.to_str().unwrap(), "-o", o],
        ];
        for args in commands {
            let err = fails(&args);
            assert!(err.contains(expect), "{name}: {args:?}: {err}");
            assert!(!out.exists(), "{name}: {args:?} wrote {}", out.display());
        }
    }
}

/// Output piped into a reader that has already gone (`painters ... | head -n 1`)
/// ends painters quietly by SIGPIPE, as other Unix tools end, not with a panic.
#[cfg(unix)]
#[test]
fn a_closed_output_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let f = common::fixtures().into_iter().find(|f| f.name == "llama-dynamo").unwrap();
    // The read end closes before painters writes: its first line comes after inspecting the model.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_painters"))
        .args(["inspect", f.dir.to_str().unwrap(), "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.status.success() || o.status.signal() == Some(13), "{:?}: {err}", o.status);
}

/// Numbers no run can use are refused by every command that takes them, with
/// one line and before anything is written: ONNX Runtime would start any
/// number of threads asked for (999999 ran for minutes), a batch of 0 rows
/// or a limit of 0 examples means nothing (the metrics came out null), a
/// window past the positions the model declares scores an extrapolation, a start layer N the model is too shallow for gave a sweep of
/// the full model alone, and an output "folder" that is a file.
#[test]
fn unusable_numbers_and_paths_are_refused_before_anything_is_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model = common::fixtures_dir().join("llama-dynamo");
    let (m, text, suite) = (model.to_str().unwrap(), root.join("tests/data/text.txt"), root.join("tests/data/suite.json"));
    let (text, suite) = (text.to_str().unwrap(), suite.to_str().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let cases: [(Vec<&str>, &str); 11] = [
        (vec!["eval", m, "--task", "perplexity", "--data", text, "--threads", "999999"], "expected 0 (ONNX Runtime's default) to 1024"),
        (vec!["run", m, "--inputs", text, "--threads", "1025"], "expected 0 (ONNX Runtime's default) to 1024"),
        (vec!["prune", m, "--budget", "1", "--calib", text, "--threads", "5000", "-o", o], "expected 0 (ONNX Runtime's default) to 1024"),
        (vec!["sweep", "--model", m, "--n-range", "0", "--tasks", suite, "--out", o, "--threads", "2000"], "expected 0 (ONNX Runtime's default) to 1024"),
        (vec!["eval", m, "--task", "perplexity", "--data", text, "--batch-size", "0"], "expected a whole number of at least 1"),
        (vec!["eval", m, "--task", "choice", "--data", suite, "--limit", "0"], "expected a whole number of at least 1"),
        (vec!["eval", m, "--task", "perplexity", "--data", text, "--window", "256"], "longer than the 128 positions the model declares"),
        (vec!["prune", m, "--budget", "1", "--method", "bi", "--calib", text, "--window", "200", "-o", o], "longer than the 128 positions the model declares"),
        (vec!["sweep", "--model", m, "--n-range", "0", "--tasks", suite, "--out", o, "--batch-size", "0"], "expected a whole number of at least 1"),
        (vec!["sweep", "--model", m, "--n-range", "2..9", "--tasks", suite, "--out", o], "no start layer N fits a model of 5 blocks"),
        (vec!["sweep", "--model", m, "--n-range", "0", "--tasks", suite, "--out", file.to_str().unwrap()], "is a file, not a folder"),
    ];
    for (args, expect) in cases {
        let err = fails(&args);
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
    // Without --window, perplexity windows are the 128 positions the fixture declares (not 512).
    let (code, out_json, err) = common::painters(&["eval", m, "--task", "perplexity", "--data", text, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out_json).unwrap();
    assert_eq!(v["config"]["task"]["window"], 128);
    // N values the model is too shallow for, beside ones it fits, are left out with a note.
    let (code, _, err) = common::painters(&["sweep", "--model", m, "--n-range", "1..3", "--presets", "skip", "--tasks", suite, "--out", o, "--threads", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("N = 2, 3 left out: a preset at N needs 2N + 2 blocks, and the model has 5"), "{err}");
}

/// An error ONNX Runtime returns from a run (here: a tokenizer whose ids lie
/// beyond the model's vocabulary) is one line: ONNX Runtime's own logger
/// printed it a second time. Where the model's config.json declares its
/// vocabulary, such a tokenizer is refused before it runs.
#[test]
fn an_onnx_runtime_error_is_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let tok = tmp.path().join("tokenizer.json");
    std::fs::write(
        &tok,
        r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":1000,"the":1001},"unk_token":"[UNK]"}}"#,
    )
    .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = root.join("tests/data/text.txt");
    // The model without its config.json, so nothing declares its vocabulary and the run itself fails.
    let model = tmp.path().join("model.onnx");
    for f in ["model.onnx", "model.onnx.data"] {
        std::fs::copy(common::fixtures_dir().join("llama-dynamo").join(f), tmp.path().join(f)).unwrap();
    }
    let eval = |model: &Path| fails(&["eval", model.to_str().unwrap(), "--task", "perplexity", "--data", text.to_str().unwrap(), "--tokenizer", tok.to_str().unwrap()]);
    let err = eval(&model);
    assert!(err.contains("indices element out of data bounds"), "{err}");
    // With the config.json that declares 256 rows, the tokenizer is refused before any run.
    let err = eval(&common::fixtures_dir().join("llama-dynamo"));
    assert!(err.contains("but the model declares vocab_size 256: not this model's tokenizer"), "{err}");
}

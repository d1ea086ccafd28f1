//! Shared helpers for the integration tests: the committed fixtures under
//! `tests/fixtures/` (made by `scripts/make_fixtures.py`), running models
//! with ONNX Runtime, and (`pieces`) a plan computed from a model's pieces.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod pieces;

use std::path::{Path, PathBuf};

use painters_run::reference::Reference;
use painters_run::{HostTensor, ModelSession, Runtime, SessionOptions};

/// A fixture folder and its `expected.json`.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub name: String,
    pub dir: PathBuf,
    pub expected: serde_json::Value,
}

impl Fixture {
    pub fn model(&self) -> PathBuf {
        self.dir.join("model.onnx")
    }

    pub fn num_blocks(&self) -> usize {
        self.expected["num_blocks"].as_u64().unwrap() as usize
    }

    pub fn family(&self) -> &str {
        self.expected["family"].as_str().unwrap()
    }

    pub fn with_past(&self) -> bool {
        self.expected["with_past"].as_bool().unwrap_or(false)
    }

    pub fn reference(&self) -> Reference {
        Reference::load(&self.dir.join("reference.json")).unwrap()
    }

    /// Copies the model (and its external data) into `dest`; returns the new model path.
    pub fn copy_to(&self, dest: &Path) -> PathBuf {
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_file() && (name.ends_with(".onnx") || name.ends_with(".data") || name.ends_with(".bin") || name.ends_with("_data")) {
                std::fs::copy(&p, dest.join(&name)).unwrap();
            }
        }
        dest.join("model.onnx")
    }
}

/// Loads a model in the canonical form detection works on (fused residual nodes split).
pub fn load(path: impl AsRef<Path>) -> painters_graph::OnnxModel {
    let mut m = painters_graph::OnnxModel::load(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()));
    m.canonicalize().unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()));
    m
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// Every committed fixture, by name.
pub fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixtures_dir()).expect("tests/fixtures exists") {
        let dir = entry.unwrap().path();
        let exp = dir.join("expected.json");
        if !exp.is_file() {
            continue;
        }
        let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&exp).unwrap()).unwrap();
        out.push(Fixture { name: dir.file_name().unwrap().to_string_lossy().to_string(), dir, expected });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 10, "expected the committed fixtures, found {}", out.len());
    out
}

pub fn runtime() -> &'static Runtime {
    Runtime::global(None).expect("ONNX Runtime library (run scripts/install-ort.sh)")
}

/// Runs `model` on `inputs` with ORT optimizations off (deterministic, as in golden tests).
pub fn run(model: &Path, inputs: &[(String, HostTensor)]) -> Vec<(String, HostTensor)> {
    run_with(model, inputs, 0)
}

pub fn run_with(model: &Path, inputs: &[(String, HostTensor)], opt: u8) -> Vec<(String, HostTensor)> {
    let opts = SessionOptions { threads: 1, optimization: opt, ..Default::default() };
    let mut s = ModelSession::open(runtime(), model, &opts).unwrap_or_else(|e| panic!("{}: {e}", model.display()));
    let feed = feed_for(&s.inputs, inputs);
    s.run(&feed).unwrap_or_else(|e| panic!("{}: {e}", model.display()))
}

/// Inputs for a session: by name from `inputs`; a KV slot the reference
/// does not have (`past_key_values.{s}.*`) gets slot 0's tensor.
pub fn feed_for(names: &[String], inputs: &[(String, HostTensor)]) -> Vec<(String, HostTensor)> {
    names
        .iter()
        .map(|name| {
            let found = inputs.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone()).or_else(|| {
                let parts: Vec<&str> = name.split('.').collect();
                if parts.len() == 3 && parts[0] == "past_key_values" {
                    let slot0 = format!("past_key_values.0.{}", parts[2]);
                    inputs.iter().find(|(n, _)| *n == slot0).map(|(_, t)| t.clone())
                } else {
                    None
                }
            });
            (name.clone(), found.unwrap_or_else(|| panic!("no input for '{name}'")))
        })
        .collect()
}

pub fn output<'a>(outs: &'a [(String, HostTensor)], name: &str) -> &'a HostTensor {
    &outs.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no output '{name}'")).1
}

/// Runs the `painters` binary: (exit code, stdout, stderr).
pub fn painters(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_painters")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Asserts a clean failure (non-zero exit, one `painters: error:` line, no panic) and returns the line.
pub fn fails(args: &[&str]) -> String {
    let (code, _, err) = painters(args);
    assert_ne!(code, 0, "{args:?} succeeded");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: expected one line, got: {err}");
    assert!(err.starts_with("painters: error: "), "{err}");
    err
}

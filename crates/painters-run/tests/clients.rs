//! Rewritten model folders in the client runtimes people load them with:
//! transformers.js (npm `@huggingface/transformers`, CPU onnxruntime-node) on
//! an optimum export, and onnxruntime-genai (the current release and the 0.11
//! line whose builder made the fixture) on a genai-builder export. For each
//! plan, the client's greedy generation with its KV cache must equal the same
//! greedy continuation by recomputation (whole sequence, empty past, every
//! step) in that client, and painters' own greedy decode. The clients are
//! installed by `scripts/install-clients.sh` (see `scripts/clients/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use painters_run::lm::{Greedy, LanguageModel};
use painters_run::{ModelSession, SessionOptions};

/// Prompt (`<s>The`) and length of the continuation. With this prompt every
/// continuation below changes token at least once in 16 steps (a constant
/// continuation could hide a broken cache).
const PROMPT: &[i64] = &[1, 84, 104, 101];
const NEW: usize = 16;

const INSTALL: &str = "run scripts/install-clients.sh (scripts/test.sh does)";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn clients_dir() -> PathBuf {
    root().join("scripts/clients")
}

/// A client runtime: how to start its script.
struct Client {
    name: String,
    program: PathBuf,
    script: &'static str,
    /// `PYTHONPATH` (the older onnxruntime-genai lives beside the venv's packages).
    pythonpath: Option<PathBuf>,
    /// The folder's config file and the JSON pointer of its layer count (for messages).
    config: (&'static str, &'static str),
}

impl Client {
    fn transformers_js() -> Self {
        let stamp = clients_dir().join("node_modules/.painters-clients.stamp");
        assert!(stamp.is_file(), "transformers.js is not installed ({} missing): {INSTALL}", stamp.display());
        // Node.js from PyPI, in the clients' venv (scripts/install-clients.sh)
        let node = root().join(".venv-clients/bin/node");
        assert!(node.is_file(), "Node.js is not installed ({} missing): {INSTALL}", node.display());
        Client { name: "transformers.js".into(), program: node, script: "tjs_generate.mjs", pythonpath: None, config: ("config.json", "/num_hidden_layers") }
    }

    /// onnxruntime-genai: `None` for the venv's own version (scripts/clients/requirements.txt),
    /// or an older one installed beside it by scripts/install-clients.sh.
    fn genai(old: Option<&str>) -> Self {
        let venv = root().join(".venv-clients");
        let stamp = venv.join(".painters-clients.stamp");
        assert!(stamp.is_file(), "onnxruntime-genai is not installed ({} missing): {INSTALL}", stamp.display());
        let pythonpath = old.map(|v| venv.join(format!("genai-{v}")));
        if let Some(p) = &pythonpath {
            assert!(p.is_dir(), "onnxruntime-genai {} is not installed ({} missing): {INSTALL}", old.unwrap(), p.display());
        }
        let name = format!("onnxruntime-genai {}", old.unwrap_or(GENAI_CURRENT));
        Client { name, program: venv.join("bin/python"), script: "genai_generate.py", pythonpath, config: ("genai_config.json", "/model/decoder/num_hidden_layers") }
    }

    /// Runs the script on `dir`: (cached, recomputed).
    fn run(&self, dir: &Path, prompt: &[i64]) -> Result<(Vec<i64>, Vec<i64>), String> {
        let ids: Vec<String> = prompt.iter().map(i64::to_string).collect();
        let mut cmd = Command::new(&self.program);
        cmd.arg(clients_dir().join(self.script)).arg(dir).args(["--ids", &ids.join(","), "--new", &NEW.to_string()]);
        if let Some(p) = &self.pythonpath {
            cmd.env("PYTHONPATH", p);
        }
        let out = cmd.output().map_err(|e| format!("{}: cannot start {cmd:?}: {e}: {INSTALL}", self.name))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            // The client's error line first (Node: `Error: …`; Python: `RuntimeError: …`).
            let is_error = |l: &&str| l.trim().split_once(": ").is_some_and(|(head, _)| head.ends_with("Error") && !head.contains(' '));
            let key = stderr.lines().rev().find(is_error).or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty())).unwrap_or("");
            return Err(format!(
                "{} failed on {}{}: {}\n--- stderr (last lines) ---\n{}",
                self.name,
                dir.display(),
                self.config_note(dir),
                key.trim(),
                tail(&stderr, 12)
            ));
        }
        let line = stdout.lines().last().unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{}: bad output line ({e}): {stdout}", self.name))?;
        let list = |k: &str| -> Vec<i64> { v[k].as_array().unwrap().iter().map(|t| t.as_i64().unwrap()).collect() };
        Ok((list("cached"), list("recomputed")))
    }

    /// What the folder's config says about the layer count against the graph's KV slots.
    fn config_note(&self, dir: &Path) -> String {
        let (file, pointer) = self.config;
        let layers = std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .and_then(|v| v.pointer(pointer).cloned());
        format!(" ({file} {pointer} = {}, the model has {} KV slots)", layers.map_or("missing".into(), |l| l.to_string()), kv_slots(dir))
    }

    /// Runs the client on `dir` and checks its tokens.
    fn check(&self, label: &str, dir: &Path) -> Result<(), String> {
        self.check_with(label, dir, PROMPT)
    }

    /// [`Self::check`] from `prompt`.
    fn check_with(&self, label: &str, dir: &Path, prompt: &[i64]) -> Result<(), String> {
        let (cached, recomputed) = self.run(dir, prompt)?;
        let name = &self.name;
        if cached.len() != NEW {
            return Err(format!("{name} {label}: {} tokens instead of {NEW}: {cached:?}", cached.len()));
        }
        if cached != recomputed {
            return Err(format!(
                "{name} {label}: generation with the KV cache differs from recomputation{}: cached {cached:?}, recomputed {recomputed:?}",
                self.config_note(dir)
            ));
        }
        if cached.iter().collect::<BTreeSet<_>>().len() < 2 {
            return Err(format!("{name} {label}: constant continuation {cached:?}; pick a PROMPT that exercises the cache"));
        }
        let ours = painters_greedy(&dir.join("model.onnx"), prompt);
        if cached != ours {
            return Err(format!("{name} {label}: tokens differ from painters' own greedy decode: {cached:?} vs {ours:?}"));
        }
        Ok(())
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn fixture_dir(name: &str) -> PathBuf {
    let dir = common::fixtures_dir().join(name);
    assert!(dir.join("model.onnx").is_file(), "fixture tests/fixtures/{name} is missing (no {})", dir.join("model.onnx").display());
    dir
}

/// `painters rewrite SRC --plan PLAN -o OUT/`.
fn rewrite(src: &Path, plan: &str, out: &Path) {
    let dest = format!("{}/", out.display());
    let (code, _, stderr) = common::painters(&["rewrite", src.to_str().unwrap(), "--plan", plan, "-o", &dest]);
    assert_eq!(code, 0, "painters rewrite {} --plan {plan}: {stderr}", src.display());
}

/// painters' own greedy decode of `model`, with the cache and by recomputation (they must agree).
fn painters_greedy(model: &Path, prompt: &[i64]) -> Vec<i64> {
    let opts = SessionOptions { threads: 1, ..Default::default() };
    let mut lm = LanguageModel::open(common::runtime(), model, &opts).unwrap_or_else(|e| panic!("{}: {e}", model.display()));
    let g = Greedy::new(NEW);
    let cached = lm.greedy(prompt, &g).unwrap_or_else(|e| panic!("{}: {e}", model.display())).tokens;
    let recomputed = lm.greedy(prompt, &Greedy { use_cache: false, ..g }).unwrap_or_else(|e| panic!("{}: {e}", model.display())).tokens;
    assert_eq!(cached, recomputed, "painters' own decode of {}: cached != recomputed", model.display());
    cached
}

/// KV slots of a model folder (`past_key_values.{s}.key` inputs), as ONNX Runtime sees them.
fn kv_slots(dir: &Path) -> String {
    let opts = SessionOptions { threads: 1, optimization: 0, ..Default::default() };
    match ModelSession::open(common::runtime(), &dir.join("model.onnx"), &opts) {
        Ok(s) => s.inputs.iter().filter(|n| n.starts_with("past_key_values.") && n.ends_with(".key")).count().to_string(),
        Err(e) => format!("? ({e})"),
    }
}

/// Runs every client on the fixture (`plan` None) or on its rewrite by `plan`; panics with every failure.
fn check_all(clients: &[Client], fixture: &str, plan: Option<&str>) {
    let src = fixture_dir(fixture);
    let tmp = tempfile::tempdir().unwrap();
    let (dir, label) = match plan {
        None => (src.clone(), fixture.to_string()),
        Some(p) => {
            let out = tmp.path().join("model");
            rewrite(&src, p, &out);
            (out, format!("{fixture} --plan {p}"))
        }
    };
    let errors: Vec<String> = clients.iter().filter_map(|c| c.check(&label, &dir).err()).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
}

// ---------------------------------------------------------------- transformers.js

const OPTIMUM: &str = "llama-optimum-past";

fn tjs(plan: Option<&str>) {
    check_all(&[Client::transformers_js()], OPTIMUM, plan);
}

#[test]
fn transformers_js_runs_the_unmodified_fixture() {
    tjs(None);
}

#[test]
fn transformers_js_runs_a_skip_plan() {
    tjs(Some("0,2-3"));
}

#[test]
fn transformers_js_runs_more_instances_than_the_source_has() {
    tjs(Some("0-3,2-3"));
}

#[test]
fn transformers_js_runs_a_looped_parallel_plan() {
    tjs(Some("0,[1-2]*2,3"));
}

// ---------------------------------------------------------------- onnxruntime-genai

const GENAI: &str = "llama-genai";
/// The venv's onnxruntime-genai (sizes the KV cache from the graph's inputs), and the
/// 0.11 line that made the fixture (sizes it from genai_config.json's num_hidden_layers).
const GENAI_CURRENT: &str = "0.18.0";
const GENAI_OLD: &str = "0.11.4";

fn genai(plan: Option<&str>) {
    assert!(fixture_dir(GENAI).join("genai_config.json").is_file(), "tests/fixtures/{GENAI}: no genai_config.json");
    check_all(&[Client::genai(None), Client::genai(Some(GENAI_OLD))], GENAI, plan);
}

#[test]
fn genai_runs_the_unmodified_fixture() {
    genai(None);
}

#[test]
fn genai_runs_the_identity_plan() {
    genai(Some("0-3"));
}

#[test]
fn genai_runs_a_skip_plan() {
    genai(Some("0,2-3"));
}

#[test]
fn genai_runs_more_instances_than_the_source_has() {
    genai(Some("0-3,2-3"));
}

#[test]
fn genai_runs_a_looped_parallel_plan() {
    genai(Some("0,[1-2]*2,3"));
}

// ---------------------------------------------------------------- every preset, both clients

/// The paper's presets for 4 blocks with the 2 centred middle blocks (1 and 2)
/// affected, plus the neighbour swap and skip-one, each as `painters plan` prints it.
fn presets() -> Vec<String> {
    let mut out = Vec::new();
    for args in [
        &["--preset", "skip", "--m", "2"][..],
        &["--preset", "middle-repeat", "--m", "2"],
        &["--preset", "reverse", "--m", "2"],
        &["--preset", "random", "--m", "2", "--seed", "3"],
        &["--preset", "parallel", "--m", "2"],
        &["--preset", "looped-parallel", "--m", "2", "--loops", "3"],
        &["--preset", "skip-one", "--index", "2"],
        &["--preset", "swap", "--index", "1"],
    ] {
        let mut a = vec!["plan", "--layers", "4"];
        a.extend_from_slice(args);
        let (code, text, err) = common::painters(&a);
        assert_eq!(code, 0, "painters {a:?}: {err}");
        out.push(text.trim().to_string());
    }
    out
}

/// Prompts tried in turn until the continuation is not constant (random tiny models
/// often repeat one token; a constant continuation could hide a broken cache).
const PROMPTS: [&[i64]; 5] = [PROMPT, &[1, 17, 42, 99, 5], &[1, 200, 3, 77], &[1, 60, 61, 62, 63, 64], &[1, 128, 9, 250, 31, 4]];

/// Runs `client` on the rewrite of `fixture` by `plan` from the first prompt that
/// gives a non-constant continuation.
fn check_preset(client: &Client, fixture: &str, plan: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("model");
    rewrite(&fixture_dir(fixture), plan, &out);
    let label = format!("{fixture} --plan {plan}");
    let mut errors = Vec::new();
    for prompt in PROMPTS {
        match client.check_with(&label, &out, prompt) {
            Ok(()) => return,
            Err(e) if e.contains("constant continuation") => errors.push(e),
            Err(e) => panic!("{e}"),
        }
    }
    panic!("every prompt gave a constant continuation:\n{}", errors.join("\n"));
}

#[test]
fn every_preset_runs_in_transformers_js_and_onnxruntime_genai() {
    let plans = presets();
    assert!(plans.iter().any(|p| p.contains('[')) && plans.iter().any(|p| p.contains('*')), "{plans:?}");
    let (tjs, genai_new, genai_old) = (Client::transformers_js(), Client::genai(None), Client::genai(Some(GENAI_OLD)));
    for plan in &plans {
        check_preset(&tjs, OPTIMUM, plan);
        check_preset(&genai_new, GENAI, plan);
        check_preset(&genai_old, GENAI, plan);
    }
}

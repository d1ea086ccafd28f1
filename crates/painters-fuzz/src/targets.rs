//! The fuzz targets: each feeds its bytes to one parser as the command line
//! would and checks what a valid result must satisfy; every error must be
//! one line ([`crate::one_line`]). Inputs that are not UTF-8 where the
//! parser reads text are refused before it, as `read_to_string` would.
use std::path::{Path, PathBuf};

use bytes::Bytes;
use painters_graph::OnnxModel;
use painters_rewrite::plan::{MAX_DEPTH, MAX_INSTANCES};
use painters_rewrite::{parse, Plan};
use painters_run::eval::data;
use painters_run::sweep::suite::Suite;
use painters_run::tokenizer::Tokenizer;

use crate::{one_line, Violation};

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Block count the targets validate plans against.
const BLOCKS: usize = 64;

/// A plan that was accepted: within the limits, lowerable, and its checks
/// never panic.
fn accepted_plan(what: &str, plan: &Plan) -> Result<(), Violation> {
    let _ = plan.to_string();
    match plan.validate(BLOCKS) {
        Err(e) => one_line(what, &e),
        Ok(()) => {
            if plan.instances() > MAX_INSTANCES || plan.depth() > MAX_DEPTH {
                return Err(Violation(format!("{what}: validate accepted {} instances at depth {}", plan.instances(), plan.depth())));
            }
            let blocks = plan.blocks();
            if blocks.len() != plan.instances() {
                return Err(Violation(format!("{what}: unrolled to {} instances, the plan has {}", blocks.len(), plan.instances())));
            }
            match blocks.iter().find(|&&b| b >= BLOCKS) {
                Some(b) => Err(Violation(format!("{what}: validate accepted block {b} of {BLOCKS}"))),
                None => Ok(()),
            }
        }
    }
}

/// Plan strings: a parsed plan prints to its canonical string, which parses
/// back to the same plan and prints the same again.
pub fn plan(data: &[u8]) -> Result<(), Violation> {
    let Some(s) = text(data) else { return Ok(()) };
    let plan = match parse(s) {
        Ok(p) => p,
        Err(e) => return one_line("plan", &e),
    };
    if plan.instances() > MAX_INSTANCES {
        return Err(Violation(format!("plan: parsed {} instances, past the limit", plan.instances())));
    }
    let canon = plan.to_string();
    match parse(&canon) {
        Ok(back) if back == plan => {}
        Ok(back) => return Err(Violation(format!("plan: {s:?} prints as {canon:?}, which parses to a different plan ({back})"))),
        Err(e) => return Err(Violation(format!("plan: {s:?} prints as {canon:?}, which does not parse: {e}"))),
    }
    accepted_plan("plan", &plan)
}

/// Plan files: the first byte chooses TOML (odd) or JSON (even).
pub fn plan_file(data: &[u8]) -> Result<(), Violation> {
    let Some((&kind, rest)) = data.split_first() else { return Ok(()) };
    let Some(s) = text(rest) else { return Ok(()) };
    let path = Path::new(if kind % 2 == 1 { "plan.toml" } else { "plan.json" });
    match painters_rewrite::planfile::from_str(path, s) {
        Err(e) => one_line("plan file", &e),
        Ok(plan) => accepted_plan("plan file", &plan),
    }
}

/// The directory arbitrary model bytes resolve external data against: a
/// fixture with an external-data file, so references can hit a real one.
fn bytes_dir() -> PathBuf {
    crate::fixtures::root().join("llama-dynamo")
}

/// Arbitrary bytes as `model.onnx`.
pub fn model_bytes(data: &[u8]) -> Result<(), Violation> {
    pipeline(data.to_vec(), &bytes_dir())
}

/// A mutation script over a fixture ([`crate::mutate_model`]).
pub fn model_mutate(data: &[u8]) -> Result<(), Violation> {
    match crate::mutate_model::apply(data) {
        Some((bytes, dir)) => pipeline(bytes, dir),
        None => Ok(()),
    }
}

/// What `painters inspect` and `rewrite` do with a model: load (header and
/// external-data checks), canonical form, detection, the declared-depth
/// check, the summary; an accepted model is rewritten by the identity plan
/// in memory and the emitted graph validated.
pub fn pipeline(bytes: Vec<u8>, dir: &Path) -> Result<(), Violation> {
    let model = match OnnxModel::from_bytes(Bytes::from(bytes), dir) {
        Ok(m) => m,
        Err(e) => return one_line("model load", &e),
    };
    let (model, layout) = match painters_rewrite::declared::open_model(model) {
        Ok(x) => x,
        Err(e) => return one_line("model open", &e),
    };
    if layout.num_blocks() == 0 {
        return Err(Violation::new("model: accepted with no blocks"));
    }
    let summary = painters_graph::summary::ModelSummary::new(&model, &layout);
    serde_json::to_string(&summary).map_err(|e| Violation(format!("model summary: {e}")))?;
    let schedule = match painters_rewrite::sequence(&model, &layout, 0..layout.num_blocks()) {
        Ok(s) => s,
        Err(e) => return one_line("lower", &e),
    };
    match painters_rewrite::emit(&model, &layout, &schedule) {
        Ok(proto) => {
            let g = proto.graph.as_ref().ok_or_else(|| Violation::new("emit: no graph"))?;
            painters_graph::validate(g).map_err(|e| Violation(format!("emit: the identity rewrite of an accepted model is invalid: {e}")))
        }
        Err(e) => one_line("emit", &e),
    }
}

/// The folder suite paths are resolved against (tests/data, whose files exist).
fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// Suite files.
pub fn suite(data: &[u8]) -> Result<(), Violation> {
    let Some(s) = text(data) else { return Ok(()) };
    match Suite::from_str(&data_dir().join("suite.json"), s) {
        Err(e) => one_line("suite", &e),
        Ok(suite) if suite.tasks.is_empty() => Err(Violation::new("suite: accepted with no tasks")),
        Ok(suite) => {
            for t in &suite.tasks {
                let _ = t.metric();
            }
            Ok(())
        }
    }
}

/// Task data: the first byte chooses the reader and the file name.
pub fn task_data(data: &[u8]) -> Result<(), Violation> {
    let Some((&kind, rest)) = data.split_first() else { return Ok(()) };
    let Some(s) = text(rest) else { return Ok(()) };
    let dir = data_dir();
    match kind % 4 {
        0 | 1 => {
            let path = dir.join(if kind % 4 == 0 { "task.json" } else { "task.jsonl" });
            match data::parse_choice(&path, s) {
                Err(e) => one_line("choice data", &e),
                Ok(ex) => {
                    if let Some(e) = ex.iter().find(|e| e.choices.is_empty() || e.label >= e.choices.len()) {
                        return Err(Violation(format!("choice data: accepted label {} of {} choices", e.label, e.choices.len())));
                    }
                    Ok(())
                }
            }
        }
        2 => match data::parse_generate(&dir.join("task.json"), s) {
            Err(e) => one_line("generate data", &e),
            Ok(ex) if ex.iter().any(|e| e.targets.is_empty()) => Err(Violation::new("generate data: accepted an empty target")),
            Ok(_) => Ok(()),
        },
        _ => data::parse_probe(&dir.join("probe.jsonl"), s).map(|_| ()).or_else(|e| one_line("probe data", &e)),
    }
}

/// `tokenizer.json`, then optionally a NUL byte and the model's `config.json`;
/// an accepted tokenizer encodes and decodes a fixed text.
pub fn tokenizer(data: &[u8]) -> Result<(), Violation> {
    let (tok, config) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Some(tok) = text(tok) else { return Ok(()) };
    let config = config.and_then(text);
    let t = match Tokenizer::from_parts(PathBuf::from("tokenizer.json"), tok, config) {
        Ok(t) => t,
        Err(e) => return one_line("tokenizer", &e),
    };
    for (s, special) in [("The cat sat on the mat. 1234 ünï 🦀", true), ("", false), (" \n\t", true)] {
        match t.encode(s, special) {
            Err(e) => one_line("tokenizer encode", &e)?,
            Ok(enc) => {
                if enc.ids.len() != enc.offsets.len() {
                    return Err(Violation::new("tokenizer: ids and offsets differ in length"));
                }
                if let Err(e) = t.decode(&enc.ids) {
                    one_line("tokenizer decode", &e)?;
                }
            }
        }
    }
    let _ = t.vocab_size();
    if let Err(e) = t.decode(&[-1, i64::MAX, 0, 3]) {
        one_line("tokenizer decode", &e)?;
    }
    Ok(())
}

/// `config.json` (first byte even) or `genai_config.json` (odd): what the
/// declared-depth check reads and what a rewrite writes into the new folder.
pub fn config(data: &[u8]) -> Result<(), Violation> {
    let Some((&kind, rest)) = data.split_first() else { return Ok(()) };
    let Some(s) = text(rest) else { return Ok(()) };
    let name = if kind % 2 == 0 { "config.json" } else { "genai_config.json" };
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(s) {
        let _ = painters_rewrite::declared::config_depth(&v);
    }
    let instances = [0, 1, 2, 3, 2, 3];
    let m = painters_rewrite::folder::FolderModel {
        plan: "0-1,[2,3]*2",
        instances: &instances,
        source_blocks: 4,
        depth: instances.len(),
        depth_of_source: 4,
        file_name: "out.onnx",
    };
    match painters_rewrite::folder::rewrite_file(name, s, &m) {
        Err(e) => one_line("config", &e),
        Ok(None) => Ok(()),
        Ok(Some(out)) => serde_json::from_str::<serde_json::Value>(&out)
            .map(|_| ())
            .map_err(|e| Violation(format!("config: the rewritten {name} is not JSON: {e}"))),
    }
}

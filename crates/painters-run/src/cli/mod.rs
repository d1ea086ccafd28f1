//! One module per subcommand.
pub mod eval;
pub mod inspect;
pub mod plan;
pub mod plansrc;
pub mod prune;
pub mod rewrite;
pub mod run;
pub mod sweep;

use std::path::{Path, PathBuf};

/// A model argument: an `.onnx` file, or a folder holding `model.onnx` (or a single `.onnx`).
pub fn resolve_model(arg: &Path) -> anyhow::Result<PathBuf> {
    if !arg.is_dir() {
        return Ok(arg.to_path_buf());
    }
    let direct = arg.join("model.onnx");
    if direct.is_file() {
        return Ok(direct);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(arg)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => anyhow::bail!("{} holds no .onnx file", arg.display()),
        _ => anyhow::bail!("{} holds several .onnx files; name one", arg.display()),
    }
}

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

/// The most `--threads` accepted: ONNX Runtime starts as many intra-op
/// threads as it is asked for (999999 ran for minutes without an error).
pub const MAX_THREADS: usize = 1024;

/// `--threads`: 0 (ONNX Runtime's default) to [`MAX_THREADS`].
pub fn threads(s: &str) -> Result<usize, String> {
    s.trim().parse().ok().filter(|&n| n <= MAX_THREADS).ok_or_else(|| format!("expected 0 (ONNX Runtime's default) to {MAX_THREADS}"))
}

/// A count of at least 1 (`--batch-size`).
pub fn positive(s: &str) -> Result<usize, String> {
    s.trim().parse().ok().filter(|&n| n >= 1).ok_or_else(|| "expected a whole number of at least 1".to_string())
}

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

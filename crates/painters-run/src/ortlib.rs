//! Finding and loading the ONNX Runtime shared library (`load-dynamic`).
//! Search order: `--ort-lib PATH`, `ORT_DYLIB_PATH`, the project-local
//! `.ort/lib/` (made by `scripts/install-ort.sh`, looked for above the
//! working directory and above the executable), then the `onnxruntime`
//! Python package. `ort::init` panics when no library can be found, so the
//! search happens first and a miss is one clear error.
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The file name of the library on this platform.
#[cfg(target_os = "macos")]
const LIB_NAME: &str = "libonnxruntime.dylib";
#[cfg(target_os = "windows")]
const LIB_NAME: &str = "onnxruntime.dll";
#[cfg(not(any(target_os = "macos", target_os = "windows")))]
const LIB_NAME: &str = "libonnxruntime.so";

/// Where the library is, by the search order above.
pub fn find_library(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return if p.is_file() { Ok(p.to_path_buf()) } else { Err(Error::OrtMissing(p.to_path_buf())) };
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() { Ok(p) } else { Err(Error::OrtMissing(p)) };
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.push(exe);
    }
    roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for root in &roots {
        for dir in root.ancestors() {
            let candidate = dir.join(".ort").join("lib").join(LIB_NAME);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    python_package_library().ok_or(Error::OrtNotFound)
}

/// The library inside an installed `onnxruntime` Python package.
fn python_package_library() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("capi");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(LIB_NAME)))
        .collect();
    found.sort();
    found.pop()
}

/// A loaded ONNX Runtime: keep it alive while sessions exist.
#[derive(Debug)]
pub struct Runtime {
    pub env: ort::environment::Environment,
    pub library: PathBuf,
}

static RUNTIME: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();

impl Runtime {
    /// The process-wide runtime, loaded on first use (the library can be
    /// loaded once per process; later calls return the first one).
    pub fn global(explicit: Option<&Path>) -> Result<&'static Runtime> {
        if let Some(rt) = RUNTIME.get() {
            return Ok(rt);
        }
        let rt = Self::load(explicit)?;
        Ok(RUNTIME.get_or_init(|| rt))
    }

    /// Finds and loads the library.
    fn load(explicit: Option<&Path>) -> Result<Self> {
        let found = find_library(explicit)?;
        let library = found.canonicalize().unwrap_or(found);
        let err = |e: Box<dyn std::error::Error + Send + Sync>| Error::OrtLoad { path: library.clone(), source: e };
        let builder = ort::init_from(&library).map_err(|e| err(e.into()))?;
        let env = builder.with_name("painters").build().map_err(|e| err(e.into()))?;
        // ONNX Runtime logs a failed run's error itself, and the call returns it, so painters
        // printed it twice (the first time in colour): below fatal its log is off, unless
        // ORT_LOG asks for it (ort's variable: verbose, info, warning, error, fatal).
        if std::env::var_os("ORT_LOG").is_none() {
            env.set_log_level(ort::logging::LogLevel::Fatal);
        }
        Ok(Self { env, library })
    }
}

//! Suite files: the tasks a sweep evaluates, with their group (reasoning,
//! semantic, perplexity), metric and chance level.
//!
//! ```json
//! {"name": "demo", "tasks": [
//!   {"name": "heldout", "task": "perplexity", "data": "data/text/heldout.txt", "group": "perplexity",
//!    "params": {"window": 512, "stride": 512, "max_tokens": 4096}},
//!   {"name": "navigate", "task": "choice", "data": "data/bigbench/navigate/task.json",
//!    "group": "reasoning", "metric": "acc", "chance": 0.5, "limit": 100}]}
//! ```
//! Relative data paths are resolved against the working directory, then the suite's folder.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::eval::task::TaskSpec;
use crate::error::Error;
use painters_graph::names;

/// The most tasks a suite may list by default ([`MAX_TASKS_ENV`] raises it).
pub const MAX_TASKS: usize = 1_000;
/// The environment variable that sets the limit on a suite's tasks.
pub const MAX_TASKS_ENV: &str = "PAINTERS_MAX_SUITE_TASKS";

/// One task of a suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteTask {
    pub name: String,
    /// perplexity, choice, generate, probe, fidelity
    pub task: String,
    pub data: PathBuf,
    /// reasoning, semantic, perplexity, …
    #[serde(default)]
    pub group: String,
    /// The metric the sweep reports (`acc`, `acc_norm`, `exact_match`, `cosine`, `token_perplexity`).
    #[serde(default)]
    pub metric: Option<String>,
    /// The random-guess score (for normalisation).
    #[serde(default)]
    pub chance: Option<f64>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub params: serde_json::Value,
}

impl SuiteTask {
    /// The metric the sweep reports: the suite's, else the kind's default.
    pub fn metric(&self) -> &str {
        self.metric.as_deref().unwrap_or_else(|| self.spec().map(|s| s.default_metric()).unwrap_or("acc"))
    }

    /// The typed task (kind and parameters; `eval::task`).
    pub fn spec(&self) -> Result<TaskSpec, Error> {
        TaskSpec::from_suite(&self.task, &self.params).map_err(|e| Error::Task(format!("suite task '{}': {}", names::one_line(&self.name), names::one_line(&e))))
    }
}

/// The layer-similarity analysis of the unmodified model (Figure 3).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimilaritySpec {
    /// A text file; its blank-line-separated paragraphs are the samples.
    pub data: PathBuf,
    #[serde(default = "default_texts")]
    pub texts: usize,
    #[serde(default = "default_tokens")]
    pub max_tokens: usize,
}

fn default_texts() -> usize {
    16
}

fn default_tokens() -> usize {
    128
}

/// A suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Suite {
    #[serde(default)]
    pub name: String,
    pub tasks: Vec<SuiteTask>,
    #[serde(default)]
    pub similarity: Option<SimilaritySpec>,
}

impl Suite {
    /// Reads a suite and resolves its data paths; every data file must exist.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Data { path: path.display().to_string(), reason: e.to_string() })?;
        Self::from_str(path, &text)
    }

    /// [`Self::load`] on the text of the suite file `path`.
    pub fn from_str(path: &Path, text: &str) -> Result<Self, Error> {
        let err = |reason: String| Error::Data { path: path.display().to_string(), reason };
        let mut suite: Suite = serde_json::from_str(text).map_err(|e| err(format!("not a suite file: {e}")))?;
        if suite.tasks.is_empty() {
            return Err(err("the suite has no tasks".into()));
        }
        let limit = crate::eval::data::limit_from_env(MAX_TASKS_ENV, MAX_TASKS)?;
        if suite.tasks.len() > limit {
            return Err(err(format!(
                "{} tasks; the limit is {limit} (a sweep runs every task for every plan; set {MAX_TASKS_ENV} to raise it)",
                suite.tasks.len()
            )));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(sim) = &mut suite.similarity {
            sim.data = resolve(base, &sim.data).map_err(|e| err(format!("similarity: {e}")))?;
        }
        for t in &mut suite.tasks {
            if !matches!(t.task.as_str(), "perplexity" | "choice" | "generate" | "probe" | "fidelity") {
                return Err(err(format!("task '{}': unknown kind '{}'", t.name, t.task)));
            }
            if t.limit == Some(0) {
                return Err(err(format!("task '{}': limit 0 (at least 1 example, or no limit)", t.name)));
            }
            if let Err(e) = TaskSpec::from_suite(&t.task, &t.params) {
                return Err(err(format!("task '{}': {e}", t.name)));
            }
            t.data = resolve(base, &t.data).map_err(|e| err(format!("task '{}': {e}", t.name)))?;
            if !t.data.exists() {
                return Err(err(format!("task '{}': data {} does not exist (run scripts/fetch-data.sh?)", t.name, t.data.display())));
            }
        }
        Ok(suite)
    }
}

/// A data path as written: against the working directory, then the suite's
/// folder `base`. A relative path that names a file in both, with other
/// bytes, is ambiguous and refused.
fn resolve(base: &Path, data: &Path) -> Result<PathBuf, String> {
    let there = base.join(data);
    if !data.exists() {
        return Ok(if there.exists() { there } else { data.to_path_buf() });
    }
    let two = data.is_relative() && there.is_file() && std::fs::canonicalize(data).ok() != std::fs::canonicalize(&there).ok();
    if two && !same_bytes(data, &there) {
        return Err(format!(
            "data {} names two different files, {} from the working directory and {} from the suite's folder; write a path that names one",
            data.display(),
            std::fs::canonicalize(data).unwrap_or(data.to_path_buf()).display(),
            std::fs::canonicalize(&there).unwrap_or(there.clone()).display()
        ));
    }
    Ok(data.to_path_buf())
}

/// Whether two files hold the same bytes (sizes first, then streamed digests:
/// data files can be large).
fn same_bytes(a: &Path, b: &Path) -> bool {
    let digest = |p: &Path| -> Option<blake3::Hash> {
        let mut h = blake3::Hasher::new();
        h.update_reader(std::fs::File::open(p).ok()?).ok()?;
        Some(h.finalize())
    };
    let size = |p: &Path| std::fs::metadata(p).ok().map(|m| m.len());
    size(a).is_some() && size(a) == size(b) && digest(a).is_some() && digest(a) == digest(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite_text(tasks: usize) -> String {
        let t = r#"{"name": "t", "task": "perplexity", "data": "text.txt"}"#;
        format!(r#"{{"name": "s", "tasks": [{}]}}"#, vec![t; tasks].join(","))
    }

    #[test]
    fn suites_past_the_task_limit_are_refused() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/suite.json");
        let e = Suite::from_str(&path, &suite_text(MAX_TASKS + 1)).unwrap_err().to_string();
        assert!(
            e.ends_with("suite.json: 1001 tasks; the limit is 1000 (a sweep runs every task for every plan; set PAINTERS_MAX_SUITE_TASKS to raise it)"),
            "{e}"
        );
        assert_eq!(Suite::from_str(&path, &suite_text(2)).unwrap().tasks.len(), 2);
    }

    #[test]
    fn a_limit_of_no_examples_is_refused() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/suite.json");
        let text = r#"{"tasks": [{"name": "c", "task": "choice", "data": "choice_task.json", "limit": 0}]}"#;
        let e = Suite::from_str(&path, text).unwrap_err().to_string();
        assert!(e.ends_with("task 'c': limit 0 (at least 1 example, or no limit)"), "{e}");
        assert_eq!(Suite::from_str(&path, &text.replace("\"limit\": 0", "\"limit\": 1")).unwrap().tasks[0].limit, Some(1));
    }

    #[test]
    fn names_quoted_in_errors_stay_on_one_line() {
        let e = Suite::from_str(Path::new("s.json"), r#"{"tasks": [{"name": "a\nb", "task": "x", "data": "d"}]}"#).unwrap_err();
        assert_eq!(e.to_string(), "s.json: task 'a\\nb': unknown kind 'x'");
    }
}

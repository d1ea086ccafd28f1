//! Plans from files, with the full power of the language: TOML or JSON
//! (chosen by extension, `.toml` or anything else as JSON) holding either a
//! plan string or the plan tree.
//!
//! ```toml
//! plan = "0-11,[12-20]*3,21-31"
//! ```
//! ```json
//! {"tree": {"seq": [{"block": 0}, {"repeat": {"body": {"parallel": [{"block": 1}, {"block": 2}]}, "times": 3}}]}}
//! ```
use std::path::Path;

use serde::Deserialize;

use crate::error::{Result, RewriteError};
use crate::parse::parse;
use crate::plan::Plan;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    plan: Option<String>,
    tree: Option<Plan>,
}

/// Reads a plan file.
pub fn load(path: &Path) -> Result<Plan> {
    let err = |reason: String| RewriteError::PlanFile { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let file: PlanFile = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text).map_err(|e| err(e.message().to_string()))?
    } else {
        serde_json::from_str(&text).map_err(|e| err(e.to_string()))?
    };
    match (file.plan, file.tree) {
        (Some(s), None) => parse(&s).map_err(|e| err(e.to_string())),
        (None, Some(t)) => Ok(t),
        _ => Err(err("needs exactly one of 'plan' (a plan string) or 'tree' (a plan tree)".into())),
    }
}

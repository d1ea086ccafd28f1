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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_string_and_json_tree_load_the_same_plan() {
        let dir = std::env::temp_dir().join(format!("painters-planfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml_path = dir.join("p.toml");
        std::fs::write(&toml_path, "plan = \"0,[1-2]*3,3\"\n").unwrap();
        let json_path = dir.join("p.json");
        std::fs::write(
            &json_path,
            r#"{"tree": {"seq": [{"block": 0}, {"repeat": {"body": {"parallel": [{"block": 1}, {"block": 2}]}, "times": 3}}, {"block": 3}]}}"#,
        )
        .unwrap();
        let a = load(&toml_path).unwrap();
        let b = load(&json_path).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "0,[1-2]*3,3");
        std::fs::write(&json_path, r#"{"plan": "0,", "tree": null}"#).unwrap();
        assert!(load(&json_path).unwrap_err().to_string().contains("plan:1:3"));
        std::fs::write(&json_path, r#"{"nothing": 1}"#).unwrap();
        assert!(load(&json_path).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

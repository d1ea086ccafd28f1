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
use crate::plan::{Plan, MAX_DEPTH};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    plan: Option<String>,
    tree: Option<Plan>,
}

/// Reads a plan file.
pub fn load(path: &Path) -> Result<Plan> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| RewriteError::PlanFile { path: path.display().to_string(), reason: e.to_string() })?;
    from_str(path, &text)
}

/// The deepest nesting of `[` and `{` a plan file may have, checked on the
/// text before it is parsed: a plan tree nests two per group (`{"seq": [`),
/// and plans nest at most [`MAX_DEPTH`] groups.
pub const MAX_NESTING: usize = 2 * MAX_DEPTH + 4;

/// Parses the text of a plan file; `path` chooses the format (by extension)
/// and names the file in errors.
pub fn from_str(path: &Path, text: &str) -> Result<Plan> {
    let err = |reason: String| RewriteError::PlanFile { path: path.display().to_string(), reason };
    let toml = path.extension().is_some_and(|e| e == "toml");
    if let Some(col) = too_deep(text, toml) {
        return Err(err(format!(
            "nests '[' and '{{' more than {MAX_NESTING} deep (byte {col}); a plan nests at most {MAX_DEPTH} groups"
        )));
    }
    let file: PlanFile = if toml {
        toml::from_str(text).map_err(|e| err(e.message().to_string()))?
    } else {
        serde_json::from_str(text).map_err(|e| err(e.to_string()))?
    };
    match (file.plan, file.tree) {
        (Some(s), None) => parse(&s).map_err(|e| err(e.to_string())),
        (None, Some(t)) if t.depth() > MAX_DEPTH => Err(RewriteError::TooDeep { limit: MAX_DEPTH }),
        (None, Some(t)) => Ok(t),
        _ => Err(err("needs exactly one of 'plan' (a plan string) or 'tree' (a plan tree)".into())),
    }
}

/// The byte offset where the nesting of `[`/`{` outside strings (and TOML
/// comments) first passes [`MAX_NESTING`], if it does.
fn too_deep(text: &str, toml: bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    let mut comment = false;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if comment {
            comment = b != b'\n';
            continue;
        }
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' && q == b'"' {
                escaped = true;
            } else if b == q {
                quote = None;
            }
            continue;
        }
        match b {
            b'"' => quote = Some(b'"'),
            b'\'' if toml => quote = Some(b'\''),
            b'#' if toml => comment = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i + 1);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
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

    fn toml(text: &str) -> String {
        from_str(Path::new("p.toml"), text).unwrap_err().to_string()
    }

    fn json(text: &str) -> String {
        from_str(Path::new("p.json"), text).unwrap_err().to_string()
    }

    #[test]
    fn nesting_past_the_limit_is_refused_before_parsing() {
        let deep = |d: usize| format!("tree = {}{{block = 0}}{}", "{seq = [".repeat(d), "]}".repeat(d));
        assert_eq!(
            toml(&deep(100_000)),
            "plan file p.toml: nests '[' and '{' more than 132 deep (byte 536); a plan nests at most 64 groups"
        );
        let deep_json = format!("{{\"tree\": {}{{\"block\": 0}}{}}}", "{\"seq\": [".repeat(70), "]}".repeat(70));
        assert_eq!(json(&deep_json), "plan file p.json: nests '[' and '{' more than 132 deep (byte 603); a plan nests at most 64 groups");
        // Brackets inside strings and comments do not count.
        let quoted = format!("# {}\nplan = \"{}0{}\"\n", "[".repeat(500), "(".repeat(3), ")".repeat(3));
        assert_eq!(from_str(Path::new("p.toml"), &quoted).unwrap().to_string(), "(((0)))");
        // Within the text limit, the parsers' own recursion limits (toml and
        // serde_json, about 128) refuse a tree as deep as plans may nest.
        assert_eq!(toml(&deep(65)), "plan file p.toml: cannot recurse further; max recursion depth met");
        assert!(from_str(Path::new("p.toml"), &deep(30)).is_ok());
    }

    #[test]
    fn a_repeat_of_an_empty_group_is_refused() {
        // It once ran lower()'s loop 2^64 times for no instance.
        let plan = from_str(Path::new("p.json"), r#"{"tree":{"repeat":{"body":{"seq":[]},"times":18446744073709551614}}}"#).unwrap();
        assert_eq!(plan.validate(4).unwrap_err().to_string(), "a group needs at least one item");
    }

    #[test]
    fn keys_quoted_in_errors_stay_on_one_line() {
        assert_eq!(json("{\"pl\\nan\": 1}"), "plan file p.json: unknown field `pl\\nan`, expected `plan` or `tree` at line 1 column 9");
        assert_eq!(toml("\"pl\\nan\" = 1"), "plan file p.toml: unknown field `pl\\nan`, expected `plan` or `tree`");
    }
}

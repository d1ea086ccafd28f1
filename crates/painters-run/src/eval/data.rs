//! Task data: BIG-bench `task.json` (multiple choice or generative), JSONL
//! multiple choice, JSONL probe sets. Errors name the file and the line or
//! example.
use std::path::Path;

use crate::error::Error;

/// One multiple-choice example (context without continuation whitespace rules applied yet).
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceExample {
    pub context: String,
    pub choices: Vec<String>,
    pub label: usize,
}

/// One generative example.
#[derive(Debug, Clone, PartialEq)]
pub struct GenExample {
    pub prompt: String,
    pub targets: Vec<String>,
}

/// One probe example.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeExample {
    pub text: String,
    pub label: String,
    pub train: bool,
}

/// The most examples a task data file may hold by default: tasks run every
/// example through the model (in a sweep, once per plan), so a file past
/// this is refused before anything runs. [`MAX_EXAMPLES_ENV`] raises it.
pub const MAX_EXAMPLES: usize = 100_000;
/// The environment variable that sets the limit on examples.
pub const MAX_EXAMPLES_ENV: &str = "PAINTERS_MAX_EXAMPLES";

/// The limit on examples: [`MAX_EXAMPLES_ENV`] when set, else [`MAX_EXAMPLES`].
pub fn max_examples() -> Result<usize, Error> {
    limit_from_env(MAX_EXAMPLES_ENV, MAX_EXAMPLES)
}

/// A positive integer limit from environment variable `var`, else `default`.
pub fn limit_from_env(var: &str, default: usize) -> Result<usize, Error> {
    match std::env::var(var) {
        Err(_) => Ok(default),
        Ok(v) => v.trim().replace('_', "").parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
            Error::Task(format!("{var}={v:?} is not a positive number"))
        }),
    }
}

fn check_count(path: &Path, n: usize, limit: usize) -> Result<(), Error> {
    if n > limit {
        return Err(err(
            path,
            format!("{n} examples; the limit is {limit} (set {MAX_EXAMPLES_ENV} to raise it, or use a task's limit)"),
        ));
    }
    Ok(())
}

fn err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Data { path: path.display().to_string(), reason: reason.into() }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| err(path, e.to_string()))
}

fn is_jsonl(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "jsonl")
}

/// Parses JSONL, naming the line of any error.
fn jsonl(path: &Path, text: &str) -> Result<Vec<(usize, serde_json::Value)>, Error> {
    check_count(path, text.lines().filter(|l| !l.trim().is_empty()).count(), max_examples()?)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| err(path, format!("line {}: not JSON: {e}", i + 1)))?;
        out.push((i + 1, v));
    }
    if out.is_empty() {
        return Err(err(path, "no examples"));
    }
    Ok(out)
}

/// The BIG-bench task and its prompt pieces.
struct BigBench {
    examples: Vec<serde_json::Value>,
    task_prefix: String,
    input_prefix: String,
    output_prefix: String,
}

fn bigbench(path: &Path, text: &str) -> Result<BigBench, Error> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| err(path, format!("not a BIG-bench task.json (line {}): {e}", e.line())))?;
    let examples = v["examples"].as_array().cloned().ok_or_else(|| err(path, "not a BIG-bench task.json: no 'examples' list"))?;
    if examples.is_empty() {
        return Err(err(path, "no examples"));
    }
    check_count(path, examples.len(), max_examples()?)?;
    let s = |k: &str, d: &str| v[k].as_str().unwrap_or(d).to_string();
    Ok(BigBench {
        examples,
        task_prefix: s("task_prefix", ""),
        input_prefix: s("example_input_prefix", "Q: "),
        output_prefix: s("example_output_prefix", "\nA: "),
    })
}

/// Multiple-choice examples from a BIG-bench task.json or JSONL.
pub fn load_choice(path: &Path) -> Result<Vec<ChoiceExample>, Error> {
    parse_choice(path, &read(path)?)
}

/// [`load_choice`] on the text of `path` (JSONL when it ends in `.jsonl`).
pub fn parse_choice(path: &Path, text: &str) -> Result<Vec<ChoiceExample>, Error> {
    let mut out = Vec::new();
    if is_jsonl(path) {
        for (line, v) in jsonl(path, text)? {
            let at = |r: &str| err(path, format!("line {line}: {r}"));
            let context = v["context"].as_str().ok_or_else(|| at("no string 'context'"))?.to_string();
            let choices: Vec<String> = v["choices"]
                .as_array()
                .ok_or_else(|| at("no 'choices' list"))?
                .iter()
                .map(|c| c.as_str().map(String::from).ok_or_else(|| at("a choice is not a string")))
                .collect::<Result<_, _>>()?;
            if choices.is_empty() {
                return Err(at("no choices"));
            }
            let label = v["label"].as_u64().ok_or_else(|| at("no integer 'label'"))? as usize;
            if label >= choices.len() {
                return Err(at(&format!("label {label} but only {} choices", choices.len())));
            }
            out.push(ChoiceExample { context, choices, label });
        }
        return Ok(out);
    }
    let t = bigbench(path, text)?;
    for (i, e) in t.examples.iter().enumerate() {
        let at = |r: &str| err(path, format!("example {}: {r}", i + 1));
        let input = e["input"].as_str().ok_or_else(|| at("no string 'input'"))?;
        let scores = e["target_scores"].as_object().ok_or_else(|| at("no 'target_scores' (not a multiple-choice task)"))?;
        if scores.is_empty() {
            return Err(at("no choices"));
        }
        let mut label = 0;
        let mut best = f64::NEG_INFINITY;
        let mut choices = Vec::new();
        for (k, (choice, score)) in scores.iter().enumerate() {
            let s = score.as_f64().ok_or_else(|| at(&format!("score of '{choice}' is not a number")))?;
            if s > best {
                best = s;
                label = k;
            }
            choices.push(choice.clone());
        }
        let context = format!("{}{}{}{}", t.task_prefix, t.input_prefix, input, t.output_prefix);
        out.push(ChoiceExample { context, choices, label });
    }
    Ok(out)
}

/// Generative examples from a BIG-bench task.json.
pub fn load_generate(path: &Path) -> Result<Vec<GenExample>, Error> {
    parse_generate(path, &read(path)?)
}

/// [`load_generate`] on the text of `path`.
pub fn parse_generate(path: &Path, text: &str) -> Result<Vec<GenExample>, Error> {
    let t = bigbench(path, text)?;
    let mut out = Vec::new();
    for (i, e) in t.examples.iter().enumerate() {
        let at = |r: &str| err(path, format!("example {}: {r}", i + 1));
        let input = e["input"].as_str().ok_or_else(|| at("no string 'input'"))?;
        let targets: Vec<String> = match &e["target"] {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
            _ => return Err(at("no 'target' (not a generative task)")),
        };
        if targets.is_empty() {
            return Err(at("empty 'target'"));
        }
        let prompt = format!("{}{}{}", t.input_prefix, input, t.output_prefix).trim_end().to_string();
        out.push(GenExample { prompt, targets });
    }
    Ok(out)
}

/// Probe examples from JSONL `{"text", "label", "split"}`.
pub fn load_probe(path: &Path) -> Result<Vec<ProbeExample>, Error> {
    parse_probe(path, &read(path)?)
}

/// [`load_probe`] on the text of `path`.
pub fn parse_probe(path: &Path, text: &str) -> Result<Vec<ProbeExample>, Error> {
    let mut out = Vec::new();
    for (line, v) in jsonl(path, text)? {
        let at = |r: &str| err(path, format!("line {line}: {r}"));
        let text = v["text"].as_str().ok_or_else(|| at("no string 'text'"))?.to_string();
        let label = match &v["label"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(at("no 'label'")),
        };
        let train = match v["split"].as_str() {
            Some("train") => true,
            Some("test") => false,
            _ => return Err(at("'split' must be \"train\" or \"test\"")),
        };
        out.push(ProbeExample { text, label, train });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_past_the_example_limit_are_refused_before_parsing() {
        let line = r#"{"context": "c", "choices": ["a", "b"], "label": 0}"#;
        let text = vec![line; MAX_EXAMPLES + 1].join("\n");
        let e = parse_choice(Path::new("big.jsonl"), &text).unwrap_err().to_string();
        assert_eq!(e, "big.jsonl: 100001 examples; the limit is 100000 (set PAINTERS_MAX_EXAMPLES to raise it, or use a task's limit)");
        let ex = r#"{"input": "q", "target": "a"}"#;
        let text = format!(r#"{{"examples": [{}]}}"#, vec![ex; MAX_EXAMPLES + 1].join(","));
        let e = parse_generate(Path::new("task.json"), &text).unwrap_err().to_string();
        assert_eq!(e, "task.json: 100001 examples; the limit is 100000 (set PAINTERS_MAX_EXAMPLES to raise it, or use a task's limit)");
        assert_eq!(parse_choice(Path::new("ok.jsonl"), &[line; 3].join("\n")).unwrap().len(), 3);
    }

    #[test]
    fn the_limit_is_raised_by_its_variable() {
        assert_eq!(limit_from_env("PAINTERS_TEST_UNSET_LIMIT", 7).unwrap(), 7);
        // A variable only this test sets (the real one may be set by whoever runs the tests).
        std::env::set_var("PAINTERS_TEST_LIMIT_A", "2_000_000");
        assert_eq!(limit_from_env("PAINTERS_TEST_LIMIT_A", 7).unwrap(), 2_000_000);
        std::env::set_var("PAINTERS_TEST_LIMIT_B", "lots");
        assert_eq!(limit_from_env("PAINTERS_TEST_LIMIT_B", 7).unwrap_err().to_string(), "PAINTERS_TEST_LIMIT_B=\"lots\" is not a positive number");
    }

    #[test]
    fn keys_quoted_in_errors_stay_on_one_line() {
        let e = parse_choice(Path::new("t.json"), r#"{"examples": [{"input": "q", "target_scores": {"a\nb": "x"}}]}"#).unwrap_err();
        assert_eq!(e.to_string(), "t.json: example 1: score of 'a\\nb' is not a number");
    }
}

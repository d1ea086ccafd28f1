//! Task data: BIG-bench `task.json` (multiple choice or generative), JSONL
//! multiple choice, JSONL probe sets. Errors name the file and the line or
//! example.
use std::path::Path;

use super::EvalError;

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

fn err(path: &Path, reason: impl Into<String>) -> EvalError {
    EvalError::Data { path: path.display().to_string(), reason: reason.into() }
}

fn read(path: &Path) -> Result<String, EvalError> {
    std::fs::read_to_string(path).map_err(|e| err(path, e.to_string()))
}

fn is_jsonl(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "jsonl")
}

/// Parses JSONL, naming the line of any error.
fn jsonl(path: &Path) -> Result<Vec<(usize, serde_json::Value)>, EvalError> {
    let text = read(path)?;
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

fn bigbench(path: &Path) -> Result<BigBench, EvalError> {
    let v: serde_json::Value = serde_json::from_str(&read(path)?)
        .map_err(|e| err(path, format!("not a BIG-bench task.json (line {}): {e}", e.line())))?;
    let examples = v["examples"].as_array().cloned().ok_or_else(|| err(path, "not a BIG-bench task.json: no 'examples' list"))?;
    if examples.is_empty() {
        return Err(err(path, "no examples"));
    }
    let s = |k: &str, d: &str| v[k].as_str().unwrap_or(d).to_string();
    Ok(BigBench {
        examples,
        task_prefix: s("task_prefix", ""),
        input_prefix: s("example_input_prefix", "Q: "),
        output_prefix: s("example_output_prefix", "\nA: "),
    })
}

/// Multiple-choice examples from a BIG-bench task.json or JSONL.
pub fn load_choice(path: &Path) -> Result<Vec<ChoiceExample>, EvalError> {
    let mut out = Vec::new();
    if is_jsonl(path) {
        for (line, v) in jsonl(path)? {
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
    let t = bigbench(path)?;
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
pub fn load_generate(path: &Path) -> Result<Vec<GenExample>, EvalError> {
    let t = bigbench(path)?;
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
pub fn load_probe(path: &Path) -> Result<Vec<ProbeExample>, EvalError> {
    let mut out = Vec::new();
    for (line, v) in jsonl(path)? {
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

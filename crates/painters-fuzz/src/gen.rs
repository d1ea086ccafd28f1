//! Structure-aware inputs for the seeded harness: each generator builds a
//! valid-looking input of its target's format (plans from the grammar,
//! plan trees, suites and task files from their schemas, tokenizers and
//! configs from the committed fixtures), then breaks it: boundary numbers,
//! deep nesting, control characters, wrong types, byte-level damage.
use serde_json::{json, Map, Value};

use crate::rng::Rng;

const PLAN_BYTES: &[u8] = b"0123456789-,*[]() \t\n";

/// Applies 1-4 byte-level mutations; `alphabet` biases inserted bytes.
pub fn mutate_bytes(rng: &mut Rng, v: &mut Vec<u8>, alphabet: &[u8]) {
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(8) {
            0 if len > 0 => v.truncate(rng.below(len)),
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next_u64() as u8;
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                v.drain(a..b);
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let chunk: Vec<u8> = v[a..b].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            5 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(16)).min(len);
                let chunk: Vec<u8> = v[a..b].to_vec();
                for _ in 0..rng.below(64) {
                    let at = rng.below(v.len() + 1);
                    v.splice(at..at, chunk.iter().copied());
                }
            }
            6 => {
                let at = rng.below(len + 1);
                let s = rng.interesting().to_string();
                v.splice(at..at, s.bytes());
            }
            _ => {
                let at = rng.below(len + 1);
                let b = if alphabet.is_empty() || rng.chance(1, 4) { rng.next_u64() as u8 } else { *rng.pick(alphabet) };
                v.insert(at, b);
            }
        }
    }
}

fn ws(rng: &mut Rng, out: &mut String) {
    if rng.chance(1, 8) {
        const WS: [&str; 6] = [" ", "  ", "\t", "\n", "\u{2028}", "\u{a0}"];
        out.push_str(WS[rng.below(WS.len())]);
    }
}

fn plan_items(rng: &mut Rng, depth: usize, out: &mut String) {
    for k in 0..1 + rng.below(if depth > 3 { 2 } else { 5 }) {
        if k > 0 {
            out.push(',');
        }
        ws(rng, out);
        match rng.below(if depth == 0 { 2 } else { 4 }) {
            0 => out.push_str(&rng.interesting().to_string()),
            1 => out.push_str(&format!("{}-{}", rng.interesting(), rng.interesting())),
            2 => {
                out.push('[');
                plan_items(rng, depth - 1, out);
                out.push(']');
            }
            _ => {
                out.push('(');
                plan_items(rng, depth - 1, out);
                out.push(')');
            }
        }
        ws(rng, out);
        if rng.chance(1, 3) {
            out.push_str(&format!("*{}", rng.interesting()));
        }
    }
}

/// A plan string from the grammar, deep or wide at times, sometimes damaged.
pub fn plan(rng: &mut Rng) -> Vec<u8> {
    let mut s = String::new();
    if rng.chance(1, 20) {
        let d = *rng.pick(&[63, 64, 65, 200, 10_000]);
        s = format!("{}{}{}", "(".repeat(d), rng.interesting(), ")".repeat(d));
    } else {
        let depth = if rng.chance(1, 10) { 70 } else { rng.below(6) };
        plan_items(rng, depth, &mut s);
    }
    let mut v = s.into_bytes();
    if rng.chance(1, 3) {
        mutate_bytes(rng, &mut v, PLAN_BYTES);
    }
    v
}

/// A random plan tree (serde's shape), any depth up to `depth`.
pub fn tree(rng: &mut Rng, depth: usize) -> Value {
    let leaf = |rng: &mut Rng| json!({"block": rng.interesting()});
    if depth == 0 || rng.chance(1, 3) {
        return leaf(rng);
    }
    let n = rng.below(4);
    let kids = |rng: &mut Rng| -> Vec<Value> { (0..n).map(|_| tree(rng, depth - 1)).collect() };
    match rng.below(3) {
        0 => json!({"seq": kids(rng)}),
        1 => json!({"parallel": kids(rng)}),
        _ => json!({"repeat": {"body": tree(rng, depth - 1), "times": rng.interesting()}}),
    }
}

/// A JSON value as a TOML inline value (no serializer for TOML is built).
fn toml_value(v: &Value) -> String {
    match v {
        Value::Null => "\"\"".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(toml_value).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => {
            let kv: Vec<String> = o.iter().map(|(k, v)| format!("{} = {}", Value::String(k.clone()), toml_value(v))).collect();
            format!("{{{}}}", kv.join(", "))
        }
    }
}

/// A plan file: `plan = "…"` or a tree, TOML or JSON; deep, odd or damaged at times.
pub fn plan_file(rng: &mut Rng) -> Vec<u8> {
    let toml = rng.chance(1, 2);
    let mut body = Map::new();
    match rng.below(6) {
        0 | 1 => {
            body.insert("plan".into(), Value::String(String::from_utf8_lossy(&plan(rng)).into_owned()));
        }
        2 | 3 => {
            let depth = rng.below(8);
            body.insert("tree".into(), tree(rng, depth));
        }
        4 => {
            let d = *rng.pick(&[30, 63, 64, 65, 66, 129, 1_000, 50_000]);
            let (open, close) = if toml { ("{seq = [", "]}") } else { ("{\"seq\": [", "]}") };
            let leaf = if toml { "{block = 0}" } else { "{\"block\": 0}" };
            let t = format!("{}{}{}", open.repeat(d), leaf, close.repeat(d));
            let text = if toml { format!("tree = {t}\n") } else { format!("{{\"tree\": {t}}}") };
            let mut v = text.into_bytes();
            if rng.chance(1, 4) {
                mutate_bytes(rng, &mut v, b"[]{},");
            }
            v.insert(0, toml as u8);
            return v;
        }
        _ => {
            let key = rng.pick(&["plan", "tree", "pl\nan", "tree\r\n", "x", "", "\u{1b}[31m"]).to_string();
            body.insert(key, random_json(rng, 3));
            if rng.chance(1, 2) {
                body.insert("plan".into(), random_json(rng, 2));
            }
        }
    }
    let v = Value::Object(body);
    let text = if toml {
        v.as_object().map(|o| o.iter().map(|(k, v)| format!("{} = {}\n", Value::String(k.clone()), toml_value(v))).collect()).unwrap_or_default()
    } else {
        v.to_string()
    };
    let mut out = text.into_bytes();
    if rng.chance(1, 3) {
        mutate_bytes(rng, &mut out, b"{}[]\",:=0123456789 \n");
    }
    out.insert(0, toml as u8);
    out
}

fn random_string(rng: &mut Rng) -> String {
    rng.pick(&["", "a", "text.txt", "choice_task.json", "/etc/passwd", "../../../etc/shadow", "a\nb", "tab\there", "\u{0}", "ü🦀", "choice", "acc"]).to_string()
}

/// Any JSON value, nested up to `depth`.
pub fn random_json(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth == 0 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(1, 2)),
        2 => json!(rng.interesting()),
        3 => json!((rng.interesting() as i64).wrapping_neg()),
        4 => json!(*rng.pick(&[0.5, -1.0, 1e308, -1e308, 1e-300, 3.75])),
        5 => Value::String(random_string(rng)),
        6 => Value::Array((0..rng.below(4)).map(|_| random_json(rng, depth - 1)).collect()),
        7 => {
            let d = *rng.pick(&[100, 127, 128, 129, 10_000]);
            serde_json::from_str(&format!("{}{}", "[".repeat(d.min(120)), "]".repeat(d.min(120)))).unwrap_or(Value::Null)
        }
        _ => Value::Object((0..rng.below(4)).map(|_| (random_string(rng), random_json(rng, depth - 1))).collect()),
    }
}

/// Mutates one node of `v`, chosen by a random walk from the root.
pub fn mutate_json(rng: &mut Rng, v: &mut Value) {
    let mut ptr = String::new();
    {
        let mut node = &*v;
        while rng.chance(3, 4) {
            let next = match node {
                Value::Array(a) if !a.is_empty() => {
                    let i = rng.below(a.len());
                    Some((i.to_string(), &a[i]))
                }
                Value::Object(o) if !o.is_empty() => o.iter().nth(rng.below(o.len())).map(|(k, x)| (k.replace('~', "~0").replace('/', "~1"), x)),
                _ => None,
            };
            let Some((key, child)) = next else { break };
            ptr.push('/');
            ptr.push_str(&key);
            node = child;
        }
    }
    let Some(node) = v.pointer_mut(&ptr) else { return };
    match rng.below(6) {
        0 => *node = random_json(rng, 2),
        1 => match node {
            Value::Object(o) if !o.is_empty() => {
                let k = o.keys().nth(rng.below(o.len())).cloned().unwrap_or_default();
                o.remove(&k);
            }
            Value::Array(a) if !a.is_empty() => {
                a.remove(rng.below(a.len()));
            }
            _ => *node = Value::Null,
        },
        2 => match node {
            Value::Array(a) if !a.is_empty() => {
                let x = a[rng.below(a.len())].clone();
                for _ in 0..1 + rng.below(8) {
                    a.push(x.clone());
                }
            }
            Value::Object(o) => {
                o.insert(random_string(rng), random_json(rng, 1));
            }
            _ => *node = json!(rng.interesting()),
        },
        3 => match node {
            Value::Array(a) => a.clear(),
            Value::Object(o) => o.clear(),
            _ => *node = Value::String(String::new()),
        },
        4 => *node = json!(rng.interesting()),
        _ => *node = json!((rng.interesting() as i64).wrapping_neg()),
    }
}

/// Fixture bytes with byte-level damage (truncation, flips, splices).
pub fn model_bytes(rng: &mut Rng) -> Vec<u8> {
    let Some(fx) = crate::fixtures::by_byte(rng.next_u64() as u8) else { return Vec::new() };
    let mut v = fx.bytes.clone();
    for _ in 0..1 + rng.below(3) {
        mutate_bytes(rng, &mut v, &[0x08, 0x0a, 0x12, 0x1a, 0x22, 0xff, 0x80, 0x00]);
    }
    v
}

/// A mutation script for [`crate::mutate_model::apply`].
pub fn model_mutate(rng: &mut Rng) -> Vec<u8> {
    let max = if rng.chance(1, 8) { 64 } else { 12 };
    let n = 1 + rng.below(max);
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

/// A suite file from its schema, broken at places.
pub fn suite(rng: &mut Rng) -> Vec<u8> {
    let n = if rng.chance(1, 300) { *rng.pick(&[1_000, 1_001, 20_000]) } else { rng.below(5) };
    let kinds = ["perplexity", "choice", "generate", "probe", "fidelity", "nope", ""];
    let datas = ["text.txt", "choice_task.json", "choice.jsonl", "probe.jsonl", "/etc/passwd", "../../../etc/hostname", "", "nope\n.json"];
    let tasks: Vec<Value> = (0..n)
        .map(|i| {
            let mut t = json!({
                "name": if rng.chance(1, 10) { random_string(rng) } else { format!("t{i}") },
                "task": rng.pick(&kinds),
                "data": rng.pick(&datas),
                "group": rng.pick(&["reasoning", "semantic", "perplexity"]),
            });
            if rng.chance(1, 2) {
                t["metric"] = json!(rng.pick(&["acc", "acc_norm", "exact_match"]));
            }
            if rng.chance(1, 2) {
                t["chance"] = json!(*rng.pick(&[0.25, 0.5, -1.0, 2.0]));
            }
            if rng.chance(1, 3) {
                t["limit"] = json!(rng.interesting());
            }
            if rng.chance(1, 3) {
                t["params"] = json!({"window": rng.interesting(), "stride": rng.interesting(), "max_tokens": rng.interesting()});
            }
            t
        })
        .collect();
    let mut v = json!({"name": "fuzz", "tasks": tasks});
    if rng.chance(1, 3) {
        v["similarity"] = json!({"data": rng.pick(&datas), "texts": rng.interesting(), "max_tokens": rng.interesting()});
    }
    for _ in 0..rng.below(3) {
        mutate_json(rng, &mut v);
    }
    let mut out = v.to_string().into_bytes();
    if rng.chance(1, 4) {
        mutate_bytes(rng, &mut out, b"{}[]\",:0123456789");
    }
    out
}

/// Task data: a kind byte (see `targets::task_data`), then BIG-bench JSON or JSONL.
pub fn task_data(rng: &mut Rng) -> Vec<u8> {
    let kind = rng.below(4) as u8;
    let n = if rng.chance(1, 2_000) { *rng.pick(&[100_000, 100_001]) } else { rng.below(6) };
    let example = |rng: &mut Rng, k: u8| -> Value {
        match k {
            0 => {
                let scores: Map<String, Value> = (0..rng.below(5)).map(|i| (format!("c{i}"), json!(rng.below(2)))).collect();
                json!({"input": "What is two plus three?", "target_scores": scores})
            }
            1 => json!({"context": "The cat sat on the", "choices": ["mat", "sky"], "label": rng.interesting()}),
            2 => json!({"input": "Spell two.", "target": if rng.chance(1, 2) { json!("two") } else { json!(["two", "2"]) }}),
            _ => json!({"text": "The striker scored.", "label": "sports", "split": rng.pick(&["train", "test", "dev"])}),
        }
    };
    let mut examples: Vec<Value> = (0..n).map(|_| example(rng, kind)).collect();
    for _ in 0..rng.below(3) {
        if !examples.is_empty() {
            let i = rng.below(examples.len());
            mutate_json(rng, &mut examples[i]);
        }
    }
    let text = if kind == 1 || kind == 3 {
        examples.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(if rng.chance(1, 8) { "\r\n" } else { "\n" })
    } else {
        let mut doc = json!({"examples": examples, "task_prefix": "", "example_input_prefix": "Q: "});
        if rng.chance(1, 4) {
            mutate_json(rng, &mut doc);
        }
        doc.to_string()
    };
    let mut out = text.into_bytes();
    if rng.chance(1, 4) {
        mutate_bytes(rng, &mut out, b"{}[]\",:0123456789\n");
    }
    out.insert(0, kind);
    out
}

fn mutated_fixture_json(rng: &mut Rng, text: &str) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_str::<Value>(text) else { return text.as_bytes().to_vec() };
    for _ in 0..1 + rng.below(4) {
        mutate_json(rng, &mut v);
    }
    let mut out = v.to_string().into_bytes();
    if rng.chance(1, 6) {
        mutate_bytes(rng, &mut out, b"{}[]\",:0123456789");
    }
    out
}

/// A fixture's `tokenizer.json`, mutated, and at times its `config.json` after a NUL.
pub fn tokenizer(rng: &mut Rng) -> Vec<u8> {
    let Some(fx) = crate::fixtures::by_byte(rng.next_u64() as u8) else { return Vec::new() };
    let Some(tok) = &fx.tokenizer else { return Vec::new() };
    let mut out = mutated_fixture_json(rng, tok);
    if let (true, Some(cfg)) = (rng.chance(1, 2), &fx.config) {
        out.push(0);
        out.extend(mutated_fixture_json(rng, cfg));
    }
    out
}

/// A fixture's `config.json` or `genai_config.json`, mutated.
pub fn config(rng: &mut Rng) -> Vec<u8> {
    let Some(fx) = crate::fixtures::by_byte(rng.next_u64() as u8) else { return Vec::new() };
    let genai = crate::fixtures::all().iter().find_map(|f| f.genai_config.as_ref());
    let (kind, text) = match (rng.chance(1, 3), genai) {
        (true, Some(g)) => (1u8, g.as_str()),
        _ => (0u8, fx.config.as_deref().unwrap_or("{}")),
    };
    let mut out = mutated_fixture_json(rng, text);
    out.insert(0, kind);
    out
}

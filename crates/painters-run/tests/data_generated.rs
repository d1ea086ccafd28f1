//! The generated multiple-choice tasks (`scripts/data_generate.py`, the choice tasks of a
//! machine without BIG-bench) load through painters' own reader, are deterministic, and
//! their answers are right: recomputed here from each question, independently of the
//! script's own self-test (which this test also runs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use painters_run::eval::data;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn generator(args: &[&str]) {
    let out = Command::new("python3").arg(root().join("scripts/data_generate.py")).args(args).output().expect("python3");
    assert!(out.status.success(), "data_generate.py {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// The answer a question asks for, computed from its text; None for a question of no known form.
fn answer_of(q: &str, choices: &[String]) -> Option<String> {
    let words: Vec<&str> = q.trim_end_matches('?').split(' ').collect();
    let num = |s: &str| s.trim_end_matches(',').parse::<i64>().ok();
    match words.as_slice() {
        ["What", "is", a, op @ ("plus" | "minus"), b] => {
            let (a, b) = (num(a)?, num(b)?);
            Some((if *op == "plus" { a + b } else { a - b }).to_string())
        }
        ["Which", "number", "is", w, a, "or", b] => {
            let (a, b) = (num(a)?, num(b)?);
            Some((if w.starts_with("larger") { a.max(b) } else { a.min(b) }).to_string())
        }
        ["What", "number", "comes", "next:", terms @ ..] => {
            let t: Vec<i64> = terms.iter().map(|s| num(s)).collect::<Option<_>>()?;
            Some((t[t.len() - 1] + t[1] - t[0]).to_string())
        }
        _ if q.starts_with("On the table, I see ") => {
            let (listed, asked) = q.split_once(". What color is the ")?;
            let object = asked.trim_end_matches('?');
            // "a red pen, a blue cup and a green book": the word before the object
            let words: Vec<&str> = listed.split([' ', ',']).filter(|w| !w.is_empty()).collect();
            let at = words.iter().position(|w| *w == object)?;
            choices.iter().find(|c| **c == words[at - 1]).cloned()
        }
        _ => None,
    }
}

#[test]
fn generated_tasks_are_deterministic_and_answer_their_questions() {
    generator(&["--self-test"]);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generator(&["--write", a.path().to_str().unwrap()]);
    generator(&["--write", b.path().to_str().unwrap()]);
    let mut names: Vec<String> = std::fs::read_dir(a.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    let mut checked = 0;
    for name in &names {
        let (pa, pb) = (a.path().join(name).join("task.json"), b.path().join(name).join("task.json"));
        assert_eq!(std::fs::read(&pa).unwrap(), std::fs::read(&pb).unwrap(), "{name}: two runs differ");
        let examples = data::load_choice(&pa).unwrap();
        assert!(examples.len() >= 30, "{name}: {} examples", examples.len());
        let first = examples.iter().filter(|e| e.label == 0).count() as f64 / examples.len() as f64;
        let k = examples[0].choices.len() as f64;
        assert!((0.6 / k..1.4 / k).contains(&first), "{name}: the answer comes first in {first} of the examples");
        for e in &examples {
            let answer = &e.choices[e.label];
            let mut distinct = e.choices.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), e.choices.len(), "{name}: {:?}", e.choices);
            let q = e.context.strip_prefix("Q: ").and_then(|c| c.strip_suffix("\nA:")).unwrap_or_else(|| panic!("{name}: context {:?}", e.context));
            if let Some(want) = answer_of(q, &e.choices) {
                assert_eq!(answer, &want, "{name}: {q}");
                checked += 1;
            }
            if ["add_1digit", "add_2digit", "subtract_2digit", "next_number", "compare_numbers"].contains(&name.as_str()) {
                assert!(e.choices.iter().all(|c| c.len() == answer.len()), "{name}: {q} {:?}: widths differ", e.choices);
            }
        }
    }
    assert!(checked > 5000, "only {checked} answers recomputed");
}

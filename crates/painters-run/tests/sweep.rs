//! `painters sweep` on a fixture: every (configuration, task) once in
//! `results.jsonl`, plots and report written, numbers in the report traced to
//! the results, and a killed sweep resumed without losing or repeating work.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sweep_args(out: &Path) -> Vec<String> {
    [
        "sweep",
        "--model",
        root().join("tests/fixtures/llama-dynamo").to_str().unwrap(),
        "--n-range",
        "0..1",
        "--tasks",
        root().join("tests/data/suite.json").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn keys(out: &Path) -> Vec<(String, Option<u64>, String)> {
    std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["preset"].as_str().unwrap().to_string(), v["n"].as_u64(), v["task"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn sweep_writes_every_result_once_and_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sweep");
    let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(sweep_args(&out)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // 1 full + 6 presets × 2 values of N, 4 tasks each.
    let k = keys(&out);
    assert_eq!(k.len(), (1 + 6 * 2) * 4);
    assert_eq!(k.iter().collect::<HashSet<_>>().len(), k.len(), "duplicate records");
    for f in ["report.md", "normalized_score.png", "normalized_score.svg", "tasks.png", "perplexity.svg", "similarity.png", "similarity.csv"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert!(!out.join(".work").exists(), "work folder left behind");
    // Every value in the report's table is a value of results.jsonl.
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let values: HashSet<String> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| format!("{:.4}", serde_json::from_str::<serde_json::Value>(l).unwrap()["value"].as_f64().unwrap()))
        .collect();
    let rows: Vec<&str> = report.lines().filter(|l| l.starts_with("| full ") || l.starts_with("| skip ") || l.starts_with("| reverse ")).collect();
    assert!(rows.len() >= 12);
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert!(values.contains(cells[7]), "report value {} not in results.jsonl", cells[7]);
    }
    // The identity configuration reproduces `painters eval` on the source.
    let first: serde_json::Value = serde_json::from_str(std::fs::read_to_string(out.join("results.jsonl")).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["preset"], "full");
    // Rerunning does nothing new.
    let again = Command::new(env!("CARGO_BIN_EXE_painters")).args(sweep_args(&out)).output().unwrap();
    assert!(again.status.success());
    assert_eq!(keys(&out).len(), k.len());
}

#[test]
fn a_killed_sweep_resumes_without_loss_or_repeats() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sweep");
    let mut child = Command::new(env!("CARGO_BIN_EXE_painters")).args(sweep_args(&out)).spawn().unwrap();
    let start = Instant::now();
    loop {
        let n = std::fs::read_to_string(out.join("results.jsonl")).map(|s| s.lines().count()).unwrap_or(0);
        if n >= 9 || start.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = keys(&out).len();
    assert!(before < 52, "the sweep finished before it could be killed ({before} records)");
    // A torn last line (killed mid-write) is tolerated.
    let mut f = std::fs::OpenOptions::new().append(true).open(out.join("results.jsonl")).unwrap();
    std::io::Write::write_all(&mut f, b"{\"model\": \"torn").unwrap();
    drop(f);
    let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(sweep_args(&out)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let k = keys_lenient(&out);
    assert_eq!(k.len(), 52);
    assert_eq!(k.iter().collect::<HashSet<_>>().len(), 52, "records repeated after resuming");
}

fn keys_lenient(out: &Path) -> Vec<(String, Option<u64>, String)> {
    std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| (v["preset"].as_str().unwrap().to_string(), v["n"].as_u64(), v["task"].as_str().unwrap().to_string()))
        .collect()
}

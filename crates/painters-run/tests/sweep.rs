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

/// The model a plan builds: its block order when it averages nothing, else the plan.
fn model_of(plan: &str) -> String {
    painters_rewrite::parse(plan).unwrap().order().map(|o| format!("{o:?}")).unwrap_or(plan.to_string())
}

/// The distinct models of a sweep (`sweep.json`): configurations that run the
/// same blocks in the same order are one model, evaluated once.
fn distinct_models(out: &Path) -> usize {
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    manifest["configs"].as_array().unwrap().iter().map(|c| model_of(c[2].as_str().unwrap())).collect::<HashSet<_>>().len()
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
    // 1 full + 6 presets × 2 values of N, 4 tasks each; random at N = 1 (M = 2, seed 0)
    // keeps the order, so it is the full model and evaluated once.
    let k = keys(&out);
    assert_eq!(distinct_models(&out), 1 + 6 * 2 - 1);
    assert_eq!(k.len(), distinct_models(&out) * 4);
    assert_eq!(k.iter().collect::<HashSet<_>>().len(), k.len(), "duplicate records");
    for f in ["report.md", "claims.json", "normalized_score.png", "normalized_score.svg", "tasks.png", "perplexity.svg", "similarity.png", "similarity.csv"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert!(!out.join(".work").exists(), "work folder left behind");
    // claims.json holds the report's claims, and the command prints each with its verdict.
    let claims: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("claims.json")).unwrap()).unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let claims = claims["claims"].as_array().unwrap();
    assert!(!claims.is_empty());
    for c in claims {
        let verdict = c["verdict"].as_str().unwrap_or("not decided");
        let name = c["claim"].as_str().unwrap();
        assert!(stdout.lines().any(|l| l.trim_start().starts_with(verdict) && l.contains(name)), "{name}: {stdout}");
    }
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
    // The similarity matrix is the mean of the per-text matrices, and its claim has an interval over texts.
    let sim: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("similarity.json")).unwrap()).unwrap();
    let per: Vec<&serde_json::Value> = sim["per_text"].as_array().unwrap().iter().collect();
    assert!(per.len() >= 2, "per-text matrices kept");
    let matrix = sim["matrix"].as_array().unwrap();
    for (i, row) in matrix.iter().enumerate() {
        for (j, v) in row.as_array().unwrap().iter().enumerate() {
            let mean = per.iter().map(|m| m[i][j].as_f64().unwrap()).sum::<f64>() / per.len() as f64;
            assert!((mean - v.as_f64().unwrap()).abs() < 1e-12, "sim[{i}][{j}]");
        }
    }
    let line = report.lines().find(|l| l.contains("Middle layers share a representation space")).expect("similarity claim");
    assert!(line.contains("95% interval ["), "{line}");
    // The identity configuration reproduces `painters eval` on the source, number for number.
    let records: Vec<serde_json::Value> =
        std::fs::read_to_string(out.join("results.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records[0]["preset"], "full");
    let model = root().join("tests/fixtures/llama-dynamo");
    let data = root().join("tests/data");
    for (task, args, metric) in [
        ("text", vec!["--task", "perplexity", "--data", "text.txt", "--window", "32"], "token_perplexity"),
        ("bigbench-choice", vec!["--task", "choice", "--data", "choice_task.json"], "acc"),
        ("custom-choice", vec!["--task", "choice", "--data", "choice_custom_prefix.json"], "acc_norm"),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_painters"));
        cmd.arg("eval").arg(&model).arg("--json").current_dir(&data).args(&args);
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let want = v["results"][args[1]][format!("{metric},none")].as_f64().unwrap();
        let got = records.iter().find(|r| r["preset"] == "full" && r["task"] == task).unwrap()["value"].as_f64().unwrap();
        assert_eq!(got, want, "{task}: sweep {got} vs painters eval {want}");
        if args[1] == "choice" {
            // The report's uniform model (computed from the suite's data) is what the task itself counted.
            let uniform = v["results"]["choice"][format!("{metric}_uniform,none")].as_f64().unwrap();
            let row = report.lines().find(|l| l.starts_with(&format!("| {task} |"))).unwrap_or_else(|| panic!("{task}: no setup row"));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            assert_eq!(cells[5], format!("{uniform:.3}"), "{task}: report's uniform model vs painters eval");
        }
    }
    // Every interval and Figure 11, recomputed by an independent implementation.
    check_report(&out);
    // --json: the same claims, and the counts, for scripts.
    let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(sweep_args(&out)).args(["--report-only", "--json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("claims.json")).unwrap()).unwrap();
    assert_eq!(v["claims"], file["claims"]);
    assert_eq!(v["evaluated"].as_u64().unwrap() as usize, k.len());
    // Rerunning does nothing new.
    let again = Command::new(env!("CARGO_BIN_EXE_painters")).args(sweep_args(&out)).output().unwrap();
    assert!(again.status.success());
    assert_eq!(keys(&out).len(), k.len());
}

/// `scripts/check_report.py` (Python's standard library only) recomputes every interval,
/// normalised score and Figure 11 row of a sweep's report from its records' per-example scores.
fn check_report(folder: &Path) {
    let o = Command::new("python3").arg(root().join("scripts/check_report.py")).arg(folder).output().expect("python3");
    let said = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success() && said.contains("all agree"), "{said}");
}

#[test]
fn the_reports_on_record_agree_with_an_independent_recomputation() {
    // The reproductions in docs/results/ that have Figure 11's numbers (the BIG-bench run's
    // report predates them and cannot be written again without its data).
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("docs/results")).unwrap() {
        let dir = entry.unwrap().path();
        if dir.join("normalized_score.csv").is_file() {
            check_report(&dir);
            checked += 1;
        }
    }
    assert!(checked >= 2, "the MiniLM and SmolLM2 reproductions");
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
    let all = distinct_models(&out) * 4;
    assert!(before < all, "the sweep finished before it could be killed ({before} records)");
    // A torn last line (killed mid-write) is tolerated.
    let mut f = std::fs::OpenOptions::new().append(true).open(out.join("results.jsonl")).unwrap();
    std::io::Write::write_all(&mut f, b"{\"model\": \"torn").unwrap();
    drop(f);
    let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(sweep_args(&out)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let k = keys_lenient(&out);
    assert_eq!(k.len(), all);
    assert_eq!(k.iter().collect::<HashSet<_>>().len(), all, "records repeated after resuming");
}

/// A sweep rerun into its folder with another `--seed` (or `--loops`) builds
/// other plans under the same labels: the old records would pass for them.
/// It is refused before anything is written; a merge refuses a record whose
/// plan is not its manifest's.
#[test]
fn a_rerun_with_other_plans_under_the_same_labels_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sweep");
    let mut args = sweep_args(&out);
    let i = args.iter().position(|a| a == "--n-range").unwrap();
    args[i + 1] = "0".into();
    args.extend(["--presets", "random,looped-parallel"].map(String::from));
    let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before: Vec<Vec<u8>> = ["results.jsonl", "sweep.json", "report.md"].iter().map(|f| std::fs::read(out.join(f)).unwrap()).collect();
    for other in [["--seed", "5"], ["--loops", "2"]] {
        let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(&args).args(other).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        let label = if other[0] == "--seed" { "random N=0" } else { "looped-parallel N=0" };
        assert!(!o.status.success() && err.contains(&format!("holds {label} as the plan")) && err.lines().count() == 1, "{other:?}: {err}");
        let after: Vec<Vec<u8>> = ["results.jsonl", "sweep.json", "report.md"].iter().map(|f| std::fs::read(out.join(f)).unwrap()).collect();
        assert!(after == before, "{other:?}: the refused run changed the folder");
    }
    // The same sweep again is fine, and evaluates nothing.
    let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(out.join("results.jsonl")).unwrap(), before[0]);
    // A record whose plan is not the manifest's (edited, or from an older run) stops the merge.
    let text = String::from_utf8(before[0].clone()).unwrap();
    let plan = text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).find(|r| r["preset"] == "random").unwrap()["plan"].as_str().unwrap().to_string();
    std::fs::write(out.join("results.jsonl"), text.replacen(&format!("\"plan\":\"{plan}\""), "\"plan\":\"0-4\"", 1)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(&args).arg("--report-only").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("results.jsonl holds random N=0 as the plan 0-4"), "{err}");
}

/// Two exports of one architecture can have byte-identical `.onnx` files
/// and different weights in their external data: a sweep resumed on other
/// weights is refused, like one on another model file.
#[test]
fn a_sweep_resumed_on_other_external_weights_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    for e in std::fs::read_dir(root().join("tests/fixtures/llama-optimum-extdata")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), model.join(e.file_name())).unwrap();
    }
    let out = tmp.path().join("sweep");
    let mut args = sweep_args(&out);
    args[2] = model.to_str().unwrap().to_string();
    let i = args.iter().position(|a| a == "--n-range").unwrap();
    args[i + 1] = "0".into();
    args.extend(["--presets", "skip"].map(String::from));
    let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let weights = model.join("weights.bin");
    let mut bytes = std::fs::read(&weights).unwrap();
    bytes[4096..4100].copy_from_slice(&0.5f32.to_le_bytes());
    std::fs::write(&weights, &bytes).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(&args).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("holds results of another model") && err.lines().count() == 1, "{err}");
}

/// The fixture suite with absolute data paths, to be edited and written elsewhere.
fn absolute_suite() -> serde_json::Value {
    let mut suite: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root().join("tests/data/suite.json")).unwrap()).unwrap();
    for t in suite["tasks"].as_array_mut().unwrap() {
        t["data"] = root().join("tests/data").join(t["data"].as_str().unwrap()).to_str().unwrap().into();
    }
    suite["similarity"]["data"] = root().join("tests/data/text.txt").to_str().unwrap().into();
    suite
}

/// `similarity.json` is kept between runs, but a changed similarity spec (which
/// the suite digest leaves out: it can change on a resume) is computed again,
/// also over a file written before the spec's digest was kept.
#[test]
fn a_changed_similarity_spec_is_computed_again() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sweep");
    let mut suite = absolute_suite();
    let path = tmp.path().join("suite.json");
    std::fs::write(&path, suite.to_string()).unwrap();
    let mut args = sweep_args(&out);
    let i = args.iter().position(|a| a == "--tasks").unwrap();
    args[i + 1] = path.to_str().unwrap().to_string();
    let i = args.iter().position(|a| a == "--n-range").unwrap();
    args[i + 1] = "0".into();
    args.extend(["--presets", "skip"].map(String::from));
    let run = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(&args).args(extra).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(out.join("similarity.json")).unwrap()).unwrap()
    };
    let texts = |v: &serde_json::Value| v["per_text"].as_array().unwrap().len();
    let first = run(&[]);
    assert_eq!(texts(&first), 5);
    assert_eq!(run(&["--report-only"]), first, "kept when nothing changed");
    suite["similarity"]["texts"] = 3.into();
    std::fs::write(&path, suite.to_string()).unwrap();
    let fewer = run(&["--report-only"]);
    assert_eq!(texts(&fewer), 3);
    // The first 3 texts' matrices are the ones computed before.
    assert_eq!(fewer["per_text"].as_array().unwrap()[..], first["per_text"].as_array().unwrap()[..3]);
    suite["similarity"]["max_tokens"] = 16.into();
    std::fs::write(&path, suite.to_string()).unwrap();
    let shorter = run(&["--report-only"]);
    assert_ne!(shorter["per_text"], fewer["per_text"], "another token limit");
    // A file without the digest, of 5 texts, for a spec of 3: computed again.
    std::fs::write(out.join("similarity.json"), serde_json::json!({"labels": first["labels"], "matrix": first["matrix"], "influence": first["influence"], "per_text": first["per_text"]}).to_string()).unwrap();
    assert_eq!(texts(&run(&["--report-only"])), 3);
    // A folder without its base model (results copied elsewhere) computes from the model itself: the same numbers.
    std::fs::remove_dir_all(out.join("base")).unwrap();
    suite["similarity"]["max_tokens"] = 64.into();
    suite["similarity"]["texts"] = 2.into();
    std::fs::write(&path, suite.to_string()).unwrap();
    let from_model = run(&["--report-only"]);
    assert_eq!(from_model["per_text"].as_array().unwrap()[..], first["per_text"].as_array().unwrap()[..2]);
}

/// A relative data path resolves against the working directory, then the
/// suite's folder; one that names a file in both, with other bytes, is refused
/// rather than read from the first.
#[test]
fn a_data_path_that_names_two_files_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("suites")).unwrap();
    let text = std::fs::read_to_string(root().join("tests/data/text.txt")).unwrap();
    std::fs::write(tmp.path().join("suites/text.txt"), &text).unwrap();
    std::fs::write(tmp.path().join("suites/suite.json"), r#"{"tasks": [{"name": "text", "task": "perplexity", "data": "text.txt", "group": "perplexity", "params": {"window": 32, "stride": 32}}]}"#).unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_painters"))
            .args(["sweep", "--model", root().join("tests/fixtures/llama-dynamo").to_str().unwrap(), "--n-range", "0", "--presets", "skip"])
            .args(["--tasks", "suites/suite.json", "--out", "out", "--threads", "1"])
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };
    // Only in the suite's folder: found there.
    let o = run();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_dir_all(tmp.path().join("out")).unwrap();
    // Also in the working directory, with other text.
    std::fs::write(tmp.path().join("text.txt"), text.to_uppercase()).unwrap();
    let o = run();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("names two different files") && err.lines().count() == 1, "{err}");
    assert!(!tmp.path().join("out").exists(), "nothing written");
    // The same bytes in both places is no ambiguity.
    std::fs::write(tmp.path().join("text.txt"), &text).unwrap();
    let o = run();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn keys_lenient(out: &Path) -> Vec<(String, Option<u64>, String)> {
    std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| (v["preset"].as_str().unwrap().to_string(), v["n"].as_u64(), v["task"].as_str().unwrap().to_string()))
        .collect()
}

/// The report without the line that carries wall times.
fn report_without_times(out: &Path) -> String {
    std::fs::read_to_string(out.join("report.md")).unwrap().lines().filter(|l| !l.starts_with("Evaluation time:")).collect::<Vec<_>>().join("\n")
}

/// Every record of a folder (all results files), without its timings, keyed.
fn records_without_times(out: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut all = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(out).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if !(name.starts_with("results") && name.ends_with(".jsonl")) {
            continue;
        }
        for l in std::fs::read_to_string(out.join(&name)).unwrap().lines() {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            let k = format!("{}|{}|{}", v["preset"], v["n"], v["task"]);
            assert!(all.insert(k.clone(), v).is_none(), "{k} twice");
        }
    }
    all
}

fn shard(out: &Path, i: usize, n: usize) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_painters"));
    c.args(sweep_args(out)).args(["--shard", &format!("{i}/{n}")]);
    c
}

/// A sweep run as 3 shards, in 3 processes at once in one folder, holds
/// exactly the records of a single-process run, and `--report-only` writes
/// the same report; the merge refuses a missing shard, a duplicate, a shard
/// of another model, and a suite or model other than the sweep's.
#[test]
fn three_shards_in_parallel_give_the_records_and_report_of_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (single, sharded) = (tmp.path().join("single"), tmp.path().join("sharded"));
    let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(sweep_args(&single)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let children: Vec<_> = (1..=3).map(|i| shard(&sharded, i, 3).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap()).collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(!sharded.join("report.md").exists(), "a shard writes no report");
    assert_eq!(records_without_times(&sharded), records_without_times(&single));
    let mut merge = Command::new(env!("CARGO_BIN_EXE_painters"));
    merge.args(sweep_args(&sharded)).arg("--report-only");
    let o = merge.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(report_without_times(&sharded), report_without_times(&single));
    // A duplicate: the single run's results beside the shards.
    std::fs::copy(single.join("results.jsonl"), sharded.join("results.jsonl")).unwrap();
    let o = merge.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("is in both") && err.lines().count() == 1, "{err}");
    std::fs::remove_file(sharded.join("results.jsonl")).unwrap();
    // A shard of another model.
    let m = sharded.join("sweep.shard-2-of-3.json");
    let text = std::fs::read_to_string(&m).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    std::fs::write(&m, text.replace(v["model_blake3"].as_str().unwrap(), &"0".repeat(64))).unwrap();
    let o = merge.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("different sweeps (another model)"), "{err}");
    std::fs::write(&m, text).unwrap();
    // A report from another suite (the same tasks, one with a limit) or another model.
    let mut suite = absolute_suite();
    let same = tmp.path().join("same.json");
    std::fs::write(&same, suite.to_string()).unwrap();
    suite["tasks"][1]["limit"] = 2.into();
    let other = tmp.path().join("other.json");
    std::fs::write(&other, suite.to_string()).unwrap();
    let with = |flag: &str, value: &Path| {
        let mut args = sweep_args(&sharded);
        let i = args.iter().position(|a| a == flag).unwrap();
        args[i + 1] = value.to_str().unwrap().to_string();
        Command::new(env!("CARGO_BIN_EXE_painters")).args(args).arg("--report-only").output().unwrap()
    };
    let o = with("--tasks", &same);
    assert!(o.status.success(), "the same suite from another folder: {}", String::from_utf8_lossy(&o.stderr));
    let o = with("--tasks", &other);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--tasks is not the suite") && err.lines().count() == 1, "{err}");
    let o = with("--model", &root().join("tests/fixtures/llama-optimum-past"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("is not the model the results") && err.lines().count() == 1, "{err}");
    assert_eq!(report_without_times(&sharded), report_without_times(&single), "a refused report leaves the report as it was");
    // A missing shard.
    std::fs::remove_file(sharded.join("results.shard-3-of-3.jsonl")).unwrap();
    let o = merge.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("shard 3/3 has no results yet"), "{err}");
    // --partial reports the shards there are and says which are missing.
    let o = merge.arg("--partial").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = std::fs::read_to_string(sharded.join("report.md")).unwrap();
    assert!(report.lines().next().unwrap().contains("(partial: shards 3/3 missing)"), "{}", report.lines().next().unwrap());
}

/// A shard killed midway resumes where it stopped: its part of the job list
/// does not depend on what is done, nothing is lost or repeated.
#[test]
fn a_killed_shard_resumes_its_own_part() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sweep");
    let file = out.join("results.shard-2-of-3.jsonl");
    let mut child = shard(&out, 2, 3).stderr(std::process::Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while std::fs::read_to_string(&file).map(|s| s.lines().count()).unwrap_or(0) < 3 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = std::fs::read_to_string(&file).unwrap().lines().count();
    // Configurations 1, 4, 7, 10 of 13 (the full model is 0), 4 tasks each.
    assert!(before < 16, "the shard finished before it could be killed ({before} records)");
    let o = shard(&out, 2, 3).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let records = records_without_times(&out);
    assert_eq!(records.len(), 16);
    assert!(records.values().all(|r| r["preset"] != "full"), "the full model is shard 1's");
}

/// At the last start layer of an even-depth model M = 1: reverse, random,
/// middle-repeat and parallel of one block run the full model's blocks. The
/// sweep evaluates each distinct model once; the report lists the others
/// with its results, and those are what evaluating them would give (checked
/// on the rewritten files with `painters eval`).
#[test]
fn configurations_that_run_the_full_models_blocks_are_not_evaluated_again() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sweep");
    let model = root().join("tests/fixtures/llama-optimum-past");
    let mut args = sweep_args(&out);
    args[2] = model.to_str().unwrap().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    let configs: Vec<(String, Option<u64>, String)> = manifest["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c[0].as_str().unwrap().to_string(), c[1].as_u64(), c[2].as_str().unwrap().to_string()))
        .collect();
    let aliased = ["middle-repeat", "reverse", "random", "parallel"];
    for (p, n, plan) in &configs {
        if *n == Some(1) {
            assert_eq!(aliased.contains(&p.as_str()), model_of(plan) == model_of("0-3"), "{p} N=1 is {plan}");
        }
    }
    let k = keys(&out);
    assert_eq!(k.len(), distinct_models(&out) * 4, "one evaluation per distinct model: {k:?}");
    assert!(distinct_models(&out) <= configs.len() - aliased.len());
    for p in aliased {
        assert!(!k.contains(&(p.to_string(), Some(1), "text".to_string())), "{p} N=1 evaluated again");
    }
    // The report lists every configuration, the repeats with the full model's numbers.
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains(&format!("({} records)", k.len())), "{}", report.lines().nth(2).unwrap_or(""));
    assert_eq!(report.lines().filter(|l| l.contains("| `") && l.contains("` = full |")).count(), aliased.len() * 4);
    let records: Vec<serde_json::Value> =
        std::fs::read_to_string(out.join("results.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let full = |task: &str| records.iter().find(|r| r["preset"] == "full" && r["task"] == task).unwrap()["value"].as_f64().unwrap();
    for p in aliased {
        let row = report.lines().find(|l| l.starts_with(&format!("| {p} | 1 | 1 |")) && l.contains("| custom-choice |")).unwrap_or_else(|| panic!("{p} N=1 not in the report"));
        assert!(row.contains("= full |"), "{row}");
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[7], format!("{:.4}", full("custom-choice")), "{row}");
    }
    // Independently: the rewritten models score exactly what the full model scores.
    let data = root().join("tests/data");
    let eval = |m: &Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_painters"))
            .arg("eval")
            .arg(m)
            .args(["--task", "choice", "--data", "choice_custom_prefix.json", "--json", "--threads", "1"])
            .current_dir(&data)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["results"]["choice"].clone()
    };
    let want = eval(&model);
    assert_eq!(want["acc_norm,none"].as_f64().unwrap(), full("custom-choice"));
    for p in aliased {
        let dir = tmp.path().join(p);
        let o = Command::new(env!("CARGO_BIN_EXE_painters"))
            .arg("rewrite")
            .arg(&model)
            .args(["--preset", p, "--n", "1", "-o"])
            .arg(dir.join("model.onnx"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(eval(&dir), want, "{p} N=1");
    }
}

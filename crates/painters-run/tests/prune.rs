//! `painters prune`: the metrics against an independent PyTorch computation
//! of the same definitions (`tests/data/prune/`, made by
//! `scripts/make_prune_references.py`), the greedy search against brute
//! force, the pruned model against the rewrite of the plan it names, and the
//! resumable search log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::path::{Path, PathBuf};

use painters_graph::detect;
use painters_rewrite::Plan;
use painters_run::prune::calib::{hidden_states, nll, session_for, Calibration};
use painters_run::prune::metrics::{angular, block_influence};
use painters_run::tokenizer::Tokenizer;
use painters_run::SessionOptions;

use common::{fails, painters};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn opts() -> SessionOptions {
    SessionOptions { threads: 1, optimization: 0, ..Default::default() }
}

#[test]
fn bi_and_angular_agree_with_pytorch() {
    let dir = root().join("tests/data/prune");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = r["fixture"].as_str().unwrap();
        let model_path = common::fixtures_dir().join(name).join("model.onnx");
        let model = common::load(&model_path);
        let layout = detect(&model).unwrap();
        let t = layout.num_blocks();
        assert_eq!(r["num_blocks"].as_u64().unwrap() as usize, t, "{name}");
        let tok = Tokenizer::for_model(&model_path, None).unwrap();
        let calib = Calibration::load(
            &root().join(r["text"].as_str().unwrap()),
            &tok,
            r["window"].as_u64().unwrap() as usize,
            r["max_tokens"].as_u64().unwrap() as usize,
        )
        .unwrap();
        assert_eq!(calib.tokens as u64, r["tokens"].as_u64().unwrap(), "{name}: calibration tokens");
        assert_eq!(calib.n_windows as u64, r["windows"].as_u64().unwrap(), "{name}: windows");
        let mut lm = session_for(common::runtime(), &model, &layout, &Plan::sequence(0..t), true, &opts()).unwrap();
        let hidden = hidden_states(&mut lm, t, &calib).unwrap();
        let close = |what: &str, ours: &[f64], theirs: &serde_json::Value| {
            let theirs: Vec<f64> = theirs.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            assert_eq!(ours.len(), theirs.len(), "{name}: {what}");
            for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                assert!((a - b).abs() <= 1e-4, "{name}: {what}[{k}]: painters {a} vs PyTorch {b}");
            }
        };
        close("bi", &block_influence(&hidden), &r["bi"]);
        for n in 1..t {
            close(&format!("angular n={n}"), &angular(&hidden, n), &r["angular"][n.to_string()]);
        }
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} prune references");
}

/// SLEB's greedy search on a 6-block fixture, K = 1 … 3, against brute force
/// over every set of K eligible blocks. When the optimal sets are nested
/// (the optimum for K contains the optimum for K − 1), greedy must find
/// each; otherwise the test says so and checks what greedy guarantees: each
/// round's choice is the best given the earlier ones.
#[test]
fn greedy_equals_brute_force_where_greedy_is_optimal() {
    let fixture = "llama-quant";
    let model_path = common::fixtures_dir().join(fixture).join("model.onnx");
    let model = common::load(&model_path);
    let layout = detect(&model).unwrap();
    let t = layout.num_blocks();
    assert_eq!(t, 6);
    let tok = Tokenizer::for_model(&model_path, None).unwrap();
    let calib = Calibration::load(&root().join("tests/data/text.txt"), &tok, 32, 128).unwrap();
    let eligible: Vec<usize> = (1..t - 1).collect();
    let mut cache: Vec<(Vec<usize>, f64)> = Vec::new();
    let mut nll_without = |removed: &[usize]| {
        let mut key = removed.to_vec();
        key.sort_unstable();
        if let Some((_, v)) = cache.iter().find(|(k, _)| *k == key) {
            return *v;
        }
        let kept: Vec<usize> = (0..t).filter(|b| !key.contains(b)).collect();
        // the session options `painters prune --threads 1` uses (ORT's optimizations on)
        let cli = SessionOptions { threads: 1, ..Default::default() };
        let mut lm = session_for(common::runtime(), &model, &layout, &Plan::sequence(kept), false, &cli).unwrap();
        let v = nll(&mut lm, &calib).unwrap();
        cache.push((key, v));
        v
    };
    let subsets = |k: usize| -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = vec![vec![]];
        for _ in 0..k {
            let mut next = Vec::new();
            for s in &out {
                for &b in eligible.iter().filter(|&&b| s.last().is_none_or(|&l| b > l)) {
                    next.push([s.clone(), vec![b]].concat());
                }
            }
            out = next;
        }
        out
    };
    let mut best: Vec<Vec<usize>> = vec![vec![]];
    for k in 1..=3 {
        let b = subsets(k).into_iter().min_by(|a, b| nll_without(a).total_cmp(&nll_without(b))).unwrap();
        best.push(b);
    }
    for k in 1..=3 {
        let tmp = tempfile::tempdir().unwrap();
        let (code, out, err) = painters(&[
            "prune", model_path.to_str().unwrap(), "--budget", &k.to_string(), "--method", "greedy",
            "--calib", root().join("tests/data/text.txt").to_str().unwrap(), "--window", "32", "--max-tokens", "128",
            "--threads", "1", "--json", "-o", tmp.path().join("out").to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let mut greedy: Vec<usize> = v["removed"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
        // Every round picked the best candidate given the earlier removals.
        for round in v["rounds"].as_array().unwrap() {
            let scores: Vec<f64> = round["scores"].as_array().unwrap().iter().map(|s| s[1].as_f64().unwrap()).collect();
            let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
            let picked = round["removed"][0].as_u64().unwrap() as usize;
            let picked_score = round["scores"].as_array().unwrap().iter().find(|s| s[0] == picked).unwrap()[1].as_f64().unwrap();
            assert_eq!(picked_score, min, "K={k}: round {} did not pick its best candidate", round["round"]);
        }
        greedy.sort_unstable();
        let nested = (1..=k).all(|j| best[j - 1].iter().all(|b| best[j].contains(b)));
        if nested {
            assert_eq!(greedy, best[k], "K={k}: greedy {greedy:?} vs brute force {:?}", best[k]);
        } else {
            eprintln!("K={k}: the optimal sets are not nested ({:?}), so greedy need not find {:?}; it found {greedy:?}", &best[1..=k], best[k]);
            assert!(nll_without(&greedy) >= nll_without(&best[k]) - 1e-12);
        }
        let reported = v["nll"].as_f64().unwrap();
        assert!((reported - nll_without(&greedy)).abs() < 1e-9, "K={k}: reported NLL {reported}");
    }
}

/// The pruned folder is the rewrite of the plan it names, bit for bit in its outputs.
#[test]
fn every_method_writes_the_model_of_its_plan() {
    for (fixture, methods) in [("llama-dynamo", &["bi", "angular", "greedy", "paper"][..]), ("bert-optimum", &["bi", "angular", "paper"][..])] {
        let f = common::fixtures().into_iter().find(|f| f.name == fixture).unwrap();
        let reference = f.reference();
        for method in methods {
            let tmp = tempfile::tempdir().unwrap();
            let out = tmp.path().join("pruned");
            let (code, text, err) = painters(&[
                "prune", f.dir.to_str().unwrap(), "--budget", "2", "--method", method, "--calib",
                root().join("tests/data/text.txt").to_str().unwrap(), "--window", "32", "--max-tokens", "128", "--json",
                "-o", out.to_str().unwrap(),
            ]);
            assert_eq!(code, 0, "{fixture} {method}: {err}");
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let plan = v["plan"].as_str().unwrap();
            let removed: Vec<u64> = v["removed"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
            assert_eq!(removed.len(), 2);
            assert!(!removed.contains(&0) && !removed.contains(&(f.num_blocks() as u64 - 1)), "{fixture} {method}: ends excluded");
            assert!(out.join("prune.json").is_file());
            let manual = tmp.path().join("manual");
            let (code, _, err) = painters(&["rewrite", f.dir.to_str().unwrap(), "--plan", plan, "-o", &format!("{}/", manual.display())]);
            assert_eq!(code, 0, "{err}");
            assert_eq!(
                common::run(&out.join("model.onnx"), &reference.inputs),
                common::run(&manual.join("model.onnx"), &reference.inputs),
                "{fixture} {method}: the pruned model differs from rewrite --plan {plan}"
            );
            let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
            assert_eq!(config["num_hidden_layers"].as_u64().unwrap() as usize, f.num_blocks() - 2, "{fixture} {method}");
        }
    }
}

/// A killed greedy search resumes from its log: nothing is evaluated twice,
/// a torn last line is dropped, and the result is the same.
#[test]
fn greedy_resumes_from_its_log() {
    let f = common::fixtures().into_iter().find(|f| f.name == "llama-dynamo").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log.jsonl");
    let run = || {
        let (code, text, err) = painters(&[
            "prune", f.dir.to_str().unwrap(), "--budget", "2", "--method", "greedy", "--calib",
            root().join("tests/data/text.txt").to_str().unwrap(), "--window", "32", "--max-tokens", "96", "--json",
            "--log", log.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let first = run();
    assert_eq!(first["evaluated"], 3 + 2);
    // Kill it after two evaluations, mid-line.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&log, format!("{}\n{}\n{}", lines[0], lines[1], &lines[2][..lines[2].len() / 2])).unwrap();
    let second = run();
    assert_eq!(second["reused"], 2);
    assert_eq!(second["evaluated"], 3);
    assert_eq!(second["removed"], first["removed"]);
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 5);
    let third = run();
    assert_eq!((third["evaluated"].as_u64(), third["reused"].as_u64()), (Some(0), Some(5)));
}

/// The log's NLLs are reused only for what they were computed on: the same
/// model (the `.onnx` and its external data), the same calibration windows
/// and the same mode. Anything else is evaluated afresh, with a note.
#[test]
fn a_log_is_reused_only_for_the_same_model_calibration_and_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    for e in std::fs::read_dir(common::fixtures_dir().join("llama-optimum-extdata")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), model.join(e.file_name())).unwrap();
    }
    let log = tmp.path().join("log.jsonl");
    let calib = root().join("tests/data/text.txt");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "prune", model.to_str().unwrap(), "--budget", "1", "--method", "greedy", "--calib", calib.to_str().unwrap(), "--json", "--log", log.to_str().unwrap(), "--threads", "1",
        ];
        args.extend(extra);
        let (code, text, err) = painters(&args);
        assert_eq!(code, 0, "{err}");
        let v = serde_json::from_str::<serde_json::Value>(&text).unwrap();
        (v["evaluated"].as_u64().unwrap(), v["reused"].as_u64().unwrap(), err.contains("not reused"))
    };
    let base = ["--window", "32", "--max-tokens", "96"];
    let (n, reused, _) = run(&base);
    assert!(n >= 2 && reused == 0, "{n} {reused}");
    assert_eq!(run(&base), (0, n, false), "the same search again reuses every candidate");
    assert_eq!(run(&["--window", "16", "--max-tokens", "96"]), (n, 0, true), "another window");
    assert_eq!(run(&["--window", "32", "--max-tokens", "64"]), (n, 0, true), "fewer calibration tokens");
    // Other weights in the external data file; the .onnx file is unchanged.
    let weights = model.join("weights.bin");
    let original = std::fs::read(&weights).unwrap();
    let mut other = original.clone();
    other[4096..4100].copy_from_slice(&0.5f32.to_le_bytes());
    assert_ne!(other, original);
    std::fs::write(&weights, &other).unwrap();
    assert_eq!(run(&base), (n, 0, true), "other external weights");
    std::fs::write(&weights, &original).unwrap();
    assert_eq!(run(&base), (0, n, true), "the original weights again");
    let (_, reused, note) = run(&[&base[..], &["--mode", "parallel"]].concat());
    assert!(reused == 0 && note, "the parallel search reuses no deletion NLL");
}

#[test]
fn impossible_budgets_are_one_line() {
    let m = common::fixtures_dir().join("llama-dynamo");
    let text = root().join("tests/data/text.txt");
    for (budget, method) in [("4", "bi"), ("0", "paper")] {
        let line = fails(&["prune", m.to_str().unwrap(), "--budget", budget, "--method", method, "--calib", text.to_str().unwrap()]);
        assert!(line.contains("not possible") && line.contains("3 of them eligible"), "{line}");
    }
    let bert = common::fixtures_dir().join("bert-optimum");
    let line = fails(&["prune", bert.to_str().unwrap(), "--budget", "1", "--method", "greedy", "--calib", text.to_str().unwrap()]);
    assert!(line.contains("needs a decoder"), "{line}");
}

/// Scoring candidates with the model's pieces opened once, from the stream
/// entering the first block a candidate changes (the default), scores what
/// running each candidate's whole model in a session of its own scores
/// (`--no-reuse`), with and without a KV cache, through fused and int4 genai
/// graphs too; a float16 stream is scored the whole-model way, with a note.
#[test]
fn greedy_reuse_scores_what_a_full_rerun_scores() {
    for fixture in ["llama-dynamo", "llama-optimum-past", "llama-genai", "llama-genai-int4", "llama-optimum-fp16"] {
        let f = common::fixtures_dir().join(fixture);
        let run = |extra: &[&str]| {
            let mut args = vec![
                "prune", f.to_str().unwrap(), "--budget", "2", "--method", "greedy", "--calib",
                "", "--window", "32", "--max-tokens", "160", "--json",
            ];
            let text = root().join("tests/data/text.txt");
            let text = text.to_str().unwrap().to_string();
            args[7] = &text;
            args.extend_from_slice(extra);
            let (code, out, err) = painters(&args);
            assert_eq!(code, 0, "{fixture}: {err}");
            serde_json::from_str::<serde_json::Value>(&out).unwrap()
        };
        let (fast, full) = (run(&[]), run(&["--no-reuse"]));
        let pieces = fixture != "llama-optimum-fp16";
        assert_eq!(fast["reuse"], pieces, "{fixture}");
        assert_eq!(full["reuse"], false);
        assert_eq!(fast["removed"], full["removed"], "{fixture}");
        let blocks = fast["blocks"].as_u64().unwrap();
        let sessions = if pieces { blocks + 2 } else { fast["evaluated"].as_u64().unwrap() };
        assert_eq!(fast["scoring"]["sessions"].as_u64(), Some(sessions), "{fixture}: the pieces, once");
        assert_eq!(full["scoring"]["sessions"], full["evaluated"], "{fixture}: one session per candidate");
        for (a, b) in fast["rounds"].as_array().unwrap().iter().zip(full["rounds"].as_array().unwrap()) {
            for (x, y) in a["scores"].as_array().unwrap().iter().zip(b["scores"].as_array().unwrap()) {
                assert_eq!(x[0], y[0]);
                let (x, y) = (x[1].as_f64().unwrap(), y[1].as_f64().unwrap());
                assert!((x - y).abs() <= 1e-5, "{fixture}: reuse {x} vs full {y}");
            }
        }
    }
}

/// `--compare`: every method for K = 1 … 3 in one table, report and plot;
/// the full model's held-out perplexity is `painters eval --task perplexity`
/// on the same windows; each cell is what a single search finds; identical
/// calibration and held-out data are refused.
#[test]
fn compare_tables_every_method_and_budget() {
    let f = common::fixtures_dir().join("llama-dynamo");
    let (calib, heldout) = (root().join("tests/data/text.txt"), root().join("tests/data/heldout.txt"));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let (code, text, err) = painters(&[
        "prune", f.to_str().unwrap(), "--compare", "--budget", "1..3", "--calib", calib.to_str().unwrap(), "--heldout",
        heldout.to_str().unwrap(), "--window", "32", "--max-tokens", "256", "--out", out.to_str().unwrap(), "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4 * 3);
    for name in ["compare.json", "prune_report.md", "prune_compare.svg", "prune_compare.png"] {
        assert!(out.join(name).is_file(), "{name}");
    }
    assert_eq!(v["disjoint"]["shared_windows"], 0);
    for c in cells {
        let (lo, hi) = (c["heldout_ci"][0].as_f64().unwrap(), c["heldout_ci"][1].as_f64().unwrap());
        let p = c["heldout_perplexity"].as_f64().unwrap();
        assert!(lo <= p && p <= hi && lo < hi, "{c}");
    }
    // The full model's held-out perplexity is painters eval's on the same disjoint windows.
    let (code, text, err) = painters(&[
        "eval", f.to_str().unwrap(), "--task", "perplexity", "--data", heldout.to_str().unwrap(), "--window", "32", "--max-tokens", "256", "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let e: serde_json::Value = serde_json::from_str(&text).unwrap();
    let eval_ppl = e["results"]["perplexity"]["token_perplexity,none"].as_f64().unwrap();
    let ours = v["full"]["heldout_perplexity"].as_f64().unwrap();
    assert!((eval_ppl - ours).abs() <= 1e-6 * eval_ppl, "compare {ours} vs eval {eval_ppl}");
    // Each cell is what a single search of that method and budget removes.
    for (method, k) in [("greedy", 2), ("angular", 3), ("bi", 2), ("paper", 1)] {
        let (code, text, err) = painters(&[
            "prune", f.to_str().unwrap(), "--budget", &k.to_string(), "--method", method, "--calib", calib.to_str().unwrap(),
            "--window", "32", "--max-tokens", "256", "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let single: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cell = cells.iter().find(|c| c["method"] == method && c["budget"] == k).unwrap();
        assert_eq!(cell["plan"], single["plan"], "{method} K={k}");
        assert!((cell["calibration_nll"].as_f64().unwrap() - single["nll"].as_f64().unwrap()).abs() < 1e-12);
    }
    let line = fails(&[
        "prune", f.to_str().unwrap(), "--compare", "--budget", "1..2", "--calib", calib.to_str().unwrap(), "--heldout", calib.to_str().unwrap(),
        "--out", tmp.path().join("same").to_str().unwrap(),
    ]);
    assert!(line.contains("not disjoint"), "{line}");
    // One held-out window: no bootstrap interval (every resample is that window).
    let line = fails(&[
        "prune", f.to_str().unwrap(), "--compare", "--budget", "1..2", "--calib", calib.to_str().unwrap(), "--heldout", heldout.to_str().unwrap(),
        "--window", "32", "--max-tokens", "32", "--out", tmp.path().join("one").to_str().unwrap(),
    ]);
    assert!(line.contains("gives 1 window(s)") && line.contains("needs at least 2"), "{line}");
}

/// `--mode parallel`: K merges leave T − K sequential stages, each round
/// merges its best adjacent pair, the folder is the rewrite of the plan, the
/// latencies are measured, and a rerun reuses the log.
#[test]
fn parallel_mode_groups_adjacent_blocks_under_a_depth_budget() {
    let f = common::fixtures().into_iter().find(|f| f.name == "llama-dynamo").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("par");
    let run = || {
        let (code, text, err) = painters(&[
            "prune", f.dir.to_str().unwrap(), "--mode", "parallel", "--budget", "2", "--calib",
            root().join("tests/data/text.txt").to_str().unwrap(), "--window", "32", "--max-tokens", "128", "--json", "-o", out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    };
    let v = run();
    assert_eq!(v["depth"], 3);
    let stages = v["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 3);
    let flat: Vec<u64> = stages.iter().flat_map(|s| s.as_array().unwrap().iter().map(|b| b.as_u64().unwrap())).collect();
    assert_eq!(flat, vec![0, 1, 2, 3, 4], "every block runs once, in order");
    assert_eq!(stages[0], serde_json::json!([0]));
    assert_eq!(stages[2], serde_json::json!([4]), "the ends stay alone");
    for round in v["rounds"].as_array().unwrap() {
        let scores = round["scores"].as_array().unwrap();
        let best = scores.iter().map(|s| s[1].as_f64().unwrap()).fold(f64::INFINITY, f64::min);
        let merged = scores.iter().find(|s| s[0] == round["merged"]).unwrap()[1].as_f64().unwrap();
        assert_eq!(merged, best);
    }
    for k in ["source_ms", "source_parallel_ms", "result_sequential_ms", "result_parallel_ms"] {
        assert!(v["latency"][k].as_f64().unwrap() > 0.0, "{k}");
    }
    let plan = v["plan"].as_str().unwrap();
    assert!(plan.contains('['), "{plan}");
    let manual = tmp.path().join("manual");
    let (code, _, err) = painters(&["rewrite", f.dir.to_str().unwrap(), "--plan", plan, "-o", &format!("{}/", manual.display())]);
    assert_eq!(code, 0, "{err}");
    let reference = f.reference();
    assert_eq!(common::run(&out.join("model.onnx"), &reference.inputs), common::run(&manual.join("model.onnx"), &reference.inputs));
    let again = run();
    assert_eq!((again["evaluated"].as_u64(), again["plan"].as_str()), (Some(0), Some(plan)));
    // Every candidate in a session of its own scores what the merged rounds scored.
    let (code, text, err) = painters(&[
        "prune", f.dir.to_str().unwrap(), "--mode", "parallel", "--budget", "2", "--calib",
        root().join("tests/data/text.txt").to_str().unwrap(), "--window", "32", "--max-tokens", "128", "--json", "--no-reuse",
    ]);
    assert_eq!(code, 0, "{err}");
    let apart: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!((v["reuse"].as_bool(), apart["reuse"].as_bool()), (Some(true), Some(false)));
    assert_eq!((v["scoring"]["sessions"].as_u64(), apart["scoring"]["sessions"].as_u64()), (Some(5 + 2), apart["evaluated"].as_u64()));
    for (a, b) in v["rounds"].as_array().unwrap().iter().zip(apart["rounds"].as_array().unwrap()) {
        assert_eq!(a["merged"], b["merged"]);
        for (x, y) in a["scores"].as_array().unwrap().iter().zip(b["scores"].as_array().unwrap()) {
            assert_eq!(x[0], y[0]);
            assert!((x[1].as_f64().unwrap() - y[1].as_f64().unwrap()).abs() <= 1e-5, "{x} vs {y}");
        }
    }
    let line = fails(&["prune", f.dir.to_str().unwrap(), "--mode", "parallel", "--budget", "3", "--calib", root().join("tests/data/text.txt").to_str().unwrap()]);
    assert!(line.contains("at most 2 merges"), "{line}");
}

/// `--compare` resumes: every plan it scored is a line of `OUT/compare.cells.jsonl`, which
/// a rerun with the same inputs reuses (a score planted in the log comes back) and one with
/// other windows does not; a torn last line is dropped.
#[test]
fn compare_reuses_the_plans_an_earlier_run_scored() {
    let f = common::fixtures_dir().join("llama-dynamo");
    let (calib, heldout) = (root().join("tests/data/text.txt"), root().join("tests/data/heldout.txt"));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let run = |max_tokens: &str| {
        let (code, text, err) = painters(&[
            "prune", f.to_str().unwrap(), "--compare", "--budget", "1..2", "--methods", "bi,paper", "--calib", calib.to_str().unwrap(),
            "--heldout", heldout.to_str().unwrap(), "--window", "32", "--max-tokens", max_tokens, "--out", out.to_str().unwrap(), "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        (serde_json::from_str::<serde_json::Value>(&text).unwrap(), err)
    };
    let log = out.join("compare.cells.jsonl");
    let lines = || -> Vec<serde_json::Value> { std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect() };
    let (first, err) = run("256");
    assert!(!err.contains("reused"), "{err}");
    let cells = first["cells"].as_array().unwrap();
    let plans: std::collections::BTreeSet<&str> = cells.iter().chain([&first["full"]]).map(|c| c["plan"].as_str().unwrap()).collect();
    let logged = lines();
    assert_eq!(logged.len(), plans.len(), "one line per distinct plan");
    // Plant a score for the full model, and a torn line as a killed run leaves it.
    let planted: String = logged
        .iter()
        .map(|l| {
            let mut l = l.clone();
            if l["kept"].as_array().unwrap().len() == first["blocks"].as_u64().unwrap() as usize {
                l["scores"]["heldout_perplexity"] = serde_json::json!(12345.5);
            }
            format!("{l}\n")
        })
        .collect();
    std::fs::write(&log, planted + "{\"key\":\"compare:").unwrap();
    let (second, err) = run("256");
    assert!(err.contains(&format!("{} plans scored by an earlier run are reused", plans.len())), "{err}");
    assert_eq!(second["full"]["heldout_perplexity"], 12345.5);
    assert_eq!(second["cells"], first["cells"]);
    assert!(std::fs::read_to_string(&log).unwrap().ends_with('\n'));
    assert_eq!(lines().len(), plans.len(), "nothing scored again, the torn line dropped");
    // Other windows: nothing reused, every plan scored again.
    let (third, err) = run("192");
    assert!(err.contains(&format!("{} scored plans are of another model, calibration, held-out text or suite; not reused", plans.len())), "{err}");
    assert_ne!(third["full"]["heldout_perplexity"], 12345.5);
    assert!(lines().len() > plans.len());
}

/// `--compare --eval SUITE`: every cell carries the suite's scores, the full
/// model's equal `painters eval` on the same task, and a suite that reads the
/// calibration text is refused.
#[test]
fn compare_scores_a_suite_disjoint_from_the_calibration_text() {
    let f = common::fixtures_dir().join("llama-optimum-past");
    let (calib, heldout) = (root().join("tests/data/text.txt"), root().join("tests/data/heldout.txt"));
    let tmp = tempfile::tempdir().unwrap();
    let args = |suite: &Path, out: &str| -> Vec<String> {
        [
            "prune", f.to_str().unwrap(), "--compare", "--budget", "1..1", "--methods", "bi,paper", "--calib", calib.to_str().unwrap(),
            "--heldout", heldout.to_str().unwrap(), "--window", "32", "--max-tokens", "128", "--eval", suite.to_str().unwrap(),
            "--out", tmp.path().join(out).to_str().unwrap(), "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a = args(&root().join("tests/data/prune_suite.json"), "cmp");
    let (code, text, err) = painters(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for c in v["cells"].as_array().unwrap().iter().chain([&v["full"]]) {
        for task in ["heldout", "bigbench-choice", "jsonl-choice"] {
            assert!(c["suite"][task]["value"].is_f64(), "{task}: {c}");
        }
        let ci = &c["suite"]["bigbench-choice"]["ci"];
        assert!(ci[0].as_f64().unwrap() >= 0.0 && ci[1].as_f64().unwrap() <= 1.0);
        // Perplexity too has an interval (a bootstrap over its windows), around its value.
        let (h, ci) = (c["suite"]["heldout"]["value"].as_f64().unwrap(), &c["suite"]["heldout"]["ci"]);
        assert!(ci[0].as_f64().unwrap() <= h && h <= ci[1].as_f64().unwrap() && ci[0].as_f64() < ci[1].as_f64(), "heldout: {h} {ci}");
    }
    let (code, text, err) = painters(&[
        "eval", f.to_str().unwrap(), "--task", "choice", "--data", root().join("tests/data/choice_task.json").to_str().unwrap(), "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let e: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(e["results"]["choice"]["acc,none"].as_f64(), v["full"]["suite"]["bigbench-choice"]["value"].as_f64());
    let bad = args(&root().join("tests/data/suite.json"), "bad");
    let line = fails(&bad.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(line.contains("reads the calibration text"), "{line}");
}

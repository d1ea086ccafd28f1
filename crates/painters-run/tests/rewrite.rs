//! The rewrite engine on the real-export fixtures: weights shared, KV-cache
//! decoding equal to recomputation under every preset, generated plans
//! always rewritten, read back and computing what the source model's pieces
//! chained per the plan compute, external data written the three ways, bad
//! plans and failed writes leaving nothing behind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use painters_graph::tensor::byte_size;
use painters_graph::detect;
use painters_rewrite::{parse, preset, rewrite_file, Plan, Preset, PresetParams, WeightMode, WriteOptions};
use painters_run::lm::{Greedy, LanguageModel};
use painters_run::reference::max_abs_diff;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use painters_run::{ModelSession, SessionOptions};

fn initializer_bytes(path: &Path) -> u64 {
    common::load(path).graph().initializer.iter().map(byte_size).sum()
}

fn write(f: &common::Fixture, plan: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("out-{}.onnx", plan.replace([',', '[', ']', '(', ')', '*', '-'], "_")));
    rewrite_file(&f.model(), &parse(plan).unwrap(), &out, &WriteOptions::default()).unwrap_or_else(|e| panic!("{}: {plan}: {e}", f.name));
    out
}

fn fixture(name: &str) -> common::Fixture {
    common::fixtures().into_iter().find(|f| f.name == name).unwrap()
}

#[test]
fn duplicating_blocks_adds_no_weight_bytes_and_skipping_removes_them() {
    let f = fixture("llama-optimum");
    let tmp = tempfile::tempdir().unwrap();
    let before = initializer_bytes(&f.model());
    // 9 extra instances of blocks 0-2.
    let dup = tmp.path().join("dup.onnx");
    let r = rewrite_file(&f.model(), &parse("0-3,(0-2)*3").unwrap(), &dup, &WriteOptions::default()).unwrap();
    assert_eq!(initializer_bytes(&dup), before);
    // Inline stays inline; the report counts the weight bytes the new file holds.
    assert_eq!((r.weights, r.weight_bytes_copied), (WeightMode::Inline, before));
    // With external data next to the source, nothing is written but the graph.
    let d = fixture("llama-dynamo");
    let src = d.copy_to(tmp.path());
    let data_size = std::fs::metadata(tmp.path().join("model.onnx.data")).unwrap().len();
    let out = tmp.path().join("dup9.onnx");
    let r = rewrite_file(&src, &parse("0-4,(1-3)*3").unwrap(), &out, &WriteOptions::default()).unwrap();
    assert_eq!((r.weights, r.weight_bytes_copied, r.instances), (WeightMode::Shared, 0, 14));
    assert_eq!(initializer_bytes(&out), initializer_bytes(&src));
    assert_eq!(std::fs::metadata(tmp.path().join("model.onnx.data")).unwrap().len(), data_size);
    let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    assert!(!names.iter().any(|n| n.starts_with("dup9.onnx.")), "a data file was written: {names:?}");
    // Skipping blocks 1 and 2 removes exactly their own weights.
    let layout = detect(&common::load(f.model())).unwrap();
    let model = common::load(f.model());
    let own: u64 = [1usize, 2]
        .iter()
        .flat_map(|&b| layout.blocks[b].initializers.iter())
        .filter(|t| !layout.blocks.iter().filter(|b| b.index != 1 && b.index != 2).any(|b| b.initializers.contains(t)))
        .map(|t| byte_size(model.graph().initializer.iter().find(|i| i.name() == t.as_str()).unwrap()))
        .sum();
    assert!(own > 0);
    let skip = write(&f, "0,3", tmp.path());
    assert_eq!(initializer_bytes(&skip), before - own);
}

const MAX_INSTANCES: usize = 10;

/// Plans over `t` blocks as the plan language writes them: single blocks,
/// ranges (ascending or descending; inside a group they are its items),
/// repeats, parallel groups of single or multi-block branches, nested.
/// At most [`MAX_INSTANCES`] instances, so a case runs in about a second or less.
fn arb_plan(t: usize) -> impl Strategy<Value = Plan> {
    let block = move || (0..t).prop_map(Plan::Block);
    let range = move || (0..t, 0..t).prop_map(|(a, b)| if a <= b { (a..=b).map(Plan::Block).collect() } else { (b..=a).rev().map(Plan::Block).collect() });
    let inner = block().prop_recursive(3, 12, 3, move |inner| {
        // Items of a sequence or a group: a plan, or a range spliced in.
        let item = inner.clone();
        let items = move || prop::collection::vec(prop_oneof![item.clone().prop_map(|p| vec![p]), range()], 1..4).prop_map(|v| v.concat());
        prop_oneof![
            items().prop_map(Plan::Seq),
            items().prop_map(Plan::Parallel),
            // a group of one branch, e.g. `[(1,2)]` (emitted as that branch, no `Mean`)
            inner.clone().prop_map(|p| Plan::Parallel(vec![p])),
            (prop_oneof![block(), items().prop_map(Plan::Seq), items().prop_map(Plan::Parallel)], 1usize..4)
                .prop_map(|(b, times)| Plan::Repeat { body: Box::new(b), times }),
        ]
    });
    prop::collection::vec(prop_oneof![inner.prop_map(|p| vec![p]), range()], 1..5)
        .prop_map(|v| Plan::Seq(v.concat()))
        // ONNX Runtime's session setup grows faster than linearly with the graph (28 s for 39
        // instances of llama-quant): keep each case small.
        .prop_filter("at most MAX_INSTANCES block instances", |p| p.instances() <= MAX_INSTANCES)
}

/// The blocks a rewrite reads back as: one per top-level stage once repeats
/// are unrolled — a block instance, or a parallel group of two or more
/// branches (one block ending in its `Mean`); a group of one branch is that
/// branch (no `Mean` is made).
fn stages(plan: &Plan) -> usize {
    match plan {
        Plan::Block(_) => 1,
        Plan::Seq(items) => items.iter().map(stages).sum(),
        Plan::Repeat { body, times } => times * stages(body),
        Plan::Parallel(branches) if branches.len() == 1 => stages(&branches[0]),
        Plan::Parallel(_) => 1,
    }
}

/// Whether the plan averages anything (emits a `Mean`).
fn has_group(plan: &Plan) -> bool {
    match plan {
        Plan::Block(_) => false,
        Plan::Parallel(v) if v.len() >= 2 => true,
        Plan::Seq(v) | Plan::Parallel(v) => v.iter().any(has_group),
        Plan::Repeat { body, .. } => has_group(body),
    }
}

/// Whether detection reads the rewrite back today. Where it does not (the
/// rest of the property holds there too):
/// - a source without layer names is detected by structure — the longest
///   run of a repeating pattern of layers: one block is no run, and a
///   group's `Mean` breaks the pattern.
fn reads_back(by_names: bool, plan: &Plan) -> bool {
    by_names || (stages(plan) > 1 && !has_group(plan))
}

/// Generated plans on every fixture: a plan `validate` accepts always
/// rewrites (emission validates the graph); the result reads back with one
/// block per top-level stage and its canonical plan in `painters.plan`; and
/// its main output is what the source model's pieces (prologue, blocks,
/// epilogue: `common::pieces`) compute when chained per the plan on the host
/// (not on llama-optimum-fp16: its stream is float16, which the host
/// tensors do not hold). About 30 s in a debug build.
#[test]
fn random_plans_rewrite_read_back_and_compute_what_their_pieces_compute() {
    const CASES: u32 = 6;
    let fixtures = common::fixtures();
    let cases = fixtures.len() * CASES as usize;
    let mut compared = 0;
    let read_back = std::cell::Cell::new(0);
    for (k, f) in fixtures.into_iter().enumerate() {
        let t = f.num_blocks();
        let tmp = tempfile::tempdir().unwrap();
        let src = f.copy_to(tmp.path());
        let model = common::load(&src);
        let layout = detect(&model).unwrap();
        let by_names = layout.method == painters_graph::DetectionMethod::Names;
        let pieces = common::pieces::Pieces::open(&model, &layout);
        if let Err(why) = &pieces {
            eprintln!("{}: outputs not compared with the pieces: {why}", f.name);
        }
        let compare = pieces.is_ok();
        // (`TestRunner::run` takes an `Fn`.)
        let pieces = std::cell::RefCell::new(pieces);
        let inputs = f.reference().inputs;
        let main = model.graph().output[0].name().to_string();
        // The same plans on every run: a fixed seed per fixture, no failure file.
        let config = Config { cases: CASES, failure_persistence: None, max_shrink_iters: 64, ..Config::default() };
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(0x2545_F491_4F6C_DD1Du64 ^ k as u64).to_le_bytes());
        let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
        let case = std::cell::Cell::new(0);
        let result = runner.run(&arb_plan(t), |plan| {
            case.set(case.get() + 1);
            let text = plan.to_string();
            plan.validate(t).map_err(|e| TestCaseError::fail(format!("{text}: generated an invalid plan: {e}")))?;
            let out = tmp.path().join(format!("case{}.onnx", case.get()));
            let r = rewrite_file(&src, &plan, &out, &WriteOptions::default()).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(r.instances, plan.instances(), "{}", text);
            if reads_back(by_names, &plan) {
                read_back.set(read_back.get() + 1);
                let (back, back_layout) = painters_rewrite::open(&out, false).map_err(|e| TestCaseError::fail(format!("{text}: read back: {e}")))?;
                prop_assert_eq!(back_layout.num_blocks(), stages(&plan), "{}: blocks read back", text);
                let meta = back.proto.metadata_props.iter().find(|p| p.key() == painters_graph::conventions::meta::PLAN).map(|p| p.value().to_string());
                prop_assert_eq!(meta.as_deref(), Some(text.as_str()), "{}: painters.plan", text);
            }
            let outs = common::run(&out, &inputs);
            for (name, v) in &outs {
                if let Some(v) = v.as_f32() {
                    prop_assert!(v.iter().all(|x| x.is_finite()), "{}: {} not finite", text, name);
                }
            }
            if let Ok(pieces) = &mut *pieces.borrow_mut() {
                let want = pieces.run(&plan, &inputs);
                prop_assert!(want.as_f32().unwrap().iter().all(|x| x.is_finite()), "{}: the pieces' {} is not finite", text, main);
                let got = common::output(&outs, &main);
                prop_assert_eq!(&got.shape, &want.shape, "{}: {}", text, main);
                let d = max_abs_diff(got, &want).unwrap();
                // Measured: at most 1.2e-6 on every fixture, the quantized ones included.
                prop_assert!(d <= 1e-4, "{}: {}: rewritten model vs chained pieces differ by {}", text, main, d);
            }
            let _ = std::fs::remove_file(&out);
            Ok(())
        });
        if let Err(e) = result {
            panic!("{}: {e}", f.name);
        }
        compared += usize::from(compare);
    }
    assert!(compared >= 18, "outputs compared on {compared} fixtures only");
    assert!(read_back.get() >= cases * 2 / 3, "only {} of {cases} rewrites read back", read_back.get());
}

fn presets_for(t: usize) -> Vec<(String, Plan)> {
    let n = if t <= 3 { 0 } else { 1 };
    let mut out = Vec::new();
    for p in Preset::ALL {
        let params = PresetParams { layers: t, n: Some(n), seed: 3, loops: Some(3), index: Some(t / 2 - 1), ..Default::default() };
        let params = if p.uses_middle() { PresetParams { index: None, ..params } } else { PresetParams { n: None, ..params } };
        out.push((p.name().to_string(), preset(p, &params).unwrap()));
    }
    out
}

#[test]
fn kv_cache_decoding_equals_recomputation_for_every_preset() {
    let prompt = [1i64, 17, 42, 99, 5];
    for f in common::fixtures().into_iter().filter(|f| f.with_past()) {
        let t = f.num_blocks();
        let tmp = tempfile::tempdir().unwrap();
        let mut plans = presets_for(t);
        for hand in [format!("0-{},0", t - 1), "[(0-1),(1,0)],1*2".to_string(), format!("{}-0", t - 1)] {
            plans.push((hand.clone(), parse(&hand).unwrap()));
        }
        plans.push(("identity".into(), Plan::sequence(0..t)));
        for (name, plan) in plans {
            let out = tmp.path().join(format!("{name}.onnx"));
            rewrite_file(&f.model(), &plan, &out, &WriteOptions::default()).unwrap();
            let s = ModelSession::open(common::runtime(), &out, &SessionOptions { threads: 1, optimization: 0, ..Default::default() }).unwrap();
            let kv_inputs = s.inputs.iter().filter(|n| n.starts_with("past_key_values.")).count();
            assert_eq!(kv_inputs, 2 * plan.instances(), "{}: {name}: one KV slot per instance", f.name);
            let mut lm = LanguageModel::from_session(s).unwrap();
            let g = Greedy { keep_logits: true, ..Greedy::new(6) };
            let cached = lm.greedy(&prompt, &g).unwrap();
            let full = lm.greedy(&prompt, &Greedy { use_cache: false, ..g }).unwrap();
            assert_eq!(cached.tokens, full.tokens, "{}: {name} ({plan})", f.name);
            for (a, b) in cached.logits.iter().zip(&full.logits) {
                let d = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
                assert!(d <= 1e-4, "{}: {name}: cached vs recomputed logits differ by {d}", f.name);
            }
        }
    }
}

#[test]
fn external_data_shared_linked_or_copied() {
    let f = fixture("llama-dynamo");
    let tmp = tempfile::tempdir().unwrap();
    let src_dir = tmp.path().join("src");
    std::fs::create_dir_all(&src_dir).unwrap();
    let src = f.copy_to(&src_dir);
    for name in ["tokenizer.json", "config.json"] {
        std::fs::copy(f.dir.join(name), src_dir.join(name)).unwrap();
    }
    let data = src_dir.join("model.onnx.data");
    let data_before = std::fs::read(&data).unwrap();
    let plan = parse("0,2-4").unwrap();
    let reference = f.reference();

    let shared = src_dir.join("skip.onnx");
    let r = rewrite_file(&src, &plan, &shared, &WriteOptions::default()).unwrap();
    assert_eq!(r.weights, WeightMode::Shared);
    assert_eq!(r.weight_bytes_copied, 0);
    assert!(r.copied_files.is_empty());

    let linked_dir = tmp.path().join("linked");
    let r = rewrite_file(&src, &plan, &linked_dir.join("model.onnx"), &WriteOptions { link: true, ..Default::default() }).unwrap();
    assert_eq!(r.weights, WeightMode::Linked);
    assert!(linked_dir.join("tokenizer.json").is_file() && linked_dir.join("config.json").is_file());

    let copied_dir = tmp.path().join("copied");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let progress = {
        let seen = seen.clone();
        painters_rewrite::Progress(std::sync::Arc::new(move |done, total| seen.lock().unwrap().push((done, total))))
    };
    let r = rewrite_file(&src, &plan, &copied_dir.join("model.onnx"), &WriteOptions { progress: Some(progress), ..Default::default() }).unwrap();
    assert_eq!(r.weights, WeightMode::Copied);
    let copied_size = std::fs::metadata(copied_dir.join("model.onnx.data")).unwrap().len();
    // Progress goes from 0 to all the bytes copied, never backwards.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&(0, r.weight_bytes_copied)));
    assert_eq!(seen.last(), Some(&(r.weight_bytes_copied, r.weight_bytes_copied)));
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0) && seen.len() > 2, "{seen:?}");
    assert_eq!(copied_size, r.weight_bytes_copied);
    assert!(copied_size < data_before.len() as u64, "the copy holds only the used tensors: {copied_size}");

    let a = common::run(&shared, &reference.inputs);
    assert_eq!(a, common::run(&linked_dir.join("model.onnx"), &reference.inputs));
    assert_eq!(a, common::run(&copied_dir.join("model.onnx"), &reference.inputs));
    assert_eq!(std::fs::read(&data).unwrap(), data_before, "the source weights were modified");

    // An inline model written with --external-data computes the same.
    let g = fixture("llama-optimum");
    let ext = tmp.path().join("ext/model.onnx");
    let r = rewrite_file(&g.model(), &Plan::sequence(0..4), &ext, &WriteOptions { external_data: true, ..Default::default() }).unwrap();
    assert_eq!(r.weights, WeightMode::Copied);
    assert!(std::fs::metadata(&ext).unwrap().len() < 200_000);
    assert_eq!(common::run(&ext, &g.reference().inputs), common::run(&g.model(), &g.reference().inputs));
}

#[test]
fn identity_rewrite_is_bit_identical_and_carries_provenance() {
    for f in common::fixtures() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("model.onnx");
        let t = f.num_blocks();
        rewrite_file(&f.model(), &Plan::sequence(0..t), &out, &WriteOptions::default()).unwrap();
        let reference = f.reference();
        assert_eq!(common::run(&f.model(), &reference.inputs), common::run(&out, &reference.inputs), "{}", f.name);
        let m = common::load(&out);
        let meta: Vec<(String, String)> = m.proto.metadata_props.iter().map(|p| (p.key().to_string(), p.value().to_string())).collect();
        assert!(meta.contains(&("painters.plan".into(), format!("0-{}", t - 1))), "{}: {meta:?}", f.name);
        // The digest (hashed on another thread, behind the kernel copy) is the file's BLAKE3.
        let want = blake3::hash(&std::fs::read(f.model()).unwrap()).to_hex().to_string();
        assert!(meta.contains(&("painters.source_blake3".into(), want)), "{}: {meta:?}", f.name);
    }
}

fn painters(args: &[&str]) -> (i32, String) {
    let (code, _, err) = common::painters(args);
    (code, err)
}

#[test]
fn bad_plans_give_one_line_and_no_file() {
    let f = fixture("llama-optimum");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.onnx");
    let m = f.model();
    for (plan, needle) in [
        ("0-2,*3", "plan:1:5: expected a block index"),
        ("0-40", "block 40 does not exist: the model has 4 blocks (0-3)"),
        ("0,[],3", "plan:1:4: empty parallel group"),
        ("0,1*0", "plan:1:5: repeat count must be at least 1"),
        ("0,(1", "expected ')'"),
        // bounded before anything is expanded (these used to run until the machine killed them)
        ("[0-5]*99999999999", "plan:1:7: the plan runs 599999999994 block instances or more; the limit is 100000"),
        ("6-47113691856", "plan:1:3: the plan runs 47113691851 block instances or more; the limit is 100000"),
        ("-1", "unexpected argument '-1' found (a value starting with '-' goes after '=', e.g. --plan=-1)"),
    ] {
        let (code, err) = painters(&["rewrite", m.to_str().unwrap(), "--plan", plan, "-o", out.to_str().unwrap()]);
        assert_ne!(code, 0, "{plan}");
        assert_eq!(err.trim_end().lines().count(), 1, "{plan}: {err}");
        assert!(err.contains(needle), "{plan}: {err}");
        assert!(!out.exists(), "{plan}: an output was written");
    }
    let (code, err) = painters(&["rewrite", m.to_str().unwrap(), "--preset", "skip", "--n", "9", "-o", out.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("no middle layer"), "{err}");
    let (code, err) = painters(&["rewrite", m.to_str().unwrap(), "--plan", "0-3", "-o", m.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none(), "files left behind");
}

#[test]
fn dry_run_writes_nothing() {
    let f = fixture("llama-optimum");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sub/out.onnx");
    let (code, err) = painters(&["rewrite", f.model().to_str().unwrap(), "--preset", "reverse", "--n", "0", "-o", out.to_str().unwrap(), "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none());
}

#[test]
fn dry_run_prints_what_the_write_then_does() {
    // The plan of a write (schedule of instances, where the weights go, the
    // folder files) is what executing it reports, for each way weights go.
    // Under the target folder: on the fixtures' file system, so --link can link.
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cases = [
        ("llama-optimum-past", "0-3,[1,2]*2,3", vec![], "inline"),
        ("llama-optimum-extdata", "0,1,1,3", vec![], "copied"),
        ("llama-optimum-extdata", "0-3,2", vec!["--link"], "linked"),
    ];
    for (i, (name, plan, extra, weights)) in cases.into_iter().enumerate() {
        let f = fixture(name);
        let out = tmp.path().join(format!("out{i}/model.onnx"));
        let src = f.model();
        let mut args = vec!["rewrite", src.to_str().unwrap(), "--plan", plan, "-o", out.to_str().unwrap(), "--json"];
        args.extend(extra);
        let run = |dry: bool| {
            let mut a = args.clone();
            if dry {
                a.push("--dry-run");
            }
            let o = Command::new(env!("CARGO_BIN_EXE_painters")).args(&a).output().unwrap();
            assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
            let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let dry_run = v["dry_run"].take();
            (v, dry_run)
        };
        let (planned, d) = run(true);
        assert_eq!(d, true);
        assert!(!out.exists(), "{name}: the dry run wrote {}", out.display());
        let (done, d) = run(false);
        assert_eq!(d, false);
        assert_eq!(planned, done, "{name}: {plan}");
        assert_eq!(done["weights"], weights, "{name}: {plan}");
        let k: Vec<usize> = done["schedule"].as_array().unwrap().iter().map(|i| i["kv_slot"].as_u64().map_or(usize::MAX, |s| s as usize)).collect();
        if f.with_past() {
            assert_eq!(k, (0..k.len()).collect::<Vec<_>>(), "{name}: one KV slot per instance, in execution order");
        }
    }
}

#[cfg(unix)]
#[test]
fn a_failed_write_leaves_no_partial_file() {
    // RLIMIT_FSIZE makes the write fail half way (EFBIG; SIGXFSZ ignored).
    let f = fixture("llama-optimum");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("model.onnx");
    let script = format!(
        "trap '' XFSZ; ulimit -f 100; exec '{}' rewrite '{}' --plan 0-3,0-3 -o '{}'",
        env!("CARGO_BIN_EXE_painters"),
        f.model().display(),
        out.display()
    );
    let o = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "the write should have failed: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("cannot write"), "{err}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Outputs of two models on the same inputs agree within `tol` (relative to the largest value), by name.
fn assert_close(a: &[(String, painters_run::HostTensor)], b: &[(String, painters_run::HostTensor)], tol: f32, what: &str) {
    let mut a: Vec<_> = a.iter().collect();
    let mut b: Vec<_> = b.iter().collect();
    a.sort_by(|x, y| x.0.cmp(&y.0));
    b.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(a.iter().map(|x| &x.0).collect::<Vec<_>>(), b.iter().map(|x| &x.0).collect::<Vec<_>>(), "{what}: output names");
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(x.shape, y.shape, "{what}: {name}");
        if let (Some(x), Some(y)) = (x.as_f32(), y.as_f32()) {
            let scale = x.iter().fold(1f32, |m, v| m.max(v.abs()));
            let d = x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
            assert!(d <= tol * scale, "{what}: {name} differs by {d} (scale {scale})");
        }
    }
}

/// A model painters rewrote is read back and rewritten again: each top-level
/// stage of its plan — one block instance, or a whole parallel group — is one
/// block of the rewritten model (consecutive instances of a block stay
/// apart), the identity plan reproduces it exactly, and a plan over its
/// blocks computes what the composed plan computes on the original (KV cache
/// included).
#[test]
fn rewritten_models_are_read_back_and_rewritten_again() {
    let mut checked = 0;
    for f in common::fixtures() {
        let layout = detect(&common::load(f.model())).unwrap();
        if layout.method != painters_graph::DetectionMethod::Names {
            continue; // graphs without layer names: the Mean of a group breaks the repeating pattern
        }
        let tmp = tempfile::tempdir().unwrap();
        let src = f.copy_to(tmp.path());
        let inputs = f.reference().inputs;
        let rw = |model: &Path, plan: &str, out: &str| {
            let out = tmp.path().join(out);
            rewrite_file(model, &parse(plan).unwrap(), &out, &WriteOptions::default()).unwrap_or_else(|e| panic!("{}: {plan}: {e}", f.name));
            out
        };
        // Stages: 0 | [0,1] | 1 | 1 | [0,1] | [0,1]
        let first = rw(&src, "0,[0,1],1*2,[0,1]*2", "first.onnx");
        let back = detect(&common::load(&first)).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(back.num_blocks(), 6, "{}: blocks read back", f.name);
        let again = rw(&first, "0-5", "again.onnx");
        assert_eq!(common::run(&again, &inputs), common::run(&first, &inputs), "{}: identity of a rewrite", f.name);
        // Block 1 twice: its copy must not take the names block 2 (a copy in `first`) has.
        let second = rw(&first, "5-3,[0,2],1*2", "second.onnx");
        let composed = rw(&src, "[0,1],[0,1],1,[0,1],[0,1],[0,1]", "composed.onnx");
        assert_close(&common::run(&second, &inputs), &common::run(&composed, &inputs), 1e-5, &f.name);
        if f.with_past() {
            let s = ModelSession::open(common::runtime(), &second, &SessionOptions { threads: 1, optimization: 0, ..Default::default() }).unwrap();
            let kv_inputs = s.inputs.iter().filter(|n| n.starts_with("past_key_values.")).count();
            assert_eq!(kv_inputs, 2 * 11, "{}: one KV slot per executed instance", f.name);
            let prompt = [1i64, 17, 42, 99, 5];
            let mut lm = LanguageModel::from_session(s).unwrap();
            let cached = lm.greedy(&prompt, &Greedy::new(5)).unwrap();
            let full = lm.greedy(&prompt, &Greedy { use_cache: false, ..Greedy::new(5) }).unwrap();
            assert_eq!(cached.tokens, full.tokens, "{}: cached decoding of a rewrite of a rewrite", f.name);
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixtures checked");
}

/// A rewrite to a single stage (one block, or one parallel group) reads back
/// as a one-block model on every fixture detected by names, and the identity
/// plan of that model reproduces it exactly. (Gemma's one-block rewrite used
/// to be refused: the embeddings' `Shape` was pulled into block 0 with the
/// shape arithmetic it feeds.)
#[test]
fn one_stage_rewrites_read_back() {
    let mut checked = 0;
    for f in common::fixtures() {
        if detect(&common::load(f.model())).unwrap().method != painters_graph::DetectionMethod::Names {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let src = f.copy_to(tmp.path());
        let inputs = f.reference().inputs;
        for (k, plan) in ["1", "[0,1]"].iter().enumerate() {
            let one = tmp.path().join(format!("one{k}.onnx"));
            rewrite_file(&src, &parse(plan).unwrap(), &one, &WriteOptions::default()).unwrap_or_else(|e| panic!("{}: {plan}: {e}", f.name));
            let back = detect(&common::load(&one)).unwrap_or_else(|e| panic!("{}: {plan}: read back: {e}", f.name));
            assert_eq!(back.num_blocks(), 1, "{}: {plan}", f.name);
            let again = tmp.path().join(format!("again{k}.onnx"));
            rewrite_file(&one, &parse("0").unwrap(), &again, &WriteOptions::default()).unwrap_or_else(|e| panic!("{}: {plan} then 0: {e}", f.name));
            assert_eq!(common::run(&again, &inputs), common::run(&one, &inputs), "{}: identity of {plan}", f.name);
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixtures checked");
}


//! The rewrite engine against an independent reference: PyTorch applying
//! the same plan to the same weights (`tests/fixtures/*/plans.json`, made by
//! `scripts/make_plan_references.py`, which swaps the HF layer list for a
//! module running the plan, with one KV-cache slot per instance). Every
//! hand-written plan and preset must agree within 1e-4; the presets built
//! here must equal the reference's independently written plan strings; and
//! the residual tensors detection finds must carry PyTorch's hidden states.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use std::path::Path;

use painters_graph::{detect, OnnxModel};
use painters_rewrite::{emit_with, lower, parse, preset, EmitOptions, Preset, PresetParams};
use painters_run::reference::max_abs_diff;
use painters_run::{HostTensor, ModelSession, SessionOptions};

const TOL: f32 = 1e-4;

fn tensor(v: &serde_json::Value) -> HostTensor {
    let shape: Vec<i64> = v["shape"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
    let data = v["data"].as_array().unwrap();
    match v["dtype"].as_str().unwrap() {
        "int64" => HostTensor::i64(shape, data.iter().map(|x| x.as_i64().unwrap()).collect()),
        _ => HostTensor::f32(shape, data.iter().map(|x| x.as_f64().unwrap() as f32).collect()),
    }
}

fn named(v: &serde_json::Value) -> Vec<(String, HostTensor)> {
    v.as_object().unwrap().iter().map(|(k, t)| (k.clone(), tensor(t))).collect()
}

fn plans_for(f: &common::Fixture) -> Option<serde_json::Value> {
    let own = f.dir.join("plans.json");
    let src = f.expected["hf_source"].as_str().map(|s| common::fixtures_dir().join(s).join("plans.json"));
    let path = if own.is_file() { own } else { src.filter(|p| p.is_file())? };
    Some(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

fn check(fixture: &str, what: &str, got: &[(String, HostTensor)], want: &serde_json::Value) {
    for (name, expected) in named(want) {
        let g = common::output(got, &name);
        let d = max_abs_diff(g, &expected).unwrap_or_else(|| panic!("{fixture}: {what}: {name}: shape {:?} vs {:?}", g.shape, expected.shape));
        assert!(d <= TOL, "{fixture}: {what}: {name}: max |ORT - PyTorch| = {d}");
    }
}

/// Runs a with-past model: prefix with an empty cache, then the continuation with the prefix's cache.
type Named = Vec<(String, HostTensor)>;

fn run_with_past(model: &Path, prefix: &[(String, HostTensor)], cont: &[(String, HostTensor)]) -> (Named, Named) {
    let mut s = ModelSession::open(common::runtime(), model, &SessionOptions { threads: 1, optimization: 0, ..Default::default() }).unwrap();
    let mut feed = Vec::new();
    for (name, shape) in s.inputs.iter().zip(&s.input_shapes) {
        let t = match prefix.iter().find(|(n, _)| n == name) {
            Some((_, t)) => t.clone(),
            None => HostTensor::f32(vec![1, shape[1], 0, shape[3]], Vec::new()),
        };
        feed.push((name.clone(), t));
    }
    let first = s.run(&feed).unwrap();
    let mut feed = Vec::new();
    for name in &s.inputs {
        let t = match cont.iter().find(|(n, _)| n == name) {
            Some((_, t)) => t.clone(),
            None => common::output(&first, &name.replacen("past_key_values.", "present.", 1)).clone(),
        };
        feed.push((name.clone(), t));
    }
    let second = s.run(&feed).unwrap();
    (first, second)
}

#[test]
fn every_plan_matches_pytorch() {
    let mut covered = 0;
    for f in common::fixtures() {
        if f.expected["quantized"].as_bool() == Some(true) {
            continue; // no fp32 PyTorch model computes what int8/int4/fp16 weights do (see int4_skips_…)
        }
        let Some(refs) = plans_for(&f) else { continue };
        covered += 1;
        let t = f.num_blocks();
        assert_eq!(refs["num_blocks"].as_u64().unwrap() as usize, t);
        let model = common::load(f.model());
        let layout = detect(&model).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let entries = refs["plans"].as_array().unwrap();
        assert!(entries.len() >= 15, "{}", f.name);
        for (k, e) in entries.iter().enumerate() {
            let text = e["plan"].as_str().unwrap();
            let plan = parse(text).unwrap_or_else(|err| panic!("{}: {text}: {err}", f.name));
            assert_eq!(plan.instances(), e["instances"].as_u64().unwrap() as usize, "{}: {text}", f.name);
            if e["kind"] == "preset" {
                let p: Preset = e["name"].as_str().unwrap().parse().unwrap();
                let params = &e["params"];
                let ours = preset(
                    p,
                    &PresetParams {
                        layers: t,
                        n: params["n"].as_u64().map(|x| x as usize),
                        loops: params["loops"].as_u64().map(|x| x as usize),
                        index: params["index"].as_u64().map(|x| x as usize),
                        ..Default::default()
                    },
                )
                .unwrap();
                assert_eq!(lower(&ours, &model, &layout).unwrap(), lower(&plan, &model, &layout).unwrap(), "{}: preset {p}: ours {ours} vs reference {text}", f.name);
            }
            let tap = e["name"] == "identity";
            let proto = emit_with(&model, &layout, &lower(&plan, &model, &layout).unwrap(), &EmitOptions { tap }).unwrap();
            let out = tmp.path().join(format!("plan{k}.onnx"));
            OnnxModel::from_proto(proto, f.dir.clone()).unwrap().save(&out).ok();
            let out = if out.exists() { out } else {
                // External-data models are written next to their weights.
                let copy_dir = tmp.path().join(format!("ext{k}"));
                std::fs::create_dir_all(&copy_dir).unwrap();
                let src = f.copy_to(&copy_dir);
                let m = common::load(&src);
                let l = detect(&m).unwrap();
                let p = emit_with(&m, &l, &lower(&plan, &m, &l).unwrap(), &EmitOptions { tap }).unwrap();
                let o = copy_dir.join("plan.onnx");
                OnnxModel::from_proto(p, &copy_dir).unwrap().save(&o).unwrap();
                o
            };
            let what = format!("{} ({text})", e["name"].as_str().unwrap());
            let outs = if f.with_past() {
                let (first, second) = run_with_past(&out, &named(&e["inputs"]["prefix"]), &named(&e["inputs"]["continuation"]));
                check(&f.name, &format!("{what} prefix"), &first, &e["prefix_outputs"]);
                second
            } else {
                common::run(&out, &f.reference().inputs)
            };
            check(&f.name, &what, &outs, &e["outputs"]);
            if tap {
                // The residual tensors detection found carry PyTorch's hidden states:
                // the stream entering block 0, then the output of every block.
                let hidden = refs["hidden_states"].as_array().unwrap();
                assert_eq!(hidden.len(), t + 1);
                for (i, h) in hidden.iter().enumerate() {
                    let name = if i == 0 { "painters.hidden.input".to_string() } else { format!("painters.hidden.{}", i - 1) };
                    let d = max_abs_diff(common::output(&outs, &name), &tensor(h)).unwrap();
                    assert!(d <= TOL, "{}: residual tensor {name} vs PyTorch hidden_states[{i}]: {d}", f.name);
                }
            }
        }
    }
    assert!(covered >= 13, "plans.json found for only {covered} fixtures");
}

/// The independent reference for int4: the genai builder's int4 export of the
/// PyTorch model with the layers already removed (`pruned/`, made by
/// `scripts/make_deploy_fixtures.py`). Block-wise quantization is per tensor,
/// so painters' skip rewrite of the int4 export must compute exactly what the
/// pruned export computes. Both run here, on this CPU (int4 kernels with
/// int8 activations differ across CPUs, so stored numbers would not do).
#[test]
fn int4_skips_equal_the_builders_export_of_the_pruned_model() {
    let dir = common::fixtures_dir().join("llama-genai-int4");
    let refs: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("int4_plans.json")).unwrap()).unwrap();
    let model = common::load(dir.join("model.onnx"));
    let layout = detect(&model).unwrap();
    let mut checked = 0;
    for e in refs["plans"].as_array().unwrap() {
        let text = e["plan"].as_str().unwrap();
        let slug = text.replace(',', "_").replace('-', "to");
        let pruned = dir.join("pruned").join(&slug).join("model.onnx");
        if !pruned.is_file() {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let src = common::Fixture { name: "llama-genai-int4".into(), dir: dir.clone(), expected: serde_json::Value::Null }.copy_to(tmp.path());
        let m = common::load(&src);
        let l = detect(&m).unwrap();
        assert_eq!(l.blocks.len(), layout.blocks.len());
        let p = emit_with(&m, &l, &lower(&parse(text).unwrap(), &m, &l).unwrap(), &EmitOptions::default()).unwrap();
        let out = tmp.path().join("plan.onnx");
        OnnxModel::from_proto(p, tmp.path()).unwrap().save(&out).unwrap();
        let (prefix, cont) = (named(&e["inputs"]["prefix"]), named(&e["inputs"]["continuation"]));
        let (a1, a2) = run_with_past(&out, &prefix, &cont);
        let (b1, b2) = run_with_past(&pruned, &prefix, &cont);
        for (what, a, b) in [("prefix", &a1, &b1), ("continuation", &a2, &b2)] {
            let logits = |v: &[(String, HostTensor)]| common::output(v, "logits").clone();
            let d = max_abs_diff(&logits(a), &logits(b)).unwrap();
            assert!(d <= 1e-5, "{text}: {what}: max |painters skip rewrite - builder's pruned int4 export| = {d}");
        }
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} pruned int4 exports found under {}", dir.join("pruned").display());
}

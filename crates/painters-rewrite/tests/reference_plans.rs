//! The Python plan helpers of the reference scripts (`scripts/painters_ref.py`: the
//! parser, block instances and `order`, which `scripts/repro_eta.py` uses to count what a
//! sweep has left) agree with this crate on every preset of a 30-block model at each
//! start layer and on hand-picked plans; the module's own self-tests pass too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use painters_rewrite::{parse, preset, Preset, PresetParams};

#[test]
fn python_plan_helpers_agree_with_the_rust_plans() {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts");
    // Its tensor self-tests need numpy: the clients' venv has it (scripts/install-clients.sh,
    // which scripts/test.sh runs); a python3 without it would skip them silently.
    let python = scripts.join("../.venv-clients/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/install-clients.sh (scripts/test.sh does)", python.display());
    let out = Command::new(&python).arg(scripts.join("painters_ref.py")).output().expect("python");
    assert!(out.status.success(), "painters_ref.py self-tests: {}", String::from_utf8_lossy(&out.stderr));
    let ran = String::from_utf8_lossy(&out.stdout);
    assert!(ran.contains("tensors"), "painters_ref.py skipped its tensor self-tests: {ran}");

    let mut plans: Vec<String> = ["0-1,[2],3", "0-1,2*1,3", "0,[1-2]*2,3", "0,([1],2)*2", "[(0-1),(1-0)],1-3", "3-0", "(0,1*2)*2,3"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for p in Preset::ALL.into_iter().filter(|p| p.uses_middle()) {
        for n in 0..15 {
            for loops in [2, 3, 4] {
                let params = PresetParams { layers: 30, n: Some(n), seed: 7, loops: Some(loops), ..Default::default() };
                plans.push(preset(p, &params).unwrap().to_string());
            }
        }
    }
    let code = "import json, sys\nsys.path.insert(0, sys.argv[1])\nfrom painters_ref import instances, order, parse_plan\n\
                print(json.dumps([[order(t), instances(t)] for t in map(parse_plan, json.load(sys.stdin))]))";
    let mut child = Command::new("python3")
        .args(["-c", code])
        .arg(&scripts)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    serde_json::to_writer(child.stdin.take().unwrap(), &plans).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3: {}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<(Option<Vec<usize>>, usize)> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got.len(), plans.len());
    let mut averaging = 0;
    for (text, (order, instances)) in plans.iter().zip(got) {
        let plan = parse(text).unwrap();
        assert_eq!(order, plan.order(), "order of {text}");
        assert_eq!(instances, plan.instances(), "instances of {text}");
        averaging += usize::from(order.is_none());
    }
    // Both kinds are checked: plans that average and plans with an order.
    assert!(averaging > 0 && averaging < plans.len(), "{averaging} of {} plans average", plans.len());
}

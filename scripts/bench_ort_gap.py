"""BENCHMARKS.md §3, where painters' `run` calls were 0.90x onnxruntime-Python's
loop: is it the engine or the measurement? painters' 4096-token benchmark makes
ONE `run` per process (8 windows as one batch of 8), while the Python loop is
timed after a warm-up loop. This times each run of fresh sessions separately,
in one process: run 1 (cold: ONNX Runtime's arena grows and every buffer's
pages are touched for the first time) and runs 2..R (warm). painters' side
is measured with painters itself (one and two batches per process:
`scripts/bench_ort_gap.sh`). Prints one JSON line per session.

Usage: .venv-fixtures/bin/python scripts/bench_ort_gap.py MODEL.onnx [--sessions S] [--runs R] [--batch B] [--tokens T] [--threads N]
"""
import argparse, json, time

import numpy as np
import onnxruntime as ort

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--sessions", type=int, default=3)
ap.add_argument("--runs", type=int, default=4)
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--tokens", type=int, default=512)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()

rng = np.random.default_rng(0)
ids = rng.integers(0, 49152, size=(a.batch, a.tokens), dtype=np.int64)
for s in range(a.sessions):
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    setup = time.perf_counter() - t0
    names = {i.name for i in sess.get_inputs()}
    if any(n.startswith("past_key_values") for n in names):
        raise SystemExit(f"{a.model}: a model with KV-cache inputs; give the export without past (models/smollm2-135m)")
    feeds = {"input_ids": ids}
    if "attention_mask" in names:
        feeds["attention_mask"] = np.ones_like(ids)
    if "position_ids" in names:
        feeds["position_ids"] = np.broadcast_to(np.arange(a.tokens, dtype=np.int64), ids.shape).copy()
    times = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        out = sess.run(["logits"], feeds)[0]
        times.append(round(time.perf_counter() - t0, 3))
        del out
    print(json.dumps({"session": s, "setup_s": round(setup, 2), "runs_s": times, "cold_over_warm": round(times[0] / float(np.median(times[1:])), 3)}), flush=True)

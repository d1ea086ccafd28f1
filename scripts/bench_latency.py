#!/usr/bin/env python3
"""BENCHMARKS.md 4: forward latency of ONNX models (batch 1, T tokens, onnxruntime,
graph optimizations ALL). All sessions live in one process; each round runs every model
once (round-robin), so slow phases of a noisy machine hit all models alike.

Usage: bench_latency.py [--tokens 256 --threads 2 --runs 20 --warmup 3] NAME=MODEL_DIR ...
Prints one JSON line {NAME: {median, p10, p90, runs}, "_meta": {...}}.
"""
import argparse
import json
import os
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    ids = rng.integers(10, 30000, size=(1, a.tokens), dtype=np.int64)
    sess = {}
    feeds = {}
    for spec in a.models:
        name, path = spec.rsplit("=", 1)
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        s = ort.InferenceSession(os.path.join(path, "model.onnx"), so, providers=["CPUExecutionProvider"])
        names = {i.name for i in s.get_inputs()}
        f = {"input_ids": ids}
        if "attention_mask" in names:
            f["attention_mask"] = np.ones_like(ids)
        if "position_ids" in names:
            f["position_ids"] = np.arange(a.tokens, dtype=np.int64)[None]
        sess[name], feeds[name] = s, f
    times = {n: [] for n in sess}
    for r in range(a.warmup + a.runs):
        for n, s in sess.items():
            t = time.perf_counter()
            s.run(["logits"], feeds[n])
            dt = time.perf_counter() - t
            if r >= a.warmup:
                times[n].append(dt)
    out = {n: {"median": float(np.median(v)), "p10": float(np.percentile(v, 10)),
               "p90": float(np.percentile(v, 90)), "runs": v} for n, v in times.items()}
    out["_meta"] = {"ort": ort.__version__, "tokens": a.tokens, "threads": a.threads, "runs": a.runs,
                    "warmup": a.warmup}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

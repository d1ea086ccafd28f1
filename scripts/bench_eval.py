#!/usr/bin/env python3
"""BENCHMARKS.md 3: perplexity throughput of `painters eval` vs an onnxruntime-Python loop
and vs Hugging Face transformers (PyTorch, CPU) over the same windows.

  ort    tokenizers.Tokenizer.from_file(MODEL/tokenizer.json), onnxruntime session
         (graph optimizations ALL, intra-op threads = --threads), windows of W tokens with
         stride S as docs/EVAL.md, batch B rows per run (B = 8 is painters' default
         --batch-size; B = 1 is the plain loop), float64 log-softmax in numpy.
  torch  AutoModelForCausalLM.from_pretrained(HF_DIR) fp32, torch.set_num_threads,
         torch.no_grad, the same windows, batch B.

Each prints one JSON line: per-repetition seconds of the whole scoring loop, the sum of
the session.run (or model forward) calls alone, setup times, and the perplexity.

Usage: bench_eval.py ort|torch --model DIR --data FILE [--window 512 --stride 512
        --max-tokens 4096 --threads 2 --batch 8 --reps 6]
"""
import argparse
import json
import math
import os
import sys
import time

T0 = time.perf_counter()
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from painters_ref import covered_text, log_softmax64, perplexity_windows  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine", choices=["ort", "torch"])
    ap.add_argument("--model", required=True, help="ONNX model folder (ort) or HF folder (torch)")
    ap.add_argument("--tokenizer", help="tokenizer.json (default MODEL/tokenizer.json)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--stride", type=int, default=None)
    ap.add_argument("--max-tokens", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--reps", type=int, default=6, help="repetitions; the first is a warm-up")
    a = ap.parse_args()
    S = a.stride or a.window
    import tokenizers

    t = time.perf_counter()
    tok = tokenizers.Tokenizer.from_file(a.tokenizer or os.path.join(a.model, "tokenizer.json"))
    text = open(a.data, encoding="utf-8").read()
    enc = tok.encode(text)  # add_special_tokens=True, as HF's tokenizer(text)
    ids = enc.ids[: a.max_tokens]
    offsets = enc.offsets[: a.max_tokens]
    t_tok = time.perf_counter() - t
    wins = perplexity_windows(len(ids), a.window, S)

    t = time.perf_counter()
    if a.engine == "ort":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(os.path.join(a.model, "model.onnx"), so, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        version = ort.__version__

        def forward(batch_ids):
            feeds = {"input_ids": batch_ids}
            if "attention_mask" in names:
                feeds["attention_mask"] = np.ones_like(batch_ids)
            if "position_ids" in names:
                feeds["position_ids"] = np.broadcast_to(np.arange(batch_ids.shape[1], dtype=np.int64),
                                                        batch_ids.shape).copy()
            return sess.run(["logits"], feeds)[0]
    else:
        import torch
        import transformers

        torch.set_num_threads(a.threads)
        model = transformers.AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32).eval()
        version = f"torch {torch.__version__}, transformers {transformers.__version__}, attn {model.config._attn_implementation}"

        def forward(batch_ids):
            with torch.no_grad():
                x = torch.from_numpy(batch_ids)
                return model(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False).logits.numpy()
    t_setup = time.perf_counter() - t

    reps = []
    for r in range(a.reps):
        t_loop = time.perf_counter()
        t_run = 0.0
        ll, n = 0.0, 0
        # group windows of equal length into batches of a.batch rows
        k = 0
        while k < len(wins):
            group = [wins[k]]
            while (len(group) < a.batch and k + len(group) < len(wins)
                   and wins[k + len(group)][1] - wins[k + len(group)][0] == wins[k][1] - wins[k][0]):
                group.append(wins[k + len(group)])
            k += len(group)
            batch = np.array([ids[b:e] for b, e, _ in group], dtype=np.int64)
            t = time.perf_counter()
            logits = forward(batch)
            t_run += time.perf_counter() - t
            for row, (b, e, first) in enumerate(group):
                lp = log_softmax64(logits[row, first - 1: e - b - 1])
                tgt = np.array(ids[b + first: e])
                ll += float(lp[np.arange(len(tgt)), tgt].sum())
                n += len(tgt)
        reps.append({"loop": time.perf_counter() - t_loop, "run": t_run})
    _, words, nbytes = covered_text(text, offsets)
    print(json.dumps({
        "engine": a.engine, "version": version, "batch": a.batch, "threads": a.threads,
        "tokens": len(ids), "windows": len(wins), "n_tokens": n, "loglikelihood_sum": ll,
        "token_perplexity": math.exp(-ll / n), "word_perplexity": math.exp(-ll / words),
        "bits_per_byte": -ll / nbytes / math.log(2),
        "import_s": 0.0, "tokenize_s": t_tok, "setup_s": t_setup, "reps": reps,
        "process_s_so_far": time.perf_counter() - T0}))


if __name__ == "__main__":
    sys.exit(main())

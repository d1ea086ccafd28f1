#!/usr/bin/env python3
"""Greedy generation with onnxruntime-genai on a model folder, plus the same
greedy continuation by recomputation with onnxruntime.

    .venv-clients/bin/python scripts/clients/genai_generate.py DIR --ids 1,2,3 --new N

DIR is an onnxruntime-genai model folder (genai_config.json + the decoder file
it names, usually model.onnx). Prints one JSON line:

    {"cached": [...], "recomputed": [...]}

cached:     og.Generator, greedy search (do_sample false), max_length =
            prompt + N; the generator keeps its own KV cache. EOS does not stop
            it: the config's eos_token_id is overlaid with an empty list (an id
            outside the vocabulary is refused), so it yields exactly N tokens.
recomputed: onnxruntime (the one onnxruntime-genai depends on, in the same
            venv) runs the decoder file on the whole sequence at each step with
            an empty past (past_key_values.* of shape [1, kv_heads, 0,
            head_dim]; GroupQueryAttention accepts a zero-length past) and takes
            the argmax of the last position's logits (first index on ties).
"""
import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort
import onnxruntime_genai as og


def parse_args():
    p = argparse.ArgumentParser(prog="genai_generate.py")
    p.add_argument("dir")
    p.add_argument("--ids", required=True, help="prompt token ids, comma-separated")
    p.add_argument("--new", type=int, required=True, help="number of tokens to generate")
    a = p.parse_args()
    try:
        a.prompt = [int(s) for s in a.ids.split(",")]
    except ValueError:
        p.error(f"bad --ids '{a.ids}'")
    if a.new < 1 or not a.prompt:
        p.error("need a prompt and --new >= 1")
    return a


def genai_greedy(model_dir, prompt, n):
    config = og.Config(model_dir)
    # No EOS id: generation runs for exactly n tokens.
    config.overlay(json.dumps({"model": {"eos_token_id": []}}))
    model = og.Model(config)
    params = og.GeneratorParams(model)
    params.set_search_options(do_sample=False, max_length=len(prompt) + n, min_length=0)
    gen = og.Generator(model, params)
    gen.append_tokens(prompt)
    while not gen.is_done():
        gen.generate_next_token()
    return [int(t) for t in gen.get_sequence(0)[len(prompt):]]


def recompute_greedy(onnx_path, prompt, n):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    feeds_static = {}
    for i in sess.get_inputs():
        if i.name.startswith("past_key_values."):
            shape = i.shape
            if len(shape) != 4 or not isinstance(shape[1], int) or not isinstance(shape[3], int):
                sys.exit(f"genai_generate: {i.name} has no static kv-heads/head-dim dimensions: {shape}")
            dtype = {"tensor(float)": np.float32, "tensor(float16)": np.float16}.get(i.type)
            if dtype is None:
                sys.exit(f"genai_generate: {i.name} has unsupported type {i.type}")
            feeds_static[i.name] = np.zeros((1, shape[1], 0, shape[3]), dtype)
        elif i.name not in ("input_ids", "attention_mask", "position_ids"):
            sys.exit(f"genai_generate: the decoder has an input this script cannot fill: {i.name}")
    names = {i.name: i for i in sess.get_inputs()}
    seq = list(prompt)
    out = []
    for _ in range(n):
        feeds = dict(feeds_static)
        t = len(seq)
        feeds["input_ids"] = np.array([seq], np.int64)
        if "attention_mask" in names:
            dt = np.int32 if names["attention_mask"].type == "tensor(int32)" else np.int64
            feeds["attention_mask"] = np.ones((1, t), dt)
        if "position_ids" in names:
            dt = np.int32 if names["position_ids"].type == "tensor(int32)" else np.int64
            feeds["position_ids"] = np.arange(t, dtype=dt)[None, :]
        (logits,) = sess.run(["logits"], feeds)
        nxt = int(np.argmax(logits[0, -1]))
        out.append(nxt)
        seq.append(nxt)
    return out


def main():
    a = parse_args()
    cfg_path = os.path.join(a.dir, "genai_config.json")
    if not os.path.isfile(cfg_path):
        sys.exit(f"genai_generate: {a.dir}: no genai_config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    onnx_path = os.path.join(a.dir, cfg["model"]["decoder"].get("filename", "model.onnx"))
    cached = genai_greedy(a.dir, a.prompt, a.new)
    recomputed = recompute_greedy(onnx_path, a.prompt, a.new)
    print(json.dumps({"cached": cached, "recomputed": recomputed}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Independent Python reference for the evaluation tasks of `painters eval`.

Implements docs/EVAL.md with the onnxruntime Python package (CPU, graph optimizations
disabled, one thread), `tokenizers.Tokenizer.from_file` and float64 log_softmax, one
sequence per run, and writes the expected numbers to tests/data/expected/*.json.

Run from the repository root:

    .venv-fixtures/bin/python scripts/eval_reference.py            # all cases
    .venv-fixtures/bin/python scripts/eval_reference.py --only llama-optimum

The inputs are the small files in tests/data/ and the fixtures in tests/fixtures/.
Judgment calls where docs/EVAL.md leaves room are listed in tests/data/README.md and
marked "JUDGMENT" below. The script is deterministic: rerunning it rewrites identical
files.
"""

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from painters_ref import (  # noqa: E402  (scripts/painters_ref.py)
    MASK64, SplitMix64, covered_text, log_softmax64, perplexity_windows, tensor_from_json)

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures"
DATA = ROOT / "tests" / "data"
OUT = DATA / "expected"
PAINTERS = ROOT / "target" / "debug" / "painters"

DECODERS = ["llama-optimum", "llama-optimum-past", "qwen2-optimum-past", "mistral-optimum"]
ENCODERS = ["bert-optimum", "distilbert-optimum"]
SIMILARITY = ["bert-optimum", "llama-optimum"]

KV_TOL = 1e-5


# --------------------------------------------------------------------------- model
ORT_TYPES = {
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(float)": np.float32,
    "tensor(bool)": np.bool_,
}


def make_session(model):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if isinstance(model, (str, Path)):
        model = str(model)
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


class Model:
    """One fixture: session, tokenizer, config and the discovered inputs."""

    def __init__(self, name, session=None):
        self.name = name
        self.dir = FIX / name
        self.sess = session or make_session(self.dir / "model.onnx")
        self.tok = Tokenizer.from_file(str(self.dir / "tokenizer.json"))
        self.config = json.loads((self.dir / "config.json").read_text())
        self.inputs = {i.name: i for i in self.sess.get_inputs()}
        self.past_names = sorted(
            (n for n in self.inputs if n.startswith("past_key_values.")),
            key=lambda n: (int(n.split(".")[1]), n.split(".")[2]),
        )
        self.with_past = bool(self.past_names)
        self.max_positions = int(self.config["max_position_embeddings"])
        self.bos = self.config.get("bos_token_id")
        self.eos = self.config.get("eos_token_id")
        self.output_names = [o.name for o in self.sess.get_outputs()]

    def encode(self, text, special):
        return self.tok.encode(text, add_special_tokens=special).ids

    def empty_past(self):
        past = {}
        for n in self.past_names:
            shape = self.inputs[n].shape  # [batch, kv_heads, past_len, head_dim]
            kv_heads, head_dim = shape[1], shape[3]
            assert isinstance(kv_heads, int) and isinstance(head_dim, int), shape
            past[n] = np.zeros((1, kv_heads, 0, head_dim), dtype=ORT_TYPES[self.inputs[n].type])
        return past

    def run(self, ids, past=None, past_len=0, outputs=None):
        """Run one sequence (batch 1). `past`: dict past_key_values.* -> array, or None
        for an empty cache. Returns {output name: array}."""
        ids = list(ids)
        L = len(ids)
        feed = {}
        for name, inp in self.inputs.items():
            dt = ORT_TYPES.get(inp.type)
            if name == "input_ids":
                feed[name] = np.array([ids], dtype=dt)
            elif name == "attention_mask":
                feed[name] = np.ones((1, past_len + L), dtype=dt)
            elif name == "position_ids":
                feed[name] = np.arange(past_len, past_len + L, dtype=dt)[None, :]
            elif name == "token_type_ids":
                feed[name] = np.zeros((1, L), dtype=dt)
            elif name.startswith("past_key_values."):
                pass
            else:
                raise ValueError(f"{self.name}: unknown input {name}")
        if self.with_past:
            feed.update(past if past is not None else self.empty_past())
        names = outputs or self.output_names
        res = self.sess.run(names, feed)
        return dict(zip(names, res))

    def presents(self, out):
        return {
            p: out[p.replace("past_key_values.", "present.")] for p in self.past_names
        }


def stderr_of_mean(x):
    x = np.asarray(x, dtype=np.float64)
    return float(math.sqrt(np.var(x, ddof=1) / len(x)))


# --------------------------------------------------------------------------- perplexity
def perplexity(m, text, window, stride, max_tokens=None):
    enc = m.tok.encode(text, add_special_tokens=True)
    tokens = enc.ids
    offsets = enc.offsets
    if max_tokens is not None:
        tokens = tokens[:max_tokens]
        offsets = offsets[:max_tokens]
    N = len(tokens)
    ll = 0.0
    n = 0
    windows = []
    # targets of a window: its last (end - prev_end) tokens, never its first token
    for begin, end, first_target in perplexity_windows(N, window, stride):
        win = tokens[begin:end]
        n_t = len(win) - first_target
        if n_t > 0:
            logits = m.run(win)["logits"][0]  # [len, vocab]
            lp = log_softmax64(logits)
            for p in range(first_target, len(win)):
                ll += float(lp[p - 1, win[p]])
            n += n_t
        windows.append([begin, end, n_t])
    # covered text: up to the end offset (characters) of the last kept token with a
    # non-empty span
    cover_end, words, nbytes = covered_text(text, offsets)
    results = {
        "token_perplexity": math.exp(-ll / n),
        "word_perplexity": math.exp(-ll / words),
        "bits_per_byte": -ll / nbytes / math.log(2),
        "loglikelihood_sum": ll,
        "n_tokens": n,
        "words": words,
        "bytes": nbytes,
    }
    details = {
        "total_tokens": N,
        "first_tokens": tokens[:16],
        "covered_chars": cover_end,
        "windows": windows,
    }
    return results, len(windows), details


# --------------------------------------------------------------------------- choice
def load_choice(path):
    path = Path(path)
    docs = []
    if path.suffix == ".jsonl":
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                docs.append((d["context"], list(d["choices"]), int(d["label"])))
        return docs
    task = json.loads(path.read_text(encoding="utf-8"))
    tp = task.get("task_prefix", "")
    ip = task.get("example_input_prefix", "Q: ")
    op = task.get("example_output_prefix", "\nA: ")
    for ex in task["examples"]:
        choices = list(ex["target_scores"].keys())
        scores = [ex["target_scores"][c] for c in choices]
        best = max(scores)
        label = scores.index(best)  # first choice with the highest score
        docs.append((tp + ip + ex["input"] + op, choices, label))
    return docs


def split_pair(context, choice):
    """harness _encode_pair whitespace rule: returns (context, continuation)."""
    stripped = context.rstrip()
    n_ws = len(context) - len(stripped)
    if n_ws > 0:
        return stripped, context[len(stripped):] + choice
    return context, " " + choice


def fewshot_prompt(docs, i, k, seed):
    if k == 0:
        return docs[i][0], []
    rng = SplitMix64((seed ^ i) & MASK64)
    others = [j for j in range(len(docs)) if j != i]
    shots = rng.shuffle(others)[:k]
    parts = []
    for j in shots:
        ctx, choices, label = docs[j]
        c, cont = split_pair(ctx, choices[label])
        parts.append(c + cont)
    return "\n\n".join(parts) + "\n\n" + docs[i][0], shots


def pair_tokens(m, context, continuation):
    if context == "":
        # JUDGMENT (harness): empty context -> [bos] (else eos), continuation encoded alone
        ctx = [m.bos if m.bos is not None else m.eos]
        cont = m.encode(continuation, False)
        return ctx, cont
    ctx = m.encode(context, False)
    whole = m.encode(context + continuation, False)
    return ctx, whole[len(ctx):]


def ll_nocache(m, ctx, cont):
    seq = (ctx + cont)[-(m.max_positions + 1):][:-1]
    truncated = len(ctx) + len(cont) - 1 > m.max_positions
    lp = log_softmax64(m.run(seq)["logits"][0])
    # the last len(cont) positions predict cont
    L = len(seq)
    total = 0.0
    for k, t in enumerate(cont):
        total += float(lp[L - len(cont) + k, t])
    return total, truncated


def ll_cache(m, ctx, cont, ctx_out=None):
    """Run the context once (or reuse ctx_out), then the continuation with the context's
    presents as past."""
    if ctx_out is None:
        ctx_out = m.run(ctx)
    lp0 = log_softmax64(ctx_out["logits"][0, -1])
    total = float(lp0[cont[0]])
    if len(cont) > 1:
        out = m.run(cont[:-1], past=m.presents(ctx_out), past_len=len(ctx))
        lp = log_softmax64(out["logits"][0])
        for k in range(1, len(cont)):
            total += float(lp[k - 1, cont[k]])
    return total, ctx_out


def margin(row):
    s = sorted(row, reverse=True)
    return float(s[0] - s[1])


def choice_eval(m, path, k=0, seed=0):
    docs = load_choice(path)
    lls_norm = []
    lls, accs, accn, labels, preds, preds_norm, shots_all = [], [], [], [], [], [], []
    uni, uni_n = [], []
    kv_max_diff = 0.0
    any_trunc = False
    ex0 = None
    for i, (ctx_text, choices, label) in enumerate(docs):
        prompt, shots = fewshot_prompt(docs, i, k, seed)
        shots_all.append(shots)
        row, lens = [], []
        ctx_out, ctx_key = None, None
        for c in choices:
            context, continuation = split_pair(prompt, c)
            ctx, cont = pair_tokens(m, context, continuation)
            assert len(cont) > 0, (context, continuation)
            ll, trunc = ll_nocache(m, ctx, cont)
            any_trunc |= trunc
            row.append(ll)
            lens.append(len(continuation))
            if m.with_past and not trunc:
                # the context is run once per example and reused for every choice
                reuse = ctx_out if ctx_out is not None and ctx_key == ctx else None
                llc, ctx_out = ll_cache(m, ctx, cont, reuse)
                ctx_key = ctx
                kv_max_diff = max(kv_max_diff, abs(llc - ll))
            if i == 0 and ex0 is None:
                ex0 = {"prompt": prompt, "context": context, "context_tokens": ctx}
            if i == 0:
                ex0.setdefault("continuations", []).append(continuation)
                ex0.setdefault("continuation_tokens", []).append(cont)
        pred = int(np.argmax(row))  # first maximum
        pred_n = int(np.argmax([l / n for l, n in zip(row, lens)]))
        # A model giving every token the same probability: log-likelihood -(tokens) * log V.
        ntok = [len(pair_tokens(m, *split_pair(prompt, c))[1]) for c in choices]
        uni.append(1.0 if int(np.argmax([-t for t in ntok])) == label else 0.0)
        uni_n.append(1.0 if int(np.argmax([-t / n for t, n in zip(ntok, lens)])) == label else 0.0)
        lls.append(row)
        lls_norm.append([l / n for l, n in zip(row, lens)])
        labels.append(label)
        preds.append(pred)
        preds_norm.append(pred_n)
        accs.append(1.0 if pred == label else 0.0)
        accn.append(1.0 if pred_n == label else 0.0)
    results = {
        "acc,none": float(np.mean(accs)),
        "acc_stderr,none": stderr_of_mean(accs),
        "acc_norm,none": float(np.mean(accn)),
        "acc_norm_stderr,none": stderr_of_mean(accn),
        "acc_uniform,none": float(np.mean(uni)),
        "acc_norm_uniform,none": float(np.mean(uni_n)),
    }
    details = {
        "ll": lls,
        "labels": labels,
        "pred": preds,
        "pred_norm": preds_norm,
        "context_tokens": ex0["context_tokens"],
        "example0": ex0,
        "truncated": any_trunc,
        "min_top2_margin_acc": min(margin(r) for r in lls),
        "min_top2_margin_acc_norm": min(margin(r) for r in lls_norm),
    }
    if k > 0:
        details["shots"] = shots_all
    if m.with_past:
        details["kv_cache_max_abs_diff"] = kv_max_diff
    return results, len(docs), details, kv_max_diff


# --------------------------------------------------------------------------- generate
def top2_margin(logits):
    top = np.sort(np.asarray(logits, dtype=np.float64))[-2:]
    return float(top[1] - top[0])


def greedy(m, prompt_ids, max_new, use_cache, margins=None):
    """Greedy tokens; `margins` (a list) collects the top-1 minus top-2 logit gap of
    every step, so that a near-tie (where another implementation could pick another
    token) would be visible."""
    gen = []
    margins = margins if margins is not None else []
    if use_cache:
        out = m.run(prompt_ids)
        pos = len(prompt_ids)
        while True:
            t = int(np.argmax(out["logits"][0, -1]))
            margins.append(top2_margin(out["logits"][0, -1]))
            if t == m.eos:
                break
            gen.append(t)
            if len(gen) >= max_new:
                break
            out = m.run([t], past=m.presents(out), past_len=pos)
            pos += 1
    else:
        while len(gen) < max_new:
            out = m.run(prompt_ids + gen)
            t = int(np.argmax(out["logits"][0, -1]))
            margins.append(top2_margin(out["logits"][0, -1]))
            if t == m.eos:
                break
            gen.append(t)
    return gen


def generate_eval(m, path, max_new=8, stop="\n"):
    task = json.loads(Path(path).read_text(encoding="utf-8"))
    ip = task.get("example_input_prefix", "Q: ")
    op = task.get("example_output_prefix", "\nA: ")
    outputs, gen_ids, ems = [], [], []
    cache_mismatch = []
    margins = []
    p0 = None
    for ex in task["examples"]:
        prompt = (ip + ex["input"] + op).rstrip()
        ids = m.encode(prompt, False)
        if p0 is None:
            p0 = {"prompt": prompt, "prompt_tokens": ids}
        gen = greedy(m, ids, max_new, use_cache=m.with_past, margins=margins)
        if m.with_past:
            # cross-check: the same greedy tokens without the cache
            g2 = greedy(m, ids, max_new, use_cache=False)
            if g2 != gen:
                cache_mismatch.append({"cache": gen, "nocache": g2})
        text = m.tok.decode(gen, skip_special_tokens=True)
        if stop and stop in text:
            text = text[: text.index(stop)]
        text = text.strip()
        targets = ex["target"] if isinstance(ex["target"], list) else [ex["target"]]
        ems.append(1.0 if any(text == t.strip() for t in targets) else 0.0)
        outputs.append(text)
        gen_ids.append(gen)
    results = {"exact_match": float(np.mean(ems))}
    details = {
        "outputs": outputs,
        "generated_ids": gen_ids,
        "matches": ems,
        "prompt_tokens": p0["prompt_tokens"],
        "example0_prompt": p0["prompt"],
        "min_top2_logit_margin": min(margins),
    }
    if m.with_past:
        details["cache_vs_nocache_mismatches"] = cache_mismatch
    return results, len(outputs), details, cache_mismatch


# --------------------------------------------------------------------------- encoders
def embed(m, text):
    ids = m.encode(text, True)
    h = m.run(ids, outputs=["last_hidden_state"])["last_hidden_state"][0]
    # attention mask is all ones (one sequence, no padding)
    return h.astype(np.float64).mean(axis=0)


def load_probe():
    rows = []
    for line in (DATA / "probe.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def probe_eval(m):
    from sklearn.linear_model import LogisticRegression

    rows = load_probe()
    X = {"train": [], "test": []}
    y = {"train": [], "test": []}
    for r in rows:
        X[r["split"]].append(embed(m, r["text"]))
        y[r["split"]].append(r["label"])
    Xtr, Xte = np.array(X["train"]), np.array(X["test"])
    clf = LogisticRegression(C=1.0, max_iter=10000, tol=1e-10)  # lbfgs, multinomial
    clf.fit(Xtr, y["train"])
    pred = [str(p) for p in clf.predict(Xte)]
    acc = float(np.mean([p == t for p, t in zip(pred, y["test"])]))
    train_acc = float(np.mean([str(p) == t for p, t in zip(clf.predict(Xtr), y["train"])]))
    W, b = clf.coef_, clf.intercept_
    # objective: sum of cross-entropy + ||W||^2 / 2 (C = 1), intercept not penalized
    P = clf.predict_proba(Xtr)
    idx = [list(clf.classes_).index(t) for t in y["train"]]
    ce = -float(np.sum(np.log(P[np.arange(len(idx)), idx])))
    obj = ce + 0.5 * float(np.sum(W * W))
    # optimality check of that objective: its gradient must vanish at the fit
    Y = np.zeros_like(P)
    Y[np.arange(len(idx)), idx] = 1.0
    gW = (P - Y).T @ Xtr + W
    gb = (P - Y).sum(axis=0)
    grad_norm = float(math.sqrt(np.sum(gW * gW) + np.sum(gb * gb)))
    assert grad_norm < 1e-4, grad_norm
    details = {
        "predictions": pred,
        "test_labels": y["test"],
        "train_acc": train_acc,
        "classes": [str(c) for c in clf.classes_],
        "coef_norm": float(np.linalg.norm(W)),
        "intercept": [float(v) for v in b],
        "objective": obj,
        "objective_grad_norm": grad_norm,
        "n_iter": int(clf.n_iter_[0]),
        "test_proba": clf.predict_proba(Xte).tolist(),
        "n_train": len(y["train"]),
        "n_test": len(y["test"]),
        "embedding_dim": int(Xtr.shape[1]),
        "first_train_embedding": Xtr[0].tolist(),
    }
    return {"acc": acc}, len(y["test"]), details


def fidelity_self(m):
    texts = [r["text"] for r in load_probe()]
    cos = []
    for t in texts:
        a = embed(m, t)
        b = embed(m, t)  # reference = the same model
        cos.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    return {"cosine": float(np.mean(cos))}, len(texts), {"per_text": cos}


# --------------------------------------------------------------------------- similarity
def similarity_texts(m):
    text = (DATA / "text.txt").read_text(encoding="utf-8")
    chunks = [c.strip() for c in text.replace("\r\n", "\n").split("\n\n")]
    chunks = [c for c in chunks if c][:5]
    return chunks


def tapped_session(name):
    info = json.loads(
        subprocess.run(
            [str(PAINTERS), "inspect", str(FIX / name), "--json"],
            check=True, capture_output=True, text=True, cwd=ROOT,
        ).stdout
    )
    blocks = info["blocks"]
    taps = [blocks[0]["input"]] + [b["output"] for b in blocks]
    for i in range(1, len(blocks)):
        assert blocks[i]["input"] == blocks[i - 1]["output"], (name, i)
    model = onnx.load(str(FIX / name / "model.onnx"))
    existing = {o.name for o in model.graph.output}
    for t in taps:
        if t not in existing:
            model.graph.output.append(onnx.ValueInfoProto(name=t))
            existing.add(t)
    sess = make_session(model.SerializeToString())
    return sess, taps


def check_taps(m, taps):
    """The taps must reproduce the fixture's PyTorch hidden states (plans.json, row 0)."""
    ref = json.loads((m.dir / "reference.json").read_text())["inputs"]
    plans = json.loads((m.dir / "plans.json").read_text())
    row0 = list(tensor_from_json(ref["input_ids"])[0])
    mask0 = tensor_from_json(ref["attention_mask"])[0]
    assert mask0.all()
    out = m.run(row0, outputs=taps)
    worst = 0.0
    for t, hs in zip(taps, plans["hidden_states"]):
        h = tensor_from_json(hs, np.float64)[0]
        worst = max(worst, float(np.abs(out[t][0] - h).max()))
    assert worst < 1e-4, (m.name, worst)
    return worst


def similarity_eval(name):
    sess, taps = tapped_session(name)
    m = Model(name, session=sess)
    tap_err = check_taps(m, taps)
    texts = similarity_texts(m)
    T1 = len(taps)
    acc = np.zeros((T1, T1))
    n_tok = []
    for t in texts:
        ids = m.encode(t, True)[:64]  # JUDGMENT: truncate the encoded ids (specials included)
        n_tok.append(len(ids))
        out = m.run(ids, outputs=taps)
        H = [out[x][0].astype(np.float64) for x in taps]
        Hn = [h / np.linalg.norm(h, axis=-1, keepdims=True) for h in H]
        for i in range(T1):
            for j in range(T1):
                acc[i, j] += float(np.mean(np.sum(Hn[i] * Hn[j], axis=-1)))
    sim = acc / len(texts)
    influence = [float(1.0 - sim[i, i + 1]) for i in range(T1 - 1)]
    details = {
        "taps": taps,
        "n_tokens": n_tok,
        "max_tokens": 64,
        "tap_check_max_abs_diff_vs_plans_json": tap_err,
    }
    return {"matrix": sim.tolist(), "influence": influence}, len(texts), details


# --------------------------------------------------------------------------- driver
def dumps(x, indent=0):
    """JSON with one key per line and lists of scalars (or of such lists, the rows of
    a matrix) on one line each."""
    pad = " " * indent
    if isinstance(x, dict):
        if not x:
            return "{}"
        items = [
            f'{pad} {json.dumps(k, ensure_ascii=False)}: {dumps(v, indent + 1)}'
            for k, v in x.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(x, list):
        if all(not isinstance(v, (dict, list)) for v in x):
            return json.dumps(x, ensure_ascii=False)
        items = [pad + " " + dumps(v, indent + 1) for v in x]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(x, ensure_ascii=False)


def write(fixture, case, task, params, results, n, details):
    doc = {
        "fixture": fixture,
        "case": case,
        "task": task,
        "params": params,
        "results": results,
        "n_samples": n,
        "details": details,
    }
    path = OUT / f"{fixture}.{case}.json"
    path.write_text(dumps(doc) + "\n", encoding="utf-8")
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help="only these fixtures")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    want = lambda f: not args.only or f in args.only
    text = (DATA / "text.txt").read_text(encoding="utf-8")
    summary = []
    problems = []

    def rec(fixture, case, task, params, res, n, det):
        p = write(fixture, case, task, params, res, n, det)
        key = {k: v for k, v in res.items() if not isinstance(v, list)}
        if "influence" in res:
            key["influence"] = "[" + ", ".join(f"{v:.5f}" for v in res["influence"]) + "]"
        summary.append((fixture, case, n, key, p.stat().st_size))
        print(f"  {case}: {key}", flush=True)

    for f in DECODERS:
        if not want(f):
            continue
        print(f"== {f}", flush=True)
        m = Model(f)
        for case, w, s, mt in [
            ("perplexity-w16-s16", 16, 16, None),
            ("perplexity-w32-s8", 32, 8, None),
            ("perplexity-max100-w24-s24", 24, 24, 100),
        ]:
            res, n, det = perplexity(m, text, w, s, mt)
            params = {"data": "tests/data/text.txt", "window": w, "stride": s}
            if mt is not None:
                params["max_tokens"] = mt
            rec(f, case, "perplexity", params, res, n, det)
        for case, path, k, seed in [
            ("choice-bigbench", "choice_task.json", 0, None),
            ("choice-bigbench-fewshot2-seed1234", "choice_task.json", 2, 1234),
            ("choice-custom-prefix", "choice_custom_prefix.json", 0, None),
            ("choice-jsonl", "choice.jsonl", 0, None),
        ]:
            res, n, det, kvd = choice_eval(m, DATA / path, k, seed or 0)
            params = {"data": f"tests/data/{path}", "fewshot": k}
            if seed is not None:
                params["seed"] = seed
            if m.with_past and kvd > KV_TOL:
                problems.append(f"{f} {case}: KV-cache LL differs by {kvd:.3g} > {KV_TOL}")
            rec(f, case, "choice", params, res, n, det)
        res, n, det, mism = generate_eval(m, DATA / "generate_task.json", 8, "\n")
        if mism:
            problems.append(f"{f} generate: greedy tokens differ with/without cache: {mism}")
        rec(f, "generate", "generate",
            {"data": "tests/data/generate_task.json", "max_new_tokens": 8, "stop": "\n"},
            res, n, det)

    for f in ENCODERS:
        if not want(f):
            continue
        print(f"== {f}", flush=True)
        m = Model(f)
        res, n, det = probe_eval(m)
        rec(f, "probe", "probe", {"data": "tests/data/probe.jsonl"}, res, n, det)
        res, n, det = fidelity_self(m)
        rec(f, "fidelity-self", "fidelity",
            {"data": "tests/data/probe.jsonl", "reference": f"tests/fixtures/{f}"},
            res, n, det)

    for f in SIMILARITY:
        if not want(f):
            continue
        print(f"== {f} similarity", flush=True)
        res, n, det = similarity_eval(f)
        rec(f, "similarity", "similarity",
            {"data": "tests/data/text.txt", "texts": "first 5 blank-line-separated chunks",
             "max_tokens": 64},
            res, n, det)

    print()
    print(f"{'fixture':<20} {'case':<36} {'n':>3}  results")
    for fixture, case, n, key, size in summary:
        short = ", ".join(
            f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in key.items()
        )
        print(f"{fixture:<20} {case:<36} {n:>3}  {short}")
    big = [(fx, c, s) for fx, c, _, _, s in summary if s > 20000]
    if big:
        print("WARNING: files over 20 KB:", big)
    if problems:
        print("PROBLEMS:")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print(f"KV-cache checks: all within {KV_TOL}")


if __name__ == "__main__":
    main()

# BENCHMARKS.md §13: would scoring the choices of several examples in one batch pay off on the
# generated reproduction suite (short 3-shot contexts, 1-3 token continuations)? onnxruntime-Python,
# 1 thread, on the scoring form of models/smollm2-135m-past (a Slice before the head, as
# painters_rewrite::head). Per task, the first EXAMPLES examples, two ways:
#   one:   each example alone, as painters does now: its context's prefill (head at the last
#          position), then its multi-token continuations in one batch on the repeated cache;
#   batch: G examples at once: their contexts left-padded in one prefill (padding masked, positions
#          counted from each row's first token), then every multi-token continuation of the G
#          examples in one batch, each on its own example's cache row.
# Prints each task's seconds both ways (median of REPS, interleaved) and the largest difference
# of the per-choice log-likelihoods.
# Usage: python scripts/bench_cross_example.py [EXAMPLES] [G] [REPS]   (numpy, onnx, onnxruntime, tokenizers)
import json, sys, time, os, tempfile
import numpy as np, onnx, onnxruntime as ort
from onnx import helper, TensorProto
from tokenizers import Tokenizer

EXAMPLES = int(sys.argv[1]) if len(sys.argv) > 1 else 40
G = int(sys.argv[2]) if len(sys.argv) > 2 else 8
REPS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
SRC = "models/smollm2-135m-past"
TASKS = ["add_2digit", "colored_objects", "brown_cloze", "brown_cloze_verb"]

m = onnx.load(f"{SRC}/model.onnx")
g = m.graph
prod = {o: n for n in g.node for o in n.output}
head = prod["logits"]
g.input.append(helper.make_tensor_value_info("lf_start", TensorProto.INT64, [1]))
g.initializer.extend([helper.make_tensor("lf_end", TensorProto.INT64, [1], [2**62]), helper.make_tensor("lf_axes", TensorProto.INT64, [1], [1])])
sl = helper.make_node("Slice", [head.input[0], "lf_start", "lf_end", "lf_axes"], ["lf_sliced"], name="lf_slice")
head.input[0] = "lf_sliced"
nodes = list(g.node)
nodes.insert(nodes.index(head), sl)
del g.node[:]
g.node.extend(nodes)
so = ort.SessionOptions()
so.intra_op_num_threads = 1
s = ort.InferenceSession(m.SerializeToString(), so)
del m
names = [i.name for i in s.get_inputs()]
pasts = [n for n in names if n.startswith("past_key_values")]
outs = [o.name for o in s.get_outputs()]
presents = ["present" + p[len("past_key_values"):] for p in pasts]
tok = Tokenizer.from_file(f"{SRC}/tokenizer.json")


def enc(t):
    return tok.encode(t, add_special_tokens=False).ids


def logsm(row):
    mx = row.max()
    return row - mx - np.log(np.exp(row - mx).sum(dtype=np.float64))


def examples(task):
    ex = json.load(open(f"data/generated/{task}/task.json"))["examples"]
    out = []
    for i in range(EXAMPLES):
        shots = [ex[(i + 1 + k) % len(ex)] for k in range(3)]
        parts = [f"{e['input']} {max(e['target_scores'], key=e['target_scores'].get)}" for e in shots]
        ctx = "\n\n".join(parts + [ex[i]["input"]])
        ids = enc(ctx)
        conts = [enc(f"{ctx} {c}")[len(ids):] for c in ex[i]["target_scores"]]
        out.append((ids, conts))
    return out


def run(ids, mask, pos, lf, cache):
    d = {"input_ids": ids, "attention_mask": mask, "position_ids": pos, "lf_start": np.array([lf], np.int64)}
    b = ids.shape[0]
    for p in pasts:
        d[p] = cache[p] if cache is not None else np.zeros((b, 3, 0, 64), np.float32)
    r = s.run(None, d)
    return r[outs.index("logits")], {p: r[outs.index(q)] for p, q in zip(pasts, presents)}


def one(exs):
    lls = []
    for ids, conts in exs:
        L = len(ids)
        lg, cache = run(np.array([ids], np.int64), np.ones((1, L), np.int64), np.arange(L)[None], L - 1, None)
        first = logsm(lg[0, -1])
        ll = [first[c[0]] for c in conts]
        rest = [i for i, c in enumerate(conts) if len(c) > 1]
        if rest:
            n = max(len(conts[i]) - 1 for i in rest)
            ids2 = np.array([conts[i][:-1] + [0] * (n - len(conts[i]) + 1) for i in rest], np.int64)
            mask = np.array([[1] * L + [1 if k < len(conts[i]) - 1 else 0 for k in range(n)] for i in rest], np.int64)
            pos = np.array([[L + k for k in range(n)] for _ in rest], np.int64)
            lg, _ = run(ids2, mask, pos, 0, {p: np.repeat(c, len(rest), 0) for p, c in cache.items()})
            for r, i in enumerate(rest):
                ll[i] += sum(logsm(lg[r, k - 1])[t] for k, t in enumerate(conts[i]) if k >= 1)
        lls.append(ll)
    return lls


def batch(exs):
    lls = []
    for at in range(0, len(exs), G):
        grp = exs[at:at + G]
        W = max(len(ids) for ids, _ in grp)
        ids = np.array([[0] * (W - len(x)) + x for x, _ in grp], np.int64)
        mask = np.array([[0] * (W - len(x)) + [1] * len(x) for x, _ in grp], np.int64)
        pos = np.array([[max(0, k - (W - len(x))) for k in range(W)] for x, _ in grp], np.int64)
        lg, cache = run(ids, mask, pos, W - 1, None)
        ll = [[logsm(lg[b, -1])[c[0]] for c in conts] for b, (_, conts) in enumerate(grp)]
        rest = [(b, i) for b, (_, conts) in enumerate(grp) for i, c in enumerate(conts) if len(c) > 1]
        if rest:
            n = max(len(grp[b][1][i]) - 1 for b, i in rest)
            ids2 = np.array([grp[b][1][i][:-1] + [0] * (n - len(grp[b][1][i]) + 1) for b, i in rest], np.int64)
            mask2 = np.array([list(mask[b]) + [1 if k < len(grp[b][1][i]) - 1 else 0 for k in range(n)] for b, i in rest], np.int64)
            pos2 = np.array([[len(grp[b][0]) + k for k in range(n)] for b, i in rest], np.int64)
            rows = [b for b, _ in rest]
            lg, _ = run(ids2, mask2, pos2, 0, {p: c[rows] for p, c in cache.items()})
            for r, (b, i) in enumerate(rest):
                ll[b][i] += sum(logsm(lg[r, k - 1])[t] for k, t in enumerate(grp[b][1][i]) if k >= 1)
        lls.extend(ll)
    return lls


print(f"{EXAMPLES} examples per task, groups of {G}, median of {REPS}, 1 thread")
print("| task | context tokens (mean) | continuation tokens (mean) | one at a time (s) | batched (s) | speed-up | max abs diff of ll | same picks |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for task in TASKS:
    exs = examples(task)
    one(exs[:2]), batch(exs[:G])
    ta, tb = [], []
    for _ in range(REPS):
        t0 = time.perf_counter(); a = one(exs); ta.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); b = batch(exs); tb.append(time.perf_counter() - t0)
    diff = max(abs(x - y) for p, q in zip(a, b) for x, y in zip(p, q))
    same = all(int(np.argmax(p)) == int(np.argmax(q)) for p, q in zip(a, b))
    ma, mb = sorted(ta)[REPS // 2], sorted(tb)[REPS // 2]
    ctx = np.mean([len(i) for i, _ in exs]); cont = np.mean([len(c) for _, cs in exs for c in cs])
    print(f"| {task} | {ctx:.1f} | {cont:.2f} | {ma:.2f} | {mb:.2f} | {ma / mb:.2f}x | {diff:.2e} | {same} |", flush=True)

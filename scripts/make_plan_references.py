#!/usr/bin/env python3
"""PyTorch references for layer plans: writes tests/fixtures/<name>/plans.json.

For every fixture with PyTorch weights (its own `hf/` or, for `llama-anon` and
`llama-optimum-extdata`, those of `hf_source`), this script applies a set of layer
plans to the Hugging Face model and records the outputs, so that the Rust side can
emit the same plan as an ONNX graph and compare onnxruntime's outputs with these.

The plan language is parsed by a small independent parser (no Rust involved),
`parse_plan` in scripts/painters_ref.py (the helpers shared by the reference scripts):

    plan  := stage ("," stage)*
    stage := atom ("*" INT)?            repeat the atom INT times in sequence
    atom  := INT | INT "-" INT          a block, or an inclusive range (5-2 = 5,4,3,2)
           | "[" plan "]"               parallel: same input to every branch, output = mean
           | "(" plan ")"               grouping (a sequence)

Inside `[...]` each top-level item is a branch; a bare range there expands to
single-block branches (`[1-3]` = branches 1, 2, 3); `(1-2)` is one branch running 1
then 2; `x*K` is one branch running x K times.

How a plan runs in PyTorch: the model's list of layers (`model.model.layers`,
`model.encoder.layer`, `model.transformer.layer`) is replaced by an `nn.ModuleList`
holding ONE `PlanRunner` module. The HF model calls it exactly like a layer (same
positional and keyword arguments: mask, rotary `position_embeddings`, cache, ...), and
the runner calls the original layer modules with those same arguments, in plan order.
With a KV cache every block execution (instance) gets its own cache slot, numbered in
execution order: the instance runs a shallow copy of its layer whose `self_attn` is a
shallow copy with `layer_idx = slot` (parameters shared), and HF's `DynamicCache`
grows its slots lazily.

Run:  .venv-fixtures/bin/python scripts/make_plan_references.py [--exact | --decimals N] [FIXTURE ...]
"""
import copy
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from painters_ref import (  # noqa: E402  (scripts/painters_ref.py)
    blocks_used, flat_sequence, instances, parse_plan, run_str, self_test, seq_piece,
    tensor_json, tensors_from_json, tensors_json)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
# Fixtures with no fp32 PyTorch equivalent of their ONNX graph (quantized, or no `hf/`
# and no `hf_source`); their plan references, where any, come from elsewhere
# (llama-genai-int4: int4_plans.json and pruned/, by scripts/make_deploy_fixtures.py).
SKIP = {
    "llama-quant": "ONNX weights are int8-quantized; no PyTorch reference",
    "llama-genai-int4": "int4 (MatMulNBits) quantized; no fp32 PyTorch equivalent "
                        "(plan references: int4_plans.json, pruned/)",
    "llama-optimum-q4": "int4 (MatMulNBits) quantized, no hf/; no fp32 PyTorch equivalent",
    "llama-optimum-fp16": "fp16 weights, no hf/; no fp32 PyTorch equivalent",
}
IDENTITY_TOL = 1e-5      # identity plan vs reference.json (PyTorch)
ORT_TOL = 1e-4           # identity plan vs onnxruntime (with-past protocol)
DIFF_MIN = 1e-3          # dup_all must differ from identity by more than this
PREFIX_LEN, CONT_LEN = 3, 4


# ---------------------------------------------------------------------------
# Plans per fixture
# ---------------------------------------------------------------------------
def hand_plans(T):
    c = T // 2
    last = T - 1
    rest = run_str(1, last)
    return [
        ("identity", f"0-{last}"),
        ("reverse_all", f"{last}-0"),
        ("skip_first", rest),
        ("dup_first_end", f"0-{last},0"),
        ("parallel_all", f"[0-{last}]"),
        ("looped_parallel", f"0,[{rest}]*2"),
        ("multi_branch", f"[(0-1),(1-0)],{rest}"),
        ("nested_repeat", f"(0,[0,1]*2)*2,{last}"),
        ("repeat_centre", f"0,{c}*3,{last}"),
        ("dup_all", f"0-{last},0-{last}"),
    ]


def preset_plans(T, N=None):
    """The paper's presets in canonical form; each (name, params, plan)."""
    if N is None:
        N = 0 if T <= 3 else 1
    c = T // 2
    M = T - 2 * N - 1
    out = []
    if M >= 1:
        prefix = seq_piece(list(range(0, N + 1)))
        suffix = seq_piece(list(range(T - N, T)))
        middle = list(range(N + 1, T - N))
        mid = run_str(middle[0], middle[-1])

        def join(*parts):
            return ",".join(p for p in parts if p)

        out += [
            ("skip", {"n": N}, join(prefix, suffix)),
            ("middle-repeat", {"n": N}, join(prefix, f"{c}*{M}" if M > 1 else str(c), suffix)),
            ("reverse", {"n": N}, join(prefix, run_str(middle[-1], middle[0]), suffix)),
            ("parallel", {"n": N}, join(prefix, f"[{mid}]", suffix)),
            ("looped-parallel", {"n": N, "loops": 3}, join(prefix, f"[{mid}]*3", suffix)),
        ]
    i = c
    out.append(("skip-one", {"index": i},
                ",".join(p for p in (seq_piece(list(range(0, i))), seq_piece(list(range(i + 1, T)))) if p)))
    i = c - 1
    if 0 <= i and i + 1 < T:
        out.append(("swap", {"index": i},
                    ",".join(p for p in (seq_piece(list(range(0, i))), str(i + 1), str(i),
                                         seq_piece(list(range(i + 2, T)))) if p)))
    return N, out


def _self_test_presets():
    # the examples for T = 32, N = 11
    got = {name: plan for name, _, plan in preset_plans(32, 11)[1]}
    want = {"skip": "0-11,21-31", "middle-repeat": "0-11,16*9,21-31",
            "reverse": "0-11,20-12,21-31", "parallel": "0-11,[12-20],21-31",
            "looped-parallel": "0-11,[12-20]*3,21-31", "swap": "0-14,16,15,17-31",
            "skip-one": "0-15,17-31"}
    assert got == want, got
    for name, plan in want.items():
        parse_plan(plan)
    assert flat_sequence(parse_plan(want["swap"])) == list(range(15)) + [16, 15] + list(range(17, 32))


def all_plans(T):
    assert T >= 2
    N, presets = preset_plans(T)
    plans = [dict(name=n, kind="hand", params={}, plan=p) for n, p in hand_plans(T)]
    plans += [dict(name=n, kind="preset", params=prm, plan=p) for n, prm, p in presets]
    for p in plans:
        ast = parse_plan(p["plan"])
        used = blocks_used(ast)
        assert max(used) < T and min(used) >= 0, (p, T)
        p["ast"] = ast
        p["instances"] = instances(ast)
    return N, plans


# ---------------------------------------------------------------------------
# Running a plan inside the HF model
# ---------------------------------------------------------------------------
def _first(out):
    return out if torch.is_tensor(out) else out[0]


def _slot_copy(layer, slot):
    """Shallow copy of a decoder layer whose self_attn uses cache slot `slot`.
    Parameters and all other submodules are shared with the original."""
    lc = copy.copy(layer)
    lc.__dict__["_modules"] = dict(layer._modules)       # do not touch the original's dict
    attn = copy.copy(layer._modules["self_attn"])
    attn.layer_idx = slot
    lc._modules["self_attn"] = attn
    if hasattr(lc, "layer_idx"):
        lc.layer_idx = slot
    return lc


class PlanRunner(nn.Module):
    """Stands in for the whole layer list: called by the HF model like one layer."""

    def __init__(self, layers, ast, per_slot_cache, record_hidden=False):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        first = layers[0]
        if hasattr(first, "attention_type"):          # Qwen2 picks the mask by this
            self.attention_type = first.attention_type
        self.ast = ast
        self.per_slot_cache = per_slot_cache
        self.record_hidden = record_hidden
        self.hidden = []
        self.slot_log = []
        self._tuple_out = None

    def _run(self, node, h, args, kwargs):
        kind = node[0]
        if kind == "block":
            layer = self.layers[node[1]]
            if self.per_slot_cache:
                slot = len(self.slot_log)
                layer = _slot_copy(layer, slot)
            self.slot_log.append(node[1])
            out = layer(h, *args, **kwargs)
            self._tuple_out = not torch.is_tensor(out)
            h = _first(out)
            if self.record_hidden:
                self.hidden.append(h.detach().clone())
            return h
        if kind == "seq":
            for n in node[1]:
                h = self._run(n, h, args, kwargs)
            return h
        if kind == "rep":
            for _ in range(node[2]):
                h = self._run(node[1], h, args, kwargs)
            return h
        outs = [self._run(n, h, args, kwargs) for n in node[1]]
        return torch.stack(outs, 0).mean(0)

    def forward(self, hidden_states, *args, **kwargs):
        self.slot_log = []
        self.hidden = [hidden_states.detach().clone()] if self.record_hidden else []
        h = self._run(self.ast, hidden_states, args, kwargs)
        return (h,) if self._tuple_out else h


def layer_list_owner(model, family, model_type):
    if model_type == "distilbert":
        return model.transformer, "layer"
    if family == "encoder":
        return model.encoder, "layer"
    return model.model, "layers"


class Fixture:
    def __init__(self, name):
        self.name = name
        self.dir = FIXTURES / name
        self.expected = json.loads((self.dir / "expected.json").read_text())
        self.reference = json.loads((self.dir / "reference.json").read_text())
        self.T = self.expected["num_blocks"]
        self.family = self.expected["family"]
        self.model_type = self.expected["model_type"]
        self.with_past = self.expected["with_past"]
        src = self.expected.get("hf_source") or name
        self.hf_dir = FIXTURES / src / "hf"
        import onnx
        m = onnx.load(str(self.dir / "model.onnx"), load_external_data=False)
        inits = {t.name for t in m.graph.initializer}
        self.onnx_inputs = [v.name for v in m.graph.input if v.name not in inits]
        self.onnx_outputs = [v.name for v in m.graph.output]
        self.out_names = [o for o in self.onnx_outputs if not o.startswith("present.")]
        self.model = self.load_model()
        owner, attr = layer_list_owner(self.model, self.family, self.model_type)
        self.owner, self.attr = owner, attr
        self.orig_layers = list(getattr(owner, attr))
        assert len(self.orig_layers) == self.T, (name, len(self.orig_layers), self.T)

    def load_model(self):
        import transformers as T
        cls = T.AutoModelForCausalLM if self.family == "decoder" else T.AutoModel
        model = cls.from_pretrained(str(self.hf_dir), attn_implementation="eager",
                                    dtype=torch.float32)
        return model.eval()

    def install(self, runner_or_layers):
        setattr(self.owner, self.attr, nn.ModuleList(runner_or_layers))

    def restore(self):
        self.install(self.orig_layers)

    # -- forward passes ----------------------------------------------------
    def forward(self, feeds, cache=None):
        kwargs = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in feeds.items()
                  if k in ("input_ids", "attention_mask", "position_ids", "token_type_ids")}
        if self.family == "decoder":
            if cache is not None:
                kwargs["past_key_values"] = cache
                kwargs["use_cache"] = True
            else:
                kwargs["use_cache"] = False
        with torch.no_grad():
            out = self.model(**kwargs)
        return {n: getattr(out, n).detach().numpy().astype(np.float32).copy()
                for n in self.out_names}

    def ref_feeds(self):
        # every input of reference.json that the PyTorch model takes (position_ids is
        # passed only where the ONNX graph has it; otherwise HF's default 0..6 is used,
        # which is what the reference did as well)
        return tensors_from_json(self.reference["inputs"])

    def past_feeds(self):
        ids = self.reference["inputs"]["input_ids"]["data"]
        seq = self.reference["inputs"]["input_ids"]["shape"][1]
        row0 = [int(x) for x in ids[:seq]]
        prefix_ids = [1] + row0[:PREFIX_LEN - 1]
        cont_ids = row0[PREFIX_LEN - 1:PREFIX_LEN - 1 + CONT_LEN]
        assert len(cont_ids) == CONT_LEN and all(0 <= x < 256 for x in prefix_ids + cont_ids)
        total = PREFIX_LEN + CONT_LEN
        prefix = {"input_ids": np.array([prefix_ids], dtype=np.int64),
                  "attention_mask": np.ones((1, PREFIX_LEN), dtype=np.int64),
                  "position_ids": np.arange(PREFIX_LEN, dtype=np.int64)[None]}
        cont = {"input_ids": np.array([cont_ids], dtype=np.int64),
                "attention_mask": np.ones((1, total), dtype=np.int64),
                "position_ids": np.arange(PREFIX_LEN, total, dtype=np.int64)[None]}
        return prefix, cont

    def run_plan(self, ast, record_hidden=False):
        """Returns dict(outputs=..., [prefix_outputs=..., inputs=...], hidden=[...])."""
        from transformers import DynamicCache

        runner = PlanRunner(self.orig_layers, ast, per_slot_cache=self.with_past,
                            record_hidden=record_hidden)
        self.install([runner])
        try:
            if not self.with_past:
                feeds = {k: v for k, v in self.ref_feeds().items() if k in self.onnx_inputs}
                outs = self.forward(feeds)
                res = {"outputs": outs}
            else:
                prefix, cont = self.past_feeds()
                cache = DynamicCache()
                pre = self.forward(prefix, cache)
                pre_hidden = list(runner.hidden)
                n_slots = len(runner.slot_log)
                assert len(cache.layers) == n_slots, (len(cache.layers), n_slots)
                outs = self.forward(cont, cache)
                assert len(cache.layers) == n_slots
                for s, layer in enumerate(cache.layers):
                    k, v = layer.keys, layer.values
                    assert k.shape[0] == 1 and k.shape[2] == PREFIX_LEN + CONT_LEN, k.shape
                    outs[f"present.{s}.key"] = k.detach().numpy().astype(np.float32).copy()
                    outs[f"present.{s}.value"] = v.detach().numpy().astype(np.float32).copy()
                res = {"inputs": {"prefix": prefix, "continuation": cont},
                       "prefix_outputs": pre, "outputs": outs,
                       "prefix_hidden": pre_hidden}
            res["hidden"] = list(runner.hidden)
            res["slots"] = len(runner.slot_log)
            return res
        finally:
            self.restore()

    def run_plan_full_sequence(self, ast, prefix, cont):
        """Independent of the cache: the plan on all 7 tokens at once, no cache."""
        runner = PlanRunner(self.orig_layers, ast, per_slot_cache=False)
        self.install([runner])
        try:
            feeds = {"input_ids": np.concatenate([prefix["input_ids"], cont["input_ids"]], 1),
                     "attention_mask": cont["attention_mask"],
                     "position_ids": np.concatenate([prefix["position_ids"], cont["position_ids"]], 1)}
            return self.forward(feeds)
        finally:
            self.restore()

    def run_plain_sequence(self, order):
        """Independent path: the HF model with its layer list replaced by the plain
        original layer modules in `order` (no runner). No-past fixtures only."""
        cfg = self.model.config
        saved = cfg.num_hidden_layers
        self.install([self.orig_layers[i] for i in order])
        cfg.num_hidden_layers = len(order)
        try:
            feeds = {k: v for k, v in self.ref_feeds().items() if k in self.onnx_inputs}
            return self.forward(feeds)
        finally:
            cfg.num_hidden_layers = saved
            self.restore()


# ---------------------------------------------------------------------------
# onnxruntime check of the with-past protocol (identity plan)
# ---------------------------------------------------------------------------
def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_past_protocol(fx, prefix, cont):
    sess = ort_session(fx.dir / "model.onnx")
    cfg = fx.model.config
    kv = cfg.num_key_value_heads
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    names = [o.name for o in sess.get_outputs()]
    feeds = dict(prefix)
    for i in range(fx.T):
        for kvn in ("key", "value"):
            feeds[f"past_key_values.{i}.{kvn}"] = np.zeros((1, kv, 0, hd), dtype=np.float32)
    feeds = {k: v for k, v in feeds.items() if k in fx.onnx_inputs}
    pre = dict(zip(names, sess.run(names, feeds)))
    feeds = dict(cont)
    for i in range(fx.T):
        for kvn in ("key", "value"):
            feeds[f"past_key_values.{i}.{kvn}"] = pre[f"present.{i}.{kvn}"]
    feeds = {k: v for k, v in feeds.items() if k in fx.onnx_inputs}
    step2 = dict(zip(names, sess.run(names, feeds)))
    return pre, step2


# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------
# Float data is rounded to DECIMALS decimals (max error 5e-6, 20x below the 1e-4 the
# Rust tests use) to keep the files small: exact float32 gives ~6.3 MiB in all, 5
# decimals ~4.8 MiB. `--exact` writes the shortest exact float32 decimals instead
# (as reference.json does); `--decimals N` picks another rounding.
# (painters_ref.tensor_json with decimals=DECIMALS.)
DECIMALS = 5


def max_diff(a, b):
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


# ---------------------------------------------------------------------------
def build(name):
    fx = Fixture(name)
    T = fx.T
    N, plans = all_plans(T)
    print(f"[plans] {name}: T={T} N={N} with_past={fx.with_past} outputs={fx.out_names}", flush=True)
    results = {}
    entries = []
    hidden = None
    for p in plans:
        r = fx.run_plan(p["ast"], record_hidden=(p["name"] == "identity"))
        assert r["slots"] == p["instances"], (p, r["slots"])
        results[p["name"]] = r
        e = {"name": p["name"], "kind": p["kind"], "params": p["params"], "plan": p["plan"],
             "instances": p["instances"]}
        if fx.with_past:
            e["inputs"] = {part: tensors_json(v, DECIMALS) for part, v in r["inputs"].items()}
        e["outputs"] = tensors_json(r["outputs"], DECIMALS)
        if fx.with_past:
            e["prefix_outputs"] = tensors_json(r["prefix_outputs"], DECIMALS)
        entries.append(e)
        if p["name"] == "identity":
            hidden = r["hidden"]
            prefix_hidden = r.get("prefix_hidden")

    # -- checks ---------------------------------------------------------------
    ident = results["identity"]
    assert len(hidden) == T + 1, len(hidden)
    if not fx.with_past:
        ref = tensors_from_json(fx.reference["outputs"], np.float32)
        assert sorted(ref) == sorted(ident["outputs"]), (list(ref), list(ident["outputs"]))
        d = max_diff(ref, ident["outputs"])
        print(f"[plans] {name}: identity vs reference.json max abs diff {d:.3e}")
        if not d <= IDENTITY_TOL:
            raise AssertionError(f"{name}: identity plan differs from reference.json by {d:.3e}")
        # the runner against plain reordered layer lists (independent of PlanRunner)
        worst = 0.0
        for p in plans:
            order = flat_sequence(p["ast"])
            if order is None:
                continue
            plain = fx.run_plain_sequence(order)
            dd = max_diff(plain, results[p["name"]]["outputs"])
            worst = max(worst, dd)
            if not dd <= IDENTITY_TOL:
                raise AssertionError(f"{name}: plan {p['plan']} differs from the plain layer list by {dd:.3e}")
        print(f"[plans] {name}: sequential plans vs plain layer lists max abs diff {worst:.3e}")
    else:
        # every plan: prefix + cached continuation == the whole sequence without a cache
        worst = 0.0
        for p in plans:
            r = results[p["name"]]
            full = fx.run_plan_full_sequence(p["ast"], *r["inputs"].values())
            for k in fx.out_names:
                worst = max(worst, float(np.max(np.abs(full[k][:, :PREFIX_LEN] - r["prefix_outputs"][k]))),
                            float(np.max(np.abs(full[k][:, PREFIX_LEN:] - r["outputs"][k]))))
        print(f"[plans] {name}: all plans, cached two-step vs full sequence without cache max abs diff {worst:.3e}")
        if not worst <= IDENTITY_TOL:
            raise AssertionError(f"{name}: the per-instance cache slots are inconsistent ({worst:.3e})")
        pre, step2 = ort_past_protocol(fx, *ident["inputs"].values())
        d1 = max_diff(ident["prefix_outputs"], {k: pre[k] for k in ident["prefix_outputs"]})
        d2 = max_diff(ident["outputs"], {k: step2[k] for k in ident["outputs"]})
        print(f"[plans] {name}: identity vs onnxruntime max abs diff prefix {d1:.3e}, continuation {d2:.3e}"
              f" ({len(ident['outputs'])} outputs incl. presents)")
        if not (d1 <= ORT_TOL and d2 <= ORT_TOL):
            raise AssertionError(f"{name}: identity plan differs from onnxruntime ({d1:.3e}, {d2:.3e})")
    d = max_diff({k: results["identity"]["outputs"][k] for k in fx.out_names},
                 {k: results["dup_all"]["outputs"][k] for k in fx.out_names})
    print(f"[plans] {name}: dup_all vs identity max abs diff {d:.3e}")
    if not d > DIFF_MIN:
        raise AssertionError(f"{name}: dup_all does not change the outputs ({d:.3e})")
    # the last hidden state is the raw block output: for encoders it IS last_hidden_state
    if fx.family == "encoder":
        assert np.array_equal(hidden[-1].numpy(), ident["outputs"]["last_hidden_state"])
    else:
        with torch.no_grad():
            logits = fx.model.lm_head(fx.model.model.norm(hidden[-1])).numpy()
        d = float(np.max(np.abs(logits - ident["outputs"]["logits"])))
        assert d <= IDENTITY_TOL, (name, "lm_head(norm(hidden_states[-1])) != logits", d)

    doc = {"num_blocks": T, "n": N, "float_decimals": DECIMALS, "plans": entries,
           "hidden_states": [tensor_json(h.numpy().astype(np.float32), DECIMALS) for h in hidden]}
    if fx.with_past:
        doc["hidden_states_step"] = "continuation"
        doc["prefix_hidden_states"] = [tensor_json(h.numpy().astype(np.float32), DECIMALS)
                                       for h in prefix_hidden]
    out = fx.dir / "plans.json"
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    size = out.stat().st_size
    print(f"[plans] {name}: wrote {out.relative_to(ROOT)} ({len(entries)} plans, {size / 1024:.0f} KiB)",
          flush=True)
    return len(entries), size


def main(argv):
    global DECIMALS
    if argv[:1] == ["--exact"]:
        DECIMALS = None
        argv = argv[1:]
    elif argv[:1] == ["--decimals"]:
        DECIMALS = int(argv[1])
        argv = argv[2:]
    import transformers
    transformers.logging.set_verbosity_error()   # BERT's unused pooler "newly initialized"
    self_test()             # painters_ref: the parser, SplitMix64, windows, tensors
    _self_test_presets()
    torch.manual_seed(0)
    names = argv or sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").exists())
    total = 0
    summary = []
    for name in names:
        if name in SKIP:
            print(f"[plans] {name}: skipped ({SKIP[name]})")
            continue
        n, size = build(name)
        src = json.loads((FIXTURES / name / "expected.json").read_text()).get("hf_source")
        if src:
            # Same weights and inputs as its source: the tests read the source's
            # plans.json; keep the checks, drop the duplicate file.
            (FIXTURES / name / "plans.json").unlink()
            print(f"[plans] {name}: checked; uses {src}/plans.json (same weights and inputs)")
            size = 0
        total += size
        summary.append((name, n, size))
    print("[plans] summary:")
    for name, n, size in summary:
        print(f"  {name:24s} {n:3d} plans {size / 1024:8.0f} KiB")
    print(f"[plans] total size of plans.json files: {total / 1024 / 1024:.2f} MiB ({total} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""PyTorch references for `painters prune`: writes tests/data/prune/<name>.json.

An independent implementation of two layer-pruning metrics on the Hugging Face model
of each fixture (fp32 weights, its own `hf/` or those of `hf_source`):

- BI, the Block Influence of ShortGPT: BI_i = 1 - mean_t cos(h_i[t], h_{i+1}[t]),
  pooled over all tokens of all windows;
- the angular distance of Gromov et al. (2024): d(l, n) = mean over windows of
  arccos(clamp(cos(h_l[last], h_{l+n}[last]), -1, 1)) / pi.

h_0 is what layer 0 receives (forward pre-hook) and h_{i+1} is the raw output of
layer i (forward hook, first element of a tuple), so the model's final norm is NOT
applied to h_T. The protocol is in tests/data/prune/README.md (the spec the
Rust side implements as well).

Self-checks (the script exits non-zero if one fails):
- the hooked h_0..h_{T-1} equal HF's `output_hidden_states` (h_T as well for encoders);
- for decoders, h_T equals the last hidden state of the same model with its final
  norm replaced by `nn.Identity`;
- BI in [0, 2], angular distances in [0, 1].

Run:  .venv-fixtures/bin/python scripts/make_prune_references.py [NAMES]

--smollm2 mode: the same protocol on the real SmolLM2-135M (models/hf/smollm2-135m,
made by scripts/fetch-models.sh), tokenized with models/smollm2-135m/tokenizer.json
(the ONNX export's, which painters uses; checked byte-identical to the HF folder's),
window 128 and max_tokens 512; writes models/reference/prune-smollm2.json.

Run:  .venv-models/bin/python scripts/make_prune_references.py --smollm2
"""
import importlib.metadata
import json
import math
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from painters_ref import calibration_windows  # noqa: E402  (scripts/painters_ref.py)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
OUT_DIR = ROOT / "tests" / "data" / "prune"
TEXT = "tests/data/text.txt"
WINDOW = 32
MAX_TOKENS = 256
CHECK_TOL = 1e-5

# --smollm2: the real model (git-ignored folders made by scripts/fetch-models.sh).
SMOLLM2_NAME = "smollm2-135m"
SMOLLM2_HF = "models/hf/smollm2-135m"
SMOLLM2_MODEL_DIR = "models/smollm2-135m"
SMOLLM2_WINDOW = 128
SMOLLM2_MAX_TOKENS = 512
SMOLLM2_OUT = "models/reference/prune-smollm2.json"
SMOLLM2_BLOCKS = 30

# Fixtures with no fp32 PyTorch equivalent of their ONNX graph.
SKIP = {
    "llama-quant": "ONNX weights are int8-quantized",
    "llama-genai-int4": "int4 (MatMulNBits) quantized",
    "llama-optimum-q4": "int4 (MatMulNBits) quantized, no hf/",
    "llama-optimum-fp16": "fp16 weights, no hf/",
}


def versions():
    v = {"python": platform.python_version()}
    for pkg in ("torch", "transformers", "tokenizers", "numpy"):
        v[pkg] = importlib.metadata.version(pkg)
    return v


def token_windows(tokenizer_json, window=WINDOW, max_tokens=MAX_TOKENS):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tokenizer_json))
    tok.no_padding()
    tok.no_truncation()
    text = (ROOT / TEXT).read_text(encoding="utf-8")
    ids = tok.encode(text, add_special_tokens=True).ids[:max_tokens]
    windows = calibration_windows(ids, window)
    return sum(len(w) for w in windows), windows


def layer_list(model, family, model_type):
    if model_type == "distilbert":
        return model.transformer.layer
    if family == "encoder":
        return model.encoder.layer
    return model.model.layers


def load_model(hf_dir, family):
    import transformers as T
    cls = T.AutoModelForCausalLM if family == "decoder" else T.AutoModel
    model = cls.from_pretrained(str(hf_dir), attn_implementation="eager", dtype=torch.float32)
    return model.eval()


def model_kwargs(model, family, ids):
    n = len(ids)
    kw = {"input_ids": torch.tensor([ids], dtype=torch.long),
          "attention_mask": torch.ones((1, n), dtype=torch.long)}
    if family == "decoder":
        kw["position_ids"] = torch.arange(n, dtype=torch.long)[None]
        kw["use_cache"] = False
    elif getattr(model.config, "type_vocab_size", 0):
        kw["token_type_ids"] = torch.zeros((1, n), dtype=torch.long)
    return kw


def _first(x):
    return x if torch.is_tensor(x) else x[0]


def capture(model, layers, kwargs, **extra):
    """Runs the model once; returns ([h_0 .. h_T] as float32 [seq, hidden], output)."""
    hs = {}

    def pre_hook(_mod, args, kw):
        if args:
            h = args[0]
        else:
            h = next(kw[k] for k in ("hidden_states", "x") if k in kw)
        hs[0] = h.detach().clone()

    def make_hook(i):
        def hook(_mod, _args, out):
            hs[i + 1] = _first(out).detach().clone()
        return hook

    handles = [layers[0].register_forward_pre_hook(pre_hook, with_kwargs=True)]
    handles += [layer.register_forward_hook(make_hook(i)) for i, layer in enumerate(layers)]
    try:
        with torch.no_grad():
            out = model(**kwargs, **extra)
    finally:
        for h in handles:
            h.remove()
    T = len(layers)
    assert sorted(hs) == list(range(T + 1)), sorted(hs)
    states = []
    for i in range(T + 1):
        h = hs[i]
        assert h.dtype == torch.float32 and h.shape[0] == 1, (h.dtype, h.shape)
        states.append(h[0])
    return states, out


def cos_rows(a, b):
    """Row-wise cosine in float64 (a, b: [n, hidden] float64); no epsilon."""
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def check_against_hf(name, model, family, layers, kwargs, states):
    """Hooked states vs output_hidden_states; decoders: h_T vs final norm = Identity."""
    T = len(layers)
    _, out = capture(model, layers, kwargs, output_hidden_states=True)
    hf = out.hidden_states
    assert len(hf) == T + 1, (name, len(hf))
    upto = T + 1 if family == "encoder" else T     # decoders: hf[-1] is after the final norm
    worst = max(float((hf[i][0] - states[i]).abs().max()) for i in range(upto))
    if worst > CHECK_TOL:
        raise AssertionError(f"{name}: hooked states differ from HF hidden_states by {worst}")
    msg = f"hooks = hidden_states[0..{upto - 1}] (max |diff| {worst:.1e})"
    if family == "decoder":
        base = model.model
        norm = base.norm
        base.norm = nn.Identity()
        try:
            with torch.no_grad():
                last = base(**kwargs).last_hidden_state[0]
        finally:
            base.norm = norm
        d = float((last - states[T]).abs().max())
        normed = float((hf[T][0] - states[T]).abs().max())
        if d > CHECK_TOL:
            raise AssertionError(f"{name}: h_T differs from the un-normed last state by {d}")
        if normed <= 1e-3:
            raise AssertionError(f"{name}: h_T is indistinguishable from the normed output")
        msg += (f"; h_T = last state with norm->Identity (max |diff| {d:.1e}; "
                f"vs normed output {normed:.2e})")
    return msg


def metrics(name, model, family, layers, windows, n_tokens, check_all=False):
    """BI and angular distances over the windows; returns (bi, angular, check message).

    The HF self-checks run on the first window (on every window with check_all)."""
    T = len(layers)
    cos_sum = [0.0] * T                                    # BI: pooled over all tokens
    ang_sum = {n: [0.0] * (T - n + 1) for n in range(1, T)}  # angular: per window
    check_msg = None
    for w_idx, ids in enumerate(windows):
        kwargs = model_kwargs(model, family, ids)
        states, _ = capture(model, layers, kwargs)
        if w_idx == 0 or check_all:
            msg = check_against_hf(name, model, family, layers, kwargs, states)
            check_msg = msg if w_idx == 0 else check_msg
        h = [s.to(torch.float64) for s in states]
        for i in range(T):
            cos_sum[i] += float(cos_rows(h[i], h[i + 1]).sum())
        last = torch.stack([x[-1] for x in h])             # [T+1, hidden]
        for n in range(1, T):
            for l in range(T - n + 1):
                c = float(cos_rows(last[l:l + 1], last[l + n:l + n + 1])[0])
                c = min(1.0, max(-1.0, c))
                ang_sum[n][l] += math.acos(c) / math.pi
    bi = [1.0 - s / n_tokens for s in cos_sum]
    angular = {str(n): [s / len(windows) for s in v] for n, v in ang_sum.items()}

    bad = [x for x in bi if not (0.0 <= x <= 2.0)]
    bad += [x for v in angular.values() for x in v if not (0.0 <= x <= 1.0)]
    if bad or any(math.isnan(x) for x in bi):
        raise AssertionError(f"{name}: values out of range: {bad}")
    return bi, angular, check_msg


def build(name):
    fdir = FIXTURES / name
    expected = json.loads((fdir / "expected.json").read_text())
    family, model_type = expected["family"], expected["model_type"]
    src = expected.get("hf_source") or name
    hf_dir = FIXTURES / src / "hf"
    if not (hf_dir / "model.safetensors").exists():
        raise FileNotFoundError(f"{name}: no {hf_dir.relative_to(ROOT)}/model.safetensors")
    model = load_model(hf_dir, family)
    layers = layer_list(model, family, model_type)
    T = len(layers)
    assert T == expected["num_blocks"], (name, T, expected["num_blocks"])

    n_tokens, windows = token_windows(fdir / "tokenizer.json")
    bi, angular, check_msg = metrics(name, model, family, layers, windows, n_tokens)
    doc = {"fixture": name, "hf_source": src, "text": TEXT, "window": WINDOW,
           "max_tokens": MAX_TOKENS, "tokens": n_tokens, "windows": len(windows),
           "num_blocks": T, "bi": bi, "angular": angular, "versions": versions()}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"{name}.json"
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"[prune] {name}: wrote {out.relative_to(ROOT)} (T={T}, tokens={n_tokens}, "
          f"windows={len(windows)}; BI {min(bi):.4f}..{max(bi):.4f}); check: {check_msg}",
          flush=True)


def build_smollm2():
    """The real SmolLM2-135M: same protocol, window 128, max_tokens 512."""
    import time
    t0 = time.perf_counter()
    hf_dir = ROOT / SMOLLM2_HF
    tok_json = ROOT / SMOLLM2_MODEL_DIR / "tokenizer.json"
    for f in (hf_dir / "model.safetensors", tok_json, hf_dir / "tokenizer.json"):
        if not f.exists():
            raise FileNotFoundError(f"no {f.relative_to(ROOT)} (run scripts/fetch-models.sh)")
    if tok_json.read_bytes() != (hf_dir / "tokenizer.json").read_bytes():
        raise AssertionError(f"{tok_json.relative_to(ROOT)} differs from {SMOLLM2_HF}/tokenizer.json")
    model = load_model(hf_dir, "decoder")
    layers = layer_list(model, "decoder", "llama")
    T = len(layers)
    assert T == SMOLLM2_BLOCKS, T
    n_tokens, windows = token_windows(tok_json, SMOLLM2_WINDOW, SMOLLM2_MAX_TOKENS)
    assert n_tokens == SMOLLM2_MAX_TOKENS, n_tokens   # the text is long enough
    bi, angular, check_msg = metrics(SMOLLM2_NAME, model, "decoder", layers, windows, n_tokens,
                                     check_all=True)
    doc = {"fixture": SMOLLM2_NAME, "hf_source": SMOLLM2_HF, "model_dir": SMOLLM2_MODEL_DIR,
           "text": TEXT, "window": SMOLLM2_WINDOW, "max_tokens": SMOLLM2_MAX_TOKENS,
           "tokens": n_tokens, "windows": len(windows), "num_blocks": T,
           "bi": bi, "angular": angular, "versions": versions()}
    out = ROOT / SMOLLM2_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"[prune] {SMOLLM2_NAME}: wrote {SMOLLM2_OUT} (T={T}, tokens={n_tokens}, "
          f"windows={len(windows)}; BI {min(bi):.4f}..{max(bi):.4f}); check: {check_msg}; "
          f"{time.perf_counter() - t0:.1f} s", flush=True)


def main(argv):
    import transformers
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    if argv == ["--smollm2"]:
        torch.set_num_threads(2)
        build_smollm2()
        return
    if "--smollm2" in argv:
        raise SystemExit("--smollm2 takes no other arguments")
    torch.set_num_threads(1)
    names = argv or sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").exists())
    for name in names:
        if name in SKIP:
            print(f"[prune] {name}: skipped ({SKIP[name]})")
            continue
        build(name)


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""Build the deployment-format test fixtures under tests/fixtures/ and tests/fixtures/DEPLOY.md.

Run with the system interpreter:

    python3 scripts/make_deploy_fixtures.py                  # every deployment fixture
    python3 scripts/make_deploy_fixtures.py llama-genai-int4  # only these (sources must exist)
    python3 scripts/make_deploy_fixtures.py --readme-only [NAME ...]  # only their README.md

These fixtures are made by the real deployment tools, not by an exporter:

- `llama-genai`       onnxruntime-genai model builder, fp32, CPU (GroupQueryAttention,
                      SkipSimplifiedLayerNormalization, packed QKV)
- `llama-genai-int4`  the same builder with `-p int4` (MatMulNBits), plus `int4_plans.json`
                      and `pruned/<slug>/` (the builder's int4 exports of PyTorch-pruned
                      models, for same-machine comparisons with painters' skip rewrite)
- `bert-ortopt`       onnxruntime.transformers.optimizer on bert-optimum/model.onnx
- `llama-optimum-q4`  MatMulNBitsQuantizer (block 32) on llama-optimum-past/model.onnx
- `llama-optimum-fp16` onnxruntime.transformers.float16 on llama-optimum-past/model.onnx

It reuses the pinned venv of scripts/make_fixtures.py (`.venv-fixtures/`, from
scripts/requirements-fixtures.txt) and installs scripts/requirements-deploy.txt on top of
it, constrained by the fixture pins (torch, transformers, onnxruntime stay as pinned).
Every fixture is checked: onnxruntime on `model.onnx` must reproduce `reference.json`
within 1e-4 (absolute), with ORT graph optimizations on and off; it fails otherwise.
Each fixture folder gets a README.md (`write_fixture_readme`: generator function, tool and
version, rebuild command, key facts from `expected.json`); `--readme-only` rewrites just
those, without building anything.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-fixtures"
REQ_FIXTURES = ROOT / "scripts" / "requirements-fixtures.txt"
REQ_DEPLOY = ROOT / "scripts" / "requirements-deploy.txt"
FIXTURES = ROOT / "tests" / "fixtures"
DOC = FIXTURES / "DEPLOY.md"
TOLERANCE = 1e-4


def bootstrap():
    """Create/refresh the shared venv (same stamp as make_fixtures.py), add the deploy
    pins, and re-exec this script inside it."""
    if os.environ.get("PAINTERS_DEPLOY_IN_VENV") == "1":
        return
    py = VENV / "bin" / "python"
    if not py.exists():
        print(f"[deploy] creating {VENV}", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    (VENV / ".gitignore").write_text("*\n")
    stamp = VENV / ".requirements-installed"  # the stamp make_fixtures.py uses
    wanted = REQ_FIXTURES.read_text()
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"[deploy] pip install -r {REQ_FIXTURES} (slow the first time)", flush=True)
        subprocess.check_call([str(py), "-m", "pip", "install", "-r", str(REQ_FIXTURES)])
        stamp.write_text(wanted)
    stamp2 = VENV / ".requirements-deploy-installed"
    wanted2 = wanted + "\n" + REQ_DEPLOY.read_text()
    if not stamp2.exists() or stamp2.read_text() != wanted2:
        print(f"[deploy] pip install -r {REQ_DEPLOY} -c {REQ_FIXTURES}", flush=True)
        subprocess.check_call([str(py), "-m", "pip", "install", "-r", str(REQ_DEPLOY),
                               "-c", str(REQ_FIXTURES)])
        stamp2.write_text(wanted2)
    env = dict(os.environ, PAINTERS_FIXTURES_IN_VENV="1", PAINTERS_DEPLOY_IN_VENV="1",
               PYTHONHASHSEED="0", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TRANSFORMERS_VERBOSITY="error", TF_CPP_MIN_LOG_LEVEL="3")
    os.execve(str(py), [str(py), str(Path(__file__).resolve()), *sys.argv[1:]], env)


if __name__ == "__main__":
    bootstrap()

# ---------------------------------------------------------------------------
# Everything below runs inside the venv.
# ---------------------------------------------------------------------------
import collections  # noqa: E402
import importlib.metadata  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
import make_fixtures as mf  # noqa: E402
from painters_ref import plan_string, tensor_json, tensors_from_json, tensors_json  # noqa: E402

warnings.filterwarnings("ignore")

# The genai Llama: the model builder fuses rotary embeddings into GroupQueryAttention
# (do_rotary=1) on CPU, and ORT's GQA then requires head_size % 16 == 0. The other
# fixtures have head_dim 8 (hidden 32 / 4 heads), which ORT refuses at run time
# ("head_size shall be a multiple of 16. Got head_size % 16 == 8"), so the genai
# fixtures use their own weights: hidden 32, 2 heads, 1 kv head, head_dim 16.
GENAI_SEED = 121
GENAI_LAYERS = 4
GENAI_HEADS = 2
GENAI_KV_HEADS = 1
GENAI_HEAD_DIM = mf.HIDDEN // GENAI_HEADS  # 16
PAST = mf.PAST  # 3 prefix tokens
SEQ = mf.SEQ  # 7 continuation tokens
PLAN_PREFIX, PLAN_CONT = 3, 4  # as scripts/make_plan_references.py
PLAN_DECIMALS = 5  # as plans.json (painters_ref.tensor_json(..., decimals))
BERT_OPT_LEVEL = 1  # optimize_model's default for model_type "bert"
Q4_BLOCK = 32
# ORT-made references are recorded with graph optimizations OFF, as the Rust tests run
# (tests/common: "ORT optimizations off"); with them on, fp16 differs by ~1e-3.
REF_OPTIMIZE = False
# fixtures whose ORT outputs with optimizations ON may differ from the reference by more
# than TOLERANCE (reported, not fatal): ORT's fp16 graph rewrites change the rounding.
OPT_ON_EXEMPT = {"llama-optimum-fp16"}
# int4 skip plans whose builder export (of the PyTorch model with only the kept layers) is
# committed as llama-genai-int4/pruned/<slug>/: int4 ORT outputs depend on the CPU's int8
# kernels (accuracy_level 4), so tests compare painters' int4 skip rewrite of
# llama-genai-int4/model.onnx with these graphs on the same machine instead of with stored
# numbers.
PRUNED_PLANS = ["0,2-3", "1-3", "0-1,3"]
PRUNED_FILES = ("model.onnx", "model.onnx.data", "genai_config.json")

PINNED = ["onnxruntime-genai", "onnxruntime", "onnx", "onnx-ir", "torch", "transformers",
          "numpy"]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def ort_session(path, optimize=True):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 4  # the GQA probes below fail on purpose
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_run(path, feeds, optimize=True):
    sess = ort_session(path, optimize)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def max_diff(got, want):
    return max(float(np.max(np.abs(got[k].astype(np.float64) - want[k].astype(np.float64))))
               for k in want)


def versions():
    return {p: importlib.metadata.version(p) for p in PINNED}


def tool_env():
    return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONHASHSEED="0",
                OMP_NUM_THREADS="1")


def run_builder(hf_dir, out_dir, precision, work):
    """python -m onnxruntime_genai.models.builder -i HF -o OUT -p PRECISION -e cpu -c CACHE"""
    cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf_dir),
           "-o", str(out_dir), "-p", precision, "-e", "cpu", "-c", str(Path(work) / "cache")]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=str(work), env=tool_env())
    if r.returncode != 0:
        print(r.stdout[-6000:], r.stderr[-6000:], file=sys.stderr)
        raise RuntimeError(f"genai builder failed ({r.returncode}): {' '.join(cmd)}")
    return r


def hf_with_tokenizer(src_hf, tok_dir, dest):
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for p in Path(src_hf).iterdir():
        shutil.copyfile(p, dest / p.name)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(Path(tok_dir) / name, dest / name)
    return dest


def expected(name, family, model_type, exporter, num_blocks, with_past, external, quantized,
             reference_source, hf_source=None):
    e = {
        "name": name,
        "family": family,
        "model_type": model_type,
        "exporter": exporter,
        "num_blocks": num_blocks,
        "with_past": with_past,
        "external_data": external,
        "anonymous": False,
        "quantized": quantized,
        "hidden_size": mf.HIDDEN,
        "vocab_size": mf.VOCAB,
        "reference_source": reference_source,
    }
    if hf_source:
        e["hf_source"] = hf_source
    return e


def fresh(name):
    out = FIXTURES / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    return out


# ---------------------------------------------------------------------------
# genai Llama (PyTorch side)
# ---------------------------------------------------------------------------
def genai_llama_model():
    """Llama, 4 layers, hidden 32, 2 heads / 1 kv head (head_dim 16), tied embeddings;
    random weights perturbed exactly as make_fixtures.build_model does."""
    import torch

    torch.manual_seed(GENAI_SEED)
    config, cls = mf.decoder_config("llama", GENAI_LAYERS)
    config.num_attention_heads = GENAI_HEADS
    config.num_key_value_heads = GENAI_KV_HEADS
    config.head_dim = GENAI_HEAD_DIM
    config._attn_implementation = "eager"
    model = cls(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                if name.endswith("bias"):
                    p.add_(0.05 * torch.randn_like(p))
                elif not p.any():
                    p.add_(0.2 * torch.randn_like(p))
                else:
                    p.mul_(1.0 + 0.2 * torch.randn_like(p))
    return model


def load_hf_llama(hf_dir):
    import torch
    from transformers import LlamaForCausalLM

    return LlamaForCausalLM.from_pretrained(str(hf_dir), attn_implementation="eager",
                                            dtype=torch.float32).eval()


def torch_step(model, ids, mask, past=None):
    """One PyTorch forward with a cache: returns logits and present.{i}.key/value."""
    import torch
    from transformers import DynamicCache

    cache = DynamicCache()
    if past is not None:
        for i in range(model.config.num_hidden_layers):
            cache.update(torch.from_numpy(past[f"present.{i}.key"].copy()),
                         torch.from_numpy(past[f"present.{i}.value"].copy()), i)
    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                    past_key_values=cache, use_cache=True)
    res = {"logits": out.logits.detach().numpy().astype(np.float32).copy()}
    for i, (k, v) in enumerate(mf.cache_tensors(out.past_key_values)):
        res[f"present.{i}.key"] = k.detach().numpy().astype(np.float32).copy()
        res[f"present.{i}.value"] = v.detach().numpy().astype(np.float32).copy()
    return res


def empty_past(layers, batch=1):
    return {f"past_key_values.{i}.{kv}": np.zeros((batch, GENAI_KV_HEADS, 0, GENAI_HEAD_DIM),
                                                  dtype=np.float32)
            for i in range(layers) for kv in ("key", "value")}


def as_past(presents, layers):
    return {f"past_key_values.{i}.{kv}": presents[f"present.{i}.{kv}"]
            for i in range(layers) for kv in ("key", "value")}


def genai_reference(model, input_names, output_names):
    """Batch 1 (GQA refuses batch > 1 with sequence > 1 and a past): the prefix
    [<s>, a, b] with an EMPTY past (prefix_inputs/prefix_outputs), then 7 continuation
    tokens with that real 3-token cache, attention_mask of length 10 (inputs/outputs)."""
    rng = np.random.default_rng(GENAI_SEED + 1000)
    cont = mf.token_ids(rng, SEQ)[None].astype(np.int64)
    prefix = np.concatenate([[1], mf.token_ids(rng, PAST - 1)])[None].astype(np.int64)
    L = model.config.num_hidden_layers
    pre_out = torch_step(model, prefix, np.ones((1, PAST), dtype=np.int64))
    pre_in = {"input_ids": prefix, "attention_mask": np.ones((1, PAST), dtype=np.int64),
              **empty_past(L)}
    main_in = {"input_ids": cont, "attention_mask": np.ones((1, PAST + SEQ), dtype=np.int64),
               **as_past(pre_out, L)}
    main_out = torch_step(model, cont, main_in["attention_mask"], past=pre_out)
    for d in (pre_in, main_in):
        missing = set(input_names) - set(d)
        assert not missing, missing
    return {"inputs": {n: tensor_json(main_in[n]) for n in input_names},
            "outputs": {n: tensor_json(main_out[n]) for n in output_names},
            "prefix_inputs": {n: tensor_json(pre_in[n]) for n in input_names},
            "prefix_outputs": {n: tensor_json(pre_out[n]) for n in output_names}}


def check_reference(fixture_dir, reference):
    """Max abs diff ORT vs reference over every run in the file (inputs/outputs and, where
    present, prefix_inputs/prefix_outputs), ORT optimizations on and off."""
    inputs, outputs = mf.onnx_io(fixture_dir / "model.onnx")
    worst = {}
    for key_in, key_out in (("inputs", "outputs"), ("prefix_inputs", "prefix_outputs")):
        if key_in not in reference:
            continue
        assert sorted(inputs) == sorted(reference[key_in]), (inputs, list(reference[key_in]))
        assert sorted(outputs) == sorted(reference[key_out]), (outputs, list(reference[key_out]))
        feeds = tensors_from_json(reference[key_in])
        want = tensors_from_json(reference[key_out])
        for optimize in (True, False):
            got = ort_run(fixture_dir / "model.onnx", feeds, optimize)
            for k in want:
                assert got[k].shape == want[k].shape, (k, got[k].shape, want[k].shape)
            worst[(key_out, optimize)] = max_diff(got, want)
    return worst


def copy_genai_output(src, out):
    for name in ("model.onnx", "model.onnx.data", "genai_config.json"):
        shutil.copyfile(Path(src) / name, out / name)
    # the builder copies the tokenizer it was given; it must be the fixture's
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (Path(src) / name).read_bytes() == (out / name).read_bytes(), name


# ---------------------------------------------------------------------------
# fixture generators
# ---------------------------------------------------------------------------
def build_llama_genai():
    name = "llama-genai"
    out = fresh(name)
    tok, tok_kwargs = mf.make_decoder_tokenizer()
    mf.save_tokenizer(tok, tok_kwargs, out)
    model = genai_llama_model()
    mf.save_hf(model, out / "hf")
    shutil.copyfile(out / "hf" / "config.json", out / "config.json")
    with tempfile.TemporaryDirectory() as tmp:
        hf = hf_with_tokenizer(out / "hf", out, Path(tmp) / "hf")
        run_builder(hf, Path(tmp) / "out", "fp32", tmp)
        copy_genai_output(Path(tmp) / "out", out)
    inputs, outputs = mf.onnx_io(out / "model.onnx")
    reference = genai_reference(model, inputs, outputs)
    mf.write_json(out / "expected.json", expected(
        name, "decoder", "llama", "genai-builder", GENAI_LAYERS, True, "model.onnx.data", False,
        "pytorch"))
    mf.write_json(out / "reference.json", reference, compact=True)
    return out


def build_llama_genai_int4():
    name = "llama-genai-int4"
    src = FIXTURES / "llama-genai"
    out = fresh(name)
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(src / f, out / f)
    with tempfile.TemporaryDirectory() as tmp:
        hf = hf_with_tokenizer(src / "hf", src, Path(tmp) / "hf")
        run_builder(hf, Path(tmp) / "out", "int4", tmp)
        copy_genai_output(Path(tmp) / "out", out)
    ref_src = json.loads((src / "reference.json").read_text())
    reference = {}
    for key_in, key_out in (("inputs", "outputs"), ("prefix_inputs", "prefix_outputs")):
        got = ort_run(out / "model.onnx", tensors_from_json(ref_src[key_in]),
                      optimize=REF_OPTIMIZE)
        reference[key_in] = ref_src[key_in]
        reference[key_out] = {k: tensor_json(got[k]) for k in ref_src[key_out]}
    mf.write_json(out / "expected.json", expected(
        name, "decoder", "llama", "genai-builder", GENAI_LAYERS, True, "model.onnx.data", True,
        "onnxruntime", hf_source="llama-genai"))
    mf.write_json(out / "reference.json", reference, compact=True)
    make_int4_plans(out)
    return out


def plan_feeds(reference):
    """As make_plan_references.past_feeds: prefix [<s>, r0, r1], continuation r2..r5,
    where r is row 0 of reference.json's input_ids; batch 1; no position_ids (the genai
    graph has none)."""
    ids = [int(x) for x in reference["inputs"]["input_ids"]["data"]]
    prefix_ids = [1] + ids[:PLAN_PREFIX - 1]
    cont_ids = ids[PLAN_PREFIX - 1:PLAN_PREFIX - 1 + PLAN_CONT]
    total = PLAN_PREFIX + PLAN_CONT
    prefix = {"input_ids": np.array([prefix_ids], dtype=np.int64),
              "attention_mask": np.ones((1, PLAN_PREFIX), dtype=np.int64)}
    cont = {"input_ids": np.array([cont_ids], dtype=np.int64),
            "attention_mask": np.ones((1, total), dtype=np.int64)}
    return prefix, cont


def ort_two_steps(path, layers, prefix, cont):
    pre = ort_run(path, {**prefix, **empty_past(layers)}, optimize=REF_OPTIMIZE)
    step2 = ort_run(path, {**cont, **as_past(pre, layers)}, optimize=REF_OPTIMIZE)
    return pre, step2


def pruned_slug(plan):
    """Folder name of a plan: `,` -> `_`, `-` -> `to` (0,2-3 -> 0_2to3)."""
    return plan.replace(",", "_").replace("-", "to")


def full_init_name(iname, kept, T):
    """The name in the full int4 graph of an initializer of the graph built with only the
    `kept` layers (renumbered 0..k-1; the final norm is model.layers.{k}.final_norm_*)."""
    m = re.match(r"model\.layers\.(\d+)\.(.*)", iname)
    if m and "final_norm" in m.group(2):
        return f"model.layers.{T}.{m.group(2)}"
    if m:
        return f"model.layers.{kept[int(m.group(1))]}.{m.group(2)}"
    return iname


def init_arrays(path):
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def make_int4_plans(out):
    """int4_plans.json: for every in-order skip plan (a non-empty strictly increasing
    subsequence of the layers), the PyTorch model with only those layers (in order,
    config.num_hidden_layers = k, self_attn.layer_idx = new position) exported by the genai
    builder with -p int4, and its ORT outputs on the plans.json two-step protocol."""
    import torch
    from torch import nn

    src = FIXTURES / "llama-genai"
    reference = json.loads((src / "reference.json").read_text())
    prefix, cont = plan_feeds(reference)
    T = GENAI_LAYERS
    subsets = [list(c) for k in range(T, 0, -1) for c in itertools.combinations(range(T), k)]
    full_inits = init_arrays(out / "model.onnx")
    entries = []
    checks = {"int4_weights_equal_full_model": True, "quantization_error_vs_pytorch": {}}
    for kept in subsets:
        plan = plan_string(kept)
        model = load_hf_llama(src / "hf")
        layers = model.model.layers
        new = nn.ModuleList([layers[i] for i in kept])
        for j, layer in enumerate(new):
            layer.self_attn.layer_idx = j
        model.model.layers = new
        model.config.num_hidden_layers = len(kept)
        with tempfile.TemporaryDirectory() as tmp:
            hf = Path(tmp) / "hf"
            mf.save_hf(model, hf)
            for tname in ("tokenizer.json", "tokenizer_config.json"):
                shutil.copyfile(src / tname, hf / tname)
            run_builder(hf, Path(tmp) / "out", "int4", tmp)
            path = Path(tmp) / "out" / "model.onnx"
            pre, step2 = ort_two_steps(path, len(kept), prefix, cont)
            # the reduced int4 graph's weights are the full int4 graph's, layer by layer
            sub_inits = init_arrays(path)
            for iname, arr in sub_inits.items():
                full_name = full_init_name(iname, kept, T)
                if full_name not in full_inits or not np.array_equal(full_inits[full_name], arr):
                    checks["int4_weights_equal_full_model"] = False
                    print(f"[deploy] int4 plan {plan}: initializer {iname} != {full_name}")
            if plan in PRUNED_PLANS:
                dest = out / "pruned" / pruned_slug(plan)
                dest.mkdir(parents=True)
                for fname in PRUNED_FILES:
                    if (path.parent / fname).exists():
                        shutil.copyfile(path.parent / fname, dest / fname)
        # fp32 PyTorch on the same protocol: the quantization error, for the record
        with torch.no_grad():
            pt_pre = torch_step(model, prefix["input_ids"], prefix["attention_mask"])
            pt2 = torch_step(model, cont["input_ids"], cont["attention_mask"], past=pt_pre)
        checks["quantization_error_vs_pytorch"][plan] = max(
            max_diff(pre, {"logits": pt_pre["logits"]}), max_diff(step2, pt2))
        if len(kept) == T:
            raw_identity = (pre, step2)
        outs = {"logits": step2["logits"]}
        for s in range(len(kept)):
            for kv in ("key", "value"):
                outs[f"present.{s}.{kv}"] = step2[f"present.{s}.{kv}"]
        entries.append({
            "name": "identity" if len(kept) == T else f"keep_{plan}",
            "kind": "skip",
            "params": {"kept": kept, "removed": [i for i in range(T) if i not in kept]},
            "plan": plan,
            "instances": len(kept),
            "inputs": {"prefix": tensors_json(prefix, PLAN_DECIMALS),
                       "continuation": tensors_json(cont, PLAN_DECIMALS)},
            "outputs": tensors_json(outs, PLAN_DECIMALS),
            "prefix_outputs": {"logits": tensor_json(pre["logits"], PLAN_DECIMALS)},
        })
    # the identity plan must equal the fixture's own model.onnx on the same protocol
    pre, step2 = ort_two_steps(out / "model.onnx", T, prefix, cont)
    ident = entries[0]
    assert ident["plan"] == f"0-{T - 1}", ident["plan"]
    # (includes the 5-decimal rounding)
    d = max(max_diff(pre, tensors_from_json(ident["prefix_outputs"])),
            max_diff(step2, tensors_from_json(ident["outputs"])))
    checks["identity_vs_fixture_model_onnx"] = d
    checks["identity_vs_fixture_model_onnx_unrounded"] = max(
        max_diff(pre, raw_identity[0]), max_diff(step2, raw_identity[1]))
    assert d <= 1e-5, f"int4 identity plan differs from llama-genai-int4/model.onnx by {d}"
    assert checks["int4_weights_equal_full_model"], "reduced int4 weights differ"
    missing = [p for p in PRUNED_PLANS if p not in [e["plan"] for e in entries]]
    assert not missing, f"PRUNED_PLANS not among the skip plans: {missing}"
    doc = {"num_blocks": T, "float_decimals": PLAN_DECIMALS, "source": "llama-genai",
           "producer": "onnxruntime_genai.models.builder -p int4 -e cpu on the PyTorch model "
                       "with only the kept layers; outputs = onnxruntime (CPU)",
           "protocol": "prefix with an empty past [1, kv_heads, 0, head_dim], then the "
                       "continuation with the prefix's present.* as past",
           "plans": entries, "checks": checks}
    with open(out / "int4_plans.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")


def build_bert_ortopt():
    from onnxruntime.transformers.optimizer import optimize_model

    name = "bert-ortopt"
    src = FIXTURES / "bert-optimum"
    out = fresh(name)
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(src / f, out / f)
    cfg = json.loads((src / "config.json").read_text())
    m = optimize_model(str(src / "model.onnx"), model_type="bert",
                       num_heads=cfg["num_attention_heads"], hidden_size=cfg["hidden_size"],
                       opt_level=BERT_OPT_LEVEL, use_gpu=False, only_onnxruntime=False)
    m.save_model_to_file(str(out / "model.onnx"))
    stats = {k: v for k, v in m.get_fused_operator_statistics().items() if v}
    for op in ("EmbedLayerNormalization", "Attention", "SkipLayerNormalization"):
        assert stats.get(op), (op, stats)
    assert stats.get("BiasGelu") or stats.get("FastGelu") or stats.get("Gelu"), stats
    shutil.copyfile(src / "reference.json", out / "reference.json")
    mf.write_json(out / "expected.json", expected(
        name, "encoder", "bert", "ort-optimizer", cfg["num_hidden_layers"], False, None, False,
        "pytorch", hf_source="bert-optimum"))
    return out


def derived_optimum(name, transform):
    import onnx

    src = FIXTURES / "llama-optimum-past"
    out = fresh(name)
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(src / f, out / f)
    m = transform(onnx.load(str(src / "model.onnx")))
    onnx.save(m, str(out / "model.onnx"))
    ref_src = json.loads((src / "reference.json").read_text())
    got = ort_run(out / "model.onnx", tensors_from_json(ref_src["inputs"]), optimize=REF_OPTIMIZE)
    reference = {"inputs": ref_src["inputs"],
                 "outputs": {k: tensor_json(got[k]) for k in ref_src["outputs"]}}
    mf.write_json(out / "expected.json", expected(
        name, "decoder", "llama", "optimum", 4, True, None, True, "onnxruntime"))
    mf.write_json(out / "reference.json", reference, compact=True)
    return out


def build_llama_optimum_q4():
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    def q4(m):
        q = MatMulNBitsQuantizer(m, block_size=Q4_BLOCK, is_symmetric=True)
        q.process()
        return q.model.model

    return derived_optimum("llama-optimum-q4", q4)


def build_llama_optimum_fp16():
    from onnxruntime.transformers.float16 import convert_float_to_float16

    return derived_optimum("llama-optimum-fp16",
                           lambda m: convert_float_to_float16(m, keep_io_types=True))


SPECS = [
    ("llama-genai", build_llama_genai),
    ("llama-genai-int4", build_llama_genai_int4),
    ("bert-ortopt", build_bert_ortopt),
    ("llama-optimum-q4", build_llama_optimum_q4),
    ("llama-optimum-fp16", build_llama_optimum_fp16),
]

SOURCE_OF = {"llama-genai": None, "llama-genai-int4": "llama-genai",
             "bert-ortopt": "bert-optimum", "llama-optimum-q4": "llama-optimum-past",
             "llama-optimum-fp16": "llama-optimum-past"}
# make_fixtures.py names these in its fixtures' READMEs ("made from this one")
assert mf.DEPLOY_MADE_FROM == {
    src: [n for n, s in SOURCE_OF.items() if s == src]
    for src in sorted({s for s in SOURCE_OF.values() if s and s not in SOURCE_OF})}, \
    "make_fixtures.DEPLOY_MADE_FROM and SOURCE_OF disagree"


# ---------------------------------------------------------------------------
# per-fixture README (tests/fixtures/<name>/README.md; see make_fixtures.fixture_readme)
# ---------------------------------------------------------------------------
BUILDER = "python -m onnxruntime_genai.models.builder -i HF -o OUT -p {p} -e cpu -c CACHE"
# name -> (generator chain after the build function, tool, packages, reference.json, files)
GENERATORS = {
    "llama-genai": (
        f"`genai_llama_model` (random weights, `torch.manual_seed({GENAI_SEED})`) → "
        "`mf.save_hf` → `run_builder(-p fp32)` → `genai_reference`; then "
        "`make_llama_genai_plans`",
        f"the onnxruntime-genai model builder, `{BUILDER.format(p='fp32')}`",
        ["onnxruntime-genai", "onnxruntime", "onnx", "torch", "transformers"],
        "PyTorch (`genai_reference`): the prefix with an empty past (`prefix_inputs`/"
        "`prefix_outputs`), then the continuation with that real cache (`inputs`/`outputs`)",
        ["a rebuild of this fixture runs that `make_plan_references.py` itself "
         "(`make_llama_genai_plans`)"]),
    "llama-genai-int4": (
        "`run_builder(-p int4)` on `llama-genai/hf` → `ort_run` of `llama-genai`'s reference "
        "inputs; then `make_int4_plans`",
        f"the onnxruntime-genai model builder, `{BUILDER.format(p='int4')}` (MatMulNBits, "
        "block 32, `accuracy_level` 4)",
        ["onnxruntime-genai", "onnxruntime", "onnx", "torch", "transformers"],
        "`llama-genai`'s inputs, outputs = onnxruntime on this `model.onnx` (graph "
        "optimizations off)",
        ["`int4_plans.json` and `pruned/<slug>/` here: `make_int4_plans` (the builder's int4 "
         "exports of the PyTorch model with only the kept layers; rebuilt with this fixture)"]),
    "bert-ortopt": (
        "`onnxruntime.transformers.optimizer.optimize_model` on `bert-optimum/model.onnx`",
        f"`optimize_model(model_type=\"bert\", opt_level={BERT_OPT_LEVEL}, use_gpu=False)` "
        "(EmbedLayerNormalization, Attention, SkipLayerNormalization, BiasGelu)",
        ["onnxruntime", "onnx"],
        "a copy of `bert-optimum/reference.json` (PyTorch)", []),
    "llama-optimum-q4": (
        "`derived_optimum` → `MatMulNBitsQuantizer` on `llama-optimum-past/model.onnx`",
        f"`onnxruntime.quantization.matmul_nbits_quantizer.MatMulNBitsQuantizer(block_size="
        f"{Q4_BLOCK}, is_symmetric=True)`",
        ["onnxruntime", "onnx"],
        "`llama-optimum-past`'s inputs, outputs = onnxruntime on this `model.onnx` (graph "
        "optimizations off)", []),
    "llama-optimum-fp16": (
        "`derived_optimum` → `convert_float_to_float16` on `llama-optimum-past/model.onnx`",
        "`onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types=True)`",
        ["onnxruntime", "onnx"],
        "`llama-optimum-past`'s inputs, outputs = onnxruntime on this `model.onnx` (graph "
        "optimizations off; with them on ORT differs by ~1e-3, see DEPLOY.md)", []),
}


def write_fixture_readme(name):
    """tests/fixtures/<name>/README.md of one deployment fixture, from expected.json."""
    fn = dict(SPECS)[name]
    chain, tool, pkgs, reference, files = GENERATORS[name]
    out = FIXTURES / name
    expected = json.loads((out / "expected.json").read_text())
    source = SOURCE_OF[name]
    text = mf.fixture_readme(
        name, expected, "scripts/make_deploy_fixtures.py",
        made_by=f"`{fn.__name__}()` → {chain}", tool=tool,
        versions={p: importlib.metadata.version(p) for p in pkgs}, reference=reference,
        rebuild=[(f"python3 scripts/make_deploy_fixtures.py {name}",
                  "this folder (recreated) and tests/fixtures/DEPLOY.md")],
        source=source, made_from_it=[f"`{n}`" for n, src in SOURCE_OF.items() if src == name],
        files=files,
        see_also=[f"`tests/fixtures/DEPLOY.md` (section `{name}`: graph facts, checks, "
                  "why it is built this way)"])
    (out / mf.FIXTURE_README).write_text(text)
    return out / mf.FIXTURE_README


# ---------------------------------------------------------------------------
# measurements for DEPLOY.md (all from the files on disk)
# ---------------------------------------------------------------------------
def shape_str(vi):
    dims = [d.dim_param or str(d.dim_value) for d in vi.type.tensor_type.shape.dim]
    import onnx

    dt = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type).name
    return f"{dt} [{', '.join(dims)}]"


def residual_chain(g):
    """The residual stream through fused norm nodes: returns [(node, output_index, tensor)]
    in order, starting with the embedding output."""
    chain = []
    emb = next((n for n in g.node if n.op_type == "EmbedLayerNormalization"
                or (n.op_type == "Gather" and "input_ids" in n.input)), None)
    if emb is None:
        return chain
    r = emb.output[0]
    chain.append((emb, 0, r))
    for n in g.node:
        if n.op_type == "SkipSimplifiedLayerNormalization" and n.input[0] == r:
            if len(n.output) > 3 and n.output[3]:
                r = n.output[3]
                chain.append((n, 3, r))
            else:
                chain.append((n, None, None))
                break
        elif n.op_type == "SkipLayerNormalization" and r in n.input[:2]:
            r = n.output[0]
            chain.append((n, 0, r))
    return chain


def layer1_nodes(g):
    pat = re.compile(r"(?:layers|layer)\.1(?=[/.])")
    res = []
    for n in g.node:
        if pat.search(n.name) or any(pat.search(o) for o in n.output):
            res.append(n)
    return res


def facts(name):
    import onnx

    d = FIXTURES / name
    m = onnx.load(str(d / "model.onnx"), load_external_data=False)
    g = m.graph
    inits = {t.name for t in g.initializer}
    f = {
        "nodes": len(g.node),
        "initializers": len(g.initializer),
        "ir": m.ir_version,
        "opsets": {o.domain or "ai.onnx": o.version for o in m.opset_import},
        "ops": collections.Counter(n.op_type for n in g.node).most_common(),
        "inputs": [(v.name, shape_str(v)) for v in g.input if v.name not in inits],
        "outputs": [(v.name, shape_str(v)) for v in g.output],
        "layer1": [(n.op_type, n.name, list(n.output)) for n in layer1_nodes(g)],
        "chain": [(n.op_type, n.name, k, t) for n, k, t in residual_chain(g)],
        "unnamed_nodes": sum(1 for n in g.node if not n.name),
        "files": {p.name: p.stat().st_size for p in sorted(d.iterdir())
                  if p.is_file() and p.name != mf.FIXTURE_README},
        "digests": {p.name: mf.file_digest(p) for p in sorted(d.glob("model.onnx*"))},
        "size": mf.dir_size(d),
    }
    if name.startswith("llama-optimum"):
        produced = {o: n.op_type for n in g.node for o in n.output}
        f["optimum_stream"] = [f"/model/layers.{i}/Add_1_output_0" for i in range(4)]
        assert all(produced.get(t) == "Add" for t in f["optimum_stream"]), name
    if name.startswith("llama-genai"):
        f["genai_config"] = json.loads((d / "genai_config.json").read_text())
    reference = json.loads((d / "reference.json").read_text())
    f["ort_diff"] = check_reference(d, reference)
    src = SOURCE_OF[name]
    exp = json.loads((d / "expected.json").read_text())
    if exp["quantized"] and src:
        sref = json.loads((FIXTURES / src / "reference.json").read_text())
        f["vs_source"] = {k: max_diff(tensors_from_json(reference[k]),
                                      tensors_from_json(sref[k]))
                          for k in ("outputs", "prefix_outputs") if k in reference}
    if (d / "int4_plans.json").exists():
        p = json.loads((d / "int4_plans.json").read_text())
        f["int4_plans"] = {"plans": [e["plan"] for e in p["plans"]], "checks": p["checks"],
                           "size": (d / "int4_plans.json").stat().st_size}
    if (d / "plans.json").exists():
        f["plans_json"] = (d / "plans.json").stat().st_size
    if (d / "pruned").is_dir():
        f["pruned"] = pruned_facts(d)
    return f


def pruned_facts(d):
    """Per llama-genai-int4/pruned/<slug>/: files, digests, and an independent check (on
    the committed files) that every initializer is byte-equal (dtype, shape, raw bytes) to
    the full graph's tensor of the same role, and that the kept layers' tensors are all
    there; plus that ORT runs the graph on the plan protocol with the kept layer count."""
    import onnx
    from onnx import numpy_helper

    def load(path):
        m = onnx.load(str(path))
        return {t.name: (t.data_type, tuple(t.dims), numpy_helper.to_array(t).tobytes())
                for t in m.graph.initializer}, m

    T = GENAI_LAYERS
    full, _ = load(d / "model.onnx")
    prefix, cont = plan_feeds(json.loads((FIXTURES / "llama-genai" / "reference.json")
                                         .read_text()))
    res = {}
    slugs = {pruned_slug(p): p for p in PRUNED_PLANS}
    assert sorted(slugs) == sorted(p.name for p in (d / "pruned").iterdir()), slugs
    for slug, plan in slugs.items():
        pd = d / "pruned" / slug
        kept = [int(b) for piece in plan.split(",")
                for b in (range(int(piece.split("-")[0]), int(piece.split("-")[-1]) + 1))]
        assert plan_string(kept) == plan, (plan, kept)
        sub, m = load(pd / "model.onnx")
        mapped = {}
        bad = []
        for iname, val in sub.items():
            fname = full_init_name(iname, kept, T)
            mapped[fname] = iname
            if full.get(fname) != val:
                bad.append(f"{iname} != {fname}")
        removed = [i for i in range(T) if i not in kept]
        want = {n for n in full
                if not any(n.startswith(f"model.layers.{i}.") for i in removed)}
        absent = sorted(want - set(mapped))
        extra = sorted(set(mapped) - want)
        gc = json.loads((pd / "genai_config.json").read_text())
        layers = gc["model"]["decoder"]["num_hidden_layers"]
        assert layers == len(kept), (slug, layers)
        _, step2 = ort_two_steps(pd / "model.onnx", len(kept), prefix, cont)
        assert step2["logits"].shape == (1, PLAN_CONT, mf.VOCAB), step2["logits"].shape
        res[slug] = {
            "plan": plan, "kept": kept, "removed": removed,
            "nodes": len(m.graph.node), "initializers": len(sub),
            "matmulnbits": sum(n.op_type == "MatMulNBits" for n in m.graph.node),
            "equal": not bad and not absent and not extra,
            "bad": bad, "absent": absent, "extra": extra,
            "files": {p.name: p.stat().st_size for p in sorted(pd.iterdir())},
            "digests": {p.name: mf.file_digest(p) for p in sorted(pd.iterdir())},
            "size": mf.dir_size(pd),
        }
        assert res[slug]["equal"], (slug, bad, absent, extra)
    return res


def probe_gqa():
    """What ORT's GroupQueryAttention accepts on llama-genai (measured, for the doc)."""
    d = FIXTURES / "llama-genai"
    ref = json.loads((d / "reference.json").read_text())
    res = {}
    ids = tensors_from_json(ref["inputs"])["input_ids"]
    past = {k: v for k, v in tensors_from_json(ref["inputs"]).items() if k.startswith("past")}
    b2 = {"input_ids": np.concatenate([ids, ids]), "attention_mask": np.ones((2, 10), np.int64),
          **{k: np.concatenate([v, v]) for k, v in past.items()}}
    for what, feeds in (
            ("batch 1, sequence 3, empty past", tensors_from_json(ref["prefix_inputs"])),
            ("batch 1, sequence 7, past 3", tensors_from_json(ref["inputs"])),
            ("batch 2, sequence 7, past 3", b2),
            ("batch 2, sequence 1, past 3", {**b2, "input_ids": b2["input_ids"][:, :1],
                                             "attention_mask": np.ones((2, 4), np.int64)}),
            ("batch 2, sequence 7, empty past", {"input_ids": b2["input_ids"],
                                                 "attention_mask": np.ones((2, 7), np.int64),
                                                 **empty_past(GENAI_LAYERS, 2)})):
        try:
            ort_run(d / "model.onnx", feeds)
            res[what] = "accepted"
        except Exception as exc:  # noqa: BLE001
            msg = str(exc)
            msg = msg[msg.find("Status Message:") + 16:] if "Status Message:" in msg else msg
            res[what] = "refused: " + msg.strip().splitlines()[0]
    return res


# ---------------------------------------------------------------------------
# DEPLOY.md
# ---------------------------------------------------------------------------
HOW = {
    "llama-genai": (
        "`build_llama_genai()`: a new random Llama (seed {seed}; 4 layers, hidden 32, "
        "intermediate 64, **2 heads, 1 kv head, head_dim 16**, vocab 256, tied embeddings; "
        "1-D parameters perturbed as in `make_fixtures.build_model`), saved to `hf/` "
        "(`save_pretrained`), then `python -m onnxruntime_genai.models.builder -i HF -o OUT "
        "-p fp32 -e cpu -c CACHE` on a temp copy of `hf/` + the tokenizer files. The builder "
        "wrote `model.onnx`, `model.onnx.data`, `genai_config.json` (kept) and tokenizer files "
        "(checked identical to the fixture's) and `special_tokens_map.json` (dropped). "
        "`reference.json`: PyTorch. Also written: `plans.json` by "
        "`scripts/make_plan_references.py llama-genai` (PyTorch plan references, as for "
        "the other with-past fixtures; its `inputs` carry `position_ids`, which the genai "
        "graph does not have: feed by graph input name)."),
    "llama-genai-int4": (
        "`build_llama_genai_int4()`: the same builder with `-p int4` on `llama-genai/hf` "
        "(builder defaults: MatMulNBits, block_size 32, symmetric, `accuracy_level` 4 on "
        "CPU, only MatMul quantized; the LM head is quantized, the embedding stays fp32). "
        "`reference.json`: the same inputs as `llama-genai`'s, outputs = onnxruntime on this "
        "graph. `int4_plans.json` and `pruned/` by `make_int4_plans()` (see below)."),
    "bert-ortopt": (
        "`build_bert_ortopt()`: `onnxruntime.transformers.optimizer.optimize_model("
        "'tests/fixtures/bert-optimum/model.onnx', model_type='bert', num_heads=4, "
        "hidden_size=32, opt_level=1, use_gpu=False, only_onnxruntime=False)` (default "
        "FusionOptions), `save_model_to_file` (weights inline). opt_level 0 gives the same "
        "nodes (the fusions are the Python ones); opt_level 1 (the default for `bert`) also "
        "adds 7 unused opset domains to `opset_import`. `reference.json`, `config.json`, "
        "tokenizer: copied from `bert-optimum` (PyTorch reference)."),
    "llama-optimum-q4": (
        "`build_llama_optimum_q4()`: `onnxruntime.quantization.matmul_nbits_quantizer."
        "MatMulNBitsQuantizer(onnx.load('tests/fixtures/llama-optimum-past/model.onnx'), "
        "block_size=32, is_symmetric=True).process()` (default algorithm, no accuracy_level "
        "attribute), `onnx.save` inline. `reference.json`: `llama-optimum-past`'s inputs, "
        "outputs = onnxruntime on this graph."),
    "llama-optimum-fp16": (
        "`build_llama_optimum_fp16()`: `onnxruntime.transformers.float16."
        "convert_float_to_float16(onnx.load('tests/fixtures/llama-optimum-past/model.onnx'), "
        "keep_io_types=True)`, `onnx.save` inline. Graph inputs/outputs stay float32 "
        "(Cast nodes at the boundary). `reference.json`: `llama-optimum-past`'s inputs, "
        "outputs = onnxruntime on this graph."),
}


def fmt_ops(ops):
    return ", ".join(f"{op} ×{n}" for op, n in ops)


def write_doc(all_facts, gqa):
    v = versions()
    lines = []
    w = lines.append
    w("# Deployment-format fixtures")
    w("")
    w("Made by the real deployment tools (onnxruntime-genai model builder, onnxruntime's")
    w("transformer optimizer, MatMulNBits quantizer, fp16 converter) from the tiny random")
    w("models of `scripts/make_fixtures.py`. Generated by `scripts/make_deploy_fixtures.py`")
    w("(this file too); do not edit by hand. Rebuild with")
    w("")
    w("```")
    w("python3 scripts/make_deploy_fixtures.py            # all of them")
    w("python3 scripts/make_deploy_fixtures.py NAME ...   # only some (sources must exist)")
    w("python3 scripts/make_deploy_fixtures.py --readme-only [NAME ...]   # only their README.md")
    w("```")
    w("")
    w("The script uses the venv of `make_fixtures.py` (`.venv-fixtures/`, "
      "`scripts/requirements-fixtures.txt`) and installs `scripts/requirements-deploy.txt` on "
      "top (`pip install -r requirements-deploy.txt -c requirements-fixtures.txt`, so the "
      "fixture pins do not move). It checks that onnxruntime (CPU, 1 thread) on `model.onnx` "
      f"reproduces every run in `reference.json` within {TOLERANCE:g}, with graph "
      "optimizations off and on; it fails otherwise (exception: `llama-optimum-fp16` with "
      "optimizations on, reported below). References made by onnxruntime "
      "(`reference_source: onnxruntime`, `int4_plans.json`) are recorded with graph "
      "optimizations OFF (`ORT_DISABLE_ALL`, 1 thread, CPU), as the Rust tests run.")
    w("")
    w("Versions: " + ", ".join(f"`{k}=={val}`" for k, val in v.items()) + ".")
    w("")
    w("Files per fixture: `README.md` (the function that made it, the tool and its version, "
      "the command that rebuilds just it, its key facts from `expected.json`; written by "
      "`write_fixture_readme`, which `--readme-only` runs alone; not counted in the sizes "
      "below), `model.onnx` (+ `model.onnx.data` for the genai ones: the builder "
      "writes every initializer there), `config.json` (HF config), `tokenizer.json`, "
      "`tokenizer_config.json`, `expected.json` (same keys as the other fixtures; "
      "`hf_source` where the weights are another fixture's), `reference.json`; genai: "
      "`genai_config.json`; `llama-genai`: `hf/` (its own PyTorch weights) and `plans.json`; "
      "`llama-genai-int4`: `int4_plans.json` and `pruned/<slug>/`.")
    w("")
    w("## Summary")
    w("")
    w("| fixture | tool | source | blocks | with_past | quantized | reference | "
      "max abs diff ORT vs reference (ORT opt off / on) | size | generator |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    tool = {"llama-genai": "genai builder fp32", "llama-genai-int4": "genai builder int4",
            "bert-ortopt": "ORT transformer optimizer",
            "llama-optimum-q4": "MatMulNBitsQuantizer (block 32)",
            "llama-optimum-fp16": "float16 converter (keep_io_types)"}
    gen = dict((n, fn.__name__) for n, fn in SPECS)
    for name, f in all_facts.items():
        e = json.loads((FIXTURES / name / "expected.json").read_text())
        src = SOURCE_OF[name] or "own `hf/` (seed %d)" % GENAI_SEED
        w(f"| `{name}` | {tool[name]} | {src} | {e['num_blocks']} | {str(e['with_past']).lower()}"
          f" | {str(e['quantized']).lower()} | {e['reference_source']} | "
          f"{max(v for (_, o), v in f['ort_diff'].items() if not o):.2e} / "
          f"{max(v for (_, o), v in f['ort_diff'].items() if o):.2e} | "
          f"{f['size'] / 1024:.0f} KiB | `{gen[name]}` |")
    w("")
    w("## Why `llama-genai` has its own weights (head_dim 16)")
    w("")
    w("The genai builder fuses the rotary embedding into `GroupQueryAttention` (`do_rotary=1`, "
      "shared `cos_cache`/`sin_cache`) for CPU, and onnxruntime's GQA kernel then requires "
      "`head_size % 16 == 0`. Built from `llama-optimum-past/hf` (head_dim 8) the builder "
      "succeeds but onnxruntime refuses every run: `GroupQueryAttention ... head_size shall be "
      "a multiple of 16. Got head_size % 16 == 8`. There is no builder option to keep rotary "
      "out of GQA on CPU (`use_rope_in_attn` is forced for every EP but DML). So "
      "`llama-genai` is a new random Llama with hidden 32 and 2 heads / 1 kv head "
      "(head_dim = hidden / heads = 16); everything else as the other Llama fixtures. "
      "`llama-genai-int4` uses these weights (`hf_source: llama-genai`).")
    w("")
    w("## GroupQueryAttention and the past (measured on `llama-genai`)")
    w("")
    w("- **Empty past accepted**: the prefix run with `past_key_values.{i}.*` of shape "
      f"`[1, {GENAI_KV_HEADS}, 0, {GENAI_HEAD_DIM}]` and `attention_mask` ones(1, 3) runs and "
      "matches PyTorch (recorded as `prefix_inputs`/`prefix_outputs` in `reference.json`; "
      "its `present.*` are `[1, 1, 3, 16]`). `inputs`/`outputs` are the continuation: 7 tokens, "
      "the real 3-token PyTorch cache as past, `attention_mask` ones(1, 10); presents "
      "`[1, 1, 10, 16]` (past + new, BNSH, not a shared max-length buffer when fed by plain "
      "onnxruntime).")
    for what, res in gqa.items():
        w(f"- {what}: {res}")
    w("- Hence the references are batch 1 (right padding would need per-row `seqlens_k`; not "
      "recorded). No `position_ids` input: positions come from `attention_mask` "
      "(`seqlens_k = ReduceSum(mask) - 1`, `total_sequence_length = mask.shape[1]`).")
    w("")
    for name, f in all_facts.items():
        w(f"## `{name}`")
        w("")
        w(HOW[name].format(seed=GENAI_SEED))
        w("")
        w(f"- {f['nodes']} nodes ({f['unnamed_nodes']} without a name), {f['initializers']} "
          f"initializers, IR {f['ir']}, opsets {f['opsets']}")
        w(f"- op types: {fmt_ops(f['ops'])}")
        w("- graph inputs: " + "; ".join(f"`{n}` {s}" for n, s in f["inputs"]))
        w("- graph outputs: " + "; ".join(f"`{n}` {s}" for n, s in f["outputs"]))
        diffs = ", ".join(f"{k[0]} (ORT opt {'on' if k[1] else 'off'}) {val:.2e}"
                          for k, val in f["ort_diff"].items())
        w(f"- max abs diff ORT vs reference: {diffs}")
        if "vs_source" in f:
            w("- quantization error (this reference vs the fp32 PyTorch reference of "
              f"`{SOURCE_OF[name]}`, same inputs): "
              + ", ".join(f"{k} {val:.3g}" for k, val in f["vs_source"].items()))
        w("- files: " + ", ".join(f"`{k}` {val / 1024:.1f} KiB" for k, val in f["files"].items())
          + f"; total {f['size'] / 1024:.0f} KiB (incl. subfolders)")
        w("- sha256[:16]: " + ", ".join(f"`{k}` {val}" for k, val in f["digests"].items()))
        if name.startswith("llama-optimum"):
            l1 = [x for x in f["layer1"] if x[0] in ("MatMulNBits", "MatMul", "Add", "Cast")]
            counts = collections.Counter(x[0] for x in f["layer1"])
            w(f"- layer 1: {len(f['layer1'])} nodes named `/model/layers.1/...` "
              f"({fmt_ops(counts.most_common())}); names as in `llama-optimum-past` "
              "(optimum), e.g. " + ", ".join(f"{op} `{n}`" for op, n, _ in l1[:6]))
            w("- residual stream: " + ", ".join(f"`{t}`" for t in f["optimum_stream"])
              + " after blocks 0..3 (the `Add` nodes `/model/layers.{i}/Add_1`; unchanged "
              "optimum structure; after attention: `/model/layers.{i}/Add_output_0`)")
        else:
            w("- layer 1 nodes (op, name → outputs):")
            for op, n, outs in f["layer1"]:
                w(f"  - {op} `{n or '(no name)'}` → " + ", ".join(f"`{o}`" if o else "''"
                                                                 for o in outs))
            ch = f["chain"]
            T = json.loads((FIXTURES / name / "expected.json").read_text())["num_blocks"]
            if len(ch) == 2 * T + 1:
                w("- block boundaries (the residual stream after block i = chain entry 2i+2 "
                  "below): " + "; ".join(
                      f"after block {i}: " + (f"output {ch[2 * i + 2][2]} of `{ch[2 * i + 2][1]}`"
                                              if ch[2 * i + 2][2] is not None else
                                              f"not materialized (fused into `{ch[2 * i + 2][1]}`)")
                      for i in range(T)))
            w("- residual stream, in order (node → output index → tensor):")
            for op, n, k, t in f["chain"]:
                if k is None:
                    w(f"  - {op} `{n}`: no residual output (only output 0, the normed "
                      "stream): the last block's sum exists only inside this node")
                else:
                    w(f"  - {op} `{n}` → output {k} `{t}`")
        if "genai_config" in f:
            gc = f["genai_config"]
            dec = gc["model"]["decoder"]
            w(f"- `genai_config.json`: type `{gc['model']['type']}`, num_hidden_layers "
              f"{dec['num_hidden_layers']}, num_attention_heads {dec['num_attention_heads']}, "
              f"num_key_value_heads {dec['num_key_value_heads']}, head_size {dec['head_size']}, "
              f"hidden_size {dec['hidden_size']}, context_length {gc['model']['context_length']}, "
              f"`past_present_share_buffer: {str(gc['search']['past_present_share_buffer']).lower()}`, "
              f"inputs {json.dumps(dec['inputs'])}, outputs {json.dumps(dec['outputs'])}")
        if "plans_json" in f:
            w(f"- `plans.json`: {f['plans_json'] / 1024:.0f} KiB (make_plan_references.py)")
        if "int4_plans" in f:
            p = f["int4_plans"]
            c = p["checks"]
            w(f"- `int4_plans.json` ({p['size'] / 1024:.0f} KiB): {len(p['plans'])} in-order skip "
              "plans (every non-empty strictly increasing subsequence of 0..3): "
              + ", ".join(f"`{x}`" for x in p["plans"]))
            w("  - each: the PyTorch `llama-genai` model with only the kept layers (in order; "
              "`config.num_hidden_layers` = k, each kept `self_attn.layer_idx` = its new "
              "position), `save_pretrained`, genai builder `-p int4 -e cpu`, onnxruntime on the "
              "plans.json protocol: `inputs.prefix` = `[<s>, r0, r1]` (r = row 0 of "
              "reference.json's input_ids) with an empty past, `inputs.continuation` = "
              "`r2..r5` with the prefix's presents, attention_mask ones(1,3) / ones(1,7), no "
              "position_ids; `outputs` = logits + `present.{s}.*` `[1, 1, 7, 16]` of the "
              "continuation, `prefix_outputs` = logits; floats rounded to 5 decimals.")
            w(f"  - checks: the reduced int4 graphs' initializers equal the full int4 graph's "
              f"layer by layer: {str(c['int4_weights_equal_full_model']).lower()}; identity plan "
              f"vs `model.onnx` of this fixture: {c['identity_vs_fixture_model_onnx_unrounded']:.1e} "
              f"before rounding, {c['identity_vs_fixture_model_onnx']:.1e} as stored; "
              "quantization error vs fp32 PyTorch per plan: "
              + ", ".join(f"`{k}` {val:.3g}" for k, val in c["quantization_error_vs_pytorch"].items()))
        if "pruned" in f:
            w("- `pruned/<slug>/` (slug = plan with `,` → `_`, `-` → `to`): for the skip plans "
              + ", ".join(f"`{x['plan']}`" for x in f["pruned"].values())
              + ", the builder's own output for that plan in `make_int4_plans()` (the "
              "PyTorch `llama-genai` model with only the kept layers, genai builder `-p int4 "
              "-e cpu`), copied as written: `model.onnx`, `model.onnx.data` (external data, "
              "location `model.onnx.data`), `genai_config.json` (`num_hidden_layers` = number "
              "of kept layers). Layers are renumbered 0..k-1 in these graphs "
              "(`model.layers.{j}.*` = kept layer j; the final norm is "
              "`model.layers.{k}.final_norm_layernorm.weight`). Purpose: int4 ORT outputs depend "
              "on the CPU (`accuracy_level` 4 quantizes activations to int8, and the int8 "
              "kernels differ between e.g. AVX2 and AVX512-VNNI), so the numbers in "
              "`int4_plans.json` are a record of one machine; a test compares painters' int4 "
              "skip rewrite of this fixture's `model.onnx` with ORT on these graphs on the "
              "same machine.")
            for slug, x in f["pruned"].items():
                w(f"  - `pruned/{slug}/` (plan `{x['plan']}`, kept {x['kept']}, removed "
                  f"{x['removed']}): {x['nodes']} nodes, {x['initializers']} initializers, "
                  f"MatMulNBits ×{x['matmulnbits']}; files "
                  + ", ".join(f"`{k}` {val / 1024:.1f} KiB" for k, val in x["files"].items())
                  + f"; total {x['size'] / 1024:.1f} KiB; sha256[:16] "
                  + ", ".join(f"`{k}` {val}" for k, val in x["digests"].items()))
            w("  - check (on the files as committed): every initializer of each pruned graph "
              "is byte-equal (dtype, dims, raw data) to the tensor of the same role in this "
              "fixture's `model.onnx` (renumbered layer j → kept layer, final norm → "
              f"`model.layers.{GENAI_LAYERS}.*`, the rest by name), and every full-graph "
              "initializer not of a removed layer appears: "
              + ", ".join(f"`{s}` {str(x['equal']).lower()}" for s, x in f["pruned"].items())
              + "; onnxruntime runs each on the plan protocol above.")
        w("")
    w("## Notes")
    w("")
    w("- *Determinism.* Two runs of the script write byte-identical files (checked with "
      "sha256 on every file of these fixtures; the digests of the model files are above).")
    w("- *int4 on other CPUs.* The builder's int4 default `accuracy_level=4` makes "
      "MatMulNBits quantize activations to int8 per block on CPU; the recorded ORT outputs "
      "(`llama-genai-int4/reference.json`, `int4_plans.json`) come from an x86-64 CPU "
      "(AMD EPYC); another CPU kernel path may differ in the last bits. Compare int4 "
      "graphs with each other on one machine (`llama-genai-int4/pruned/`), not with these "
      "stored numbers. "
      "`llama-optimum-q4` has no accuracy_level (fp32 compute).")
    w("- *Tied embedding in the genai graphs.* fp32: one initializer `lm_head.MatMul.weight` "
      "`[32, 256]`; the embedding `Gather` reads `Transpose(lm_head.MatMul.weight)` "
      "(`/model/embed_tokens/Transpose`). int4: the embedding is a separate fp32 "
      "`model.embed_tokens.weight` and the LM head is a MatMulNBits with its own int4 weight.")
    w("- *make_plan_references.py.* `llama-genai-int4`, `llama-optimum-q4` and "
      "`llama-optimum-fp16` are in its `SKIP` list (as `llama-quant`): quantized (the first "
      "would fail its 1e-4 identity-vs-ORT check) and the other two have no `hf/` and no "
      "`hf_source`, so there is no fp32 PyTorch equivalent. `int4_plans.json` and "
      "`pruned/` are the plan references for `llama-genai-int4`.")
    w("")
    DOC.write_text("\n".join(lines))


# ---------------------------------------------------------------------------
def make_llama_genai_plans():
    """plans.json for llama-genai (own weights): scripts/make_plan_references.py."""
    subprocess.check_call([sys.executable, str(ROOT / "scripts" / "make_plan_references.py"),
                           "llama-genai"], env=tool_env())


def main(argv):
    readme_only = argv[:1] == ["--readme-only"]
    if readme_only:
        argv = argv[1:]
    names = [n for n, _ in SPECS]
    wanted = set(argv)
    unknown = wanted - set(names)
    if unknown:
        sys.exit(f"unknown fixtures: {sorted(unknown)} (known: {names})")
    if readme_only:
        # Only the per-fixture READMEs, from expected.json (DEPLOY.md is rewritten by every
        # other run, from the files on disk).
        for name in names:
            present = (FIXTURES / name / "expected.json").exists()
            if present and (not wanted or name in wanted):
                print(f"[deploy] wrote {write_fixture_readme(name).relative_to(ROOT)}")
        return
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    failures = []
    for name, fn in SPECS:
        if wanted and name not in wanted:
            continue
        print(f"[deploy] building {name} ...", flush=True)
        try:
            out = fn()
            if name == "llama-genai":
                make_llama_genai_plans()
            worst = check_reference(out, json.loads((out / "reference.json").read_text()))
            diff = max(v for (_, opt), v in worst.items()
                       if not opt or name not in OPT_ON_EXEMPT)
            if diff > TOLERANCE:
                raise AssertionError(f"ORT differs from reference by {diff:.3e} > {TOLERANCE}")
            print(f"[deploy] {name}: OK, max abs diff ORT vs reference = {diff:.3e}", flush=True)
        except Exception as exc:  # report every failure, then fail at the end
            import traceback

            traceback.print_exc()
            failures.append((name, repr(exc)))
            print(f"[deploy] {name}: FAILED: {exc!r}", flush=True)
    all_facts = {}
    for name in names:
        if (FIXTURES / name / "reference.json").exists():
            f = facts(name)
            diff = max(v for (_, opt), v in f["ort_diff"].items()
                       if not opt or name not in OPT_ON_EXEMPT)
            if diff > TOLERANCE and name not in dict(failures):
                failures.append((name, f"ORT diff {f['ort_diff']}"))
            all_facts[name] = f
            write_fixture_readme(name)
    gqa = probe_gqa() if "llama-genai" in all_facts else {}
    write_doc(all_facts, gqa)
    for name, f in all_facts.items():
        print(f"[deploy] {name}: {f['size'] / 1024:.0f} KiB {f['digests']}")
    if failures:
        for name, why in failures:
            print(f"[deploy] FAILED {name}: {why}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])

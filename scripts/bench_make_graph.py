#!/usr/bin/env python3
"""Make Llama-2-7B-scale benchmark graphs for `painters rewrite` (BENCHMARKS.md, 1 and 6).

Two steps:

  template  Export a REAL Llama graph with optimum (`onnx_export_from_model`, task
            text-generation-with-past, the TorchScript exporter optimum uses) at full
            Llama-2-7B width (hidden 4096, intermediate 11008, 32 heads, vocab 32000,
            untied LM head) but only 2 layers, random fp16 weights (Llama-2-7B's
            published dtype). The weights are then dropped: the template is the graph
            alone (`bench/out/templates/llama-h4096.onnx`, a few hundred kB).

  build     Replicate layer 1 of the template (its `/model/layers.1/...` nodes and the
            unscoped Constant nodes only it reads) to get L layers: fresh node names
            (`/model/layers.{i}/...`), fresh tensor and initializer names, its own KV
            slot (`past_key_values.{i}.*` -> `present.{i}.*`), the residual chain
            rewired. Every initializer then points into ONE sparse external file
            `model.onnx.data` (made with truncate: no byte is written or ever read)
            with correct offsets and lengths. For 32 layers that file is 13.5 GB,
            Llama-2-7B's fp16 size. `--weight-gb G` instead scales the first axis of
            every weight matrix (same graph, larger declared tensors) so the data file
            is G GB: those variants are not runnable (shapes no longer agree), which
            does not matter to a rewrite, that never runs or reads the weights.

Usage:
  bench_make_graph.py template --hidden 4096 --out bench/out/templates/llama-h4096.onnx
  bench_make_graph.py build --template T --layers 32 --out bench/out/llama7b-32 [--weight-gb G]
"""
import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import onnx
from onnx import TensorProto, helper  # noqa: F401  (helper: used by readers of this file)

LAYER_RE = re.compile(r"/model/layers\.(\d+)/")
ALIGN = 4096  # offsets page-aligned, as onnx's own external-data writer can do


def cmd_template(args):
    import torch
    import transformers as T
    from optimum.exporters.onnx import onnx_export_from_model

    h = args.hidden
    inter = args.intermediate or int(round(h * 11008 / 4096))
    heads = max(1, h // 128)
    cfg = T.LlamaConfig(vocab_size=32000, hidden_size=h, intermediate_size=inter,
                        num_hidden_layers=2, num_attention_heads=heads, num_key_value_heads=heads,
                        max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0,
                        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                        torch_dtype="float16")
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float16)
    t0 = time.time()
    model = T.LlamaForCausalLM(cfg).eval()
    # Fresh RMSNorm scales are all 1: the exporter would then deduplicate them into
    # Identity nodes, which a trained checkpoint never shows. Perturb them.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.mul_(1.0 + 0.2 * torch.randn_like(p))
    print(f"init {time.time() - t0:.1f}s", file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix="painters-bench-export-", dir=args.tmp))
    try:
        t0 = time.time()
        onnx_export_from_model(model, str(tmp), task="text-generation-with-past", device="cpu",
                               no_post_process=True, do_validation=False)
        print(f"export {time.time() - t0:.1f}s", file=sys.stderr)
        del model
        m = onnx.load(str(tmp / "model.onnx"), load_external_data=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for t in m.graph.initializer:  # drop the weights, keep names/dtypes/dims
        t.ClearField("raw_data")
        for f in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
            t.ClearField(f)
        del t.external_data[:]
        t.data_location = TensorProto.DEFAULT
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(m, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes, {len(m.graph.node)} nodes)")


def nbytes(t):
    n = 1
    for d in t.dims:
        n *= d
    return n * {TensorProto.FLOAT16: 2, TensorProto.BFLOAT16: 2, TensorProto.FLOAT: 4,
                TensorProto.INT64: 8, TensorProto.INT32: 4, TensorProto.DOUBLE: 8}[t.data_type]


def clone(msg):
    c = type(msg)()
    c.CopyFrom(msg)
    return c


def layer_of(node):
    m = LAYER_RE.search(node.name)
    return int(m.group(1)) if m else None


def cmd_build(args):
    t0 = time.time()
    tm = onnx.load(args.template, load_external_data=False)
    g = tm.graph
    L = args.layers
    assert L >= 2
    nodes = list(g.node)  # protobuf wrappers: identify nodes by index, never by id()
    consumers = {}
    for k, n in enumerate(nodes):
        for x in n.input:
            consumers.setdefault(x, []).append(k)
    # Block 1: nodes named layers.1, plus unscoped nodes (Constants) read only by it.
    b1_ids = {k for k, n in enumerate(nodes) if layer_of(n) == 1}
    changed = True
    while changed:
        changed = False
        for k, n in enumerate(nodes):
            if k in b1_ids or layer_of(n) is not None or n.input:
                continue
            users = [c for o in n.output for c in consumers.get(o, [])]
            if users and all(c in b1_ids for c in users):
                b1_ids.add(k)
                changed = True
    b1 = [n for k, n in enumerate(nodes) if k in b1_ids]
    produced = {o for n in b1 for o in n.output}
    inits = {t.name: t for t in g.initializer}
    b1_inits = sorted({x for n in b1 for x in n.input if x in inits})
    residual_in = "/model/layers.0/Add_1_output_0"
    residual_out = "/model/layers.1/Add_1_output_0"
    assert residual_in in {x for n in b1 for x in n.input}, "template's block 1 does not read layers.0's output"
    assert residual_out in produced

    counter = [100000]

    def fresh_const():
        counter[0] += 1
        return counter[0]

    def rename_tensor(name, i):
        if name == "past_key_values.1.key":
            return f"past_key_values.{i}.key"
        if name == "past_key_values.1.value":
            return f"past_key_values.{i}.value"
        if name == "present.1.key":
            return f"present.{i}.key"
        if name == "present.1.value":
            return f"present.{i}.value"
        if name == residual_in:
            return f"/model/layers.{i - 1}/Add_1_output_0"
        if name in inits:
            if "layers.1." in name:
                return name.replace("layers.1.", f"layers.{i}.")
            return f"onnx::{name.split('::')[-1].split('_')[0]}_{i}_{name.split('_')[-1]}"
        if name in produced:
            if "/model/layers.1/" in name:
                return name.replace("/model/layers.1/", f"/model/layers.{i}/")
            return f"{name}__layer{i}"
        return name  # context tensors (rotary tables, mask), shared by every layer

    new_nodes = []
    # prologue + layer 0 + layer 1 (original), then copies 2..L-1, then the epilogue.
    epilogue = []
    for k, n in enumerate(nodes):
        if k in b1_ids:
            continue
        if any(x == residual_out for x in n.input):
            epilogue.append(n)
            continue
        if epilogue:  # anything after the epilogue's first node stays in the epilogue
            epilogue.append(n)
        else:
            new_nodes.append(n)
    new_nodes.extend(b1)
    new_inits = list(g.initializer)
    new_inputs = list(g.input)
    new_outputs = [o for o in g.output if not o.name.startswith("present.")]
    kv_in = {x.name: x for x in g.input}
    kv_out = {x.name: x for x in g.output}
    present_outputs = [kv_out["present.0.key"], kv_out["present.0.value"],
                       kv_out["present.1.key"], kv_out["present.1.value"]]
    for i in range(2, L):
        for n in b1:
            c = onnx.NodeProto()
            c.CopyFrom(n)
            if "/model/layers.1/" in c.name:
                c.name = c.name.replace("/model/layers.1/", f"/model/layers.{i}/")
            else:
                c.name = f"/Constant_{fresh_const()}"
            del c.input[:]
            c.input.extend(rename_tensor(x, i) if x else x for x in n.input)
            del c.output[:]
            c.output.extend(rename_tensor(x, i) for x in n.output)
            new_nodes.append(c)
        for name in b1_inits:
            t = TensorProto()
            t.CopyFrom(inits[name])
            t.name = rename_tensor(name, i)
            new_inits.append(t)
        for kv in ("key", "value"):
            vi = onnx.ValueInfoProto()
            vi.CopyFrom(kv_in[f"past_key_values.1.{kv}"])
            vi.name = f"past_key_values.{i}.{kv}"
            new_inputs.append(vi)
            vo = onnx.ValueInfoProto()
            vo.CopyFrom(kv_out[f"present.1.{kv}"])
            vo.name = f"present.{i}.{kv}"
            present_outputs.append(vo)
    last = f"/model/layers.{L - 1}/Add_1_output_0"
    # Copy everything out before clearing the repeated fields (protobuf wrappers of
    # removed elements must not be relied on).
    new_nodes = [clone(n) for n in new_nodes]
    epilogue = [clone(n) for n in epilogue]
    new_inits = [clone(t) for t in new_inits]
    new_inputs = [clone(x) for x in new_inputs]
    new_outputs = [clone(x) for x in new_outputs]
    present_outputs = [clone(x) for x in present_outputs]
    for n in epilogue:
        for k, x in enumerate(n.input):
            if x == residual_out:
                n.input[k] = last
    new_nodes.extend(epilogue)
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    del g.input[:]
    g.input.extend(new_inputs)
    del g.output[:]
    g.output.extend(new_outputs + present_outputs)
    del g.value_info[:]

    # Point every initializer at one sparse external file.
    total = sum(nbytes(t) for t in g.initializer)
    scale = 1.0
    if args.weight_gb:
        scale = args.weight_gb * 1e9 / total
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "model.onnx.data"
    off = 0
    for t in g.initializer:
        if scale != 1.0 and len(t.dims) >= 2:
            t.dims[0] = max(1, int(round(t.dims[0] * scale)))
        n = nbytes(t)
        del t.external_data[:]
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", "model.onnx.data"), ("offset", str(off)), ("length", str(n))):
            e = t.external_data.add()
            e.key, e.value = k, v
        off += n
        off = (off + ALIGN - 1) // ALIGN * ALIGN
    if data.exists():
        data.unlink()
    with open(data, "wb") as f:
        f.truncate(off)
    onnx.save(tm, str(out / "model.onnx"))
    print(f"wrote {out}/model.onnx ({os.path.getsize(out / 'model.onnx')} bytes, {len(g.node)} nodes, "
          f"{len(g.initializer)} initializers, {L} layers), model.onnx.data {off / 1e9:.2f} GB sparse "
          f"({time.time() - t0:.1f}s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("template")
    t.add_argument("--hidden", type=int, default=4096)
    t.add_argument("--intermediate", type=int, default=0)
    t.add_argument("--out", required=True)
    t.add_argument("--tmp", default=None, help="folder for the temporary full export")
    b = sub.add_parser("build")
    b.add_argument("--template", required=True)
    b.add_argument("--layers", type=int, default=32)
    b.add_argument("--weight-gb", type=float, default=0.0)
    b.add_argument("--out", required=True)
    args = ap.parse_args()
    {"template": cmd_template, "build": cmd_build}[args.cmd](args)


if __name__ == "__main__":
    main()

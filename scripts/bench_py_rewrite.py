#!/usr/bin/env python3
"""The baseline for BENCHMARKS.md 1/6: the same layer-stack rewrite as `painters rewrite`,
done with the Python `onnx` package the way one would write it by hand.

  the plan string parsed by scripts/painters_ref.py (`parse_plan`, the reference scripts'
  own parser; not timed apart: it is part of "edit")
  onnx.load(path, load_external_data=False)   (weights stay where they are)
  -> split the nodes into prologue / blocks / epilogue (names `/model/layers.{i}/`, plus
     the usual fix-ups: nodes that do not depend on the residual stream (rotary tables,
     masks computed inside layer 0) are context; scope-less Constants go to the block
     that reads them)
  -> build the new node list with onnx.helper / CopyFrom: blocks in plan order, later
     copies of a block get suffixed tensor names, each executed instance its own KV
     slot, parallel groups averaged with one Mean node, the epilogue rewired
  -> drop unused initializers, onnx.save next to the source (weights shared by the
     relative `location`).

Prints one JSON line with the in-process seconds of each phase (import excluded).

Usage: bench_py_rewrite.py MODEL.onnx --plan "0-11,[12-20]*3,21-31" -o OUT.onnx
"""
import argparse
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from painters_ref import parse_plan  # noqa: E402  (scripts/painters_ref.py, stdlib only)

T_START = time.perf_counter()
import onnx  # noqa: E402
from onnx import helper  # noqa: E402

T_IMPORT = time.perf_counter()
LAYER_RE = re.compile(r"/model/layers\.(\d+)/")


# ---------------------------------------------------------------- block split
def split_blocks(g):
    nodes = list(g.node)
    producer = {}
    consumers = {}
    for k, n in enumerate(nodes):
        for o in n.output:
            producer[o] = k
        for x in n.input:
            consumers.setdefault(x, []).append(k)
    layer = [int(m.group(1)) if (m := LAYER_RE.search(n.name)) else None for n in nodes]
    # value dependence on the token ids (Shape/Size break it)
    tok = "input_ids"
    dep = [False] * len(nodes)
    dep_t = {tok}
    for k, n in enumerate(nodes):  # exporters write nodes in topological order
        if n.op_type in ("Shape", "Size"):
            continue
        if any(x in dep_t for x in n.input):
            dep[k] = True
            dep_t.update(n.output)
    section = [None] * len(nodes)  # block index, "pro" or "epi"
    last_block = max(x for x in layer if x is not None)
    seen_last = False
    for k, n in enumerate(nodes):
        if dep[k]:
            if layer[k] is not None:
                section[k] = layer[k]
                seen_last = seen_last or layer[k] == last_block
            else:
                section[k] = "epi" if seen_last else "pro"
    # non-dependent nodes: to the single block that reads them (transitively), else prologue
    for k in range(len(nodes) - 1, -1, -1):
        if dep[k]:
            continue
        secs = {section[c] for o in nodes[k].output for c in consumers.get(o, [])}
        if len(secs) == 1 and isinstance(next(iter(secs)), int):
            section[k] = next(iter(secs))
        elif secs == {"epi"}:
            section[k] = "epi"
        else:
            section[k] = "pro"
    blocks = {}
    for k, sec in enumerate(section):
        if isinstance(sec, int):
            blocks.setdefault(sec, []).append(k)
    info = {}
    for b, ks in blocks.items():
        inside = {o for k in ks for o in nodes[k].output}
        ins = {x for k in ks for x in nodes[k].input if x and x not in inside and x in dep_t}
        outs = {o for k in ks for o in nodes[k].output
                if any(section[c] != b for c in consumers.get(o, []))}
        stream_in = [x for x in ins if not x.startswith("past_key_values.")]
        assert len(stream_in) == 1, (b, stream_in)
        stream_out = [o for o in outs if not o.startswith("present.")]
        assert len(stream_out) == 1, (b, stream_out)
        info[b] = dict(nodes=ks, input=stream_in[0], output=stream_out[0], inside=inside)
    pro = [k for k, sec in enumerate(section) if sec == "pro"]
    epi = [k for k, sec in enumerate(section) if sec == "epi"]
    return nodes, pro, info, epi


# ---------------------------------------------------------------- emission
def rewrite(m, plan):
    g = m.graph
    nodes, pro, blocks, epi = split_blocks(g)
    out_nodes = [nodes[k] for k in pro]
    copies = {}
    slot = [0]
    new_kv_in, new_kv_out = [], []
    kv_in_vi = {x.name: x for x in g.input}
    kv_out_vi = {x.name: x for x in g.output}
    mean_count = [0]

    def instance(b, stream):
        c = copies.get(b, 0)
        copies[b] = c + 1
        s = slot[0]
        slot[0] += 1
        info = blocks[b]
        ren = {info["input"]: stream}
        for kv in ("key", "value"):
            pin, pout = f"past_key_values.{b}.{kv}", f"present.{b}.{kv}"
            if pin in kv_in_vi:
                ren[pin] = f"past_key_values.{s}.{kv}"
                vi = onnx.ValueInfoProto()
                vi.CopyFrom(kv_in_vi[pin])
                vi.name = ren[pin]
                new_kv_in.append(vi)
            if pout in kv_out_vi:
                ren[pout] = f"present.{s}.{kv}"
                vo = onnx.ValueInfoProto()
                vo.CopyFrom(kv_out_vi[pout])
                vo.name = ren[pout]
                new_kv_out.append(vo)
        suffix = f"__{c}" if c else ""
        for k in info["nodes"]:
            n = nodes[k]
            if not suffix and not any(x in ren for x in n.input) and not any(o in ren for o in n.output):
                out_nodes.append(n)
                continue
            new = helper.make_node(
                n.op_type,
                [ren.get(x, x + suffix if x in info["inside"] else x) for x in n.input],
                [ren.get(o, o + suffix) for o in n.output],
                name=n.name + suffix, domain=n.domain or None)
            new.attribute.extend(n.attribute)
            out_nodes.append(new)
        return info["output"] + suffix

    def emit(p, stream):
        kind = p[0]
        if kind == "block":
            return instance(p[1], stream)
        if kind == "seq":
            for it in p[1]:
                stream = emit(it, stream)
            return stream
        if kind == "rep":
            for _ in range(p[2]):
                stream = emit(p[1], stream)
            return stream
        if kind == "par":
            outs = [emit(br, stream) for br in p[1]]
            mean_count[0] += 1
            name = f"/painters/parallel_{mean_count[0]}/Mean"
            out_nodes.append(helper.make_node("Mean", outs, [name + "_output_0"], name=name))
            return name + "_output_0"
        raise ValueError(kind)

    last_out = blocks[max(blocks)]["output"]
    final = emit(plan, blocks[min(blocks)]["input"])
    for k in epi:
        n = nodes[k]
        if last_out in n.input and final != last_out:
            new = onnx.NodeProto()
            new.CopyFrom(n)
            for i, x in enumerate(new.input):
                if x == last_out:
                    new.input[i] = final
            out_nodes.append(new)
        else:
            out_nodes.append(n)
    used = {x for n in out_nodes for x in n.input}
    keep_init = [t for t in g.initializer if t.name in used]
    inputs = [x for x in g.input if not x.name.startswith("past_key_values.")] + new_kv_in
    outputs = [x for x in g.output if not x.name.startswith("present.")] + new_kv_out
    graph = helper.make_graph(out_nodes, g.name, inputs, outputs, keep_init)
    out = helper.make_model(graph, opset_imports=m.opset_import, ir_version=m.ir_version,
                            producer_name=m.producer_name, producer_version=m.producer_version)
    helper.set_model_props(out, {"plan": plan_text})
    return out


def main():
    global plan_text
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--plan", required=True)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    plan_text = a.plan
    t0 = time.perf_counter()
    m = onnx.load(a.model, load_external_data=False)
    t1 = time.perf_counter()
    new = rewrite(m, parse_plan(a.plan))
    t2 = time.perf_counter()
    onnx.save(new, a.output)
    t3 = time.perf_counter()
    print(json.dumps({"import": T_IMPORT - T_START, "load": t1 - t0, "edit": t2 - t1, "save": t3 - t2,
                      "total": t3 - t0, "nodes": len(new.graph.node)}))


if __name__ == "__main__":
    plan_text = ""
    main()
    sys.stdout.flush()

#!/usr/bin/env python3
"""BENCHMARKS.md 1 (rewrite at Llama-2-7B scale) and 6 (scaling with blocks and with
weight bytes). Needs the graphs of scripts/bench_make_graph.py (built here when missing,
from bench/out/templates/llama-h4096.onnx).

Usage: bench_rewrite.py --out bench/out [--runs 7] [--py-runs 5] [--only 1|6]
Writes OUT/results/rewrite.json, OUT/md/1-rewrite.md, OUT/md/6-scaling.md, OUT/plots/scaling.{svg,png}.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target/release/painters"
PY = ROOT / ".venv-fixtures/bin/python"
TEMPLATE = "bench/out/templates/llama-h4096.onnx"
SYSCALL_RE = re.compile(r"\d+\s+(\w+)")

PLANS = [
    ("identity", ["--plan", "0-31"]),
    ("skip", ["--preset", "skip", "--n", "11"]),
    ("reverse", ["--preset", "reverse", "--n", "11"]),
    ("middle-repeat", ["--preset", "middle-repeat", "--n", "11"]),
    ("looped-parallel", ["--preset", "looped-parallel", "--n", "11", "--loops", "3"]),
]


def sh(cmd):
    return " ".join(str(c) if re.fullmatch(r"[\w@%+=:,./-]+", str(c)) else f"'{c}'" for c in cmd)


def run(cmd, env=None):
    t = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=ROOT)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"failed: {sh(cmd)}\n{p.stderr}")
    return dt, p


def io_report(stderr):
    m = re.search(r"painters-io: (.*)$", stderr.strip().splitlines()[-1])
    return {k: int(v) for k, v in re.findall(r"(\w+): (\d+)", m.group(1))} if m else {}


def timed(cmd, runs, warmup=1, env=None):
    for _ in range(warmup):
        run(cmd, env)
    times, last = [], None
    for _ in range(runs):
        dt, last = run(cmd, env)
        times.append(dt)
    return times, last


def med(xs):
    return statistics.median(xs)


def ensure_model(out, layers, weight_gb=0.0):
    if not (ROOT / out / "model.onnx").exists():
        cmd = [PY, "scripts/bench_make_graph.py", "build", "--template", TEMPLATE, "--layers", str(layers), "--out", out]
        if weight_gb:
            cmd += ["--weight-gb", str(weight_gb)]
        run(cmd)
    return out


def painters_plan(spec, layers):
    _, p = run([BIN, "plan", *spec, "--layers", str(layers)])
    return p.stdout.strip()


def bench1(a, res, md):
    model = ensure_model("bench/out/models/llama7b-32", 32)
    _, p = run([BIN, "inspect", model, "--json"])
    info = json.loads(p.stdout)
    assert info["num_blocks"] == 32, info["num_blocks"]
    onnx_size = os.path.getsize(ROOT / model / "model.onnx")
    data_size = os.path.getsize(ROOT / model / "model.onnx.data")
    rows = []
    env = dict(os.environ, PAINTERS_REPORT_IO="1")
    for name, spec in PLANS:
        plan = painters_plan(spec, 32)
        out = f"{model}/out.onnx"
        cmd = [BIN, "rewrite", model, *spec, "-o", out]
        times, last = timed(cmd, a.runs, env=env)
        io = io_report(last.stderr)
        out_size = os.path.getsize(ROOT / out)
        pyout = f"{model}/py.onnx"
        pycmd = [PY, "scripts/bench_py_rewrite.py", f"{model}/model.onnx", "--plan", plan, "-o", pyout]
        pyt, pyin = [], []
        run(pycmd)
        for _ in range(a.py_runs):
            dt, pp = run(pycmd)
            pyt.append(dt)
            pyin.append(json.loads(pp.stdout.strip().splitlines()[-1]))
        r = dict(name=name, plan=plan, cmd=sh(cmd), pycmd=sh(pycmd), painters_s=times,
                 painters_med=med(times), py_proc_s=pyt, py_proc_med=med(pyt),
                 py_inproc_med=med([x["total"] for x in pyin]),
                 py_phase_med={k: med([x[k] for x in pyin]) for k in ("import", "load", "edit", "save")},
                 io=io, onnx_size=onnx_size, out_size=out_size)
        r["weights_read_via_read"] = io.get("rchar", 0)  # the .onnx is memory-mapped: read() sees only ELF headers and /proc
        r["ratio_inproc"] = r["py_inproc_med"] / r["painters_med"]
        r["ratio_proc"] = r["py_proc_med"] / r["painters_med"]
        rows.append(r)
        print(f"[1] {name}: painters {r['painters_med']:.3f}s python {r['py_inproc_med']:.3f}s "
              f"(process {r['py_proc_med']:.3f}s) io {io}", file=sys.stderr)
    st = subprocess.run(["strace", "-f", "-e", "trace=openat,open,stat,statx,newfstatat", "-o", "/dev/stdout",
                         str(BIN), "rewrite", model, "--plan", "0-31", "-o", f"{model}/out.onnx"],
                        capture_output=True, text=True, cwd=ROOT)
    data_lines = [l for l in st.stdout.splitlines() if "model.onnx.data" in l and re.match(r"\d+\s+\w+\(", l)]
    data_opened = any("open" in l.split("(")[0] for l in data_lines)
    # CPU vs wall, and the profile
    stat = perf_stat([BIN, "rewrite", model, "--plan", "0-31", "-o", f"{model}/out.onnx"])
    prof = profile([BIN, "rewrite", model, "--plan", "0-31", "-o", f"{model}/out.onnx"], "rewrite-32")
    res["bench1"] = dict(model=model, onnx_size=onnx_size, data_size=data_size, nodes=info["total_nodes"],
                         rows=rows, perf_stat=stat, profile=prof,
                         data_opened=data_opened, data_syscalls=data_lines)
    w = md.append
    w("## 1. Rewrite at Llama-2-7B scale\n")
    w(f"Model: `{model}` made by `scripts/bench_make_graph.py` — a real optimum export "
      f"(TorchScript exporter, `text-generation-with-past`) of a Llama at Llama-2-7B width "
      f"(hidden 4096, intermediate 11008, 32 heads, vocab 32000, untied head), 2 layers, "
      f"replicated to 32 layers; {info['total_nodes']} nodes, `model.onnx` {onnx_size / 1e6:.2f} MB, "
      f"weights {data_size / 1e9:.2f} GB fp16 as sparse external data (`model.onnx.data`, never "
      f"read). `painters inspect` finds {info['num_blocks']} blocks ({info['detection']}).\n")
    w(f"painters: `{rows[0]['cmd']}` (and the other plans), {a.runs} timed runs after 1 warm-up, "
      f"process wall time, median. Python: `{rows[0]['pycmd']}` (onnx {onnx_version()}), "
      f"{a.py_runs} runs after 1 warm-up; *in-process* = load + edit + save without "
      f"interpreter start and `import onnx` (the fairest to Python), *process* = the whole command.\n")
    w("| plan | painters wall (s) [≤ 0.2] | Python in-process (s) | Python process (s) | ratio in-process [≥ 10×] | ratio process | bytes read with read() (rchar) | read_bytes | write_bytes (= .onnx written) | met? |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        ok_t = r["painters_med"] <= 0.2
        ok_r = r["ratio_inproc"] >= 10
        ok_io = r["weights_read_via_read"] <= 16384 and r["io"].get("read_bytes", 0) == 0
        w(f"| {r['name']} `{r['plan']}` | {r['painters_med']:.3f} | {r['py_inproc_med']:.3f} | "
          f"{r['py_proc_med']:.3f} | {r['ratio_inproc']:.2f}× | {r['ratio_proc']:.2f}× | "
          f"{r['weights_read_via_read']} B | {r['io'].get('read_bytes', '?')} | "
          f"{r['io'].get('write_bytes', '?')} ({r['out_size']} B .onnx) | "
          f"time {'✅' if ok_t else '❌'}, ratio {'✅' if ok_r else '❌'}, weights I/O {'✅' if ok_io else '❌'} |")
    w("")
    w("Python phases (median s): " + "; ".join(
        f"{r['name']}: import {r['py_phase_med']['import']:.3f}, load {r['py_phase_med']['load']:.3f}, "
        f"edit {r['py_phase_med']['edit']:.3f}, save {r['py_phase_med']['save']:.3f}" for r in rows) + "\n")
    w(f"`rchar` counts every byte painters read through `read()`: ~9 kB of shared-library ELF headers "
      f"and `/proc/self/maps` (strace); the `.onnx` is memory-mapped (parsed and BLAKE3-hashed in place) "
      f"and the 13.5 GB weight file is only `stat`ed. `read_bytes`/`write_bytes` are block-device bytes "
      f"(page cache misses / write-back of the new .onnx).\n")
    w(f"`strace -f -e trace=openat,open,stat,statx,newfstatat painters rewrite … --plan 0-31`: the weight "
      f"file is {'OPENED' if data_opened else 'never opened'}; the calls naming it: "
      f"{len(data_lines)} × {', '.join(sorted({SYSCALL_RE.match(l).group(1) for l in data_lines}))}.\n")
    w(f"CPU vs wall for the identity plan (`perf stat -r 10`): {stat}\n")
    w("Profile of the identity plan (`perf record -F 15000 --call-graph dwarf`, samples classified "
      "by `scripts/bench_profile.py`):\n")
    w(prof["table"])


def onnx_version():
    _, p = run([PY, "-c", "import onnx; print(onnx.__version__)"])
    return p.stdout.strip()


def perf_stat(cmd):
    try:
        p = subprocess.run(["perf", "stat", "-r", "10", "-x", ",", "-e", "task-clock,page-faults",
                            *map(str, cmd)], capture_output=True, text=True, cwd=ROOT)
    except FileNotFoundError:
        return "perf not available"
    vals = {}
    for line in p.stderr.splitlines():
        parts = line.split(",")
        if len(parts) > 3 and parts[2] in ("task-clock", "page-faults"):
            vals[parts[2]] = float(parts[0])
    t = time.perf_counter()
    for _ in range(10):
        run(cmd)
    wall = (time.perf_counter() - t) / 10
    return (f"task-clock {vals.get('task-clock', float('nan')):.1f} ms CPU, "
            f"{vals.get('page-faults', float('nan')):.0f} page faults, mean wall {wall * 1000:.1f} ms "
            f"(`perf stat -r 10 -e task-clock,page-faults {sh(cmd)}`)")


def profile(cmd, tag):
    data = ROOT / f"bench/out/results/perf-{tag}.data"
    data.parent.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["perf", "record", "-F", "15000", "--call-graph", "dwarf,16384", "-o", str(data),
                        *map(str, cmd)], capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        return {"table": f"(perf record failed: {p.stderr.strip()[-200:]})\n"}
    q = subprocess.run([str(PY), "scripts/bench_profile.py", str(data), "--json",
                        str(data.with_suffix(".json"))], capture_output=True, text=True, cwd=ROOT)
    return {"table": q.stdout + f"\n(`perf record -F 15000 --call-graph dwarf,16384 {sh(cmd)}`; "
                                f"`scripts/bench_profile.py {data.relative_to(ROOT)}`)\n"}


def bench6(a, res, md):
    rows_b = []
    for L in (8, 16, 32, 64, 160):
        model = ensure_model(f"bench/out/models/llama-h4096-L{L}" if L != 32 else "bench/out/models/llama7b-32", L)
        n = round(11 * L / 32)
        row = dict(layers=L, data_gb=os.path.getsize(ROOT / model / "model.onnx.data") / 1e9,
                   onnx_mb=os.path.getsize(ROOT / model / "model.onnx") / 1e6)
        for tag, spec in (("identity", ["--plan", f"0-{L - 1}"]), ("skip", ["--preset", "skip", "--n", str(n)])):
            cmd = [BIN, "rewrite", model, *spec, "-o", f"{model}/out.onnx"]
            times, _ = timed(cmd, a.runs)
            row[tag] = med(times)
            row[tag + "_cmd"] = sh(cmd)
        plan = f"0-{L - 1}"
        pycmd = [PY, "scripts/bench_py_rewrite.py", f"{model}/model.onnx", "--plan", plan, "-o", f"{model}/py.onnx"]
        run(pycmd)
        row["py_identity"] = med([json.loads(run(pycmd)[1].stdout.strip().splitlines()[-1])["total"]
                                  for _ in range(max(3, a.py_runs - 2))])
        _, p = run([BIN, "inspect", model, "--json"])
        row["nodes"] = json.loads(p.stdout)["total_nodes"]
        times, _ = timed([BIN, "inspect", model], a.runs)
        row["inspect"] = med(times)
        rows_b.append(row)
        print(f"[6] L={L}: {row}", file=sys.stderr)
    rows_w = []
    for gb in (1, 10, 100):
        model = ensure_model(f"bench/out/models/llama-h4096-L32-{gb}GB", 32, gb)
        row = dict(target_gb=gb, data_gb=os.path.getsize(ROOT / model / "model.onnx.data") / 1e9,
                   onnx_mb=os.path.getsize(ROOT / model / "model.onnx") / 1e6)
        for tag, spec in (("identity", ["--plan", "0-31"]), ("skip", ["--preset", "skip", "--n", "11"])):
            cmd = [BIN, "rewrite", model, *spec, "-o", f"{model}/out.onnx"]
            times, last = timed(cmd, a.runs, env=dict(os.environ, PAINTERS_REPORT_IO="1"))
            row[tag] = med(times)
            row[tag + "_cmd"] = sh(cmd)
            row[tag + "_io"] = io_report(last.stderr)
        rows_w.append(row)
        print(f"[6] {gb} GB: {row}", file=sys.stderr)
    res["bench6"] = dict(blocks=rows_b, weights=rows_w)
    plot = plot6(rows_b, rows_w)
    # linear fit time = a + b * nodes
    xs = [r["nodes"] for r in rows_b]
    ys = [r["identity"] for r in rows_b]
    b, a0, r2 = linfit(xs, ys)
    w = md.append
    w("## 6. Scaling: rewrite time vs blocks and vs weight bytes\n")
    w(f"Same generator as 1 (full Llama-2-7B width, weights as sparse external data). Commands: "
      f"`{rows_b[0]['identity_cmd']}`, `… --preset skip --n round(11·L/32)`; Python baseline "
      f"in-process time for the identity plan; median of {a.runs} runs after a warm-up.\n")
    w("| blocks | nodes | .onnx MB | weights GB (sparse) | inspect (s) | rewrite identity (s) | rewrite skip (s) | Python identity in-process (s) | ratio |")
    w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows_b:
        w(f"| {r['layers']} | {r['nodes']} | {r['onnx_mb']:.2f} | {r['data_gb']:.1f} | {r['inspect']:.3f} | "
          f"{r['identity']:.3f} | {r['skip']:.3f} | {r['py_identity']:.3f} | {r['py_identity'] / r['identity']:.2f}× |")
    w(f"\nLinear fit, identity rewrite: time = {a0 * 1000:.1f} ms + {b * 1e6:.2f} µs × nodes "
      f"(R² = {r2:.3f}): {b * 1e6 * 153 / 1000:.2f} ms per 153-node block.\n")
    w("| weights (target) | weights GB (sparse) | .onnx MB | rewrite identity (s) | rewrite skip (s) | bytes read with read() (rchar) | read_bytes |")
    w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows_w:
        io = r["identity_io"]
        w(f"| {r['target_gb']} GB | {r['data_gb']:.1f} | {r['onnx_mb']:.2f} | {r['identity']:.3f} | {r['skip']:.3f} | "
          f"{io.get('rchar', 0)} B | {io.get('read_bytes', '?')} |")
    w(f"\nThe 1/10/100 GB variants are the 32-block graph with the first axis of every weight "
      f"matrix scaled so the declared tensors add up to the target (`bench_make_graph.py build "
      f"--weight-gb G`; not runnable, a rewrite never runs or reads weights).\n")
    w(plot + "\n")


def linfit(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    b = sxy / sxx
    a = my - b * mx
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys))
    ss_tot = sum((y - my) ** 2 for y in ys) or 1e-30
    return b, a, 1 - ss_res / ss_tot


def plot6(rows_b, rows_w):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "(matplotlib not installed: tables only)"
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    x = [r["layers"] for r in rows_b]
    ax[0].plot(x, [r["identity"] for r in rows_b], "o-", label="painters rewrite identity")
    ax[0].plot(x, [r["skip"] for r in rows_b], "s-", label="painters rewrite skip")
    ax[0].plot(x, [r["inspect"] for r in rows_b], "^-", label="painters inspect")
    ax[0].plot(x, [r["py_identity"] for r in rows_b], "x--", label="Python onnx identity (in-process)")
    ax[0].set_xlabel("blocks (Llama-2-7B width)")
    ax[0].set_ylabel("seconds (median)")
    ax[0].set_title("time vs graph size")
    ax[0].legend(fontsize=8)
    ax[0].grid(alpha=.3)
    xw = [r["data_gb"] for r in rows_w]
    ax[1].plot(xw, [r["identity"] for r in rows_w], "o-", label="identity")
    ax[1].plot(xw, [r["skip"] for r in rows_w], "s-", label="skip")
    ax[1].set_xscale("log")
    ax[1].set_ylim(0, max(0.3, 1.3 * max(r["identity"] for r in rows_w)))
    ax[1].set_xlabel("weight bytes, GB (sparse external data, 32 blocks)")
    ax[1].set_ylabel("seconds (median)")
    ax[1].set_title("time vs weight bytes")
    ax[1].legend(fontsize=8)
    ax[1].grid(alpha=.3)
    fig.tight_layout()
    out = ROOT / "bench/out/plots"
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "scaling.svg")
    fig.savefig(out / "scaling.png", dpi=110)
    return "![rewrite scaling](docs/bench/scaling.svg)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--py-runs", type=int, default=5)
    ap.add_argument("--only", choices=["1", "6"])
    a = ap.parse_args()
    out = ROOT / a.out
    (out / "results").mkdir(parents=True, exist_ok=True)
    (out / "md").mkdir(parents=True, exist_ok=True)
    res = {}
    for key, name, fn in (("1", "1-rewrite", bench1), ("6", "6-scaling", bench6)):
        if a.only not in (None, key):
            continue
        md = []
        la0 = open("/proc/loadavg").read().split()[:3]
        fn(a, res, md)
        md.append(f"(measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average before {' '.join(la0)}, after {' '.join(open('/proc/loadavg').read().split()[:3])})\n")
        (out / f"md/{name}.md").write_text("\n".join(md) + "\n")
    for k, v in res.items():
        (out / f"results/{k}.json").write_text(json.dumps(v, indent=1))


if __name__ == "__main__":
    main()

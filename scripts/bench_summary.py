#!/usr/bin/env python3
"""The summary table of BENCHMARKS.md: every target, the measured value, met or missed
(reads bench/out/results/*.json written by bench_rewrite.py and bench_models.py)."""
import json
from pathlib import Path

R = Path(__file__).resolve().parent.parent / "bench/out/results"


def load(name):
    p = R / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def row(rows, bench, target, value, ok, note=""):
    mark = "✅ met" if ok else "❌ missed"
    rows.append(f"| {bench} | {target} | {value} | {mark}{(' — ' + note) if note else ''} |")


def main():
    rows = []
    b1 = load("bench1")
    if b1:
        worst_t = max(r["painters_med"] for r in b1["rows"])
        row(rows, "1 rewrite 7B-scale", "painters wall ≤ 0.2 s (every plan)", f"{min(r['painters_med'] for r in b1['rows']):.3f}–{worst_t:.3f} s", worst_t <= 0.2)
        rmin = min(r["ratio_inproc"] for r in b1["rows"])
        rmax = max(r["ratio_inproc"] for r in b1["rows"])
        pmin = min(r["ratio_proc"] for r in b1["rows"])
        row(rows, "1 rewrite 7B-scale", "≥ 10× faster than Python onnx",
            f"{rmin:.2f}–{rmax:.2f}× (vs Python load+edit+save); {pmin:.1f}× vs the whole Python process",
            rmin >= 10, f"short by {10 / rmin:.1f}× (see the profile in 1)" if rmin < 10 else "")
        wr = max(r["weights_read_via_read"] for r in b1["rows"])
        rb = max(r["io"].get("read_bytes", 0) for r in b1["rows"])
        row(rows, "1 rewrite 7B-scale", "0 bytes of weights read/written",
            f"weight file never opened; bytes read with read() = {wr} B (ELF headers, /proc), read_bytes {rb}, "
            f"write_bytes = the new .onnx only", rb == 0 and wr < 16384)
    b2 = load("2")
    if b2:
        for name in ("painters rewrite identity", "painters rewrite duplicate"):
            warm = b2["warm"][name] / b2["warm"]["cp"]
            cold = (b2["cold"][name] / b2["cold"]["cp"]) if b2["cold"] else None
            v = f"warm {warm:.2f}×" + (f", cold {cold:.2f}×" if cold else "")
            sync = b2["warm"].get("painters rewrite identity --sync")
            if sync and "cp + sync FILE" in b2["warm"] and name.endswith("identity"):
                v += f"; with --sync vs cp + sync: {sync / b2['warm']['cp + sync FILE']:.2f}×"
            row(rows, f"2 inline ({name.split()[-1]})", "≤ 1.3× cp", v, warm <= 1.3 and (cold is None or cold <= 1.3))
            rss = b2["rss"][name] / b2["size"]
            row(rows, f"2 inline ({name.split()[-1]})", "peak RSS ≤ 1.5× file size", f"{rss:.2f}× ({b2['rss'][name] / 1e6:.0f} MB)", rss <= 1.5)
    b3 = load("3")
    if b3:
        P = b3["painters_med"]
        o8, o1, t8 = b3["py"].get("ort-b8"), b3["py"].get("ort-b1"), b3["py"].get("torch-b8")
        def e2e(r):
            return r["setup_s"] + r["tokenize_s"] + r["loop_med"]
        if o8:
            v = min(e2e(o8), e2e(o1) if o1 else 1e9) / P
            row(rows, "3 eval throughput", "≥ 1.0× onnxruntime-Python", f"{v:.2f}× (end-to-end, best ORT-Python batching); loop alone {o8['loop_med'] / P:.2f}×", v >= 1.0)
        if t8:
            v = e2e(t8) / P
            row(rows, "3 eval throughput", "≥ 2× PyTorch", f"{v:.2f}× (end-to-end); loop alone {t8['loop_med'] / P:.2f}×", v >= 2)
        if "overhead_med" in b3:
            ov = b3["overhead_med"]
            row(rows, "3 eval throughput", "overhead < 3% over ORT run",
                f"{100 * ov:+.1f}% (task {b3['task_med']:.2f} s vs Σ run {b3['run_med']:.2f} s, painters.timing)", ov < 0.03)
            same = abs(o8["loglikelihood_sum"] - b3["painters"]["loglikelihood_sum,none"]) < 1e-6 * abs(o8["loglikelihood_sum"]) + 1e-3
            row(rows, "3 eval throughput", "same perplexity", f"painters {b3['painters']['token_perplexity,none']:.6f}, ORT-Python {o8['token_perplexity']:.6f}, PyTorch {t8['token_perplexity'] if t8 else float('nan'):.6f}", same)
    b4 = load("4")
    if b4:
        lat = b4["lat"]
        r = lat["identity 0-29"]["median"] / lat["original (30 blocks)"]["median"]
        row(rows, "4 latency", "identity / original = 1.00 ± 0.03", f"{r:.3f}", abs(r - 1) <= 0.03)
        f = b4["fit"]
        row(rows, "4 latency", "per-block cost, R² of a + b·blocks", f"b = {f['b'] * 1000:.2f} ms/block, a = {f['a'] * 1000:.1f} ms, R² = {f['r2']:.4f}", f["r2"] > 0.95)
    b5 = load("5")
    if b5:
        sp = b5["no-reuse"]["median"] / b5["reuse"]["median"]
        row(rows, "5 choice cache reuse", "≥ 2× faster with reuse", f"{sp:.2f}×", sp >= 2)
        same = b5["reuse"]["results"] == b5["no-reuse"]["results"]
        row(rows, "5 choice cache reuse", "identical scores", f"acc equal: {same}; max abs Δll {b5['max_ll_diff']:.1e}", same and b5["max_ll_diff"] < 1e-3)
    b6 = load("bench6")
    if b6:
        w = b6["weights"]
        ts = [r["identity"] for r in w]
        row(rows, "6 scaling", "time grows with the graph, not the weights",
            f"1→100 GB: {ts[0]:.3f}/{ts[1]:.3f}/{ts[-1]:.3f} s; 8→160 blocks: "
            f"{b6['blocks'][0]['identity']:.3f}→{b6['blocks'][-1]['identity']:.3f} s",
            max(ts) <= 1.5 * min(ts))
    b7 = load("7")
    if b7:
        s = b7["sums"]
        row(rows, "7 sweep", "wall time and where it goes", f"{b7['wall']:.0f} s: rewrite {s['rewrite']:.0f}, session {s['session']:.0f}, eval {s['eval']:.0f} s", True, "(no target)")
    print("## Summary\n")
    print("| benchmark | target | measured | verdict |")
    print("| --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

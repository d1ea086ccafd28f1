#!/usr/bin/env python3
"""Where `painters rewrite` spends its time: classify `perf record --call-graph dwarf`
samples by the painters phase on their stack (BENCHMARKS.md, profile of benchmark 1/6).

Usage: bench_profile.py PERF.DATA [--json OUT.json]
Prints a markdown table: phase, % of samples, and the hottest leaf functions per phase.
"""
import argparse
import collections
import json
import re
import subprocess
import sys

# (phase, predicate on the root->leaf list of frames). First match wins, so the
# more specific rules come first.
RULES = [
    ("load (mmap + protobuf parse)", lambda s: has(s, "cli::rewrite::main") and has(s, "OnnxModel::load")),
    ("detect: GraphIndex::new", lambda s: has(s, "detect") and has(s, "GraphIndex::new")),
    ("detect: other", lambda s: has(s, "detect_graph")),
    ("plan parse/preset", lambda s: has(s, "PlanArgs::resolve")),
    ("emit: validate", lambda s: has(s, "emit_with") and has(s, "validate::validate")),
    ("emit: build the new graph", lambda s: has(s, "emit_with")),
    ("provenance: BLAKE3 digest of the source (own thread)", lambda s: has(s, "source_digest") or has(s, "blake3")),
    ("write: kernel copy of inline weights (copy_file_range)", lambda s: has(s, "copy_to") or has(s, "copy_file_range")),
    ("write: plan + serialize + write", lambda s: has(s, "write_model") or has(s, "write_atomic") or has(s, "write_to_writer")),
    ("free models", lambda s: has(s, "cli::rewrite::main") and has(s, "drop_in_place")),
    ("other (rewrite)", lambda s: has(s, "rewrite_model")),
    ("other (cli)", lambda s: has(s, "cli::rewrite::main")),
    ("process start/exit (dynamic loader, exit_mmap, ...)", lambda s: True),
]


def has(stack, pat):
    return any(pat in f for f in stack)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--json")
    a = ap.parse_args()
    out = subprocess.run(["perf", "script", "-i", a.data, "-F", "ip,sym"], capture_output=True, text=True).stdout
    samples = []
    cur = []
    for line in out.splitlines():
        if not line.strip():
            if cur:
                samples.append(cur)
            cur = []
            continue
        m = re.match(r"\s*[0-9a-f]+\s+(.*)$", line)
        if m:
            cur.append(m.group(1))
    if cur:
        samples.append(cur)
    counts = collections.Counter()
    leaves = collections.defaultdict(collections.Counter)
    for s in samples:
        stack = list(reversed(s))  # root first
        for name, pred in RULES:
            if pred(stack):
                counts[name] += 1
                leaf = re.sub(r"\s*\(inlined\)", "", s[0])
                leaf = re.sub(r"<(painters_graph::proto::onnx::)", "<", leaf)[:70]
                leaves[name][leaf] += 1
                break
    total = sum(counts.values()) or 1
    rows = []
    print("| phase | % of CPU samples | hottest leaf functions |")
    print("| --- | ---: | --- |")
    for name, _ in RULES:
        if counts[name]:
            top = ", ".join(f"`{f}` {100 * c / total:.1f}%" for f, c in leaves[name].most_common(3))
            print(f"| {name} | {100 * counts[name] / total:.1f} | {top} |")
            rows.append({"phase": name, "pct": 100 * counts[name] / total,
                         "top": leaves[name].most_common(3)})
    print(f"\n{total} samples")
    if a.json:
        json.dump({"samples": total, "phases": rows}, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())

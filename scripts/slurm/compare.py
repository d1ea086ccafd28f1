#!/usr/bin/env python3
"""Compares a sharded sweep folder with a single-process one, the way
crates/painters-run/tests/sweep.rs does: every record of every results*.jsonl
without its "seconds" field, keyed by (preset, n, task), each key once; and
report.md without its "Evaluation time:" line. Exit 1 on any difference.
    compare.py SHARDED_OUT SINGLE_OUT
"""
import json, os, sys


def records(out):
    allr = {}
    for name in sorted(os.listdir(out)):
        if not (name.startswith("results") and name.endswith(".jsonl")):
            continue
        with open(os.path.join(out, name)) as f:
            for line in f:
                v = json.loads(line)
                v.pop("seconds", None)
                k = (v["preset"], v["n"], v["task"])
                if k in allr:
                    sys.exit(f"compare: {out}: {k} twice")
                allr[k] = v
    return allr


def report(out):
    with open(os.path.join(out, "report.md")) as f:
        return [l.rstrip("\n") for l in f if not l.startswith("Evaluation time:")]


def main():
    sharded, single = sys.argv[1:3]
    a, b = records(sharded), records(single)
    ok = True
    if a.keys() != b.keys():
        ok = False
        print(f"compare: only sharded: {sorted(a.keys() - b.keys(), key=str)}; only single: {sorted(b.keys() - a.keys(), key=str)}")
    diff = [k for k in a.keys() & b.keys() if a[k] != b[k]]
    for k in sorted(diff, key=str)[:5]:
        print(f"compare: record {k} differs:\n  sharded {json.dumps(a[k])[:400]}\n  single  {json.dumps(b[k])[:400]}")
    ok = ok and not diff
    ra, rb = report(sharded), report(single)
    if ra != rb:
        ok = False
        import difflib
        print("compare: report.md differs:")
        sys.stdout.writelines(l + "\n" for l in list(difflib.unified_diff(rb, ra, "single/report.md", "sharded/report.md", lineterm=""))[:40])
    print(f"compare: {len(a)} records (single: {len(b)}), report.md {len(ra)} lines: {'identical' if ok else 'DIFFERENT'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

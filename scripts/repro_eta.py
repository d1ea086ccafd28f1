#!/usr/bin/env python3
"""The time a sharded sweep has left, for RUN.md (scripts/repro.sh publish).

Usage: scripts/repro_eta.py OUT SHARDS PAR

Reads OUT/sweep*.json (the configurations and tasks) and OUT/results*.jsonl. A
configuration's cost (its records' rewrite + session + evaluation seconds) is fitted
by least squares as a + b * (block instances its plan runs), over the configurations
with every task done. Each shard's remaining configurations (those at positions
i % SHARDS == shard - 1, as `painters sweep --shard`, less the ones with every task
done and the ones that run an earlier configuration's blocks, which no shard
evaluates) then cost the fit times the share of the tasks still to do, where a
task's share is its mean share of a finished configuration's time. The shards are
laid out PAR at a time in order, as repro.sh starts them, and the line printed is
when the last would finish. Prints nothing when fewer than 3 configurations are
finished (no fit) or nothing is left.
"""
import glob
import json
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from painters_ref import instances, order, parse_plan  # noqa: E402  (scripts/painters_ref.py)


def main():
    out, shards, par = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    manifests = sorted(glob.glob(os.path.join(out, "sweep*.json")))
    if not manifests:
        return
    m = json.load(open(manifests[0]))
    configs, tasks = m["configs"], m["tasks"]
    spent = defaultdict(float)
    task_s = defaultdict(dict)
    for f in glob.glob(os.path.join(out, "results*.jsonl")):
        for line in open(f):
            if not line.strip():
                continue
            r = json.loads(line)
            k = (r["preset"], r["n"])
            s = r["seconds"]["eval"] + r["seconds"]["rewrite"] + r["seconds"]["session"]
            spent[k] += s
            task_s[k][r["task"]] = s
    plans = [(p, n, parse_plan(plan)) for p, n, plan in configs]
    inst = [instances(t) for _, _, t in plans]
    done = [len(task_s[(p, n)]) == len(tasks) for p, n, _ in plans]
    pts = [(inst[i], spent[(p, n)]) for i, (p, n, _) in enumerate(plans) if done[i]]
    if len(pts) < 3:
        return
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    b = sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else 0.0
    a = my - b * mx
    share = {t: sum(task_s[(p, n)][t] / spent[(p, n)] for i, (p, n, _) in enumerate(plans) if done[i]) / len(pts) for t in tasks}
    seen = set()
    left = [0.0] * shards
    count = [0] * shards
    for i, (p, n, tree) in enumerate(plans):
        o = order(tree)
        key = tuple(o) if o is not None else configs[i][2]
        if key in seen:
            continue
        seen.add(key)
        if done[i]:
            continue
        todo = sum(share[t] for t in tasks if t not in task_s[(p, n)])
        left[i % shards] += (a + b * inst[i]) * todo
        count[i % shards] += 1
    if not any(count):
        return
    # PAR slots, shards started in order as slots free up (repro.sh).
    slots = [0.0] * par
    for s in range(shards):
        j = min(range(par), key=lambda k: slots[k])
        slots[j] += left[s]
    wall = max(slots)
    per = ", ".join(f"{s + 1}: {count[s]}" for s in range(shards) if count[s])
    print(
        f"Time left: about {wall / 3600:.1f} h of this machine with {par} shards side by side "
        f"({sum(count)} configurations to evaluate; per shard {per}). From a least-squares fit of a "
        f"configuration's seconds against the block instances it runs over the {len(pts)} finished ones: "
        f"{a:.0f} s + {b:.1f} s per instance."
    )


main()

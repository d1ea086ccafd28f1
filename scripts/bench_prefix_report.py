"""BENCHMARKS.md §10 from out/bench-prefix.jsonl (scripts/bench_prefix.sh):
per task, the median time of the models running the first B blocks, the
least-squares fit t = a + b·B, and the share of a reproduction's evaluation
time that starting every configuration at N from a cached stream would save:
each configuration at start layer N skips its N + 1 prefix blocks, and the
cache costs one prefix pass per N (the memory and copies of the cache itself
are not counted, so this is an upper bound)."""
import json, statistics, sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1])]
configs = [tuple(map(int, l.split())) for l in open(sys.argv[2])]  # (N, instances)
by = defaultdict(list)
for r in rows:
    by[(r["task"], r["blocks"])].append(r["task_s"])
print("| task | B = 1 | B = 8 | B = 15 | B = 30 | a (s) | b (s/block) | R² | saved at most |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for task in sorted({t for t, _ in by}):
    pts = sorted((b, statistics.median(v)) for (t, b), v in by.items() if t == task)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    b = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x in xs)
    a = my - b * mx
    ss = sum((y - my) ** 2 for y in ys)
    r2 = 1 - sum((y - a - b * x) ** 2 for x, y in pts) / ss if ss else 1.0
    total = sum(a + b * inst for _, inst in configs)
    skipped = sum(b * (n + 1) for n, _ in configs)
    once = sum(b * (n + 1) for n in {n for n, _ in configs})
    cells = " | ".join(f"{y:.2f}" for y in ys)
    print(f"| {task} | {cells} | {a:.2f} | {b:.4f} | {r2:.4f} | {(skipped - once) / total:.1%} |")
print()
print(f"{len(configs)} configurations; Σ instances {sum(i for _, i in configs)}; Σ prefix blocks a cache would skip {sum(n + 1 for n, _ in configs)} (less one prefix pass per N).")

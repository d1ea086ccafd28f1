#!/usr/bin/env python3
"""An independent check of a sweep's intervals (docs/EVAL.md, "Intervals and verdicts").

    python3 scripts/check_report.py OUT_OR_RESULTS_FOLDER

Recomputes, with the Python standard library only and from the per-example scores in
`results*.jsonl`, what `painters sweep` printed in `report.md` and `normalized_score.csv`:
  - every record's value from its units (the mean, or exp(-sum ll / sum tokens));
  - every record's 95% interval: the percentiles (linear interpolation, numpy's and R's
    default) of the metric over 1000 resamples of the task's examples, drawn by
    SplitMix64 seeded with 0x9A1D7E25 XOR FNV-1a(task name);
  - every normalised score (score - random) / (full - random) and its interval over the
    same draws (paired: the full model resampled alike), random being the suite's chance
    raised to the uniform model's score (read from the report's Setup table, where it is
    printed to 3 decimals: as a count over the task's examples it is recovered exactly);
  - every row of Figure 11 (normalized_score.csv): the median over the kept tasks on every
    draw, and its percentiles, to 1e-9;
  - every claim's statistic, interval and verdict (the worst preset, looping, skip, order,
    shared representation space), over the Ms the report lists for it, checking that
    none of those Ms has a compared configuration that is the full model; where the
    folder has claims.json, its full-precision values, intervals and verdicts to 1e-9,
    the examples that would resolve an inconclusive claim, and that it holds the
    report's claims.
Which tasks enter the normalised scores (the full model beats the uniform model) is taken
from the report: a row with a normalised score. A configuration that lacks one of those
tasks (a partial run) must have no normalised score and be named as not yet in them. The report's tables print 3-4 decimals; they are compared to half a unit of their last
digit. Prints one line and exits 0 when everything agrees; else lists the disagreements
and exits 1.
"""
import csv
import glob
import json
import math
import os
import re
import sys

DRAWS = 1000
SEED = 0x9A1D7E25
MASK = (1 << 64) - 1


def fnv(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def resamples(task, n):
    state = SEED ^ fnv(task)
    out = []
    for _ in range(DRAWS):
        idx = []
        for _ in range(n):
            state = (state + 0x9E3779B97F4A7C15) & MASK
            z = state
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            idx.append((z ^ (z >> 31)) % n)
        out.append(idx)
    return out


def stat(units, idx):
    v = units["values"]
    num = math.fsum(map(v.__getitem__, idx))
    w = units.get("weights")
    if w is None:
        return num / len(idx)
    return math.exp(-num / math.fsum(map(w.__getitem__, idx)))


def percentiles(draws):
    v = sorted(x for x in draws if math.isfinite(x))
    if len(v) < 2:
        return None

    def at(q):
        pos = q * (len(v) - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        return v[lo] + (v[hi] - v[lo]) * (pos - lo)

    return at(0.025), at(0.975)


def median(xs):
    v = sorted(x for x in xs if math.isfinite(x))
    if not v:
        return math.nan
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def close(printed, x):
    """A number printed to 3 decimals against its recomputation (relative slack for huge ones)."""
    return abs(printed - x) <= 5e-4 + 1e-9 * abs(x)


def compare_interval(what, printed, ci, bad):
    """A printed "[lo, hi]" (or "-") against a recomputed interval (or None); True when one was compared."""
    if printed == "-" or ci is None:
        if printed != "-" or ci is not None:
            bad.append(f"{what}: interval printed {printed}, recomputed {ci}")
        return False
    lo, hi = (float(x) for x in printed.strip("[]").split(","))
    if not (close(lo, ci[0]) and close(hi, ci[1])):
        bad.append(f"{what}: interval printed {printed}, recomputed [{ci[0]:.6f}, {ci[1]:.6f}]")
    return True


def table(lines, header_start):
    """The rows of the markdown table whose header line starts with header_start, as dicts."""
    for i, line in enumerate(lines):
        if line.startswith(header_start):
            head = [c.strip() for c in line.strip().strip("|").split("|")]
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(head, [c.strip() for c in row.strip().strip("|").split("|")])))
            return rows
    return []


NUM = r"(-?[0-9.]+)"
MAIN = re.compile(r" = " + NUM + r", 95% interval \[" + NUM + ", " + NUM + r"\]")
AT_M = re.compile(r"M=(\d+): " + NUM + r" \[" + NUM + ", " + NUM + r"\] (agrees|disagrees|inconclusive)")


def verdict(ci):
    return "agrees" if ci[0] > 0 else "disagrees" if ci[1] < 0 else "inconclusive"


def needed(d, ci, n):
    """Examples per task resolving an inconclusive statistic d: n (h / |d|)^2, h the interval's reach
    from d towards 0, to two significant figures (docs/EVAL.md); None when decided or d is 0."""
    if verdict(ci) != "inconclusive" or abs(d) <= 1e-12:
        return None
    h = d - ci[0] if d > 0 else ci[1] - d
    k = math.ceil(n * (h / abs(d)) ** 2)
    if k >= 1e12:
        return None
    if k < 100:
        return k
    p = 10 ** (len(str(k)) - 2)
    return (k + p // 2) // p * p


def fmin(x, y):
    """The smaller, ignoring a NaN (Rust's f64::min)."""
    return y if math.isnan(x) else x if math.isnan(y) else min(x, y)


def mean_draws(rows):
    return [sum(r[b] for r in rows) / len(rows) for b in range(DRAWS)]


def check_claims(lines, folder, norm, norm_point, rows, records, bad):
    """Each claim's printed statistic, interval and verdict against a recomputation; returns the count."""
    med = {k: [median(x[b] for x in by.values()) for b in range(DRAWS)] for k, by in norm.items()}
    med_point = {k: median(by.values()) for k, by in norm_point.items()}
    is_full = {(r["preset"], int(r["M"])) for r in rows if r["plan"].endswith("` = full")}
    count = 0
    path = os.path.join(folder, "claims.json")
    js = {c["claim"]: c for c in json.load(open(path))["claims"]} if os.path.exists(path) else None
    if js is not None:
        named = {m.group(1) for l in lines if (m := re.match(r"- \*\*(.+?)\*\* \(paper\)", l))}
        if named != set(js):
            bad.append(f"claims.json has {sorted(js)}, report.md {sorted(named)}")

    def entry(name, m=None):
        """The claims.json entry of a claim (or of its statistic at M), if the folder has one."""
        if js is None:
            return None
        c = js.get(name)
        if c is not None and m is not None:
            c = next((x for x in c.get("per_m", []) if x["m"] == m), None)
        if c is None:
            bad.append(f"claims.json: no entry for {name}" + (f" at M={m}" if m is not None else ""))
        return c or None

    def expect(what, printed, point, draws, j=None):
        """A printed statistic (3 decimals) and, where claims.json has it, its full-precision value, against a recomputation."""
        nonlocal count
        ci = percentiles(draws)
        p, lo, hi = (float(x) for x in printed[:3])
        if ci is None or not (close(p, point) and close(lo, ci[0]) and close(hi, ci[1])):
            bad.append(f"{what}: printed {p} [{lo}, {hi}], recomputed {point:.6f} {ci}")
        elif len(printed) > 3 and printed[3] != verdict(ci):
            bad.append(f"{what}: verdict {printed[3]}, interval {ci}")
        if j is not None and ci is not None:
            near = lambda a, b: a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
            if not (near(j["value"], point) and j["ci95"] and near(j["ci95"][0], ci[0]) and near(j["ci95"][1], ci[1])) or j["verdict"] != verdict(ci):
                bad.append(f"{what}: claims.json {j['value']} {j['ci95']} {j['verdict']}, recomputed {point!r} {ci} {verdict(ci)}")
            elif "examples_needed" in j and j["examples_needed"] != needed(point, ci, j["examples_per_task"][0]):
                bad.append(f"{what}: claims.json needs {j['examples_needed']} examples, recomputed {needed(point, ci, j['examples_per_task'][0])}")
        count += 1

    def line(name):
        return next((l for l in lines if l.startswith(f"- **{name}**")), None)

    def word(l):
        return re.search(r"\*\* \(paper\): \*\*([a-z]+)", l).group(1)

    def mean_of(preset, ms):
        return sum(med_point[(preset, m)] for m in ms) / len(ms), mean_draws([med[(preset, m)] for m in ms])

    if (l := line("Repeating the centre layer is the worst")) and (mm := MAIN.search(l)):
        best = None
        for p, v, ms in re.findall(r"`([^`]+)` " + NUM + r" \(M ([0-9, ]+)\)", l.split("each preset's margin: ", 1)[-1]):
            ms = [int(x) for x in ms.split(", ")]
            for m in ms:
                if (p, m) in is_full or ("middle-repeat", m) in is_full:
                    bad.append(f"worst: {p} compared at M={m}, where a compared configuration is the full model")
            (a, da), (b, db) = mean_of(p, ms), mean_of("middle-repeat", ms)
            if not close(float(v), a - b):
                bad.append(f"worst: {p}'s margin printed {v}, recomputed {a - b:.6f}")
            d = [x - y for x, y in zip(da, db)]
            best = (a - b, d) if best is None else (min(best[0], a - b), list(map(fmin, best[1], d)))
        if best:
            expect("worst", mm.groups() + (word(l),), *best, j=entry("Repeating the centre layer is the worst"))
    if (l := line("Looping the parallel block beats a single parallel pass")) and (mm := MAIN.search(l)):
        ms = []
        for m, v, lo, hi, w in AT_M.findall(l):
            m = int(m)
            ms.append(m)
            if ("looped-parallel", m) in is_full or ("parallel", m) in is_full:
                bad.append(f"looping: compared at M={m}, where a compared configuration is the full model")
            expect(f"looping at M={m}", (v, lo, hi, w), med_point[("looped-parallel", m)] - med_point[("parallel", m)], [x - y for x, y in zip(med[("looped-parallel", m)], med[("parallel", m)])], j=entry("Looping the parallel block beats a single parallel pass", m))
        if ms:
            (a, da), (b, db) = mean_of("looped-parallel", ms), mean_of("parallel", ms)
            expect("looping", mm.groups() + (word(l),), a - b, [x - y for x, y in zip(da, db)], j=entry("Looping the parallel block beats a single parallel pass"))
    if (l := line("Skipping middle layers degrades gracefully")) and (mm := MAIN.search(l)):
        m0 = int(re.search(r"at the smallest M \((\d+)\)", l).group(1))
        skip_ms = sorted(m for (p, m) in med_point if p == "skip")
        if skip_ms and m0 != skip_ms[0]:
            bad.append(f"skip: decided at M={m0}, smallest measured {skip_ms[0]}")
        expect("skip", mm.groups() + (word(l),), med_point[("skip", m0)] - 0.5, [x - 0.5 for x in med[("skip", m0)]], j=entry("Skipping middle layers degrades gracefully"))
        for m, v, lo, hi, w in AT_M.findall(l):
            expect(f"skip at M={m}", (v, lo, hi, w), med_point[("skip", int(m))] - 0.5, [x - 0.5 for x in med[("skip", int(m))]], j=entry("Skipping middle layers degrades gracefully", int(m)))
    if (l := line("Order matters more for reasoning and math than for semantic tasks")) and (mm := MAIN.search(l)):
        group = {r["task"]: r["group"] for r in records}
        cells = lambda g: [(k, t) for k, by in norm_point.items() if k[0] in ("reverse", "random") and k not in is_full for t in by if group.get(t) == g]
        pts = {g: [norm_point[k][t] for k, t in cells(g)] for g in ("semantic", "reasoning")}
        drs = {g: mean_draws([norm[k][t] for k, t in cells(g)]) for g in ("semantic", "reasoning")}
        point = sum(pts["semantic"]) / len(pts["semantic"]) - sum(pts["reasoning"]) / len(pts["reasoning"])
        expect("order", mm.groups() + (word(l),), point, [x - y for x, y in zip(drs["semantic"], drs["reasoning"])], j=entry("Order matters more for reasoning and math than for semantic tasks"))
    if (l := line("Middle layers share a representation space")) and (mm := MAIN.search(l)):
        sim = json.load(open(os.path.join(folder, "similarity.json")))
        per = sim["per_text"]
        n = len(per[0])
        a, b = n // 4, 3 * n // 4

        def margin(mx):
            inner = [mx[i][j] for i in range(a, b) for j in range(a, b) if i != j]
            return sum(inner) / len(inner) - sum(mx[0][j] for j in range(a, b)) / (b - a)

        texts = [margin(mx) for mx in per]
        expect("similarity", mm.groups() + (word(l),), margin(sim["matrix"]), [sum(texts[i] for i in idx) / len(idx) for idx in resamples("similarity", len(texts))], j=entry("Middle layers share a representation space"))
    return count


def main(folder):
    records = [json.loads(l) for p in sorted(glob.glob(os.path.join(folder, "results*.jsonl"))) for l in open(p) if l.strip()]
    lines = open(os.path.join(folder, "report.md")).read().splitlines()
    bad = []
    by_key = {(r["preset"], r["n"], r["task"]): r for r in records}
    n_ex = {}
    for r in records:
        if r.get("units"):
            n_ex[r["task"]] = min(n_ex.get(r["task"], 10**9), len(r["units"]["values"]))
    draws_idx = {t: resamples(t, n) for t, n in n_ex.items() if n >= 2}

    def draws(r):
        u = r.get("units")
        idx = draws_idx.get(r["task"])
        if not u or idx is None or len(u["values"]) != len(idx[0]):
            return None
        return [stat(u, i) for i in idx]

    # 1. Values from units.
    for r in records:
        if r.get("units"):
            v = stat(r["units"], range(len(r["units"]["values"])))
            if not math.isclose(v, r["value"], rel_tol=1e-9, abs_tol=1e-12):
                bad.append(f"{r['preset']} N={r['n']} {r['task']}: value {r['value']} but its units give {v}")
    # random: chance raised to the uniform model (Setup table), per task.
    setup = table(lines, "| task |")
    random = {}
    # The suite's chance level as the records hold it (the table's 3 decimals lose 1/9's).
    chance = {r["task"]: r["chance"] for r in records if r.get("chance") is not None}
    for row in setup:
        t = row["task"]
        if "random" in row and row["random"] not in ("n/a", "-"):
            random[t] = chance.get(t, float(row["random"]))
        elif row.get("chance", "n/a") != "n/a":
            c = chance.get(t, float(row["chance"]))
            u = row.get("uniform model", "n/a")
            if u != "n/a":
                u = float(u)
                n = n_ex.get(t)
                if n and abs(round(u * n) / n - u) <= 5e-4 + 1e-12:
                    u = round(u * n) / n
                c = max(c, u)
            random[t] = c
    full_draws = {r["task"]: draws(r) for r in records if r["preset"] == "full"}
    full_val = {r["task"]: r["value"] for r in records if r["preset"] == "full"}
    # 2-3. The All results table: each row's interval and normalised score.
    rows = table(lines, "| preset | N | M |")
    norm = {}  # (preset, m) -> task -> draws
    norm_point = {}
    checked = {"intervals": 0, "normalised": 0, "figure 11": 0}
    for row in rows:
        n = None if row["N"] == "-" else int(row["N"])
        preset, m, task = row["preset"], int(row["M"]), row["task"]
        same = re.search(r"` = (.+)$", row["plan"])
        if same:
            ref = same.group(1)
            mm = re.fullmatch(r"(\S+) N=(\d+)", ref)
            key = ("full", None, task) if ref == "full" else (mm.group(1), int(mm.group(2)), task)
        else:
            key = (preset, n, task)
        r = by_key.get(key)
        if r is None:
            bad.append(f"table row {preset} N={n} {task}: no record {key}")
            continue
        d = draws(r)
        ci = percentiles(d) if d else None
        if ci is None and r.get("stderr") is not None and math.isfinite(r["stderr"]):
            ci = (r["value"] - 1.96 * r["stderr"], r["value"] + 1.96 * r["stderr"])
        if compare_interval(f"{preset} N={n} {task}", row["95% interval"], ci, bad):
            checked["intervals"] += 1
        if preset == "full" or row["normalised"] == "-":
            continue
        c, f, fd = random.get(task), full_val.get(task), full_draws.get(task)
        if c is None or f is None:
            bad.append(f"{preset} N={n} {task}: normalised printed but no random or full model")
            continue
        p = (r["value"] - c) / (f - c) if abs(f - c) > 1e-12 else math.nan
        norm_point.setdefault((preset, m), {})[task] = p
        if not close(float(row["normalised"]), p):
            bad.append(f"{preset} N={n} {task}: normalised printed {row['normalised']}, recomputed {p:.6f}")
        if d and fd:
            nd = [(x - c) / (y - c) if abs(y - c) > 1e-12 else math.nan for x, y in zip(d, fd)]
            norm.setdefault((preset, m), {})[task] = nd
            compare_interval(f"{preset} N={n} {task} normalised", row["normalised 95%"], percentiles(nd), bad)
        checked["normalised"] += 1
    # 3b. A configuration has normalised scores only once it has every kept task (a partial
    # run): all of them or none, and the report names those that have none yet.
    kept = {row["task"] for row in rows if row["preset"] != "full" and row["normalised"] != "-"}
    have, printed = {}, {}
    for row in rows:
        if row["preset"] != "full":
            key = (row["preset"], int(row["M"]))
            have.setdefault(key, set()).update({row["task"]} & kept)
            if row["normalised"] != "-":
                printed.setdefault(key, set()).add(row["task"])
    lacking = {k for k, ts in have.items() if ts != kept}
    for key, ts in have.items():
        want = set() if key in lacking else kept
        if printed.get(key, set()) != want:
            bad.append(f"{key}: normalised scores printed for {sorted(printed.get(key, set()))}, expected {sorted(want)} (it has {sorted(ts)} of the kept {sorted(kept)})")
    note = next((l for l in lines if l.startswith("**Not yet in the normalised scores")), "")
    named = {(p, int(m)) for p, m in re.findall(r"(\S+) M=(\d+) \(lacks ", note)}
    if named != lacking:
        bad.append(f"report names {sorted(named)} as not yet in the normalised scores, recomputed {sorted(lacking)}")
    # 4. Figure 11 to 1e-9.
    fig = os.path.join(folder, "normalized_score.csv")
    if os.path.exists(fig):
        seen = set()
        for row in csv.DictReader(open(fig)):
            key = (row["preset"], int(row["m"]))
            seen.add(key)
            point = median(norm_point.get(key, {}).values())
            if not math.isclose(float(row["median"]), point, rel_tol=1e-9, abs_tol=1e-12):
                bad.append(f"Figure 11 {key}: median {row['median']}, recomputed {point}")
            by_task = norm.get(key)
            ci = percentiles([median(x[b] for x in by_task.values()) for b in range(DRAWS)]) if by_task else None
            if ci is None:
                if row["ci_low"] != "":
                    bad.append(f"Figure 11 {key}: interval {row['ci_low']}..{row['ci_high']}, recomputed none")
            elif row["ci_low"] == "" or any(not math.isclose(float(row[k]), v, rel_tol=1e-9, abs_tol=1e-12) for k, v in (("ci_low", ci[0]), ("ci_high", ci[1]))):
                bad.append(f"Figure 11 {key}: interval [{row['ci_low']}, {row['ci_high']}], recomputed [{ci[0]!r}, {ci[1]!r}]")
            checked["figure 11"] += 1
        for key in sorted(set(norm_point) - seen):
            bad.append(f"Figure 11 {key}: missing from normalized_score.csv")
    # 5. The claims: each statistic, its interval and its verdict, over the Ms the report lists.
    checked["claims"] = check_claims(lines, folder, norm, norm_point, rows, records, bad)
    if bad:
        print(f"check_report: {len(bad)} disagreement(s) in {folder}:")
        for b in bad:
            print("  " + b)
        return 1
    print(f"check_report: {folder}: {len(records)} records; {checked['intervals']} intervals, {checked['normalised']} normalised scores, {checked['figure 11']} Figure 11 rows and {checked['claims']} claim statistics recomputed independently: all agree")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_report.py FOLDER (a sweep's out folder, or a docs/results/ folder)")
    sys.exit(main(sys.argv[1]))

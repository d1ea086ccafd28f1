#!/usr/bin/env bash
# Picks the BIG-bench tasks of the sweep: evaluates every candidate of
# data/bigbench/candidates.json (made by scripts/fetch-data.sh) with the unmodified model and
# keeps those it solves clearly above chance. Writes scripts/suite.json, a committed file
# that is measured once (by this script) and read by the sweep.
#
# Usage: scripts/data_select_tasks.sh MODEL_DIR [--limit N] [--max-tokens T] [--out FILE] [--candidates FILE] [--fewshot K]
#   MODEL_DIR    e.g. models/smollm2-135m-past (model.onnx + tokenizer.json)
#   --candidates default data/bigbench/candidates.json; data/generated/candidates.json for the
#                tasks of scripts/data_generate.py (each task is <its folder>/<task>/task.json)
#   --fewshot K  K examples of the same task before each question (default 0; the suite then
#                gives the selected tasks "params": {"fewshot": K})
#   --limit N    examples per task (default 150; the task files are shuffled, so these are a
#                uniform sample)
#   --max-tokens skip tasks whose estimated mean prompt is longer (default 400 tokens)
#   --out FILE   default scripts/suite.json
# Per-task raw results go to data/selection/<model>/<task>.json; a rerun reuses them (delete
# that folder to measure again). suite.json is rewritten after every task, so a partial run
# leaves a partial (complete: false) file.
#
# A task is selected when, for acc or acc_norm (the metric with the larger z), all of
#   z = (metric - max(chance, uniform)) / stderr > 3   (3 standard errors above chance and
#                                                  above the uniform model, below) and
#   metric > the majority-answer rate + stderr    (so "always answer X" does not explain it),
#   metric > the uniform model's score + stderr   (so "pick the fewest tokens" does not either:
#                                                  `painters eval --uniform`, every token
#                                                  equally likely, on the same examples),
# where chance and the majority-answer rate are computed on the same N examples.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
model="${1:?usage: scripts/data_select_tasks.sh MODEL_DIR [--limit N] [--max-tokens T] [--out FILE] [--candidates FILE] [--fewshot K]}"
shift
limit=150
max_tokens=400
out=scripts/suite.json
cands=data/bigbench/candidates.json
fewshot=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --limit) limit="$2"; shift 2 ;;
    --max-tokens) max_tokens="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --candidates) cands="$2"; shift 2 ;;
    --fewshot) fewshot="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
model="${model%/}"
tasks_dir="$(dirname "$cands")"
[[ -f "$cands" ]] || { echo "no $cands: run scripts/fetch-data.sh first" >&2; exit 1; }
[[ -f "$model/model.onnx" ]] || { echo "no $model/model.onnx" >&2; exit 1; }
bin=target/release/painters
if [[ ! -x "$bin" ]]; then
  cargo build --release --locked -q
fi
raw="data/selection/$(basename "$model")$( (( fewshot > 0 )) && echo "-fewshot$fewshot" || true)"
mkdir -p "$raw"

summarize() {
  python3 - "$cands" "$raw" "$model" "$limit" "$max_tokens" "$out" "$1" "$fewshot" <<'PY'
import datetime, json, math, os, sys
cands, raw, model, limit, max_tokens, out, complete, fewshot = sys.argv[1:]
limit, max_tokens, fewshot = int(limit), float(max_tokens), int(fewshot)
c = json.load(open(cands))
selected, rejected = [], []
for t in c["tasks"]:
    name = t["task"]
    row = {"task": name, "group": t["group"], "data": os.path.join(os.path.dirname(cands), name, "task.json")}
    if t["est_prompt_tokens"] > max_tokens:
        rejected.append({**row, "reason": f"prompt ~{t['est_prompt_tokens']:.0f} tokens > {max_tokens:.0f}"})
        continue
    p = os.path.join(raw, name + ".json")
    if not os.path.exists(p):
        if complete == "1":
            rejected.append({**row, "reason": "not evaluated (painters eval failed)"})
        continue
    r = json.load(open(p))
    res = next(iter(r["results"].values()))
    n = next(iter(r["n-samples"].values()))["effective"]
    # chance and majority-answer rate on the same first-n examples
    ex = json.load(open(row["data"]))["examples"][:n]
    chance = sum(sum(1 for v in e["target_scores"].values() if v == max(e["target_scores"].values())) / len(e["target_scores"]) for e in ex) / n
    counts = {}
    for e in ex:
        ts = e["target_scores"]
        lab = next(k for k, v in ts.items() if v == max(ts.values()))
        counts[lab] = counts.get(lab, 0) + 1
    majority = max(counts.values()) / n
    # the uniform model (every token equally likely: the fewest tokens win), from
    # `painters eval --uniform` on the same examples; results measured before painters
    # reported it have none
    up = os.path.join(raw, name + ".uniform.json")
    ures = next(iter(json.load(open(up))["results"].values())) if os.path.exists(up) else {}
    m = {}
    for k in ("acc", "acc_norm"):
        v, se = res[f"{k},none"], res[f"{k}_stderr,none"]
        floor = max(chance, ures.get(f"{k},none", chance))  # above chance and above the uniform model
        z = (v - floor) / se if se > 0 else (math.inf if v > floor else 0.0)
        m[k] = (v, se, z)
    metric = max(m, key=lambda k: m[k][2])
    v, se, z = m[metric]
    row.update({
        "n": n, "chance": round(chance, 4), "majority_answer_rate": round(majority, 4),
        "acc": round(m["acc"][0], 4), "acc_stderr": round(m["acc"][1], 4),
        "acc_norm": round(m["acc_norm"][0], 4), "acc_norm_stderr": round(m["acc_norm"][1], 4),
        "metric": metric, "z": round(z, 2), "seconds": r.get("_seconds"),
    })
    # the uniform model (every token equally likely: the fewest tokens win); results
    # measured before painters reported it have none, and the check is skipped for them
    uni = ures.get(f"{metric},none")
    row["uniform_model"] = None if uni is None else round(uni, 4)
    if z > 3 and v > majority + se and (uni is None or v > uni + se):
        selected.append(row)
    else:
        row["reason"] = ("z <= 3 (over max(chance, uniform model))" if z <= 3 else "not above the majority-answer rate + 1 stderr" if v <= majority + se
                         else "not above the uniform model + 1 stderr")
        rejected.append(row)
doc = {
    "note": "Committed; measured once by scripts/data_select_tasks.sh with the unmodified model. "
            "The sweep reads this file: evaluate each task with `painters eval MODEL --task choice "
            "--data DATA --limit N` and use `metric`; normalised score = (score - chance) / (full - chance).",
    "model": model,
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
    "limit": limit,
    "fewshot": fewshot,
    "command": f"painters eval {model} --task choice --data {os.path.dirname(cands)}/<task>/task.json --limit {limit}" + (f" --fewshot {fewshot}" if fewshot else "") + " --json",
    "criterion": "max over acc/acc_norm of z = (metric - max(chance, uniform_model))/stderr > 3 and metric > majority_answer_rate + stderr "
                 "and metric > uniform_model + stderr (where measured); "
                 f"tasks with an estimated mean prompt > {max_tokens:.0f} tokens skipped",
    "complete": complete == "1",
    "counts": {g: sum(1 for s in selected if s["group"] == g) for g in ("reasoning", "semantic")},
    "tasks": selected,
    "rejected": rejected,
}
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
os.replace(tmp, out)
if complete == "1":
    print(f"{'task':42s} {'group':9s} {'n':>4s} {'chance':>6s} {'acc':>13s} {'acc_norm':>13s}  selected")
    for s in sorted(selected + [r for r in rejected if "n" in r], key=lambda s: (s["group"], s["task"])):
        print(f"{s['task']:42s} {s['group']:9s} {s['n']:4d} {s['chance']:6.3f} {s['acc']:6.3f}±{s['acc_stderr']:.3f} "
              f"{s['acc_norm']:6.3f}±{s['acc_norm_stderr']:.3f}  {'yes (' + s['metric'] + ')' if s in selected else 'no: ' + s['reason']}")
    for r in rejected:
        if "n" not in r:
            print(f"{r['task']:42s} {r['group']:9s} skipped: {r['reason']}")
    print(f"selected {doc['counts']} -> {out}")
PY
}

# cheapest first, alternating reasoning / semantic, so that a partial run covers both groups
tasks=$(python3 - "$cands" "$max_tokens" "$limit" <<'PY'
import itertools, json, sys
ts = [t for t in json.load(open(sys.argv[1]))["tasks"] if t["est_prompt_tokens"] <= float(sys.argv[2])]
cost = lambda t: min(t["n"], int(sys.argv[3])) * (t["mean_choices"] + t["est_prompt_tokens"] / 50)
groups = [sorted((t for t in ts if t["group"] == g), key=cost) for g in ("reasoning", "semantic")]
for pair in itertools.zip_longest(*groups):
    for t in pair:
        if t:
            print(t["task"])
PY
)
for task in $tasks; do
  dest="$raw/$task.json"
  if [[ -s "$dest" && -s "$raw/$task.uniform.json" ]]; then continue; fi
  if [[ ! -s "$dest" ]]; then
    # the model may be being rewritten by scripts/fetch-models.sh: wait for it (10 min at most)
    for _ in $(seq 40); do [[ -f "$model/model.onnx" && -f "$model/tokenizer.json" ]] && break; sleep 15; done
    [[ -f "$model/model.onnx" ]] || { echo "$model/model.onnx disappeared; stopping (rerun to resume)" >&2; exit 1; }
    start=$(date +%s.%N)
    if "$bin" eval "$model" --task choice --data "$tasks_dir/$task/task.json" --limit "$limit" --fewshot "$fewshot" --json >"$dest.tmp" 2>"$raw/$task.log"; then
      secs=$(python3 -c "import sys; print(round($(date +%s.%N) - $start, 1))")
      # keep the metrics, drop the per-example details; record the wall time
      python3 - "$dest.tmp" "$secs" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r.pop("details", None); r["_seconds"] = float(sys.argv[2])
json.dump(r, open(sys.argv[1], "w"), indent=1)
PY
      mv "$dest.tmp" "$dest"
      echo "$task: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); m=next(iter(r["results"].values())); print("acc %.3f acc_norm %.3f (%ss)" % (m["acc,none"], m["acc_norm,none"], r["_seconds"]))' "$dest")" >&2
    else
      echo "$task: painters eval failed (see $raw/$task.log)" >&2
      rm -f "$dest.tmp"
    fi
  fi
  # the uniform model on the same examples (no model runs: a second or so)
  if [[ -s "$dest" && ! -s "$raw/$task.uniform.json" ]]; then
    "$bin" eval "$model" --task choice --data "$tasks_dir/$task/task.json" --limit "$limit" --uniform --json \
      >"$raw/$task.uniform.json.tmp" 2>>"$raw/$task.log" && mv "$raw/$task.uniform.json.tmp" "$raw/$task.uniform.json"
  fi
  summarize 0
done
summarize 1

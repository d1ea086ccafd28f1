# Drops one task from a sweep's records in place: its lines leave every results*.jsonl
# of OUT, and the manifests (sweep*.json) go, so the next `painters sweep` with the
# suite less that task writes them anew (a suite digest covers every task; each record
# depends only on its configuration and its own task, so the others stay valid).
# Used once, 2026-12-01: ruin_names left the SmolLM2 reproduction (the uniform model
# beats the full model on it, so the report already left it out of every claim).
# Usage: python3 scripts/repro_drop_task.py OUT TASK   (stop the sweep first)
import glob, json, os, sys

out, task = sys.argv[1], sys.argv[2]
dropped = 0
for path in sorted(glob.glob(os.path.join(out, "results*.jsonl"))):
    keep = []
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                continue  # a torn last line, as the sweep ignores it
            if json.loads(line)["task"] == task:
                dropped += 1
            else:
                keep.append(line)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(keep)
    os.replace(tmp, path)
    print(f"{path}: {len(keep)} records kept")
for m in glob.glob(os.path.join(out, "sweep*.json")):
    os.remove(m)
print(f"dropped {dropped} records of {task}; manifests removed")

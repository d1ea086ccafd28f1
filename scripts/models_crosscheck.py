#!/usr/bin/env python3
"""Cross-check `painters eval --task perplexity` on the SmolLM2 exports against the
PyTorch model (scripts/reference_perplexity.py) and write the result as JSON.

    .venv-models/bin/python scripts/models_crosscheck.py \
        [--text data/text/heldout.txt] [--max-tokens 4096] [--window 512] [--stride 512] \
        [--out models/reference/smollm2-perplexity.json]

Defaults: data/text/heldout.txt (made by scripts/fetch-data.sh) with --max-tokens 4096
--window 512 --stride 512 when it exists, else tests/data/text.txt with window and
stride 256 and no token limit. The requirement is agreement within 0.5% (relative) of
the token perplexity; exits 1 when an export is further off.
"""

import argparse
import hashlib
import json
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from convert_models import sha256  # noqa: E402  (stdlib only at import)
import reference_perplexity as ref  # noqa: E402  (sets HF_HUB_OFFLINE before importing torch)

import torch  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HF_DIR = "models/hf/smollm2-135m"
EXPORTS = ["models/smollm2-135m", "models/smollm2-135m-past"]
TOLERANCE = 0.005
METRICS = ["token_perplexity", "word_perplexity", "bits_per_byte", "loglikelihood_sum",
           "n_tokens", "words", "bytes"]


def rel(a, b):
    return (a - b) / b


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--text", default=None)
    ap.add_argument("--max-tokens", type=int, default=None)
    ap.add_argument("--window", type=int, default=None)
    ap.add_argument("--stride", type=int, default=None)
    ap.add_argument("--painters", default="target/release/painters")
    ap.add_argument("--out", default="models/reference/smollm2-perplexity.json")
    a = ap.parse_args()
    heldout = ROOT / "data/text/heldout.txt"
    if a.text is None:
        if heldout.exists():
            a.text = "data/text/heldout.txt"
            defaults = dict(max_tokens=4096, window=512, stride=512)
        else:
            print("[crosscheck] data/text/heldout.txt not found: using tests/data/text.txt",
                  flush=True)
            a.text = "tests/data/text.txt"
            defaults = dict(max_tokens=None, window=256, stride=256)
        for k, v in defaults.items():
            if getattr(a, k) is None:
                setattr(a, k, v)
    if a.window is None or a.stride is None:
        ap.error("--window and --stride are needed with --text")

    text_path = ROOT / a.text
    raw = text_path.read_bytes()
    text = raw.decode("utf-8")
    params = {"window": a.window, "stride": a.stride, "max_tokens": a.max_tokens}

    t0 = time.time()
    tok = ref.load_tokenizer(ROOT / HF_DIR, None)
    model = AutoModelForCausalLM.from_pretrained(str(ROOT / HF_DIR), dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    torch_res, torch_det = ref.perplexity(model, tok, text, a.window, a.stride, a.max_tokens)
    torch_s = time.time() - t0
    print(f"[crosscheck] pytorch  {HF_DIR}: token_perplexity {torch_res['token_perplexity']:.6f} "
          f"({torch_res['n_tokens']} targets, {torch_s:.1f} s)", flush=True)

    out = {
        "text_file": a.text,
        "text_sha256": hashlib.sha256(raw).hexdigest(),
        "text_bytes": len(raw),
        "params": params,
        "task": "perplexity (docs/EVAL.md)",
        "pytorch": {"model": HF_DIR, "tokenizer": f"{HF_DIR}/tokenizer.json", "dtype": "float32",
                    "attn_implementation": "eager", "results": torch_res,
                    "total_tokens": torch_det["total_tokens"], "windows": torch_det["windows"],
                    "seconds": round(torch_s, 2)},
        "painters": {},
        "relative_diff": {},
        "tolerance": TOLERANCE,
        "versions": {p: metadata.version(p) for p in ("torch", "transformers", "tokenizers",
                                                       "onnxruntime")},
    }
    ver = subprocess.run([a.painters, "--version"], capture_output=True, text=True, cwd=ROOT)
    out["versions"]["painters"] = ver.stdout.strip()
    ok = True
    for export in EXPORTS:
        cmd = [a.painters, "eval", export, "--task", "perplexity", "--data", a.text,
               "--window", str(a.window), "--stride", str(a.stride), "--json"]
        if a.max_tokens is not None:
            cmd[-1:-1] = ["--max-tokens", str(a.max_tokens)]
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        secs = time.time() - t0
        if r.returncode != 0:
            print(f"[crosscheck] painters {export}: FAILED: {r.stderr.strip()}", flush=True)
            out["painters"][export] = {"command": " ".join(cmd), "error": r.stderr.strip()}
            ok = False
            continue
        j = json.loads(r.stdout)
        res = {m: j["results"]["perplexity"][f"{m},none"] for m in METRICS}
        for m in ("n_tokens", "words", "bytes"):
            res[m] = int(res[m])
        onnx_path = ROOT / export / "model.onnx"
        out["painters"][export] = {"command": " ".join(cmd),
                                   "model_onnx_sha256": sha256(onnx_path),
                                   "results": res, "seconds": round(secs, 2)}
        diff = {m: rel(res[m], torch_res[m]) for m in
                ("token_perplexity", "word_perplexity", "bits_per_byte", "loglikelihood_sum")}
        same_counts = all(res[m] == torch_res[m] for m in ("n_tokens", "words", "bytes"))
        out["relative_diff"][export] = {**diff, "same_counts": same_counts}
        good = abs(diff["token_perplexity"]) <= TOLERANCE and same_counts
        ok &= good
        print(f"[crosscheck] painters {export}: token_perplexity {res['token_perplexity']:.6f}, "
              f"relative diff {diff['token_perplexity']:+.3e} ({secs:.1f} s): "
              f"{'ok' if good else 'FAIL'}", flush=True)
    out["agree_within_tolerance"] = ok
    dest = ROOT / a.out
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(f"[crosscheck] wrote {a.out}", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

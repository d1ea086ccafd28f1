#!/usr/bin/env python3
"""PyTorch reference for `painters eval --task perplexity` (docs/EVAL.md "perplexity").

Runs the Hugging Face PyTorch model (not the ONNX export) on CPU in fp32 and scores it
exactly as docs/EVAL.md defines perplexity:

1. tokens = tokenizer(text) with Hugging Face's default special-token handling
   (add_special_tokens=True); --max-tokens N keeps the first N;
2. the Hugging Face sliding-window recipe: for begin = 0, S, 2S, ...: end = min(begin+W, N),
   window = tokens[begin:end], targets = its last (end - prev_end) tokens but never the
   window's first token; stop after the window that ends at N;
3. LL = sum of float64 log_softmax(fp32 logits) over the targets, n = number of targets;
4. covered text = text up to the end offset (characters) of the last kept token with a
   non-empty offset span; words = whitespace-separated words, bytes = UTF-8 length;
5. token_perplexity = exp(-LL/n), word_perplexity = exp(-LL/words),
   bits_per_byte = -LL / bytes / ln 2.

Usage (inside .venv-models, created by scripts/fetch-models.sh):

    .venv-models/bin/python scripts/reference_perplexity.py HF_DIR TEXT_FILE \
        --window W --stride S [--max-tokens N] [--tokenizer PATH] [--json]

HF_DIR is a folder loadable with AutoModelForCausalLM.from_pretrained (config.json +
weights). The tokenizer comes from --tokenizer (a tokenizer.json file, or a folder with
one) or else from HF_DIR. Runs offline (HF_HUB_OFFLINE=1).
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from painters_ref import covered_text, perplexity_windows  # noqa: E402  (scripts/painters_ref.py)


def load_tokenizer(hf_dir, tokenizer):
    if tokenizer is None:
        return AutoTokenizer.from_pretrained(str(hf_dir), use_fast=True)
    path = Path(tokenizer)
    if path.is_dir():
        if (path / "tokenizer_config.json").exists():
            return AutoTokenizer.from_pretrained(str(path), use_fast=True)
        path = path / "tokenizer.json"
    # A bare tokenizer.json: its post-processor decides which special tokens
    # tokenizer(text) adds, exactly as tokenizers.Tokenizer.encode(add_special_tokens=True).
    return PreTrainedTokenizerFast(tokenizer_file=str(path))


def perplexity(model, tok, text, window, stride, max_tokens=None):
    enc = tok(text, return_offsets_mapping=True)  # add_special_tokens=True, HF's default
    tokens = list(enc["input_ids"])
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    if max_tokens is not None:
        tokens = tokens[:max_tokens]
        offsets = offsets[:max_tokens]
    N = len(tokens)
    if N < 2:
        raise SystemExit(f"reference_perplexity: only {N} token(s), nothing to predict")
    ll = 0.0
    n = 0
    windows = []
    # the window's first token is never predicted
    for begin, end, first_target in perplexity_windows(N, window, stride):
        win = tokens[begin:end]
        n_t = len(win) - first_target
        if n_t > 0:
            ids = torch.tensor([win], dtype=torch.long)
            with torch.no_grad():
                logits = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                               use_cache=False).logits[0]  # [len, vocab], fp32
            lp = torch.log_softmax(logits.to(torch.float64), dim=-1)
            pos = torch.arange(first_target, len(win))
            tgt = torch.tensor(win[first_target:], dtype=torch.long)
            ll += float(lp[pos - 1, tgt].sum())
            n += n_t
        windows.append([begin, end, n_t])
    cover_end, words, nbytes = covered_text(text, offsets)
    results = {
        "token_perplexity": math.exp(-ll / n),
        "word_perplexity": math.exp(-ll / words) if words else None,
        "bits_per_byte": -ll / nbytes / math.log(2) if nbytes else None,
        "loglikelihood_sum": ll,
        "n_tokens": n,
        "words": words,
        "bytes": nbytes,
    }
    details = {"total_tokens": N, "first_tokens": tokens[:16], "covered_chars": cover_end,
               "windows": len(windows)}
    return results, details


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("hf_dir")
    ap.add_argument("text_file")
    ap.add_argument("--window", type=int, required=True)
    ap.add_argument("--stride", type=int, required=True)
    ap.add_argument("--max-tokens", type=int, default=None)
    ap.add_argument("--tokenizer", default=None,
                    help="tokenizer.json (or a folder holding one); default: HF_DIR")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args()
    if a.window < 2 or a.stride < 1 or a.stride > a.window:
        ap.error("need window >= 2 and 1 <= stride <= window")
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    t0 = time.time()
    tok = load_tokenizer(a.hf_dir, a.tokenizer)
    model = AutoModelForCausalLM.from_pretrained(a.hf_dir, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    text = Path(a.text_file).read_text(encoding="utf-8")
    results, details = perplexity(model, tok, text, a.window, a.stride, a.max_tokens)
    out = {
        "model": str(a.hf_dir),
        "tokenizer": str(a.tokenizer) if a.tokenizer else str(a.hf_dir),
        "data": str(a.text_file),
        "task": "perplexity",
        "params": {"window": a.window, "stride": a.stride, "max_tokens": a.max_tokens},
        "results": results,
        "details": details,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "python": sys.version.split()[0]},
        "seconds": round(time.time() - t0, 2),
    }
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        r = results
        print(f"model             {out['model']}")
        print(f"data              {out['data']} ({details['total_tokens']} tokens, "
              f"{details['windows']} windows)")
        print(f"token_perplexity  {r['token_perplexity']:.6f}")
        print(f"word_perplexity   {r['word_perplexity']:.6f}")
        print(f"bits_per_byte     {r['bits_per_byte']:.6f}")
        print(f"loglikelihood_sum {r['loglikelihood_sum']:.6f}")
        print(f"n_tokens          {r['n_tokens']}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""optimum's ORTModelForCausalLM on painters' rewritten with-past folders (a manual
check: it needs torch, so it runs in the models venv, not in the test command).

    .venv-models/bin/python scripts/clients/optimum_check.py DIR [DIR ...]

For each folder: greedy generation with the KV cache (`generate`) must equal greedy
recomputation (a forward over the whole sequence at every step, empty past). Prints
one JSON line per folder; exits 1 if any differs.
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch  # noqa: E402
from optimum.onnxruntime import ORTModelForCausalLM  # noqa: E402

PROMPT = [1, 84, 104, 101]
NEW = 12


def main(dirs):
    ok = True
    for d in dirs:
        m = ORTModelForCausalLM.from_pretrained(d, use_cache=True, use_io_binding=False)
        prompt = torch.tensor([PROMPT])
        cached = m.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False, pad_token_id=0)[0, len(PROMPT):].tolist()
        ids = prompt.clone()
        for _ in range(NEW):
            logits = m(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
            ids = torch.cat([ids, logits[:, -1:].argmax(-1)], 1)
        recomputed = ids[0, len(PROMPT):].tolist()
        layers = json.load(open(os.path.join(d, "config.json")))["num_hidden_layers"]
        same = cached == recomputed
        ok &= same
        print(json.dumps({"dir": d, "num_hidden_layers": layers, "cached": cached, "recomputed": recomputed, "equal": same}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

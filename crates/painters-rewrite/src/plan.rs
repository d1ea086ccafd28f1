//! `Plan`: a tree over block indices — what to run, in which order, how many
//! times, and what to run in parallel. `Display` prints the canonical plan
//! string of DESIGN.md §4 and `parse(display(p)) == p` for every plan the
//! parser can produce (consecutive blocks print as ranges).
use std::fmt;

use serde::{Deserialize, Serialize};

/// The most block instances a plan may run: each becomes graph nodes (a
/// 100-layer model repeated 1,000 times); checked before anything is expanded.
pub const MAX_INSTANCES: usize = 100_000;
/// The deepest nesting of groups, repeats and parallel groups a plan may have.
pub const MAX_DEPTH: usize = 64;

/// A plan over blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// Run one block.
    Block(usize),
    /// Run the items in order (`a,b` at top level, `(a,b)` nested).
    Seq(Vec<Plan>),
    /// Run every branch on the same input and average their outputs (`[a,b]`).
    Parallel(Vec<Plan>),
    /// Run `body` `times` times in sequence (`x*K`).
    Repeat { body: Box<Plan>, times: usize },
}

impl Plan {
    /// The plan running `blocks` in order.
    pub fn sequence(blocks: impl IntoIterator<Item = usize>) -> Self {
        Plan::Seq(blocks.into_iter().map(Plan::Block).collect())
    }

    /// Number of block executions (instances) the plan makes.
    /// (Saturating: a plan past [`MAX_INSTANCES`] is refused by `validate`.)
    pub fn instances(&self) -> usize {
        match self {
            Plan::Block(_) => 1,
            Plan::Seq(v) | Plan::Parallel(v) => v.iter().map(Plan::instances).fold(0, usize::saturating_add),
            Plan::Repeat { body, times } => body.instances().saturating_mul(*times),
        }
    }

    /// The block of every instance, in execution order (repeats unrolled,
    /// parallel branches one after another): what [`lower`](crate::lower())
    /// numbers, without a model.
    pub fn blocks(&self) -> Vec<usize> {
        fn walk(p: &Plan, out: &mut Vec<usize>) {
            match p {
                Plan::Block(i) => out.push(*i),
                Plan::Seq(v) | Plan::Parallel(v) => v.iter().for_each(|q| walk(q, out)),
                Plan::Repeat { body, times } => (0..*times).for_each(|_| walk(body, out)),
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    /// The stages of the lowered plan: one per block instance outside
    /// parallel groups and one per parallel group (a group of one branch is
    /// its branch). A model painters wrote reads back with one block per stage.
    pub fn stages(&self) -> usize {
        match self {
            Plan::Block(_) => 1,
            Plan::Seq(v) => v.iter().map(Plan::stages).fold(0, usize::saturating_add),
            Plan::Parallel(v) if v.len() == 1 => v[0].stages(),
            Plan::Parallel(_) => 1,
            Plan::Repeat { body, times } => body.stages().saturating_mul(*times),
        }
    }

    /// The blocks in execution order when the plan averages nothing (every
    /// parallel group has one branch, which is the group), else `None`. Two
    /// plans with the same order lower to the same stages: `0-1,2*1,3`,
    /// `0-1,[2],3` and `0-3` are one model.
    pub fn order(&self) -> Option<Vec<usize>> {
        fn averages(p: &Plan) -> bool {
            match p {
                Plan::Block(_) => false,
                Plan::Parallel(v) if v.len() > 1 => true,
                Plan::Seq(v) | Plan::Parallel(v) => v.iter().any(averages),
                Plan::Repeat { body, .. } => averages(body),
            }
        }
        (!averages(self)).then(|| self.blocks())
    }

    /// The largest block index used.
    pub fn max_block(&self) -> Option<usize> {
        match self {
            Plan::Block(i) => Some(*i),
            Plan::Seq(v) | Plan::Parallel(v) => v.iter().filter_map(Plan::max_block).max(),
            Plan::Repeat { body, .. } => body.max_block(),
        }
    }

    /// Checks the plan against a model with `count` blocks: indices exist,
    /// no parallel group or nested group is empty (as the parser refuses
    /// `[]` and `()`; a plan tree from a file could hold one, and a repeat
    /// of an empty group would run its loop for nothing), no repeat count is 0.
    pub fn validate(&self, count: usize) -> crate::Result<()> {
        if let Some(max) = self.max_block().filter(|&m| m >= count) {
            return Err(crate::RewriteError::NoSuchBlock { block: max, count });
        }
        if self.instances() > MAX_INSTANCES {
            return Err(crate::RewriteError::TooLarge { instances: self.instances(), limit: MAX_INSTANCES });
        }
        if self.depth() > MAX_DEPTH {
            return Err(crate::RewriteError::TooDeep { limit: MAX_DEPTH });
        }
        self.validate_shape(count, true)
    }

    /// Nesting depth (a block is 0).
    pub fn depth(&self) -> usize {
        match self {
            Plan::Block(_) => 0,
            Plan::Seq(v) | Plan::Parallel(v) => 1 + v.iter().map(Plan::depth).max().unwrap_or(0),
            Plan::Repeat { body, .. } => 1 + body.depth(),
        }
    }

    fn validate_shape(&self, count: usize, top: bool) -> crate::Result<()> {
        match self {
            Plan::Block(i) if *i >= count => Err(crate::RewriteError::NoSuchBlock { block: *i, count }),
            Plan::Block(_) => Ok(()),
            Plan::Parallel(v) if v.is_empty() => Err(crate::RewriteError::EmptyParallel),
            Plan::Seq(v) if v.is_empty() && !top => Err(crate::RewriteError::EmptyGroup),
            Plan::Seq(v) | Plan::Parallel(v) => v.iter().try_for_each(|p| p.validate_shape(count, false)),
            Plan::Repeat { times: 0, .. } => Err(crate::RewriteError::ZeroRepeat),
            Plan::Repeat { body, .. } => body.validate_shape(count, false),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Plan::Seq(items) => write_items(f, items),
            other => write_atom(f, other),
        }
    }
}

/// Items separated by commas, runs of consecutive single blocks as ranges.
fn write_items(f: &mut fmt::Formatter<'_>, items: &[Plan]) -> fmt::Result {
    let mut k = 0;
    let mut first = true;
    while k < items.len() {
        if !first {
            f.write_str(",")?;
        }
        first = false;
        let run = run_length(items, k);
        if let (true, Plan::Block(a), Some(Plan::Block(b))) = (run >= 2, &items[k], items.get(k + run.max(1) - 1)) {
            write!(f, "{a}-{b}")?;
            k += run;
            continue;
        }
        write_atom(f, &items[k])?;
        k += 1;
    }
    Ok(())
}

/// Length of the run starting at `k` that prints as a range: ascending
/// consecutive blocks (2 or more: `3-4`), or descending ones (3 or more:
/// `20-12`; a swapped pair stays `11,10`).
fn run_length(items: &[Plan], k: usize) -> usize {
    let Plan::Block(a) = items[k] else { return 0 };
    let Some(Plan::Block(b)) = items.get(k + 1) else { return 1 };
    // Checked: indices near usize::MAX must not wrap into a "range".
    let step: isize = if a.checked_add(1) == Some(*b) {
        1
    } else if b.checked_add(1) == Some(a) {
        -1
    } else {
        return 1;
    };
    let len = extend_run(items, k, a, step);
    if step < 0 && len < 3 {
        return 1;
    }
    len
}

fn extend_run(items: &[Plan], k: usize, a: usize, step: isize) -> usize {
    let mut len = 2;
    while let Some(Plan::Block(c)) = items.get(k + len) {
        let next = if step > 0 { a.checked_add(len) } else { a.checked_sub(len) };
        if Some(*c) == next {
            len += 1;
        } else {
            break;
        }
    }
    len
}

fn write_atom(f: &mut fmt::Formatter<'_>, p: &Plan) -> fmt::Result {
    match p {
        Plan::Block(i) => write!(f, "{i}"),
        Plan::Seq(items) => {
            f.write_str("(")?;
            write_items(f, items)?;
            f.write_str(")")
        }
        Plan::Parallel(branches) => {
            f.write_str("[")?;
            write_items(f, branches)?;
            f.write_str("]")
        }
        Plan::Repeat { body, times } => {
            match body.as_ref() {
                Plan::Repeat { .. } => {
                    f.write_str("(")?;
                    write_atom(f, body)?;
                    f.write_str(")")?;
                }
                other => write_atom(f, other)?,
            }
            write!(f, "*{times}")
        }
    }
}

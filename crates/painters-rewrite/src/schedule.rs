//! `Schedule`: what the emitted graph executes, as a sequence of stages over
//! block instances. A stage runs one block, or runs several branches on the
//! same input and averages their outputs (one `Mean`). Repeats are already
//! unrolled here; each occurrence of a block is its own instance with its
//! own names and its own KV-cache slot.

/// One stage of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Run block `i` on the current residual stream.
    Block(usize),
    /// Run every branch on the current stream; the new stream is their mean.
    Parallel(Vec<Vec<Stage>>),
}

/// A flat list of stages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    pub stages: Vec<Stage>,
}

impl Schedule {
    /// A schedule that runs `blocks` in order.
    pub fn sequence(blocks: impl IntoIterator<Item = usize>) -> Self {
        Self { stages: blocks.into_iter().map(Stage::Block).collect() }
    }

    /// Every block index used, in execution order (with repeats).
    pub fn instances(&self) -> Vec<usize> {
        fn walk(stages: &[Stage], out: &mut Vec<usize>) {
            for s in stages {
                match s {
                    Stage::Block(i) => out.push(*i),
                    Stage::Parallel(branches) => branches.iter().for_each(|b| walk(b, out)),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.stages, &mut out);
        out
    }

    /// Checks block indices against a model with `count` blocks.
    pub fn check(&self, count: usize) -> crate::Result<()> {
        fn walk(stages: &[Stage], count: usize) -> crate::Result<()> {
            for s in stages {
                match s {
                    Stage::Block(i) if *i >= count => {
                        return Err(crate::RewriteError::NoSuchBlock { block: *i, count })
                    }
                    Stage::Block(_) => {}
                    Stage::Parallel(b) if b.is_empty() => return Err(crate::RewriteError::EmptyParallel),
                    Stage::Parallel(b) => b.iter().try_for_each(|br| walk(br, count))?,
                }
            }
            Ok(())
        }
        walk(&self.stages, count)
    }
}

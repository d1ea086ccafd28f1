//! `Schedule`: what the emitted graph executes, as a sequence of stages over
//! numbered block instances. A stage runs one instance, or runs several
//! branches on the same input and averages their outputs (one `Mean`).
//! Repeats are already unrolled here. Every name and slot the emitted graph
//! gives an instance is decided by [`lower`](crate::lower()) and held in its
//! [`Instance`]: emission reads them, the write report prints them.
use serde::Serialize;

/// One executed block instance, with everything the emitted graph names after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instance {
    /// Execution order (0, 1, … over the whole schedule; also the index of its
    /// hidden-state tap `painters.hidden.{k}`).
    pub k: usize,
    /// The source block it runs.
    pub block: usize,
    /// 0 for the first instance of a block (it keeps the source's names), then 1, 2, …
    pub copy: usize,
    /// The suffix of its node and tensor names: "" for copy 0, else `__{copy}`
    /// (or `__{copy}_{n}` when a source that is itself a rewrite holds those names).
    pub suffix: String,
    /// The tensor its output stream gets.
    pub output: String,
    /// Its first KV-cache slot (`past_key_values.{slot}.*` → `present.{slot}.*`);
    /// `None` for a model without a cache.
    pub kv_slot: Option<usize>,
    /// How many cache slots it holds from `kv_slot` on (1 for an export's
    /// block; a parallel group read back from a painters rewrite holds one
    /// per branch instance; 0 without a cache).
    pub kv_slots: usize,
    /// Whether its KV tensors keep the source's names (one cache, run in its
    /// own place: the identity plan reproduces the source whatever the
    /// exporter numbered them).
    #[serde(skip)]
    pub kv_keeps_names: bool,
}

/// One stage of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Run one instance on the current residual stream.
    Block(Instance),
    /// Run every branch on the current stream; the new stream is their mean,
    /// computed by the `Mean` node `mean` (absent for a one-branch group,
    /// which is its branch).
    Parallel { branches: Vec<Vec<Stage>>, mean: Option<MeanNode> },
}

/// The `Mean` closing a parallel group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeanNode {
    /// Node name (`painters.mean.{id}`).
    pub name: String,
    /// Its output tensor.
    pub output: String,
}

/// The stages of a lowered, validated plan over one model's blocks. Made only
/// by [`lower`](crate::lower()), which validates the plan against the model
/// once; emission trusts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub(crate) stages: Vec<Stage>,
    /// Blocks of the model it was lowered for (emission checks it is given that model's layout).
    pub(crate) source_blocks: usize,
    /// The stream tensor the last stage writes (the source's last block output).
    pub(crate) final_output: String,
    /// Cache slots in all.
    pub(crate) kv_slots: usize,
    /// Whether the model has a KV cache.
    pub(crate) has_kv: bool,
}

impl Schedule {
    /// The stages.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// Every instance, in execution order.
    pub fn instances(&self) -> Vec<&Instance> {
        fn walk<'a>(stages: &'a [Stage], out: &mut Vec<&'a Instance>) {
            for s in stages {
                match s {
                    Stage::Block(i) => out.push(i),
                    Stage::Parallel { branches, .. } => branches.iter().for_each(|b| walk(b, out)),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.stages, &mut out);
        out
    }

    /// The block each instance runs, in execution order (with repeats).
    pub fn blocks(&self) -> Vec<usize> {
        self.instances().iter().map(|i| i.block).collect()
    }

    /// Blocks of the model the schedule was lowered for.
    pub fn source_blocks(&self) -> usize {
        self.source_blocks
    }

    /// The depth a runtime sees: the KV caches the instances hold, or the
    /// number of instances for a model without a cache.
    pub fn depth(&self) -> usize {
        if self.has_kv {
            self.kv_slots
        } else {
            self.instances().len()
        }
    }
}

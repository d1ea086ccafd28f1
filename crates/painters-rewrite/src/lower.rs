//! Lowering a `Plan` to the `Schedule` the emitter executes, for one model:
//! the plan is validated against the model's blocks (the one validation of a
//! rewrite), sequences flatten, repeats unroll, parallel groups become one
//! stage each, and every instance is numbered — execution index, copy,
//! name suffix, output tensor, KV slots — so emission only follows it.
use foldhash::HashSet;

use painters_graph::conventions as names;
use painters_graph::{BlockLayout, OnnxModel};

use crate::error::{Result, RewriteError};
use crate::plan::Plan;
use crate::schedule::{Instance, MeanNode, Schedule, Stage};

/// Validates `plan` against `layout` (the blocks detected in `model`) and lowers it.
pub fn lower(plan: &Plan, model: &OnnxModel, layout: &BlockLayout) -> Result<Schedule> {
    plan.validate(layout.num_blocks())?;
    let last = layout.blocks.last().ok_or(RewriteError::NoSuchBlock { block: 0, count: 0 })?;
    let mut l = Lowering {
        model,
        layout,
        taken: std::cell::OnceCell::new(),
        k: 0,
        copies: vec![0; layout.num_blocks()],
        next_slot: 0,
        final_output: last.output.clone(),
        // New `Mean` nodes are numbered after those of a source painters
        // already rewrote, so names stay unique.
        means: model.graph().node.iter().filter_map(|n| names::mean_id(n.name())).max().map_or(0, |m| m + 1),
    };
    let mut stages = Vec::new();
    l.push(plan, &mut stages);
    l.name_last(&mut stages);
    Ok(Schedule { stages, source_blocks: layout.num_blocks(), final_output: l.final_output, kv_slots: l.next_slot, has_kv: layout.has_kv_cache() })
}

/// [`lower`] of the plan running `blocks` in order.
pub fn sequence(model: &OnnxModel, layout: &BlockLayout, blocks: impl IntoIterator<Item = usize>) -> Result<Schedule> {
    lower(&Plan::sequence(blocks), model, layout)
}

struct Lowering<'a> {
    model: &'a OnnxModel,
    layout: &'a BlockLayout,
    /// Every tensor name of the source graph (built when a copy first needs it).
    taken: std::cell::OnceCell<HashSet<&'a str>>,
    k: usize,
    copies: Vec<usize>,
    next_slot: usize,
    final_output: String,
    means: usize,
}

impl<'a> Lowering<'a> {
    fn push(&mut self, plan: &Plan, out: &mut Vec<Stage>) {
        match plan {
            Plan::Block(i) => out.push(Stage::Block(self.instance(*i))),
            Plan::Seq(items) => items.iter().for_each(|p| self.push(p, out)),
            Plan::Repeat { body, times } => (0..*times).for_each(|_| self.push(body, out)),
            Plan::Parallel(branches) => {
                let branches: Vec<Vec<Stage>> = branches
                    .iter()
                    .map(|b| {
                        let mut v = Vec::new();
                        self.push(b, &mut v);
                        v
                    })
                    .collect();
                let mean = (branches.len() > 1).then(|| {
                    let name = names::mean_name(self.means);
                    self.means += 1;
                    MeanNode { output: name.clone(), name }
                });
                out.push(Stage::Parallel { branches, mean });
            }
        }
    }

    /// The next instance of block `j` (its output named as if it were not last).
    fn instance(&mut self, j: usize) -> Instance {
        let block = &self.layout.blocks[j];
        let copy = self.copies[j];
        self.copies[j] += 1;
        let suffix = if copy > 0 { self.copy_suffix(j, copy) } else { String::new() };
        let natural = format!("{}{suffix}", block.output);
        let output = if natural == self.final_output {
            // The last block's output, run elsewhere than last: a fresh name
            // (the source, itself a rewrite, may hold `{natural}__{k}` already).
            (0..)
                .map(|n| format!("{natural}{}{copy}{}", names::COPY_SEP, if n == 0 { String::new() } else { format!("_{n}") }))
                .find(|c| !self.taken().contains(c.as_str()))
                .unwrap_or_default()
        } else {
            natural
        };
        let (kv_slot, kv_slots, kv_keeps_names) = match &block.kv {
            Some(kv) => {
                // One slot per cache the block holds, in execution order: one for
                // a block of an export; several for a parallel group read back
                // from a model painters rewrote (each branch instance has its own
                // cache, told apart by the index in its names).
                let caches = cache_indices(kv.inputs.iter().chain(&kv.outputs));
                let base = self.next_slot;
                self.next_slot += caches.len().max(1);
                (Some(base), caches.len().max(1), caches.len() <= 1 && base == j)
            }
            None => (None, 0, false),
        };
        let k = self.k;
        self.k += 1;
        Instance { k, block: j, copy, suffix, output, kv_slot, kv_slots, kv_keeps_names }
    }

    /// The last stage writes the source's last block output, so the epilogue
    /// and graph outputs keep their names.
    fn name_last(&self, stages: &mut [Stage]) {
        match stages.last_mut() {
            Some(Stage::Block(i)) => i.output.clone_from(&self.final_output),
            Some(Stage::Parallel { mean: Some(m), .. }) => m.output.clone_from(&self.final_output),
            Some(Stage::Parallel { branches, mean: None }) => branches.iter_mut().for_each(|b| self.name_last(b)),
            None => {}
        }
    }

    fn taken(&self) -> &HashSet<&'a str> {
        let src = self.model.graph();
        self.taken.get_or_init(|| {
            src.node
                .iter()
                .flat_map(|n| n.output.iter().map(String::as_str))
                .chain(src.input.iter().map(|v| v.name()))
                .chain(src.initializer.iter().map(|t| t.name()))
                .collect()
        })
    }

    /// The suffix of copy `copy` of block `j`'s nodes and tensors: `__{copy}`,
    /// or `__{copy}_{n}` when a source that is itself a rewrite already
    /// holds one of the names `__{copy}` would give.
    fn copy_suffix(&self, j: usize, copy: usize) -> String {
        let src = self.model.graph();
        let nodes = &self.layout.blocks[j].nodes;
        (0..)
            .map(|n| names::copy_suffix_for(copy, n))
            .find(|suffix| {
                !nodes.iter().any(|&n| src.node[n].output.iter().any(|o| !o.is_empty() && self.taken().contains(format!("{o}{suffix}").as_str())))
            })
            .unwrap_or_default()
    }
}

/// The distinct cache indices named in a block's KV tensors, ascending.
pub(crate) fn cache_indices<'s>(names: impl IntoIterator<Item = &'s String>) -> Vec<usize> {
    let mut caches: Vec<usize> = names.into_iter().filter_map(|n| names::kv::index(n).map(|(_, _, i)| i)).collect();
    caches.sort_unstable();
    caches.dedup();
    caches
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn fixture(name: &str) -> (OnnxModel, BlockLayout) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name).join("model.onnx");
        crate::declared::open(&path, false).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn unrolls_groups_and_numbers_every_instance() {
        let (model, layout) = fixture("llama-optimum-past");
        let s = lower(&parse("0,[1,(2-3)]*2,3").unwrap(), &model, &layout).unwrap();
        let got: Vec<(usize, usize, usize, &str, Option<usize>)> =
            s.instances().iter().map(|i| (i.k, i.block, i.copy, i.suffix.as_str(), i.kv_slot)).collect();
        assert_eq!(
            got,
            vec![
                (0, 0, 0, "", Some(0)),
                (1, 1, 0, "", Some(1)),
                (2, 2, 0, "", Some(2)),
                (3, 3, 0, "", Some(3)),
                (4, 1, 1, "__1", Some(4)),
                (5, 2, 1, "__1", Some(5)),
                (6, 3, 1, "__1", Some(6)),
                (7, 3, 2, "__2", Some(7)),
            ]
        );
        assert_eq!(s.blocks(), vec![0, 1, 2, 3, 1, 2, 3, 3]);
        assert_eq!(s.depth(), 8);
        // Two parallel stages with their own Means; the last stage (a block)
        // writes the source's last block output, its earlier instance a copy name.
        let means: Vec<String> = s.stages().iter().filter_map(|st| match st { Stage::Parallel { mean: Some(m), .. } => Some(m.name.clone()), _ => None }).collect();
        assert_eq!(means, vec![names::mean_name(0), names::mean_name(1)]);
        let last = &layout.blocks[3].output;
        let inst = s.instances();
        assert_eq!(&inst[7].output, last);
        assert_eq!(inst[6].output, format!("{last}__1"));
        assert_eq!(inst[3].output, format!("{last}__0"), "block 3 run before the end gets a fresh name");
        // Only the identity keeps KV names.
        assert!(inst.iter().take(4).all(|i| i.kv_keeps_names));
        assert!(inst.iter().skip(4).all(|i| !i.kv_keeps_names));
    }

    #[test]
    fn validates_once_against_the_model() {
        let (model, layout) = fixture("llama-optimum");
        let e = lower(&parse("0-4").unwrap(), &model, &layout).unwrap_err();
        assert!(matches!(e, RewriteError::NoSuchBlock { block: 4, count: 4 }), "{e}");
        let s = lower(&parse("0-3").unwrap(), &model, &layout).unwrap();
        assert!(s.instances().iter().all(|i| i.kv_slot.is_none() && i.kv_slots == 0));
        assert_eq!(s.depth(), 4);
        // A last stage that is a parallel group: its Mean writes the last block output.
        let s = lower(&parse("0-1,[2,3]").unwrap(), &model, &layout).unwrap();
        match s.stages().last() {
            Some(Stage::Parallel { mean: Some(m), .. }) => assert_eq!(m.output, layout.blocks[3].output),
            other => panic!("{other:?}"),
        }
    }
}

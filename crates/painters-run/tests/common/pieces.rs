//! What a plan computes, worked out without the rewrite engine: the source
//! model cut into pieces with `painters_graph::subgraph::extract` (the
//! prologue, each block, the epilogue; each a session of its own) and the
//! pieces chained on the host as the plan tree says — a sequence in order,
//! a repeat unrolled, a parallel group as the mean, computed here, of its
//! branches' outputs on the same input. KV-cache inputs are fed as
//! `common::feed_for` feeds a rewritten model: the block instance executed
//! s-th reads slot s's past (slot 0's where the reference has no slot s).
//! Nothing here goes through `lower`, `Schedule` or `emit`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use painters_graph::index::node_inputs;
use painters_graph::model::proto_bytes;
use painters_graph::subgraph::{extract, FLOAT};
use painters_graph::{BlockLayout, OnnxModel};
use painters_rewrite::Plan;
use painters_run::{HostTensor, ModelSession, SessionOptions};

/// A mean of branch outputs: how the chain combines a parallel group.
pub type MeanFn = fn(&[HostTensor]) -> HostTensor;

/// The pieces of one model, open.
#[derive(Debug)]
pub struct Pieces {
    prologue: ModelSession,
    blocks: Vec<ModelSession>,
    /// The epilogue, when the main output is made after the last block
    /// (an encoder's last block output often *is* the main output).
    epilogue: Option<ModelSession>,
    /// The stream tensor the prologue makes, each block's (input, output), the main output.
    first: String,
    block_io: Vec<(String, String)>,
    head_input: String,
    pub main: String,
    /// How parallel groups are combined ([`mean`]; tests of this test swap it).
    pub mean: MeanFn,
}

impl Pieces {
    /// Cuts `model` (canonical form) along `layout`. `Err` says why the
    /// pieces cannot be chained on the host (a stream that is not float32).
    pub fn open(model: &OnnxModel, layout: &BlockLayout) -> Result<Self, String> {
        let g = model.graph();
        let main = g.output[0].name().to_string();
        let outside = |t: &str| g.initializer.iter().any(|i| i.name() == t) || g.input.iter().any(|v| v.name() == t);
        // What a list of nodes reads that neither they, an initializer nor a graph input makes.
        let reads = |nodes: &[usize]| -> Vec<String> {
            let made: Vec<&str> = nodes.iter().flat_map(|&i| g.node[i].output.iter().map(String::as_str)).collect();
            let mut out: Vec<String> = Vec::new();
            for &i in nodes {
                for t in node_inputs(&g.node[i]) {
                    if !made.contains(&t) && !outside(t) && !out.iter().any(|o| o == t) {
                        out.push(t.to_string());
                    }
                }
            }
            out
        };
        let first = layout.blocks[0].input.clone();
        let head_input = layout.blocks.last().unwrap().output.clone();
        let block_reads: Vec<Vec<String>> = layout.blocks.iter().map(|b| reads(&b.nodes)).collect();
        let with_epilogue = head_input != main;
        let head_reads = if with_epilogue { reads(&layout.epilogue) } else { Vec::new() };
        let streams: Vec<&str> = layout.blocks.iter().map(|b| b.input.as_str()).chain([head_input.as_str()]).collect();
        let mut context: Vec<String> = Vec::new();
        for (stream, r) in streams.iter().zip(block_reads.iter().chain([&head_reads])) {
            for t in r {
                if t != stream && !context.contains(t) {
                    context.push(t.clone());
                }
            }
        }
        let mut prologue_outputs = vec![first.clone()];
        prologue_outputs.extend(context.iter().cloned());
        let opts = SessionOptions { threads: 1, optimization: 0, ..Default::default() };
        let open = |nodes: &[usize], inputs: &[(String, i32)], outputs: &[String]| -> ModelSession {
            let piece = extract(&model.proto, nodes, inputs, outputs).unwrap_or_else(|e| panic!("piece {outputs:?}: {e}"));
            ModelSession::open_serialized(super::runtime(), model, &proto_bytes(&piece).unwrap(), &opts)
                .unwrap_or_else(|e| panic!("piece {outputs:?}: {e}"))
        };
        let prologue = open(&layout.prologue, &[], &prologue_outputs);
        let types: HashMap<&str, i32> =
            prologue.outputs.iter().map(String::as_str).zip(prologue.output_types.iter().map(|t| t.unwrap_or(0))).collect();
        match types.get(first.as_str()) {
            Some(&FLOAT) => {}
            other => return Err(format!("the residual stream '{first}' has element type {other:?}, not float32 (HostTensor holds no float16)")),
        }
        let typed = |names: &[String], stream: &str| -> Vec<(String, i32)> {
            names.iter().map(|n| (n.clone(), if n == stream { FLOAT } else { types[n.as_str()] })).collect()
        };
        let blocks = layout
            .blocks
            .iter()
            .zip(&block_reads)
            .map(|(b, r)| open(&b.nodes, &typed(r, &b.input), std::slice::from_ref(&b.output)))
            .collect();
        let epilogue = with_epilogue.then(|| open(&layout.epilogue, &typed(&head_reads, &head_input), std::slice::from_ref(&main)));
        let block_io = layout.blocks.iter().map(|b| (b.input.clone(), b.output.clone())).collect();
        Ok(Self { prologue, blocks, epilogue, first, block_io, head_input, main, mean })
    }

    /// The main output of `plan` run on `inputs` (the fixture's reference inputs).
    pub fn run(&mut self, plan: &Plan, inputs: &[(String, HostTensor)]) -> HostTensor {
        let mut context: HashMap<String, HostTensor> = inputs.iter().cloned().collect();
        let feed = super::feed_for(&self.prologue.inputs, inputs);
        context.extend(self.prologue.run(&feed).unwrap());
        let x = context.remove(&self.first).unwrap();
        let mut slot = 0;
        let y = self.walk(plan, x, &mut slot, &context, inputs);
        match &mut self.epilogue {
            None => y,
            Some(head) => {
                let feed = piece_feed(&head.inputs, &self.head_input, y, &context, None);
                let outs = head.run(&feed).unwrap();
                outs.into_iter().find(|(n, _)| *n == self.main).unwrap().1
            }
        }
    }

    fn walk(&mut self, plan: &Plan, x: HostTensor, slot: &mut usize, ctx: &HashMap<String, HostTensor>, inputs: &[(String, HostTensor)]) -> HostTensor {
        match plan {
            Plan::Block(j) => {
                let s = *slot;
                *slot += 1;
                let session = &mut self.blocks[*j];
                let (input, output) = &self.block_io[*j];
                let feed = piece_feed(&session.inputs, input, x, ctx, Some((s, inputs)));
                let mut outs = session.run(&feed).unwrap();
                assert_eq!(outs.len(), 1, "block {j}: one output");
                assert_eq!(&outs[0].0, output);
                outs.pop().unwrap().1
            }
            Plan::Seq(items) => items.iter().fold(x, |x, p| self.walk(p, x, slot, ctx, inputs)),
            Plan::Repeat { body, times } => (0..*times).fold(x, |x, _| self.walk(body, x, slot, ctx, inputs)),
            Plan::Parallel(branches) => {
                let outs: Vec<HostTensor> = branches.iter().map(|b| self.walk(b, x.clone(), slot, ctx, inputs)).collect();
                (self.mean)(&outs)
            }
        }
    }
}

/// The element-wise mean of float32 tensors of one shape, summed in order.
pub fn mean(outs: &[HostTensor]) -> HostTensor {
    let mut sum = outs[0].as_f32().unwrap().to_vec();
    for o in &outs[1..] {
        assert_eq!(o.shape, outs[0].shape);
        sum.iter_mut().zip(o.as_f32().unwrap()).for_each(|(a, b)| *a += b);
    }
    let n = outs.len() as f32;
    HostTensor::f32(outs[0].shape.clone(), sum.into_iter().map(|v| v / n).collect())
}

/// A piece's inputs: the stream `x` under `stream`; a KV-cache input
/// `past_key_values.{j}.{kind}` as the rewritten model's slot `s` gets it
/// (when `kv = (s, reference inputs)`); anything else from `ctx` (the
/// reference inputs and what the prologue made).
fn piece_feed(
    names: &[String],
    stream: &str,
    x: HostTensor,
    ctx: &HashMap<String, HostTensor>,
    kv: Option<(usize, &[(String, HostTensor)])>,
) -> Vec<(String, HostTensor)> {
    let mut x = Some(x);
    names
        .iter()
        .map(|name| {
            let t = if name == stream {
                x.take().unwrap()
            } else if let (Some((s, inputs)), Some(kind)) = (kv, name.strip_prefix("past_key_values.").and_then(|r| r.split_once('.')).map(|p| p.1)) {
                let slot = format!("past_key_values.{s}.{kind}");
                super::feed_for(&[slot], inputs).pop().unwrap().1
            } else {
                ctx.get(name).cloned().unwrap_or_else(|| panic!("no input for piece input '{name}'"))
            };
            (name.clone(), t)
        })
        .collect()
}

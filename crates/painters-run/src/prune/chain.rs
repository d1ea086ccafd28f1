//! A model run piece by piece: the prologue (embeddings and the context
//! every block reads: masks, rotary tables), each block on its own, and the
//! epilogue (final norm, head), each piece a session opened once
//! (`painters_graph::subgraph::extract`). Any chain of stages — blocks, or
//! groups of blocks whose outputs are averaged as the paper's parallel
//! groups are — then runs without a new session, and a search scores a
//! candidate from the stream entering the first stage it changes: the
//! stages before it are the same as in the model the round started from,
//! so their stream is computed once per round and reused.
//!
//! The pieces compute what the whole graph computes; fusions ONNX Runtime
//! makes across a piece boundary are not made, so scores agree with a whole
//! model's to rounding (tested within 1e-5 on calibration NLL).
use std::collections::{HashMap, HashSet};

use painters_graph::index::node_inputs;
use painters_graph::subgraph::{extract, FLOAT};
use painters_graph::{BlockLayout, Family, OnnxModel};

use super::calib::{window_ll, Calibration};
use crate::error::Error;
use crate::lm::logits;
use crate::session::{ModelSession, SessionOptions};
use crate::tensor::HostTensor;
use crate::Runtime;

/// The pieces of one model, open.
#[derive(Debug)]
pub struct Chain {
    prologue: ModelSession,
    blocks: Vec<ModelSession>,
    head: ModelSession,
    /// The stream tensor each block reads (its source name) and the one the head reads.
    block_inputs: Vec<String>,
    head_input: String,
    first_input: String,
    /// The model's own inputs any piece reads (input ids, masks, positions,
    /// empty KV inputs), with their declared shapes: made once per window.
    model_inputs: Vec<(String, Vec<i64>)>,
}

/// One window: the model inputs and what the prologue computed (the
/// context), by name, and the stream entering each stage.
#[derive(Debug, Clone)]
pub struct Window {
    row: Vec<i64>,
    context: HashMap<String, HostTensor>,
    /// The stream entering each stage of the chain the round started from (the last: leaving the last stage).
    pub streams: Vec<HostTensor>,
}

impl Chain {
    /// Opens the pieces of a decoder `model` (float32 stream).
    pub fn open(runtime: &Runtime, model: &OnnxModel, layout: &BlockLayout, opts: &SessionOptions) -> Result<Self, Error> {
        if layout.family != Family::Decoder {
            return Err(Error::Task("a chain of pieces scores decoders only".into()));
        }
        let g = model.graph();
        let initializers: HashSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
        let graph_inputs: HashSet<&str> = g.input.iter().map(|v| v.name()).collect();
        // What a list of nodes reads from outside itself (initializers and graph inputs aside).
        let reads = |nodes: &[usize]| -> Vec<String> {
            let produced: HashSet<&str> = nodes.iter().flat_map(|&i| g.node[i].output.iter().map(String::as_str)).collect();
            let mut out: Vec<String> = Vec::new();
            for &i in nodes {
                for t in node_inputs(&g.node[i]) {
                    if !produced.contains(t) && !initializers.contains(t) && !graph_inputs.contains(t) && !out.iter().any(|o| o == t) {
                        out.push(t.to_string());
                    }
                }
            }
            out
        };
        let first_input = layout.blocks[0].input.clone();
        let head_input = layout.blocks.last().map(|b| b.output.clone()).unwrap_or_default();
        let block_inputs: Vec<String> = layout.blocks.iter().map(|b| b.input.clone()).collect();
        let block_reads: Vec<Vec<String>> = layout.blocks.iter().map(|b| reads(&b.nodes)).collect();
        let head_reads = reads(&layout.epilogue);
        // The prologue returns the first stream and every context tensor a later piece reads.
        let mut context: Vec<String> = Vec::new();
        let streams = block_inputs.iter().zip(&block_reads).chain([(&head_input, &head_reads)]);
        for (stream, r) in streams {
            for t in r {
                if t != stream && !context.contains(t) {
                    context.push(t.clone());
                }
            }
        }
        let mut outputs = vec![first_input.clone()];
        outputs.extend(context.iter().cloned());
        let opts = SessionOptions { spin: false, ..opts.clone() };
        let open = |nodes: &[usize], inputs: &[(String, i32)], outputs: &[String]| -> Result<ModelSession, Error> {
            let piece = extract(&model.proto, nodes, inputs, outputs)?;
            let (bytes, _) = model.session_form(piece, crate::session::IN_PLACE_MIN)?;
            ModelSession::open_serialized(runtime, model, &bytes, &opts)
        };
        let prologue = open(&layout.prologue, &[], &outputs)?;
        let mut types: HashMap<String, i32> = HashMap::new();
        for (name, ty) in prologue.outputs.iter().zip(&prologue.output_types) {
            types.insert(name.clone(), ty.unwrap_or(0));
        }
        if types.get(&first_input) != Some(&FLOAT) {
            return Err(Error::Task(format!("the residual stream '{first_input}' is not float32")));
        }
        let typed = |names: &[String], stream: &str| -> Result<Vec<(String, i32)>, Error> {
            names
                .iter()
                .map(|n| {
                    let ty = if n == stream { FLOAT } else { *types.get(n).ok_or_else(|| Error::Task(format!("the context tensor '{n}' has no type")))? };
                    Ok((n.clone(), ty))
                })
                .collect()
        };
        let mut blocks = Vec::with_capacity(layout.blocks.len());
        for (j, b) in layout.blocks.iter().enumerate() {
            blocks.push(open(&b.nodes, &typed(&block_reads[j], &b.input)?, std::slice::from_ref(&b.output))?);
        }
        let head = open(&layout.epilogue, &typed(&head_reads, &head_input)?, &["logits".to_string()])?;
        let mut model_inputs: Vec<(String, Vec<i64>)> = Vec::new();
        for s in std::iter::once(&prologue).chain(&blocks).chain([&head]) {
            for (name, shape) in s.inputs.iter().zip(&s.input_shapes) {
                if graph_inputs.contains(name.as_str()) && !model_inputs.iter().any(|(n, _)| n == name) {
                    model_inputs.push((name.clone(), shape.clone()));
                }
            }
        }
        Ok(Self { prologue, blocks, head, block_inputs, head_input, first_input, model_inputs })
    }

    /// Runs the prologue on `row` and `stages` after it, keeping the stream entering each stage.
    pub fn window(&mut self, row: &[i64], stages: &[Vec<usize>]) -> Result<Window, Error> {
        let rows = [row.to_vec()];
        let mut context = HashMap::new();
        for (name, shape) in &self.model_inputs {
            context.insert(name.clone(), crate::lm::standard_input(name, shape, &rows, None)?);
        }
        let outs = self.prologue.run(&feed(&self.prologue, &context, None)?)?;
        context.extend(outs);
        let first = context.remove(&self.first_input).ok_or_else(|| Error::MissingOutput(self.first_input.clone()))?;
        let mut w = Window { row: row.to_vec(), context, streams: vec![first] };
        for stage in stages {
            let x = w.streams.last().cloned().ok_or_else(|| Error::Task("no stream".into()))?;
            let y = self.stage(&w, x, stage)?;
            w.streams.push(y);
        }
        Ok(w)
    }

    /// One stage on `x`: a block, or the mean of its blocks' outputs.
    fn stage(&mut self, w: &Window, x: HostTensor, stage: &[usize]) -> Result<HostTensor, Error> {
        if let [j] = stage {
            return self.block(w, x, *j);
        }
        let mut sum: Option<Vec<f32>> = None;
        let mut shape = Vec::new();
        for &j in stage {
            let y = self.block(w, x.clone(), j)?;
            let data = y.as_f32().ok_or_else(|| Error::Task("a block returned a non-float stream".into()))?;
            shape.clone_from(&y.shape);
            match &mut sum {
                None => sum = Some(data.to_vec()),
                Some(s) => s.iter_mut().zip(data).for_each(|(a, b)| *a += b),
            }
        }
        let n = stage.len() as f32;
        Ok(HostTensor::f32(shape, sum.unwrap_or_default().into_iter().map(|v| v / n).collect()))
    }

    fn block(&mut self, w: &Window, x: HostTensor, j: usize) -> Result<HostTensor, Error> {
        let session = self.blocks.get_mut(j).ok_or_else(|| Error::Task(format!("no block {j}")))?;
        let inputs = feed(session, &w.context, Some((&self.block_inputs[j], x)))?;
        let mut outs = session.run(&inputs)?;
        let out = outs.pop().ok_or_else(|| Error::MissingOutput("a block's output".into()))?;
        Ok(out.1)
    }

    /// Σ log p of the window's predicted tokens when `stages` run on the stream `x`, then the head.
    pub fn ll(&mut self, w: &Window, x: HostTensor, stages: &[Vec<usize>]) -> Result<Option<f64>, Error> {
        let mut x = x;
        for stage in stages {
            x = self.stage(w, x, stage)?;
        }
        let inputs = feed(&self.head, &w.context, Some((&self.head_input, x)))?;
        let row = &w.row;
        let ll = self.head.run_with(&inputs, |outs| Ok::<_, Error>(window_ll(row, logits(outs, "logits")?)))??;
        Ok(ll)
    }

    /// Seconds inside ONNX Runtime's `run`, over every piece.
    pub fn run_seconds(&self) -> f64 {
        self.blocks.iter().chain([&self.prologue, &self.head]).map(|s| s.stats().run_seconds).sum()
    }
}

/// The inputs of a piece: `stream` (name, value) and, for every other
/// input, the window's tensor of that name (a model input or context).
fn feed(session: &ModelSession, window: &HashMap<String, HostTensor>, stream: Option<(&str, HostTensor)>) -> Result<Vec<(String, HostTensor)>, Error> {
    let mut stream = stream;
    let mut inputs = Vec::with_capacity(session.inputs.len());
    for name in &session.inputs {
        let t = match stream.take_if(|(s, _)| *s == name.as_str()) {
            Some((_, x)) => x,
            None => window.get(name).cloned().ok_or_else(|| Error::UnknownInput(name.clone()))?,
        };
        inputs.push((name.clone(), t));
    }
    Ok(inputs)
}

/// Scores each candidate's calibration NLL: `(prefix, rest)` runs the first
/// `prefix` stages of `current` (their streams computed once per window)
/// and then `rest`. `done(i, nll)` is called as each is known.
pub fn nlls(
    chain: &mut Chain,
    current: &[Vec<usize>],
    candidates: &[(usize, Vec<Vec<usize>>)],
    calib: &Calibration,
    mut done: impl FnMut(usize, f64) -> Result<(), Error>,
) -> Result<(), Error> {
    if candidates.is_empty() {
        return Ok(());
    }
    let windows: Vec<Window> = calib.windows.iter().map(|w| chain.window(w, current)).collect::<Result<_, _>>()?;
    for (i, (prefix, rest)) in candidates.iter().enumerate() {
        let (mut sum, mut n) = (0f64, 0usize);
        for w in &windows {
            let x = w.streams.get(*prefix).cloned().ok_or_else(|| Error::Task(format!("no stream before stage {prefix}")))?;
            let ll = chain.ll(w, x, rest)?.ok_or_else(|| super::calib::out_of_vocab(calib))?;
            sum += ll;
            n += w.row.len() - 1;
        }
        let v = -sum / n.max(1) as f64;
        done(i, v)?;
    }
    Ok(())
}

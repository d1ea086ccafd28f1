//! Block detection, as a pipeline:
//! 1. `stream`: find the token input and the value-dependent tensors;
//! 2. `chain`: the residual chain (dominators of the main output), and
//!    `ops`: every op on the value path is one painters understands;
//! 3. `boundaries`: which chain tensors separate blocks (names or structure);
//! 4. `sections`: every node to prologue, block or epilogue (context hoisted);
//! 5. `verify`: one residual tensor in and out of each block, nothing else
//!    crossing; then the `BlockLayout` is assembled.
mod boundaries;
mod chain;
mod ops;
mod sections;
mod stream;
mod verify;

use foldhash::{HashSet, HashSetExt};

pub use boundaries::best_repeat;
pub use stream::is_shape_op;

use crate::error::{GraphError, Result};
use crate::index::{GraphIndex, Source};
use crate::layout::{Block, BlockLayout, DetectionMethod, Family, KvSlot};
use crate::model::OnnxModel;
use crate::names::naming_style;
use crate::proto::onnx::GraphProto;

/// Detects the block layout of a model.
pub fn detect(model: &OnnxModel) -> Result<BlockLayout> {
    detect_graph(model.graph())
}

/// Detects the block layout of a graph (names when usable, else structure).
pub fn detect_graph(graph: &GraphProto) -> Result<BlockLayout> {
    detect_graph_with(graph, None)
}

/// Detects the block layout of a graph, forcing one method when `method` is
/// given (tests use it to check that names and structure agree).
pub fn detect_graph_with(graph: &GraphProto, method: Option<DetectionMethod>) -> Result<BlockLayout> {
    let index = GraphIndex::new(graph)?;
    if let Some(n) = graph.node.iter().find(|n| crate::fused::is_fused(n)) {
        return Err(GraphError::FusedNode {
            node: n.name().to_string(),
            tensor: n.output.first().cloned().unwrap_or_default(),
            op: n.op_type().to_string(),
        });
    }
    let token = stream::token_input(&index)?;
    let value = stream::value_dependent(&index, token);
    let chain = chain::residual_chain(&index, token, &value)?;
    ops::check(&index, &value)?;
    let naming = naming_style(graph);
    let (positions, method) = match method {
        None => boundaries::find(&index, &value, &chain, naming)?,
        Some(DetectionMethod::Names) => {
            let names = boundaries::by_names(&index, &chain).map_err(|r| GraphError::NoBoundaries { names: Some(r), structure: None })?;
            (names, DetectionMethod::Names)
        }
        Some(DetectionMethod::Structure) => (
            boundaries::by_structure(&index, &value, &chain)
                .map_err(|r| GraphError::NoBoundaries { names: None, structure: Some(r) })?,
            DetectionMethod::Structure,
        ),
    };
    let bounds: Vec<&str> = positions.iter().map(|&p| chain[p]).collect();
    let level = sections::assign(&index, &value, &bounds);
    verify::check(&index, &value, &bounds, &level)?;
    build(&index, token, &value, &bounds, &level, naming, method)
}

fn build(
    index: &GraphIndex<'_>,
    token: &str,
    value: &HashSet<&str>,
    bounds: &[&str],
    level: &[sections::Level],
    naming: crate::names::NamingStyle,
    method: DetectionMethod,
) -> Result<BlockLayout> {
    let graph = index.graph();
    let t_blocks = bounds.len() - 1;
    let mut blocks: Vec<Block> = (0..t_blocks)
        .map(|i| Block {
            index: i,
            nodes: Vec::new(),
            input: bounds[i].to_string(),
            output: bounds[i + 1].to_string(),
            kv: None,
            initializers: Vec::new(),
        })
        .collect();
    let mut prologue = Vec::new();
    let mut epilogue = Vec::new();
    for (n, &l) in level.iter().enumerate() {
        match sections::section(l, t_blocks) {
            crate::layout::Section::Prologue => prologue.push(n),
            crate::layout::Section::Block(i) => blocks[i].nodes.push(n),
            crate::layout::Section::Epilogue => epilogue.push(n),
        }
    }
    // KV inputs: graph inputs whose value readers all sit in one block.
    let mut kv_in: Vec<Vec<String>> = vec![Vec::new(); t_blocks];
    let mut kv_names: HashSet<&str> = HashSet::new();
    if t_blocks >= 2 {
        for v in &graph.input {
            let name = v.name();
            if name == token || index.source(name) != Some(Source::GraphInput) {
                continue;
            }
            let readers: HashSet<isize> = index
                .consumers(name)
                .iter()
                .filter(|&&c| !stream::is_shape_op(index.node(c)))
                .map(|&c| level[c])
                .collect();
            if readers.len() == 1 {
                if let Some(&l) = readers.iter().next() {
                    if l >= 0 && (l as usize) < t_blocks && value_reader_in_block(index, name, level, l) {
                        kv_in[l as usize].push(name.to_string());
                        kv_names.insert(name);
                    }
                }
            }
        }
    }
    // KV outputs: graph outputs made inside a block (other than the stream).
    let bound_set: HashSet<&str> = bounds.iter().copied().collect();
    let mut kv_out: Vec<Vec<String>> = vec![Vec::new(); t_blocks];
    for v in &graph.output {
        let name = v.name();
        if bound_set.contains(name) || name.starts_with(crate::conventions::HIDDEN_PREFIX) {
            continue; // the stream itself, or a painters tap
        }
        if let Some(p) = index.producer(name) {
            if let crate::layout::Section::Block(i) = sections::section(level[p], t_blocks) {
                if !value.contains(name) {
                    return Err(GraphError::ConstantBlockOutput {
                        block: i,
                        node: verify::node_label(index, p),
                        tensor: name.to_string(),
                    });
                }
                kv_out[i].push(name.to_string());
            }
        }
    }
    let mut context: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for b in &mut blocks {
        let mut inits: HashSet<&str> = HashSet::new();
        for &n in &b.nodes {
            for &t in index.inputs(n) {
                match index.source(t) {
                    Some(Source::Initializer) if inits.insert(t) => b.initializers.push(t.to_string()),
                    Some(Source::GraphInput) if !kv_names.contains(t) && seen.insert(t) => context.push(t.to_string()),
                    Some(Source::Node(p)) if level[p] < 0 && !bound_set.contains(t) && seen.insert(t) => {
                        context.push(t.to_string())
                    }
                    _ => {}
                }
            }
        }
        let (ins, outs) = (std::mem::take(&mut kv_in[b.index]), std::mem::take(&mut kv_out[b.index]));
        if !ins.is_empty() || !outs.is_empty() {
            b.kv = Some(KvSlot { inputs: ins, outputs: outs });
        }
    }
    let family = if graph.output.iter().any(|v| v.name().contains("logits")) || blocks.iter().any(|b| b.kv.is_some()) {
        Family::Decoder
    } else {
        Family::Encoder
    };
    Ok(BlockLayout {
        family,
        naming,
        method,
        token_input: token.to_string(),
        prologue,
        blocks,
        context,
        epilogue,
    })
}

fn value_reader_in_block(index: &GraphIndex<'_>, name: &str, level: &[sections::Level], l: isize) -> bool {
    index.consumers(name).iter().any(|&c| level[c] == l && !stream::is_shape_op(index.node(c)))
}

//! `BlockLayout`: the result of block detection. The graph splits into a
//! prologue (embeddings and everything shared: masks, rotary tables, shapes),
//! an ordered list of blocks that each read exactly one residual-stream
//! tensor (`input`) and hand on exactly one (`output`), and an epilogue
//! (final norm, LM head, pooler). Node ids are positions in `graph.node` of
//! the graph the layout was detected on.
use serde::Serialize;

use crate::names::NamingStyle;

/// Decoder (causal LM, `logits`) or encoder (`last_hidden_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    Decoder,
    Encoder,
}

/// How block boundaries were placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetectionMethod {
    /// Layer indices in node names or metadata, checked against structure.
    Names,
    /// The repeating op pattern of the residual chain (no usable names).
    Structure,
}

/// Where a node lives. Ordered: prologue < block 0 < … < epilogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Section {
    Prologue,
    Block(usize),
    Epilogue,
}

/// "the prologue", "block 3", "the epilogue".
impl std::fmt::Display for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Section::Prologue => f.write_str("the prologue"),
            Section::Block(i) => write!(f, "block {i}"),
            Section::Epilogue => f.write_str("the epilogue"),
        }
    }
}

/// A block's KV-cache graph inputs (`past_key_values.i.*`) and outputs (`present.i.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KvSlot {
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// One transformer block (layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub index: usize,
    /// Node ids, in graph order.
    pub nodes: Vec<usize>,
    /// The residual-stream tensor the block reads.
    pub input: String,
    /// The residual-stream tensor the block produces.
    pub output: String,
    pub kv: Option<KvSlot>,
    /// Initializers the block's nodes read (shared ones included).
    pub initializers: Vec<String>,
}

/// The detected block structure of a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockLayout {
    pub family: Family,
    pub naming: NamingStyle,
    pub method: DetectionMethod,
    /// The graph input holding token ids (`input_ids`).
    pub token_input: String,
    pub prologue: Vec<usize>,
    pub blocks: Vec<Block>,
    /// Tensors made outside any block (or graph inputs) that blocks read,
    /// other than the residual stream and KV inputs: masks, rotary tables,
    /// position ids, shapes. Every instance of every block reads them.
    pub context: Vec<String>,
    pub epilogue: Vec<usize>,
}

impl BlockLayout {
    /// Number of blocks.
    pub fn num_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The section of every node, indexed by node id.
    pub fn sections(&self, node_count: usize) -> Vec<Section> {
        let mut out = vec![Section::Prologue; node_count];
        for b in &self.blocks {
            for &n in &b.nodes {
                out[n] = Section::Block(b.index);
            }
        }
        for &n in &self.epilogue {
            out[n] = Section::Epilogue;
        }
        out
    }

    /// Whether the graph has KV-cache inputs and outputs.
    pub fn has_kv_cache(&self) -> bool {
        self.blocks.iter().any(|b| b.kv.is_some())
    }
}

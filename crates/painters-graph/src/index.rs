//! `GraphIndex`: a read-only dataflow index over a `GraphProto`, built on
//! petgraph: the producer and consumers of every tensor, and a topological
//! order of the nodes. Node ids are positions in `graph.node`; the index is
//! rebuilt after every edit (names survive rewrites, positions do not).
//! Tensors that a node's subgraphs (If/Loop/Scan bodies) read from the outer
//! scope count as inputs of that node.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use petgraph::graph::{DiGraph, NodeIndex};

use crate::error::{GraphError, Result};
use crate::proto::onnx::{GraphProto, NodeProto};

/// Where a tensor comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    GraphInput,
    Initializer,
    Node(usize),
}

/// Dataflow index of one graph.
#[derive(Debug)]
pub struct GraphIndex<'g> {
    graph: &'g GraphProto,
    sources: HashMap<&'g str, Source>,
    consumers: HashMap<&'g str, Vec<usize>>,
    inputs: Vec<Vec<&'g str>>,
    topo: Vec<usize>,
    duplicates: Vec<(&'g str, usize)>,
}

impl<'g> GraphIndex<'g> {
    /// Indexes `graph`. Fails only on a cycle; other defects are reported by
    /// [`crate::validate`].
    pub fn new(graph: &'g GraphProto) -> Result<Self> {
        let mut sources: HashMap<&str, Source> = HashMap::new();
        let mut duplicates = Vec::new();
        for t in &graph.initializer {
            sources.insert(t.name(), Source::Initializer);
        }
        for v in &graph.input {
            // An input with an initializer of the same name (IR < 4) is an input.
            sources.insert(v.name(), Source::GraphInput);
        }
        for (i, n) in graph.node.iter().enumerate() {
            for o in n.output.iter().filter(|o| !o.is_empty()) {
                if sources.insert(o.as_str(), Source::Node(i)).is_some() {
                    duplicates.push((o.as_str(), i));
                }
            }
        }
        let inputs: Vec<Vec<&str>> = graph.node.iter().map(node_inputs).collect();
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut dag: DiGraph<(), ()> = DiGraph::with_capacity(graph.node.len(), graph.node.len() * 2);
        for _ in 0..graph.node.len() {
            dag.add_node(());
        }
        for (i, ins) in inputs.iter().enumerate() {
            for &t in ins {
                let list = consumers.entry(t).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
                if let Some(Source::Node(p)) = sources.get(t) {
                    dag.add_edge(NodeIndex::new(*p), NodeIndex::new(i), ());
                }
            }
        }
        let topo = petgraph::algo::toposort(&dag, None)
            .map_err(|c| {
                let n = &graph.node[c.node_id().index()];
                GraphError::Cycle { node: n.name().to_string() }
            })?
            .into_iter()
            .map(|n| n.index())
            .collect();
        Ok(Self { graph, sources, consumers, inputs, topo, duplicates })
    }

    /// The indexed graph.
    pub fn graph(&self) -> &'g GraphProto {
        self.graph
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.graph.node.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.graph.node.is_empty()
    }

    /// The node at position `i`.
    pub fn node(&self, i: usize) -> &'g NodeProto {
        &self.graph.node[i]
    }

    /// Where `tensor` comes from, `None` when nothing defines it.
    pub fn source(&self, tensor: &str) -> Option<Source> {
        self.sources.get(tensor).copied()
    }

    /// The node producing `tensor`, if a node does.
    pub fn producer(&self, tensor: &str) -> Option<usize> {
        match self.sources.get(tensor) {
            Some(Source::Node(i)) => Some(*i),
            _ => None,
        }
    }

    /// Nodes reading `tensor` (each once, in graph order).
    pub fn consumers(&self, tensor: &str) -> &[usize] {
        self.consumers.get(tensor).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Non-empty inputs of node `i`, including outer-scope tensors its subgraphs read.
    pub fn inputs(&self, i: usize) -> &[&'g str] {
        &self.inputs[i]
    }

    /// Non-empty outputs of node `i`.
    pub fn outputs(&self, i: usize) -> impl Iterator<Item = &'g str> + 'g {
        self.graph.node[i].output.iter().filter(|o| !o.is_empty()).map(String::as_str)
    }

    /// Nodes in a topological order (stable: graph order where it is already valid).
    pub fn topo_order(&self) -> &[usize] {
        &self.topo
    }

    /// Tensors produced more than once, with the second producer.
    pub fn duplicate_producers(&self) -> &[(&'g str, usize)] {
        &self.duplicates
    }

    /// Nodes that transitively depend on any of `seeds` (through any input).
    pub fn descendants_of(&self, seeds: &[&str]) -> HashSet<usize> {
        let mut marked: HashSet<&str> = seeds.iter().copied().collect();
        let mut out = HashSet::new();
        for &n in &self.topo {
            if self.inputs[n].iter().any(|t| marked.contains(t)) {
                out.insert(n);
                marked.extend(self.outputs(n));
            }
        }
        out
    }
}

/// Inputs of a node plus the outer-scope names its subgraphs read.
pub fn node_inputs(n: &NodeProto) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(n.input.len());
    for t in n.input.iter().filter(|s| !s.is_empty()) {
        // Nodes have a handful of inputs: a linear scan beats hashing.
        if !out.contains(&t.as_str()) {
            out.push(t.as_str());
        }
    }
    let subgraphs = n.attribute.iter().any(|a| a.g.is_some() || !a.graphs.is_empty());
    if subgraphs {
        for a in &n.attribute {
            for g in a.g.as_ref().into_iter().chain(a.graphs.iter()) {
                let mut defined: HashSet<&str> = HashSet::new();
                outer_reads(g, &mut defined, &mut out);
            }
        }
        let mut seen = HashSet::new();
        out.retain(|t| seen.insert(*t));
    }
    out
}

fn outer_reads<'a>(g: &'a GraphProto, defined: &mut HashSet<&'a str>, out: &mut Vec<&'a str>) {
    defined.extend(g.input.iter().map(|v| v.name()));
    defined.extend(g.initializer.iter().map(|t| t.name()));
    for n in &g.node {
        for t in n.input.iter().filter(|s| !s.is_empty()) {
            if !defined.contains(t.as_str()) {
                out.push(t.as_str());
            }
        }
        for a in &n.attribute {
            for sub in a.g.as_ref().into_iter().chain(a.graphs.iter()) {
                let mut inner = defined.clone();
                outer_reads(sub, &mut inner, out);
            }
        }
        defined.extend(n.output.iter().filter(|s| !s.is_empty()).map(String::as_str));
    }
}

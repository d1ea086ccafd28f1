//! Reading layer indices and exporter style out of names. Names are hints:
//! block detection works from structure and uses them only to place block
//! boundaries when they are consistent (see `detect`).
use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use crate::proto::onnx::{GraphProto, NodeProto};

/// How an exporter named the nodes of a graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NamingStyle {
    /// TorchScript exporter (optimum, `torch.onnx.export(dynamo=False)`):
    /// node names carry the module path, `/model/layers.3/self_attn/...`.
    ModulePath,
    /// Dynamo exporter: flat node names, module path in `metadata_props`.
    Metadata,
    /// No usable names (renamed or quantized graphs): structure only.
    Anonymous,
}

/// `s` with its control characters and line separators escaped (a newline
/// becomes `\n`), so that an error quoting a name, a key or a path from a
/// user's file stays one line.
pub fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}';
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    s.chars().map(|c| if bad(c) { c.escape_default().to_string() } else { c.to_string() }).collect::<String>().into()
}

fn layer_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"(?:^|[/.:\s'\[_])(?:layers|layer|h|blocks|block)[._](\d+)(?:$|[/.:\s'\],_])")
            .expect("static regex")
    })
}

/// The last layer index in `text` (`/model/layers.12/mlp/...` → 12).
pub fn layer_in(text: &str) -> Option<usize> {
    layer_regex().captures_iter(text).last().and_then(|c| c[1].parse().ok())
}

/// Metadata keys the dynamo exporter writes the module path under.
const SCOPE_KEYS: [&str; 2] = ["pkg.torch.onnx.name_scopes", "namespace"];

/// The layer index a node's name or metadata places it in.
pub fn node_layer(node: &NodeProto) -> Option<usize> {
    for p in &node.metadata_props {
        if SCOPE_KEYS.contains(&p.key()) {
            if let Some(i) = layer_in(p.value()) {
                return Some(i);
            }
        }
    }
    layer_in(node.name())
}

/// The naming style of a graph.
pub fn naming_style(graph: &GraphProto) -> NamingStyle {
    let n = graph.node.len().max(1);
    let with_meta = graph
        .node
        .iter()
        .filter(|node| node.metadata_props.iter().any(|p| SCOPE_KEYS.contains(&p.key())))
        .count();
    if with_meta * 4 >= n {
        return NamingStyle::Metadata;
    }
    // A module path in the node's name, or (fused nodes the ORT optimizer renamed) in its output's.
    let with_path = graph
        .node
        .iter()
        .filter(|node| node.name().starts_with('/') || node.output.first().is_some_and(|o| o.starts_with('/')))
        .count();
    if with_path * 4 >= n {
        return NamingStyle::ModulePath;
    }
    NamingStyle::Anonymous
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_layer_indices_in_real_names() {
        assert_eq!(layer_in("/model/layers.12/self_attn/q_proj/MatMul"), Some(12));
        assert_eq!(layer_in("/encoder/layer.3/attention/self/query/MatMul"), Some(3));
        assert_eq!(layer_in("/transformer/h.0/attn/Add"), Some(0));
        assert_eq!(layer_in("/model/model.0/auto_model/encoder/layer.5/output/Add"), Some(5));
        assert_eq!(layer_in("['', 'model', 'model.layers.7', 'model.layers.7.mlp']"), Some(7));
        assert_eq!(
            layer_in(": transformers.LlamaForCausalLM/model: LlamaModel/model.layers.4: LlamaDecoderLayer"),
            Some(4)
        );
        assert_eq!(layer_in("/model/embed_tokens/Gather"), None);
        assert_eq!(layer_in("/model/norm/Mul_1"), None);
        assert_eq!(layer_in("onnx::MatMul_8767"), None);
        assert_eq!(layer_in("node_linear_6"), None);
        assert_eq!(layer_in("/model/layers.2"), Some(2));
    }
}

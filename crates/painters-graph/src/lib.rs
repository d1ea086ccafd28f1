//! painters-graph: load ONNX models without touching their weights, index
//! their dataflow, validate graphs, and detect the transformer block
//! sequence (prologue, blocks, context, epilogue, KV-cache slots).
//!
//! ```text
//! model.onnx ──OnnxModel::load──▶ OnnxModel ──detect──▶ BlockLayout
//! ```
pub mod subgraph;
pub mod casts;
pub mod conventions;
pub mod detect;
pub mod error;
pub mod fused;
pub mod index;
pub mod layout;
pub mod lock;
pub mod model;
pub mod names;
pub mod serialize;
pub mod summary;
pub mod tensor;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod validate;

/// Generated ONNX protobuf bindings (ONNX 1.20.1 `onnx.proto`).
#[allow(clippy::all, clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_debug_implementations)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/onnx_proto/mod.rs"));
}

pub use detect::{detect, detect_graph, detect_graph_with};
pub use error::{GraphError, Result};
pub use index::{GraphIndex, Source};
pub use layout::{Block, BlockLayout, DetectionMethod, Family, KvSlot, Section};
pub use model::{write_atomic, write_atomic_with, OnnxModel};
pub use names::NamingStyle;
pub use validate::{validate, validate_input};

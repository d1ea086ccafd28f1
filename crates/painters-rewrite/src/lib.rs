//! painters-rewrite: the plan language and the paper's presets, lowering to
//! schedules over block instances, and the emission of the rewritten ONNX
//! graph (weights shared by name, never copied).
//!
//! ```text
//! plan text / preset ──parse──▶ Plan ──lower──▶ Schedule ──emit──▶ ModelProto
//!                                 (validated once; every instance numbered)
//! Plan + model + output ──plan_write──▶ WritePlan ──execute──▶ files + WriteReport
//!             (the graph, where weights go, what is copied or linked)
//! ```
pub mod emit;
pub mod head;
pub mod declared;
pub mod error;
pub mod folder;
pub mod lower;
pub mod parse;
pub mod plan;
pub mod planfile;
pub mod presets;
pub mod schedule;
pub mod write;

pub use declared::open;
pub use emit::{emit, emit_with, EmitOptions};
pub use error::{Result, RewriteError};
pub use lower::{lower, sequence};
pub use parse::{parse, ParseError};
pub use plan::Plan;
pub use presets::{preset, Preset, PresetParams};
pub use schedule::{Instance, MeanNode, Schedule, Stage};
pub use write::{plan_write, rewrite_file, rewrite_model, Progress, WeightMode, WriteOptions, WritePlan, WriteReport};

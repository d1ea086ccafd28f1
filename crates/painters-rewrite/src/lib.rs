//! painters-rewrite: the plan language and the paper's presets, lowering to
//! schedules over block instances, and the emission of the rewritten ONNX
//! graph (weights shared by name, never copied).
//!
//! ```text
//! plan text / preset ──parse──▶ Plan ──lower──▶ Schedule ──emit──▶ ModelProto
//! ```
pub mod emit;
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
pub use lower::lower;
pub use parse::{parse, ParseError};
pub use plan::Plan;
pub use presets::{preset, Preset, PresetParams};
pub use schedule::{Schedule, Stage};
pub use write::{rewrite_file, rewrite_model, Progress, WeightMode, WriteOptions, WriteReport};

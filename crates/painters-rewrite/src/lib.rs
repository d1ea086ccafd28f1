//! painters-rewrite: schedules over transformer blocks and the emission of
//! the rewritten ONNX graph (weights shared by name, never copied).
pub mod emit;
pub mod error;
pub mod schedule;

pub use emit::emit;
pub use error::{Result, RewriteError};
pub use schedule::{Schedule, Stage};

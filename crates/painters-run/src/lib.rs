//! painters-run: ONNX Runtime sessions, evaluation, sweeps and pruning. The
//! `painters` command line is the binary (`main.rs` and `cli/`, not part of
//! this library). The library's one error type is [`Error`].
pub mod error;
pub mod eval;
pub mod lm;
pub mod ortlib;
pub mod plot;
pub mod prune;
pub mod reference;
pub mod session;
pub mod sweep;
pub mod tensor;
pub mod tokenizer;

pub use error::{Error, Result};
pub use ortlib::{find_library, Runtime};
pub use session::{ModelSession, SessionOptions};
pub use tensor::{HostData, HostTensor};

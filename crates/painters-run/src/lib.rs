//! painters-run: ONNX Runtime sessions and the `painters` command line.
pub mod decode;
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

pub use ortlib::{find_library, OrtLibError, Runtime};
pub use session::{ModelSession, SessionOptions};
pub use tensor::{HostData, HostTensor};

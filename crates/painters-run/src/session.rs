//! `ModelSession`: one ONNX Runtime session over a model file, with named
//! host-tensor inputs and outputs. CPU unless CUDA is asked for.
use std::path::Path;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

use crate::ortlib::Runtime;
use crate::tensor::HostTensor;

/// How a session is built.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Intra-op threads (0: ONNX Runtime's default).
    pub threads: usize,
    /// Graph optimization level 0 (none) … 3 (all).
    pub optimization: u8,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self { threads: 0, optimization: 3 }
    }
}

/// A session with its input and output names.
#[derive(Debug)]
pub struct ModelSession {
    session: Session,
    pub inputs: Vec<String>,
    /// Declared input shapes (-1 for dynamic dimensions).
    pub input_shapes: Vec<Vec<i64>>,
    pub outputs: Vec<String>,
}

impl ModelSession {
    /// Opens `model` on the CPU.
    pub fn open(runtime: &Runtime, model: &Path, opts: &SessionOptions) -> ort::Result<Self> {
        let level = match opts.optimization {
            0 => GraphOptimizationLevel::Disable,
            1 => GraphOptimizationLevel::Level1,
            2 => GraphOptimizationLevel::Level2,
            _ => GraphOptimizationLevel::All,
        };
        let mut b = Session::builder(&runtime.env)?.with_optimization_level(level).map_err(ort::Error::<()>::from)?;
        if opts.threads > 0 {
            b = b.with_intra_threads(opts.threads).map_err(ort::Error::<()>::from)?;
        }
        let session = b.commit_from_file(model)?;
        let inputs = session.inputs().iter().map(|o| o.name().to_string()).collect();
        let input_shapes =
            session.inputs().iter().map(|o| o.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default()).collect();
        let outputs = session.outputs().iter().map(|o| o.name().to_string()).collect();
        Ok(Self { session, inputs, input_shapes, outputs })
    }

    /// Runs the model on named inputs and returns every output by name.
    pub fn run(&mut self, inputs: &[(String, HostTensor)]) -> ort::Result<Vec<(String, HostTensor)>> {
        let mut values = Vec::with_capacity(inputs.len());
        for (name, t) in inputs {
            values.push((std::borrow::Cow::from(name.as_str()), ort::session::SessionInputValue::from(t.to_value()?)));
        }
        let outputs = self.session.run(values)?;
        let mut out = Vec::with_capacity(self.outputs.len());
        for name in &self.outputs {
            let v = outputs.get(name).ok_or_else(|| ort::Error::new(format!("output '{name}' missing")))?;
            out.push((name.clone(), HostTensor::from_value(v)?));
        }
        Ok(out)
    }
}

//! `ModelSession`: one ONNX Runtime session over a model file, with named
//! host-tensor inputs and outputs. CPU unless CUDA is asked for.
use std::path::Path;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

use crate::ortlib::Runtime;
use crate::tensor::HostTensor;

/// Where a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Cpu,
    /// The CUDA execution provider on a device id. Never falls back to the CPU silently.
    Cuda(i32),
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| format!("unknown device '{s}' (cpu, cuda, cuda:ID)")),
        }
    }
}

/// How a session is built.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Intra-op threads (0: ONNX Runtime's default).
    pub threads: usize,
    /// Graph optimization level 0 (none) … 3 (all).
    pub optimization: u8,
    pub device: Device,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self { threads: 0, optimization: 3, device: Device::Cpu }
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
        Self::build(runtime, opts, |b| b.commit_from_file(model))
    }

    /// Opens a serialized model held in memory (no external data).
    pub fn open_bytes(runtime: &Runtime, bytes: &[u8], opts: &SessionOptions) -> ort::Result<Self> {
        Self::build(runtime, opts, |b| b.commit_from_memory(bytes))
    }

    fn build(
        runtime: &Runtime,
        opts: &SessionOptions,
        commit: impl FnOnce(&mut ort::session::builder::SessionBuilder) -> ort::Result<Session>,
    ) -> ort::Result<Self> {
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
        if let Device::Cuda(id) = opts.device {
            use ort::ep::ExecutionProvider;
            if !ort::ep::CUDA::is_available()? {
                return Err(ort::Error::new(format!(
                    "CUDA was asked for, but the ONNX Runtime library {} has no CUDA execution provider \
                     (install onnxruntime-gpu 1.31.1 with scripts/install-ort.sh --gpu and pass --ort-lib .ort/gpu/lib/libonnxruntime.so, or use --device cpu)",
                    runtime.library.display()
                )));
            }
            ort::ep::CUDA::default().with_device_id(id).register(&mut b).map_err(|e| {
                ort::Error::new(format!("cannot start the CUDA execution provider on device {id}: {e}"))
            })?;
        }
        let session = commit(&mut b)?;
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

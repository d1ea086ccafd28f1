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
    /// ONNX Runtime's parallel execution mode with this many inter-op
    /// threads (independent nodes, e.g. the branches of a parallel group,
    /// run at once); 0 keeps the default sequential mode.
    pub inter_threads: usize,
    /// Let idle intra-op threads spin (ONNX Runtime's default). Off for many
    /// sessions run in turn (a model run piece by piece), where the threads
    /// of the session that just ran would spin against the next one.
    pub spin: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self { threads: 0, optimization: 3, device: Device::Cpu, inter_threads: 0, spin: true }
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
    /// Each output's ONNX element type code (`TensorProto.DataType`), for tensors.
    pub output_types: Vec<Option<i32>>,
    /// Whether inline weights were handed to ONNX Runtime in place (see [`Self::open`]).
    pub weights_in_place: bool,
    stats: RunStats,
}

impl ModelSession {
    /// Opens `model`. A model with inline weights is handed to ONNX Runtime
    /// as its graph alone, with every large initializer pointing into the
    /// `.onnx` file itself as external data: ONNX Runtime then reads each
    /// weight once from the file instead of parsing a copy of it out of the
    /// protobuf and copying it again (measured: session creation of the
    /// 652 MB SmolLM2 export 3.3–4.4 s → about 2.2 s, the time of an
    /// external-data export).
    pub fn open(runtime: &Runtime, model: &Path, opts: &SessionOptions) -> ort::Result<Self> {
        Self::open_with_threshold(runtime, model, opts, 16 << 20)
    }

    /// [`Self::open`], referencing inline weights in place when there are at
    /// least `threshold` bytes of them (tests use 0 to check small models).
    /// Should ONNX Runtime refuse the in-place form, the file is opened as it is.
    pub fn open_with_threshold(runtime: &Runtime, model: &Path, opts: &SessionOptions, threshold: usize) -> ort::Result<Self> {
        if let Some((bytes, dir)) = inline_as_external(model, threshold) {
            let mapped = Self::build(runtime, opts, |b| {
                let mut b = b.clone().with_config_entry("session.model_external_initializers_file_folder_path", dir.to_string_lossy())?;
                b.commit_from_memory(&bytes)
            });
            if let Ok(mut s) = mapped {
                s.weights_in_place = true;
                return Ok(s);
            }
        }
        Self::build(runtime, opts, |b| b.commit_from_file(model))
    }

    /// Opens a serialized model held in memory whose external references
    /// are relative to `dir` (see `OnnxModel::session_form`).
    pub fn open_serialized(runtime: &Runtime, bytes: &[u8], dir: &Path, opts: &SessionOptions) -> ort::Result<Self> {
        Self::build(runtime, opts, |b| {
            let mut b = b.clone().with_config_entry("session.model_external_initializers_file_folder_path", dir.to_string_lossy())?;
            b.commit_from_memory(bytes)
        })
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
        if !opts.spin {
            b = b.with_intra_op_spinning(false).map_err(ort::Error::<()>::from)?;
        }
        if opts.inter_threads > 0 {
            b = b
                .with_parallel_execution(true)
                .map_err(ort::Error::<()>::from)?
                .with_inter_threads(opts.inter_threads)
                .map_err(ort::Error::<()>::from)?;
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
        let output_types =
            session.outputs().iter().map(|o| o.dtype().tensor_type().map(|t| ort::sys::ONNXTensorElementDataType::from(t) as i32)).collect();
        Ok(Self { session, inputs, input_shapes, outputs, output_types, weights_in_place: false, stats: RunStats::default() })
    }

    /// Runs the model on named inputs and returns every output by name (copied to host tensors).
    pub fn run(&mut self, inputs: &[(String, HostTensor)]) -> ort::Result<Vec<(String, HostTensor)>> {
        self.run_with(inputs, |outs| outs.all())?
    }

    /// Runs the model on named inputs and hands `read` the outputs where
    /// ONNX Runtime left them (no copy: scoring reads the logits in place).
    pub fn run_with<R>(&mut self, inputs: &[(String, HostTensor)], read: impl FnOnce(&Outputs<'_, '_>) -> R) -> ort::Result<R> {
        let mut values = Vec::with_capacity(inputs.len());
        for (name, t) in inputs {
            values.push((std::borrow::Cow::from(name.as_str()), ort::session::SessionInputValue::from(t.to_value()?)));
        }
        let start = std::time::Instant::now();
        let outputs = self.session.run(values)?;
        self.stats.runs += 1;
        self.stats.run_seconds += start.elapsed().as_secs_f64();
        Ok(read(&Outputs { names: &self.outputs, values: &outputs }))
    }

    /// Time spent inside ONNX Runtime's `run` so far.
    pub fn stats(&self) -> RunStats {
        self.stats
    }
}

/// Calls of ONNX Runtime's `run` and the seconds spent inside them.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RunStats {
    pub runs: usize,
    pub run_seconds: f64,
}

/// The outputs of one run, read in place.
#[derive(Debug)]
pub struct Outputs<'a, 'r> {
    names: &'a [String],
    values: &'a ort::session::SessionOutputs<'r>,
}

impl Outputs<'_, '_> {
    fn value(&self, name: &str) -> ort::Result<&ort::value::DynValue> {
        self.values.get(name).ok_or_else(|| ort::Error::new(format!("the model has no '{name}' output")))
    }

    /// An f32 output's shape and elements, without copying.
    pub fn f32(&self, name: &str) -> ort::Result<(Vec<i64>, &[f32])> {
        let (shape, data) = self.value(name)?.try_extract_tensor::<f32>()?;
        Ok((shape.to_vec(), data))
    }

    /// One output copied to host memory.
    pub fn host(&self, name: &str) -> ort::Result<HostTensor> {
        HostTensor::from_value(self.value(name)?)
    }

    /// Every output, copied, by name.
    pub fn all(&self) -> ort::Result<Vec<(String, HostTensor)>> {
        self.names.iter().map(|n| Ok((n.clone(), self.host(n)?))).collect()
    }
}

/// Initializers at least this large are read in place from their file
/// (`OnnxModel::session_form`) instead of from serialized copies.
pub const IN_PLACE_MIN: usize = 1024;

/// The graph of an inline-weights model file (at least `threshold` bytes of
/// inline weights) with each large initializer turned into an external
/// reference to its bytes inside that same file, serialized, and the folder
/// the reference is relative to. `None` when the model is not such a file.
fn inline_as_external(model: &Path, threshold: usize) -> Option<(Vec<u8>, std::path::PathBuf)> {
    if std::fs::metadata(model).ok()?.len() < threshold as u64 {
        return None;
    }
    let m = painters_graph::OnnxModel::load(model).ok()?;
    if m.has_external_data() {
        return None;
    }
    let (bytes, moved) = m.session_form(m.proto.clone(), IN_PLACE_MIN).ok()?;
    if moved == 0 || moved < threshold as u64 {
        return None;
    }
    Some((bytes, m.dir().to_path_buf()))
}

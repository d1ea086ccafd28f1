//! `ModelSession`: one ONNX Runtime session over a model file, with named
//! host-tensor inputs and outputs. CPU unless CUDA is asked for.
use std::path::{Path, PathBuf};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

use crate::error::{Error, Result};
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
    /// The model file (for a model emitted in memory: the file it was made from), named in errors.
    pub model: PathBuf,
    pub inputs: Vec<String>,
    /// Declared input shapes (-1 for dynamic dimensions).
    pub input_shapes: Vec<Vec<i64>>,
    pub outputs: Vec<String>,
    /// Each output's ONNX element type code (`TensorProto.DataType`), for tensors.
    pub output_types: Vec<Option<i32>>,
    /// Whether inline weights were handed to ONNX Runtime in place (see [`Self::open`]).
    pub weights_in_place: bool,
    /// The op types of the model's graph (of the source, for a model emitted in memory).
    pub ops: std::collections::BTreeSet<String>,
    stats: RunStats,
}

/// Inline weights worth handing to ONNX Runtime in place (see [`ModelSession::open`]).
const IN_PLACE_THRESHOLD: usize = 16 << 20;

impl ModelSession {
    /// Opens `model`. A model with inline weights is handed to ONNX Runtime
    /// as its graph alone, with every large initializer pointing into the
    /// `.onnx` file itself as external data: ONNX Runtime then reads each
    /// weight once from the file instead of parsing a copy of it out of the
    /// protobuf and copying it again (measured: session creation of the
    /// 652 MB SmolLM2 export 3.3–4.4 s → about 2.2 s, the time of an
    /// external-data export).
    pub fn open(runtime: &Runtime, model: &Path, opts: &SessionOptions) -> Result<Self> {
        Self::open_with_threshold(runtime, model, opts, IN_PLACE_THRESHOLD)
    }

    /// [`Self::open`], referencing inline weights in place when there are at
    /// least `threshold` bytes of them (tests use 0 to check small models).
    /// Should ONNX Runtime refuse the in-place form, the file is opened as it is.
    pub fn open_with_threshold(runtime: &Runtime, model: &Path, opts: &SessionOptions, threshold: usize) -> Result<Self> {
        // Only a file that large can hold that many inline weights: a smaller one is not parsed here.
        let large = std::fs::metadata(model).is_ok_and(|m| m.len() >= threshold as u64);
        match large.then(|| painters_graph::OnnxModel::load(model).ok()).flatten() {
            Some(m) => Self::open_loaded(runtime, &m, opts, threshold),
            None => {
                let mut s = Self::from_file(runtime, model, opts)?;
                // A small file: read its graph again for the op types (ONNX Runtime has it already).
                s.ops = painters_graph::OnnxModel::load(model).map(|m| ops_of(&m)).unwrap_or_default();
                Ok(s)
            }
        }
    }

    /// [`Self::open`] for a model already loaded from its file, as it was
    /// loaded (not canonicalized: the session runs the graph it holds).
    pub fn open_model(runtime: &Runtime, model: &painters_graph::OnnxModel, opts: &SessionOptions) -> Result<Self> {
        Self::open_loaded(runtime, model, opts, IN_PLACE_THRESHOLD)
    }

    fn open_loaded(runtime: &Runtime, m: &painters_graph::OnnxModel, opts: &SessionOptions, threshold: usize) -> Result<Self> {
        let Some(path) = m.path() else {
            let (bytes, _) = m.session_form(m.proto.clone(), usize::MAX)?;
            return Self::open_serialized(runtime, m, &bytes, opts);
        };
        if let Some(bytes) = inline_as_external(m, threshold) {
            if let Ok(mut s) = Self::open_serialized(runtime, m, &bytes, opts) {
                s.weights_in_place = true;
                return Ok(s);
            }
        }
        let mut s = Self::from_file(runtime, path, opts)?;
        s.ops = ops_of(m);
        Ok(s)
    }

    fn from_file(runtime: &Runtime, model: &Path, opts: &SessionOptions) -> Result<Self> {
        Self::build(runtime, opts, model, |b| b.commit_from_file(model))
    }

    /// Opens a serialized model held in memory, made from `source` (an
    /// emission, a piece; see `OnnxModel::session_form`): its external
    /// references are relative to the source's folder, and errors name the
    /// source's file.
    pub fn open_serialized(runtime: &Runtime, source: &painters_graph::OnnxModel, bytes: &[u8], opts: &SessionOptions) -> Result<Self> {
        let name = source.path().map_or_else(|| source.dir().join("<memory>"), Path::to_path_buf);
        let mut s = Self::build(runtime, opts, &name, |b| {
            let mut b =
                b.clone().with_config_entry("session.model_external_initializers_file_folder_path", source.dir().to_string_lossy())?;
            b.commit_from_memory(bytes)
        })?;
        s.ops = ops_of(source);
        Ok(s)
    }

    fn build(
        runtime: &Runtime,
        opts: &SessionOptions,
        model: &Path,
        commit: impl FnOnce(&mut ort::session::builder::SessionBuilder) -> ort::Result<Session>,
    ) -> Result<Self> {
        let session = Self::session(runtime, opts, commit).map_err(|source| Error::Session { model: model.to_path_buf(), source })?;
        let inputs = session.inputs().iter().map(|o| o.name().to_string()).collect();
        let input_shapes =
            session.inputs().iter().map(|o| o.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default()).collect();
        let outputs = session.outputs().iter().map(|o| o.name().to_string()).collect();
        let output_types =
            session.outputs().iter().map(|o| o.dtype().tensor_type().map(|t| ort::sys::ONNXTensorElementDataType::from(t) as i32)).collect();
        Ok(Self {
            session,
            model: model.to_path_buf(),
            inputs,
            input_shapes,
            outputs,
            output_types,
            weights_in_place: false,
            ops: Default::default(),
            stats: RunStats::default(),
        })
    }

    fn session(
        runtime: &Runtime,
        opts: &SessionOptions,
        commit: impl FnOnce(&mut ort::session::builder::SessionBuilder) -> ort::Result<Session>,
    ) -> ort::Result<Session> {
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
        commit(&mut b)
    }

    /// Runs the model on named inputs and returns every output by name (copied to host tensors).
    pub fn run(&mut self, inputs: &[(String, HostTensor)]) -> Result<Vec<(String, HostTensor)>> {
        self.run_with(inputs, |outs| outs.all())?
    }

    /// Runs the model on named inputs and hands `read` the outputs where
    /// ONNX Runtime left them (no copy: scoring reads the logits in place).
    pub fn run_with<R>(&mut self, inputs: &[(String, HostTensor)], read: impl FnOnce(&Outputs<'_, '_>) -> R) -> Result<R> {
        let failed = |source| Error::Run { model: self.model.clone(), source };
        let mut values = Vec::with_capacity(inputs.len());
        for (name, t) in inputs {
            values.push((std::borrow::Cow::from(name.as_str()), ort::session::SessionInputValue::from(t.to_value().map_err(failed)?)));
        }
        let start = std::time::Instant::now();
        let outputs = self.session.run(values).map_err(failed)?;
        self.stats.runs += 1;
        self.stats.run_seconds += start.elapsed().as_secs_f64();
        Ok(read(&Outputs { model: &self.model, names: &self.outputs, values: &outputs }))
    }

    /// Time spent inside ONNX Runtime's `run` so far.
    pub fn stats(&self) -> RunStats {
        self.stats
    }

    /// Starts [`Self::stats`] again from zero (after runs that belong to opening the model).
    pub fn reset_stats(&mut self) {
        self.stats = RunStats::default();
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
    model: &'a Path,
    names: &'a [String],
    values: &'a ort::session::SessionOutputs<'r>,
}

impl Outputs<'_, '_> {
    fn value(&self, name: &str) -> Result<&ort::value::DynValue> {
        self.values.get(name).ok_or_else(|| Error::MissingOutput(name.to_string()))
    }

    fn failed(&self) -> impl FnOnce(ort::Error) -> Error + '_ {
        |source| Error::Run { model: self.model.to_path_buf(), source }
    }

    /// An f32 output's shape and elements, without copying.
    pub fn f32(&self, name: &str) -> Result<(Vec<i64>, &[f32])> {
        let (shape, data) = self.value(name)?.try_extract_tensor::<f32>().map_err(self.failed())?;
        Ok((shape.to_vec(), data))
    }

    /// One output copied to host memory.
    pub fn host(&self, name: &str) -> Result<HostTensor> {
        HostTensor::from_value(self.value(name)?).map_err(self.failed())
    }

    /// Every output, copied, by name.
    pub fn all(&self) -> Result<Vec<(String, HostTensor)>> {
        self.names.iter().map(|n| Ok((n.clone(), self.host(n)?))).collect()
    }
}

/// The op types of a model's main graph.
fn ops_of(m: &painters_graph::OnnxModel) -> std::collections::BTreeSet<String> {
    m.graph().node.iter().map(|n| n.op_type().to_string()).collect()
}

/// Initializers at least this large are read in place from their file
/// (`OnnxModel::session_form`) instead of from serialized copies.
pub const IN_PLACE_MIN: usize = 1024;

/// The graph of `m`, an inline-weights model file (at least `threshold`
/// bytes of inline weights), with each large initializer turned into an
/// external reference to its bytes inside that same file, serialized (the
/// references are relative to the file's folder). `None` when the model is
/// not such a file.
fn inline_as_external(m: &painters_graph::OnnxModel, threshold: usize) -> Option<Vec<u8>> {
    if m.has_external_data() || (m.source_bytes().len() as u64) < threshold as u64 {
        return None;
    }
    let (bytes, moved) = m.session_form(m.proto.clone(), IN_PLACE_MIN).ok()?;
    if moved == 0 || moved < threshold as u64 {
        return None;
    }
    Some(bytes)
}

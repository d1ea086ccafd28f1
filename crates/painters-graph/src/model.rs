//! `OnnxModel`: a parsed `ModelProto` plus the directory its external data is
//! relative to. Loading memory-maps the file and parses it without copying
//! weight bytes (they stay slices of the map), and checks every external-data
//! reference by `stat` alone: weights are never read to inspect or rewrite.
//! Saving is atomic (a temporary file in the target directory, then a rename).
use foldhash::{HashMap, HashMapExt};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use protobuf::Message;

use crate::error::{GraphError, HeaderDefect, Result};
use crate::proto::onnx::{GraphProto, ModelProto, TensorProto};
use crate::tensor::{byte_size, external_ref, is_external};

/// Puts the nodes of `g` in a topological order when they are not (the fp16
/// converter appends its input casts at the end); a valid order is kept. Fails on a cycle, naming a node on it.
fn sort_topologically(g: &mut GraphProto) -> Result<()> {
    let produced: foldhash::HashSet<&str> = g.node.iter().flat_map(|n| n.output.iter().map(String::as_str)).collect();
    let mut defined: foldhash::HashSet<&str> = foldhash::HashSet::default();
    let sorted = g.node.iter().all(|n| {
        let ok = crate::index::node_inputs(n).iter().all(|t| !produced.contains(t) || defined.contains(t));
        defined.extend(n.output.iter().map(String::as_str));
        ok
    });
    if sorted {
        return Ok(());
    }
    let order: Vec<usize> = crate::index::GraphIndex::new(g)?.topo_order().to_vec();
    let mut old: Vec<Option<crate::proto::onnx::NodeProto>> = std::mem::take(&mut g.node).into_iter().map(Some).collect();
    g.node = order.into_iter().filter_map(|n| old[n].take()).collect();
    Ok(())
}

/// A loaded ONNX model.
#[derive(Debug, Clone)]
pub struct OnnxModel {
    /// The protobuf: the source of truth.
    pub proto: ModelProto,
    /// The file it was read from, when it was read from a file.
    path: Option<PathBuf>,
    /// The directory external-data locations are relative to.
    dir: PathBuf,
    /// The memory map the protobuf was parsed from (empty when built in
    /// memory): `bytes` fields of the proto are slices of it.
    map: Bytes,
}

/// Serializes a model protobuf as it is (nothing checked: tests write broken models with it).
pub fn proto_bytes(proto: &ModelProto) -> Result<Vec<u8>> {
    proto.write_to_bytes().map_err(|e| GraphError::Serialize { reason: e.to_string() })
}

/// The serialized size of a model protobuf in bytes (inline weights included).
pub fn proto_size(proto: &ModelProto) -> u64 {
    proto.compute_size()
}

impl OnnxModel {
    /// Reads and checks `path`: the protobuf parses, holds a graph with nodes,
    /// and every external-data reference is relative, inside the model's
    /// directory, and within the size of an existing file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::load_with(path, false)
    }

    /// [`Self::load`]; with `prefetch`, the kernel is first asked to read the
    /// whole file ahead, sequentially. Parsing touches every initializer's
    /// header, scattered through an inline-weights file: on a cold cache that
    /// is one disk wait per tensor, unless the file streams in ahead of the
    /// parser. Worth it when the whole file will be read anyway (a rewrite
    /// copies and hashes it); not for `inspect`.
    pub fn load_with(path: impl AsRef<Path>, prefetch: bool) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| GraphError::Io { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if meta.is_dir() {
            return Err(GraphError::NotOnnx { path: path.to_path_buf(), reason: "it is a directory".into() });
        }
        if prefetch {
            crate::serialize::advise(&file, crate::serialize::Advice::WillNeed);
        }
        let bytes = if meta.len() == 0 { Bytes::new() } else { map_file(&file).map_err(io)? };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut model = Self::from_bytes(bytes, dir).map_err(|e| match e {
            GraphError::NotOnnx { reason, .. } => GraphError::NotOnnx { path: path.to_path_buf(), reason },
            other => other,
        })?;
        model.path = Some(path.to_path_buf());
        Ok(model)
    }

    /// Puts the graph in the canonical form detection and rewriting work on:
    /// fused residual nodes split (see [`crate::fused`]; an emitted graph
    /// joins them again), and casts of inputs shared by a shape read and a
    /// block split ([`crate::casts`]); nodes in topological order, and the
    /// graph checked ([`crate::validate::validate_input`]: a model with an
    /// undefined input or two producers of a tensor is refused). Returns how many nodes were split; 0
    /// for the first output of the exporters. Outputs are unchanged.
    pub fn canonicalize(&mut self) -> Result<usize> {
        let Some(g) = self.proto.graph.as_mut() else { return Ok(0) };
        sort_topologically(g)?;
        crate::validate::validate_input(g)?;
        let split = crate::fused::split(g)? + crate::casts::split(g);
        Ok(split)
    }

    /// The offset in the source file of `bytes` when they are a slice of the
    /// file this model was memory-mapped from (so a writer can copy them
    /// file-to-file, in the kernel, instead of through memory).
    pub fn file_offset(&self, bytes: &[u8]) -> Option<u64> {
        self.path.as_ref()?;
        let (start, len) = (self.map.as_ptr() as usize, self.map.len());
        let p = bytes.as_ptr() as usize;
        (p >= start && p + bytes.len() <= start + len && !bytes.is_empty()).then(|| (p - start) as u64)
    }

    /// The bytes the model was parsed from (empty for a model built in memory).
    pub fn source_bytes(&self) -> &[u8] {
        &self.map
    }

    /// Parses a serialized model whose external data (if any) is relative to `dir`.
    pub fn from_bytes(bytes: Bytes, dir: impl Into<PathBuf>) -> Result<Self> {
        let not_onnx = |reason: String| GraphError::NotOnnx { path: PathBuf::from("<memory>"), reason };
        if bytes.is_empty() {
            return Err(not_onnx("the file is empty".into()));
        }
        let proto = ModelProto::parse_from_tokio_bytes(&bytes).map_err(|e| not_onnx(format!("protobuf error: {e}")))?;
        let mut model = Self::from_proto(proto, dir).map_err(|e| match e {
            GraphError::Header(defect) => not_onnx(defect.to_string()),
            other => other,
        })?;
        model.map = bytes;
        Ok(model)
    }

    /// Wraps an in-memory `ModelProto` and checks it as `load` does.
    pub fn from_proto(proto: ModelProto, dir: impl Into<PathBuf>) -> Result<Self> {
        let model = Self { proto, path: None, dir: dir.into(), map: Bytes::new() };
        model.check_header()?;
        model.check_tensor_sizes()?;
        model.check_external_data()?;
        Ok(model)
    }

    fn check_header(&self) -> Result<()> {
        let p = &self.proto;
        if p.ir_version.is_none() || p.ir_version() <= 0 {
            return Err(GraphError::Header(HeaderDefect::NoIrVersion));
        }
        if p.opset_import.is_empty() {
            return Err(GraphError::Header(HeaderDefect::NoOpset));
        }
        match p.graph.as_ref() {
            Some(g) if !g.node.is_empty() => Ok(()),
            _ => Err(GraphError::Header(HeaderDefect::NoNodes)),
        }
    }

    /// Checks that the size each initializer's header claims (type and dims)
    /// is representable and matches the bytes actually there: `raw_data`,
    /// the typed value lists, or the external-data `length`. Anything that
    /// sizes buffers from dims (ONNX Runtime, a writer copying weights) can
    /// then trust them.
    fn check_tensor_sizes(&self) -> Result<()> {
        for t in &self.graph().initializer {
            crate::tensor::check_size(t).map_err(|reason| GraphError::BadTensor { tensor: t.name().to_string(), reason })?;
        }
        Ok(())
    }

    /// Checks every external reference without reading any weight byte.
    fn check_external_data(&self) -> Result<()> {
        let mut sizes: HashMap<PathBuf, u64> = HashMap::new();
        for t in self.external_tensors() {
            let (path, offset, length) = self.external_span(t)?;
            let size = match sizes.get(&path) {
                Some(&s) => s,
                None => {
                    let meta = std::fs::metadata(&path)
                        .map_err(|_| GraphError::ExternalMissing { tensor: t.name().to_string(), path: path.clone() })?;
                    sizes.insert(path.clone(), meta.len());
                    meta.len()
                }
            };
            let end = offset.saturating_add(length);
            if end > size {
                return Err(GraphError::ExternalOutOfRange { tensor: t.name().to_string(), path, offset, end, size });
            }
        }
        Ok(())
    }

    /// Initializers stored in external files.
    pub fn external_tensors(&self) -> impl Iterator<Item = &TensorProto> {
        self.graph().initializer.iter().filter(|t| is_external(t))
    }

    /// Resolves an external tensor to (file, offset, length), refusing
    /// locations that are absolute or leave the model's directory.
    pub fn external_span(&self, t: &TensorProto) -> Result<(PathBuf, u64, u64)> {
        let r = external_ref(t).map_err(|reason| GraphError::BadTensor { tensor: t.name().to_string(), reason })?;
        let bad = |reason: &str| GraphError::ExternalLocation {
            tensor: t.name().to_string(),
            location: r.location.clone(),
            reason: reason.to_string(),
        };
        let loc = Path::new(&r.location);
        if r.location.is_empty() {
            return Err(bad("is empty"));
        }
        if loc.is_absolute() || r.location.starts_with('/') || r.location.starts_with('\\') {
            return Err(bad("is absolute; ONNX requires a path relative to the model file"));
        }
        if loc.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
            return Err(bad("leaves the model's directory ('..' is not allowed)"));
        }
        let length = r.length.unwrap_or_else(|| byte_size(t));
        Ok((self.dir.join(loc), r.offset, length))
    }

    /// The main graph.
    pub fn graph(&self) -> &GraphProto {
        // `check_header` guarantees a graph; an empty default covers models
        // built by hand and mutated afterwards.
        self.proto.graph.as_ref().unwrap_or_else(|| GraphProto::default_instance())
    }

    /// The main graph, mutable.
    pub fn graph_mut(&mut self) -> &mut GraphProto {
        self.proto.graph.mut_or_insert_default()
    }

    /// The file the model was loaded from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The directory external data is resolved against.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether any initializer lives in an external file.
    pub fn has_external_data(&self) -> bool {
        self.external_tensors().next().is_some()
    }

    /// `proto`, a model made from this one (an emission, whose weights are
    /// slices of this model's file), serialized for ONNX Runtime: every
    /// initializer of at least `min` bytes that lies inside this model's
    /// file becomes an external reference into that file, so a session
    /// reads the weights from the file instead of a serialized copy. Returns
    /// the bytes and how many weight bytes are referenced in place; external
    /// references (moved or the source's own) are relative to [`Self::dir`].
    pub fn session_form(&self, mut proto: ModelProto, min: usize) -> Result<(Vec<u8>, u64)> {
        let file_name = self.path.as_ref().and_then(|p| p.file_name()).map(|f| f.to_string_lossy().to_string());
        let mut moved = 0u64;
        if let (Some(file_name), Some(graph)) = (file_name, proto.graph.as_mut()) {
            for t in &mut graph.initializer {
                let Some(raw) = t.raw_data.as_ref() else { continue };
                if raw.len() < min.max(1) {
                    continue;
                }
                let Some(offset) = self.file_offset(raw) else { continue };
                let len = raw.len() as u64;
                crate::tensor::set_external(t, &file_name, offset, len);
                moved += len;
            }
        }
        let bytes = proto.write_to_bytes().map_err(|e| GraphError::Serialize { reason: e.to_string() })?;
        Ok((bytes, moved))
    }

    /// Serializes the model to bytes (weights included when inline).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        proto_bytes(&self.proto)
    }

    /// Writes the model to `path` atomically. External references are kept
    /// as they are, so the target must be in the same directory as the
    /// source when the model has external data; the source file itself is
    /// never overwritten.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let werr = |source| GraphError::Write { path: path.to_path_buf(), source };
        let target_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if let Some(src) = &self.path {
            if same_file(src, path) {
                return Err(werr(std::io::Error::other("refusing to overwrite the model being rewritten")));
            }
        }
        if self.has_external_data() && !same_dir(&self.dir, &target_dir) {
            return Err(werr(std::io::Error::other(format!(
                "the model's external data lives in {}; write the output into that directory",
                self.dir.display()
            ))));
        }
        write_atomic(path, |w| self.proto.write_to_writer(w).map_err(|e| std::io::Error::other(e.to_string())))
    }
}

/// Writes a file atomically: `fill` writes into a temporary file in the
/// target's directory, which is renamed over the target only when everything
/// succeeded. On any error the temporary file is removed and the target is
/// untouched. The data is not forced to disk (as `cp` and `onnx.save` do
/// not); [`write_atomic_with`] with `sync` adds an `fsync` before the rename,
/// for durability across a power loss.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut BufWriter<&File>) -> std::io::Result<()>) -> Result<()> {
    write_atomic_with(path, false, fill)
}

/// [`write_atomic`], with an `fsync` of the file before the rename when `sync`.
/// `fill` gets a buffered writer over the file itself, so `std::io::copy`
/// from a `File` (or a `Take<&File>`) into it copies in the kernel.
pub fn write_atomic_with(path: &Path, sync: bool, fill: impl FnOnce(&mut BufWriter<&File>) -> std::io::Result<()>) -> Result<()> {
    let werr = |source| GraphError::Write { path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new().prefix(".painters-").suffix(".tmp").tempfile_in(&dir).map_err(werr)?;
    {
        let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
        fill(&mut w).map_err(werr)?;
        w.flush().map_err(werr)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile creates 0600; a model file is as readable as any other output.
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(werr)?;
    }
    if sync {
        tmp.as_file().sync_all().map_err(werr)?;
    }
    tmp.persist(path).map_err(|e| werr(e.error))?;
    Ok(())
}

#[allow(unsafe_code)]
fn map_file(file: &File) -> std::io::Result<Bytes> {
    // SAFETY: the map is read-only; painters never writes to a model it reads
    // (saving over the source is refused). Another process truncating the
    // file while it is mapped is outside what we can defend against, as for
    // every memory-mapped reader (ONNX Runtime maps external data the same way).
    let map = unsafe { memmap2::Mmap::map(file)? };
    Ok(Bytes::from_owner(map))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

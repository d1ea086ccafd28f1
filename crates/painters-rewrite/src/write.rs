//! Writing a rewritten model as a usable model folder. Invariants:
//! - never overwrite the source (model or weight file), never leave a
//!   partial file: every file is written to a temporary name and renamed;
//! - weights are not copied when they need not be: an external-data model
//!   written next to its source references the same weight file; written
//!   elsewhere it gets its own data file with only the tensors still used
//!   (or hard links with `link`);
//! - inline models stay inline unless asked, or the result passes 2 GB;
//! - provenance (canonical plan, source digest, tool version) goes into
//!   `metadata_props`; tokenizer and config files come along.
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use painters_graph::proto::onnx::{ModelProto, StringStringEntryProto, TensorProto};
use painters_graph::tensor::{external_ref, is_external, set_external};
use painters_graph::serialize::{write_message_field, CopyProgress, GraphWriter, PayloadSource, MODEL_METADATA_PROPS};
use painters_graph::{write_atomic_with, BlockLayout, GraphError, OnnxModel};

use crate::emit::{emit_with, EmitOptions};
use crate::error::{Result, RewriteError};
use crate::folder::FolderModel;
use painters_graph::conventions::meta;
use crate::lower::lower;
use crate::plan::Plan;
use crate::schedule::Instance;

/// Files copied next to the output so it is a usable model folder
/// (`config.json` and `genai_config.json` rewritten to describe it: see `folder`).
pub const MODEL_FOLDER_FILES: [&str; 12] = [
    "genai_config.json",
    "chat_template.jinja",
    "added_tokens.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "config.json",
    "generation_config.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
];

const INLINE_LIMIT: u64 = 2_000_000_000;

/// How to write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Store weights in `<OUT>.data` even when the model would fit inline.
    pub external_data: bool,
    /// Hard-link the source's weight files into another directory instead of copying.
    pub link: bool,
    /// Add hidden-state taps (`painters.hidden.*`).
    pub tap: bool,
    /// `fsync` every file before renaming it into place (durability across a
    /// power loss; the writes are atomic either way).
    pub sync: bool,
    /// Told (bytes done, bytes in all) while weights are copied into a new
    /// data file, which can take minutes for a large model.
    pub progress: Option<Progress>,
}

/// A callback reporting the progress of a weight copy: (bytes done, bytes in all).
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(u64, u64) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// Where the output's weights are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightMode {
    /// Inside the `.onnx` file.
    Inline,
    /// The source's weight file, referenced in place (nothing copied).
    Shared,
    /// Hard links to the source's weight files.
    Linked,
    /// A new data file holding the tensors still used.
    Copied,
}

/// What a rewrite writes (a [`WritePlan`], `dry_run: true`) or wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WriteReport {
    pub output: PathBuf,
    pub plan: String,
    pub source_blocks: usize,
    pub instances: usize,
    pub schedule: Vec<Instance>,
    pub weights: WeightMode,
    pub data_files: Vec<PathBuf>,
    /// Bytes of weights read and written: the inline weights of an inline
    /// output, the new data file's tensors when copied, 0 when shared or linked.
    pub weight_bytes_copied: u64,
    /// Model-folder files that go next to the output (rewritten or copied).
    pub copied_files: Vec<String>,
    /// True for a plan not executed.
    pub dry_run: bool,
}

/// A rewrite decided but not yet written: the emitted graph, where its
/// weights go (inline, the source's file shared or hard-linked, or a new
/// data file laid out tensor by tensor), and the model-folder files that
/// come along (rewritten ones already rewritten). Made by [`plan_write`];
/// [`WritePlan::execute`] writes it; `painters rewrite --dry-run` prints
/// [`WritePlan::report`].
#[derive(Debug)]
pub struct WritePlan<'a> {
    model: &'a OnnxModel,
    plan: &'a Plan,
    proto: ModelProto,
    report: WriteReport,
    /// The new data file's layout when weights are copied: (initializer, offset, length).
    data_layout: Vec<Placed>,
    /// Where a new data file goes, and how the graph names it.
    data_path: PathBuf,
    data_name: String,
    /// Model-folder files: (name, source path, new text when rewritten).
    folder_files: Vec<(String, PathBuf, Option<String>)>,
    /// The source folder, and the source's weight files (relative names) to hard-link.
    link_from: PathBuf,
    link_files: Vec<String>,
}

/// Rewrites `src` by `plan` into `out`.
pub fn rewrite_file(src: &Path, plan: &Plan, out: &Path, opts: &WriteOptions) -> Result<WriteReport> {
    let (model, layout) = crate::declared::open(src, false)?;
    rewrite_model(&model, &layout, plan, out, opts)
}

/// [`rewrite_file`] for a model already loaded from a file and detected
/// (so a caller that needs the block count to build its plan loads once):
/// [`plan_write`], then [`WritePlan::execute`].
pub fn rewrite_model(model: &OnnxModel, layout: &BlockLayout, plan: &Plan, out: &Path, opts: &WriteOptions) -> Result<WriteReport> {
    plan_write(model, layout, plan, out, opts)?.execute(opts)
}

/// Decides the rewrite of `model` by `plan` into `out`, writing nothing: the
/// plan is validated and lowered, the graph emitted, the output's weights and
/// folder files planned. Fails for everything a write would fail on before
/// touching the disk (an output that would overwrite the source or its
/// weights, a folder file that cannot be rewritten).
pub fn plan_write<'a>(model: &'a OnnxModel, layout: &BlockLayout, plan: &'a Plan, out: &Path, opts: &WriteOptions) -> Result<WritePlan<'a>> {
    let src = model.path().ok_or_else(|| write_error(out, "the source model was not loaded from a file".into()))?;
    if same_target(src, out) {
        return Err(write_error(out, "refusing to overwrite the source model".into()));
    }
    let schedule = lower(plan, model, layout)?;
    let mut proto = emit_with(model, layout, &schedule, &EmitOptions { tap: opts.tap })?;
    proto.metadata_props.retain(|p| !p.key().starts_with(meta::PREFIX));
    let src_dir = parent(src);
    let out_dir = parent(out);
    let same_dir = canonical(&src_dir) == canonical(&out_dir);
    let data_name = format!("{}.data", out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default());
    let mut p = WritePlan {
        model,
        plan,
        report: WriteReport {
            output: out.to_path_buf(),
            plan: plan.to_string(),
            source_blocks: layout.num_blocks(),
            instances: plan.instances(),
            schedule: schedule.instances().into_iter().cloned().collect(),
            weights: WeightMode::Inline,
            data_files: Vec::new(),
            weight_bytes_copied: 0,
            copied_files: Vec::new(),
            dry_run: true,
        },
        data_layout: Vec::new(),
        data_path: out_dir.join(&data_name),
        data_name,
        folder_files: Vec::new(),
        link_from: src_dir.clone(),
        link_files: Vec::new(),
        proto,
    };
    if model.has_external_data() {
        let files = referenced_files(&p.proto)?;
        if files.iter().any(|f| canonical(&out_dir.join(f)) == canonical(out)) {
            return Err(write_error(out, "the output would overwrite the source's weight file".into()));
        }
        if same_dir {
            p.report.weights = WeightMode::Shared;
        } else if opts.link && linkable(&src_dir, &out_dir, &files) {
            p.report.weights = WeightMode::Linked;
            p.link_files.clone_from(&files);
        } else {
            p.plan_copy()?;
        }
        if p.report.weights != WeightMode::Copied {
            p.report.data_files = files.iter().map(|f| out_dir.join(f)).collect();
        }
    } else if opts.external_data || painters_graph::model::proto_size(&p.proto) > INLINE_LIMIT {
        p.plan_copy()?;
    } else {
        // Inline weights go into the new file (copied in the kernel).
        p.report.weight_bytes_copied = p.proto.graph.initializer.iter().map(painters_graph::tensor::byte_size).sum();
    }
    if !same_dir {
        let blocks = schedule.blocks();
        let source = crate::lower::sequence(model, layout, 0..layout.num_blocks())?;
        let folder = FolderModel {
            plan: &p.report.plan,
            instances: &blocks,
            source_blocks: layout.num_blocks(),
            depth: schedule.depth(),
            depth_of_source: source.depth(),
            file_name: &out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
        };
        for name in MODEL_FOLDER_FILES {
            let from = src_dir.join(name);
            if !from.is_file() {
                continue;
            }
            let rewritten = if name.ends_with(".json") {
                let text = std::fs::read_to_string(&from).map_err(|e| write_error(out, format!("{}: {e}", from.display())))?;
                crate::folder::rewrite_file(name, &text, &folder).map_err(|e| write_error(out, format!("{}: {e}", from.display())))?
            } else {
                None
            };
            p.folder_files.push((name.to_string(), from, rewritten));
            p.report.copied_files.push(name.to_string());
        }
    }
    Ok(p)
}

impl WritePlan<'_> {
    /// What will be written.
    pub fn report(&self) -> &WriteReport {
        &self.report
    }

    /// Plans a new data file holding the tensors still used.
    fn plan_copy(&mut self) -> Result<()> {
        let (layout, total) = data_layout(&self.proto, self.model)?;
        self.data_layout = layout;
        self.report.weights = WeightMode::Copied;
        self.report.weight_bytes_copied = total;
        self.report.data_files = vec![self.data_path.clone()];
        Ok(())
    }

    /// Writes the plan: the weights (linked, or copied into the new data
    /// file), the model, the folder files — each to a temporary name renamed
    /// into place, under the output folder's lock.
    pub fn execute(mut self, opts: &WriteOptions) -> Result<WriteReport> {
        let out = self.report.output.clone();
        let out_dir = parent(&out);
        let _lock = painters_graph::lock::FolderLock::acquire(&out_dir, "rewrite")?;
        if self.report.weights == WeightMode::Linked && link_all(&self.link_from, &out_dir, &self.link_files).is_err() {
            // Linking failed where it looked possible (permissions, a race): copy instead.
            self.plan_copy()?;
        }
        if self.report.weights == WeightMode::Copied {
            externalize(&mut self.proto, self.model, &self.data_layout, &self.data_path, &self.data_name, self.report.weight_bytes_copied, opts)?;
        }
        write_model(self.model, &mut self.proto, self.plan, self.report.source_blocks, &out, opts.sync)?;
        for (name, from, rewritten) in &self.folder_files {
            match rewritten {
                Some(text) => write_atomic_with(&out_dir.join(name), opts.sync, |w| w.write_all(text.as_bytes()))?,
                None => {
                    let mut f = File::open(from).map_err(|e| write_error(&out, format!("{}: {e}", from.display())))?;
                    write_atomic_with(&out_dir.join(name), opts.sync, |w| std::io::copy(&mut f, w).map(drop))?;
                }
            }
        }
        self.report.dry_run = false;
        Ok(self.report)
    }
}

fn write_error(out: &Path, msg: String) -> RewriteError {
    RewriteError::Graph(GraphError::Write { path: out.to_path_buf(), source: std::io::Error::other(msg) })
}

/// Writes `proto` (the graph emitted from `model`) to `out` with the
/// provenance entries. Inline payloads that are slices of the source file are
/// copied in the kernel (aligned to the source's page offsets by a
/// `painters.padding` entry when that makes the largest copy faster), and the
/// source's digest is computed on another thread meanwhile; the provenance
/// is written last (after the graph), when the digest is known.
fn write_model(model: &OnnxModel, proto: &mut ModelProto, plan: &Plan, blocks: usize, out: &Path, sync: bool) -> Result<()> {
    let src = model.path().unwrap_or(out);
    let io = |e: std::io::Error| RewriteError::Graph(GraphError::Write { path: out.to_path_buf(), source: e });
    // The digest thread follows the largest copy through the page cache, so
    // a cold source is read from disk once.
    let progress = Arc::new(CopyProgress::default());
    let source = PayloadSource::open(model)
        .map_err(|e| GraphError::Io { path: src.to_path_buf(), source: e })?
        .map(|s| s.report_to(progress.clone()));
    let mut graph = proto.graph.take().unwrap_or_default();
    let inits = std::mem::take(&mut graph.initializer);
    let graph = GraphWriter::new(graph, &inits, source.as_ref()).map_err(io)?;
    let mut head = painters_graph::model::proto_bytes(proto).map_err(|e| io(std::io::Error::other(e.to_string())))?;
    let mut follow = None;
    if let Some((at, src_offset, len)) = graph.largest_copy() {
        head.extend(painters_graph::serialize::padding(head.len() as u64 + at, src_offset, len));
        follow = Some((src_offset, src_offset + len));
    }
    std::thread::scope(|scope| {
        let digest = scope.spawn(|| source_digest(model, follow, &progress));
        // However writing ends, the digest thread stops waiting for copies.
        let _finish = FinishOnDrop(&progress);
        write_atomic_with(out, sync, |w| {
            w.write_all(&head)?;
            graph.write(w)?;
            progress.finish(); // every copy is done
            let digest = digest.join().map_err(|_| std::io::Error::other("hashing the source failed"))??;
            for entry in provenance(src, plan, blocks, digest) {
                write_message_field(w, MODEL_METADATA_PROPS, &entry)?;
            }
            Ok(())
        })
    })?;
    Ok(())
}


fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// Whether `out` names the same file as `src` (also when `out` does not exist yet).
fn same_target(src: &Path, out: &Path) -> bool {
    let (Ok(s), Some(name)) = (src.canonicalize(), out.file_name()) else { return false };
    canonical(&parent(out)).join(name) == s
}

/// The provenance entries painters writes (`painters.*` in `metadata_props`).
fn provenance(src: &Path, plan: &Plan, blocks: usize, digest: String) -> Vec<StringStringEntryProto> {
    let entries = [
        (meta::PLAN, plan.to_string()),
        (meta::SOURCE, src.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()),
        (meta::SOURCE_BLAKE3, digest),
        (meta::SOURCE_BLOCKS, blocks.to_string()),
        (meta::VERSION, env!("CARGO_PKG_VERSION").to_string()),
    ];
    entries
        .into_iter()
        .map(|(k, v)| {
            let mut e = StringStringEntryProto::new();
            e.set_key(k.to_string());
            e.set_value(v);
            e
        })
        .collect()
}

/// BLAKE3 of the source file (as `b3sum` prints it): of its memory map, or
/// read when it was not mapped. BLAKE3 rather than SHA-256 because the digest
/// covers inline weights too, and at ~4 GB/s it stays off the critical path
/// of a rewrite (it runs while the weights are copied). The source bytes
/// `follow` are hashed behind the copy that reads them (`progress`).
fn source_digest(model: &OnnxModel, follow: Option<(u64, u64)>, progress: &CopyProgress) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    let bytes = model.source_bytes();
    if bytes.is_empty() {
        let mut f = File::open(model.path().unwrap_or(Path::new("")))?;
        h.update_reader(&mut f)?;
        return Ok(h.finalize().to_hex().to_string());
    }
    let (start, end) = follow.map_or((0, 0), |(s, e)| (s as usize, (e as usize).min(bytes.len())));
    let start = start.min(end);
    h.update(&bytes[..start]);
    let mut pos = start;
    while pos < end {
        let next = (pos + (4 << 20)).min(end);
        progress.wait_for(next as u64);
        h.update(&bytes[pos..next]);
        pos = next;
    }
    h.update(&bytes[end..]);
    Ok(h.finalize().to_hex().to_string())
}

/// Calls [`CopyProgress::finish`] when dropped.
struct FinishOnDrop<'a>(&'a CopyProgress);

impl Drop for FinishOnDrop<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// Relative locations of the external files the emitted graph references.
fn referenced_files(proto: &ModelProto) -> Result<Vec<String>> {
    let mut files: Vec<String> = Vec::new();
    for t in proto.graph.initializer.iter().filter(|t| is_external(t)) {
        let r = external_ref(t).map_err(|reason| GraphError::BadTensor { tensor: t.name().to_string(), reason })?;
        if !files.contains(&r.location) {
            files.push(r.location);
        }
    }
    Ok(files)
}

/// Whether every referenced file can be hard-linked into `out_dir`: the
/// target is absent (or already that file) and the output folder (or its
/// nearest existing ancestor) is on the source's file system.
fn linkable(src_dir: &Path, out_dir: &Path, files: &[String]) -> bool {
    let existing = out_dir.ancestors().find(|d| d.exists()).unwrap_or(Path::new("."));
    files.iter().all(|f| {
        let (from, to) = (src_dir.join(f), out_dir.join(f));
        if to.exists() {
            return same_inode(&from, &to);
        }
        same_device(&from, existing)
    })
}

/// Hard-links every referenced file into `out_dir` (same relative names).
fn link_all(src_dir: &Path, out_dir: &Path, files: &[String]) -> std::io::Result<()> {
    for f in files {
        let (from, to) = (src_dir.join(f), out_dir.join(f));
        if let Some(d) = to.parent() {
            std::fs::create_dir_all(d)?;
        }
        if to.exists() {
            if same_inode(&from, &to) {
                continue;
            }
            return Err(std::io::Error::other(format!("{} exists", to.display())));
        }
        let tmp = to.with_extension("painters-link.tmp");
        let _ = std::fs::remove_file(&tmp);
        std::fs::hard_link(&from, &tmp)?;
        std::fs::rename(&tmp, &to)?;
    }
    Ok(())
}

#[cfg(unix)]
fn same_device(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_device(_: &Path, _: &Path) -> bool {
    false
}

#[cfg(unix)]
fn same_inode(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.ino() == y.ino() && x.dev() == y.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_: &Path, _: &Path) -> bool {
    false
}

/// One tensor's place in a new data file: (initializer index, offset, length).
type Placed = (usize, u64, u64);

/// The layout of a new data file holding every initializer with raw data
/// (external, or inline and ≥ 1 KiB), 64-byte aligned, and the file's length.
fn data_layout(proto: &ModelProto, src: &OnnxModel) -> Result<(Vec<Placed>, u64)> {
    let mut layout = Vec::new();
    let mut total = 0u64;
    for (i, t) in proto.graph.initializer.iter().enumerate() {
        let len = if is_external(t) {
            src.external_span(t)?.2
        } else if t.raw_data().len() >= 1024 {
            t.raw_data().len() as u64
        } else {
            continue;
        };
        let offset = align(total);
        layout.push((i, offset, len));
        total = offset + len;
    }
    Ok((layout, total))
}

/// Writes the tensors of `layout` (see [`data_layout`]) into a new data file
/// `path` and points the initializers at it as `location`. Reads only the
/// tensors still used.
fn externalize(proto: &mut ModelProto, src: &OnnxModel, layout: &[Placed], path: &Path, location: &str, total: u64, opts: &WriteOptions) -> Result<()> {
    let report = |done: u64| {
        if let Some(p) = &opts.progress {
            (p.0)(done, total);
        }
    };
    let mut readers: BTreeMap<PathBuf, File> = BTreeMap::new();
    let inits = &proto.graph.initializer;
    let source = PayloadSource::open(src).map_err(|e| GraphError::Io { path: src.path().unwrap_or(path).to_path_buf(), source: e })?;
    write_atomic_with(path, opts.sync, |w| {
        let mut pos = 0u64;
        report(0);
        for &(i, offset, len) in layout {
            w.write_all(&vec![0u8; (offset - pos) as usize])?;
            pos = offset;
            let t: &TensorProto = &inits[i];
            if is_external(t) {
                let (file, offset, _) = src.external_span(t).map_err(std::io::Error::other)?;
                let f = match readers.entry(file.clone()) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => e.insert(File::open(&file)?),
                };
                f.seek(SeekFrom::Start(offset))?;
                // A `Take<&File>` into the file's `BufWriter`: copied in the kernel.
                let copied = std::io::copy(&mut (&*f).take(len), w)?;
                if copied != len {
                    return Err(std::io::Error::other(format!("{}: short read", file.display())));
                }
            } else if !source.as_ref().map(|s| s.try_copy(w, t.raw_data())).transpose()?.unwrap_or(false) {
                w.write_all(t.raw_data())?;
            }
            pos += len;
            report(pos);
        }
        Ok(())
    })?;
    for &(i, offset, len) in layout {
        set_external(&mut proto.graph.mut_or_insert_default().initializer[i], location, offset, len);
    }
    Ok(())
}

fn align(x: u64) -> u64 {
    x.div_ceil(64) * 64
}

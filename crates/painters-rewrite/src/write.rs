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
use crate::schedule::Schedule;

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
    /// Plan, schedule and check, but write nothing.
    pub dry_run: bool,
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

/// What a rewrite did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WriteReport {
    pub output: PathBuf,
    pub plan: String,
    pub source_blocks: usize,
    pub instances: usize,
    pub schedule: Vec<InstanceInfo>,
    pub weights: WeightMode,
    pub data_files: Vec<PathBuf>,
    /// Bytes of weights read and written: the inline weights of an inline
    /// output, the new data file's tensors when copied, 0 when shared or linked.
    pub weight_bytes_copied: u64,
    pub copied_files: Vec<String>,
    pub dry_run: bool,
}

/// One executed block instance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceInfo {
    /// Execution order.
    pub k: usize,
    pub block: usize,
    /// 0 for the first instance of a block (original names), then 1, 2, …
    pub copy: usize,
}

/// Rewrites `src` by `plan` into `out`.
pub fn rewrite_file(src: &Path, plan: &Plan, out: &Path, opts: &WriteOptions) -> Result<WriteReport> {
    let (model, layout) = crate::declared::open(src, false)?;
    rewrite_model(&model, &layout, plan, out, opts)
}

/// [`rewrite_file`] for a model already loaded from a file and detected
/// (so a caller that needs the block count to build its plan loads once).
pub fn rewrite_model(model: &OnnxModel, layout: &BlockLayout, plan: &Plan, out: &Path, opts: &WriteOptions) -> Result<WriteReport> {
    let werr = |msg: String| RewriteError::Graph(GraphError::Write { path: out.to_path_buf(), source: std::io::Error::other(msg) });
    let src = model.path().ok_or_else(|| werr("the source model was not loaded from a file".into()))?;
    if same_target(src, out) {
        return Err(werr("refusing to overwrite the source model".into()));
    }
    plan.validate(layout.num_blocks())?;
    let schedule = lower(plan);
    let mut proto = emit_with(model, layout, &schedule, &EmitOptions { tap: opts.tap })?;
    proto.metadata_props.retain(|p| !p.key().starts_with(meta::PREFIX));
    let src_dir = parent(src);
    let out_dir = parent(out);
    let mut report = WriteReport {
        output: out.to_path_buf(),
        plan: plan.to_string(),
        source_blocks: layout.num_blocks(),
        instances: plan.instances(),
        schedule: instances(&schedule),
        weights: WeightMode::Inline,
        data_files: Vec::new(),
        weight_bytes_copied: 0,
        copied_files: Vec::new(),
        dry_run: opts.dry_run,
    };
    let _lock = if opts.dry_run { None } else { Some(painters_graph::lock::FolderLock::acquire(&out_dir, "rewrite")?) };
    let same_dir = canonical(&src_dir) == canonical(&out_dir);
    let data_name = format!("{}.data", out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default());
    if model.has_external_data() {
        let files = referenced_files(&proto)?;
        if files.iter().any(|f| canonical(&out_dir.join(f)) == canonical(out)) {
            return Err(werr("the output would overwrite the source's weight file".into()));
        }
        if same_dir {
            report.weights = WeightMode::Shared;
            report.data_files = files.iter().map(|f| out_dir.join(f)).collect();
        } else if opts.link && link_all(&src_dir, &out_dir, &files, opts.dry_run).is_ok() {
            report.weights = WeightMode::Linked;
            report.data_files = files.iter().map(|f| out_dir.join(f)).collect();
        } else {
            report.weights = WeightMode::Copied;
            report.weight_bytes_copied = externalize(&mut proto, model, &out_dir.join(&data_name), &data_name, opts)?;
            report.data_files.push(out_dir.join(&data_name));
        }
    } else if opts.external_data || painters_graph::model::proto_size(&proto) > INLINE_LIMIT {
        report.weights = WeightMode::Copied;
        report.weight_bytes_copied = externalize(&mut proto, model, &out_dir.join(&data_name), &data_name, opts)?;
        report.data_files.push(out_dir.join(&data_name));
    }
    if report.weights == WeightMode::Inline {
        // Inline weights go into the new file (copied in the kernel).
        report.weight_bytes_copied = proto.graph.initializer.iter().map(painters_graph::tensor::byte_size).sum();
    }
    if opts.dry_run {
        return Ok(report);
    }
    write_model(model, &mut proto, plan, layout.num_blocks(), out, opts.sync)?;
    if !same_dir {
        let instances = schedule.instances();
        let folder = FolderModel {
            plan: &report.plan,
            instances: &instances,
            source_blocks: layout.num_blocks(),
            depth: depth(layout, &instances),
            depth_of_source: depth(layout, &(0..layout.num_blocks()).collect::<Vec<_>>()),
            file_name: &out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
        };
        for name in MODEL_FOLDER_FILES {
            let from = src_dir.join(name);
            if !from.is_file() {
                continue;
            }
            let rewritten = if name.ends_with(".json") {
                let text = std::fs::read_to_string(&from).map_err(|e| werr(format!("{}: {e}", from.display())))?;
                crate::folder::rewrite_file(name, &text, &folder).map_err(|e| werr(format!("{}: {e}", from.display())))?
            } else {
                None
            };
            match rewritten {
                Some(text) => write_atomic_with(&out_dir.join(name), opts.sync, |w| w.write_all(text.as_bytes()))?,
                None => {
                    let mut f = File::open(&from).map_err(|e| werr(format!("{}: {e}", from.display())))?;
                    write_atomic_with(&out_dir.join(name), opts.sync, |w| std::io::copy(&mut f, w).map(drop))?;
                }
            }
            report.copied_files.push(name.to_string());
        }
    }
    Ok(report)
}

/// The depth a runtime sees when `instances` (block indices) run: the KV
/// caches they hold (one per instance of an export's block; a block read
/// back from a painters rewrite may hold several), or the number of
/// instances without a cache.
fn depth(layout: &BlockLayout, instances: &[usize]) -> usize {
    if !layout.has_kv_cache() {
        return instances.len();
    }
    instances
        .iter()
        .map(|&b| {
            let Some(kv) = layout.blocks.get(b).and_then(|x| x.kv.as_ref()) else { return 0 };
            let mut caches: Vec<usize> = kv.inputs.iter().filter_map(|n| painters_graph::conventions::kv::index(n).map(|(_, _, i)| i)).collect();
            caches.sort_unstable();
            caches.dedup();
            caches.len().max(1)
        })
        .sum()
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


fn instances(schedule: &Schedule) -> Vec<InstanceInfo> {
    let mut copies: BTreeMap<usize, usize> = BTreeMap::new();
    schedule
        .instances()
        .into_iter()
        .enumerate()
        .map(|(k, block)| {
            let c = copies.entry(block).or_insert(0);
            let info = InstanceInfo { k, block, copy: *c };
            *c += 1;
            info
        })
        .collect()
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

/// Hard-links every referenced file into `out_dir` (same relative names).
fn link_all(src_dir: &Path, out_dir: &Path, files: &[String], dry_run: bool) -> std::io::Result<()> {
    if dry_run {
        return Ok(());
    }
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

/// Moves every initializer with raw data (external, or inline and ≥ 1 KiB)
/// into a new data file `path`, referenced as `location`; returns the bytes
/// written. Reads only the tensors still used.
fn externalize(proto: &mut ModelProto, src: &OnnxModel, path: &Path, location: &str, opts: &WriteOptions) -> Result<u64> {
    let mut plan: Vec<(usize, u64)> = Vec::new(); // (initializer index, length)
    let mut total = 0u64;
    for (i, t) in proto.graph.initializer.iter().enumerate() {
        let len = if is_external(t) {
            src.external_span(t)?.2
        } else if t.raw_data().len() >= 1024 {
            t.raw_data().len() as u64
        } else {
            continue;
        };
        total = align(total) + len;
        plan.push((i, len));
    }
    if opts.dry_run {
        return Ok(total);
    }
    let report = |done: u64| {
        if let Some(p) = &opts.progress {
            (p.0)(done, total);
        }
    };
    let mut readers: BTreeMap<PathBuf, File> = BTreeMap::new();
    let mut offsets: Vec<(usize, u64, u64)> = Vec::new();
    let inits = &proto.graph.initializer;
    let source = PayloadSource::open(src).map_err(|e| GraphError::Io { path: src.path().unwrap_or(path).to_path_buf(), source: e })?;
    write_atomic_with(path, opts.sync, |w| {
        let mut pos = 0u64;
        report(0);
        for &(i, len) in &plan {
            let aligned = align(pos);
            w.write_all(&vec![0u8; (aligned - pos) as usize])?;
            pos = aligned;
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
            offsets.push((i, pos, len));
            pos += len;
            report(pos);
        }
        Ok(())
    })?;
    for (i, offset, len) in offsets {
        set_external(&mut proto.graph.mut_or_insert_default().initializer[i], location, offset, len);
    }
    Ok(total)
}

fn align(x: u64) -> u64 {
    x.div_ceil(64) * 64
}

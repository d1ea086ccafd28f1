//! Streaming serialization of a graph whose large weight payloads are slices
//! of the memory-mapped source file. Those payloads are not copied through
//! memory: the writer emits the protobuf framing itself and copies each
//! payload file-to-file in the kernel (`std::io::copy` from a `Take<&File>`
//! into a `BufWriter<&File>` becomes `copy_file_range` on Linux), so the copy
//! itself costs what `cp` costs (BENCHMARKS.md, benchmark 2).
//!
//! The output is ordinary protobuf: fields may come in any order, and a
//! repeated field may be split (`metadata_props` written before and after
//! the graph concatenate), which every protobuf parser accepts. Within a
//! tensor written this way `raw_data` comes after the other fields.
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Condvar, Mutex};

use protobuf::Message;

use crate::model::OnnxModel;
use crate::proto::onnx::{GraphProto, TensorProto};

/// Payloads smaller than this are written from memory.
const KERNEL_COPY_MIN: usize = 64 * 1024;

/// ModelProto field numbers (onnx.proto).
pub const MODEL_GRAPH: u32 = 7;
pub const MODEL_METADATA_PROPS: u32 = 14;
const GRAPH_INITIALIZER: u32 = 5;
const TENSOR_RAW_DATA: u32 = 9;

/// Kernel copies run in steps of this size, reporting progress after each.
const COPY_STEP: u64 = 16 << 20;

/// How far the copies have read through the source file, so that another
/// thread reading the same bytes (the provenance digest) can follow the copy
/// through the page cache instead of reading a cold file from disk a second
/// time. Only ever a performance hint: what that thread reads does not
/// depend on it.
#[derive(Debug, Default)]
pub struct CopyProgress {
    state: Mutex<(u64, bool)>,
    cv: Condvar,
}

impl CopyProgress {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, bool)> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The source bytes before `offset` have been copied.
    pub fn advance(&self, offset: u64) {
        let mut s = self.lock();
        s.0 = s.0.max(offset);
        self.cv.notify_all();
    }

    /// No more copies will come (also on failure): waiters return.
    pub fn finish(&self) {
        self.lock().1 = true;
        self.cv.notify_all();
    }

    /// Blocks until the copies have passed `offset` or are finished.
    pub fn wait_for(&self, offset: u64) {
        let mut s = self.lock();
        while s.0 < offset && !s.1 {
            s = self.cv.wait(s).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

/// The source of kernel-copied payloads: a model loaded from a file, and
/// that file opened for reading.
#[derive(Debug)]
pub struct PayloadSource<'m> {
    model: &'m OnnxModel,
    file: File,
    progress: Option<Arc<CopyProgress>>,
}

impl<'m> PayloadSource<'m> {
    /// `None` when the model was not memory-mapped from a file.
    pub fn open(model: &'m OnnxModel) -> std::io::Result<Option<Self>> {
        match model.path() {
            Some(path) if !model.source_bytes().is_empty() => {
                let file = File::open(path)?;
                advise(&file, Advice::Sequential);
                Ok(Some(Self { model, file, progress: None }))
            }
            _ => Ok(None),
        }
    }

    /// Reports the progress of every copy to `progress`.
    pub fn report_to(mut self, progress: Arc<CopyProgress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The file span of `bytes` when it is worth a kernel copy.
    fn span(&self, bytes: &[u8]) -> Option<(u64, u64)> {
        if bytes.len() < KERNEL_COPY_MIN {
            return None;
        }
        self.model.file_offset(bytes).map(|o| (o, bytes.len() as u64))
    }

    /// Copies `len` bytes at `offset` of the source file into `w`.
    pub fn copy_to(&self, w: &mut BufWriter<&File>, offset: u64, len: u64) -> std::io::Result<()> {
        let mut f = &self.file;
        f.seek(SeekFrom::Start(offset))?;
        let step = if self.progress.is_some() { COPY_STEP } else { len };
        let mut done = 0;
        while done < len {
            let n = step.min(len - done);
            let copied = std::io::copy(&mut f.take(n), w)?;
            if copied != n {
                return Err(std::io::Error::other(format!("short read from the source model ({} of {len} bytes)", done + copied)));
            }
            done += n;
            if let Some(p) = &self.progress {
                p.advance(offset + done);
            }
        }
        Ok(())
    }

    /// [`Self::copy_to`] for `bytes` when they are a slice of the source file; `false` otherwise.
    pub fn try_copy(&self, w: &mut BufWriter<&File>, bytes: &[u8]) -> std::io::Result<bool> {
        match self.span(bytes) {
            Some((offset, len)) => self.copy_to(w, offset, len).map(|()| true),
            None => Ok(false),
        }
    }
}

/// What a file will be used for (`posix_fadvise`).
#[derive(Debug, Clone, Copy)]
pub enum Advice {
    /// Read front to back: a larger readahead for a cold file (as `cp` asks for).
    Sequential,
    /// Read all of it soon: start reading it in now.
    WillNeed,
}

/// Passes `advice` about the whole of `file` to the kernel (a hint; errors are ignored).
#[cfg(target_os = "linux")]
pub fn advise(file: &File, advice: Advice) {
    use std::os::fd::AsRawFd;
    let a = match advice {
        Advice::Sequential => libc::POSIX_FADV_SEQUENTIAL,
        Advice::WillNeed => libc::POSIX_FADV_WILLNEED,
    };
    #[allow(unsafe_code)]
    // SAFETY: posix_fadvise only reads the descriptor number, which `file`
    // keeps open for the duration of the call; it touches no memory of ours.
    let _ = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, a) };
}

/// Passes `advice` about the whole of `file` to the kernel (not on this platform).
#[cfg(not(target_os = "linux"))]
pub fn advise(_: &File, _: Advice) {}

fn varint_len(mut v: u64) -> u64 {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn write_varint(w: &mut impl Write, mut v: u64) -> std::io::Result<()> {
    let mut buf = [0u8; 10];
    let mut i = 0;
    while v >= 0x80 {
        buf[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    buf[i] = v as u8;
    w.write_all(&buf[..=i])
}

/// Tag and length of a length-delimited field.
fn write_header(w: &mut impl Write, field: u32, len: u64) -> std::io::Result<()> {
    write_varint(w, (u64::from(field) << 3) | 2)?;
    write_varint(w, len)
}

fn tag_len(field: u32) -> u64 {
    varint_len(u64::from(field) << 3)
}

fn pb(e: protobuf::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Writes `msg` as field `field` of the enclosing message.
pub fn write_message_field(w: &mut BufWriter<&File>, field: u32, msg: &impl Message) -> std::io::Result<()> {
    let len = msg.compute_size();
    write_header(w, field, len)?;
    msg.write_to_writer(w).map_err(pb)
}

/// One initializer as it will be written.
enum Init<'t> {
    /// Serialized from memory.
    Whole(&'t TensorProto),
    /// Every field but `raw_data` from memory, then `raw_data` copied from the file.
    Split { head: Box<TensorProto>, offset: u64, len: u64 },
    /// The whole field, byte for byte as it is in the source file
    /// (`start..end`, tag and length included): unchanged tensors that were
    /// adjacent in the source are copied as one range.
    Verbatim { start: u64, end: u64 },
}

/// A graph planned for writing as field [`MODEL_GRAPH`] of a ModelProto:
/// large initializer payloads that are slices of the source file are copied
/// in the kernel, and unchanged initializers that were adjacent in the source
/// are copied as one range.
pub struct GraphWriter<'g, 's> {
    /// The graph without its initializers.
    rest: GraphProto,
    parts: Vec<(Init<'g>, u64)>,
    total: u64,
    source: Option<&'s PayloadSource<'s>>,
}

impl std::fmt::Debug for GraphWriter<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphWriter").field("parts", &self.parts.len()).field("total", &self.total).finish()
    }
}

impl<'g, 's> GraphWriter<'g, 's> {
    /// Plans `graph` (whose initializers are `inits`; `graph.initializer`
    /// itself is ignored) for writing.
    pub fn new(graph: GraphProto, inits: &'g [TensorProto], source: Option<&'s PayloadSource<'s>>) -> std::io::Result<Self> {
        let mut rest = graph;
        rest.initializer.clear();
        let mut parts: Vec<(Init<'g>, u64)> = Vec::with_capacity(inits.len());
        let mut total = rest.compute_size();
        for t in inits {
            let (part, size) = plan_initializer(t, source)?;
            total += size;
            // Coalesce source ranges that follow each other.
            match (parts.last_mut(), &part) {
                (Some((Init::Verbatim { end, .. }, sum)), Init::Verbatim { start, end: next_end }) if *end == *start => {
                    *end = *next_end;
                    *sum += size;
                }
                _ => parts.push((part, size)),
            }
        }
        Ok(Self { rest, parts, total, source })
    }

    /// Bytes this writes (the whole field: tag, length and graph).
    #[cfg(test)]
    fn len(&self) -> u64 {
        tag_len(MODEL_GRAPH) + varint_len(self.total) + self.total
    }

    /// The largest range copied from the source: (its offset from the start
    /// of this field in the output, its offset in the source file, its
    /// length). A copy
    /// whose source and destination offsets agree modulo the page size is
    /// about 1.5× faster (measured with `copy_file_range` on ext4), so the
    /// caller may pad what it writes before this field.
    pub fn largest_copy(&self) -> Option<(u64, u64, u64)> {
        let mut at = tag_len(MODEL_GRAPH) + varint_len(self.total) + self.rest.compute_size();
        let mut best: Option<(u64, u64, u64)> = None;
        for (part, size) in &self.parts {
            if let Init::Verbatim { start, end } = part {
                // Only ranges copied in the kernel (smaller ones are written from memory).
                if end - start >= KERNEL_COPY_MIN as u64 && best.is_none_or(|b| end - start > b.0) {
                    best = Some((end - start, at, *start));
                }
            }
            at += size;
        }
        best.map(|(len, at, src)| (at, src, len))
    }

    /// Writes the field.
    pub fn write(self, w: &mut BufWriter<&File>) -> std::io::Result<()> {
        write_header(w, MODEL_GRAPH, self.total)?;
        self.rest.write_to_writer(w).map_err(pb)?;
        let source = self.source;
        let src = || source.ok_or_else(|| std::io::Error::other("payload without a source"));
        for (part, _) in self.parts {
            match part {
                Init::Whole(t) => {
                    write_header(w, GRAPH_INITIALIZER, t.compute_size())?;
                    t.write_to_writer(w).map_err(pb)?;
                }
                Init::Split { head, offset, len } => {
                    let size = head.compute_size() + tag_len(TENSOR_RAW_DATA) + varint_len(len) + len;
                    write_header(w, GRAPH_INITIALIZER, size)?;
                    head.write_to_writer(w).map_err(pb)?;
                    write_header(w, TENSOR_RAW_DATA, len)?;
                    src()?.copy_to(w, offset, len)?;
                }
                Init::Verbatim { start, end } if end - start >= KERNEL_COPY_MIN as u64 => src()?.copy_to(w, start, end - start)?,
                Init::Verbatim { start, end } => w.write_all(&src()?.model.source_bytes()[start as usize..end as usize])?,
            }
        }
        Ok(())
    }
}

/// The page size copies are aligned to.
pub const PAGE: u64 = 4096;

/// How `t` is written, and its size as a field of the graph (tag and length included).
fn plan_initializer<'t>(t: &'t TensorProto, source: Option<&PayloadSource<'_>>) -> std::io::Result<(Init<'t>, u64)> {
    let whole = |t: &'t TensorProto| {
        let size = t.compute_size();
        (Init::Whole(t), tag_len(GRAPH_INITIALIZER) + varint_len(size) + size)
    };
    let (Some(src), Some(raw)) = (source, t.raw_data.as_ref()) else { return Ok(whole(t)) };
    let Some(offset) = src.model.file_offset(raw) else { return Ok(whole(t)) };
    let len = raw.len() as u64;
    let mut head = t.clone();
    head.raw_data = None;
    let head_bytes = head.write_to_bytes().map_err(pb)?;
    let size = head_bytes.len() as u64 + tag_len(TENSOR_RAW_DATA) + varint_len(len) + len;
    let field = tag_len(GRAPH_INITIALIZER) + varint_len(size) + size;
    // The source field, if it was written as we would write it (fields in
    // number order, `raw_data` last), ends where the payload ends.
    let mut prefix = Vec::with_capacity(head_bytes.len() + 24);
    write_header(&mut prefix, GRAPH_INITIALIZER, size)?;
    prefix.extend_from_slice(&head_bytes);
    write_header(&mut prefix, TENSOR_RAW_DATA, len)?;
    let map = src.model.source_bytes();
    let at = offset as usize;
    if at >= prefix.len() && map[at - prefix.len()..at] == prefix[..] {
        return Ok((Init::Verbatim { start: offset - prefix.len() as u64, end: offset + len }, field));
    }
    if raw.len() >= KERNEL_COPY_MIN {
        return Ok((Init::Split { head: Box::new(head), offset, len }, field));
    }
    Ok(whole(t))
}

/// A `painters.padding` metadata entry (as a serialized ModelProto field)
/// that moves a copy of `len` bytes meant to start at output offset `at` to
/// the page offset of its source, `src_offset`, and — for copies of 16 MiB
/// or more — to a 64 KiB-aligned page index: measured with `copy_file_range`
/// on ext4, a copy whose destination has the source's in-page offset runs
/// ~1.5× faster than a misaligned one, and ~1.5× faster again when its
/// destination page index is a multiple of 16 (as when `cp` copies a whole
/// file). Empty when already aligned.
pub fn padding(at: u64, src_offset: u64, len: u64) -> Vec<u8> {
    let page = PAGE;
    let align = if len >= 16 << 20 { 16 * page } else { page };
    let want = src_offset % page;
    if at % align == want {
        return Vec::new();
    }
    let varint_len = |v: u64| (64 - (v | 1).leading_zeros() as u64).div_ceil(7);
    const KEY: &str = crate::conventions::meta::PADDING;
    // field 14 of ModelProto { field 1: KEY, field 2: k spaces }
    let field_len = |k: u64| {
        let entry = 2 + KEY.len() as u64 + 1 + varint_len(k) + k;
        1 + varint_len(entry) + entry
    };
    let Some(k) = (0..2 * align).find(|&k| (at + field_len(k)) % align == want) else { return Vec::new() };
    let mut e = crate::proto::onnx::StringStringEntryProto::new();
    e.set_key(KEY.to_string());
    e.set_value(" ".repeat(k as usize));
    let mut m = crate::proto::onnx::ModelProto::new();
    m.metadata_props.push(e);
    let bytes = m.write_to_bytes().unwrap_or_default();
    debug_assert_eq!(bytes.len() as u64, field_len(k));
    bytes
}

#[cfg(test)]
mod tests {
    use super::{padding, varint_len, write_varint, GraphWriter, PayloadSource};
    use crate::proto::onnx::{ModelProto, TensorProto};
    use crate::testing::{tensor, GraphBuilder, F32, U8};
    use crate::{write_atomic, OnnxModel};
    use protobuf::Message;

    fn bytes_tensor(name: &str, bytes: usize, doc: bool) -> TensorProto {
        let t = tensor(name, U8, &[bytes as i64]).raw((0..bytes).map(|i| (i * 7 + name.len()) as u8).collect());
        // doc_string (field 12) is serialized after raw_data (9): not "raw_data last".
        if doc { t.doc("written after the payload") } else { t }.build()
    }

    /// Every initializer kind (large, small, large with a field after the
    /// payload, no raw data) survives a kept / dropped / reordered write
    /// exactly, and big adjacent payloads go by kernel copy.
    #[test]
    fn graphs_written_from_the_source_file_parse_back_identical() {
        let dir = tempfile::tempdir().unwrap();
        let floats = tensor("f", F32, &[3]).floats(&[1.0, 2.5, -3.0]).build();
        let inits =
            [bytes_tensor("a", 200_000, false), bytes_tensor("b", 10, false), bytes_tensor("c", 150_000, true), floats, bytes_tensor("d", 300_000, false)];
        let names: Vec<&str> = inits.iter().map(|t| t.name()).collect();
        let g = inits.iter().cloned().fold(GraphBuilder::new(), GraphBuilder::init);
        let m = g.node("Sum", &names, &["y"]).output_untyped("y").model(17);
        let src_path = dir.path().join("src.onnx");
        std::fs::write(&src_path, m.write_to_bytes().unwrap()).unwrap();
        let model = OnnxModel::load(&src_path).unwrap();
        let source = PayloadSource::open(&model).unwrap();
        for order in [vec![0, 1, 2, 3, 4], vec![0, 2, 4], vec![4, 3, 2, 1, 0], vec![1, 3]] {
            let mut graph = model.graph().clone();
            let inits: Vec<TensorProto> = order.iter().map(|&i| model.graph().initializer[i].clone()).collect();
            graph.initializer.clear();
            let writer = GraphWriter::new(graph.clone(), &inits, source.as_ref()).unwrap();
            let head = {
                let mut h = model.proto.clone();
                h.graph = None.into();
                h.write_to_bytes().unwrap()
            };
            let out = dir.path().join("out.onnx");
            let expected_len = head.len() as u64 + writer.len();
            write_atomic(&out, |w| {
                std::io::Write::write_all(w, &head)?;
                writer.write(w)
            })
            .unwrap();
            assert_eq!(std::fs::metadata(&out).unwrap().len(), expected_len, "{order:?}");
            let back = ModelProto::parse_from_bytes(&std::fs::read(&out).unwrap()).unwrap();
            let mut want = model.proto.clone();
            want.graph.as_mut().unwrap().initializer = inits;
            assert_eq!(back, want, "{order:?}");
        }
    }

    #[test]
    fn varints_have_their_protobuf_length() {
        for v in [0u64, 1, 127, 128, 300, 16383, 16384, u32::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            write_varint(&mut buf, v).unwrap();
            assert_eq!(buf.len() as u64, varint_len(v), "{v}");
            let mut is = protobuf::CodedInputStream::from_bytes(&buf);
            assert_eq!(is.read_raw_varint64().unwrap(), v);
        }
    }

    #[test]
    fn padding_aligns_the_copy_with_its_source() {
        for (at, src, len) in [(1_042_382u64 + 164_835, 1_203_121u64, 651_317_194u64), (100, 5000, 2 << 20), (7, 4096 * 3 + 17, 100 << 20), (0, 0, 1 << 30)] {
            let pad = padding(at, src, len).len() as u64;
            let align = if len >= 16 << 20 { 65536 } else { 4096 };
            assert_eq!((at + pad) % align, src % 4096, "at {at} src {src}");
            assert!(pad < 2 * align + 64);
        }
    }
}

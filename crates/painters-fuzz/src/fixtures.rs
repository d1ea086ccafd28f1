//! The committed fixtures (tests/fixtures/*, real exporter output) the
//! structure-aware targets start from, read once per process.
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use painters_graph::proto::onnx::ModelProto;
use protobuf::Message;

/// One fixture folder.
#[derive(Debug)]
pub struct Fixture {
    pub name: String,
    pub dir: PathBuf,
    pub bytes: Vec<u8>,
    pub proto: ModelProto,
    pub tokenizer: Option<String>,
    pub config: Option<String>,
    pub genai_config: Option<String>,
}

/// `tests/fixtures` of this repository.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// Every fixture with a `model.onnx`, sorted by name (empty when the
/// folder is missing: the model targets then have nothing to mutate).
pub fn all() -> &'static [Fixture] {
    static ALL: OnceLock<Vec<Fixture>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root())
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.join("model.onnx").is_file()).collect())
            .unwrap_or_default();
        dirs.sort();
        dirs.into_iter()
            .filter_map(|dir| {
                let bytes = std::fs::read(dir.join("model.onnx")).ok()?;
                let proto = ModelProto::parse_from_bytes(&bytes).ok()?;
                let text = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
                Some(Fixture {
                    name: dir.file_name()?.to_string_lossy().to_string(),
                    tokenizer: text("tokenizer.json"),
                    config: text("config.json"),
                    genai_config: text("genai_config.json"),
                    bytes,
                    proto,
                    dir,
                })
            })
            .collect()
    })
}

/// The fixture chosen by `b` (wrapping), if there are any.
pub fn by_byte(b: u8) -> Option<&'static Fixture> {
    let all = all();
    (!all.is_empty()).then(|| &all[b as usize % all.len()])
}

//! The model folder's `tokenizer.json` through the pure-Rust `tokenizers`
//! crate, with the ids of its special tokens from `config.json`.
use std::path::{Path, PathBuf};

/// Errors loading or using a tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("no tokenizer.json next to {0}; pass --tokenizer PATH")]
    Missing(PathBuf),
    #[error("cannot load tokenizer {path}: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("tokenizer: {0}")]
    Encode(String),
}

/// A loaded tokenizer.
#[derive(Debug)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    pub path: PathBuf,
    pub bos: Option<i64>,
    pub eos: Option<i64>,
    /// `max_position_embeddings` of the model's config.json, when known.
    pub max_positions: Option<usize>,
}

/// An encoded text: ids and character offsets (as Python's `tokenizers`).
#[derive(Debug, Clone)]
pub struct Encoded {
    pub ids: Vec<i64>,
    pub offsets: Vec<(usize, usize)>,
}

impl Tokenizer {
    /// Loads `explicit`, or `tokenizer.json` beside `model`; special ids from `config.json` there.
    pub fn for_model(model: &Path, explicit: Option<&Path>) -> Result<Self, TokenizerError> {
        let dir = model.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        let path = match explicit {
            Some(p) if p.is_dir() => p.join("tokenizer.json"),
            Some(p) => p.to_path_buf(),
            None => dir.join("tokenizer.json"),
        };
        if !path.is_file() {
            return Err(TokenizerError::Missing(model.to_path_buf()));
        }
        let mut inner = tokenizers::Tokenizer::from_file(&path)
            .map_err(|e| TokenizerError::Load { path: path.clone(), reason: e.to_string() })?;
        // As Hugging Face's `tokenizer(text)`: no padding and no truncation unless asked
        // (sentence-transformers files carry `padding: Fixed(128)`, which would pad every
        // text with attended [PAD] tokens). painters pads batches itself, with masks.
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| TokenizerError::Load { path: path.clone(), reason: e.to_string() })?;
        let config_dir = path.parent().map(Path::to_path_buf).unwrap_or(dir.clone());
        let config = [config_dir.join("config.json"), dir.join("config.json")]
            .into_iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok());
        let id = |key: &str| config.as_ref().and_then(|c| c[key].as_i64().or_else(|| c[key][0].as_i64()));
        let max_positions = config.as_ref().and_then(|c| c["max_position_embeddings"].as_u64()).map(|n| n as usize);
        let mut t = Self { bos: id("bos_token_id"), eos: id("eos_token_id"), max_positions, inner, path };
        if t.eos.is_none() {
            t.eos = ["</s>", "<|endoftext|>", "<|im_end|>", "[SEP]"].iter().find_map(|s| t.inner.token_to_id(s)).map(i64::from);
        }
        Ok(t)
    }

    /// Encodes `text`, with the tokenizer's special tokens when `special`.
    pub fn encode(&self, text: &str, special: bool) -> Result<Encoded, TokenizerError> {
        let e = self.inner.encode_char_offsets(text, special).map_err(|e| TokenizerError::Encode(e.to_string()))?;
        Ok(Encoded { ids: e.get_ids().iter().map(|&i| i64::from(i)).collect(), offsets: e.get_offsets().to_vec() })
    }

    /// Decodes ids, skipping special tokens.
    pub fn decode(&self, ids: &[i64]) -> Result<String, TokenizerError> {
        let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
        self.inner.decode(&ids, true).map_err(|e| TokenizerError::Encode(e.to_string()))
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

//! The model folder's `tokenizer.json` through the pure-Rust `tokenizers`
//! crate, with the ids of its special tokens from `config.json`.
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

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
    pub fn for_model(model: &Path, explicit: Option<&Path>) -> Result<Self> {
        let dir = model.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        let path = match explicit {
            Some(p) if p.is_dir() => p.join("tokenizer.json"),
            Some(p) => p.to_path_buf(),
            None => dir.join("tokenizer.json"),
        };
        if !path.is_file() {
            return Err(Error::NoTokenizer(model.to_path_buf()));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::TokenizerLoad { path: path.clone(), reason: e.to_string() })?;
        let config_dir = path.parent().map(Path::to_path_buf).unwrap_or(dir.clone());
        // onnxruntime-genai folders declare the model in genai_config.json ("model": {...}).
        let configs = [config_dir.join("config.json"), dir.join("config.json"), dir.join("genai_config.json")];
        let config = configs.iter().find_map(|p| std::fs::read_to_string(p).ok());
        let t = Self::from_parts(path, &text, config.as_deref())?;
        // Cross-checked with the vocabulary the model declares (its own folder's file).
        let own = [dir.join("config.json"), dir.join("genai_config.json")].into_iter().find(|p| p.is_file());
        if let Some(own) = own {
            if let Some(declared) = std::fs::read_to_string(&own).ok().and_then(|c| vocab_size(&c)) {
                t.fits(declared).map_err(|reason| Error::TokenizerLoad { path: t.path.clone(), reason: format!("{reason} ({})", own.display()) })?;
            }
        }
        Ok(t)
    }

    /// Whether this tokenizer can be the one of a model declaring `declared`
    /// vocabulary rows: no id past the last row, and no more rows left over
    /// than a padded embedding has (models pad their vocabulary to a multiple
    /// of 64 or 128, DeepSeek's by 2.4%: 10% is allowed). A tokenizer of
    /// another model family gives a silently wrong score otherwise.
    fn fits(&self, declared: usize) -> Result<(), String> {
        let size = self.vocab_size();
        let max = self.inner.get_vocab(true).into_values().max().map_or(0, |m| m as usize);
        if max >= declared || size * 10 < declared * 9 {
            return Err(format!(
                "it has {size} tokens (ids up to {max}), but the model declares vocab_size {declared}: not this model's tokenizer"
            ));
        }
        Ok(())
    }

    /// A tokenizer from the text of its `tokenizer.json` (read from `path`,
    /// named in errors) and of the model's `config.json`, when there is one.
    pub fn from_parts(path: PathBuf, tokenizer_json: &str, config_json: Option<&str>) -> Result<Self> {
        let load = |reason: String| Error::TokenizerLoad { path: path.clone(), reason };
        let mut inner: tokenizers::Tokenizer =
            guarded(true, || tokenizer_json.parse()).map_err(load)?.map_err(|e: tokenizers::Error| load(e.to_string()))?;
        // As Hugging Face's `tokenizer(text)`: no padding and no truncation unless asked
        // (sentence-transformers files carry `padding: Fixed(128)`, which would pad every
        // text with attended [PAD] tokens). painters pads batches itself, with masks.
        inner.with_padding(None);
        inner.with_truncation(None).map_err(|e| load(e.to_string()))?;
        // A file can parse and still make the library panic on every text
        // (a post-processor naming a special token the vocabulary lacks):
        // refuse it here, with the reason, rather than in the middle of a task.
        guarded(true, || inner.encode_char_offsets("a", true).map(|_| ())).map_err(load)?.map_err(|e| load(e.to_string()))?;
        let config = config_json.and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok());
        // A config.json, or genai_config.json's "model" object.
        let field = |key: &str| config.as_ref().map(|c| if c[key].is_null() { &c["model"][key] } else { &c[key] });
        let id = |key: &str| field(key).and_then(|v| v.as_i64().or_else(|| v[0].as_i64()));
        let max_positions = config.as_ref().and_then(declared_positions);
        let mut t = Self { bos: id("bos_token_id"), eos: id("eos_token_id"), max_positions, inner, path };
        if t.eos.is_none() {
            t.eos = ["</s>", "<|endoftext|>", "<|im_end|>", "[SEP]"].iter().find_map(|s| t.inner.token_to_id(s)).map(i64::from);
        }
        Ok(t)
    }

    /// Encodes `text`, with the tokenizer's special tokens when `special`.
    pub fn encode(&self, text: &str, special: bool) -> Result<Encoded> {
        let e = guarded(false, || self.inner.encode_char_offsets(text, special))
            .map_err(Error::Tokenize)?
            .map_err(|e| Error::Tokenize(e.to_string()))?;
        Ok(Encoded { ids: e.get_ids().iter().map(|&i| i64::from(i)).collect(), offsets: e.get_offsets().to_vec() })
    }

    /// Decodes ids, skipping special tokens.
    pub fn decode(&self, ids: &[i64]) -> Result<String> {
        let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
        guarded(false, || self.inner.decode(&ids, true)).map_err(Error::Tokenize)?.map_err(|e| Error::Tokenize(e.to_string()))
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

/// The positions a model declares: `max_position_embeddings` (or GPT-2's
/// `n_positions`) of a `config.json`, `context_length` of a `genai_config.json`.
pub fn declared_positions(c: &serde_json::Value) -> Option<usize> {
    let n = c["max_position_embeddings"].as_u64().or_else(|| c["n_positions"].as_u64()).or_else(|| c["model"]["context_length"].as_u64())?;
    Some(n as usize)
}

/// `vocab_size` of a `config.json` (or of its `text_config`), or of a
/// `genai_config.json` (its `model`).
fn vocab_size(config: &str) -> Option<usize> {
    let c: serde_json::Value = serde_json::from_str(config).ok()?;
    let v = c["vocab_size"].as_u64().or_else(|| c["text_config"]["vocab_size"].as_u64()).or_else(|| c["model"]["vocab_size"].as_u64())?;
    Some(v as usize)
}

/// Runs a call into the `tokenizers` library, which panics on some malformed
/// files (a truncated string inside a pre-tokenizer, a post-processor naming
/// a missing special token): the panic becomes an error message, and the
/// default hook's report is silenced meanwhile when `quiet` (loading, done
/// once; not around encodes, which may run on several threads while the
/// hook is process-wide).
fn guarded<R>(quiet: bool, f: impl FnOnce() -> R) -> Result<R, String> {
    let hook = quiet.then(|| {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        hook
    });
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    if let Some(hook) = hook {
        std::panic::set_hook(hook);
    }
    result.map_err(|payload| {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "no message".into());
        format!("the tokenizers library failed on this file ({msg})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/llama-optimum/tokenizer.json")).unwrap()
    }

    #[test]
    fn library_panics_on_malformed_files_become_errors() {
        // Found by the fuzzer: tokenizers panics when a post-processor names
        // a special token it does not define, and on some truncated files.
        let mut v: serde_json::Value = serde_json::from_str(&fixture()).unwrap();
        v["post_processor"]["special_tokens"].as_object_mut().unwrap().remove("<s>");
        let e = Tokenizer::from_parts("t.json".into(), &v.to_string(), None).unwrap_err().to_string();
        assert!(e.starts_with("cannot load tokenizer t.json: the tokenizers library failed on this file ("), "{e}");
        assert!(!e.contains('\n'));
        let text = fixture();
        let cut = &text[..text.find("\"merges\"").unwrap_or(text.len() / 2) + 3];
        let e = Tokenizer::from_parts("t.json".into(), cut, None).unwrap_err().to_string();
        assert!(e.starts_with("cannot load tokenizer t.json: "), "{e}");
        let t = Tokenizer::from_parts("t.json".into(), &fixture(), Some(r#"{"eos_token_id": [2, 3]}"#)).unwrap();
        assert_eq!(t.eos, Some(2));
    }

    #[test]
    fn a_tokenizer_must_fit_the_vocabulary_the_model_declares() {
        let t = Tokenizer::from_parts("t.json".into(), &fixture(), None).unwrap();
        let n = t.vocab_size();
        assert!(t.fits(n).is_ok());
        assert!(t.fits(n + n / 20).is_ok(), "a padded embedding");
        let e = t.fits(n - 1).unwrap_err();
        assert!(e.contains(&format!("ids up to {}", n - 1)) && e.contains("not this model's tokenizer"), "{e}");
        assert!(t.fits(2 * n).is_err(), "half the rows unused: another model's tokenizer");
        assert_eq!(vocab_size(r#"{"text_config": {"vocab_size": 7}}"#), Some(7));
        assert_eq!(vocab_size(r#"{"model": {"vocab_size": 9, "context_length": 64}}"#), Some(9));
        let genai = Tokenizer::from_parts("t.json".into(), &fixture(), Some(r#"{"model": {"context_length": 64, "eos_token_id": [5, 6]}}"#)).unwrap();
        assert_eq!((genai.max_positions, genai.eos), (Some(64), Some(5)));
        let gpt2 = Tokenizer::from_parts("t.json".into(), &fixture(), Some(r#"{"n_positions": 1024}"#)).unwrap();
        assert_eq!(gpt2.max_positions, Some(1024));
    }
}

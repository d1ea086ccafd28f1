//! The configuration files of a model folder, rewritten to describe the
//! graph painters wrote into it, so runtimes that size their KV cache or
//! per-layer behaviour from them (transformers.js and optimum read
//! `config.json`, onnxruntime-genai reads `genai_config.json`) load the
//! rewritten folder as they load the source. Invariants: the depth is the
//! number of executed block instances (each has its own KV slot; a parallel
//! branch counts); per-layer lists follow the schedule; the source's values
//! are kept (`config.json` gains a `painters` object; the model's
//! `metadata_props` has `painters.source_blocks`); every other key is kept
//! as it was, in its order.
use serde_json::{Map, Value};

/// `config.json` keys holding one entry per layer.
pub const PER_LAYER_KEYS: [&str; 4] = ["layer_types", "layers_block_type", "block_types", "no_rope_layers"];

/// `config.json` keys (top level or under `text_config`) holding the depth.
pub const DEPTH_KEYS: [&str; 3] = ["num_hidden_layers", "n_layer", "num_layers"];

/// What the folder's files must say about the rewritten model.
#[derive(Debug, Clone)]
pub struct FolderModel<'a> {
    /// The canonical plan.
    pub plan: &'a str,
    /// The block of each executed instance, in execution order.
    pub instances: &'a [usize],
    /// Blocks of the source.
    pub source_blocks: usize,
    /// The depth the runtime must see: the KV slots of the written graph
    /// when it has a cache (a parallel branch has its own), else the
    /// number of instances.
    pub depth: usize,
    /// The same for the source graph (its KV slots, else its blocks).
    pub depth_of_source: usize,
    /// File name of the written model (`model.onnx`).
    pub file_name: &'a str,
}

/// The new contents of a model-folder file, or `None` when it is copied unchanged
/// (not a configuration file, or one that says nothing about depth).
pub fn rewrite_file(name: &str, text: &str, m: &FolderModel<'_>) -> Result<Option<String>, String> {
    let rewrite: fn(&mut Map<String, Value>, &FolderModel<'_>) -> Result<bool, String> = match name {
        "config.json" => config_json,
        "genai_config.json" => genai_config_json,
        _ => return Ok(None),
    };
    let mut v: Value = serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
    let Some(obj) = v.as_object_mut() else { return Err(format!("{name}: not a JSON object")) };
    if !rewrite(obj, m)? {
        return Ok(None);
    }
    let mut out = serde_json::to_string_pretty(&v).map_err(|e| format!("{name}: {e}"))?;
    out.push('\n');
    Ok(Some(out))
}

fn config_json(obj: &mut Map<String, Value>, m: &FolderModel<'_>) -> Result<bool, String> {
    let mut changed = false;
    let mut source_depth = None;
    let depth = m.depth;
    // A painters rewrite being rewritten again: its depth counts instances,
    // which its blocks (read back one per stage) need not match.
    let prior = obj.contains_key("painters");
    for scope in [None, Some("text_config")] {
        let target = match scope {
            None => Some(&mut *obj),
            Some(k) => obj.get_mut(k).and_then(Value::as_object_mut),
        };
        let Some(target) = target else { continue };
        for key in DEPTH_KEYS {
            if let Some(v) = target.get_mut(key) {
                let old = v.as_u64().ok_or_else(|| format!("config.json: {key} is not a number"))? as usize;
                if old != m.depth_of_source && !prior {
                    return Err(format!(
                        "config.json says {key} = {old} but the source model has {} blocks",
                        m.depth_of_source
                    ));
                }
                source_depth.get_or_insert(old);
                *v = Value::from(depth);
                changed = true;
            }
        }
        for key in PER_LAYER_KEYS {
            let Some(Value::Array(list)) = target.get_mut(key) else { continue };
            if prior {
                return Err(format!(
                    "config.json: the per-layer list {key} of a model painters already rewrote cannot follow a second plan; rewrite the original model with the composed plan"
                ));
            }
            if list.len() != m.source_blocks {
                continue;
            }
            let new: Vec<Value> = m.instances.iter().map(|&b| list[b].clone()).collect();
            *list = new;
            changed = true;
        }
    }
    if changed && !prior {
        obj.insert(
            "painters".into(),
            serde_json::json!({
                "plan": m.plan,
                "source_num_hidden_layers": source_depth,
                "schedule": m.instances,
            }),
        );
    }
    Ok(changed)
}

fn genai_config_json(obj: &mut Map<String, Value>, m: &FolderModel<'_>) -> Result<bool, String> {
    let Some(decoder) = obj.get_mut("model").and_then(|v| v.get_mut("decoder")).and_then(Value::as_object_mut) else {
        return Ok(false);
    };
    if let Some(v) = decoder.get("num_hidden_layers") {
        let old = v.as_u64().ok_or("genai_config.json: model.decoder.num_hidden_layers is not a number")? as usize;
        if old != m.depth_of_source {
            return Err(format!(
                "genai_config.json says model.decoder.num_hidden_layers = {old} but the source model has {} blocks",
                m.depth_of_source
            ));
        }
    }
    decoder.insert("num_hidden_layers".into(), Value::from(m.depth));
    decoder.insert("filename".into(), Value::from(m.file_name));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model<'a>(instances: &'a [usize]) -> FolderModel<'a> {
        FolderModel { plan: "0-1,[2,3]*2", instances, source_blocks: 4, depth: instances.len(), depth_of_source: 4, file_name: "out.onnx" }
    }

    #[test]
    fn config_depth_and_per_layer_lists_follow_the_schedule() {
        let text = r#"{"num_hidden_layers": 4, "layer_types": ["a", "b", "c", "d"], "vocab_size": 9}"#;
        let out = rewrite_file("config.json", text, &model(&[0, 1, 2, 3, 2, 3])).unwrap().unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["num_hidden_layers"], 6);
        assert_eq!(v["layer_types"], serde_json::json!(["a", "b", "c", "d", "c", "d"]));
        assert_eq!(v["vocab_size"], 9);
        assert_eq!(v["painters"]["source_num_hidden_layers"], 4);
        assert_eq!(v["painters"]["plan"], "0-1,[2,3]*2");
    }

    #[test]
    fn genai_config_names_the_new_file_and_depth() {
        let text = r#"{"model": {"decoder": {"num_hidden_layers": 4, "filename": "model.onnx", "head_size": 8}}}"#;
        let out = rewrite_file("genai_config.json", text, &model(&[0, 3])).unwrap().unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["model"]["decoder"]["num_hidden_layers"], 2);
        assert_eq!(v["model"]["decoder"]["filename"], "out.onnx");
        assert_eq!(v["model"]["decoder"]["head_size"], 8);
        assert!(v.get("painters").is_none(), "onnxruntime-genai rejects unknown keys");
    }

    #[test]
    fn a_config_that_disagrees_with_the_source_is_refused() {
        let err = rewrite_file("config.json", r#"{"num_hidden_layers": 30}"#, &model(&[0])).unwrap_err();
        assert!(err.contains("30") && err.contains("4 blocks"), "{err}");
        assert_eq!(rewrite_file("tokenizer.json", "{}", &model(&[0])).unwrap(), None);
    }
}

//! painters' naming conventions, in one place: the names it gives the
//! tensors and nodes it adds, the suffixes of later block instances, the
//! metadata keys of its provenance, and the KV-cache naming rules. Every
//! crate reads and writes these names through this module, so what the
//! emitter writes is what detection and the runtime side read back.

/// Prefix of the `Mean` node (and its output) closing a parallel group: `painters.mean.{id}`.
pub const MEAN_PREFIX: &str = "painters.mean.";
/// The `Identity` naming the last stage's output after the source's last block output.
pub const IDENTITY_NODE: &str = "painters.identity";
/// Hidden-state taps: the stream entering the first instance, then `painters.hidden.{k}`.
pub const HIDDEN_INPUT: &str = "painters.hidden.input";
/// Prefix of every hidden-state tap output.
pub const HIDDEN_PREFIX: &str = "painters.hidden.";
/// Separator of painters' copy suffix: later instances get `__{k}` (or `__{k}_{n}`).
pub const COPY_SEP: &str = "__";
/// The add half of a split fused node (see `fused`).
pub const SPLIT_ADD: &str = "/painters.split.add";
/// The normalization half of a split fused node.
pub const SPLIT_NORM: &str = "/painters.split.norm";
/// The sum of a split fused node that had no output 3.
pub const SPLIT_SUM: &str = "/painters.split.sum";
/// The cast made for shape readers of a KV input (see `casts`).
pub const SHAPE_CAST: &str = "/painters.shape_cast";
/// The lock file of a folder a painters process writes.
pub const LOCK_FILE: &str = ".painters.lock";

/// The name of the `Mean` closing parallel group `id`.
pub fn mean_name(id: usize) -> String {
    format!("{MEAN_PREFIX}{id}")
}

/// Whether a node is the `Mean` of a parallel group painters emitted.
pub fn is_mean(name: &str) -> bool {
    name.starts_with(MEAN_PREFIX)
}

/// The id of a group's `Mean` (`painters.mean.3__1` → 3).
pub fn mean_id(name: &str) -> Option<usize> {
    name.strip_prefix(MEAN_PREFIX)?.split(COPY_SEP).next()?.parse().ok()
}

/// The tap of the stream after instance `k`, or entering the first (`None`).
pub fn hidden_name(k: Option<usize>) -> String {
    match k {
        None => HIDDEN_INPUT.to_string(),
        Some(k) => format!("{HIDDEN_PREFIX}{k}"),
    }
}

/// The copy suffix of copy `copy` of a block, `n`-th alternative when the plain one is taken.
pub fn copy_suffix_for(copy: usize, n: usize) -> String {
    if n == 0 {
        format!("{COPY_SEP}{copy}")
    } else {
        format!("{COPY_SEP}{copy}_{n}")
    }
}

/// The suffix painters gives the nodes of a later instance of a block: one
/// or more `__{k}` or `__{k}_{n}` at the end of the name ("" without).
pub fn copy_suffix(name: &str) -> &str {
    let mut start = name.len();
    while let Some(p) = name[..start].rfind(COPY_SEP) {
        let part = &name[p + COPY_SEP.len()..start];
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        let ok = match part.split_once('_') {
            Some((k, n)) => digits(k) && digits(n),
            None => digits(part),
        };
        if !ok {
            break;
        }
        start = p;
    }
    &name[start..]
}

/// Provenance keys painters writes into `metadata_props`.
pub mod meta {
    /// Every key painters writes starts with this.
    pub const PREFIX: &str = "painters.";
    pub const PLAN: &str = "painters.plan";
    pub const SOURCE: &str = "painters.source";
    pub const SOURCE_BLAKE3: &str = "painters.source_blake3";
    pub const SOURCE_BLOCKS: &str = "painters.source_blocks";
    pub const VERSION: &str = "painters.version";
    /// Alignment padding of an inline rewrite (not shown by `inspect`).
    pub const PADDING: &str = "painters.padding";
}

/// The KV-cache naming rules: one rule for the emitter, detection's
/// cross-check and the runtime side.
pub mod kv {
    /// Prefix of the KV inputs painters feeds and emits (`past_key_values.{s}.key`).
    pub const PAST_PREFIX: &str = "past_key_values.";
    /// Prefix of the matching outputs (`present.{s}.key`).
    pub const PRESENT_PREFIX: &str = "present.";

    /// Whether a graph input is a KV-cache input: `past_key_values.*` (optimum,
    /// the genai builder, painters), or `past_key_*` / `past_value_*`.
    pub fn is_past(name: &str) -> bool {
        name.starts_with(PAST_PREFIX) || name.starts_with("past_key_") || name.starts_with("past_value_")
    }

    /// The output holding what the past input `name` holds next step
    /// (`past_key_values.3.key` → `present.3.key`, `past_key_3` → `present_key_3`).
    pub fn present_of(name: &str) -> String {
        if let Some(rest) = name.strip_prefix(PAST_PREFIX) {
            return format!("{PRESENT_PREFIX}{rest}");
        }
        match name.strip_prefix("past_") {
            Some(rest) => format!("present_{rest}"),
            None => name.to_string(),
        }
    }

    /// The index in a KV tensor's name: the first run of digits between
    /// separators (`past_key_values.3.key`, `present.12.value`, `past_key_1`),
    /// as (start, end, value).
    pub fn index(name: &str) -> Option<(usize, usize, usize)> {
        let b = name.as_bytes();
        let sep = |c: u8| c == b'.' || c == b'_';
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() && i > 0 && sep(b[i - 1]) {
                let end = (i..b.len()).find(|&k| !b[k].is_ascii_digit()).unwrap_or(b.len());
                if end == b.len() || sep(b[end]) {
                    if let Ok(v) = name[i..end].parse() {
                        return Some((i, end, v));
                    }
                }
                i = end;
            } else {
                i += 1;
            }
        }
        None
    }

    /// The name of a KV tensor moved to slot `s`: its index replaced by `s`
    /// (`past_key_values.3.key` → `past_key_values.{s}.key`), or `.slot{s}`
    /// appended when the name has none.
    pub fn slot_name(name: &str, s: usize) -> String {
        match index(name) {
            Some((start, end, _)) => format!("{}{s}{}", &name[..start], &name[end..]),
            None => format!("{name}.slot{s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_suffixes_are_read_off_the_end() {
        assert_eq!(copy_suffix("/model/layers.1/Add_1"), "");
        assert_eq!(copy_suffix("/model/layers.1/Add_1__2"), "__2");
        assert_eq!(copy_suffix("/model/layers.1/Add__1__2_1"), "__1__2_1");
        assert_eq!(copy_suffix("node_add_3__4"), "__4");
        assert_eq!(copy_suffix("x__y"), "");
        assert_eq!(copy_suffix(&format!("a{}", copy_suffix_for(2, 1))), "__2_1");
    }

    #[test]
    fn kv_names_follow_their_slot() {
        assert_eq!(kv::slot_name("past_key_values.3.key", 7), "past_key_values.7.key");
        assert_eq!(kv::slot_name("present.12.value", 0), "present.0.value");
        assert_eq!(kv::slot_name("present.1.value", 1), "present.1.value");
        assert_eq!(kv::slot_name("past_key_1", 4), "past_key_4");
        assert_eq!(kv::slot_name("kv2.layer_3_key", 9), "kv2.layer_9_key");
        assert_eq!(kv::slot_name("cache", 5), "cache.slot5");
        assert_eq!(kv::present_of("past_key_values.2.value"), "present.2.value");
        assert_eq!(kv::present_of("past_value_4"), "present_value_4");
    }

    #[test]
    fn mean_names_round_trip() {
        assert_eq!(mean_id(&mean_name(3)), Some(3));
        assert_eq!(mean_id("painters.mean.3__1"), Some(3));
        assert!(is_mean("painters.mean.0") && !is_mean("/model/Mean"));
        assert_eq!(hidden_name(None), "painters.hidden.input");
        assert_eq!(hidden_name(Some(4)), "painters.hidden.4");
    }
}

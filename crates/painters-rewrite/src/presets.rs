//! The paper's presets, following its code's conventions exactly: with T
//! blocks and start layer N the affected middle blocks are N+1 … T−N−1
//! (M = T−2N−1), the centre block is ⌊T/2⌋. `--m M` picks the M middle
//! blocks centred: N+1 = ⌊(T−M+1)/2⌋. Each preset returns an explicit plan,
//! so every experiment is reproducible from its string.
use std::fmt;
use std::str::FromStr;

use crate::error::{Result, RewriteError};
use crate::plan::Plan;

/// A named variant from the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Skip,
    MiddleRepeat,
    Reverse,
    Random,
    Parallel,
    LoopedParallel,
    SkipOne,
    Swap,
}

impl Preset {
    pub const ALL: [Preset; 8] = [
        Preset::Skip,
        Preset::MiddleRepeat,
        Preset::Reverse,
        Preset::Random,
        Preset::Parallel,
        Preset::LoopedParallel,
        Preset::SkipOne,
        Preset::Swap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Skip => "skip",
            Preset::MiddleRepeat => "middle-repeat",
            Preset::Reverse => "reverse",
            Preset::Random => "random",
            Preset::Parallel => "parallel",
            Preset::LoopedParallel => "looped-parallel",
            Preset::SkipOne => "skip-one",
            Preset::Swap => "swap",
        }
    }

    /// Whether the preset is about a middle range (`--n`/`--m`) rather than one index.
    pub fn uses_middle(self) -> bool {
        !matches!(self, Preset::SkipOne | Preset::Swap)
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Preset::ALL.iter().copied().find(|p| p.name() == s).ok_or_else(|| {
            format!("unknown preset '{s}' (one of: {})", Preset::ALL.map(Preset::name).join(", "))
        })
    }
}

/// Parameters of a preset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PresetParams {
    /// T, the model's number of blocks.
    pub layers: usize,
    /// Start layer N (the paper's convention).
    pub n: Option<usize>,
    /// Number of affected middle layers M (centred); alternative to `n`.
    pub m: Option<usize>,
    /// Seed of `random`.
    pub seed: u64,
    /// Loops of `looped-parallel` (default 2).
    pub loops: Option<usize>,
    /// Index of `skip-one` and `swap`.
    pub index: Option<usize>,
}

/// The explicit plan of a preset.
pub fn preset(p: Preset, params: &PresetParams) -> Result<Plan> {
    let t = params.layers;
    let err = |reason: String| RewriteError::Preset { preset: p.name().into(), reason };
    if t == 0 {
        return Err(err("the model has no blocks".into()));
    }
    if !p.uses_middle() {
        let i = params.index.ok_or_else(|| err("needs --index".into()))?;
        return match p {
            Preset::SkipOne if i < t => Ok(Plan::sequence((0..t).filter(|&b| b != i))),
            Preset::Swap if i + 1 < t => {
                let mut order: Vec<usize> = (0..t).collect();
                order.swap(i, i + 1);
                Ok(Plan::sequence(order))
            }
            Preset::SkipOne => Err(err(format!("index {i} does not exist: the model has {t} blocks (0-{})", t - 1))),
            _ => Err(err(format!("index {i} has no successor to swap with: the model has {t} blocks (0-{})", t - 1))),
        };
    }
    let (start, end) = middle(t, params.n, params.m).map_err(err)?;
    let prefix = Plan::sequence(0..start);
    let suffix = Plan::sequence(end + 1..t);
    let m = end + 1 - start;
    let centre = t / 2;
    let middle_plan: Vec<Plan> = match p {
        Preset::Skip => vec![],
        Preset::MiddleRepeat => vec![Plan::Repeat { body: Box::new(Plan::Block(centre)), times: m }],
        Preset::Reverse => (start..=end).rev().map(Plan::Block).collect(),
        Preset::Random => shuffled(start, end, params.seed).into_iter().map(Plan::Block).collect(),
        Preset::Parallel => vec![Plan::Parallel((start..=end).map(Plan::Block).collect())],
        Preset::LoopedParallel => {
            let loops = params.loops.unwrap_or(2);
            if loops == 0 {
                return Err(err("--loops must be at least 1".into()));
            }
            vec![Plan::Repeat { body: Box::new(Plan::Parallel((start..=end).map(Plan::Block).collect())), times: loops }]
        }
        Preset::SkipOne | Preset::Swap => vec![],
    };
    let mut items = Vec::new();
    for part in [prefix, Plan::Seq(middle_plan), suffix] {
        if let Plan::Seq(v) = part {
            items.extend(v);
        }
    }
    Ok(Plan::Seq(items))
}

/// The inclusive middle range from N or M.
pub fn middle(t: usize, n: Option<usize>, m: Option<usize>) -> std::result::Result<(usize, usize), String> {
    match (n, m) {
        (Some(_), Some(_)) => Err("give --n or --m, not both".into()),
        (None, None) => Err("needs --n N (start layer) or --m M (affected layers)".into()),
        (Some(n), None) => {
            if t < 2 * n + 2 {
                return Err(format!(
                    "--n {n} leaves no middle layer in a {t}-block model (M = T-2N-1 must be at least 1; N at most {})",
                    (t.saturating_sub(2)) / 2
                ));
            }
            Ok((n + 1, t - n - 1))
        }
        (None, Some(m)) => {
            if m == 0 || m > t {
                return Err(format!("--m {m} must be between 1 and the number of blocks ({t})"));
            }
            let start = (t - m).div_ceil(2);
            Ok((start, start + m - 1))
        }
    }
}

/// A seeded Fisher–Yates shuffle of start..=end (SplitMix64 generator), so
/// the same seed gives the same order on every platform.
fn shuffled(start: usize, end: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (start..=end).collect();
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..v.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(p: Preset, n: Option<usize>, m: Option<usize>) -> String {
        let params = PresetParams { layers: 32, n, m, loops: Some(3), ..Default::default() };
        preset(p, &params).unwrap_or_else(|e| panic!("{e}")).to_string()
    }

    #[test]
    fn design_table_for_t32_n11() {
        assert_eq!(plan(Preset::Skip, Some(11), None), "0-11,21-31");
        assert_eq!(plan(Preset::MiddleRepeat, Some(11), None), "0-11,16*9,21-31");
        assert_eq!(plan(Preset::Reverse, Some(11), None), "0-11,20-12,21-31");
        assert_eq!(plan(Preset::Parallel, Some(11), None), "0-11,[12-20],21-31");
        assert_eq!(plan(Preset::LoopedParallel, Some(11), None), "0-11,[12-20]*3,21-31");
        // M = 9 centred is the same middle as N = 11.
        assert_eq!(plan(Preset::Skip, None, Some(9)), "0-11,21-31");
    }

    #[test]
    fn index_presets() {
        let params = PresetParams { layers: 32, index: Some(10), ..Default::default() };
        assert_eq!(preset(Preset::Swap, &params).map(|p| p.to_string()).ok().as_deref(), Some("0-9,11,10,12-31"));
        assert_eq!(preset(Preset::SkipOne, &params).map(|p| p.to_string()).ok().as_deref(), Some("0-9,11-31"));
        let bad = PresetParams { layers: 32, index: Some(31), ..Default::default() };
        assert!(preset(Preset::Swap, &bad).is_err());
    }

    #[test]
    fn random_is_a_seeded_permutation_of_the_middle() {
        let a = PresetParams { layers: 32, n: Some(11), seed: 7, ..Default::default() };
        let p1 = preset(Preset::Random, &a).unwrap_or_else(|e| panic!("{e}"));
        let p2 = preset(Preset::Random, &a).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p1, p2);
        let mut mid: Vec<usize> = p1.blocks()[12..21].to_vec();
        assert_ne!(mid, (12..21).collect::<Vec<_>>());
        mid.sort();
        assert_eq!(mid, (12..21).collect::<Vec<_>>());
        let b = PresetParams { seed: 8, ..a };
        assert_ne!(preset(Preset::Random, &b).ok(), Some(p1));
    }

    #[test]
    fn bad_parameters_are_explained() {
        let e = |n, m| middle(32, n, m).unwrap_err();
        assert!(e(Some(16), None).contains("no middle layer"));
        assert!(e(None, Some(0)).contains("between 1"));
        assert!(e(Some(1), Some(1)).contains("not both"));
        assert!(e(None, None).contains("needs --n"));
        assert_eq!(middle(4, Some(1), None), Ok((2, 2)));
        assert_eq!(middle(3, Some(0), None), Ok((1, 2)));
    }
}

//! SplitMix64: the deterministic generator of the seeded harness. Input `i`
//! of seed `s` depends on `(s, i)` alone, so any input is reproducible from
//! its exec index without replaying the ones before it.

use painters_run::eval::SplitMix64;

/// A small, fast, seedable generator (not for cryptography): painters' one
/// SplitMix64 (`painters_run::eval::SplitMix64`) with the harness's helpers.
#[derive(Debug, Clone)]
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64(seed))
    }

    /// The generator of exec `index` under `seed`.
    pub fn for_exec(seed: u64, index: u64) -> Self {
        let mut r = Rng::new(seed ^ index.wrapping_mul(0xD605_BBB5_8C8A_BBD5));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den.max(1) < num
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An integer that fuzzes boundaries: mostly small, sometimes a limit
    /// of the parsers (100000, 64), sometimes near 2^32, 2^63, 2^64.
    pub fn interesting(&mut self) -> u64 {
        match self.below(10) {
            0..=5 => self.below(48) as u64,
            6 => *self.pick(&[64, 65, 99_999, 100_000, 100_001, 1 << 20]),
            7 => *self.pick(&[u32::MAX as u64, (u32::MAX as u64) + 1, i64::MAX as u64, (i64::MAX as u64) + 1, u64::MAX, u64::MAX - 1]),
            8 => self.next_u64() >> self.below(64),
            _ => self.below(1_000) as u64,
        }
    }
}

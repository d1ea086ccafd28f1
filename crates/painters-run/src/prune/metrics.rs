//! The one-shot pruning metrics on calibration hidden states (definitions in
//! `docs/PRUNE.md`; h_0 enters the first block, h_{i+1} leaves block i).
//! - Block Influence (ShortGPT, Men et al. 2024): BI_i = 1 − mean over all
//!   calibration tokens (pooled over windows) of cos(h_i, h_{i+1}).
//! - Angular distance (Gromov et al. 2024): for a span of n blocks starting
//!   at ℓ, d(ℓ, n) = mean over windows of arccos(cos(h_ℓ, h_{ℓ+n}))/π at the
//!   window's last token.
//!
//! Sums in f64.
use super::calib::Hidden;

fn cos(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    dot / (na * nb).sqrt().max(1e-300)
}

/// BI of every block (`hidden[w].states` has blocks + 1 entries).
pub fn block_influence(hidden: &[Hidden]) -> Vec<f64> {
    let blocks = hidden.first().map_or(0, |h| h.states.len().saturating_sub(1));
    let mut sum = vec![0f64; blocks];
    let mut tokens = 0usize;
    for h in hidden {
        for (i, s) in sum.iter_mut().enumerate() {
            let (a, b) = (&h.states[i], &h.states[i + 1]);
            *s += a.chunks(h.dim).zip(b.chunks(h.dim)).map(|(x, y)| cos(x, y)).sum::<f64>();
        }
        tokens += h.len;
    }
    sum.into_iter().map(|s| 1.0 - s / tokens.max(1) as f64).collect()
}

/// d(ℓ, n) for ℓ = 0 … blocks − n.
pub fn angular(hidden: &[Hidden], n: usize) -> Vec<f64> {
    let blocks = hidden.first().map_or(0, |h| h.states.len().saturating_sub(1));
    if n == 0 || n > blocks {
        return Vec::new();
    }
    let mut sum = vec![0f64; blocks - n + 1];
    for h in hidden {
        let last = |s: &Vec<f32>| s[(h.len - 1) * h.dim..h.len * h.dim].to_vec();
        for (l, s) in sum.iter_mut().enumerate() {
            let c = cos(&last(&h.states[l]), &last(&h.states[l + n])).clamp(-1.0, 1.0);
            *s += c.acos() / std::f64::consts::PI;
        }
    }
    sum.into_iter().map(|s| s / hidden.len().max(1) as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hidden(states: Vec<Vec<f32>>, len: usize) -> Hidden {
        let dim = states[0].len() / len;
        Hidden { states, len, dim }
    }

    #[test]
    fn identical_states_have_no_influence_and_no_distance() {
        let h = hidden(vec![vec![1.0, 2.0, 3.0, 4.0]; 3], 2);
        assert_eq!(block_influence(std::slice::from_ref(&h)), vec![0.0, 0.0]);
        assert_eq!(angular(&[h], 2), vec![0.0]);
    }

    #[test]
    fn orthogonal_and_opposite_states() {
        // one token of dim 2: e1 -> e2 (orthogonal) -> -e2 (opposite)
        let h = hidden(vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.0, -1.0]], 1);
        let bi = block_influence(std::slice::from_ref(&h));
        assert!((bi[0] - 1.0).abs() < 1e-12 && (bi[1] - 2.0).abs() < 1e-12, "{bi:?}");
        let d1 = angular(std::slice::from_ref(&h), 1);
        assert!((d1[0] - 0.5).abs() < 1e-12 && (d1[1] - 1.0).abs() < 1e-12, "{d1:?}");
        assert!((angular(&[h], 2)[0] - 0.5).abs() < 1e-12);
    }
}

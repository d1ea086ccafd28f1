//! Perplexity over a text with windows and a stride (the Hugging Face
//! recipe; docs/EVAL.md): token perplexity, word perplexity, bits per byte.
use std::collections::BTreeMap;

use super::{progress, TaskResult, Units};
use crate::error::Error;
use crate::lm::{log_prob, LanguageModel, Logits};
use crate::tokenizer::Tokenizer;

/// Perplexity parameters.
#[derive(Debug, Clone, Copy)]
pub struct PerplexityParams {
    pub window: usize,
    pub stride: usize,
    pub max_tokens: Option<usize>,
    pub batch: usize,
}

/// One window: tokens[begin..end], scoring positions `first..end-begin` of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub begin: usize,
    pub end: usize,
    pub first: usize,
}

/// The windows of the Hugging Face perplexity recipe.
pub fn windows(n: usize, window: usize, stride: usize) -> Vec<Window> {
    let mut out = Vec::new();
    let mut prev_end = 0;
    let mut begin = 0;
    while begin < n {
        let end = (begin + window).min(n);
        let trg = end - prev_end;
        let len = end - begin;
        out.push(Window { begin, end, first: (len - trg.min(len)).max(1) });
        prev_end = end;
        if end == n {
            break;
        }
        begin += stride;
    }
    out
}

/// Σ log p(token) over the scored positions of each window of a batch; the
/// rows are split over the available cores (ONNX Runtime is idle while this runs).
fn score_rows(logits: &Logits<'_>, windows: &[Window], rows: &[Vec<i64>]) -> Vec<f64> {
    let score = |r: usize| {
        let w = &windows[r];
        rows[r].iter().enumerate().skip(w.first).map(|(k, &token)| log_prob(logits.row(r, k - 1), token as usize)).sum::<f64>()
    };
    let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1).min(rows.len());
    if threads <= 1 {
        return (0..rows.len()).map(score).collect();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let score = &score;
                s.spawn(move || (t..rows.len()).step_by(threads).map(|r| (r, score(r))).collect::<Vec<_>>())
            })
            .collect();
        let mut per = vec![0f64; rows.len()];
        for h in handles {
            for (r, v) in h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)) {
                per[r] = v;
            }
        }
        per
    })
}

/// Computes the perplexity metrics of `text`.
pub fn perplexity(lm: &mut LanguageModel, tok: &Tokenizer, text: &str, p: &PerplexityParams) -> Result<TaskResult, Error> {
    if p.window < 2 || p.stride == 0 || p.stride > p.window {
        return Err(Error::Task(format!("need window >= 2 and 1 <= stride <= window (got {} and {})", p.window, p.stride)));
    }
    let enc = tok.encode(text, true)?;
    let keep = p.max_tokens.unwrap_or(usize::MAX).min(enc.ids.len());
    let tokens = &enc.ids[..keep];
    if tokens.len() < 2 {
        return Err(Error::Task("the text has fewer than 2 tokens".into()));
    }
    let wins = windows(tokens.len(), p.window, p.stride);
    let bar = progress(wins.len() as u64, "perplexity");
    // Per window: Σ log p of its scored tokens, and how many.
    let (mut lls, mut counts) = (Vec::with_capacity(wins.len()), Vec::with_capacity(wins.len()));
    for chunk in wins.chunks(p.batch.max(1)) {
        let rows: Vec<Vec<i64>> = chunk.iter().map(|w| tokens[w.begin..w.end].to_vec()).collect();
        lls.extend(lm.forward_logits(&rows, None, |logits| score_rows(&logits, chunk, &rows))?);
        counts.extend(chunk.iter().map(|w| (w.end - w.begin).saturating_sub(w.first) as f64));
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    // Summed in window order: the result does not depend on the batch or thread count.
    let ll: f64 = lls.iter().sum();
    let n = counts.iter().sum::<f64>() as usize;
    let end_char = tokens
        .iter()
        .zip(&enc.offsets)
        .filter(|(_, (s, e))| e > s)
        .map(|(_, (_, e))| *e)
        .next_back()
        .unwrap_or(0);
    let covered: String = text.chars().take(end_char).collect();
    let words = covered.split_whitespace().count();
    let bytes = covered.len();
    let mut metrics = BTreeMap::new();
    metrics.insert("token_perplexity".into(), (-ll / n as f64).exp());
    metrics.insert("word_perplexity".into(), (-ll / words.max(1) as f64).exp());
    metrics.insert("bits_per_byte".into(), -ll / bytes.max(1) as f64 / std::f64::consts::LN_2);
    metrics.insert("loglikelihood_sum".into(), ll);
    metrics.insert("n_tokens".into(), n as f64);
    metrics.insert("words".into(), words as f64);
    metrics.insert("bytes".into(), bytes as f64);
    Ok(TaskResult {
        task: "perplexity".into(),
        metrics,
        n_samples: wins.len(),
        config: serde_json::json!({"window": p.window, "stride": p.stride, "max_tokens": p.max_tokens, "tokens": tokens.len()}),
        details: serde_json::Value::Null,
        units: BTreeMap::from([("token_perplexity".to_string(), Units::perplexity(lls, counts))]),
        timing: None,
    })
}

#[cfg(test)]
mod tests {
    use super::{windows, Window};

    #[test]
    fn disjoint_windows_skip_each_first_token() {
        assert_eq!(
            windows(10, 4, 4),
            vec![Window { begin: 0, end: 4, first: 1 }, Window { begin: 4, end: 8, first: 1 }, Window { begin: 8, end: 10, first: 1 }]
        );
    }

    #[test]
    fn strided_windows_score_only_new_tokens() {
        // Window 4, stride 2: after the first window, 2 new tokens each.
        let w = windows(8, 4, 2);
        assert_eq!(w[0], Window { begin: 0, end: 4, first: 1 });
        assert_eq!(w[1], Window { begin: 2, end: 6, first: 2 });
        assert_eq!(w[2], Window { begin: 4, end: 8, first: 2 });
        assert_eq!(w.len(), 3);
        let scored: usize = w.iter().map(|w| w.end - w.begin - w.first).sum();
        assert_eq!(scored, 7); // every token but the first
    }
}

//! Multiple choice by log-likelihood (docs/EVAL.md): `acc` and `acc_norm`
//! with standard errors, and what a model giving every token the same
//! probability would score (`acc_uniform`, `acc_norm_uniform`); few-shot
//! prompts from a seeded shuffle; with a with-past model the context runs
//! once and its KV cache is reused for every choice.
use std::collections::BTreeMap;

use super::data::ChoiceExample;
use super::{mean_stderr, progress, SplitMix64, TaskResult, Units};
use crate::error::Error;
use crate::lm::{argmax, log_prob, LanguageModel};
use crate::tokenizer::Tokenizer;

/// Multiple-choice parameters.
#[derive(Debug, Clone, Copy)]
pub struct ChoiceParams {
    pub fewshot: usize,
    pub seed: u64,
    /// Longest sequence the model takes (left-truncation).
    pub max_len: usize,
    /// Reuse the context's KV cache when the model has one.
    pub reuse_cache: bool,
}

/// Splits trailing whitespace of the context onto the continuation (harness `_encode_pair`).
pub fn split_pair(context: &str, choice: &str) -> (String, String) {
    let trimmed = context.trim_end();
    let ws = &context[trimmed.len()..];
    if ws.is_empty() {
        (context.to_string(), format!(" {choice}"))
    } else {
        (trimmed.to_string(), format!("{ws}{choice}"))
    }
}

/// The prompt of example `i` with `k` shots.
pub fn fewshot_context(examples: &[ChoiceExample], i: usize, k: usize, seed: u64) -> String {
    if k == 0 {
        return examples[i].context.clone();
    }
    let mut others: Vec<usize> = (0..examples.len()).filter(|&j| j != i).collect();
    SplitMix64(seed ^ i as u64).shuffle(&mut others);
    let mut parts: Vec<String> = others
        .iter()
        .take(k)
        .map(|&j| {
            let e = &examples[j];
            let (c, cont) = split_pair(&e.context, &e.choices[e.label]);
            format!("{c}{cont}")
        })
        .collect();
    parts.push(examples[i].context.clone());
    parts.join("\n\n")
}

/// One choice: context tokens, continuation tokens, continuation length in characters.
type Pair = (Vec<i64>, Vec<i64>, usize);

/// Scores every example.
pub fn choice(lm: &mut LanguageModel, tok: &Tokenizer, examples: &[ChoiceExample], p: &ChoiceParams) -> Result<TaskResult, Error> {
    let bar = progress(examples.len() as u64, "choice");
    let (mut acc, mut acc_norm, mut all_ll) = (Vec::new(), Vec::new(), Vec::new());
    let (mut uni, mut uni_norm) = (Vec::new(), Vec::new());
    let mut first_ctx_tokens: Vec<i64> = Vec::new();
    for (i, e) in examples.iter().enumerate() {
        let pairs = pairs_of(tok, examples, i, p)?;
        if i == 0 {
            first_ctx_tokens = pairs[0].0.clone();
        }
        let same_ctx = pairs.iter().all(|(c, _, _)| *c == pairs[0].0);
        let lls = if p.reuse_cache && lm.has_cache() && same_ctx {
            score_with_cache(lm, &pairs, p.max_len)?
        } else {
            score_batch(lm, &pairs, p.max_len)?
        };
        let (best, best_norm) = picks(&lls, &pairs);
        acc.push(f64::from(u8::from(best == e.label)));
        acc_norm.push(f64::from(u8::from(best_norm == e.label)));
        let (u, u_norm) = uniform_picks(&pairs);
        uni.push(f64::from(u8::from(u == e.label)));
        uni_norm.push(f64::from(u8::from(u_norm == e.label)));
        all_ll.push(lls);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (a, a_se) = mean_stderr(&acc);
    let (n, n_se) = mean_stderr(&acc_norm);
    let metrics = BTreeMap::from([
        ("acc".to_string(), a),
        ("acc_stderr".to_string(), a_se),
        ("acc_norm".to_string(), n),
        ("acc_norm_stderr".to_string(), n_se),
        ("acc_uniform".to_string(), mean_stderr(&uni).0),
        ("acc_norm_uniform".to_string(), mean_stderr(&uni_norm).0),
    ]);
    Ok(TaskResult {
        task: "choice".into(),
        metrics,
        n_samples: examples.len(),
        config: serde_json::json!({"fewshot": p.fewshot, "seed": p.seed, "kv_cache_reuse": p.reuse_cache && lm.has_cache()}),
        details: serde_json::json!({"ll": all_ll, "context_tokens": first_ctx_tokens}),
        units: BTreeMap::from([("acc".to_string(), Units::mean(acc)), ("acc_norm".to_string(), Units::mean(acc_norm))]),
        timing: None,
    })
}

/// The choices `acc` and `acc_norm` pick from log-likelihoods `lls`: the
/// largest, and the largest per character (the first on ties).
fn picks(lls: &[f64], pairs: &[Pair]) -> (usize, usize) {
    let normed: Vec<f64> = lls.iter().zip(pairs).map(|(ll, (_, _, chars))| ll / *chars as f64).collect();
    (argmax(lls), argmax(&normed))
}

/// What a model that gives every token the same probability picks: its
/// log-likelihood of a continuation is −(tokens)·log V, so `acc` takes the
/// choice with the fewest tokens and `acc_norm` the fewest per character.
/// Where that beats chance, the task's tokenization gives answers away
/// (docs/EVAL.md, "The uniform model").
fn uniform_picks(pairs: &[Pair]) -> (usize, usize) {
    let lls: Vec<f64> = pairs.iter().map(|(_, cont, _)| -(cont.len() as f64)).collect();
    picks(&lls, pairs)
}

/// The uniform model's result ([`uniform_picks`]) without running any
/// model: `acc` and `acc_norm` (with standard errors and per-example units)
/// are what a model giving every token the same probability scores.
pub fn uniform(tok: &Tokenizer, examples: &[ChoiceExample], p: &ChoiceParams) -> Result<TaskResult, Error> {
    let (mut acc, mut acc_norm) = (Vec::new(), Vec::new());
    for (i, e) in examples.iter().enumerate() {
        let (u, u_norm) = uniform_picks(&pairs_of(tok, examples, i, p)?);
        acc.push(f64::from(u8::from(u == e.label)));
        acc_norm.push(f64::from(u8::from(u_norm == e.label)));
    }
    let (a, a_se) = mean_stderr(&acc);
    let (n, n_se) = mean_stderr(&acc_norm);
    Ok(TaskResult {
        task: "choice".into(),
        metrics: BTreeMap::from([
            ("acc".to_string(), a),
            ("acc_stderr".to_string(), a_se),
            ("acc_norm".to_string(), n),
            ("acc_norm_stderr".to_string(), n_se),
        ]),
        n_samples: examples.len(),
        config: serde_json::json!({"fewshot": p.fewshot, "seed": p.seed, "model": "uniform (every token equally likely)"}),
        details: serde_json::json!({}),
        units: BTreeMap::from([("acc".to_string(), Units::mean(acc)), ("acc_norm".to_string(), Units::mean(acc_norm))]),
        timing: None,
    })
}

/// The tokens of example `i`'s choices (harness `_encode_pair`).
fn pairs_of(tok: &Tokenizer, examples: &[ChoiceExample], i: usize, p: &ChoiceParams) -> Result<Vec<Pair>, Error> {
    let e = &examples[i];
    if e.choices.is_empty() {
        return Err(Error::Task(format!("example {} has no choices", i + 1)));
    }
    let context = fewshot_context(examples, i, p.fewshot, p.seed);
    let mut pairs = Vec::new();
    for c in &e.choices {
        let (ctx, cont) = split_pair(&context, c);
        let (ctx_ids, cont_ids) = if ctx.is_empty() {
            // As the harness: the prefix token, and the continuation encoded on its own.
            (vec![tok.bos.or(tok.eos).unwrap_or(0)], tok.encode(&cont, false)?.ids)
        } else {
            let ctx_ids = tok.encode(&ctx, false)?.ids;
            let whole = tok.encode(&format!("{ctx}{cont}"), false)?.ids;
            let cont_ids = whole.get(ctx_ids.len()..).unwrap_or(&[]).to_vec();
            (ctx_ids, cont_ids)
        };
        if cont_ids.is_empty() {
            return Err(Error::Task(format!("example {}: choice '{c}' adds no tokens", i + 1)));
        }
        pairs.push((ctx_ids, cont_ids, cont.chars().count()));
    }
    Ok(pairs)
}

/// Every (context + continuation) from scratch, one batch.
fn score_batch(lm: &mut LanguageModel, pairs: &[Pair], max_len: usize) -> Result<Vec<f64>, Error> {
    let mut rows = Vec::new();
    let mut spans = Vec::new();
    for (ctx, cont, _) in pairs {
        let mut all: Vec<i64> = ctx.iter().chain(cont).copied().collect();
        if all.len() > max_len + 1 {
            all.drain(..all.len() - max_len - 1);
        }
        let n = all.len();
        let input = all[..n - 1].to_vec();
        spans.push((n - 1 - cont.len(), all[n - cont.len()..].to_vec()));
        rows.push(input);
    }
    lm.forward_logits(&rows, None, |logits| {
        spans
            .iter()
            .enumerate()
            .map(|(r, (start, targets))| targets.iter().enumerate().map(|(k, &t)| log_prob(logits.row(r, start + k), t as usize)).sum())
            .collect()
    })
}

/// The context once, then every continuation on its KV cache: all of them
/// in one batch (right-padded, the cache repeated for each row) where the
/// model takes that, so the weights are read once per example rather than
/// once per choice (`LanguageModel::score_on_cache`).
fn score_with_cache(lm: &mut LanguageModel, pairs: &[Pair], max_len: usize) -> Result<Vec<f64>, Error> {
    let longest = pairs.iter().map(|(_, c, _)| c.len()).max().unwrap_or(0);
    let mut ctx = pairs[0].0.clone();
    if ctx.len() + longest > max_len + 1 {
        let cut = (ctx.len() + longest - max_len - 1).min(ctx.len().saturating_sub(1));
        ctx.drain(..cut);
    }
    let (last, cache) = lm.prefill(&ctx, None)?;
    let mut lls: Vec<f64> = pairs.iter().map(|(_, cont, _)| log_prob(&last, cont[0] as usize)).collect();
    // The rest of each continuation (its first token was scored from the context's last position).
    let rest: Vec<usize> = (0..pairs.len()).filter(|&i| pairs[i].1.len() > 1).collect();
    for chunk in rest.chunks(CONTINUATION_BATCH) {
        let rows: Vec<Vec<i64>> = chunk.iter().map(|&i| pairs[i].1[..pairs[i].1.len() - 1].to_vec()).collect();
        let more = lm.score_on_cache(&rows, &cache, |logits, b, r| {
            pairs[chunk[r]].1.iter().enumerate().skip(1).map(|(k, &t)| log_prob(logits.row(b, k - 1), t as usize)).sum::<f64>()
        })?;
        for (&i, ll) in chunk.iter().zip(more) {
            lls[i] += ll;
        }
    }
    Ok(lls)
}

/// Continuations per run on a shared context's cache (bounds the repeated cache's memory).
const CONTINUATION_BATCH: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_whitespace_moves_to_the_continuation() {
        assert_eq!(split_pair("Q: 2+2?\nA:", "4"), ("Q: 2+2?\nA:".into(), " 4".into()));
        assert_eq!(split_pair("Q: 2+2?\nA: ", "4"), ("Q: 2+2?\nA:".into(), " 4".into()));
        assert_eq!(split_pair("x\n", "y"), ("x".into(), "\ny".into()));
    }
}

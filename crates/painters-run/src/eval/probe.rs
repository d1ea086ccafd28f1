//! Encoder evaluation (the paper's frozen-encoder protocol): mean-pooled
//! embeddings, a multinomial logistic-regression probe (loss = Σ
//! cross-entropy + ‖W‖²/2, sklearn's C = 1, fitted by L-BFGS to
//! convergence) trained on the train split and scored on the test split;
//! and embedding fidelity against a reference model.
use std::collections::BTreeMap;

use super::data::ProbeExample;
use super::{progress, TaskResult};
use crate::error::Error;
use crate::lm::LanguageModel;
use crate::tokenizer::Tokenizer;

/// Mean-pooled `last_hidden_state` of each text (f64), texts cut to the model's
/// maximum positions (`max_position_embeddings` in config.json).
pub fn embed(lm: &mut LanguageModel, tok: &Tokenizer, texts: &[String], batch: usize) -> Result<Vec<Vec<f64>>, Error> {
    let max_len = tok.max_positions.unwrap_or(usize::MAX);
    let bar = progress(texts.len() as u64, "embed");
    let mut out = Vec::new();
    for chunk in texts.chunks(batch.max(1)) {
        let rows: Vec<Vec<i64>> = chunk
            .iter()
            .map(|t| tok.encode(t, true).map(|e| e.ids.into_iter().take(max_len).collect()))
            .collect::<Result<_, _>>()?;
        let outs = lm.forward(&rows, None)?;
        let h = outs
            .iter()
            .find(|(k, _)| k == "last_hidden_state")
            .map(|(_, t)| t)
            .ok_or_else(|| Error::MissingOutput("last_hidden_state".into()))?;
        let bad = || Error::OutputShape {
            output: "last_hidden_state".into(),
            expected: format!("[{}, seq, hidden] float32", rows.len()),
            shape: h.shape.clone(),
        };
        let (&[b, s, d], Some(data)) = (h.shape.as_slice(), h.as_f32()) else { return Err(bad()) };
        let (s, d) = (usize::try_from(s).map_err(|_| bad())?, usize::try_from(d).map_err(|_| bad())?);
        if b != rows.len() as i64 || data.len() != rows.len() * s * d || rows.iter().any(|r| r.len() > s) {
            return Err(bad());
        }
        for (r, row) in rows.iter().enumerate() {
            let mut v = vec![0f64; d];
            for p in 0..row.len() {
                for (k, x) in v.iter_mut().enumerate() {
                    *x += data[(r * s + p) * d + k] as f64;
                }
            }
            v.iter_mut().for_each(|x| *x /= row.len().max(1) as f64);
            out.push(v);
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// A fitted multinomial logistic regression.
#[derive(Debug, Clone)]
pub struct Logistic {
    pub classes: usize,
    pub dim: usize,
    /// Row-major [classes × (dim + 1)], the last column the intercept.
    pub w: Vec<f64>,
}

impl Logistic {
    /// Fits by L-BFGS; `y` are class indices.
    pub fn fit(x: &[Vec<f64>], y: &[usize], classes: usize) -> Self {
        let dim = x.first().map(Vec::len).unwrap_or(0);
        let n = (dim + 1) * classes;
        let f = |w: &[f64], g: &mut [f64]| loss_grad(x, y, classes, dim, w, g);
        let w = lbfgs(vec![0.0; n], f, 5000);
        Self { classes, dim, w }
    }

    pub fn predict(&self, x: &[f64]) -> usize {
        let s = scores(&self.w, x, self.classes, self.dim);
        let mut best = 0;
        for (i, v) in s.iter().enumerate() {
            if *v > s[best] {
                best = i;
            }
        }
        best
    }
}

fn scores(w: &[f64], x: &[f64], classes: usize, dim: usize) -> Vec<f64> {
    (0..classes)
        .map(|c| {
            let row = &w[c * (dim + 1)..(c + 1) * (dim + 1)];
            row[dim] + row[..dim].iter().zip(x).map(|(a, b)| a * b).sum::<f64>()
        })
        .collect()
}

fn loss_grad(x: &[Vec<f64>], y: &[usize], classes: usize, dim: usize, w: &[f64], g: &mut [f64]) -> f64 {
    g.iter_mut().for_each(|v| *v = 0.0);
    let mut loss = 0.0;
    for (xi, &yi) in x.iter().zip(y) {
        let s = scores(w, xi, classes, dim);
        let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = s.iter().map(|v| (v - m).exp()).sum();
        loss += z.ln() + m - s[yi];
        for c in 0..classes {
            let p = (s[c] - m).exp() / z - f64::from(u8::from(c == yi));
            let row = &mut g[c * (dim + 1)..(c + 1) * (dim + 1)];
            for (k, v) in xi.iter().enumerate() {
                row[k] += p * v;
            }
            row[dim] += p;
        }
    }
    for c in 0..classes {
        for k in 0..dim {
            let i = c * (dim + 1) + k;
            loss += 0.5 * w[i] * w[i];
            g[i] += w[i];
        }
    }
    loss
}

/// Limited-memory BFGS with Armijo backtracking.
fn lbfgs(mut w: Vec<f64>, f: impl Fn(&[f64], &mut [f64]) -> f64, max_iter: usize) -> Vec<f64> {
    let n = w.len();
    let mut g = vec![0.0; n];
    let mut fx = f(&w, &mut g);
    let (mut ss, mut ys): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (Vec::new(), Vec::new());
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    for _ in 0..max_iter {
        let gnorm = g.iter().fold(0f64, |m, v| m.max(v.abs()));
        if gnorm < 1e-10 {
            break;
        }
        // Two-loop recursion.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(ss.len());
        for (s, y) in ss.iter().zip(&ys).rev() {
            let a = dot(s, &q) / dot(y, s);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
            alphas.push(a);
        }
        if let (Some(s), Some(y)) = (ss.last(), ys.last()) {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|v| *v *= gamma);
        }
        for ((s, y), a) in ss.iter().zip(&ys).zip(alphas.iter().rev()) {
            let b = dot(y, &q) / dot(y, s);
            q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
        }
        let mut dir: Vec<f64> = q.iter().map(|v| -v).collect();
        if dot(&dir, &g) >= 0.0 {
            dir = g.iter().map(|v| -v).collect();
            ss.clear();
            ys.clear();
        }
        let mut step = if ss.is_empty() { 1.0 / gnorm.max(1.0) } else { 1.0 };
        let slope = dot(&dir, &g);
        let mut g_new = vec![0.0; n];
        let mut accepted = false;
        for _ in 0..60 {
            let w_new: Vec<f64> = w.iter().zip(&dir).map(|(a, d)| a + step * d).collect();
            let f_new = f(&w_new, &mut g_new);
            if f_new <= fx + 1e-4 * step * slope {
                let s: Vec<f64> = w_new.iter().zip(&w).map(|(a, b)| a - b).collect();
                let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
                if dot(&s, &y) > 1e-12 {
                    ss.push(s);
                    ys.push(y);
                    if ss.len() > 10 {
                        ss.remove(0);
                        ys.remove(0);
                    }
                }
                let converged = (fx - f_new).abs() <= 1e-15 * fx.abs().max(1.0);
                w = w_new;
                fx = f_new;
                g.clone_from(&g_new);
                accepted = true;
                if converged {
                    return w;
                }
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    w
}

/// Trains on the train split, scores on the test split.
pub fn probe(lm: &mut LanguageModel, tok: &Tokenizer, examples: &[ProbeExample], batch: usize) -> Result<TaskResult, Error> {
    let mut labels: Vec<String> = examples.iter().map(|e| e.label.clone()).collect();
    labels.sort();
    labels.dedup();
    if labels.len() < 2 {
        return Err(Error::Task("a probe needs at least 2 labels".into()));
    }
    let (train, test): (Vec<&ProbeExample>, Vec<&ProbeExample>) = examples.iter().partition(|e| e.train);
    if train.is_empty() || test.is_empty() {
        return Err(Error::Task("a probe needs examples in both the train and the test split".into()));
    }
    let idx = |e: &ProbeExample| labels.iter().position(|l| *l == e.label).unwrap_or(0);
    let texts = |v: &[&ProbeExample]| v.iter().map(|e| e.text.clone()).collect::<Vec<_>>();
    let xtr = embed(lm, tok, &texts(&train), batch)?;
    let xte = embed(lm, tok, &texts(&test), batch)?;
    let ytr: Vec<usize> = train.iter().map(|e| idx(e)).collect();
    let yte: Vec<usize> = test.iter().map(|e| idx(e)).collect();
    let model = Logistic::fit(&xtr, &ytr, labels.len());
    let pred: Vec<usize> = xte.iter().map(|x| model.predict(x)).collect();
    let correct: Vec<f64> = pred.iter().zip(&yte).map(|(p, y)| f64::from(u8::from(p == y))).collect();
    let train_acc = xtr.iter().zip(&ytr).filter(|(x, y)| model.predict(x) == **y).count() as f64 / xtr.len() as f64;
    let (acc, se) = super::mean_stderr(&correct);
    Ok(TaskResult {
        task: "probe".into(),
        metrics: BTreeMap::from([("acc".to_string(), acc), ("acc_stderr".to_string(), se), ("train_acc".to_string(), train_acc)]),
        n_samples: test.len(),
        config: serde_json::json!({"train": train.len(), "test": test.len(), "labels": labels, "pooling": "mean", "C": 1.0}),
        details: serde_json::json!({"predictions": pred.iter().map(|&p| labels[p].clone()).collect::<Vec<_>>()}),
        units: BTreeMap::from([("acc".to_string(), super::Units::mean(correct))]),
        timing: None,
    })
}

/// Mean cosine between the embeddings of two models on the same texts.
pub fn fidelity(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    fidelity_each(a, b).iter().sum::<f64>() / a.len().max(1) as f64
}

/// The cosine between the two embeddings of each text.
pub fn fidelity_each(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<f64> {
    let cos = |x: &[f64], y: &[f64]| {
        let d: f64 = x.iter().zip(y).map(|(p, q)| p * q).sum();
        d / (x.iter().map(|v| v * v).sum::<f64>().sqrt() * y.iter().map(|v| v * v).sum::<f64>().sqrt()).max(1e-300)
    };
    a.iter().zip(b).map(|(x, y)| cos(x, y)).collect()
}

/// The fidelity task's result: mean cosine, per text.
pub fn fidelity_result(a: &[Vec<f64>], b: &[Vec<f64>], config: serde_json::Value) -> TaskResult {
    let each = fidelity_each(a, b);
    let (cosine, se) = super::mean_stderr(&each);
    TaskResult {
        task: "fidelity".into(),
        metrics: BTreeMap::from([("cosine".to_string(), cosine), ("cosine_stderr".to_string(), se)]),
        n_samples: each.len(),
        config,
        details: serde_json::Value::Null,
        units: BTreeMap::from([("cosine".to_string(), super::Units::mean(each))]),
        timing: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_data_is_learned() {
        let x: Vec<Vec<f64>> = (0..40).map(|i| vec![if i % 2 == 0 { 3.0 } else { -3.0 }, (i as f64 * 0.37).sin()]).collect();
        let y: Vec<usize> = (0..40).map(|i| i % 2).collect();
        let m = Logistic::fit(&x, &y, 2);
        assert!(x.iter().zip(&y).all(|(xi, yi)| m.predict(xi) == *yi));
    }

    #[test]
    fn gradient_is_zero_at_the_fit() {
        let x: Vec<Vec<f64>> = (0..30).map(|i| vec![(i as f64).cos(), (i as f64 * 0.5).sin(), 1.0 + i as f64 / 30.0]).collect();
        let y: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let m = Logistic::fit(&x, &y, 3);
        let mut g = vec![0.0; m.w.len()];
        loss_grad(&x, &y, 3, 3, &m.w, &mut g);
        assert!(g.iter().all(|v| v.abs() < 1e-6), "{g:?}");
    }
}

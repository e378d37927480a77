//! Metrics of the full posterior (Monte Carlo), of pruned networks (candle), and of emitted
//! blobs (the runtime), all on the original target scale.

use candle::{DType, Device, Tensor};
use rand::RngExt;
use rand_pcg::Pcg64;
use spikeslab_runtime::{Model, Scratch};

use crate::Result;
use crate::bnn::{Bnn, Draw, Posterior, Shape, forward, normal};
use crate::data::Table;
use crate::metrics::{Metrics, gaussian_log_density};
use crate::prepare::Prepared;
use crate::prune::Pruned;
use crate::train::Rows;

/// Outputs of `draw` on `rows`: standardised regression outputs, or class probabilities.
///
/// # Errors
/// A tensor error.
pub fn outputs(x: &Tensor, draw: &Draw, shape: &Shape, classify: bool) -> Result<Vec<f32>> {
    let out = forward(x, draw, shape)?;
    let out = if classify {
        candle_nn::ops::softmax_last_dim(&out)?
    } else {
        out
    };
    Ok(out.flatten_all()?.to_vec1::<f32>()?)
}

/// Turns per-row outputs into metrics: `preds` are standardised means (regression, with
/// `sigma` the standardised noise) or probabilities (classification).
pub fn score(p: &Prepared, preds: &[f64], y: &[f32], sigma: f64) -> Metrics {
    if p.classes.is_empty() {
        let (m, s) = (f64::from(p.target.0), f64::from(p.target.1));
        let pred: Vec<f64> = preds.iter().map(|v| v * s + m).collect();
        let raw: Vec<f32> = y.iter().map(|v| (f64::from(*v) * s + m) as f32).collect();
        let ll: Vec<f64> = pred
            .iter()
            .zip(&raw)
            .map(|(q, t)| gaussian_log_density(f64::from(*t), *q, sigma * s))
            .collect();
        Metrics::regression(&pred, &raw, &ll)
    } else {
        Metrics::classification(preds, p.classes.len(), y)
    }
}

/// The median model of the current variational parameters (`μ·1[φ > 0.5]`, bias means) on `rows`.
///
/// # Errors
/// A tensor error.
pub fn median_metrics(bnn: &Bnn, p: &Prepared, rows: &Rows) -> Result<Metrics> {
    let keep = bnn.xi.as_tensor().gt(0.0)?.to_dtype(DType::F32)?;
    let draw = bnn.split(&bnn.mu.as_tensor().mul(&keep)?, bnn.bias_mu.as_tensor())?;
    let out = outputs(&rows.x_tensor()?, &draw, &bnn.shape, !p.classes.is_empty())?;
    let noise = match &bnn.log_noise {
        Some(v) => f64::from(v.exp()?.to_vec1::<f32>()?[0]),
        None => 1.0,
    };
    Ok(score(
        p,
        &out.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
        &rows.y,
        noise,
    ))
}

/// The full posterior's predictive, averaged over `draws` samples of `γ ~ Bernoulli(φ)` and
/// `w ~ N(μ, s²)` (method's diagnostics (a)); regression log-likelihood of the mixture.
///
/// # Errors
/// A tensor error.
pub fn posterior_metrics(
    post: &Posterior,
    p: &Prepared,
    rows: &Rows,
    draws: usize,
    rng: &mut Pcg64,
) -> Result<Metrics> {
    let dev = &Device::Cpu;
    let x = rows.x_tensor()?;
    let classify = !p.classes.is_empty();
    let k = if classify { p.classes.len() } else { 1 };
    let n = rows.len();
    let mut sum = vec![0f64; n * k];
    let mut densities = vec![Vec::with_capacity(draws); n];
    let sigma = f64::from(post.noise);
    for _ in 0..draws {
        let eps = normal(post.mu.len(), rng);
        let w: Vec<f32> = (0..post.mu.len())
            .map(|e| {
                let phi = 1.0 / (1.0 + (-f64::from(post.xi[e])).exp());
                if rng.random::<f64>() < phi {
                    post.mu[e] + post.s[e] * eps[e]
                } else {
                    0.0
                }
            })
            .collect();
        let eb = normal(post.bias_mu.len(), rng);
        let b: Vec<f32> = post
            .bias_mu
            .iter()
            .zip(&post.bias_s)
            .zip(eb)
            .map(|((m, s), e)| m + s * e)
            .collect();
        let draw = split_host(&post.shape, &w, &b, dev)?;
        let out = outputs(&x, &draw, &post.shape, classify)?;
        for (i, v) in out.iter().enumerate() {
            sum[i] += f64::from(*v);
        }
        if !classify {
            for (i, (v, t)) in out.iter().zip(&rows.y).enumerate() {
                densities[i].push(gaussian_log_density(f64::from(*t), f64::from(*v), sigma));
            }
        }
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / draws as f64).collect();
    let mut m = score(p, &mean, &rows.y, sigma);
    if !classify {
        let log_s = f64::from(p.target.1).ln();
        let ll: f64 = densities.iter().map(|d| log_mean_exp(d) - log_s).sum();
        m.log_likelihood = ll / n.max(1) as f64;
    }
    Ok(m)
}

fn log_mean_exp(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + (v.iter().map(|x| (x - max).exp()).sum::<f64>() / v.len() as f64).ln()
}

/// Per-layer tensors from flat host weights and biases.
///
/// # Errors
/// A tensor error.
pub fn split_host(shape: &Shape, w: &[f32], b: &[f32], dev: &Device) -> Result<Draw> {
    let (mut wo, mut bo) = (0, 0);
    let mut layers = Vec::new();
    for (o, i) in shape.layers() {
        layers.push((
            Tensor::from_slice(&w[wo..wo + o * i], (o, i), dev)?,
            Tensor::from_slice(&b[bo..bo + o], o, dev)?,
        ));
        wo += o * i;
        bo += o;
    }
    Ok(Draw { layers })
}

/// Candle's outputs of a pruned network on standardised rows (only its kept inputs are read).
///
/// # Errors
/// A tensor error.
pub fn pruned_outputs(
    pr: &Pruned,
    activation: spikeslab_runtime::Activation,
    rows: &Rows,
    classify: bool,
) -> Result<Vec<f32>> {
    let dev = &Device::Cpu;
    let x: Vec<f32> = rows
        .x
        .chunks(rows.d)
        .flat_map(|r| pr.kept[0].iter().map(|&j| r[j]))
        .collect();
    let x = Tensor::from_vec(x, (rows.len(), pr.kept[0].len()), dev)?;
    let shape = Shape {
        widths: pr.widths(),
        activation,
    };
    let draw = Draw {
        layers: pr
            .weights
            .iter()
            .zip(&pr.biases)
            .zip(shape.layers())
            .map(|((w, b), (o, i))| {
                Ok((
                    Tensor::from_slice(w, (o, i), dev)?,
                    Tensor::from_slice(b, o, dev)?,
                ))
            })
            .collect::<Result<_>>()?,
    };
    outputs(&x, &draw, &shape, classify)
}

/// The runtime's outputs for every row of a raw table (original scale, or probabilities).
///
/// # Errors
/// The runtime's error (wrong lengths cannot happen for a table of the model's width).
pub fn runtime_outputs(model: &Model<'_>, t: &Table) -> Result<Vec<f32>> {
    let k = model.outputs();
    let mut out = vec![0f32; t.rows() * k];
    let mut scratch = Scratch::new();
    for (i, o) in out.chunks_mut(k).enumerate() {
        model.predict_with(&mut scratch, t.row(i), o)?;
    }
    Ok(out)
}

/// Metrics of the runtime's outputs on a raw table; regression noise `sigma` standardised.
pub fn runtime_metrics(p: &Prepared, outputs: &[f32], t: &Table, sigma: f64) -> Metrics {
    if p.classes.is_empty() {
        let s = f64::from(p.target.1);
        let pred: Vec<f64> = outputs.iter().map(|&v| f64::from(v)).collect();
        let ll: Vec<f64> = pred
            .iter()
            .zip(&t.y)
            .map(|(q, y)| gaussian_log_density(f64::from(*y), *q, sigma * s))
            .collect();
        Metrics::regression(&pred, &t.y, &ll)
    } else {
        Metrics::classification(
            &outputs.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
            p.classes.len(),
            &t.y,
        )
    }
}

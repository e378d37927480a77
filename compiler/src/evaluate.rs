//! Scoring: every [`Network`] by one [`evaluate`]; the full posterior by Monte Carlo; the
//! median model during training. Metrics are on the original target scale.

use candle::{DType, Device, Tensor};
use rand::RngExt;
use rand_pcg::Pcg64;
use spikeslab_runtime::{Model, Scratch, Task};

use crate::Result;
use crate::bnn::{Bnn, Draw, Posterior, normal};
use crate::data::Table;
use crate::dataset::{Dataset, Part, Rows};
use crate::metrics::{Metrics, gaussian_log_density};
use crate::network::{Network, Shape, forward};
use crate::quantise::Quantised;
use crate::tune::columns_of;

/// Outputs of `draw` on standardised `x`: standardised regression outputs, or class
/// probabilities.
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
/// `sigma` the standardised noise) or probabilities (classification); `y` as in [`Rows`].
pub fn score(data: &Dataset, preds: &[f64], y: &[f32], sigma: f64) -> Metrics {
    if data.task == Task::Regression {
        let (m, s) = (f64::from(data.target.0), f64::from(data.target.1));
        let pred: Vec<f64> = preds.iter().map(|v| v * s + m).collect();
        let raw: Vec<f32> = y.iter().map(|v| (f64::from(*v) * s + m) as f32).collect();
        let ll: Vec<f64> = pred
            .iter()
            .zip(&raw)
            .map(|(q, t)| gaussian_log_density(f64::from(*t), *q, sigma * s))
            .collect();
        Metrics::regression(&pred, &raw, &ll)
    } else {
        Metrics::classification(preds, data.classes.len(), y)
    }
}

/// Candle's outputs of `net` on standardised `rows` of `data` (only its inputs are read).
///
/// # Errors
/// A tensor error.
pub fn network_outputs(net: &Network, data: &Dataset, rows: &Rows) -> Result<Vec<f32>> {
    let x = rows.select(&columns_of(net, data)).x_tensor()?;
    outputs(
        &x,
        &net.tensors()?,
        &net.shape(),
        net.task == Task::Classification,
    )
}

/// The metrics of `net` on `part` of `data`; `None` when there are no such rows.
///
/// # Errors
/// A tensor error.
pub fn evaluate(net: &Network, data: &Dataset, part: Part) -> Result<Option<Metrics>> {
    let Some((rows, _)) = data.part(part) else {
        return Ok(None);
    };
    let out = network_outputs(net, data, rows)?;
    let preds: Vec<f64> = out.iter().map(|&v| f64::from(v)).collect();
    Ok(Some(score(
        data,
        &preds,
        &rows.y,
        f64::from(net.noise.unwrap_or(1.0)),
    )))
}

/// The metrics of an integer network on `part` of `data` (its host reference, which the
/// verify step holds equal to the runtime bit for bit); `None` when there are no such rows.
pub fn evaluate_quantised(q: &Quantised, data: &Dataset, part: Part) -> Option<Metrics> {
    let (rows, table) = data.part(part)?;
    let out = q.outputs(table);
    let preds: Vec<f64> = if data.task == Task::Regression {
        let (m, s) = (f64::from(data.target.0), f64::from(data.target.1));
        out.iter().map(|&v| (f64::from(v) - m) / s).collect()
    } else {
        out.iter().map(|&v| f64::from(v)).collect()
    };
    Some(score(
        data,
        &preds,
        &rows.y,
        f64::from(q.network.noise.unwrap_or(1.0)),
    ))
}

/// The median model of the current variational parameters (`μ·1[φ > 0.5]`, bias means) on `rows`.
///
/// # Errors
/// A tensor error.
pub fn median_metrics(bnn: &Bnn, data: &Dataset, rows: &Rows) -> Result<Metrics> {
    let keep = bnn.xi.as_tensor().gt(0.0)?.to_dtype(DType::F32)?;
    let draw = bnn.split(&bnn.mu.as_tensor().mul(&keep)?, bnn.bias_mu.as_tensor())?;
    let out = outputs(
        &rows.x_tensor()?,
        &draw,
        &bnn.shape,
        data.task == Task::Classification,
    )?;
    let noise = match &bnn.log_noise {
        Some(v) => f64::from(v.exp()?.to_vec1::<f32>()?[0]),
        None => 1.0,
    };
    Ok(score(
        data,
        &out.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
        &rows.y,
        noise,
    ))
}

/// The full posterior's predictive on `part`, averaged over `draws` samples of
/// `γ ~ Bernoulli(φ)` and `w ~ N(μ, s²)` (method's diagnostics (a)); regression
/// log-likelihood of the mixture. `None` when there are no such rows.
///
/// # Errors
/// A tensor error.
pub fn posterior_metrics(
    post: &Posterior,
    data: &Dataset,
    part: Part,
    draws: usize,
    rng: &mut Pcg64,
) -> Result<Option<Metrics>> {
    let Some((rows, _)) = data.part(part) else {
        return Ok(None);
    };
    let dev = &Device::Cpu;
    let x = rows.x_tensor()?;
    let classify = data.task == Task::Classification;
    let n = rows.len();
    let mut sum = vec![0f64; n * data.outputs()];
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
    let m = score(data, &mean, &rows.y, sigma);
    Ok(Some(match m {
        Metrics::Regression {
            rmse, mse, mse_se, ..
        } => {
            let log_s = f64::from(data.target.1).ln();
            let ll: f64 = densities.iter().map(|d| log_mean_exp(d) - log_s).sum();
            Metrics::Regression {
                rmse,
                mse,
                mse_se,
                log_likelihood: ll / n.max(1) as f64,
                rows: n,
            }
        }
        c @ Metrics::Classification { .. } => c,
    }))
}

/// `log(mean(e^v))`, without overflow.
pub fn log_mean_exp(v: &[f64]) -> f64 {
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
    Ok(layers)
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

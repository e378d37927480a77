//! Variational training of the spike-and-slab network (method §2): Adam on the negative ELBO
//! per row, `mean NLL + KL / n`, one weight sample per minibatch step.

use candle::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand_pcg::Pcg64;

use crate::bnn::{Bnn, Prior, forward, nll};
use crate::{Error, Result};

/// Rows on the host, features standardised, targets standardised (regression) or class indices.
#[derive(Clone, Debug)]
pub struct Rows {
    /// Row-major features.
    pub x: Vec<f32>,
    /// Targets.
    pub y: Vec<f32>,
    /// Feature count.
    pub d: usize,
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// All features as an `n × d` tensor.
    ///
    /// # Errors
    /// A tensor error.
    pub fn x_tensor(&self) -> Result<Tensor> {
        Ok(Tensor::from_slice(
            &self.x,
            (self.len(), self.d),
            &Device::Cpu,
        )?)
    }

    /// The rows at `idx` as tensors.
    ///
    /// # Errors
    /// A tensor error.
    pub fn batch(&self, idx: &[usize]) -> Result<(Tensor, Tensor)> {
        let mut x = Vec::with_capacity(idx.len() * self.d);
        for &i in idx {
            x.extend_from_slice(&self.x[i * self.d..(i + 1) * self.d]);
        }
        let y: Vec<f32> = idx.iter().map(|&i| self.y[i]).collect();
        let dev = &Device::Cpu;
        Ok((
            Tensor::from_vec(x, (idx.len(), self.d), dev)?,
            Tensor::from_vec(y, idx.len(), dev)?,
        ))
    }
}

/// Optimisation settings.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Passes over the rows.
    pub epochs: usize,
    /// Rows per step.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Binary-concrete temperature.
    pub temperature: f64,
    /// Epochs of linear KL warm-up.
    pub kl_warmup: usize,
    /// The prior.
    pub prior: Prior,
    /// Evaluate the validation metric every this many epochs (and at the end).
    pub eval_every: usize,
}

/// The training curve.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Curve {
    /// Epoch numbers (from 1) of the entries below.
    pub epoch: Vec<usize>,
    /// Mean loss (negative ELBO per row) of the epoch.
    pub loss: Vec<f64>,
    /// Validation metric at evaluated epochs (NaN elsewhere).
    pub validation: Vec<f64>,
    /// Nodes with PIP at or above the threshold at evaluated epochs.
    pub kept_nodes: Vec<usize>,
}

/// A progress bar, or nothing with `--quiet`.
pub struct Progress(ProgressBar);

impl Progress {
    /// A bar of `len` steps labelled `what`; hidden when `quiet`.
    pub fn new(len: usize, what: &str, quiet: bool) -> Self {
        if quiet {
            return Self(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(len as u64);
        let style =
            ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        Self(bar)
    }

    /// Moves to `pos` with a message.
    pub fn set(&self, pos: usize, msg: String) {
        self.0.set_position(pos as u64);
        self.0.set_message(msg);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// The optimiser: Adam with no weight decay on any parameter (method §2).
///
/// # Errors
/// A tensor error.
pub fn adam(vars: Vec<candle::Var>, lr: f64) -> Result<AdamW> {
    Ok(AdamW::new(
        vars,
        ParamsAdamW {
            lr,
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        },
    )?)
}

/// One step on rows `(x, y)`: returns the loss before the update.
///
/// # Errors
/// A tensor error.
pub fn step(
    bnn: &Bnn,
    opt: &mut AdamW,
    x: &Tensor,
    y: &Tensor,
    kl_scale: f64,
    s: &Settings,
    rng: &mut Pcg64,
) -> Result<f32> {
    let draw = bnn.sample(s.temperature, rng)?;
    let out = forward(x, &draw, &bnn.shape)?;
    let loss = (nll(&out, y, bnn.log_noise.as_ref())? + (bnn.kl(s.prior)? * kl_scale)?)?;
    opt.backward_step(&loss)?;
    Ok(loss.to_scalar::<f32>()?)
}

/// Trains `bnn` on `train`; `evaluate` gives `(validation metric, kept nodes)` for the curve.
///
/// # Errors
/// [`Error::Diverged`] when the loss becomes NaN or infinite; a tensor error.
pub fn train(
    bnn: &Bnn,
    train: &Rows,
    s: &Settings,
    rng: &mut Pcg64,
    progress: &Progress,
    mut evaluate: impl FnMut(&Bnn) -> Result<(f64, usize)>,
) -> Result<Curve> {
    let mut opt = adam(bnn.vars(), s.lr)?;
    let n = train.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut curve = Curve::default();
    for epoch in 1..=s.epochs {
        let warm = if s.kl_warmup > 0 {
            (epoch as f64 / s.kl_warmup as f64).min(1.0)
        } else {
            1.0
        };
        order.shuffle(rng);
        let (mut total, mut steps) = (0f64, 0usize);
        for idx in order.chunks(s.batch) {
            let (x, y) = train.batch(idx)?;
            let loss = step(bnn, &mut opt, &x, &y, warm / n as f64, s, rng)?;
            if !loss.is_finite() {
                return Err(Error::Diverged {
                    epoch,
                    loss,
                    lr: s.lr,
                });
            }
            total += f64::from(loss);
            steps += 1;
        }
        let loss = total / steps.max(1) as f64;
        let (val, kept) = if epoch % s.eval_every == 0 || epoch == s.epochs {
            evaluate(bnn)?
        } else {
            (f64::NAN, 0)
        };
        curve.epoch.push(epoch);
        curve.loss.push(loss);
        curve.validation.push(val);
        curve.kept_nodes.push(kept);
        if val.is_finite() {
            progress.set(
                epoch,
                format!("loss {loss:.4} val {val:.4} nodes kept {kept}"),
            );
        } else {
            progress.set(epoch, format!("loss {loss:.4}"));
        }
    }
    Ok(curve)
}

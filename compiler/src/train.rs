//! The second stage: variational training of the spike-and-slab network (method §2), Adam on
//! the negative ELBO per row, `mean NLL + w·KL / n`, one weight sample per minibatch step,
//! with the KL weight `w` warmed up linearly over the first epochs; each step fused
//! ([`crate::fused`]), candle's autograd step ([`step`]) kept as its reference. Also the one epoch loop
//! that every network is trained with, and the progress bars.

use candle::Tensor;
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64;

use crate::bnn::{Bnn, Posterior, Prior, nll};
use crate::dataset::{Dataset, Part, Rows};
use crate::evaluate::median_metrics;
use crate::fused::Fused;
use crate::network::forward;
use crate::pip::node_pips;
use crate::plan::Settings;
use crate::{Error, Result};

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

/// Where progress bars go: nowhere (`quiet`), or one terminal display shared by the bars of
/// candidates trained at the same time.
#[derive(Clone, Debug)]
pub struct Bars(Option<MultiProgress>);

impl Bars {
    /// Bars on the terminal, or none when `quiet`.
    pub fn new(quiet: bool) -> Self {
        Self((!quiet).then(MultiProgress::new))
    }

    /// A bar of `len` steps labelled `what`.
    pub fn bar(&self, len: usize, what: &str) -> Progress {
        let Some(multi) = &self.0 else {
            return Progress(ProgressBar::hidden());
        };
        let bar = multi.add(ProgressBar::new(len as u64));
        let style =
            ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        Progress(bar)
    }
}

/// A progress bar (hidden when quiet); removed when dropped.
pub struct Progress(ProgressBar);

impl Progress {
    /// Moves to `pos` with a message.
    pub fn set(&self, pos: usize, msg: String) {
        self.0.set_position(pos as u64);
        self.0.set_message(msg);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
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

/// How long and in what steps a network is trained.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// Passes over the rows.
    pub epochs: usize,
    /// Rows per step.
    pub batch: usize,
    /// Adam learning rate (named in a divergence error).
    pub lr: f64,
}

/// The epoch loop of every network: per epoch, shuffle the row order with `rng`, call
/// `step(epoch, rows, rng)` on each batch of it (the loss before the update), then
/// `end(epoch, mean loss)`.
///
/// # Errors
/// [`Error::Diverged`] when a step's loss is not finite; the callbacks' errors.
pub fn run_epochs(
    rows: usize,
    s: Schedule,
    rng: &mut Pcg64,
    mut step: impl FnMut(usize, &[usize], &mut Pcg64) -> Result<f32>,
    mut end: impl FnMut(usize, f64) -> Result<()>,
) -> Result<()> {
    let mut order: Vec<usize> = (0..rows).collect();
    for epoch in 1..=s.epochs {
        order.shuffle(rng);
        let (mut total, mut steps) = (0f64, 0usize);
        for idx in order.chunks(s.batch) {
            let loss = step(epoch, idx, rng)?;
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
        end(epoch, total / steps.max(1) as f64)?;
    }
    Ok(())
}

/// One variational step on rows `(x, y)`: returns the loss before the update.
///
/// # Errors
/// A tensor error.
#[allow(clippy::too_many_arguments)]
pub fn step(
    bnn: &Bnn,
    opt: &mut AdamW,
    x: &Tensor,
    y: &Tensor,
    kl_scale: f64,
    temperature: f64,
    prior: Prior,
    rng: &mut Pcg64,
) -> Result<f32> {
    let draw = bnn.sample(temperature, rng)?;
    let out = forward(x, &draw, &bnn.shape)?;
    let loss = (nll(&out, y, bnn.log_noise.as_ref())? + (bnn.kl(prior)? * kl_scale)?)?;
    opt.backward_step(&loss)?;
    Ok(loss.to_scalar::<f32>()?)
}

/// What training produced: the posterior, and the random stream to go on with.
#[derive(Clone, Debug)]
pub struct Fit {
    /// The trained variational posterior.
    pub posterior: Posterior,
    /// σ0 and λ as used.
    pub prior: Prior,
    /// The training curve.
    pub curve: Curve,
    /// The random stream after training (fine-tuning continues it).
    pub rng: Pcg64,
}

/// Trains the spike-and-slab network of `s` on `data`'s training rows.
///
/// # Errors
/// [`Error::Diverged`]; a tensor error.
pub fn fit(data: &Dataset, s: &Settings, progress: &Progress) -> Result<Fit> {
    let shape = s.shape(data);
    let prior = Prior {
        sigma0: s.sigma0,
        inclusion: s.inclusion,
    };
    let mut rng = Pcg64::seed_from_u64(s.seed);
    let regression = data.task == spikeslab_runtime::Task::Regression;
    let bnn = Bnn::new(shape, regression, &mut rng)?;
    // The step and the end of an epoch (which monitors it) both reach the parameters.
    let fused = std::cell::RefCell::new(Fused::new(&bnn, s.learning_rate)?);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let monitor = data
        .part(Part::Validation)
        .map_or(&data.train, |(rows, _)| rows);
    let n = data.train.len();
    let eval_every = (s.epochs / 50).max(1);
    let mut curve = Curve::default();
    let schedule = Schedule {
        epochs: s.epochs,
        batch: s.batch,
        lr: s.learning_rate,
    };
    run_epochs(
        n,
        schedule,
        &mut rng,
        |epoch, idx, rng| {
            let warm = if s.kl_warmup > 0 {
                (epoch as f64 / s.kl_warmup as f64).min(1.0)
            } else {
                1.0
            };
            data.train.gather(idx, &mut x, &mut y);
            fused
                .borrow_mut()
                .step(&x, &y, warm / n as f64, s.temperature, prior, rng)
        },
        |epoch, loss| {
            let (val, kept) = if epoch % eval_every == 0 || epoch == s.epochs {
                fused.borrow().store(&bnn)?;
                monitor_point(&bnn, data, monitor, prior, s.threshold)?
            } else {
                (f64::NAN, 0)
            };
            curve.epoch.push(epoch);
            curve.loss.push(loss);
            curve.validation.push(val);
            curve.kept_nodes.push(kept);
            progress.set(
                epoch,
                if val.is_finite() {
                    format!("loss {loss:.4} val {val:.4} nodes kept {kept}")
                } else {
                    format!("loss {loss:.4}")
                },
            );
            Ok(())
        },
    )?;
    fused.borrow().store(&bnn)?;
    Ok(Fit {
        posterior: bnn.posterior()?,
        prior,
        curve,
        rng,
    })
}

/// The median model's validation metric and the nodes at or above the threshold.
fn monitor_point(
    bnn: &Bnn,
    data: &Dataset,
    rows: &Rows,
    prior: Prior,
    threshold: f64,
) -> Result<(f64, usize)> {
    let m = median_metrics(bnn, data, rows)?;
    let pips = node_pips(&bnn.posterior()?, prior.inclusion);
    let kept = pips
        .iter()
        .flat_map(|p| &p.pip)
        .filter(|&&v| v >= threshold)
        .count();
    Ok((m.headline(), kept))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    /// A step whose loss is not finite stops training with the epoch and the learning rate,
    /// and the message says what to change.
    #[test]
    fn a_non_finite_loss_is_a_divergence() {
        let schedule = Schedule {
            epochs: 5,
            batch: 4,
            lr: 9.0,
        };
        let mut rng = Pcg64::seed_from_u64(1);
        let mut ends = 0;
        let result = run_epochs(
            10,
            schedule,
            &mut rng,
            |epoch, _, _| Ok(if epoch == 3 { f32::INFINITY } else { 1.0 }),
            |_, loss| {
                ends += 1;
                assert_eq!(loss, 1.0);
                Ok(())
            },
        );
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Diverged { epoch: 3, lr, .. } if lr == 9.0));
        assert_eq!(ends, 2, "the epochs before it ended normally");
        let text = err.to_string();
        assert!(
            text.contains("training diverged at epoch 3")
                && text.contains("lower `train.learning_rate`"),
            "{text}"
        );
    }
}

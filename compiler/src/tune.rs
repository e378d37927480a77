//! The fourth stage: point-estimate training of a [`Network`], Adam on
//! `mean NLL + Σ w²/(2σ0²n)` (the slab prior as L2), its learning rate annealed from the
//! schedule's rate to 0 by a half cosine over the epochs, each step fused
//! ([`crate::fused::Point`]). It fine-tunes the pruned network (MAP) and trains the dense
//! baseline; [`train_variational`] fits the kept network's Gaussian posterior. A point
//! network's noise `σ_ε` is then its validation rows' ([`held_out_noise`]).

use rand_pcg::Pcg64;
use spikeslab_runtime::Task;

use crate::Result;
use crate::dataset::{Dataset, Part};
use crate::evaluate::network_outputs;
use crate::fused::{Gaussian, Point};
use crate::network::{Network, Variance};
use crate::plan::Settings;
use crate::select::Selection;
use crate::spec::Finetune;
use crate::train::{Progress, Schedule, run_epochs};

/// The sd every weight and bias of [`train_variational`] starts from.
pub const INITIAL_SD: f64 = 0.0025;

/// Which weights train.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// Only the non-zero ones: pruned edges stay pruned.
    Edges,
    /// Every weight between the network's nodes.
    All,
}

impl Mask {
    /// 1 where a weight of `net` (flat in layer order) trains, 0 where it stays 0.
    fn of(self, net: &Network) -> Vec<f32> {
        net.layers
            .iter()
            .flat_map(|l| &l.weights)
            .map(|&v| f32::from(self == Self::All || v != 0.0))
            .collect()
    }
}

/// `net`'s weights and biases, each flat in layer order.
fn flat(net: &Network) -> (Vec<f32>, Vec<f32>) {
    let w = net.layers.iter().flat_map(|l| l.weights.iter().copied());
    let b = net.layers.iter().flat_map(|l| l.bias.iter().copied());
    (w.collect(), b.collect())
}

/// The flat weights `w` and biases `b` cut into `net`'s layers.
fn per_layer<'a>(
    net: &'a Network,
    w: &'a [f32],
    b: &'a [f32],
) -> impl Iterator<Item = (&'a [f32], &'a [f32])> + 'a {
    let (mut wo, mut bo) = (0, 0);
    net.layers.iter().map(move |l| {
        let (nw, nb) = (l.weights.len(), l.bias.len());
        let cut = (&w[wo..wo + nw], &b[bo..bo + nb]);
        wo += nw;
        bo += nb;
        cut
    })
}

/// `net` with the flat weights `w` and biases `b` put back into its layers.
fn unflatten(net: &Network, w: &[f32], b: &[f32]) -> Network {
    let mut out = net.clone();
    for (l, (w, b)) in out.layers.iter_mut().zip(per_layer(net, w, b)) {
        l.weights = w.to_vec();
        l.bias = b.to_vec();
    }
    out
}

/// The epoch loop of [`train_point`] and [`train_variational`]: batches of the training rows
/// (`net`'s input columns), each passed to `step(x, y, lr, rng)` at the [`annealed`] rate.
fn train_on(
    net: &Network,
    data: &Dataset,
    s: Schedule,
    rng: &mut Pcg64,
    progress: &Progress,
    mut step: impl FnMut(&[f32], &[f32], f64, &mut Pcg64) -> Result<f32>,
) -> Result<()> {
    let rows = data.train.select(&columns_of(net, data));
    let (mut x, mut y) = (Vec::new(), Vec::new());
    run_epochs(
        rows.len(),
        s,
        rng,
        |epoch, idx, rng| {
            rows.gather(idx, &mut x, &mut y);
            step(&x, &y, annealed(s.lr, epoch, s.epochs), rng)
        },
        |epoch, loss| {
            progress.set(epoch, format!("loss {loss:.4}"));
            Ok(())
        },
    )
}

/// The trainable `log σ_ε` of a regression network, from its noise; `None` for a classifier.
fn log_noise_of(net: &Network) -> Option<f32> {
    net.noise
        .filter(|_| net.task == Task::Regression)
        .map(f32::ln)
}

/// The learning rate of epoch `epoch` (from 1) of `epochs`: `lr · (1 + cos(π (epoch − 1) /
/// epochs)) / 2`, from `lr` down towards 0.
pub fn annealed(lr: f64, epoch: usize, epochs: usize) -> f64 {
    let t = (epoch.saturating_sub(1)) as f64 / epochs.max(1) as f64;
    lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
}

/// Trains `net` on `data`'s training rows (its inputs' columns) for `s`, with L2 weight
/// `1/(2σ0²n)` and the learning rate [`annealed`]; the random stream `rng` shuffles the rows.
///
/// # Errors
/// [`crate::Error::Diverged`] for a non-finite loss; a tensor error.
pub fn train_point(
    net: &Network,
    data: &Dataset,
    mask: Mask,
    s: Schedule,
    sigma0: f64,
    rng: &mut Pcg64,
    progress: &Progress,
) -> Result<Network> {
    let (weights, bias) = flat(net);
    let mut point = Point::new(
        net.shape(),
        (weights, mask.of(net)),
        bias,
        log_noise_of(net),
        s.lr,
    );
    let l2 = 1.0 / (2.0 * sigma0 * sigma0 * data.train.len() as f64);
    train_on(net, data, s, rng, progress, |x, y, lr, _| {
        point.step(x, y, l2, lr)
    })?;
    let mut out = unflatten(net, &point.used(), &point.bias);
    out.noise = point.log_noise.map(f32::exp);
    Ok(out)
}

/// A mean-field Gaussian posterior over `net`'s weights (those `mask` trains; the others stay
/// exactly 0) and biases under the slab prior `N(0, σ0²)`: Adam on
/// `mean NLL + KL(q ‖ prior)/n`, one draw `w = μ + softplus(ρ)·ε` per step shared by the batch
/// (method §2's estimator without the gate), from `μ` = `net`'s weights and `softplus(ρ)` =
/// [`INITIAL_SD`], the learning rate [`annealed`], each step fused ([`Gaussian`]). Returns the
/// means as the weights and `s²` as their variances; regression learns `σ_ε` too.
///
/// # Errors
/// [`crate::Error::Diverged`] for a non-finite loss; a tensor error.
pub fn train_variational(
    net: &Network,
    data: &Dataset,
    mask: Mask,
    s: Schedule,
    sigma0: f64,
    rng: &mut Pcg64,
    progress: &Progress,
) -> Result<Network> {
    let (mu, bias_mu) = flat(net);
    let mut gaussian = Gaussian::new(
        net.shape(),
        (mu, mask.of(net)),
        bias_mu,
        log_noise_of(net),
        INITIAL_SD,
        s.lr,
    );
    let n = data.train.len() as f64;
    train_on(net, data, s, rng, progress, |x, y, lr, rng| {
        gaussian.step(x, y, (1.0 / n, sigma0), lr, rng)
    })?;
    let ([w_mean, w_sd], [b_mean, b_sd]) = gaussian.moments();
    let mut out = unflatten(net, &w_mean, &b_mean);
    let sq = |v: &[f32]| -> Vec<f32> { v.iter().map(|x| x * x).collect() };
    let (w_var, b_var) = (sq(&w_sd), sq(&b_sd));
    for (l, (w, b)) in out.layers.iter_mut().zip(per_layer(net, &w_var, &b_var)) {
        l.variance = Some(Variance {
            weights: w.to_vec(),
            bias: b.to_vec(),
            table: None,
        });
    }
    out.noise = gaussian.log_noise.map(f32::exp);
    Ok(out)
}

/// The dataset columns of `net`'s inputs.
pub fn columns_of(net: &Network, data: &Dataset) -> Vec<usize> {
    net.inputs
        .iter()
        .map(|raw| {
            data.columns
                .iter()
                .position(|c| c == raw)
                .unwrap_or_else(|| unreachable!("a network on this dataset reads its columns"))
        })
        .collect()
}

/// Fine-tunes the selection's network as `s` says, continuing the random stream `rng`.
///
/// # Errors
/// As [`train_point`].
pub fn finetune(
    data: &Dataset,
    selection: &Selection,
    s: &Settings,
    rng: &mut Pcg64,
    progress: &Progress,
) -> Result<Network> {
    let mask = match s.finetune {
        Finetune::None => return Ok(selection.network.clone()),
        Finetune::Edges => Mask::Edges,
        Finetune::Nodes => Mask::All,
    };
    if s.finetune_epochs == 0 {
        return Ok(selection.network.clone());
    }
    let schedule = Schedule {
        epochs: s.finetune_epochs,
        batch: s.batch,
        lr: s.learning_rate,
    };
    train_point(
        &selection.network,
        data,
        mask,
        schedule,
        s.sigma0,
        rng,
        progress,
    )
}

/// `net` with the regression noise `σ_ε` of its validation rows: `σ_ε² = mean (ŷ − y)²` on
/// the standardised scale, the value that maximises their Gaussian likelihood given `net`'s
/// predictions. The `σ_ε` trained with the weights fits the training rows' residuals, which
/// are smaller than new rows' wherever the network fits its training rows closely, so it is
/// overconfident there; the held-out rows' is not. Unchanged for a classifier or without
/// validation rows; at least [`MIN_NOISE`].
///
/// # Errors
/// A tensor error.
pub fn held_out_noise(mut net: Network, data: &Dataset) -> Result<Network> {
    let Some((rows, _)) = data.part(Part::Validation) else {
        return Ok(net);
    };
    if net.task != Task::Regression {
        return Ok(net);
    }
    let out = network_outputs(&net, data, rows)?;
    let sq: f64 = out
        .iter()
        .zip(&rows.y)
        .map(|(&p, &y)| (f64::from(p) - f64::from(y)).powi(2))
        .sum();
    let sd = (sq / out.len().max(1) as f64).sqrt();
    net.noise = Some((sd as f32).max(MIN_NOISE));
    Ok(net)
}

/// The least `σ_ε` [`held_out_noise`] gives, on the standardised scale: a network that fits
/// its validation rows exactly still gets a density, not a point mass.
pub const MIN_NOISE: f32 = 1e-6;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{test_data as data, untrained_relu as relu_net};

    #[test]
    fn the_noise_is_the_validation_rows_rms_residual() {
        let d = data("[data]\nsimulate = \"e3\"\nfeatures = 5\nrows = 300\n");
        let mut net = relu_net(&d);
        net.noise = Some(0.01);
        let (rows, _) = d.part(Part::Validation).unwrap();
        let out = network_outputs(&net, &d, rows).unwrap();
        let mse = out
            .iter()
            .zip(&rows.y)
            .map(|(&p, &y)| (f64::from(p) - f64::from(y)).powi(2))
            .sum::<f64>()
            / rows.len() as f64;
        let tuned = held_out_noise(net.clone(), &d).unwrap();
        let sd = f64::from(tuned.noise.unwrap());
        assert!(
            (sd - mse.sqrt()).abs() < 1e-6 * mse.sqrt(),
            "{sd} against {}",
            mse.sqrt()
        );
        // Only the noise changes.
        assert_eq!(tuned.layers, net.layers);
        // The validation log-likelihood is the best any noise gives: −½ ln(2π·MSE) − ½.
        let ll = |n: &Network| {
            crate::evaluate::evaluate(n, &d, Part::Validation)
                .unwrap()
                .unwrap()
                .log_likelihood()
        };
        for factor in [0.9, 1.1] {
            let mut other = tuned.clone();
            other.noise = Some(tuned.noise.unwrap() * factor);
            assert!(ll(&other) < ll(&tuned));
        }
    }

    #[test]
    fn a_classifier_or_no_validation_rows_keep_the_noise() {
        let d = data("[data]\nsimulate = \"e3\"\nfeatures = 5\nrows = 300\nvalidation = 0\n");
        let mut net = relu_net(&d);
        net.noise = Some(0.25);
        assert_eq!(held_out_noise(net.clone(), &d).unwrap().noise, Some(0.25));
        let d = data("[data]\nsimulate = \"e3\"\nfeatures = 5\nrows = 300\n");
        net.task = Task::Classification;
        assert_eq!(held_out_noise(net, &d).unwrap().noise, Some(0.25));
    }

    #[test]
    fn the_rate_falls_from_lr_by_a_half_cosine() {
        assert_eq!(annealed(0.01, 1, 100), 0.01);
        assert!((annealed(0.01, 51, 100) - 0.005).abs() < 1e-12);
        let last = annealed(0.01, 100, 100);
        assert!(last > 0.0 && last < 0.01 * 1e-3, "{last}");
        let rates: Vec<f64> = (1..=100).map(|e| annealed(0.01, e, 100)).collect();
        assert!(rates.windows(2).all(|w| w[1] < w[0]));
    }
}

//! The fourth stage: point-estimate training of a [`Network`], Adam on
//! `mean NLL + Σ w²/(2σ0²n)` (the slab prior as L2), its learning rate annealed from the
//! schedule's rate to 0 by a half cosine over the epochs. It fine-tunes the pruned network
//! (MAP) and trains the dense baseline.

use candle::{Device, Tensor, Var};
use candle_nn::Optimizer as _;
use rand_pcg::Pcg64;
use spikeslab_runtime::Task;

use crate::Result;
use crate::bnn::{gaussian_kl, nll, normal, softplus};
use crate::dataset::Dataset;
use crate::network::{Network, Variance, forward};
use crate::plan::Settings;
use crate::select::Selection;
use crate::spec::Finetune;
use crate::train::{Progress, Schedule, adam, run_epochs};

/// Which weights train.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// Only the non-zero ones: pruned edges stay pruned.
    Edges,
    /// Every weight between the network's nodes.
    All,
}

impl Mask {
    /// 1 where a weight of `weights` (row-major, `shape`) trains, 0 where it stays 0.
    fn of(self, weights: &[f32], shape: (usize, usize)) -> Result<Tensor> {
        let m: Vec<f32> = weights
            .iter()
            .map(|&v| f32::from(self == Self::All || v != 0.0))
            .collect();
        Ok(Tensor::from_vec(m, shape, &Device::Cpu)?)
    }
}

/// The trainable `log σ_ε` of a regression network, from its noise; `None` for a classifier.
fn log_noise_of(net: &Network) -> Result<Option<Var>> {
    Ok(net
        .noise
        .filter(|_| net.task == Task::Regression)
        .map(|s| Var::from_vec(vec![s.ln()], 1, &Device::Cpu))
        .transpose()?)
}

/// `σ_ε` from its trained logarithm.
fn noise_of(log_noise: Option<&Var>) -> Result<Option<f32>> {
    log_noise
        .map(|v| Ok(v.exp()?.to_vec1::<f32>()?[0]))
        .transpose()
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
    let dev = &Device::Cpu;
    let shape = net.shape();
    let mut layers = Vec::new();
    let mut masks = Vec::new();
    for ((o, i), l) in shape.layers().zip(&net.layers) {
        layers.push((
            Var::from_slice(&l.weights, (o, i), dev)?,
            Var::from_slice(&l.bias, o, dev)?,
        ));
        masks.push(mask.of(&l.weights, (o, i))?);
    }
    let log_noise = log_noise_of(net)?;
    let draw = || -> Result<Vec<(Tensor, Tensor)>> {
        layers
            .iter()
            .zip(&masks)
            .map(|((w, b), m)| Ok((w.as_tensor().mul(m)?, b.as_tensor().clone())))
            .collect()
    };
    let mut vars: Vec<Var> = layers
        .iter()
        .flat_map(|(w, b)| [w.clone(), b.clone()])
        .collect();
    vars.extend(log_noise.clone());
    let mut opt = adam(vars, s.lr)?;
    let columns = columns_of(net, data);
    let rows = data.train.select(&columns);
    let l2 = 1.0 / (2.0 * sigma0 * sigma0 * rows.len() as f64);
    run_epochs(
        rows.len(),
        s,
        rng,
        |epoch, idx, _| {
            opt.set_learning_rate(annealed(s.lr, epoch, s.epochs));
            let (x, y) = rows.batch(idx)?;
            let draw = draw()?;
            let h = forward(&x, &draw, &shape)?;
            let mut penalty = Tensor::zeros((), candle::DType::F32, dev)?;
            for (w, _) in &draw {
                penalty = (penalty + w.sqr()?.sum_all()?)?;
            }
            let loss = (nll(&h, &y, log_noise.as_ref())? + (penalty * l2)?)?;
            opt.backward_step(&loss)?;
            Ok(loss.to_scalar::<f32>()?)
        },
        |epoch, loss| {
            progress.set(epoch, format!("loss {loss:.4}"));
            Ok(())
        },
    )?;
    let mut out = net.clone();
    for (l, (w, b)) in draw()?.iter().enumerate() {
        out.layers[l].weights = w.flatten_all()?.to_vec1::<f32>()?;
        out.layers[l].bias = b.to_vec1::<f32>()?;
    }
    out.noise = noise_of(log_noise.as_ref())?;
    Ok(out)
}

/// A mean-field Gaussian posterior over `net`'s weights (those `mask` trains; the others stay
/// exactly 0) and biases under the slab prior `N(0, σ0²)`: Adam on
/// `mean NLL + KL(q ‖ prior)/n`, one draw `w = μ + softplus(ρ)·ε` per step shared by the batch
/// (method §2's estimator without the gate), from `μ` = `net`'s weights and `softplus(ρ)` =
/// 0.0025, the learning rate [`annealed`]. Returns the means as the weights and `s²` as
/// their variances; regression learns `σ_ε` too.
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
    let dev = &Device::Cpu;
    let shape = net.shape();
    let rho0 = (0.0025f64.exp_m1()).ln() as f32;
    let mut params = Vec::new();
    let mut masks = Vec::new();
    for ((o, i), l) in shape.layers().zip(&net.layers) {
        params.push([
            Var::from_slice(&l.weights, (o, i), dev)?,
            Var::from_vec(vec![rho0; o * i], (o, i), dev)?,
            Var::from_slice(&l.bias, o, dev)?,
            Var::from_vec(vec![rho0; o], o, dev)?,
        ]);
        masks.push(mask.of(&l.weights, (o, i))?);
    }
    let log_noise = log_noise_of(net)?;
    let mut vars: Vec<Var> = params.iter().flatten().cloned().collect();
    vars.extend(log_noise.clone());
    let mut opt = adam(vars, s.lr)?;
    let columns = columns_of(net, data);
    let rows = data.train.select(&columns);
    let n = rows.len() as f64;
    let kl = || -> Result<Tensor> {
        let mut total = Tensor::zeros((), candle::DType::F32, dev)?;
        for ([mu, rho, bmu, brho], m) in params.iter().zip(&masks) {
            let w = gaussian_kl(&softplus(rho)?, mu.as_tensor(), sigma0)?.mul(m)?;
            let b = gaussian_kl(&softplus(brho)?, bmu.as_tensor(), sigma0)?;
            total = (total + w.sum_all()? + b.sum_all()?)?;
        }
        Ok(total)
    };
    run_epochs(
        rows.len(),
        s,
        rng,
        |epoch, idx, rng| {
            opt.set_learning_rate(annealed(s.lr, epoch, s.epochs));
            let (x, y) = rows.batch(idx)?;
            let mut draw = Vec::new();
            for ([mu, rho, bmu, brho], m) in params.iter().zip(&masks) {
                let (o, i) = mu.as_tensor().dims2()?;
                let eps = Tensor::from_vec(normal(o * i, rng), (o, i), dev)?;
                let eps_b = Tensor::from_vec(normal(o, rng), o, dev)?;
                let w = (mu.as_tensor() + softplus(rho)?.mul(&eps)?)?.mul(m)?;
                let b = (bmu.as_tensor() + softplus(brho)?.mul(&eps_b)?)?;
                draw.push((w, b));
            }
            let h = forward(&x, &draw, &shape)?;
            let loss = (nll(&h, &y, log_noise.as_ref())? + (kl()? / n)?)?;
            opt.backward_step(&loss)?;
            Ok(loss.to_scalar::<f32>()?)
        },
        |epoch, loss| {
            progress.set(epoch, format!("loss {loss:.4}"));
            Ok(())
        },
    )?;
    let mut out = net.clone();
    for (l, ([mu, rho, bmu, brho], m)) in params.iter().zip(&masks).enumerate() {
        let host = |t: &Tensor| -> Result<Vec<f32>> { Ok(t.flatten_all()?.to_vec1::<f32>()?) };
        let sd = softplus(rho)?.mul(m)?;
        out.layers[l].weights = host(&mu.as_tensor().mul(m)?)?;
        out.layers[l].bias = host(bmu.as_tensor())?;
        out.layers[l].variance = Some(Variance {
            weights: host(&sd.sqr()?)?,
            bias: host(&softplus(brho)?.sqr()?)?,
        });
    }
    out.noise = noise_of(log_noise.as_ref())?;
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

#[cfg(test)]
mod tests {
    use super::annealed;

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

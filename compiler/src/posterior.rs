//! The posterior of the kept network (method §7): where its weight variances come from, its
//! predictive distribution by moment propagation (the reference that the runtime's
//! `predict_dist` is verified against) and by Monte Carlo over the same posterior, and the
//! metrics of both.
//!
//! Three posteriors of the kept weights are built, each tempered on the validation rows
//! ([`calibrate`]), and compared there:
//! - *variational*: the kept structure fine-tuned as a mean-field Gaussian under the slab
//!   prior ([`crate::tune::train_variational`]), starting from the MAP fine-tuned weights;
//! - *slab*: the spike-and-slab fit's own moments of the kept edges, with the inclusion of a
//!   kept edge taken as 1: mean μ and variance s² (the un-fine-tuned kept network);
//! - *map*: the MAP fine-tuned weights (the point model) as means, with the variational
//!   variances ([`centred_at`]): a Gaussian around the point estimate, as a Laplace
//!   approximation is, for data sets where the variational means fit worse.

use candle::Device;
use rand_pcg::Pcg64;
use serde::Serialize;
use spikeslab_runtime::{Activation, Task};

use crate::Result;
use crate::bnn::normal;
use crate::dataset::{Dataset, Part, Rows};
use crate::evaluate::{log_mean_exp, outputs, split_host};
use crate::metrics::gaussian_log_density;
use crate::network::{Network, Variance};
use crate::select::Selection;
use crate::train::Fit;
use crate::tune::columns_of;

/// `√(π/8)`: `sigmoid(x) ≈ Φ(x·√(π/8))`.
const PROBIT: f64 = 0.626_657_068_657_750_1;

/// `Φ(z)`, from libm's `erfc`.
fn cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// `ϕ(z)`.
fn pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Mean and variance of `act(a)` for `a ~ N(m, v)`: relu exactly, sigmoid and tanh by the
/// probit approximation the runtime uses (`runtime/FORMAT.md`, "Predictive distribution").
pub fn activation_moments(act: Activation, m: f64, v: f64) -> (f64, f64) {
    let sigmoid = |m: f64, v: f64| {
        let k = 1.0 / (1.0 + PROBIT * PROBIT * v).sqrt();
        let p = 1.0 / (1.0 + (-k * m).exp());
        (p, (p * (1.0 - p)).powi(2) * k * k * v)
    };
    match act {
        Activation::Identity => (m, v),
        Activation::Relu if v <= 0.0 => (m.max(0.0), 0.0),
        Activation::Relu => {
            let s = v.sqrt();
            let z = m / s;
            let (p, c) = (pdf(z), cdf(z));
            let mean = m * c + s * p;
            let second = (m * m + v) * c + m * s * p;
            (mean, (second - mean * mean).max(0.0))
        }
        Activation::Sigmoid => sigmoid(m, v),
        Activation::Tanh => {
            let (p, var) = sigmoid(2.0 * m, 4.0 * v);
            (2.0 * p - 1.0, 4.0 * var)
        }
    }
}

/// Per output, the mean and variance of the last layer (standardised regression outputs,
/// or class logits) for one standardised input row `z`, in f64: diagonal moment
/// propagation through `net`'s posterior (a layer without variances counts as exact).
pub fn moments(net: &Network, z: &[f32]) -> Vec<(f64, f64)> {
    let mut h: Vec<(f64, f64)> = z.iter().map(|&v| (f64::from(v), 0.0)).collect();
    for l in &net.layers {
        let n = h.len();
        h = (0..l.width())
            .map(|o| {
                let row = &l.weights[o * n..(o + 1) * n];
                let (mut m, mut v) = (f64::from(l.bias[o]), 0.0);
                if let Some(var) = &l.variance {
                    v += f64::from(var.bias[o]);
                }
                for (i, (&w, &(a, c))) in row.iter().zip(&h).enumerate() {
                    let w = f64::from(w);
                    m += w * a;
                    v += w * w * c;
                    if let Some(var) = &l.variance {
                        v += f64::from(var.weights[o * n + i]) * (a * a + c);
                    }
                }
                activation_moments(l.activation, m, v)
            })
            .collect();
    }
    h
}

/// Class probabilities from logit moments: the softmax of `m_k / √(1 + π·v_k/8)`.
pub fn probit_softmax(logits: &[(f64, f64)]) -> Vec<f64> {
    let z: Vec<f64> = logits
        .iter()
        .map(|&(m, v)| m / (1.0 + PROBIT * PROBIT * v).sqrt())
        .collect();
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// How well a predictive distribution describes held-out rows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Predictive {
    /// Mean log-likelihood per row (regression: of the Gaussian on the target's scale;
    /// classification: of the true class).
    pub log_likelihood: f64,
    /// Regression: the fraction of rows inside the central 50% predictive interval.
    pub coverage_50: Option<f64>,
    /// Regression: the fraction inside the central 90% interval.
    pub coverage_90: Option<f64>,
    /// Regression: the mean predictive sd on the target's scale, and of its epistemic part.
    pub mean_sd: Option<(f64, f64)>,
    /// Classification: the fraction of rows whose most probable class (by the predictive
    /// probabilities) is right.
    pub accuracy: Option<f64>,
    /// Rows.
    pub rows: usize,
}

/// `Φ⁻¹(0.75)`: half-width of the central 50% interval in sds.
pub const Z50: f64 = 0.674_489_750_196_081_7;
/// `Φ⁻¹(0.95)`: half-width of the central 90% interval in sds.
pub const Z90: f64 = 1.644_853_626_951_472_2;

/// The moment-propagated predictive distribution of `net` on `rows` (standardised, `net`'s
/// columns selected) scored against their targets.
pub fn predictive(net: &Network, data: &Dataset, rows: &Rows) -> Predictive {
    let (mu, s) = (f64::from(data.target.0), f64::from(data.target.1));
    let noise = f64::from(net.noise.unwrap_or(0.0));
    let (mut ll, mut in50, mut in90, mut sd, mut epi) = (0.0, 0, 0, 0.0, 0.0);
    let mut right = 0usize;
    for (x, &y) in rows.x.chunks(rows.d.max(1)).zip(&rows.y) {
        let out = moments(net, x);
        if data.task == Task::Regression {
            let (m, v) = out[0];
            let (mean, var) = (m * s + mu, (v + noise * noise) * s * s);
            let y = f64::from(y) * s + mu;
            ll += gaussian_log_density(y, mean, var.sqrt());
            let d = (y - mean).abs() / var.sqrt();
            in50 += usize::from(d <= Z50);
            in90 += usize::from(d <= Z90);
            sd += var.sqrt();
            epi += v.sqrt() * s;
        } else {
            let p = probit_softmax(&out);
            ll += p[y as usize].max(f64::MIN_POSITIVE).ln();
            let best = p
                .iter()
                .enumerate()
                .fold(0, |b, (i, &q)| if q > p[b] { i } else { b });
            right += usize::from(best == y as usize);
        }
    }
    let n = rows.len().max(1) as f64;
    let regression = data.task == Task::Regression;
    Predictive {
        log_likelihood: ll / n,
        coverage_50: regression.then(|| in50 as f64 / n),
        coverage_90: regression.then(|| in90 as f64 / n),
        mean_sd: regression.then(|| (sd / n, epi / n)),
        accuracy: (!regression).then(|| right as f64 / n),
        rows: rows.len(),
    }
}

/// A row's largest epistemic sd over its outputs, in the units `predict_dist` reports it:
/// the target's for a regression (`√v·s`), the logits' for a classifier. `x` is the row's
/// standardised read inputs.
pub fn epistemic_sd(net: &Network, data: &Dataset, x: &[f32]) -> f64 {
    largest_epistemic_sd(&moments(net, x), data)
}

/// [`epistemic_sd`] from a row's output moments `out` ([`moments`]).
pub fn largest_epistemic_sd(out: &[(f64, f64)], data: &Dataset) -> f64 {
    let scale = match data.task {
        Task::Regression => f64::from(data.target.1),
        Task::Classification => 1.0,
    };
    out.iter()
        .map(|&(_, v)| v.max(0.0).sqrt() * scale)
        .fold(0.0, f64::max)
}

/// Quantile of the validation rows' [`epistemic_sd`] that [`epistemic_limit`] takes.
pub const EPISTEMIC_QUANTILE: f64 = 0.99;

/// The epistemic sd above which `predict_dist`'s input is unlike the training data: the
/// [`EPISTEMIC_QUANTILE`] (nearest rank) of the validation rows' [`epistemic_sd`], so about 1
/// in 100 rows like them lie above it. The blob stores it as the metric
/// [`spikeslab_runtime::EPISTEMIC_LIMIT`]. `None` without validation rows.
pub fn epistemic_limit(net: &Network, data: &Dataset) -> Option<f64> {
    let (rows, _) = data.part(Part::Validation)?;
    let rows = rows.select(&columns_of(net, data));
    let mut sds: Vec<f64> = rows
        .x
        .chunks(rows.d.max(1))
        .take(rows.len())
        .map(|x| epistemic_sd(net, data, x))
        .collect();
    sds.sort_by(f64::total_cmp);
    let rank = (EPISTEMIC_QUANTILE * sds.len() as f64).ceil() as usize;
    sds.get(rank.max(1) - 1).copied()
}

/// [`predictive`] on `part` of `data`; `None` when there are no such rows.
pub fn predictive_on(net: &Network, data: &Dataset, part: Part) -> Option<Predictive> {
    let (rows, _) = data.part(part)?;
    Some(predictive(net, data, &rows.select(&columns_of(net, data))))
}

/// The test log-likelihood of `net`'s posterior by Monte Carlo: `draws` draws of every
/// weight and bias from its Gaussian, each applied to every row, the predictive density the
/// mean over draws (regression: of the Gaussians with the noise; classification: of the
/// softmax probabilities). `None` when there are no such rows.
///
/// # Errors
/// A tensor error.
pub fn monte_carlo_ll(
    net: &Network,
    data: &Dataset,
    part: Part,
    draws: usize,
    rng: &mut Pcg64,
) -> Result<Option<f64>> {
    let Some((rows, _)) = data.part(part) else {
        return Ok(None);
    };
    let rows = rows.select(&columns_of(net, data));
    let x = rows.x_tensor()?;
    let shape = net.shape();
    let classify = data.task == Task::Classification;
    let n = rows.len();
    let k = data.outputs();
    let s = f64::from(data.target.1);
    let noise = f64::from(net.noise.unwrap_or(1.0));
    let mut log_density = vec![Vec::with_capacity(draws); n];
    let mut prob = vec![0f64; n];
    for _ in 0..draws {
        let (mut w, mut b) = (Vec::new(), Vec::new());
        for l in &net.layers {
            let ew = normal(l.weights.len(), rng);
            let eb = normal(l.bias.len(), rng);
            let zero = Variance {
                weights: vec![0.0; l.weights.len()],
                bias: vec![0.0; l.bias.len()],
                table: None,
            };
            let v = l.variance.as_ref().unwrap_or(&zero);
            w.extend(
                l.weights
                    .iter()
                    .zip(&v.weights)
                    .zip(ew)
                    .map(|((m, v), e)| m + v.sqrt() * e),
            );
            b.extend(
                l.bias
                    .iter()
                    .zip(&v.bias)
                    .zip(eb)
                    .map(|((m, v), e)| m + v.sqrt() * e),
            );
        }
        let draw = split_host(&shape, &w, &b, &Device::Cpu)?;
        let out = outputs(&x, &draw, &shape, classify)?;
        for (i, &y) in rows.y.iter().enumerate() {
            if classify {
                prob[i] += f64::from(out[i * k + y as usize]);
            } else {
                log_density[i].push(gaussian_log_density(f64::from(y), f64::from(out[i]), noise));
            }
        }
    }
    let total: f64 = if classify {
        prob.iter()
            .map(|p| (p / draws as f64).max(f64::MIN_POSITIVE).ln())
            .sum()
    } else {
        log_density.iter().map(|d| log_mean_exp(d) - s.ln()).sum()
    };
    Ok(Some(total / n.max(1) as f64))
}

/// The names of the posteriors the compiler tries, in its order (the report's
/// `UncertaintyReport::posterior` is one of them): variational, slab, MAP-centred.
pub const POSTERIORS: [&str; 3] = ["variational", "slab", "map"];

/// `centre`'s weights and biases as means with `spread`'s variances (and `centre`'s noise);
/// `None` when their shapes differ.
pub fn centred_at(centre: &Network, spread: &Network) -> Option<Network> {
    let mut net = centre.clone();
    if net.layers.len() != spread.layers.len() {
        return None;
    }
    for (l, s) in net.layers.iter_mut().zip(&spread.layers) {
        let v = s.variance.as_ref()?;
        if v.weights.len() != l.weights.len() || v.bias.len() != l.bias.len() {
            return None;
        }
        l.variance = Some(v.clone());
    }
    Some(net)
}

/// Largest gap, in nats per validation row, between the moment-propagated log-likelihood and
/// Monte Carlo's over the same posterior before the report warns: with one hidden layer the
/// two agree to about 0.002; deeper, the diagonal form ignores correlations between nodes.
pub const MOMENT_GAP_WARNING: f64 = 0.05;

/// The warning for a moment-propagated validation log-likelihood `moments` that is further
/// than [`MOMENT_GAP_WARNING`] from Monte Carlo's `monte_carlo`.
pub fn moment_gap_warning(moments: f64, monte_carlo: f64) -> Option<String> {
    let gap = (moments - monte_carlo).abs();
    (gap > MOMENT_GAP_WARNING).then(|| {
        format!(
            "predict_dist's one-pass distribution is {gap:.3} nats per row from Monte Carlo over the same posterior on the validation rows ({moments:.3} against {monte_carlo:.3}; tolerance {MOMENT_GAP_WARNING}): its sds are rough for this network (deep layers: the diagonal form ignores correlations between nodes)"
        )
    })
}

/// Factors tried on every weight's and bias's variance by [`calibrate`]: `2^k`, `k` in −4..=4.
pub const VARIANCE_SCALES: [f64; 9] = [0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
/// Factors tried on the regression noise `σ_ε` by [`calibrate`].
pub const NOISE_SCALES: [f64; 5] = [0.8, 0.9, 1.0, 1.1, 1.25];

/// The tempering of a posterior chosen on the validation rows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Calibration {
    /// Factor on every weight's and bias's variance.
    pub variance_scale: f64,
    /// Factor on the noise `σ_ε` (regression; 1 for classification).
    pub noise_scale: f64,
    /// Validation log-likelihood before.
    pub validation_before: f64,
    /// Validation log-likelihood after.
    pub validation_after: f64,
}

/// `net` with every variance times `variance` and the noise times `noise`.
pub fn tempered(net: &Network, variance: f64, noise: f64) -> Network {
    let mut net = net.clone();
    for l in &mut net.layers {
        if let Some(v) = &mut l.variance {
            let table = v.table.iter_mut().flatten();
            for x in v.weights.iter_mut().chain(v.bias.iter_mut()).chain(table) {
                *x = (f64::from(*x) * variance) as f32;
            }
        }
    }
    net.noise = net.noise.map(|s| (f64::from(s) * noise) as f32);
    net
}

/// Whether `n` kept weights' variances take fewer bytes as 4-bit codes (a table of
/// [`spikeslab_runtime::TABLE4`] f32 and a word per 8 codes) than as an f32 each.
pub const fn codes_pay(n: usize) -> bool {
    4 * n > 4 * spikeslab_runtime::TABLE4 + 4 * n.div_ceil(8)
}

/// The fewest kept weights whose variances [`coded`] stores as 4-bit codes ([`codes_pay`]).
pub const CODED_FROM: usize = {
    let mut n = 0;
    while !codes_pay(n) {
        n += 1;
    }
    n
};

/// `net` with each layer's weight variances as 4-bit codes (`table4`) where that is smaller
/// than an f32 each (at least [`CODED_FROM`] kept weights): every variance replaced by its
/// entry of the layer's table ([`crate::quantise::table4`]: the positive ones clustered in
/// the log domain, 0 exact), the table kept beside. What the moments of the result are is
/// what the blob's `predict_dist` computes.
pub fn coded(net: &Network) -> Network {
    let mut net = net.clone();
    for l in &mut net.layers {
        if !codes_pay(l.edges()) {
            continue;
        }
        if let Some(v) = &mut l.variance {
            let (table, codes) = crate::quantise::table4(&v.weights);
            v.weights = codes.iter().map(|&c| table[usize::from(c)]).collect();
            v.table = Some(table);
        }
    }
    net
}

/// The tempering of `net`'s posterior with the best moment-propagated validation
/// log-likelihood over [`VARIANCE_SCALES`] × [`NOISE_SCALES`] (the variational and slab
/// posteriors are both approximations whose spread is off by a roughly constant factor; the
/// test rows are never looked at). Ties keep the smaller change. `None` without validation
/// rows.
pub fn calibrate(net: &Network, data: &Dataset) -> Option<(Network, Calibration)> {
    let (rows, _) = data.part(Part::Validation)?;
    let rows = rows.select(&columns_of(net, data));
    let noises: &[f64] = if net.noise.is_some() {
        &NOISE_SCALES
    } else {
        &[1.0]
    };
    let ll = |v: f64, s: f64| predictive(&tempered(net, v, s), data, &rows).log_likelihood;
    let before = ll(1.0, 1.0);
    let mut best = (1.0, 1.0, before);
    let change = |v: f64, s: f64| v.log2().abs() + (s.ln() / 1.1f64.ln()).abs();
    for &v in &VARIANCE_SCALES {
        for &s in noises {
            if (v, s) == (1.0, 1.0) {
                continue; // `before`
            }
            let l = ll(v, s);
            let better = l > best.2 || (l == best.2 && change(v, s) < change(best.0, best.1));
            if l.is_finite() && better {
                best = (v, s, l);
            }
        }
    }
    Some((
        tempered(net, best.0, best.1),
        Calibration {
            variance_scale: best.0,
            noise_scale: best.1,
            validation_before: before,
            validation_after: best.2,
        },
    ))
}

/// The kept network of `selection` with the spike-and-slab fit's variances of its kept
/// edges and biases (`s²`; the inclusion of a kept edge taken as 1, so the means are the
/// slab means the selection already holds). The constants of dropped nodes that pruning
/// folded into the biases count as exact.
pub fn slab_moments(fit: &Fit, selection: &Selection) -> Network {
    let post = &fit.posterior;
    let mut net = selection.network.clone();
    let (mut w_off, mut b_off) = (0, 0);
    for (l, (o, i)) in post.shape.layers().enumerate() {
        let (rows, cols) = (&selection.kept[l + 1], &selection.kept[l]);
        let layer = &mut net.layers[l];
        let mut weights = Vec::with_capacity(rows.len() * cols.len());
        for (r, &ro) in rows.iter().enumerate() {
            for (c, &ci) in cols.iter().enumerate() {
                let kept = layer.weights[r * cols.len() + c] != 0.0;
                let sd = post.s[w_off + ro * i + ci];
                weights.push(if kept { sd * sd } else { 0.0 });
            }
        }
        let bias = rows
            .iter()
            .map(|&ro| post.bias_s[b_off + ro].powi(2))
            .collect();
        layer.variance = Some(Variance {
            weights,
            bias,
            table: None,
        });
        w_off += o * i;
        b_off += o;
    }
    net
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Layer, fixture};

    #[test]
    fn relu_moments_are_the_closed_forms() {
        // a ~ N(0, 1): E[relu] = 1/√(2π), E[relu²] = 1/2.
        let (m, v) = activation_moments(Activation::Relu, 0.0, 1.0);
        let e = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        assert!((m - e).abs() < 1e-12 && (v - (0.5 - e * e)).abs() < 1e-12);
        assert_eq!(activation_moments(Activation::Relu, -1.0, 0.0), (0.0, 0.0));
        let (m, v) = activation_moments(Activation::Relu, 50.0, 1.0);
        assert!((m - 50.0).abs() < 1e-9 && (v - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_large_moment_gap_warns() {
        assert_eq!(moment_gap_warning(-2.50, -2.52), None);
        let w = moment_gap_warning(-2.50, -2.60).unwrap();
        assert!(w.contains("0.100 nats"), "{w}");
    }

    #[test]
    fn variances_are_coded_from_the_size_where_the_blob_shrinks() {
        use crate::blob::{Info, Packing, encode};
        let net = |h: usize| {
            let layer = |activation, n: usize, width: usize| Layer {
                activation,
                weights: (0..n * width).map(|k| 0.1 + k as f32 / 64.0).collect(),
                bias: vec![0.1; width],
                variance: Some(Variance {
                    weights: (0..n * width)
                        .map(|k| 0.01 + (k % 7) as f32 / 100.0)
                        .collect(),
                    bias: vec![0.01; width],
                    table: None,
                }),
            };
            let mut net = fixture();
            net.feature_names.truncate(1);
            net.inputs.truncate(1);
            net.input_mean.truncate(1);
            net.input_std.truncate(1);
            net.layers = vec![
                layer(Activation::Relu, 1, h),
                layer(Activation::Identity, h, 1),
            ];
            net
        };
        let bytes = |n: &Network| {
            encode(n, &Info::default(), Packing::Smaller)
                .unwrap()
                .as_bytes()
                .len()
        };
        // Both layers have `h` kept weights.
        let below = net(CODED_FROM - 1);
        assert_eq!(coded(&below), below);
        let at = net(CODED_FROM);
        let c = coded(&at);
        assert!(
            c.layers
                .iter()
                .all(|l| l.variance.as_ref().unwrap().table.is_some())
        );
        assert!(
            bytes(&c) < bytes(&at),
            "{} against {}",
            bytes(&c),
            bytes(&at)
        );
        // One weight fewer coded would not have saved a byte.
        assert!(!codes_pay(CODED_FROM - 1) && codes_pay(CODED_FROM));
    }

    #[test]
    fn tempering_scales_every_variance_and_the_noise() {
        let mut net = fixture();
        for l in &mut net.layers {
            l.variance = Some(Variance {
                weights: vec![0.5; l.weights.len()],
                bias: vec![0.25; l.bias.len()],
                table: None,
            });
        }
        let t = tempered(&net, 4.0, 1.1);
        for l in &t.layers {
            let v = l.variance.as_ref().unwrap();
            assert!(v.weights.iter().all(|&x| x == 2.0) && v.bias.iter().all(|&x| x == 1.0));
        }
        assert_eq!(t.noise, Some(1.1));
        // Larger variances, a larger predictive variance.
        let (small, large) = (
            moments(&net, &[1.0, 2.0, 3.0]),
            moments(&t, &[1.0, 2.0, 3.0]),
        );
        assert!(large[0].1 > small[0].1);
    }

    #[test]
    fn the_epistemic_limit_is_the_99th_percentile_of_the_validation_rows() {
        use crate::network::{test_data, untrained_relu};
        let data = test_data("[data]\nsimulate = \"e3\"\nfeatures = 5\nrows = 1000\n");
        let mut net = untrained_relu(&data);
        assert_eq!(epistemic_limit(&net, &data), Some(0.0), "no variances");
        for l in &mut net.layers {
            l.variance = Some(Variance {
                weights: vec![0.01; l.weights.len()],
                bias: vec![0.01; l.bias.len()],
                table: None,
            });
        }
        let limit = epistemic_limit(&net, &data).unwrap();
        let (rows, _) = data.part(Part::Validation).unwrap();
        let rows = rows.select(&columns_of(&net, &data));
        let sds: Vec<f64> = rows
            .x
            .chunks(rows.d)
            .map(|x| epistemic_sd(&net, &data, x))
            .collect();
        // Nearest rank: at least 99% of the rows at or below it, fewer than 99% below it.
        let n = sds.len() as f64;
        let at_most = sds.iter().filter(|&&v| v <= limit).count() as f64;
        let below = sds.iter().filter(|&&v| v < limit).count() as f64;
        assert!(
            at_most >= 0.99 * n && below < 0.99 * n,
            "{at_most} {below} of {n}"
        );
        // On the target's scale: √v of the standardised output times its sd.
        let x = &rows.x[..rows.d];
        let v = moments(&net, x)[0].1;
        assert!((epistemic_sd(&net, &data, x) - v.sqrt() * f64::from(data.target.1)).abs() < 1e-9);
        // Inputs far from the training data pass it.
        let far: Vec<f32> = x.iter().map(|v| v + 10.0).collect();
        assert!(epistemic_sd(&net, &data, &far) > limit);
        let none =
            test_data("[data]\nsimulate = \"e3\"\nfeatures = 5\nrows = 300\nvalidation = 0\n");
        assert_eq!(epistemic_limit(&net, &none), None);
    }

    #[test]
    fn zero_variances_give_the_point_network() {
        let mut net = fixture();
        for l in &mut net.layers {
            l.variance = Some(Variance {
                weights: vec![0.0; l.weights.len()],
                bias: vec![0.0; l.bias.len()],
                table: None,
            });
        }
        let z = [0.5f32, -1.0, 2.0];
        let out = moments(&net, &z);
        let h = [0.1 * 0.5 - 3.0, 0.1 + 0.1 * 0.5 - 3.0 + 2.0 * 2.0].map(|v: f64| v.max(0.0));
        let y = 0.2 + h[0] + 0.5 * h[1];
        assert!((out[0].0 - y).abs() < 1e-6 && out[0].1 == 0.0, "{out:?}");
    }
}

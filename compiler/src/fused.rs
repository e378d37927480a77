//! The variational step of method §2 written out by hand: sampling, forward pass, loss, the
//! gradient of every parameter and Adam, in one pass over flat host arrays, with matrix
//! products (`matrixmultiply`'s) as the only tensor operations; the point ([`Point`]) and Gaussian
//! ([`Gaussian`]) steps of fine-tuning and the posterior share its network pass and Adam.
//!
//! The estimator is [`crate::train::step`]'s on [`Bnn`], term for term: one draw of the
//! gate noise and of ε per weight per step, shared by the batch; the hard straight-through
//! gate (forward `1[ξ + L ≥ 0]`, backward the gradient of `soft = sigmoid((ξ + L)/τ)`); the
//! closed-form KL with log-sigmoid; Adam without weight decay (candle's `AdamW` update with
//! decay 0). Per weight, with `g = ∂NLL/∂w̃`, `c` the KL weight, `φ = sigmoid(ξ)`,
//! `s = softplus(ρ)`, `v = μ + s·ε`, `h` the hard gate and
//! `k = log σ0 − log s + (s² + μ²)/(2σ0²) − ½` (the slab's KL):
//!
//! ```text
//! ∂/∂μ = g·h + c·φ·μ/σ0²
//! ∂/∂ρ = (g·h·ε + c·φ·(s/σ0² − 1/s)) · sigmoid(ρ)
//! ∂/∂ξ = g·v·soft·(1 − soft)/τ + c·φ·(1 − φ)·(ξ − logit λ + k)
//! ```
//!
//! and for a bias (`b̃ = μ_b + s_b·ε_b`, `g_b = ∂NLL/∂b̃`): `∂/∂μ_b = g_b + c·μ_b/σ0²`,
//! `∂/∂ρ_b = (g_b·ε_b + c·(s_b/σ0² − 1/s_b))·sigmoid(ρ_b)`. The test module checks these
//! against candle's autograd on [`Bnn`]'s graph.

use candle::{Device, Tensor};
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use rand::RngExt;
use rand_pcg::Pcg64;
use spikeslab_runtime::Activation;

use crate::Result;
use crate::bnn::{Bnn, Prior, normal};
use crate::fastmath::{self as fm, sigmoid, softplus};
use crate::network::Shape;

/// `½·log 2π`.
const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_8;

/// The noise of one step: per weight the gate's uniform `u` (its logistic noise is
/// `L = log u − log(1 − u)`) and ε, per bias `ε_b`.
#[derive(Clone, Debug, Default)]
pub struct Noise {
    /// `u ∈ (0, 1)` per weight.
    pub uniform: Vec<f32>,
    /// ε per weight.
    pub eps: Vec<f32>,
    /// ε per bias.
    pub eps_bias: Vec<f32>,
}

impl Noise {
    /// The draws [`Bnn::sample`] takes from `rng`, in its order (so that a fused step and a
    /// candle step on the same stream see the same noise).
    pub fn like_bnn(shape: &Shape, rng: &mut Pcg64) -> Self {
        let (t, b) = (shape.weights(), shape.biases());
        let uniform = (0..t)
            .map(|_| rng.random::<f32>().clamp(1e-7, 1.0 - 1e-7))
            .collect();
        let eps = normal(t, rng);
        let eps_bias = normal(b, rng);
        Self {
            uniform,
            eps,
            eps_bias,
        }
    }
}

impl Noise {
    /// The noise of a fused step. One 64-bit key from `rng` per step; the `i`-th 64-bit
    /// value of the step is `SplitMix64`'s output for the counter `key + i·γ` (Steele, Lea &
    /// Flood 2014; `γ` the golden-ratio increment), whose two 24-bit halves give uniforms
    /// `u = (m + ½)/2²⁴ ∈ (0, 1)`: the gates' first, then pairs `(u₁, u₂)` for ε by
    /// Box–Muller, `√(−2 ln u₁)·(cos θ, sin θ)`, `θ = 2π·u₂ − π` (the cosines first, then
    /// the sines). [`fm`]'s `ln` and the polynomials of `sin_cos` keep each ε within a few
    /// 10⁻⁷ of its exact transform. Without `gates` (a Gaussian network) there are no
    /// uniforms and the pairs start at once.
    pub fn draw(&mut self, shape: &Shape, gates: bool, rng: &mut Pcg64) {
        let (weights, b) = (shape.weights(), shape.biases());
        let t = if gates { weights } else { 0 };
        let normals = (weights + b).next_multiple_of(2);
        let key: u64 = rng.random();
        let mut bits = vec![0u32; (t + normals).next_multiple_of(2)];
        for (i, pair) in bits.chunks_exact_mut(2).enumerate() {
            let r = splitmix64(key.wrapping_add((i as u64).wrapping_mul(GOLDEN_GAMMA)));
            pair[0] = (r >> 40) as u32;
            pair[1] = ((r >> 8) & 0x00ff_ffff) as u32;
        }
        let uniform = |m: u32| (m as f32 + 0.5) * (1.0 / 16_777_216.0);
        self.uniform.clear();
        self.uniform.extend(bits[..t].iter().map(|&m| uniform(m)));
        // The cosines fill the first half, the sines the second.
        let half = normals / 2;
        let mut eps = vec![0f32; normals];
        let (cosines, sines) = eps.split_at_mut(half);
        let (u1, u2) = bits[t..t + normals].split_at(half);
        for (((c, s), &a), &b) in cosines.iter_mut().zip(sines).zip(u1).zip(u2) {
            let r = (-2.0 * fm::ln(uniform(a))).sqrt();
            let (sin, cos) = sin_cos(std::f32::consts::TAU * uniform(b) - std::f32::consts::PI);
            *c = r * cos;
            *s = r * sin;
        }
        self.eps_bias.clear();
        self.eps_bias.extend_from_slice(&eps[weights..weights + b]);
        eps.truncate(weights);
        self.eps = eps;
    }
}

/// `SplitMix64`'s increment, `⌊2⁶⁴/φ⌋` (odd).
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// `SplitMix64`'s output function (a bijective mix of the 64 bits).
#[inline(always)]
fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `(sin x, cos x)` for `x ∈ [−π, π]`: reflected into `[−π/2, π/2]` (`x' = ±π − x`, where the
/// cosine changes sign), then Taylor polynomials to `x¹¹` and `x¹²` (remainders below
/// 6·10⁻⁸ and 7·10⁻⁹).
#[inline(always)]
fn sin_cos(x: f32) -> (f32, f32) {
    use std::f32::consts::{FRAC_PI_2, PI};
    let far = x.abs() > FRAC_PI_2;
    let r = if far { PI.copysign(x) - x } else { x };
    let r2 = r * r;
    let sin = r
        * (1.0
            + r2 * (-1.0 / 6.0
                + r2 * (1.0 / 120.0
                    + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362_880.0 + r2 * (-1.0 / 39_916_800.0))))));
    let cos = 1.0
        + r2 * (-0.5
            + r2 * (1.0 / 24.0
                + r2 * (-1.0 / 720.0
                    + r2 * (1.0 / 40320.0
                        + r2 * (-1.0 / 3_628_800.0 + r2 * (1.0 / 479_001_600.0))))));
    (sin, if far { -cos } else { cos })
}

/// The variational parameters as flat host arrays, laid out as [`Bnn`]'s.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// Slab means μ.
    pub mu: Vec<f32>,
    /// `s = softplus(ρ)`.
    pub rho: Vec<f32>,
    /// `φ = sigmoid(ξ)`.
    pub xi: Vec<f32>,
    /// Bias means.
    pub bias_mu: Vec<f32>,
    /// Bias `s_b = softplus(ρ_b)`.
    pub bias_rho: Vec<f32>,
    /// Regression: `log σ_ε`.
    pub log_noise: Option<f32>,
}

impl Params {
    /// The same numbers as `bnn`'s variables.
    ///
    /// # Errors
    /// A tensor error.
    pub fn of(bnn: &Bnn) -> Result<Self> {
        let host = |v: &candle::Var| -> Result<Vec<f32>> { Ok(v.as_tensor().to_vec1::<f32>()?) };
        Ok(Self {
            mu: host(&bnn.mu)?,
            rho: host(&bnn.rho)?,
            xi: host(&bnn.xi)?,
            bias_mu: host(&bnn.bias_mu)?,
            bias_rho: host(&bnn.bias_rho)?,
            log_noise: match &bnn.log_noise {
                Some(v) => Some(host(v)?[0]),
                None => None,
            },
        })
    }

    /// A zero of the same shape (gradients, Adam's moments).
    fn zeros_like(&self) -> Self {
        Self {
            mu: vec![0.0; self.mu.len()],
            rho: vec![0.0; self.rho.len()],
            xi: vec![0.0; self.xi.len()],
            bias_mu: vec![0.0; self.bias_mu.len()],
            bias_rho: vec![0.0; self.bias_rho.len()],
            log_noise: self.log_noise.map(|_| 0.0),
        }
    }

    /// Every parameter array with its gradient in `g`, in one order (for [`Adam::update`]).
    fn with_grad<'a>(
        &'a mut self,
        g: &'a Self,
    ) -> impl Iterator<Item = (&'a mut [f32], &'a [f32])> {
        let arrays = [
            (&mut self.mu, &g.mu),
            (&mut self.rho, &g.rho),
            (&mut self.xi, &g.xi),
            (&mut self.bias_mu, &g.bias_mu),
            (&mut self.bias_rho, &g.bias_rho),
        ]
        .into_iter()
        .map(|(p, g)| (p.as_mut_slice(), g.as_slice()));
        let noise = scalar_pair(self.log_noise.as_mut(), g.log_noise.as_ref());
        arrays.chain(noise)
    }
}

/// A scalar parameter (`log σ_ε`) and its gradient as one-element arrays for
/// [`Adam::update`], when there is one.
fn scalar_pair<'a>(
    p: Option<&'a mut f32>,
    g: Option<&'a f32>,
) -> Option<(&'a mut [f32], &'a [f32])> {
    p.zip(g)
        .map(|(p, g)| (std::slice::from_mut(p), std::slice::from_ref(g)))
}

/// A row-major `rows × cols` view of `v`.
fn view(v: &[f32], rows: usize, cols: usize) -> Result<ArrayView2<'_, f32>> {
    Ok(ArrayView2::from_shape((rows, cols), v)?)
}

/// `c ← a · b` into the row-major `c` (`a.nrows() × b.ncols()`), by `matrixmultiply`'s
/// blocked kernels (vectorised, the instruction set chosen at run time), on this thread.
fn product(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, c: &mut [f32]) -> Result<()> {
    let mut c = ArrayViewMut2::from_shape((a.nrows(), b.ncols()), c)?;
    general_mat_mul(1.0, &a, &b, 0.0, &mut c);
    Ok(())
}

/// A network's forward pass on a batch, its mean NLL, and the backward pass to the gradients
/// of the weights and biases it was given, with its arrays kept from one step to the next.
#[derive(Clone, Debug, Default)]
pub struct Pass {
    acts: Vec<Vec<f32>>,
    d_z: Vec<f32>,
    d_a: Vec<f32>,
    g_w: Vec<f32>,
    g_b: Vec<f32>,
    g_log_noise: Option<f32>,
}

impl Pass {
    /// The mean NLL of the network `w`, `bias` (flat in layer order, row-major `out × in`
    /// weights) on the row-major batch `x` (`rows × inputs`) with targets `y` (standardised
    /// values under `N(f(x), σ_ε²)`, `log σ_ε` given; or class indices under the softmax);
    /// then ∂NLL/∂w, ∂NLL/∂b and the gradient of `log σ_ε` are [`Pass::grads`].
    ///
    /// # Errors
    /// A tensor error from the matrix products.
    pub fn run(
        &mut self,
        shape: &Shape,
        w: &[f32],
        bias: &[f32],
        log_noise: Option<f32>,
        x: &[f32],
        y: &[f32],
    ) -> Result<f64> {
        let rows = y.len();
        // Forward: the activations of every layer, the input first.
        let layers: Vec<(usize, usize)> = shape.layers().collect();
        self.acts.resize_with(layers.len() + 1, Vec::new);
        self.acts[0].clear();
        self.acts[0].extend_from_slice(x);
        let (mut wo, mut bo) = (0, 0);
        for (l, &(o, i)) in layers.iter().enumerate() {
            let (done, next) = self.acts.split_at_mut(l + 1);
            let z = &mut next[0];
            z.resize(rows * o, 0.0);
            let w_l = view(&w[wo..wo + o * i], o, i)?;
            product(view(&done[l], rows, i)?, w_l.t(), z)?;
            for row in z.chunks_mut(o) {
                for (v, &b) in row.iter_mut().zip(&bias[bo..bo + o]) {
                    *v += b;
                }
            }
            activate(z, shape.act(l));
            wo += o * i;
            bo += o;
        }
        // The NLL and its gradient with respect to the outputs.
        let out = self.acts.last().map(Vec::as_slice).unwrap_or_default();
        let k = layers.last().map_or(1, |&(o, _)| o);
        let d_out = &mut self.d_z;
        d_out.resize(out.len(), 0.0);
        let inv_rows = 1.0 / rows as f64;
        let nll = match log_noise {
            Some(ls) => {
                let precision = (-2.0 * f64::from(ls)).exp();
                let (mut sum, mut d_ls) = (0f64, 0f64);
                for ((d, &f), &target) in d_out.iter_mut().zip(out).zip(y) {
                    let r = f64::from(target) - f64::from(f);
                    sum += 0.5 * r * r * precision + f64::from(ls);
                    d_ls += 1.0 - r * r * precision;
                    *d = (-r * precision * inv_rows) as f32;
                }
                self.g_log_noise = Some((d_ls * inv_rows) as f32);
                sum * inv_rows + HALF_LOG_2PI
            }
            None => {
                let mut sum = 0f64;
                for ((d, logits), &target) in d_out.chunks_mut(k).zip(out.chunks(k)).zip(y) {
                    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                    let total: f64 = logits.iter().map(|&v| f64::from(v - max).exp()).sum();
                    let label = target as usize;
                    sum += total.ln() - f64::from(logits[label] - max);
                    for (c, (dv, &v)) in d.iter_mut().zip(logits).enumerate() {
                        let p = f64::from(v - max).exp() / total;
                        let one = if c == label { 1.0 } else { 0.0 };
                        *dv = ((p - one) * inv_rows) as f32;
                    }
                }
                self.g_log_noise = None;
                sum * inv_rows
            }
        };
        // Backward through the layers: `d_z` holds ∂NLL/∂ the layer's pre-activations.
        self.g_w.resize(w.len(), 0.0);
        self.g_b.clear();
        self.g_b.resize(bias.len(), 0.0);
        for (l, &(o, i)) in layers.iter().enumerate().rev() {
            wo -= o * i;
            bo -= o;
            let d_z = view(&self.d_z, rows, o)?;
            product(
                d_z.t(),
                view(&self.acts[l], rows, i)?,
                &mut self.g_w[wo..wo + o * i],
            )?;
            for row in self.d_z.chunks(o) {
                for (g, &d) in self.g_b[bo..bo + o].iter_mut().zip(row) {
                    *g += d;
                }
            }
            if l > 0 {
                self.d_a.resize(rows * i, 0.0);
                product(d_z, view(&w[wo..wo + o * i], o, i)?, &mut self.d_a)?;
                derive(&mut self.d_a, &self.acts[l], shape.act(l - 1));
                std::mem::swap(&mut self.d_z, &mut self.d_a);
            }
        }
        Ok(nll)
    }

    /// After [`Pass::run`]: ∂NLL/∂ each weight, each bias, and `log σ_ε` (regression).
    pub fn grads(&self) -> (&[f32], &[f32], Option<f32>) {
        (&self.g_w, &self.g_b, self.g_log_noise)
    }
}

/// A step's loss and gradients ([`Work::run`]), with the arrays it fills kept from one step
/// to the next (every element is written before it is read, so they are never cleared).
#[derive(Clone, Debug, Default)]
pub struct Work {
    s: Vec<f32>,
    ds: Vec<f32>,
    phi: Vec<f32>,
    log_phi: Vec<f32>,
    gate: Vec<f32>,
    slope: Vec<f32>,
    v: Vec<f32>,
    w: Vec<f32>,
    bias: Vec<f32>,
    kl_terms: Vec<f32>,
    pass: Pass,
    grad: Option<Params>,
}

impl Work {
    /// ∂loss/∂ each parameter after [`Work::run`], laid out as the parameters.
    pub fn grad(&self) -> Option<&Params> {
        self.grad.as_ref()
    }

    /// The loss of one step on the row-major batch `x` (`rows × inputs`) with targets `y`
    /// (standardised values, or class indices), the KL weighted by `kl_scale`, as
    /// [`crate::train::step`] returns it (`mean NLL + c·KL`); the gradient of every
    /// parameter is then [`Work::grad`].
    ///
    /// # Errors
    /// A tensor error from the matrix products.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        shape: &Shape,
        p: &Params,
        noise: &Noise,
        x: &[f32],
        y: &[f32],
        kl_scale: f64,
        temperature: f64,
        prior: Prior,
    ) -> Result<f64> {
        let tau = temperature as f32;
        // Per weight, once: the slab sd and its slope, the inclusion probability, the gate, the
        // sampled weight (branch-free loops, so that they vectorise).
        let t = p.mu.len();
        for a in [
            &mut self.s,
            &mut self.ds,
            &mut self.phi,
            &mut self.log_phi,
            &mut self.gate,
            &mut self.slope,
            &mut self.v,
            &mut self.w,
            &mut self.kl_terms,
        ] {
            a.resize(t, 0.0);
        }
        let grad = self.grad.get_or_insert_with(|| p.zeros_like());
        let (rho_all, xi_all, mu_all) = (&p.rho[..t], &p.xi[..t], &p.mu[..t]);
        let (uniform, eps) = (&noise.uniform[..t], &noise.eps[..t]);
        let (s, ds) = (&mut self.s[..t], &mut self.ds[..t]);
        let (phi, log_phi) = (&mut self.phi[..t], &mut self.log_phi[..t]);
        let (gate, slope) = (&mut self.gate[..t], &mut self.slope[..t]);
        let (v, w) = (&mut self.v[..t], &mut self.w[..t]);
        // soft = sigmoid((ξ + L)/τ) = 1/(1 + r^(1/τ)) with r = e^−ξ·(1 − u)/u: for τ = ½ (the
        // default) r², from the e^−|ξ| that φ needs anyway, with no transcendental of its own.
        // One loop per form, so that each has no branch and vectorises.
        macro_rules! per_weight {
            (|$xi:ident, $ex:ident, $u:ident| $soft:expr) => {
                for j in 0..t {
                    let rho = rho_all[j];
                    let er = fm::exp(-rho.abs());
                    s[j] = rho.max(0.0) + fm::ln_1p(er);
                    ds[j] = fm::sigmoid_from(rho, er);
                    let $xi = xi_all[j];
                    let $ex = fm::exp(-$xi.abs());
                    log_phi[j] = -((-$xi).max(0.0) + fm::ln_1p($ex));
                    phi[j] = fm::sigmoid_from($xi, $ex);
                    let $u = uniform[j];
                    let soft: f32 = $soft;
                    let hard = if soft >= 0.5 { 1.0 } else { 0.0 };
                    // The straight-through gate: the value of `hard`, the gradient of `soft`.
                    gate[j] = soft + (hard - soft);
                    slope[j] = soft * (1.0 - soft) / tau;
                    v[j] = mu_all[j] + s[j] * eps[j];
                    w[j] = gate[j] * v[j];
                }
            };
        }
        if tau == 0.5 {
            per_weight!(|xi, ex, u| {
                let e_neg = if xi >= 0.0 { ex } else { 1.0 / ex };
                let r = e_neg * ((1.0 - u) / u);
                1.0 / (1.0 + r * r)
            });
        } else {
            per_weight!(|xi, ex, u| {
                let _ = ex;
                sigmoid((xi + fm::ln(u / (1.0 - u))) / tau)
            });
        }
        self.bias.clear();
        self.bias.extend(
            (p.bias_mu.iter().zip(&p.bias_rho).zip(&noise.eps_bias))
                .map(|((&m, &r), &e)| m + softplus(r) * e),
        );
        let nll = self.pass.run(shape, w, &self.bias, p.log_noise, x, y)?;
        let (g_w, g_b, g_log_noise) = self.pass.grads();
        // The KL, its gradient, and the chain rule to μ, ρ, ξ.
        let c = kl_scale as f32;
        let (s0, lam) = (prior.sigma0 as f32, prior.inclusion);
        let inv_var0 = 1.0 / (s0 * s0);
        let logit_lam = (lam / (1.0 - lam)).ln() as f32;
        let (log_lam, log_not_lam) = (lam.ln(), (1.0 - lam).ln());
        let log_s0 = s0.ln();
        let (log_lam, log_not_lam) = (log_lam as f32, log_not_lam as f32);
        let kl_terms = &mut self.kl_terms[..t];
        let (g_mu, g_rho, g_xi) = (&mut grad.mu[..t], &mut grad.rho[..t], &mut grad.xi[..t]);
        let g_w = &g_w[..t];
        for j in 0..t {
            let (mu, xi, s, phi, log_phi) = (mu_all[j], xi_all[j], s[j], phi[j], log_phi[j]);
            let slab = gaussian_kl(s, mu, log_s0, inv_var0);
            kl_terms[j] =
                phi * (log_phi - log_lam) + (1.0 - phi) * (log_phi - xi - log_not_lam) + phi * slab;
            let (g, h) = (g_w[j], gate[j]);
            g_mu[j] = g * h + c * phi * mu * inv_var0;
            g_rho[j] = (g * h * eps[j] + c * phi * (s * inv_var0 - 1.0 / s)) * ds[j];
            g_xi[j] = g * v[j] * slope[j] + c * phi * (1.0 - phi) * (xi - logit_lam + slab);
        }
        let mut kl: f64 = kl_terms.iter().map(|&k| f64::from(k)).sum();
        kl += bias_kl_grad(
            (&p.bias_mu, &p.bias_rho),
            (g_b, &noise.eps_bias),
            (&mut grad.bias_mu, &mut grad.bias_rho),
            c,
            s0,
        );
        grad.log_noise = g_log_noise;
        Ok(nll + kl_scale * kl)
    }
}

/// `KL(N(μ, s²) ‖ N(0, σ0²)) = log σ0 − log s + (s² + μ²)/(2σ0²) − ½`, with `log σ0` and
/// `1/σ0²` given.
#[inline(always)]
fn gaussian_kl(s: f32, mu: f32, log_s0: f32, inv_var0: f32) -> f32 {
    log_s0 - fm::ln(s) + (s * s + mu * mu) * 0.5 * inv_var0 - 0.5
}

/// The KL of the biases' Gaussians `N(μ_b, s_b²)` (`s_b = softplus(ρ_b)`) from `N(0, σ0²)`,
/// and, from `g_b = ∂NLL/∂b̃` at `b̃ = μ_b + s_b·ε_b`, the gradients of `NLL + c·KL`:
/// `∂/∂μ_b = g_b + c·μ_b/σ0²`, `∂/∂ρ_b = (g_b·ε_b + c·(s_b/σ0² − 1/s_b))·sigmoid(ρ_b)`.
fn bias_kl_grad(
    (mu, rho): (&[f32], &[f32]),
    (g_b, eps): (&[f32], &[f32]),
    (g_mu, g_rho): (&mut [f32], &mut [f32]),
    c: f32,
    s0: f32,
) -> f64 {
    let (inv_var0, log_s0) = (1.0 / (s0 * s0), s0.ln());
    let mut kl = 0f64;
    let all = (mu.iter().zip(rho))
        .zip(g_b.iter().zip(eps))
        .zip(g_mu.iter_mut().zip(g_rho.iter_mut()));
    for (((&mu, &rho), (&g, &e)), (g_mu, g_rho)) in all {
        let s = softplus(rho);
        kl += f64::from(gaussian_kl(s, mu, log_s0, inv_var0));
        *g_mu = g + c * mu * inv_var0;
        *g_rho = (g * e + c * (s * inv_var0 - 1.0 / s)) * sigmoid(rho);
    }
    kl
}

/// `act` in place.
fn activate(z: &mut [f32], act: Activation) {
    match act {
        Activation::Identity => {}
        Activation::Relu => z.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::Tanh => z.iter_mut().for_each(|v| *v = v.tanh()),
        Activation::Sigmoid => z.iter_mut().for_each(|v| *v = sigmoid(*v)),
    }
}

/// `d ← d · act'(z)`, the derivative written from the activation's output `a = act(z)`.
fn derive(d: &mut [f32], a: &[f32], act: Activation) {
    let pairs = d.iter_mut().zip(a);
    match act {
        Activation::Identity => {}
        Activation::Relu => pairs.for_each(|(d, &a)| {
            if a <= 0.0 {
                *d = 0.0;
            }
        }),
        Activation::Tanh => pairs.for_each(|(d, &a)| *d *= 1.0 - a * a),
        Activation::Sigmoid => pairs.for_each(|(d, &a)| *d *= a * (1.0 - a)),
    }
}

/// Adam without weight decay, as candle's `AdamW` with decay 0: `β1 = 0.9`, `β2 = 0.999`,
/// `ε = 10⁻⁸`, bias-corrected moments; one pair of moment arrays per parameter array, in
/// the order [`Adam::update`] is given them.
#[derive(Clone, Debug)]
pub struct Adam {
    lr: f64,
    steps: i32,
    moments: Vec<(Vec<f32>, Vec<f32>)>,
}

impl Adam {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    /// Zero moments, rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            steps: 0,
            moments: Vec::new(),
        }
    }

    /// A new learning rate for the next updates.
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// One update of every parameter array along its gradient, `(θ, g)` pairs in the same
    /// order at every step.
    pub fn update<'a>(&mut self, pairs: impl IntoIterator<Item = (&'a mut [f32], &'a [f32])>) {
        self.steps += 1;
        let scale_m = (1.0 / (1.0 - Self::BETA1.powi(self.steps))) as f32;
        let scale_v = (1.0 / (1.0 - Self::BETA2.powi(self.steps))) as f32;
        let (b1, b2) = (Self::BETA1 as f32, Self::BETA2 as f32);
        let (lr, eps) = (self.lr as f32, Self::EPS as f32);
        for (k, (theta, g)) in pairs.into_iter().enumerate() {
            if self.moments.len() <= k {
                self.moments.push(Default::default());
            }
            let (m, v) = &mut self.moments[k];
            m.resize(theta.len(), 0.0);
            v.resize(theta.len(), 0.0);
            for (((t, &g), m), v) in theta.iter_mut().zip(g).zip(m).zip(v) {
                *m = *m * b1 + g * (1.0 - b1);
                *v = *v * b2 + g * g * (1.0 - b2);
                let m_hat = *m * scale_m;
                let v_hat = *v * scale_v;
                *t -= m_hat / (v_hat.sqrt() + eps) * lr;
            }
        }
    }
}

/// A network trained by fused steps: its parameters and optimiser state.
#[derive(Clone, Debug)]
pub struct Fused {
    /// Architecture.
    pub shape: Shape,
    /// The parameters.
    pub params: Params,
    adam: Adam,
    noise: Noise,
    work: Work,
}

impl Fused {
    /// Starts from `bnn`'s parameters, with Adam at rate `lr`.
    ///
    /// # Errors
    /// A tensor error.
    pub fn new(bnn: &Bnn, lr: f64) -> Result<Self> {
        let params = Params::of(bnn)?;
        Ok(Self {
            shape: bnn.shape.clone(),
            adam: Adam::new(lr),
            params,
            noise: Noise::default(),
            work: Work::default(),
        })
    }

    /// One step on the batch with noise from `rng` ([`Noise::draw`]): returns the loss before
    /// the update, as [`crate::train::step`].
    ///
    /// # Errors
    /// A tensor error.
    pub fn step(
        &mut self,
        x: &[f32],
        y: &[f32],
        kl_scale: f64,
        temperature: f64,
        prior: Prior,
        rng: &mut Pcg64,
    ) -> Result<f32> {
        let mut noise = std::mem::take(&mut self.noise);
        noise.draw(&self.shape, true, rng);
        let loss = self.step_with(&noise, x, y, kl_scale, temperature, prior);
        self.noise = noise;
        loss
    }

    /// One step with the given noise.
    ///
    /// # Errors
    /// A tensor error.
    pub fn step_with(
        &mut self,
        noise: &Noise,
        x: &[f32],
        y: &[f32],
        kl_scale: f64,
        temperature: f64,
        prior: Prior,
    ) -> Result<f32> {
        let loss = self.work.run(
            &self.shape,
            &self.params,
            noise,
            x,
            y,
            kl_scale,
            temperature,
            prior,
        )?;
        if let Some(grad) = &self.work.grad {
            self.adam.update(self.params.with_grad(grad));
        }
        Ok(loss as f32)
    }

    /// Writes the parameters into `bnn`'s variables (for what reads a [`Bnn`]).
    ///
    /// # Errors
    /// A tensor error.
    pub fn store(&self, bnn: &Bnn) -> Result<()> {
        let dev = &Device::Cpu;
        let p = &self.params;
        for (var, values) in [
            (&bnn.mu, &p.mu),
            (&bnn.rho, &p.rho),
            (&bnn.xi, &p.xi),
            (&bnn.bias_mu, &p.bias_mu),
            (&bnn.bias_rho, &p.bias_rho),
        ] {
            var.set(&Tensor::from_slice(values, values.len(), dev)?)?;
        }
        if let (Some(var), Some(v)) = (&bnn.log_noise, p.log_noise) {
            var.set(&Tensor::from_slice(&[v], 1, dev)?)?;
        }
        Ok(())
    }
}

/// A point network trained by fused steps on `mean NLL + a·Σ w²` (the slab prior as L2),
/// over the weights its mask trains; the others stay at their value. Per weight, with
/// `m ∈ {0, 1}` its mask and `g = ∂NLL/∂(m·w)`: `∂/∂w = m·(g + 2a·m·w)`.
#[derive(Clone, Debug)]
pub struct Point {
    /// Architecture.
    pub shape: Shape,
    /// Weights, flat in layer order (row-major `out × in`).
    pub weights: Vec<f32>,
    /// 1 where a weight trains, 0 where it stays.
    pub mask: Vec<f32>,
    /// Biases, flat in layer order.
    pub bias: Vec<f32>,
    /// Regression: `log σ_ε`.
    pub log_noise: Option<f32>,
    adam: Adam,
    pass: Pass,
    used: Vec<f32>,
    grad: Vec<f32>,
}

impl Point {
    /// Starts from the given parameters, with Adam at rate `lr`.
    pub fn new(
        shape: Shape,
        (weights, mask): (Vec<f32>, Vec<f32>),
        bias: Vec<f32>,
        log_noise: Option<f32>,
        lr: f64,
    ) -> Self {
        Self {
            shape,
            weights,
            mask,
            bias,
            log_noise,
            adam: Adam::new(lr),
            pass: Pass::default(),
            used: Vec::new(),
            grad: Vec::new(),
        }
    }

    /// The weights the network uses, `m·w`.
    pub fn used(&self) -> Vec<f32> {
        self.weights
            .iter()
            .zip(&self.mask)
            .map(|(w, m)| w * m)
            .collect()
    }

    /// One step at rate `lr` on the batch with L2 weight `a`: returns the loss before the
    /// update.
    ///
    /// # Errors
    /// A tensor error.
    pub fn step(&mut self, x: &[f32], y: &[f32], l2: f64, lr: f64) -> Result<f32> {
        let loss = self.gradients(x, y, l2)?;
        let (_, g_b, g_log_noise) = self.pass.grads();
        self.adam.set_lr(lr);
        let noise = scalar_pair(self.log_noise.as_mut(), g_log_noise.as_ref());
        let pairs = [
            (self.weights.as_mut_slice(), self.grad.as_slice()),
            (self.bias.as_mut_slice(), g_b),
        ];
        self.adam.update(pairs.into_iter().chain(noise));
        Ok(loss as f32)
    }

    /// The loss on the batch; the weights' gradient is then `self.grad`, the biases' and the
    /// noise's the pass's.
    fn gradients(&mut self, x: &[f32], y: &[f32], l2: f64) -> Result<f64> {
        self.used.clear();
        self.used
            .extend(self.weights.iter().zip(&self.mask).map(|(w, m)| w * m));
        let nll = self
            .pass
            .run(&self.shape, &self.used, &self.bias, self.log_noise, x, y)?;
        let (g_w, _, _) = self.pass.grads();
        let a = l2 as f32;
        self.grad.clear();
        self.grad.extend(
            (g_w.iter().zip(&self.used).zip(&self.mask))
                .map(|((&g, &w), &m)| m * (g + 2.0 * a * w)),
        );
        let penalty: f64 = self.used.iter().map(|&w| f64::from(w * w)).sum();
        Ok(nll + l2 * penalty)
    }
}

/// A mean-field Gaussian network `N(μ, s²)`, `s = softplus(ρ)`, over the weights its mask
/// trains (the others exactly 0) and every bias, trained by fused steps on
/// `mean NLL + c·KL(q ‖ N(0, σ0²))` with one draw `w̃ = m·(μ + s·ε)` per step shared by the
/// batch (method §2's estimator without the gate). Per weight, with `g = ∂NLL/∂w̃`:
/// `∂/∂μ = m·(g + c·μ/σ0²)`, `∂/∂ρ = m·(g·ε + c·(s/σ0² − 1/s))·sigmoid(ρ)`; biases as in
/// [`Work::run`].
#[derive(Clone, Debug)]
pub struct Gaussian {
    /// Architecture.
    pub shape: Shape,
    /// Weight means, flat in layer order.
    pub mu: Vec<f32>,
    /// Weight `ρ`.
    pub rho: Vec<f32>,
    /// 1 where a weight trains, 0 where it is pruned.
    pub mask: Vec<f32>,
    /// Bias means.
    pub bias_mu: Vec<f32>,
    /// Bias `ρ`.
    pub bias_rho: Vec<f32>,
    /// Regression: `log σ_ε`.
    pub log_noise: Option<f32>,
    adam: Adam,
    pass: Pass,
    noise: Noise,
    w: Vec<f32>,
    s: Vec<f32>,
    ds: Vec<f32>,
    bias: Vec<f32>,
    grads: [Vec<f32>; 4],
}

impl Gaussian {
    /// Starts from means `mu` and `bias_mu`, every sd `s0` (weights where the mask is 0 stay
    /// 0), with Adam at rate `lr`.
    pub fn new(
        shape: Shape,
        (mu, mask): (Vec<f32>, Vec<f32>),
        bias_mu: Vec<f32>,
        log_noise: Option<f32>,
        s0: f64,
        lr: f64,
    ) -> Self {
        let rho0 = s0.exp_m1().ln() as f32;
        Self {
            shape,
            rho: vec![rho0; mu.len()],
            mu,
            mask,
            bias_rho: vec![rho0; bias_mu.len()],
            bias_mu,
            log_noise,
            adam: Adam::new(lr),
            pass: Pass::default(),
            noise: Noise::default(),
            w: Vec::new(),
            s: Vec::new(),
            ds: Vec::new(),
            bias: Vec::new(),
            grads: Default::default(),
        }
    }

    /// The masked means and sds of the weights, and the means and sds of the biases.
    pub fn moments(&self) -> ([Vec<f32>; 2], [Vec<f32>; 2]) {
        let masked = |v: &[f32], f: fn(f32) -> f32| -> Vec<f32> {
            v.iter().zip(&self.mask).map(|(&x, &m)| m * f(x)).collect()
        };
        (
            [masked(&self.mu, |x| x), masked(&self.rho, softplus)],
            [
                self.bias_mu.clone(),
                self.bias_rho.iter().map(|&r| softplus(r)).collect(),
            ],
        )
    }

    /// One step at rate `lr` on the batch with noise from `rng` ([`Noise::draw`] without
    /// gates), the KL weighted by `kl_scale` under the prior sd `sigma0`: returns the loss
    /// before the update.
    ///
    /// # Errors
    /// A tensor error.
    pub fn step(
        &mut self,
        x: &[f32],
        y: &[f32],
        (kl_scale, sigma0): (f64, f64),
        lr: f64,
        rng: &mut Pcg64,
    ) -> Result<f32> {
        self.noise.draw(&self.shape, false, rng);
        let loss = self.gradients(x, y, (kl_scale, sigma0))?;
        let (_, _, g_log_noise) = self.pass.grads();
        let [g_mu, g_rho, g_bmu, g_brho] = &self.grads;
        self.adam.set_lr(lr);
        let noise = scalar_pair(self.log_noise.as_mut(), g_log_noise.as_ref());
        let pairs = [
            (self.mu.as_mut_slice(), g_mu.as_slice()),
            (self.rho.as_mut_slice(), g_rho.as_slice()),
            (self.bias_mu.as_mut_slice(), g_bmu.as_slice()),
            (self.bias_rho.as_mut_slice(), g_brho.as_slice()),
        ];
        self.adam.update(pairs.into_iter().chain(noise));
        Ok(loss as f32)
    }

    /// The loss on the batch with the step's noise `self.noise`; the gradients are then
    /// `self.grads` (μ, ρ, bias μ, bias ρ) and the pass's noise gradient.
    fn gradients(&mut self, x: &[f32], y: &[f32], (kl_scale, sigma0): (f64, f64)) -> Result<f64> {
        let eps = &self.noise.eps;
        // Per weight, once: s = softplus(ρ), its slope sigmoid(ρ), the sampled weight.
        let t = self.mu.len();
        for a in [&mut self.w, &mut self.s, &mut self.ds] {
            a.resize(t, 0.0);
        }
        let all = (self.mu.iter().zip(&self.rho).zip(eps).zip(&self.mask)).zip(
            self.w
                .iter_mut()
                .zip(self.s.iter_mut())
                .zip(self.ds.iter_mut()),
        );
        for ((((&mu, &rho), &e), &m), ((w, s), ds)) in all {
            let er = fm::exp(-rho.abs());
            *s = rho.max(0.0) + fm::ln_1p(er);
            *ds = fm::sigmoid_from(rho, er);
            *w = m * (mu + *s * e);
        }
        self.bias.clear();
        self.bias.extend(
            (self
                .bias_mu
                .iter()
                .zip(&self.bias_rho)
                .zip(&self.noise.eps_bias))
            .map(|((&mu, &rho), &e)| mu + softplus(rho) * e),
        );
        let nll = self
            .pass
            .run(&self.shape, &self.w, &self.bias, self.log_noise, x, y)?;
        let (g_w, g_b, _) = self.pass.grads();
        let c = kl_scale as f32;
        let s0 = sigma0 as f32;
        let (inv_var0, log_s0) = (1.0 / (s0 * s0), s0.ln());
        let [g_mu, g_rho, g_bmu, g_brho] = &mut self.grads;
        for g in [&mut *g_mu, &mut *g_rho] {
            g.resize(self.mu.len(), 0.0);
        }
        for g in [&mut *g_bmu, &mut *g_brho] {
            g.resize(self.bias_mu.len(), 0.0);
        }
        let mut kl = 0f64;
        let all = (self.mu.iter().zip(&self.s).zip(&self.ds).zip(&self.mask))
            .zip(g_w.iter().zip(eps))
            .zip(g_mu.iter_mut().zip(g_rho.iter_mut()));
        for (((((&mu, &s), &ds), &m), (&g, &e)), (g_mu, g_rho)) in all {
            kl += f64::from(m * gaussian_kl(s, mu, log_s0, inv_var0));
            *g_mu = m * (g + c * mu * inv_var0);
            *g_rho = m * (g * e + c * (s * inv_var0 - 1.0 / s)) * ds;
        }
        kl += bias_kl_grad(
            (&self.bias_mu, &self.bias_rho),
            (g_b, &self.noise.eps_bias),
            (g_bmu, g_brho),
            c,
            s0,
        );
        Ok(nll + kl_scale * kl)
    }
}

#[cfg(test)]
mod tests {
    use candle::Tensor;
    use rand::SeedableRng;

    use super::*;
    use crate::bnn::nll;
    use crate::network::forward;

    /// A network whose gates are mixed (some ξ far below 0), with spread slabs and biases.
    fn bnn(widths: Vec<usize>, act: Activation, regression: bool) -> Bnn {
        let mut rng = Pcg64::seed_from_u64(3);
        let shape = Shape {
            widths,
            activation: act,
        };
        let b = Bnn::new(shape, regression, &mut rng).unwrap();
        let t = b.shape.weights();
        let xi: Vec<f32> = (0..t).map(|j| ((j * 7) % 11) as f32 - 4.0).collect();
        let rho: Vec<f32> = (0..t).map(|j| ((j * 5) % 9) as f32 * 0.4 - 3.0).collect();
        b.xi.set(&Tensor::from_vec(xi, t, &Device::Cpu).unwrap())
            .unwrap();
        b.rho
            .set(&Tensor::from_vec(rho, t, &Device::Cpu).unwrap())
            .unwrap();
        let nb = b.shape.biases();
        let bm: Vec<f32> = (0..nb).map(|j| (j % 5) as f32 * 0.1 - 0.2).collect();
        b.bias_mu
            .set(&Tensor::from_vec(bm, nb, &Device::Cpu).unwrap())
            .unwrap();
        if let Some(ls) = &b.log_noise {
            ls.set(&Tensor::new(&[-0.3f32], &Device::Cpu).unwrap())
                .unwrap();
        }
        b
    }

    /// The fused loss and gradients equal candle's autograd on [`Bnn`]'s graph, for the same
    /// noise, within 1e-4 of each gradient's largest magnitude (f32 sums in other orders).
    #[test]
    fn gradients_equal_candles_autograd() {
        let prior = Prior {
            sigma0: 1.3,
            inclusion: 0.05,
        };
        // τ = ½ takes the gate's shortcut, τ = 0.7 the general form.
        for (widths, act, regression, tau) in [
            (vec![5, 7, 1], Activation::Relu, true, 0.5),
            (vec![6, 8, 5, 3], Activation::Tanh, false, 0.5),
            (vec![4, 6, 1], Activation::Sigmoid, true, 0.7),
            (vec![5, 9, 4], Activation::Relu, false, 0.7),
        ] {
            let b = bnn(widths.clone(), act, regression);
            let rows = 9;
            let mut data = Pcg64::seed_from_u64(11);
            let x = normal(rows * widths[0], &mut data);
            let k = *widths.last().unwrap();
            let y: Vec<f32> = if regression {
                normal(rows, &mut data)
            } else {
                (0..rows).map(|i| (i % k) as f32).collect()
            };
            let kl_scale = 0.02;
            // candle: the same draw from the same stream.
            let mut rng = Pcg64::seed_from_u64(5);
            let draw = b.sample(tau, &mut rng).unwrap();
            let xt = Tensor::from_slice(&x, (rows, widths[0]), &Device::Cpu).unwrap();
            let yt = Tensor::from_slice(&y, rows, &Device::Cpu).unwrap();
            let out = forward(&xt, &draw, &b.shape).unwrap();
            let loss = (nll(&out, &yt, b.log_noise.as_ref()).unwrap()
                + (b.kl(prior).unwrap() * kl_scale).unwrap())
            .unwrap();
            let store = loss.backward().unwrap();
            // fused
            let mut rng = Pcg64::seed_from_u64(5);
            let noise = Noise::like_bnn(&b.shape, &mut rng);
            let p = Params::of(&b).unwrap();
            let mut work = Work::default();
            let got_loss = work
                .run(&b.shape, &p, &noise, &x, &y, kl_scale, tau, prior)
                .unwrap();
            let grad = work.grad().unwrap();
            let want = f64::from(loss.to_scalar::<f32>().unwrap());
            assert!(
                (got_loss - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "{widths:?}: loss {got_loss} against {want}"
            );
            let mut vars = vec![
                ("mu", &b.mu, &grad.mu),
                ("rho", &b.rho, &grad.rho),
                ("xi", &b.xi, &grad.xi),
                ("bias_mu", &b.bias_mu, &grad.bias_mu),
                ("bias_rho", &b.bias_rho, &grad.bias_rho),
            ];
            let noise_grad = grad.log_noise.map(|v| vec![v]);
            if let (Some(v), Some(ng)) = (&b.log_noise, &noise_grad) {
                vars.push(("log_noise", v, ng));
            }
            for (name, var, got) in vars {
                let want: Vec<f32> = store.get(var).unwrap().to_vec1().unwrap();
                let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
                for (j, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-4 * scale,
                        "{widths:?} {act:?}: ∂/∂{name}[{j}] {a} against autograd {b} (largest {scale})"
                    );
                }
            }
        }
    }

    /// The fast noise: gate noise logistic, ε standard normal (moments and tails over
    /// 200,000 draws), and a new draw every step.
    #[test]
    fn fast_noise_has_the_right_distributions() {
        let shape = Shape {
            widths: vec![100, 100, 100],
            activation: Activation::Relu,
        };
        let mut rng = Pcg64::seed_from_u64(1);
        let mut n = Noise::default();
        let (mut eps, mut logistic) = (Vec::new(), Vec::new());
        let logit = |u: f32| f64::from(u / (1.0 - u)).ln();
        for _ in 0..10 {
            n.draw(&shape, true, &mut rng);
            assert_eq!(n.eps.len(), 20_000);
            assert_eq!(n.eps_bias.len(), 200);
            eps.extend(n.eps.iter().map(|&v| f64::from(v)));
            logistic.extend(n.uniform.iter().map(|&u| logit(u)));
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let var = |v: &[f64]| {
            let m = mean(v);
            v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64
        };
        let frac = |v: &[f64], t: f64| v.iter().filter(|&&x| x > t).count() as f64 / v.len() as f64;
        // Standard errors over 200,000 draws: mean 0.0022, variance 0.0032.
        assert!(mean(&eps).abs() < 0.01 && (var(&eps) - 1.0).abs() < 0.015);
        assert!((frac(&eps, 1.0) - 0.158_655).abs() < 0.003);
        assert!((frac(&eps, 2.0) - 0.022_750).abs() < 0.0012);
        // The logistic distribution: variance π²/3, P(L > 2) = 1/(1 + e²).
        assert!(mean(&logistic).abs() < 0.02);
        assert!((var(&logistic) - std::f64::consts::PI.powi(2) / 3.0).abs() < 0.05);
        assert!((frac(&logistic, 2.0) - 1.0 / (1.0 + 2f64.exp())).abs() < 0.002);
        let first = n.eps.clone();
        n.draw(&shape, true, &mut rng);
        assert_ne!(first, n.eps);
    }

    #[test]
    fn sin_cos_is_within_a_few_tenths_of_a_millionth() {
        let mut worst = 0f32;
        for k in -100_000..=100_000 {
            let x = k as f32 * (std::f32::consts::PI / 100_000.0);
            let (s, c) = sin_cos(x);
            let (ws, wc) = f64::from(x).sin_cos();
            worst = worst.max((f64::from(s) - ws).abs() as f32);
            worst = worst.max((f64::from(c) - wc).abs() as f32);
        }
        assert!(worst < 3e-7, "worst error {worst}");
    }

    /// A fused step moves the parameters as candle's step with `AdamW` (decay 0) does.
    #[test]
    fn steps_follow_candles_steps() {
        let prior = Prior {
            sigma0: 1.3,
            inclusion: 0.05,
        };
        let b = bnn(vec![5, 7, 1], Activation::Relu, true);
        let mut fused = Fused::new(&b, 5e-3).unwrap();
        let mut opt = crate::train::adam(b.vars(), 5e-3).unwrap();
        let mut data = Pcg64::seed_from_u64(11);
        let x = normal(16 * 5, &mut data);
        let y = normal(16, &mut data);
        let xt = Tensor::from_slice(&x, (16, 5), &Device::Cpu).unwrap();
        let yt = Tensor::from_slice(&y, 16, &Device::Cpu).unwrap();
        let (mut r1, mut r2) = (Pcg64::seed_from_u64(9), Pcg64::seed_from_u64(9));
        for _ in 0..20 {
            let a = crate::train::step(&b, &mut opt, &xt, &yt, 0.01, 0.5, prior, &mut r1).unwrap();
            let noise = Noise::like_bnn(&fused.shape, &mut r2);
            let f = fused.step_with(&noise, &x, &y, 0.01, 0.5, prior).unwrap();
            assert!((a - f).abs() <= 1e-4 * (1.0 + a.abs()), "{a} against {f}");
        }
        let want = Params::of(&b).unwrap();
        for (got, want) in [
            (&fused.params.mu, &want.mu),
            (&fused.params.rho, &want.rho),
            (&fused.params.xi, &want.xi),
            (&fused.params.bias_mu, &want.bias_mu),
        ] {
            for (a, b) in got.iter().zip(want) {
                assert!((a - b).abs() <= 1e-4, "{a} against {b}");
            }
        }
    }

    /// Rows for a gradient test: inputs, and targets (standardised values or class indices).
    fn batch(widths: &[usize], regression: bool, rows: usize) -> (Vec<f32>, Vec<f32>) {
        let mut data = Pcg64::seed_from_u64(11);
        let x = normal(rows * widths[0], &mut data);
        let k = *widths.last().unwrap();
        let y = if regression {
            normal(rows, &mut data)
        } else {
            (0..rows).map(|i| (i % k) as f32).collect()
        };
        (x, y)
    }

    /// `(name, got, candle's)` gradients agree within 1e-4 of the largest magnitude of each.
    fn assert_close(what: &str, got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{what}");
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        for (j, (a, b)) in got.iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * scale,
                "{what}[{j}]: {a} against autograd {b} (largest {scale})"
            );
        }
    }

    /// A flat array as one tensor per layer (`out × in` weights, or `out` biases).
    fn per_layer(shape: &Shape, v: &[f32], weights: bool) -> Vec<candle::Var> {
        let mut at = 0;
        shape
            .layers()
            .map(|(o, i)| {
                let n = if weights { o * i } else { o };
                let t = Tensor::from_slice(&v[at..at + n], n, &Device::Cpu).unwrap();
                at += n;
                let t = if weights {
                    t.reshape((o, i)).unwrap()
                } else {
                    t
                };
                candle::Var::from_tensor(&t).unwrap()
            })
            .collect()
    }

    /// The gradient of `var` in `store`, flat.
    fn grad_of(store: &candle::backprop::GradStore, vars: &[candle::Var]) -> Vec<f32> {
        vars.iter()
            .flat_map(|v| {
                store
                    .get(v)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            })
            .collect()
    }

    /// Shapes, activations and tasks the point and Gaussian tests cover.
    const NETS: [(&[usize], Activation, bool); 3] = [
        (&[5, 7, 1], Activation::Relu, true),
        (&[6, 8, 5, 3], Activation::Tanh, false),
        (&[4, 6, 1], Activation::Sigmoid, true),
    ];

    /// The point step's loss and gradients equal candle's autograd on the graph
    /// `NLL(f(x; m·W, b)) + a·Σ (m·W)²`, with a third of the weights masked.
    #[test]
    fn point_gradients_equal_candles_autograd() {
        for (widths, act, regression) in NETS {
            let shape = Shape {
                widths: widths.to_vec(),
                activation: act,
            };
            let mut rng = Pcg64::seed_from_u64(4);
            let w = normal(shape.weights(), &mut rng);
            let b = normal(shape.biases(), &mut rng);
            let mask: Vec<f32> = (0..w.len()).map(|j| f32::from(j % 3 != 1)).collect();
            let log_noise = regression.then_some(-0.3f32);
            let (x, y) = batch(widths, regression, 9);
            let l2 = 0.03;
            let mut point = Point::new(
                shape.clone(),
                (w.clone(), mask.clone()),
                b.clone(),
                log_noise,
                1e-3,
            );
            let loss = point.gradients(&x, &y, l2).unwrap();
            // candle
            let (wv, bv) = (per_layer(&shape, &w, true), per_layer(&shape, &b, false));
            let mv = per_layer(&shape, &mask, true);
            let ln = log_noise.map(|v| candle::Var::from_slice(&[v], 1, &Device::Cpu).unwrap());
            let layers: Vec<(Tensor, Tensor)> = (wv.iter().zip(&mv).zip(&bv))
                .map(|((w, m), b)| {
                    (
                        w.as_tensor().mul(m.as_tensor()).unwrap(),
                        b.as_tensor().clone(),
                    )
                })
                .collect();
            let xt = Tensor::from_slice(&x, (9, widths[0]), &Device::Cpu).unwrap();
            let yt = Tensor::from_slice(&y, 9, &Device::Cpu).unwrap();
            let out = forward(&xt, &layers, &shape).unwrap();
            let mut total = nll(&out, &yt, ln.as_ref()).unwrap();
            for (w, _) in &layers {
                total = (total + (w.sqr().unwrap().sum_all().unwrap() * l2).unwrap()).unwrap();
            }
            let want = f64::from(total.to_scalar::<f32>().unwrap());
            assert!(
                (loss - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "{widths:?}: loss {loss} against {want}"
            );
            let store = total.backward().unwrap();
            let (_, g_b, g_ln) = point.pass.grads();
            assert_close("∂/∂w", &point.grad, &grad_of(&store, &wv));
            assert_close("∂/∂b", g_b, &grad_of(&store, &bv));
            if let Some(v) = &ln {
                assert_close(
                    "∂/∂log σ",
                    &[g_ln.unwrap()],
                    &grad_of(&store, std::slice::from_ref(v)),
                );
            }
            assert!(
                point
                    .grad
                    .iter()
                    .zip(&mask)
                    .all(|(g, m)| *m == 1.0 || *g == 0.0)
            );
        }
    }

    /// The Gaussian step's loss and gradients equal candle's autograd on the graph
    /// `NLL(f(x; m·(μ + softplus(ρ)·ε), μ_b + softplus(ρ_b)·ε_b)) + c·KL`, the same ε.
    #[test]
    fn gaussian_gradients_equal_candles_autograd() {
        let (c, s0) = (0.02, 1.3);
        for (widths, act, regression) in NETS {
            let shape = Shape {
                widths: widths.to_vec(),
                activation: act,
            };
            let mut rng = Pcg64::seed_from_u64(4);
            let mu = normal(shape.weights(), &mut rng);
            let bmu = normal(shape.biases(), &mut rng);
            let mask: Vec<f32> = (0..mu.len()).map(|j| f32::from(j % 3 != 1)).collect();
            let log_noise = regression.then_some(-0.3f32);
            let (x, y) = batch(widths, regression, 9);
            let mut g = Gaussian::new(
                shape.clone(),
                (mu.clone(), mask.clone()),
                bmu.clone(),
                log_noise,
                0.1,
                1e-3,
            );
            // Spread sds, some far below the initial one.
            g.rho = (0..mu.len())
                .map(|j| ((j * 5) % 9) as f32 * 0.8 - 6.0)
                .collect();
            g.bias_rho = (0..bmu.len()).map(|j| (j % 4) as f32 - 3.0).collect();
            g.noise.draw(&shape, false, &mut rng);
            let loss = g.gradients(&x, &y, (c, s0)).unwrap();
            // candle
            let var = |v: &[f32], w| per_layer(&shape, v, w);
            let (muv, rhov) = (var(&mu, true), var(&g.rho, true));
            let (bmuv, brhov) = (var(&bmu, false), var(&g.bias_rho, false));
            let (mv, ev, ebv) = (
                var(&mask, true),
                var(&g.noise.eps, true),
                var(&g.noise.eps_bias, false),
            );
            let ln = log_noise.map(|v| candle::Var::from_slice(&[v], 1, &Device::Cpu).unwrap());
            let mut layers = Vec::new();
            let mut kl = Tensor::zeros((), candle::DType::F32, &Device::Cpu).unwrap();
            for l in 0..muv.len() {
                let (mu, m) = (muv[l].as_tensor(), mv[l].as_tensor());
                let s = crate::bnn::softplus(rhov[l].as_tensor()).unwrap();
                let sb = crate::bnn::softplus(brhov[l].as_tensor()).unwrap();
                let w = (mu + s.mul(ev[l].as_tensor()).unwrap())
                    .unwrap()
                    .mul(m)
                    .unwrap();
                let b = (bmuv[l].as_tensor() + sb.mul(ebv[l].as_tensor()).unwrap()).unwrap();
                layers.push((w, b));
                let kw = crate::bnn::gaussian_kl(&s, mu, s0).unwrap().mul(m).unwrap();
                let kb = crate::bnn::gaussian_kl(&sb, bmuv[l].as_tensor(), s0).unwrap();
                kl = (kl + kw.sum_all().unwrap() + kb.sum_all().unwrap()).unwrap();
            }
            let xt = Tensor::from_slice(&x, (9, widths[0]), &Device::Cpu).unwrap();
            let yt = Tensor::from_slice(&y, 9, &Device::Cpu).unwrap();
            let out = forward(&xt, &layers, &shape).unwrap();
            let total = (nll(&out, &yt, ln.as_ref()).unwrap() + (kl * c).unwrap()).unwrap();
            let want = f64::from(total.to_scalar::<f32>().unwrap());
            assert!(
                (loss - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "{widths:?}: loss {loss} against {want}"
            );
            let store = total.backward().unwrap();
            let [g_mu, g_rho, g_bmu, g_brho] = &g.grads;
            assert_close("∂/∂μ", g_mu, &grad_of(&store, &muv));
            assert_close("∂/∂ρ", g_rho, &grad_of(&store, &rhov));
            assert_close("∂/∂μ_b", g_bmu, &grad_of(&store, &bmuv));
            assert_close("∂/∂ρ_b", g_brho, &grad_of(&store, &brhov));
            if let Some(v) = &ln {
                let (_, _, g_ln) = g.pass.grads();
                assert_close(
                    "∂/∂log σ",
                    &[g_ln.unwrap()],
                    &grad_of(&store, std::slice::from_ref(v)),
                );
            }
        }
    }

    /// Point steps move the parameters as candle's `AdamW` (decay 0) on the same graph
    /// does, the rate changed between steps.
    #[test]
    fn point_steps_follow_candles_steps() {
        let shape = Shape {
            widths: vec![5, 7, 1],
            activation: Activation::Relu,
        };
        let mut rng = Pcg64::seed_from_u64(4);
        let w = normal(shape.weights(), &mut rng);
        let b = vec![0.1f32; shape.biases()];
        let mask = vec![1f32; w.len()];
        let (x, y) = batch(&shape.widths, true, 16);
        let mut point = Point::new(shape.clone(), (w.clone(), mask), b.clone(), Some(0.0), 5e-3);
        let (wv, bv) = (per_layer(&shape, &w, true), per_layer(&shape, &b, false));
        let ln = candle::Var::from_slice(&[0f32], 1, &Device::Cpu).unwrap();
        let mut vars: Vec<candle::Var> = wv.iter().chain(&bv).cloned().collect();
        vars.push(ln.clone());
        let mut opt = crate::train::adam(vars, 5e-3).unwrap();
        let xt = Tensor::from_slice(&x, (16, 5), &Device::Cpu).unwrap();
        let yt = Tensor::from_slice(&y, 16, &Device::Cpu).unwrap();
        for k in 0..20 {
            let lr = 5e-3 / f64::from(1 + k);
            use candle_nn::Optimizer as _;
            opt.set_learning_rate(lr);
            let layers: Vec<(Tensor, Tensor)> = wv
                .iter()
                .zip(&bv)
                .map(|(w, b)| (w.as_tensor().clone(), b.as_tensor().clone()))
                .collect();
            let out = forward(&xt, &layers, &shape).unwrap();
            let mut total = nll(&out, &yt, Some(&ln)).unwrap();
            for (w, _) in &layers {
                total = (total + (w.sqr().unwrap().sum_all().unwrap() * 0.01).unwrap()).unwrap();
            }
            opt.backward_step(&total).unwrap();
            point.step(&x, &y, 0.01, lr).unwrap();
        }
        let want: Vec<f32> = values_of(&wv);
        for (a, b) in point.weights.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-4, "{a} against {b}");
        }
        let want_ln = ln.as_tensor().to_vec1::<f32>().unwrap()[0];
        assert!((point.log_noise.unwrap() - want_ln).abs() <= 1e-4);
    }

    /// The values of `vars`, flat.
    fn values_of(vars: &[candle::Var]) -> Vec<f32> {
        vars.iter()
            .flat_map(|v| {
                v.as_tensor()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            })
            .collect()
    }
}

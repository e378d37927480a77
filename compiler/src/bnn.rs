//! The spike-and-slab Bayesian neural network of method §1–2, in candle.
//!
//! Every weight w of every layer has `q(γ) = Bernoulli(φ)`, `φ = sigmoid(ξ)`, and
//! `q(w | γ = 1) = N(μ, s²)`, `s = softplus(ρ)`; biases have `q(b) = N(μ_b, s_b²)`. The
//! parameters of all layers live in flat vectors (`μ`, `ρ`, `ξ` of length T, the weight count),
//! so that sampling and the KL term cost a fixed number of tensor operations per step; each
//! layer's matrix is a view (`narrow` + `reshape`) of the sample. Noise comes from the host RNG.

use candle::{D, DType, Device, Tensor, Var};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;

use crate::Result;
use crate::network::{Shape, kaiming_uniform};

/// `log(1 + e^x)` without overflow: `relu(x) + log(1 + e^{−|x|})`.
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    Ok((x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?)?)
}

/// The variational parameters.
pub struct Bnn {
    /// Architecture.
    pub shape: Shape,
    /// Slab means μ, all layers, row-major per layer.
    pub mu: Var,
    /// `s = softplus(ρ)`.
    pub rho: Var,
    /// `φ = sigmoid(ξ)`.
    pub xi: Var,
    /// Bias means.
    pub bias_mu: Var,
    /// Bias `s_b = softplus(ρ_b)`.
    pub bias_rho: Var,
    /// Regression: `log σ_ε` (a point estimate); `None` for classification.
    pub log_noise: Option<Var>,
}

/// Prior hyperparameters.
#[derive(Clone, Copy, Debug)]
pub struct Prior {
    /// Slab standard deviation σ0.
    pub sigma0: f64,
    /// Inclusion probability λ.
    pub inclusion: f64,
}

/// One draw of the weights, as tensors ready for [`forward`](crate::network::forward):
/// `(W, b)` per layer, `W` of shape `(out, in)`, `b` of shape `(out,)`.
pub type Draw = Vec<(Tensor, Tensor)>;

impl Bnn {
    /// Initialises: μ Kaiming-uniform for the activation, ρ = −6, φ = 0.99, bias means 0.
    ///
    /// # Errors
    /// A tensor error.
    pub fn new(shape: Shape, regression: bool, rng: &mut Pcg64) -> Result<Self> {
        let mu = kaiming_uniform(&shape, rng);
        let (t, b) = (shape.weights(), shape.biases());
        let dev = &Device::Cpu;
        let xi0 = (0.99f64 / 0.01).ln() as f32;
        Ok(Self {
            mu: Var::from_vec(mu, t, dev)?,
            rho: Var::from_vec(vec![-6f32; t], t, dev)?,
            xi: Var::from_vec(vec![xi0; t], t, dev)?,
            bias_mu: Var::from_vec(vec![0f32; b], b, dev)?,
            bias_rho: Var::from_vec(vec![-6f32; b], b, dev)?,
            log_noise: if regression {
                Some(Var::from_vec(vec![0f32], 1, dev)?)
            } else {
                None
            },
            shape,
        })
    }

    /// All trainable variables.
    pub fn vars(&self) -> Vec<Var> {
        let mut v = vec![
            self.mu.clone(),
            self.rho.clone(),
            self.xi.clone(),
            self.bias_mu.clone(),
            self.bias_rho.clone(),
        ];
        v.extend(self.log_noise.clone());
        v
    }

    /// A training draw (method §2): `γ̃ = sigmoid((ξ + log u − log(1−u))/τ)` with the hard
    /// straight-through estimator (forward `1[γ̃ > 0.5]`, gradient of `γ̃`), and
    /// `w̃ = γ̃·(μ + s·ε)`; biases `μ_b + s_b·ε_b`.
    ///
    /// # Errors
    /// A tensor error.
    pub fn sample(&self, temperature: f64, rng: &mut Pcg64) -> Result<Draw> {
        let (t, b) = (self.shape.weights(), self.shape.biases());
        let dev = &Device::Cpu;
        let logistic: Vec<f32> = (0..t)
            .map(|_| {
                let u = rng.random::<f32>().clamp(1e-7, 1.0 - 1e-7);
                (u / (1.0 - u)).ln()
            })
            .collect();
        let eps = normal(t, rng);
        let eps_b = normal(b, rng);
        let soft = candle_nn::ops::sigmoid(
            &((self.xi.as_tensor() + Tensor::from_vec(logistic, t, dev)?)? / temperature)?,
        )?;
        let hard = soft.ge(0.5)?.to_dtype(DType::F32)?;
        let gamma = (&soft + (hard - &soft)?.detach())?;
        let s = softplus(&self.rho)?;
        let w = (gamma * (self.mu.as_tensor() + (s * Tensor::from_vec(eps, t, dev)?)?)?)?;
        let bias = (self.bias_mu.as_tensor()
            + (softplus(&self.bias_rho)? * Tensor::from_vec(eps_b, b, dev)?)?)?;
        self.split(&w, &bias)
    }

    /// Cuts flat weight and bias vectors into per-layer tensors.
    ///
    /// # Errors
    /// A tensor error.
    pub fn split(&self, w: &Tensor, bias: &Tensor) -> Result<Draw> {
        let (mut wo, mut bo) = (0, 0);
        let mut layers = Vec::new();
        for (o, i) in self.shape.layers() {
            layers.push((
                w.narrow(0, wo, o * i)?.reshape((o, i))?,
                bias.narrow(0, bo, o)?,
            ));
            wo += o * i;
            bo += o;
        }
        Ok(layers)
    }

    /// KL(q ‖ prior), closed form (method §2), summed over every weight and bias.
    ///
    /// # Errors
    /// A tensor error.
    pub fn kl(&self, prior: Prior) -> Result<Tensor> {
        let (lam, s0) = (prior.inclusion, prior.sigma0);
        let xi = self.xi.as_tensor();
        let log_phi = softplus(&xi.neg()?)?.neg()?;
        let log_not = (&log_phi - xi)?;
        let phi = log_phi.exp()?;
        let not = (1.0 - &phi)?;
        let kl_gamma = ((&phi * (log_phi - lam.ln())?)? + (not * (log_not - (1.0 - lam).ln())?)?)?;
        let s = softplus(&self.rho)?;
        let kl_slab = gaussian_kl(&s, self.mu.as_tensor(), s0)?;
        let kl_w = (kl_gamma + (phi * kl_slab)?)?.sum_all()?;
        let kl_b =
            gaussian_kl(&softplus(&self.bias_rho)?, self.bias_mu.as_tensor(), s0)?.sum_all()?;
        Ok((kl_w + kl_b)?)
    }

    /// The posterior as host arrays.
    ///
    /// # Errors
    /// A tensor error.
    pub fn posterior(&self) -> Result<Posterior> {
        let host = |t: &Tensor| -> Result<Vec<f32>> { Ok(t.to_vec1::<f32>()?) };
        Ok(Posterior {
            shape: self.shape.clone(),
            mu: host(&self.mu)?,
            s: host(&softplus(&self.rho)?)?,
            xi: host(&self.xi)?,
            bias_mu: host(&self.bias_mu)?,
            bias_s: host(&softplus(&self.bias_rho)?)?,
            noise: match &self.log_noise {
                Some(v) => v.exp()?.to_vec1::<f32>()?[0],
                None => 0.0,
            },
        })
    }
}

/// `KL(N(μ, s²) ‖ N(0, σ0²)) = log(σ0/s) + (s² + μ²)/(2σ0²) − 1/2`, elementwise.
///
/// # Errors
/// A tensor error.
pub fn gaussian_kl(s: &Tensor, mu: &Tensor, s0: f64) -> Result<Tensor> {
    let ratio = ((s.sqr()? + mu.sqr()?)? / (2.0 * s0 * s0))?;
    Ok(((s0.ln() - s.log()?)? + ratio)?.affine(1.0, -0.5)?)
}

/// `n` standard normal draws.
pub fn normal(n: usize, rng: &mut Pcg64) -> Vec<f32> {
    (0..n)
        .map(|_| StandardNormal.sample(rng))
        .map(|v: f64| v as f32)
        .collect()
}

/// The trained variational posterior, on the host.
#[derive(Clone, Debug)]
pub struct Posterior {
    /// Architecture.
    pub shape: Shape,
    /// Slab means.
    pub mu: Vec<f32>,
    /// Slab standard deviations.
    pub s: Vec<f32>,
    /// Inclusion logits ξ (φ = sigmoid(ξ)).
    pub xi: Vec<f32>,
    /// Bias means.
    pub bias_mu: Vec<f32>,
    /// Bias standard deviations.
    pub bias_s: Vec<f32>,
    /// Regression noise `σ_ε` on the standardised scale (0 for classification).
    pub noise: f32,
}

/// Negative log-likelihood per row, averaged: Gaussian with `log σ_ε` (regression, targets
/// standardised) or softmax cross-entropy (classification, targets class indices).
///
/// # Errors
/// A tensor error.
pub fn nll(out: &Tensor, y: &Tensor, log_noise: Option<&Var>) -> Result<Tensor> {
    match log_noise {
        Some(ls) => {
            let ls = ls.as_tensor();
            let sq = (out.squeeze(D::Minus1)? - y)?.sqr()?;
            let scaled = sq.broadcast_mul(&(ls * -2.0)?.exp()?)?;
            let per_row = (scaled * 0.5)?.broadcast_add(ls)?;
            Ok((per_row.mean_all()? + 0.5 * (2.0 * std::f64::consts::PI).ln())?)
        }
        None => Ok(candle_nn::loss::cross_entropy(
            out,
            &y.to_dtype(DType::U32)?,
        )?),
    }
}

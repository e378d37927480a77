//! Point-estimate networks: the dense baseline (L2-regularised MLP) and the MAP fine-tuning
//! of a pruned network (the slab prior as L2), both with Adam on `mean NLL + Σ w²/(2σ0²n)`.

use candle::{Device, Tensor, Var};
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64;
use spikeslab_runtime::Activation;

use crate::bnn::{Draw, Shape, activate, nll};
use crate::prune::Pruned;
use crate::train::{Progress, Rows, adam};
use crate::{Error, Result};
use candle_nn::Optimizer as _;

/// Optimisation settings of [`Mlp::fit`].
#[derive(Clone, Copy, Debug)]
pub struct Fit {
    /// Passes over the rows.
    pub epochs: usize,
    /// Rows per step.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Prior standard deviation: the L2 weight is `1/(2σ0²n)`.
    pub sigma0: f64,
}

/// A network with point weights; `mask` (0/1 per weight) fixes pruned edges at zero.
pub struct Mlp {
    /// Architecture (of the kept network).
    pub shape: Shape,
    /// `(W, b)` per layer.
    pub layers: Vec<(Var, Var)>,
    /// Per layer, the 0/1 mask of trainable edges.
    pub masks: Vec<Tensor>,
    /// Regression: `log σ_ε`.
    pub log_noise: Option<Var>,
}

impl Mlp {
    /// A dense network with Kaiming-uniform weights and zero biases.
    ///
    /// # Errors
    /// A tensor error.
    pub fn dense(shape: Shape, regression: bool, rng: &mut Pcg64) -> Result<Self> {
        let gain = if shape.activation == Activation::Relu {
            2f64.sqrt()
        } else {
            1.0
        };
        let mut weights = Vec::new();
        for (o, i) in shape.layers() {
            let bound = gain * (3.0 / i as f64).sqrt();
            weights.push(
                (0..o * i)
                    .map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
                    .collect(),
            );
        }
        let biases: Vec<Vec<f32>> = shape.widths[1..].iter().map(|&o| vec![0.0; o]).collect();
        let masks = shape.layers().map(|(o, i)| vec![1.0; o * i]).collect();
        let weights: Vec<Vec<f32>> = weights;
        Self::from_host(shape, &weights, &biases, masks, regression.then_some(0.0))
    }

    /// Starts from a pruned network: `edges` trains the kept edges only; otherwise every edge
    /// between kept nodes is trainable (pruned ones start at zero).
    ///
    /// # Errors
    /// A tensor error.
    pub fn from_pruned(
        p: &Pruned,
        activation: Activation,
        edges: bool,
        noise: Option<f32>,
    ) -> Result<Self> {
        let shape = Shape {
            widths: p.widths(),
            activation,
        };
        let masks = p
            .weights
            .iter()
            .map(|w| {
                w.iter()
                    .map(|&v| if !edges || v != 0.0 { 1.0 } else { 0.0 })
                    .collect()
            })
            .collect();
        Self::from_host(shape, &p.weights, &p.biases, masks, noise.map(|s| s.ln()))
    }

    fn from_host(
        shape: Shape,
        w: &[Vec<f32>],
        b: &[Vec<f32>],
        masks: Vec<Vec<f32>>,
        log_noise: Option<f32>,
    ) -> Result<Self> {
        let dev = &Device::Cpu;
        let mut layers = Vec::new();
        let mut mask_t = Vec::new();
        for ((o, i), ((w, b), m)) in shape.layers().zip(w.iter().zip(b).zip(masks)) {
            layers.push((
                Var::from_slice(w, (o, i), dev)?,
                Var::from_slice(b, o, dev)?,
            ));
            mask_t.push(Tensor::from_vec(m, (o, i), dev)?);
        }
        let log_noise = log_noise
            .map(|v| Var::from_vec(vec![v], 1, dev))
            .transpose()?;
        Ok(Self {
            shape,
            layers,
            masks: mask_t,
            log_noise,
        })
    }

    /// The masked weights as a forward-pass draw.
    ///
    /// # Errors
    /// A tensor error.
    pub fn draw(&self) -> Result<Draw> {
        let layers = self
            .layers
            .iter()
            .zip(&self.masks)
            .map(|((w, b), m)| Ok((w.as_tensor().mul(m)?, b.as_tensor().clone())))
            .collect::<Result<_>>()?;
        Ok(Draw { layers })
    }

    /// Trains with L2 weight `1/(2σ0²n)`.
    ///
    /// # Errors
    /// [`Error::Diverged`] for a non-finite loss; a tensor error.
    pub fn fit(&self, rows: &Rows, f: Fit, rng: &mut Pcg64, progress: &Progress) -> Result<()> {
        let Fit {
            epochs,
            batch,
            lr,
            sigma0,
        } = f;
        let mut vars: Vec<Var> = self
            .layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect();
        vars.extend(self.log_noise.clone());
        let mut opt = adam(vars, lr)?;
        let l2 = 1.0 / (2.0 * sigma0 * sigma0 * rows.len() as f64);
        let mut order: Vec<usize> = (0..rows.len()).collect();
        for epoch in 1..=epochs {
            order.shuffle(rng);
            let mut total = 0f64;
            for idx in order.chunks(batch) {
                let (x, y) = rows.batch(idx)?;
                let draw = self.draw()?;
                let mut h = x;
                let mut penalty = Tensor::zeros((), candle::DType::F32, &Device::Cpu)?;
                for (l, (w, b)) in draw.layers.iter().enumerate() {
                    h = activate(&h.matmul(&w.t()?)?.broadcast_add(b)?, self.shape.act(l))?;
                    penalty = (penalty + w.sqr()?.sum_all()?)?;
                }
                let loss = (nll(&h, &y, self.log_noise.as_ref())? + (penalty * l2)?)?;
                opt.backward_step(&loss)?;
                let v = loss.to_scalar::<f32>()?;
                if !v.is_finite() {
                    return Err(Error::Diverged { epoch, loss: v, lr });
                }
                total += f64::from(v);
            }
            progress.set(
                epoch,
                format!("loss {:.4}", total / order.len().div_ceil(batch) as f64),
            );
        }
        Ok(())
    }

    /// The trained weights back as a [`Pruned`] network with the same kept nodes as `like`.
    ///
    /// # Errors
    /// A tensor error.
    pub fn to_pruned(&self, like: &Pruned) -> Result<Pruned> {
        let draw = self.draw()?;
        let mut p = like.clone();
        for (l, (w, b)) in draw.layers.iter().enumerate() {
            p.weights[l] = w.flatten_all()?.to_vec1::<f32>()?;
            p.biases[l] = b.to_vec1::<f32>()?;
        }
        Ok(p)
    }

    /// Regression noise `σ_ε` (standardised scale), if any.
    ///
    /// # Errors
    /// A tensor error.
    pub fn noise(&self) -> Result<Option<f32>> {
        self.log_noise
            .as_ref()
            .map(|v| Ok(v.exp()?.to_vec1::<f32>()?[0]))
            .transpose()
    }
}

//! The host network: the one value between candle and the blob format.
//!
//! The pruned model, the fine-tuned model and both baselines are [`Network`]s. Weights are
//! row-major `out × in` matrices with pruned edges exactly zero; the blob's packing (dense
//! blocks or sparse rows) is chosen when it is encoded ([`crate::blob::encode`]).

use candle::{Device, Tensor};
use rand::RngExt;
use rand_pcg::Pcg64;
use spikeslab_runtime::{Activation, Task};

use crate::Result;
use crate::dataset::Dataset;

/// Layer widths from the inputs to the outputs, and the hidden activation.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// `[inputs, hidden..., outputs]`.
    pub widths: Vec<usize>,
    /// Activation of the hidden layers (the output layer is identity).
    pub activation: Activation,
}

impl Shape {
    /// `(out, in)` of each layer.
    pub fn layers(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.widths.windows(2).map(|w| (w[1], w[0]))
    }

    /// Number of weights T.
    pub fn weights(&self) -> usize {
        self.layers().map(|(o, i)| o * i).sum()
    }

    /// Number of biases.
    pub fn biases(&self) -> usize {
        self.widths[1..].iter().sum()
    }

    /// Activation of layer `l`.
    pub fn act(&self, l: usize) -> Activation {
        if l + 2 == self.widths.len() {
            Activation::Identity
        } else {
            self.activation
        }
    }
}

/// Kaiming-uniform weights of every layer, flat in layer order: `U(±g·√(3/in))` with gain
/// `g` = √2 (relu), 5/3 (tanh) or 1 (sigmoid).
pub fn kaiming_uniform(shape: &Shape, rng: &mut Pcg64) -> Vec<f32> {
    let gain = match shape.activation {
        Activation::Relu => 2f64.sqrt(),
        Activation::Tanh => 5.0 / 3.0,
        Activation::Sigmoid | Activation::Identity => 1.0,
    };
    let mut w = Vec::with_capacity(shape.weights());
    for (o, i) in shape.layers() {
        let bound = gain * (3.0 / i as f64).sqrt();
        w.extend((0..o * i).map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32));
    }
    w
}

/// One layer: `h ← act(W·h + b)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Activation after the affine map.
    pub activation: Activation,
    /// Row-major `out × in` weights, pruned edges exactly 0.
    pub weights: Vec<f32>,
    /// Bias of each node.
    pub bias: Vec<f32>,
    /// The posterior variances of the weights and biases (the stored values being their
    /// means), or `None` for a point estimate.
    pub variance: Option<Variance>,
}

/// The posterior variances of a layer's parameters, independent across parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Variance {
    /// Row-major `out × in`, as the weights (0 where an edge is pruned).
    pub weights: Vec<f32>,
    /// Per bias.
    pub bias: Vec<f32>,
    /// When set, every weight's variance is one of these [`spikeslab_runtime::TABLE4`] entries, and the
    /// blob stores it as a 4-bit code (`table4`, [`crate::posterior::coded`]).
    pub table: Option<Vec<f32>>,
}

impl Layer {
    /// The layers of a dense network of `shape`, Kaiming-uniform weights ([`kaiming_uniform`]),
    /// biases 0.
    pub fn fresh(shape: &Shape, rng: &mut Pcg64) -> Vec<Self> {
        let w = kaiming_uniform(shape, rng);
        let mut at = 0;
        shape
            .layers()
            .enumerate()
            .map(|(l, (o, i))| {
                at += o * i;
                Self {
                    activation: shape.act(l),
                    weights: w[at - o * i..at].to_vec(),
                    bias: vec![0.0; o],
                    variance: None,
                }
            })
            .collect()
    }

    /// Nodes of the layer.
    pub fn width(&self) -> usize {
        self.bias.len()
    }

    /// Non-zero weights.
    pub fn edges(&self) -> usize {
        self.weights.iter().filter(|&&w| w != 0.0).count()
    }
}

/// A point-estimate network on raw features.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Regression or classification.
    pub task: Task,
    /// Names of all raw feature columns, in order (the model's feature vector).
    pub feature_names: Vec<String>,
    /// Raw feature index of each network input.
    pub inputs: Vec<usize>,
    /// Mean of each input.
    pub input_mean: Vec<f32>,
    /// Standard deviation of each input (inputs enter as `(x − mean)/std`).
    pub input_std: Vec<f32>,
    /// Hidden layers, then the output layer.
    pub layers: Vec<Layer>,
    /// Regression: the target's mean and standard deviation (outputs are `y·std + mean`).
    pub target: (f32, f32),
    /// The target column's name.
    pub target_name: String,
    /// Classification: the target value of each output, in order.
    pub classes: Vec<f32>,
    /// Regression: the noise standard deviation `σ_ε` on the standardised scale.
    pub noise: Option<f32>,
    /// PIPs of the inputs and hidden nodes (empty for networks without a posterior).
    pub pips: Vec<f32>,
}

impl Network {
    /// A network on `data`'s columns `columns` (indices into [`Dataset::columns`]).
    pub fn on(data: &Dataset, columns: &[usize], layers: Vec<Layer>, noise: Option<f32>) -> Self {
        Self {
            task: data.task,
            feature_names: data.names.clone(),
            inputs: columns.iter().map(|&j| data.columns[j]).collect(),
            input_mean: columns.iter().map(|&j| data.mean[j]).collect(),
            input_std: columns.iter().map(|&j| data.std[j]).collect(),
            layers,
            target: data.target,
            target_name: data.target_name.clone(),
            classes: data.classes.clone(),
            noise: if data.task == Task::Regression {
                noise
            } else {
                None
            },
            pips: Vec::new(),
        }
    }

    /// A dense network of `shape` on every column of `data`, Kaiming-initialised, biases 0.
    pub fn init(data: &Dataset, shape: &Shape, rng: &mut Pcg64) -> Self {
        let all: Vec<usize> = (0..data.columns.len()).collect();
        Self::on(data, &all, Layer::fresh(shape, rng), Some(1.0))
    }

    /// Widths of the network, inputs first.
    pub fn widths(&self) -> Vec<usize> {
        std::iter::once(self.inputs.len())
            .chain(self.layers.iter().map(Layer::width))
            .collect()
    }

    /// Its shape (the hidden activation of the first layer).
    pub fn shape(&self) -> Shape {
        Shape {
            widths: self.widths(),
            activation: self.layers[0].activation,
        }
    }

    /// Non-zero weights.
    pub fn edges(&self) -> usize {
        self.layers.iter().map(Layer::edges).sum()
    }

    /// `(W, b)` of each layer as tensors.
    ///
    /// # Errors
    /// A tensor error.
    pub fn tensors(&self) -> Result<Vec<(Tensor, Tensor)>> {
        let dev = &Device::Cpu;
        let mut i = self.inputs.len();
        self.layers
            .iter()
            .map(|l| {
                let o = l.width();
                let t = (
                    Tensor::from_slice(&l.weights, (o, i), dev)?,
                    Tensor::from_slice(&l.bias, o, dev)?,
                );
                i = o;
                Ok(t)
            })
            .collect()
    }

    /// Keeps, per node layer (inputs first; the outputs are all kept), the nodes at the
    /// positions `keep[l]`, with every weight between kept nodes.
    pub fn restrict(&self, keep: &[Vec<usize>]) -> Self {
        let widths = self.widths();
        let node = |l: usize| -> Vec<usize> {
            keep.get(l)
                .cloned()
                .unwrap_or_else(|| (0..widths[l]).collect())
        };
        let layers = self
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let (rows, cols) = (node(l + 1), node(l));
                let in_width = widths[l];
                Layer {
                    activation: layer.activation,
                    weights: rows
                        .iter()
                        .flat_map(|&r| cols.iter().map(move |&c| layer.weights[r * in_width + c]))
                        .collect(),
                    bias: rows.iter().map(|&r| layer.bias[r]).collect(),
                    variance: None,
                }
            })
            .collect();
        let inputs = node(0);
        Self {
            inputs: inputs.iter().map(|&j| self.inputs[j]).collect(),
            input_mean: inputs.iter().map(|&j| self.input_mean[j]).collect(),
            input_std: inputs.iter().map(|&j| self.input_std[j]).collect(),
            layers,
            pips: Vec::new(),
            ..self.clone()
        }
    }
}

/// Applies an activation to a tensor.
///
/// # Errors
/// A tensor error.
pub fn activate(t: &Tensor, act: Activation) -> Result<Tensor> {
    Ok(match act {
        Activation::Identity => t.clone(),
        Activation::Relu => t.relu()?,
        Activation::Tanh => t.tanh()?,
        Activation::Sigmoid => candle_nn::ops::sigmoid(t)?,
    })
}

/// An activation of one host value (what a constant hidden node outputs).
pub fn act_host(x: f32, act: Activation) -> f32 {
    match act {
        Activation::Identity => x,
        Activation::Relu => x.max(0.0),
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
    }
}

/// The forward pass of every network in candle: `h ← act_l(h·W_lᵀ + b_l)` per layer, the last
/// layer's output unactivated (regression means, or class logits).
///
/// # Errors
/// A tensor error.
pub fn forward(x: &Tensor, layers: &[(Tensor, Tensor)], shape: &Shape) -> Result<Tensor> {
    let mut h = x.clone();
    for (l, (w, b)) in layers.iter().enumerate() {
        h = activate(&h.matmul(&w.t()?)?.broadcast_add(b)?, shape.act(l))?;
    }
    Ok(h)
}

/// A 3-2-1 relu regression network for unit tests.
#[cfg(test)]
pub(crate) fn fixture() -> Network {
    Network {
        task: Task::Regression,
        feature_names: vec!["a".into(), "b".into(), "c".into()],
        inputs: vec![0, 1, 2],
        input_mean: vec![0.0, 1.0, 2.0],
        input_std: vec![1.0, 2.0, 3.0],
        layers: vec![
            Layer {
                activation: Activation::Relu,
                weights: vec![0.1, 3.0, 0.0, 0.1, 3.0, 2.0],
                bias: vec![0.0, 0.1],
                variance: None,
            },
            Layer {
                activation: Activation::Identity,
                weights: vec![1.0, 0.5],
                bias: vec![0.2],
                variance: None,
            },
        ],
        target: (0.0, 1.0),
        target_name: "y".into(),
        classes: vec![],
        noise: Some(1.0),
        pips: vec![],
    }
}

/// The data set of the `[data]` table `text` (seed 1), for unit tests.
#[cfg(test)]
pub(crate) fn test_data(text: &str) -> Dataset {
    let spec = crate::spec::Spec::parse(text, "t", std::path::Path::new("/")).unwrap();
    crate::dataset::prepare(&spec.data, 1).unwrap()
}

/// An untrained relu network of 8 hidden nodes on every input of `d` (seed 1), for unit
/// tests.
#[cfg(test)]
pub(crate) fn untrained_relu(d: &Dataset) -> Network {
    use rand::SeedableRng;
    let shape = Shape {
        widths: vec![d.columns.len(), 8, 1],
        activation: Activation::Relu,
    };
    Network::init(d, &shape, &mut Pcg64::seed_from_u64(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restrict_keeps_the_named_nodes_and_their_weights() {
        let r = fixture().restrict(&[vec![1, 2], vec![0]]);
        assert_eq!(r.inputs, [1, 2]);
        assert_eq!(r.input_std, [2.0, 3.0]);
        assert_eq!(r.layers[0].weights, [3.0, 0.0]);
        assert_eq!(r.layers[1].weights, [1.0]);
        assert_eq!(r.widths(), [2, 1, 1]);
        assert_eq!(r.edges(), 2);
    }

    #[test]
    fn kaiming_bounds_follow_the_gain() {
        let shape = |activation| Shape {
            widths: vec![12, 40, 1],
            activation,
        };
        let mut rng = rand::SeedableRng::seed_from_u64(3);
        for (act, gain) in [
            (Activation::Relu, 2f64.sqrt()),
            (Activation::Tanh, 5.0 / 3.0),
        ] {
            let w = kaiming_uniform(&shape(act), &mut rng);
            assert_eq!(w.len(), 12 * 40 + 40);
            let first = gain * (3.0f64 / 12.0).sqrt();
            let max = w[..480]
                .iter()
                .fold(0f64, |m, &v| m.max(f64::from(v).abs()));
            assert!(
                max <= first && max > 0.9 * first,
                "{act:?}: {max} vs {first}"
            );
        }
    }

    #[test]
    fn fresh_layers_are_kaiming_weights_for_each_fan_in_and_zero_biases() {
        let shape = Shape {
            widths: vec![3, 5, 2],
            activation: Activation::Tanh,
        };
        let layers = Layer::fresh(&shape, &mut rand::SeedableRng::seed_from_u64(5));
        assert_eq!(layers.len(), 2);
        for (l, (o, i)) in layers.iter().zip([(5, 3), (2, 5)]) {
            assert_eq!((l.width(), l.weights.len()), (o, o * i));
            let bound = (5.0 / 3.0) * (3.0 / i as f32).sqrt();
            assert!(
                l.weights.iter().all(|w| *w != 0.0 && w.abs() <= bound),
                "{:?}",
                l.weights
            );
            assert!(l.bias.iter().all(|b| *b == 0.0) && l.variance.is_none());
        }
        assert_eq!(
            (layers[0].activation, layers[1].activation),
            (Activation::Tanh, shape.act(1))
        );
        // The stream alone decides them.
        let again = Layer::fresh(&shape, &mut rand::SeedableRng::seed_from_u64(5));
        assert_eq!(again, layers);
    }
}

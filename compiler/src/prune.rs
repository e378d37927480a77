//! Pruning (method §4): the emitted network from the posterior and the node PIPs.
//!
//! 1. An edge is kept iff `φ > 0.5` (`ξ > 0`); its weight is the slab mean μ.
//! 2. Inputs and hidden nodes with PIP below the threshold are dropped.
//! 3. To a fixed point: a node with no kept outgoing edge is dropped; a hidden node with no
//!    kept incoming edge is the constant `act(b_k)`, folded into the next layer's biases.
//! 4. The selected features are the inputs that survive.

use spikeslab_runtime::Activation;

use crate::bnn::{Posterior, Shape};
use crate::pip::NodePips;
use crate::{Error, Result};

/// A pruned network on the host: only kept nodes, pruned edges exactly zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Pruned {
    /// Kept node indices (into the full network) of every node layer, inputs first, outputs last.
    pub kept: Vec<Vec<usize>>,
    /// Per layer, the row-major `kept_out × kept_in` weights (0 for pruned edges).
    pub weights: Vec<Vec<f32>>,
    /// Per layer, the biases of the kept nodes (constants folded in).
    pub biases: Vec<Vec<f32>>,
    /// Activation of each layer.
    pub activations: Vec<Activation>,
}

impl Pruned {
    /// Widths of the kept network, inputs first.
    pub fn widths(&self) -> Vec<usize> {
        self.kept.iter().map(Vec::len).collect()
    }

    /// Number of non-zero weights.
    pub fn edges(&self) -> usize {
        self.weights.iter().flatten().filter(|&&w| w != 0.0).count()
    }
}

/// Applies §4 to `post` with node PIPs `pips` (inputs and hidden layers) and threshold `t`.
///
/// # Errors
/// [`Error::NoInputs`] when no input feature survives.
pub fn prune(post: &Posterior, pips: &[NodePips], t: f64) -> Result<Pruned> {
    let shape = &post.shape;
    let layers: Vec<(usize, usize)> = shape.layers().collect();
    let (mut w_off, mut b_off) = (Vec::new(), Vec::new());
    let (mut wo, mut bo) = (0, 0);
    for &(o, i) in &layers {
        w_off.push(wo);
        b_off.push(bo);
        wo += o * i;
        bo += o;
    }
    let kept_edge = |l: usize, o: usize, k: usize| post.xi[w_off[l] + o * layers[l].1 + k] > 0.0;
    let weight = |l: usize, o: usize, k: usize| post.mu[w_off[l] + o * layers[l].1 + k];
    let last = shape.widths.len() - 1;
    let mut alive: Vec<Vec<bool>> = shape.widths.iter().map(|&w| vec![true; w]).collect();
    for (l, p) in pips.iter().enumerate() {
        for (k, &v) in p.pip.iter().enumerate() {
            alive[l][k] = v >= t;
        }
    }
    let mut bias: Vec<Vec<f32>> = layers
        .iter()
        .enumerate()
        .map(|(l, &(o, _))| post.bias_mu[b_off[l]..b_off[l] + o].to_vec())
        .collect();
    loop {
        let mut changed = false;
        for l in 0..last {
            for k in 0..shape.widths[l] {
                if !alive[l][k] {
                    continue;
                }
                let out = (0..shape.widths[l + 1]).any(|o| alive[l + 1][o] && kept_edge(l, o, k));
                if !out {
                    alive[l][k] = false;
                    changed = true;
                    continue;
                }
                if l == 0
                    || (0..shape.widths[l - 1]).any(|i| alive[l - 1][i] && kept_edge(l - 1, k, i))
                {
                    continue;
                }
                let c = crate::bnn::act_host(bias[l - 1][k], shape.act(l - 1));
                for (o, b) in bias[l].iter_mut().enumerate() {
                    if kept_edge(l, o, k) {
                        *b += c * weight(l, o, k);
                    }
                }
                alive[l][k] = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let kept: Vec<Vec<usize>> = alive
        .iter()
        .map(|a| (0..a.len()).filter(|&k| a[k]).collect())
        .collect();
    if kept[0].is_empty() {
        return Err(Error::NoInputs { threshold: t });
    }
    let mut weights = Vec::new();
    let mut biases = Vec::new();
    for l in 0..last {
        let mut w = Vec::with_capacity(kept[l + 1].len() * kept[l].len());
        for &o in &kept[l + 1] {
            w.extend(kept[l].iter().map(|&k| {
                if kept_edge(l, o, k) {
                    weight(l, o, k)
                } else {
                    0.0
                }
            }));
        }
        weights.push(w);
        biases.push(kept[l + 1].iter().map(|&o| bias[l][o]).collect());
    }
    Ok(Pruned {
        kept,
        weights,
        biases,
        activations: (0..last).map(|l| shape.act(l)).collect(),
    })
}

/// Every node of `shape` kept, weights zero: the frame of a dense network.
pub fn full(shape: &Shape) -> Pruned {
    Pruned {
        kept: shape.widths.iter().map(|&w| (0..w).collect()).collect(),
        weights: shape.layers().map(|(o, i)| vec![0.0; o * i]).collect(),
        biases: shape.widths[1..].iter().map(|&o| vec![0.0; o]).collect(),
        activations: (0..shape.widths.len() - 1).map(|l| shape.act(l)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pip::node_pips;

    fn post(xi: Vec<f32>, mu: Vec<f32>, bias: Vec<f32>) -> Posterior {
        Posterior {
            shape: Shape {
                widths: vec![3, 2, 1],
                activation: Activation::Relu,
            },
            s: vec![0.1; mu.len()],
            mu,
            xi,
            bias_s: vec![0.1; bias.len()],
            bias_mu: bias,
            noise: 1.0,
        }
    }

    const ON: f32 = 5.0;
    const OFF: f32 = -5.0;

    #[test]
    fn zero_threshold_keeps_every_node_with_an_edge_path() {
        let p = post(vec![ON; 8], vec![1.0; 8], vec![0.0; 3]);
        let pr = prune(&p, &node_pips(&p, 0.1), 0.0).unwrap();
        assert_eq!(pr.widths(), [3, 2, 1]);
        assert_eq!(pr.edges(), 8);
    }

    #[test]
    fn cascades_and_folds_constant_nodes() {
        // Hidden node 1 has no kept incoming edge: its constant relu(2) · 3 goes to the output bias.
        // Input 2 feeds only hidden node 1, so it goes too.
        let xi = vec![ON, ON, OFF, OFF, OFF, OFF, ON, ON];
        let mu = vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0];
        let p = post(xi, mu, vec![0.0, 2.0, 0.5]);
        let pr = prune(&p, &node_pips(&p, 1e-3), 0.5).unwrap();
        assert_eq!(pr.kept, vec![vec![0, 1], vec![0], vec![0]]);
        assert_eq!(pr.biases[1], vec![0.5 + 2.0 * 3.0]);
        assert_eq!(pr.weights[0], vec![1.0, 1.0]);
    }

    #[test]
    fn no_surviving_input_is_an_error() {
        let p = post(vec![OFF; 8], vec![1.0; 8], vec![0.0; 3]);
        assert!(matches!(
            prune(&p, &node_pips(&p, 0.1), 0.5),
            Err(Error::NoInputs { .. })
        ));
    }

    #[test]
    fn threshold_above_half_drops_weakly_supported_nodes() {
        let logit = |p: f32| (p / (1.0 - p)).ln();
        let mut xi = vec![ON; 8];
        xi[0] = logit(0.6);
        xi[3] = logit(0.6);
        let p = post(xi, vec![1.0; 8], vec![0.0; 3]);
        let pips = node_pips(&p, 0.1);
        assert_eq!(prune(&p, &pips, 0.5).unwrap().widths(), [3, 2, 1]);
        assert_eq!(prune(&p, &pips, 0.9).unwrap().kept[0], vec![1, 2]);
    }
}

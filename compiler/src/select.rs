//! The third stage, pruning (method §4): node PIPs, then the network of the kept nodes.
//!
//! 1. An edge is kept iff `φ > 0.5` (`ξ > 0`); its weight is the slab mean μ.
//! 2. Inputs and hidden nodes with PIP below the threshold are dropped.
//! 3. To a fixed point: a node with no kept outgoing edge is dropped; a hidden node with no
//!    kept incoming edge is the constant `act(b_k)`, folded into the next layer's biases.
//! 4. The selected features are the inputs that survive.

use rand_pcg::Pcg64;

use crate::bnn::Posterior;
use crate::dataset::Dataset;
use crate::network::{Layer, Network, act_host, kaiming_uniform};
use crate::pip::{NodePips, node_pips};
use crate::train::Fit;
use crate::{Error, Result};

/// What pruning kept.
#[derive(Clone, Debug)]
pub struct Selection {
    /// PIPs of every node layer but the output (inputs first).
    pub pips: Vec<NodePips>,
    /// Kept node indices (into the full network) of every node layer, inputs (as columns of
    /// the dataset) first, outputs last.
    pub kept: Vec<Vec<usize>>,
    /// The kept network: slab means of kept edges, constant nodes folded into biases.
    pub network: Network,
}

/// Prunes `fit`'s posterior at PIP threshold `t`.
///
/// # Errors
/// [`Error::NoInputs`] when no input feature survives.
pub fn select(fit: &Fit, data: &Dataset, t: f64) -> Result<Selection> {
    let post = &fit.posterior;
    let pips = node_pips(post, fit.prior.inclusion);
    let (kept, layers) = prune(post, &pips, t)?;
    Ok(Selection::of(fit, data, pips, kept, layers))
}

impl Selection {
    /// The selection of the nodes `kept` with `layers` on `data`, its network carrying each
    /// kept input's and hidden node's PIP from `pips`.
    fn of(
        fit: &Fit,
        data: &Dataset,
        pips: Vec<NodePips>,
        kept: Vec<Vec<usize>>,
        layers: Vec<Layer>,
    ) -> Self {
        let mut network = Network::on(data, &kept[0], layers, Some(fit.posterior.noise));
        for (l, k) in kept[..kept.len() - 1].iter().enumerate() {
            network
                .pips
                .extend(k.iter().map(|&k| pips[l].pip[k] as f32));
        }
        Self {
            pips,
            kept,
            network,
        }
    }
}

/// Where the training of the network of every hidden node starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Start {
    /// From [`every_hidden`]'s network: the fit's kept edges and biases.
    Fit,
    /// Afresh: Kaiming-uniform weights for the same widths, biases 0 ([`Layer::fresh`]), as a
    /// dense network starts.
    Fresh,
}

/// The network of every hidden node on the inputs `pruned` kept, for `compile` to weigh
/// against `pruned` on the validation rows ([`crate::spec::HiddenRule::Auto`]); its layers
/// are [`every_hidden_layers`], its PIPs the fit's, each node's own (a node the posterior did
/// not support keeps its low PIP).
pub fn every_hidden(fit: &Fit, data: &Dataset, pruned: &Selection, rng: &mut Pcg64) -> Selection {
    let (kept, layers) = every_hidden_layers(&fit.posterior, &pruned.kept[0], rng);
    Selection::of(fit, data, pruned.pips.clone(), kept, layers)
}

/// The kept nodes (`inputs`, then every node of every other layer) and layers of
/// [`every_hidden`]: the kept edges' slab means (0 for the others) and the bias means, as the
/// fit left them, nothing folded; a hidden node with no kept incoming edge from those nodes
/// (one that pruning dropped or folded into a constant) gets fresh incoming weights
/// (Kaiming-uniform, from `rng`) so that training can use it.
pub fn every_hidden_layers(
    post: &Posterior,
    inputs: &[usize],
    rng: &mut Pcg64,
) -> (Vec<Vec<usize>>, Vec<Layer>) {
    let shape = &post.shape;
    let last = shape.widths.len() - 1;
    let mut kept: Vec<Vec<usize>> = shape.widths.iter().map(|&w| (0..w).collect()).collect();
    kept[0] = inputs.to_vec();
    let fresh = kaiming_uniform(shape, rng);
    let (mut w_at, mut b_at) = (0, 0);
    let mut layers = Vec::with_capacity(last);
    for (l, (o, i)) in shape.layers().enumerate() {
        let edge = |r: usize, c: usize| w_at + r * i + c;
        let mut weights = Vec::with_capacity(kept[l + 1].len() * kept[l].len());
        for &r in &kept[l + 1] {
            let dead = l + 1 < last && !kept[l].iter().any(|&c| post.xi[edge(r, c)] > 0.0);
            weights.extend(kept[l].iter().map(|&c| {
                if dead {
                    fresh[edge(r, c)]
                } else if post.xi[edge(r, c)] > 0.0 {
                    post.mu[edge(r, c)]
                } else {
                    0.0
                }
            }));
        }
        layers.push(Layer {
            activation: shape.act(l),
            weights,
            bias: post.bias_mu[b_at..b_at + o].to_vec(),
            variance: None,
        });
        w_at += o * i;
        b_at += o;
    }
    (kept, layers)
}

/// Applies §4 to `post` with node PIPs `pips` (inputs and hidden layers) and threshold `t`:
/// the kept nodes of every node layer and the kept layers.
///
/// # Errors
/// [`Error::NoInputs`] when no input feature survives.
pub fn prune(post: &Posterior, pips: &[NodePips], t: f64) -> Result<(Vec<Vec<usize>>, Vec<Layer>)> {
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
                let c = act_host(bias[l - 1][k], shape.act(l - 1));
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
    let mut layers = Vec::new();
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
        layers.push(Layer {
            activation: shape.act(l),
            weights: w,
            bias: kept[l + 1].iter().map(|&o| bias[l][o]).collect(),
            variance: None,
        });
    }
    Ok((kept, layers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Shape;
    use spikeslab_runtime::Activation;

    fn widths(p: &(Vec<Vec<usize>>, Vec<Layer>)) -> Vec<usize> {
        p.0.iter().map(Vec::len).collect()
    }

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
        assert_eq!(widths(&pr), [3, 2, 1]);
        assert_eq!(pr.1.iter().map(Layer::edges).sum::<usize>(), 8);
    }

    #[test]
    fn cascades_and_folds_constant_nodes() {
        // Hidden node 1 has no kept incoming edge: its constant relu(2) · 3 goes to the output bias.
        // Input 2 feeds only hidden node 1, so it goes too.
        let xi = vec![ON, ON, OFF, OFF, OFF, OFF, ON, ON];
        let mu = vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0];
        let p = post(xi, mu, vec![0.0, 2.0, 0.5]);
        let pr = prune(&p, &node_pips(&p, 1e-3), 0.5).unwrap();
        assert_eq!(pr.0, vec![vec![0, 1], vec![0], vec![0]]);
        assert_eq!(pr.1[1].bias, vec![0.5 + 2.0 * 3.0]);
        assert_eq!(pr.1[0].weights, vec![1.0, 1.0]);
    }

    #[test]
    fn every_hidden_node_keeps_the_inputs_and_revives_dropped_nodes() {
        // As above: hidden node 1 has no kept incoming edge, input 2 feeds only it.
        let xi = vec![ON, ON, OFF, OFF, OFF, OFF, ON, ON];
        let mu = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let p = post(xi, mu, vec![0.0, 2.0, 0.5]);
        let pruned = prune(&p, &node_pips(&p, 1e-3), 0.5).unwrap();
        let mut rng = Pcg64::new(1, 1);
        let (kept, layers) = every_hidden_layers(&p, &pruned.0[0], &mut rng);
        assert_eq!(kept, vec![vec![0, 1], vec![0, 1], vec![0]]);
        // Node 0 keeps its slab means; node 1 gets fresh weights within the Kaiming bound.
        assert_eq!(layers[0].weights[..2], [1.0, 2.0]);
        let bound = 2f32.sqrt() * (3.0f32 / 3.0).sqrt();
        assert!(
            layers[0].weights[2..]
                .iter()
                .all(|w| *w != 0.0 && w.abs() <= bound),
            "{:?}",
            layers[0].weights
        );
        // Nothing folded: every bias is the fit's, every kept edge's slab mean stays.
        assert_eq!(layers[0].bias, vec![0.0, 2.0]);
        assert_eq!(layers[1].bias, vec![0.5]);
        assert_eq!(layers[1].weights, vec![7.0, 8.0]);
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
        assert_eq!(widths(&prune(&p, &pips, 0.5).unwrap()), [3, 2, 1]);
        assert_eq!(prune(&p, &pips, 0.9).unwrap().0[0], vec![1, 2]);
    }
}

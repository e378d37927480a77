//! Node posterior inclusion probabilities (method §3).
//!
//! A node is in the model when at least one of its outgoing edges is:
//! `PIP(k) = 1 − Π_m (1 − φ_{k→m})`, computed as `−expm1(Σ_m log sigmoid(−ξ_{k→m}))` in f64 so
//! that it neither underflows nor rounds to 1 early.

use serde::Serialize;

use crate::bnn::Posterior;

/// `log sigmoid(x) = −softplus(−x)`, stable for any x.
pub fn log_sigmoid(x: f64) -> f64 {
    -((-x).max(0.0) + (-x.abs()).exp().ln_1p())
}

/// The PIPs of one layer of nodes (inputs, or a hidden layer).
#[derive(Clone, Debug, Serialize)]
pub struct NodePips {
    /// PIP of each node.
    pub pip: Vec<f64>,
    /// Inclusion probability of each node under the prior alone, `1 − (1 − λ)^m`.
    pub prior: Vec<f64>,
}

/// PIPs of every node layer but the output: `[inputs, hidden 1, ...]`.
pub fn node_pips(post: &Posterior, inclusion: f64) -> Vec<NodePips> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (o, i) in post.shape.layers() {
        let mut log_none = vec![0f64; i];
        for r in 0..o {
            for (k, acc) in log_none.iter_mut().enumerate() {
                *acc += log_sigmoid(-f64::from(post.xi[offset + r * i + k]));
            }
        }
        let prior = 1.0 - (1.0 - inclusion).powi(o as i32);
        out.push(NodePips {
            pip: log_none.iter().map(|l| -l.exp_m1()).collect(),
            prior: vec![prior; i],
        });
        offset += o * i;
    }
    out
}

/// Relevance of each input: `Σ_m φ_{j→m}·|μ_{j→m}|`, normalised to sum to 1.
pub fn input_relevance(post: &Posterior) -> Vec<f64> {
    let (o, i) = post.shape.layers().next().unwrap_or((0, 0));
    let mut r = vec![0f64; i];
    for row in 0..o {
        for (k, acc) in r.iter_mut().enumerate() {
            let e = row * i + k;
            *acc += log_sigmoid(f64::from(post.xi[e])).exp() * f64::from(post.mu[e]).abs();
        }
    }
    let total: f64 = r.iter().sum();
    if total > 0.0 {
        r.iter_mut().for_each(|v| *v /= total);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Shape;
    use spikeslab_runtime::Activation;

    #[test]
    fn log_sigmoid_is_stable() {
        assert!((log_sigmoid(0.0) - 0.5f64.ln()).abs() < 1e-12);
        assert!((log_sigmoid(-800.0) + 800.0).abs() < 1e-9);
        assert!(log_sigmoid(800.0).abs() < 1e-300);
    }

    #[test]
    fn pip_combines_outgoing_edges() {
        let logit = |p: f64| (p / (1.0 - p)).ln() as f32;
        let post = Posterior {
            shape: Shape {
                widths: vec![2, 2, 1],
                activation: Activation::Relu,
            },
            mu: vec![1.0; 6],
            s: vec![0.1; 6],
            xi: vec![
                logit(0.5),
                logit(0.001),
                logit(0.5),
                logit(0.001),
                logit(0.9),
                -200.0,
            ],
            bias_mu: vec![0.0; 3],
            bias_s: vec![0.1; 3],
            noise: 1.0,
        };
        let p = node_pips(&post, 0.1);
        assert!((p[0].pip[0] - 0.75).abs() < 1e-6, "{:?}", p[0].pip);
        assert!((p[0].pip[1] - (1.0 - 0.999f64 * 0.999)).abs() < 1e-6);
        assert!((p[1].pip[0] - 0.9).abs() < 1e-6);
        assert!(
            p[1].pip[1] > 0.0 && p[1].pip[1] < 1e-80,
            "tiny PIPs do not underflow: {}",
            p[1].pip[1]
        );
        assert!((p[0].prior[0] - 0.19).abs() < 1e-12);
    }
}

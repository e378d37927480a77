//! The baselines of the method's evaluation: a dense MLP of the same architecture trained with
//! L2 (the slab prior) for the same epochs, and structured magnitude pruning of that MLP to
//! the same number of kept nodes per layer (the nodes with the largest L2 norm of outgoing
//! weights), fine-tuned for the same epochs.

use rand::SeedableRng;
use rand_pcg::Pcg64;

use crate::Result;
use crate::bnn::Shape;
use crate::compile::pruned_metrics;
use crate::mlp::{Fit, Mlp};
use crate::prepare::Prepared;
use crate::prune::{Pruned, full};
use crate::report::SplitMetrics;
use crate::spec::{Spec, TaskKind};
use crate::train::{Progress, Rows};

/// Metrics of both baselines.
#[derive(Clone, Debug)]
pub struct Baselines {
    /// The dense MLP.
    pub dense: SplitMetrics,
    /// The magnitude-pruned, fine-tuned MLP.
    pub magnitude: SplitMetrics,
    /// Kept nodes of the magnitude-pruned MLP, per node layer.
    pub magnitude_kept: Vec<Vec<usize>>,
}

/// Trains the dense baseline, then prunes it to `kept[l]` nodes in every node layer but the
/// output (inputs first) and fine-tunes it.
///
/// # Errors
/// A tensor error or divergence.
pub fn baselines(
    spec: &Spec,
    data: &Prepared,
    shape: &Shape,
    kept: &[usize],
    quiet: bool,
) -> Result<Baselines> {
    let mut rng = Pcg64::seed_from_u64(spec.train.seed.wrapping_add(2));
    let regression = spec.task == TaskKind::Regression;
    let fit = Fit {
        epochs: spec.train.epochs,
        batch: spec.train.batch,
        lr: spec.train.learning_rate,
        sigma0: spec.prior.sigma0,
    };
    let mlp = Mlp::dense(shape.clone(), regression, &mut rng)?;
    let progress = Progress::new(fit.epochs, "dense", quiet);
    mlp.fit(&data.train, fit, &mut rng, &progress)?;
    progress.finish();
    let dense_net = mlp.to_pruned(&full(shape))?;
    let noise = mlp.noise()?;
    let dense = split_metrics(data, &dense_net, shape, noise)?;
    let magnitude_net = by_magnitude(&dense_net, kept);
    let tuned = Mlp::from_pruned(&magnitude_net, shape.activation, false, noise)?;
    let progress = Progress::new(fit.epochs, "magnitude", quiet);
    let rows = select_columns(&data.train, &magnitude_net.kept[0]);
    tuned.fit(&rows, fit, &mut rng, &progress)?;
    progress.finish();
    let tuned_net = tuned.to_pruned(&magnitude_net)?;
    let magnitude = split_metrics(data, &tuned_net, shape, tuned.noise()?)?;
    Ok(Baselines {
        dense,
        magnitude,
        magnitude_kept: magnitude_net.kept,
    })
}

fn split_metrics(
    data: &Prepared,
    net: &Pruned,
    shape: &Shape,
    noise: Option<f32>,
) -> Result<SplitMetrics> {
    let on = |rows: &Rows| pruned_metrics(data, net, shape.activation, rows, noise);
    Ok(SplitMetrics {
        validation: (!data.valid.is_empty())
            .then(|| on(&data.valid))
            .transpose()?,
        test: data.test.as_ref().map(on).transpose()?,
    })
}

/// Keeps, in every node layer but the output, the `kept[l]` nodes with the largest L2 norm of
/// outgoing weights (at least one), with every edge between kept nodes.
pub fn by_magnitude(net: &Pruned, kept: &[usize]) -> Pruned {
    let widths = net.widths();
    let mut keep: Vec<Vec<usize>> = Vec::new();
    for l in 0..widths.len() - 1 {
        let (o, i) = (widths[l + 1], widths[l]);
        let mut norms: Vec<(f64, usize)> = (0..i)
            .map(|k| {
                (
                    (0..o)
                        .map(|r| f64::from(net.weights[l][r * i + k]).powi(2))
                        .sum::<f64>(),
                    k,
                )
            })
            .collect();
        norms.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut nodes: Vec<usize> = norms
            .iter()
            .take(kept.get(l).copied().unwrap_or(i).clamp(1, i))
            .map(|n| n.1)
            .collect();
        nodes.sort_unstable();
        keep.push(nodes);
    }
    keep.push((0..widths[widths.len() - 1]).collect());
    let mut weights = Vec::new();
    let mut biases = Vec::new();
    for l in 0..widths.len() - 1 {
        let i = widths[l];
        weights.push(
            keep[l + 1]
                .iter()
                .flat_map(|&r| keep[l].iter().map(move |&k| (r, k)))
                .map(|(r, k)| net.weights[l][r * i + k])
                .collect(),
        );
        biases.push(keep[l + 1].iter().map(|&r| net.biases[l][r]).collect());
    }
    Pruned {
        kept: keep,
        weights,
        biases,
        activations: net.activations.clone(),
    }
}

/// Rows restricted to the columns `cols`.
pub fn select_columns(rows: &Rows, cols: &[usize]) -> Rows {
    Rows {
        x: rows
            .x
            .chunks(rows.d)
            .flat_map(|r| cols.iter().map(|&j| r[j]))
            .collect(),
        y: rows.y.clone(),
        d: cols.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spikeslab_runtime::Activation;

    #[test]
    fn keeps_the_nodes_with_the_largest_outgoing_norm() {
        let net = Pruned {
            kept: vec![vec![0, 1, 2], vec![0, 1], vec![0]],
            weights: vec![vec![0.1, 3.0, 0.0, 0.1, 3.0, 2.0], vec![1.0, 0.5]],
            biases: vec![vec![0.0, 0.1], vec![0.2]],
            activations: vec![Activation::Relu, Activation::Identity],
        };
        let p = by_magnitude(&net, &[2, 1]);
        assert_eq!(p.kept, vec![vec![1, 2], vec![0], vec![0]]);
        assert_eq!(p.weights[0], vec![3.0, 0.0]);
        assert_eq!(p.weights[1], vec![1.0]);
        assert_eq!(p.biases, vec![vec![0.0], vec![0.2]]);
    }
}

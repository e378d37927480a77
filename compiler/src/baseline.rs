//! The baselines of the method's evaluation: a dense network of the same architecture trained
//! with L2 (the slab prior) for the same epochs, and structured magnitude pruning of it to the
//! same number of kept nodes per layer (the nodes with the largest L2 norm of outgoing
//! weights), fine-tuned for the same epochs.

use rand::SeedableRng;
use rand_pcg::Pcg64;

use crate::Result;
use crate::dataset::Dataset;
use crate::network::Network;
use crate::plan::Settings;
use crate::train::{Bars, Schedule};
use crate::tune::{Mask, held_out_noise, train_point};

/// Both baselines.
#[derive(Clone, Debug)]
pub struct Baselines {
    /// The dense network.
    pub dense: Network,
    /// The magnitude-pruned, fine-tuned network.
    pub magnitude: Network,
}

/// Trains the dense baseline of `s` on `data`, then prunes it to `kept[l]` nodes in every
/// node layer but the output (inputs first) and fine-tunes it.
///
/// # Errors
/// A tensor error or divergence.
pub fn baselines(data: &Dataset, s: &Settings, kept: &[usize], bars: &Bars) -> Result<Baselines> {
    let mut rng = Pcg64::seed_from_u64(s.seed.wrapping_add(2));
    let shape = s.shape(data);
    let schedule = Schedule {
        epochs: s.epochs,
        batch: s.batch,
        lr: s.learning_rate,
    };
    let init = Network::init(data, &shape, &mut rng);
    let dense = train_point(
        &init,
        data,
        Mask::All,
        schedule,
        s.sigma0,
        &mut rng,
        &bars.bar(s.epochs, "dense"),
    )?;
    let pruned = dense.restrict(&by_magnitude(&dense, kept));
    let magnitude = train_point(
        &pruned,
        data,
        Mask::All,
        schedule,
        s.sigma0,
        &mut rng,
        &bars.bar(s.epochs, "magnitude"),
    )?;
    // As the emitted network's: the noise of the validation rows.
    Ok(Baselines {
        dense: held_out_noise(dense, data)?,
        magnitude: held_out_noise(magnitude, data)?,
    })
}

/// Per node layer but the output, the `kept[l]` nodes (at least one) with the largest L2 norm
/// of outgoing weights, in index order.
pub fn by_magnitude(net: &Network, kept: &[usize]) -> Vec<Vec<usize>> {
    let widths = net.widths();
    (0..widths.len() - 1)
        .map(|l| {
            let (o, i) = (widths[l + 1], widths[l]);
            let w = &net.layers[l].weights;
            let mut norms: Vec<(f64, usize)> = (0..i)
                .map(|k| {
                    (
                        (0..o).map(|r| f64::from(w[r * i + k]).powi(2)).sum::<f64>(),
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
            nodes
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_nodes_with_the_largest_outgoing_norm() {
        let net = crate::network::fixture();
        let keep = by_magnitude(&net, &[2, 1]);
        assert_eq!(keep, vec![vec![1, 2], vec![0]]);
        let p = net.restrict(&keep);
        assert_eq!(p.layers[0].weights, vec![3.0, 0.0]);
        assert_eq!(p.layers[1].weights, vec![1.0]);
        assert_eq!(p.layers[0].bias, vec![0.0]);
        assert_eq!(p.layers[1].bias, vec![0.2]);
    }
}

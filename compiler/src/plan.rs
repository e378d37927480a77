//! What `compile` trains: the spec's settings with every choice it left open made for the
//! data, one [`Settings`] per candidate λ.
//!
//! Choices, each used only where the spec is silent:
//! - λ: every value of the grid (`inclusion = "auto"`: 0.01, 0.1, 0.5), decided on the
//!   validation rows by [`crate::spec::Rule`]; `"bai"` is Bai et al.'s rate.
//! - batch: 128, or every training row when there are fewer.
//! - epochs: [`STEP_BUDGET`] steps, rounded to whole epochs, kept within 160..=2000 epochs.
//! - KL warm-up: linear over the first quarter of the epochs.
//! - fine-tuning: the kept nodes reconnected (`nodes`) for as many epochs as training.
//! - hidden nodes (`prune.hidden = "auto"`): the PIPs', or every hidden node on the kept
//!   inputs when that fits the validation rows clearly better (`compile`'s
//!   [`crate::compile::every_hidden_wins`]), trained from the fit or afresh, whichever start
//!   fits the validation rows better.
//!
//! These are what the UCI evaluation (E6) chose on the validation rows of split index 1 of
//! energy, concrete and Boston; the README gives the measurements.

use serde::Serialize;
use spikeslab_runtime::Activation;

use crate::dataset::Dataset;
use crate::network::Shape;
use crate::spec::{Finetune, Inclusion, Spec, bai_inclusion};
use crate::{Error, Result};

/// Optimisation steps that the default epoch count aims at.
pub const STEP_BUDGET: usize = 8000;
/// Fewest epochs chosen.
pub const MIN_EPOCHS: usize = 160;
/// Most epochs chosen.
pub const MAX_EPOCHS: usize = 2000;
/// The default batch.
pub const BATCH: usize = 128;

/// Every setting of one candidate, nothing left open.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// Slab standard deviation σ0.
    pub sigma0: f64,
    /// Prior inclusion probability λ.
    pub inclusion: f64,
    /// Training epochs.
    pub epochs: usize,
    /// Rows per step.
    pub batch: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Binary-concrete temperature.
    pub temperature: f64,
    /// Epochs of linear KL warm-up.
    pub kl_warmup: usize,
    /// Seed of initialisation, shuffling and noise.
    pub seed: u64,
    /// PIP threshold.
    pub threshold: f64,
    /// How the kept network is fine-tuned.
    pub finetune: Finetune,
    /// Fine-tuning epochs.
    pub finetune_epochs: usize,
}

impl Settings {
    /// The full network's shape on `data`: its columns, the hidden widths, its outputs.
    pub fn shape(&self, data: &Dataset) -> Shape {
        let mut widths = vec![data.columns.len()];
        widths.extend(&self.hidden);
        widths.push(data.outputs());
        Shape {
            widths,
            activation: self.activation,
        }
    }
}

/// Epochs for `rows` training rows in batches of `batch`: [`STEP_BUDGET`] steps, within
/// [`MIN_EPOCHS`]..=[`MAX_EPOCHS`].
pub fn epochs_for(rows: usize, batch: usize) -> usize {
    (STEP_BUDGET * batch / rows.max(1)).clamp(MIN_EPOCHS, MAX_EPOCHS)
}

/// The candidates of `spec` on `data`, in increasing λ (sparsest first).
///
/// # Errors
/// [`Error::Data`] when the training rows are fewer than a batch the spec fixes;
/// [`Error::SpecValue`] for a λ grid without validation rows to decide it.
pub fn candidates(spec: &Spec, data: &Dataset) -> Result<Vec<Settings>> {
    let rows = data.train.len();
    let batch = match spec.train.batch {
        Some(b) if b > rows => {
            return Err(Error::data(
                &data.info.source,
                format!(
                    "{rows} training rows (after holding out {} for validation) is fewer than the batch of {b}; lower `train.batch`",
                    data.valid.len()
                ),
            ));
        }
        Some(b) => b,
        None => BATCH.min(rows),
    };
    let epochs = spec.train.epochs.unwrap_or_else(|| epochs_for(rows, batch));
    let finetune = spec.prune.finetune.unwrap_or(Finetune::Nodes);
    let base = Settings {
        hidden: spec.network.hidden.clone(),
        activation: spec.network.activation,
        sigma0: spec.prior.sigma0,
        inclusion: 0.0,
        epochs,
        batch,
        learning_rate: spec.train.learning_rate,
        temperature: spec.train.temperature,
        kl_warmup: spec.train.kl_warmup.unwrap_or((epochs / 4).max(1)),
        seed: spec.train.seed,
        threshold: spec.prune.threshold,
        finetune,
        finetune_epochs: if finetune == Finetune::None {
            0
        } else {
            spec.prune.finetune_epochs.unwrap_or(epochs)
        },
    };
    let grid = match &spec.prior.inclusion {
        Inclusion::Fixed(l) => vec![*l],
        Inclusion::Bai => vec![bai_inclusion(
            data.columns.len(),
            &spec.network.hidden,
            data.outputs(),
            rows,
        )],
        Inclusion::Grid(g) => {
            if data.valid.is_empty() {
                return Err(Error::SpecValue {
                    path: "spec".into(),
                    key: "prior.inclusion".into(),
                    value: format!("{g:?}"),
                    expected: "a single λ when there are no validation rows (`data.validation` = 0): a grid is decided on them".into(),
                });
            }
            g.clone()
        }
    };
    Ok(grid
        .into_iter()
        .map(|inclusion| Settings {
            inclusion,
            ..base.clone()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_follow_the_step_budget_within_bounds() {
        assert_eq!(epochs_for(1600, 128), 640);
        assert_eq!(epochs_for(100_000, 128), MIN_EPOCHS);
        assert_eq!(epochs_for(100, 100), MAX_EPOCHS);
    }
}

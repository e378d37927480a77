//! Model specs: the TOML files in `models/` that say what to train and how.
//!
//! ```toml
//! name = "demo"
//! task = "regression"                 # or "classification"
//!
//! [data]                              # exactly one of simulate, csv, uci
//! simulate = "e3"                     # e1..e5, see `spikeslab simulate --help`
//! features = 50
//! rows = 2000
//! test_rows = 2000
//! alpha = 2.0
//! seed = 1
//! validation = 0.2                    # fraction of the training rows held out
//!
//! [network]
//! hidden = [50]
//! activation = "relu"                 # relu, tanh, sigmoid
//!
//! [prior]
//! sigma0 = 1.3
//! inclusion = "auto"                  # or a probability, e.g. 0.01
//!
//! [train]
//! epochs = 400
//! batch = 128
//! learning_rate = 5e-3
//! temperature = 0.5
//! kl_warmup = 0                       # epochs of linear KL warm-up
//! seed = 1
//!
//! [prune]
//! threshold = 0.5
//! finetune_epochs = 100
//! finetune = "edges"                  # or "nodes"
//!
//! [budget]
//! max_blob_bytes = 16384
//! max_ram_bytes = 4096
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A whole model spec.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Model name (the blob's file stem); defaults to the spec's file stem.
    #[serde(default)]
    pub name: String,
    /// `regression` or `classification`.
    #[serde(default = "default_task")]
    pub task: TaskKind,
    /// Where the rows come from.
    pub data: DataSpec,
    /// Architecture.
    #[serde(default)]
    pub network: NetworkSpec,
    /// Spike-and-slab prior.
    #[serde(default)]
    pub prior: PriorSpec,
    /// Optimisation.
    #[serde(default)]
    pub train: TrainSpec,
    /// Pruning and fine-tuning.
    #[serde(default)]
    pub prune: PruneSpec,
    /// Size limits the compile must meet.
    #[serde(default)]
    pub budget: BudgetSpec,
}

/// Regression or classification.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Real-valued target.
    Regression,
    /// Class labels.
    Classification,
}

fn default_task() -> TaskKind {
    TaskKind::Regression
}

/// The data source: one of `simulate`, `csv`, `uci`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// A simulated design: `e1` .. `e5`.
    pub simulate: Option<String>,
    /// A CSV file with a header row (relative to the spec).
    pub csv: Option<PathBuf>,
    /// The target column of the CSV.
    pub target: Option<String>,
    /// A CSV of test rows with the same columns (optional).
    pub test_csv: Option<PathBuf>,
    /// A UCI-suite folder (relative to the spec).
    pub uci: Option<PathBuf>,
    /// The UCI split number.
    pub split: Option<usize>,
    /// Simulated features D.
    pub features: Option<usize>,
    /// Simulated training rows.
    pub rows: Option<usize>,
    /// Simulated test rows.
    pub test_rows: Option<usize>,
    /// Simulated signal-to-noise variance ratio.
    pub alpha: Option<f64>,
    /// E1: weight of x2 (x1 gets 1 − psi2).
    pub psi2: Option<f64>,
    /// E2: `linear` or `f`.
    pub g: Option<String>,
    /// Seed of the simulation.
    pub seed: Option<u64>,
    /// Fraction of training rows held out for validation.
    #[serde(default = "default_validation")]
    pub validation: f64,
}

fn default_validation() -> f64 {
    0.2
}

/// Architecture.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSpec {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Hidden activation: `relu`, `tanh`, `sigmoid`.
    pub activation: String,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            hidden: vec![50],
            activation: "relu".into(),
        }
    }
}

/// The spike-and-slab prior.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PriorSpec {
    /// Slab standard deviation σ0.
    pub sigma0: f64,
    /// Prior inclusion probability λ: `"auto"` (Bai's rate) or a number in (0, 1).
    pub inclusion: Inclusion,
}

impl Default for PriorSpec {
    fn default() -> Self {
        Self {
            sigma0: 1.3,
            inclusion: Inclusion::Auto(Auto::Auto),
        }
    }
}

/// `"auto"` or a probability.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Inclusion {
    /// Bai's rate from the architecture and the row count.
    Auto(Auto),
    /// A fixed λ.
    Fixed(f64),
}

/// The word `auto`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Auto {
    /// `auto`.
    Auto,
}

/// Optimisation settings.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSpec {
    /// Passes over the training rows.
    pub epochs: usize,
    /// Rows per step.
    pub batch: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Binary-concrete temperature τ.
    pub temperature: f64,
    /// Epochs of linear KL warm-up (0: none).
    pub kl_warmup: usize,
    /// Seed of every random choice (initialisation, shuffling, noise).
    pub seed: u64,
}

impl Default for TrainSpec {
    fn default() -> Self {
        Self {
            epochs: 400,
            batch: 128,
            learning_rate: 5e-3,
            temperature: 0.5,
            kl_warmup: 0,
            seed: 1,
        }
    }
}

/// Pruning and fine-tuning.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PruneSpec {
    /// Nodes with PIP below this are dropped.
    pub threshold: f64,
    /// Epochs of MAP fine-tuning of the pruned network (0: none).
    pub finetune_epochs: usize,
    /// `edges`: retrain the kept edges; `nodes`: reconnect every edge between kept nodes.
    pub finetune: String,
}

impl Default for PruneSpec {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            finetune_epochs: 0,
            finetune: "edges".into(),
        }
    }
}

/// Size limits.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetSpec {
    /// Largest acceptable blob.
    pub max_blob_bytes: Option<usize>,
    /// Largest acceptable evaluation RAM (activation buffers the model needs, see the report).
    pub max_ram_bytes: Option<usize>,
}

impl Spec {
    /// Reads and checks a spec file; relative data paths become relative to its folder.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Spec`] (syntax, unknown key, with line and column) or
    /// [`Error::SpecValue`] (a value out of range).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut spec: Self = toml::from_str(&text).map_err(|e| Error::Spec {
            path: path.into(),
            message: e.to_string(),
        })?;
        if spec.name.is_empty() {
            spec.name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("model")
                .to_string();
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut spec.data.csv,
            &mut spec.data.test_csv,
            &mut spec.data.uci,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
        spec.check(path)?;
        Ok(spec)
    }

    /// Checks every value's range.
    ///
    /// # Errors
    /// [`Error::SpecValue`] naming the first key out of range.
    pub fn check(&self, path: &Path) -> Result<()> {
        let bad = |key: &str, value: String, expected: &str| {
            Err(Error::SpecValue {
                path: path.into(),
                key: key.into(),
                value,
                expected: expected.into(),
            })
        };
        let d = &self.data;
        let sources = usize::from(d.simulate.is_some())
            + usize::from(d.csv.is_some())
            + usize::from(d.uci.is_some());
        if sources != 1 {
            return bad(
                "data",
                format!("{sources} sources"),
                "exactly one of `simulate`, `csv`, `uci`",
            );
        }
        if d.csv.is_some() && d.target.is_none() {
            return bad(
                "data.target",
                "missing".into(),
                "the name of the target column of the CSV",
            );
        }
        if !(0.0..0.9).contains(&d.validation) {
            return bad(
                "data.validation",
                d.validation.to_string(),
                "a fraction in [0, 0.9)",
            );
        }
        if let Some(a) = d.alpha.filter(|a| !(a.is_finite() && *a > 0.0)) {
            return bad("data.alpha", a.to_string(), "a positive number");
        }
        let n = &self.network;
        if n.hidden.is_empty() || n.hidden.len() >= spikeslab_runtime::MAX_LAYERS {
            return bad(
                "network.hidden",
                format!("{:?}", n.hidden),
                "1 to 7 hidden layers",
            );
        }
        if let Some(w) = n
            .hidden
            .iter()
            .find(|&&w| w == 0 || w > spikeslab_runtime::MAX_WIDTH)
        {
            return bad(
                "network.hidden",
                w.to_string(),
                "widths from 1 to 256 (the runtime's capacity)",
            );
        }
        if crate::bnn::parse_activation(&n.activation).is_none() {
            return bad(
                "network.activation",
                format!("{:?}", n.activation),
                "relu, tanh or sigmoid",
            );
        }
        let p = &self.prior;
        if !(p.sigma0.is_finite() && p.sigma0 > 0.0) {
            return bad("prior.sigma0", p.sigma0.to_string(), "a positive number");
        }
        if let Inclusion::Fixed(l) = p.inclusion
            && !(l > 0.0 && l < 1.0)
        {
            return bad(
                "prior.inclusion",
                l.to_string(),
                "\"auto\" or a probability in (0, 1)",
            );
        }
        let t = &self.train;
        if t.epochs == 0 || t.epochs > 1_000_000 {
            return bad("train.epochs", t.epochs.to_string(), "from 1 to 1000000");
        }
        if t.batch == 0 {
            return bad("train.batch", t.batch.to_string(), "at least 1");
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0 && t.learning_rate < 10.0) {
            return bad(
                "train.learning_rate",
                t.learning_rate.to_string(),
                "in (0, 10)",
            );
        }
        if !(t.temperature.is_finite() && t.temperature > 0.0) {
            return bad(
                "train.temperature",
                t.temperature.to_string(),
                "a positive number",
            );
        }
        let r = &self.prune;
        if !(0.0..=1.0).contains(&r.threshold) {
            return bad(
                "prune.threshold",
                r.threshold.to_string(),
                "a probability in [0, 1]",
            );
        }
        if r.finetune != "edges" && r.finetune != "nodes" {
            return bad(
                "prune.finetune",
                format!("{:?}", r.finetune),
                "\"edges\" or \"nodes\"",
            );
        }
        Ok(())
    }

    /// λ: the fixed value, or Bai's rate `exp(−a)`, `a = log T + 0.1·[(L+1)·log N + log(√n·D)]`.
    pub fn inclusion(&self, inputs: usize, outputs: usize, rows: usize) -> f64 {
        match self.prior.inclusion {
            Inclusion::Fixed(l) => l,
            Inclusion::Auto(_) => bai_inclusion(inputs, &self.network.hidden, outputs, rows),
        }
    }
}

/// Bai et al.'s prior inclusion rate for a network `inputs`-`hidden`-`outputs` and `rows` rows.
pub fn bai_inclusion(inputs: usize, hidden: &[usize], outputs: usize, rows: usize) -> f64 {
    let mut widths = vec![inputs];
    widths.extend(hidden);
    widths.push(outputs);
    let t: usize = widths.windows(2).map(|w| w[0] * w[1]).sum();
    let l = hidden.len() as f64;
    let n_wide = hidden.iter().copied().max().unwrap_or(1) as f64;
    let a = (t as f64).ln()
        + 0.1 * ((l + 1.0) * n_wide.ln() + ((rows as f64).sqrt() * inputs as f64).ln());
    (-a).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bai_rate_matches_the_reference_for_e3() {
        let l = bai_inclusion(50, &[50], 1, 2000);
        assert!((l - 8.3e-5).abs() < 0.05e-5, "{l}");
    }

    #[test]
    fn parses_defaults_and_auto() {
        let s: Spec =
            toml::from_str("[data]\nsimulate = \"e3\"\n[prior]\ninclusion = \"auto\"").unwrap();
        assert_eq!(s.prior.inclusion, Inclusion::Auto(Auto::Auto));
        let s: Spec =
            toml::from_str("[data]\nsimulate = \"e3\"\n[prior]\ninclusion = 0.01").unwrap();
        assert_eq!(s.prior.inclusion, Inclusion::Fixed(0.01));
        assert!(
            toml::from_str::<Spec>("[data]\nsimulate = \"e3\"\n[prior]\ninclusion = \"often\"")
                .is_err()
        );
    }
}

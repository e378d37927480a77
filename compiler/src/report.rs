//! The compile report: JSON for machines, an SVG picture, and a short summary for people.

pub mod svg;

use serde::Serialize;

use crate::Result;
use crate::blob::{BlobBytes, sparse_layers};
use crate::compile::{Choice, Trained};
use crate::dataset::{DataInfo, Dataset, Part};
use crate::evaluate::evaluate;
use crate::metrics::Metrics;
use crate::network::Network;
use crate::pip::input_relevance;
use crate::plan::Settings;
use crate::posterior::{Calibration, Predictive, moment_gap_warning, predictive_on};
use crate::select::Start;
use crate::spec::Spec;
use crate::train::Curve;

/// Everything `compile` learned.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Model name.
    pub name: String,
    /// Compiler version.
    pub compiler: String,
    /// `regression` or `classification`.
    pub task: String,
    /// The data.
    pub data: DataInfo,
    /// The spec as given (after command-line overrides).
    pub spec: Spec,
    /// Every setting as used, the chosen λ included.
    pub settings: Settings,
    /// The λ candidates and which one won.
    pub choice: Choice,
    /// Every input feature: PIP, prior inclusion, kept.
    pub inputs: Vec<InputNode>,
    /// Every hidden node, per layer.
    pub hidden: Vec<Vec<Node>>,
    /// Kept/total nodes and weights per layer.
    pub layers: Vec<LayerInfo>,
    /// Names of the kept input features, in blob order.
    pub kept_features: Vec<String>,
    /// Against the truth, for simulated designs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
    /// Metrics of each model.
    pub metrics: AllMetrics,
    /// Relevance of each input (`Σ φ·|μ|` over its edges, normalised).
    pub input_relevance: Vec<f64>,
    /// Bytes of the emitted blob.
    pub blob_bytes: usize,
    /// Bytes of a blob of the same network unpruned (dense, all nodes).
    pub dense_blob_bytes: usize,
    /// Estimated RAM of an evaluation on a 32-bit target: the runtime's two activation
    /// buffers, the model's views, and the caller's feature and output arrays.
    pub ram_bytes: usize,
    /// The host check of the f32 network's blob against candle.
    pub verify: Verify,
    /// The integer model, when `network.int8`: the blob holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int8: Option<Int8Report>,
    /// The posterior the blob carries, when `network.uncertainty`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uncertainty: Option<UncertaintyReport>,
    /// Classification: the target value of each output, in order.
    pub classes: Vec<f32>,
    /// Things a user should know.
    pub warnings: Vec<String>,
    /// Wall-clock seconds of the whole compile.
    pub training_seconds: f64,
    /// The training curve.
    pub curve: Curve,
}

/// An input feature.
#[derive(Clone, Debug, Serialize)]
pub struct InputNode {
    /// Column name.
    pub name: String,
    /// Index in the raw feature vector.
    pub index: usize,
    /// Posterior inclusion probability (null for constant columns left out).
    pub pip: Option<f64>,
    /// Inclusion probability under the prior alone.
    pub prior: Option<f64>,
    /// Whether the PIP reaches the threshold.
    pub pip_above_threshold: bool,
    /// Whether the feature survived pruning (the blob reads it).
    pub kept: bool,
}

/// A hidden node.
#[derive(Clone, Debug, Serialize)]
pub struct Node {
    /// Posterior inclusion probability.
    pub pip: f64,
    /// Inclusion probability under the prior alone.
    pub prior: f64,
    /// Whether the node survived pruning.
    pub kept: bool,
}

/// One layer's sizes.
#[derive(Clone, Debug, Serialize)]
pub struct LayerInfo {
    /// Input nodes, total and kept.
    pub inputs: [usize; 2],
    /// Output nodes, total and kept.
    pub outputs: [usize; 2],
    /// Weights, total and kept.
    pub weights: [usize; 2],
    /// `dense` or `sparse` in the blob.
    pub storage: String,
}

/// Selection against the true features of a simulated design.
#[derive(Clone, Debug, Serialize)]
pub struct Selection {
    /// True feature names.
    pub true_features: Vec<String>,
    /// True features kept.
    pub true_positives: usize,
    /// Noise features kept.
    pub false_positives: usize,
    /// True positive rate.
    pub tpr: f64,
    /// False positive rate.
    pub fpr: f64,
    /// Fraction of features classified right (kept iff true).
    pub accuracy: f64,
    /// Whether exactly the true features were kept.
    pub exact: bool,
    /// Noise variance: the best achievable test MSE.
    pub noise_variance: f64,
}

/// Validation and test metrics.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SplitMetrics {
    /// On the held-out validation rows.
    pub validation: Option<Metrics>,
    /// On the test rows.
    pub test: Option<Metrics>,
}

/// Metrics of every model the compile saw.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AllMetrics {
    /// The full posterior, averaged over Monte Carlo draws.
    pub full_posterior: SplitMetrics,
    /// The emitted blob, as the runtime evaluates it.
    pub emitted: SplitMetrics,
    /// The pruned network before fine-tuning (candle), when fine-tuned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pruned_before_finetune: Option<SplitMetrics>,
    /// The dense baseline, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dense_baseline: Option<SplitMetrics>,
    /// The dense baseline pruned by weight magnitude to the same node counts, fine-tuned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub magnitude_baseline: Option<SplitMetrics>,
    /// The integer model, when `network.int8` (then the blob holds it; `emitted` is the f32
    /// network it was quantised from).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub int8: Option<SplitMetrics>,
}

/// The integer model against its f32 network.
#[derive(Clone, Debug, Serialize)]
pub struct Int8Report {
    /// Integer layers (the first ones).
    pub integer_layers: usize,
    /// All layers.
    pub layers: usize,
    /// Bytes of the integer blob.
    pub blob_bytes: usize,
    /// Bytes the same network takes in f32.
    pub f32_blob_bytes: usize,
    /// Rows on which the runtime equalled the host reference of the integer arithmetic bit
    /// for bit.
    pub bit_exact_rows: usize,
    /// Root-mean-square difference from the f32 network's outputs over those rows.
    pub rms_difference: f64,
    /// Largest difference from the f32 network's outputs.
    pub max_difference: f64,
    /// Allowed root-mean-square difference.
    pub tolerance: f64,
    /// The damping of the weights' refit to the integer inputs, chosen on the verify rows
    /// (`None`: every weight rounded to its nearest code).
    pub damping: Option<f64>,
    /// The fraction of training rows left outside each input's code range on each side,
    /// chosen on the verify rows (0: the whole range).
    pub input_tail: f64,
    /// Unit of the differences.
    pub relative_to: String,
}

/// Largest difference between the runtime and candle on the validation rows.
#[derive(Clone, Debug, Serialize)]
pub struct Verify {
    /// Largest difference.
    pub max_difference: f64,
    /// Allowed difference.
    pub tolerance: f64,
    /// Rows compared.
    pub rows: usize,
    /// Unit of the difference.
    pub relative_to: String,
}

/// A network's point metrics and, with a posterior, its moment-propagated predictive
/// distribution's, on the validation and test rows.
#[derive(Clone, Debug, Serialize)]
pub struct ModelMetrics {
    /// Point predictions (the weights' means) with the noise `σ_ε`, validation rows.
    pub validation: Option<Metrics>,
    /// The same on the test rows.
    pub test: Option<Metrics>,
    /// The predictive distribution, validation rows.
    pub predictive_validation: Option<Predictive>,
    /// The predictive distribution, test rows.
    pub predictive_test: Option<Predictive>,
}

impl ModelMetrics {
    /// The metrics of `net` on `data`.
    ///
    /// # Errors
    /// A tensor error.
    pub fn of(net: &Network, data: &Dataset) -> Result<Self> {
        Ok(Self {
            validation: evaluate(net, data, Part::Validation)?,
            test: evaluate(net, data, Part::Test)?,
            predictive_validation: predictive_on(net, data, Part::Validation),
            predictive_test: predictive_on(net, data, Part::Test),
        })
    }
}

/// One way of getting the kept weights' posterior, and how it did.
#[derive(Clone, Debug, Serialize)]
pub struct PosteriorCandidate {
    /// `variational`, `slab` or `map` ([`crate::posterior`]).
    pub posterior: String,
    /// Its metrics, after calibration.
    pub metrics: ModelMetrics,
    /// The tempering chosen on the validation rows (none without them).
    pub calibration: Option<Calibration>,
}

/// A log-likelihood on the validation and test rows.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SplitLl {
    /// Validation rows.
    pub validation: Option<f64>,
    /// Test rows.
    pub test: Option<f64>,
}

/// The host check of the blob's predictive distribution against the compiler's moment
/// propagation.
#[derive(Clone, Debug, Serialize)]
pub struct DistVerify {
    /// Largest difference of the means.
    pub max_mean_difference: f64,
    /// Largest difference of the sds, relative to the unit plus the sd.
    pub max_sd_difference: f64,
    /// Allowed difference.
    pub tolerance: f64,
    /// Rows compared.
    pub rows: usize,
    /// Unit of the differences.
    pub relative_to: String,
}

/// The posterior the blob carries (`network.uncertainty`).
#[derive(Clone, Debug, Serialize)]
pub struct UncertaintyReport {
    /// The posterior chosen on the validation log-likelihood: `variational`, `slab` or `map`.
    pub posterior: String,
    /// Its tempering, chosen on the validation rows.
    pub calibration: Option<Calibration>,
    /// The point network it replaces (MAP fine-tuned), with `σ_ε` only.
    pub point: ModelMetrics,
    /// Every posterior tried.
    pub candidates: Vec<PosteriorCandidate>,
    /// The chosen posterior's log-likelihood by Monte Carlo ([`Self::draws`] draws), against
    /// which the moment-propagated one is an approximation.
    pub monte_carlo: SplitLl,
    /// Monte Carlo draws.
    pub draws: usize,
    /// The runtime's `predict_dist` against the compiler's moments (of the dequantised
    /// weights, for an int8 model).
    pub verify: Option<DistVerify>,
    /// An int8 model's metrics: its point outputs through f32 from its dequantised weights,
    /// and the predictive distribution its `predict_dist` gives.
    pub int8: Option<ModelMetrics>,
    /// Bytes of the blob, with the variances.
    pub blob_bytes: usize,
    /// Bytes of the same network's blob without them.
    pub point_blob_bytes: usize,
    /// The epistemic sd above which an input counts as unlike the training data
    /// ([`crate::posterior::epistemic_limit`]; the blob's metric
    /// [`spikeslab_runtime::EPISTEMIC_LIMIT`]).
    pub epistemic_limit: Option<f64>,
}

impl UncertaintyReport {
    /// The lines of the compile summary.
    fn summary(&self) -> String {
        let chosen = self
            .candidates
            .iter()
            .find(|c| c.posterior == self.posterior)
            .map(|c| &c.metrics);
        let mut s = format!(
            "  uncertainty: {} posterior (chosen on validation log-likelihood over {}); blob {} bytes, {} without the variances\n",
            self.posterior,
            self.candidates
                .iter()
                .map(|c| {
                    let ll = c
                        .metrics
                        .predictive_validation
                        .map_or(f64::NAN, |p| p.log_likelihood);
                    format!("{} {ll:.3}", c.posterior)
                })
                .collect::<Vec<_>>()
                .join(", "),
            self.blob_bytes,
            self.point_blob_bytes
        );
        if let Some(c) = &self.calibration {
            s.push_str(&format!(
                "  calibrated on validation rows: variances ×{}, noise ×{} (validation LL {:.3} → {:.3})\n",
                c.variance_scale, c.noise_scale, c.validation_before, c.validation_after
            ));
        }
        if let Some(p) = chosen.and_then(|m| m.predictive_test) {
            let point = self
                .point
                .predictive_test
                .map_or(f64::NAN, |p| p.log_likelihood);
            s.push_str(&format!(
                "  predictive on test rows: LL {:.3} (point model with σ_ε only {point:.3}, Monte Carlo over the same posterior {:.3})",
                p.log_likelihood,
                self.monte_carlo.test.unwrap_or(f64::NAN),
            ));
            if let Some(a) = p.accuracy {
                s.push_str(&format!("; accuracy {a:.4}"));
            }
            if let (Some(c50), Some(c90), Some((sd, epi))) =
                (p.coverage_50, p.coverage_90, p.mean_sd)
            {
                s.push_str(&format!(
                    "; 50%/90% intervals cover {:.1}%/{:.1}%; mean sd {sd:.4} (weights {epi:.4})",
                    100.0 * c50,
                    100.0 * c90
                ));
            }
            s.push('\n');
        }
        if let Some(p) = self.int8.as_ref().and_then(|m| m.predictive_test) {
            s.push_str(&format!(
                "  int8 model's predictive on test rows: LL {:.3}",
                p.log_likelihood
            ));
            if let Some(a) = p.accuracy {
                s.push_str(&format!("; accuracy {a:.4}"));
            }
            if let (Some(c90), Some((sd, _))) = (p.coverage_90, p.mean_sd) {
                s.push_str(&format!(
                    "; 90% intervals cover {:.1}%; mean sd {sd:.4}",
                    100.0 * c90
                ));
            }
            s.push('\n');
        }
        if let Some(l) = self.epistemic_limit {
            s.push_str(&format!(
                "  unlike the training data above an epistemic sd of {l:.4} (the 99th percentile of the validation rows'; Model::epistemic_limit)\n"
            ));
        }
        if let Some(v) = &self.verify {
            s.push_str(&format!(
                "  predict_dist verified against the compiler's moments: max difference mean {:.1e}, sd {:.1e} (tolerance {:.0e})\n",
                v.max_mean_difference, v.max_sd_difference, v.tolerance
            ));
        }
        s
    }
}

impl Report {
    /// Assembles the report of a compile from its stages' values.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: &Spec,
        data: &Dataset,
        settings: &Settings,
        choice: Choice,
        chosen: &Trained,
        blob: &BlobBytes,
        verify: Verify,
        int8: Option<Int8Report>,
        uncertainty: Option<UncertaintyReport>,
        metrics: AllMetrics,
        seconds: f64,
    ) -> Self {
        let t = settings.threshold;
        let (pips, kept, net) = (
            &chosen.selection.pips,
            &chosen.selection.kept,
            &chosen.network,
        );
        let post = &chosen.fit.posterior;
        let inputs: Vec<InputNode> = (0..data.names.len())
            .map(|col| {
                let j = data.columns.iter().position(|&c| c == col);
                InputNode {
                    name: data.names[col].clone(),
                    index: col,
                    pip: j.map(|j| pips[0].pip[j]),
                    prior: j.map(|j| pips[0].prior[j]),
                    pip_above_threshold: j.is_some_and(|j| pips[0].pip[j] >= t),
                    kept: j.is_some_and(|j| kept[0].contains(&j)),
                }
            })
            .collect();
        let hidden = pips[1..]
            .iter()
            .enumerate()
            .map(|(l, p)| {
                (0..p.pip.len())
                    .map(|k| Node {
                        pip: p.pip[k],
                        prior: p.prior[k],
                        kept: kept[l + 1].contains(&k),
                    })
                    .collect()
            })
            .collect();
        let sparse = sparse_layers(net);
        let layers = post
            .shape
            .layers()
            .enumerate()
            .map(|(l, (o, i))| LayerInfo {
                inputs: [i, kept[l].len()],
                outputs: [o, kept[l + 1].len()],
                weights: [o * i, net.layers[l].edges()],
                storage: if sparse[l] { "sparse" } else { "dense" }.into(),
            })
            .collect();
        let kept_features: Vec<String> =
            net.inputs.iter().map(|&j| data.names[j].clone()).collect();
        let selection = data.truth.as_ref().map(|(truth, noise)| {
            let tp = net.inputs.iter().filter(|k| truth.contains(k)).count();
            let fp = net.inputs.len() - tp;
            let d = data.names.len();
            Selection {
                true_features: truth.iter().map(|&j| data.names[j].clone()).collect(),
                true_positives: tp,
                false_positives: fp,
                tpr: tp as f64 / truth.len().max(1) as f64,
                fpr: fp as f64 / (d - truth.len()).max(1) as f64,
                accuracy: (d - (truth.len() - tp) - fp) as f64 / d as f64,
                exact: tp == truth.len() && fp == 0,
                noise_variance: *noise,
            }
        });
        let mut warnings = Vec::new();
        for c in &data.info.dropped_constant {
            warnings.push(format!(
                "column `{c}` is constant in the training rows: left out (the model never reads it)"
            ));
        }
        for (l, p) in pips.iter().enumerate() {
            if let Some(&pi) = p.prior.first().filter(|&&pi| pi > 0.5) {
                let what = if l == 0 {
                    "inputs".to_string()
                } else {
                    format!("hidden layer {l}")
                };
                warnings.push(format!("the prior alone gives the {what} an inclusion probability of {pi:.2} > 0.5: \"PIP >= 0.5\" says little there, and the edge rule (phi > 0.5) decides"));
            }
        }
        if let Some(u) = &uncertainty {
            let chosen = u.candidates.iter().find(|c| c.posterior == u.posterior);
            let moments = chosen.and_then(|c| c.metrics.predictive_validation);
            if let (Some(m), Some(mc)) = (moments, u.monte_carlo.validation) {
                warnings.extend(moment_gap_warning(m.log_likelihood, mc));
            }
        }
        if uncertainty.is_none() && spec.network.variances == crate::spec::Variances::Table4 {
            warnings.push(
                "network.variances = \"table4\" has no effect without network.uncertainty: the blob holds no variances".into(),
            );
        }
        for c in choice.candidates.iter().filter(|c| c.error.is_some()) {
            warnings.push(format!(
                "λ = {} was not chosen: {}",
                c.inclusion,
                c.error.as_deref().unwrap_or("")
            ));
        }
        Self {
            name: spec.name.clone(),
            compiler: crate::VERSION.into(),
            task: format!("{:?}", data.task).to_lowercase(),
            data: data.info.clone(),
            spec: spec.clone(),
            settings: settings.clone(),
            choice,
            inputs,
            hidden,
            layers,
            kept_features,
            selection,
            metrics,
            input_relevance: input_relevance(post),
            blob_bytes: blob.as_bytes().len(),
            dense_blob_bytes: dense_bytes(&post.shape.widths),
            ram_bytes: ram_estimate(data.names.len(), data.outputs(), net.layers.len()),
            verify,
            int8,
            uncertainty,
            classes: data.classes.clone(),
            warnings,
            training_seconds: seconds,
            curve: chosen.fit.curve.clone(),
        }
    }

    /// Kept weights over all layers.
    pub fn weights_kept(&self) -> usize {
        self.layers.iter().map(|l| l.weights[1]).sum()
    }

    /// Weights of the full network.
    pub fn weights_total(&self) -> usize {
        self.layers.iter().map(|l| l.weights[0]).sum()
    }

    /// A few lines for people: what was kept, how much smaller, what it costs.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let kept_in = self.kept_features.len();
        s.push_str(&format!(
            "{}: kept {} of {} input features: {}\n",
            self.name,
            kept_in,
            self.inputs.len(),
            abbreviate(&self.kept_features)
        ));
        if let Some(sel) = &self.selection {
            s.push_str(&format!(
                "  true features {} ({}): {} found, {} false positives{}\n",
                sel.true_features.len(),
                abbreviate(&sel.true_features),
                sel.true_positives,
                sel.false_positives,
                if sel.exact { " - exact" } else { "" }
            ));
        }
        let hidden: Vec<String> = self.layers[..self.layers.len() - 1]
            .iter()
            .map(|l| format!("{}/{}", l.outputs[1], l.outputs[0]))
            .collect();
        s.push_str(&format!(
            "  hidden nodes kept: {}; weights kept: {} of {}\n",
            hidden.join(", "),
            self.weights_kept(),
            self.weights_total()
        ));
        let against = if self.blob_bytes < self.dense_blob_bytes {
            format!(
                "{:.1}x smaller than",
                self.dense_blob_bytes as f64 / self.blob_bytes.max(1) as f64
            )
        } else {
            format!(
                "{} bytes more than",
                self.blob_bytes - self.dense_blob_bytes
            )
        };
        s.push_str(&format!(
            "  blob: {} bytes ({against} the dense {} bytes); evaluation RAM about {} bytes\n",
            self.blob_bytes, self.dense_blob_bytes, self.ram_bytes
        ));
        let c = &self.choice;
        if c.candidates.len() > 1 {
            let list: Vec<String> = c
                .candidates
                .iter()
                .map(|k| {
                    let v = k.validation.map_or("failed".into(), |m| {
                        let (loss, se) = m.loss();
                        format!("{loss:.4} ± {se:.4}")
                    });
                    format!("{} {v}{}", k.inclusion, if k.chosen { " *" } else { "" })
                })
                .collect();
            let what = if self.classes.is_empty() {
                "MSE"
            } else {
                "error"
            };
            s.push_str(&format!(
                "  lambda {} chosen by the {} rule on {} validation rows (validation {what}: {})\n",
                self.settings.inclusion,
                match c.rule {
                    crate::spec::Rule::OneSe => "one-standard-error",
                    crate::spec::Rule::Best => "best-validation",
                },
                self.data.validation_rows,
                list.join(", ")
            ));
        }
        if let Some(e) = &c.every_hidden {
            let what = if self.classes.is_empty() {
                "MSE"
            } else {
                "error"
            };
            let of = |m: &Option<Metrics>| {
                m.map_or("failed".into(), |m| {
                    let (loss, se) = m.loss();
                    format!("{what} {loss:.4} ± {se:.4}, LL {:.3}", m.log_likelihood())
                })
            };
            let pruned = c.candidates.get(c.chosen).and_then(|k| k.validation);
            let other = e.starts.iter().find(|t| t.start != e.start);
            s.push_str(&format!(
                "  every hidden node ({}) on the kept inputs, trained {}{}: validation {} against {} pruned: {}\n",
                e.kept_hidden,
                start_name(e.start),
                other.map_or(String::new(), |t| format!(
                    " ({}: validation {})",
                    start_name(t.start),
                    of(&t.validation)
                )),
                of(&e.validation),
                of(&pruned),
                if e.chosen {
                    "kept (lower loss by more than its standard error, LL no lower)"
                } else if !e.within_budget {
                    "not kept (its blob exceeds the budget)"
                } else {
                    "not kept"
                }
            ));
        }
        if let (Some(q), Some(m)) = (&self.int8, &self.metrics.int8) {
            s.push_str(&format!("  emitted int8 model: {}\n", describe(m)));
            s.push_str(&format!(
                "  int8: {} of {} layers in integers; blob {} bytes against {} in f32 ({}); runtime equal to the integer reference bit for bit on {} rows; difference from f32 rms {:.1e}, max {:.1e} (tolerance {:.1e} rms, in {}){}{}\n",
                q.integer_layers,
                q.layers,
                q.blob_bytes,
                q.f32_blob_bytes,
                match q.f32_blob_bytes.checked_sub(q.blob_bytes) {
                    Some(saved) => format!("{saved} saved"),
                    None => format!("{} more", q.blob_bytes - q.f32_blob_bytes),
                },
                q.bit_exact_rows,
                q.rms_difference,
                q.max_difference,
                q.tolerance,
                q.relative_to,
                q.damping.map_or(
                    "; weights rounded to their nearest codes (nearer f32 than a refit)".into(),
                    |d| format!("; weights refitted to the integer inputs, δ = {d:.0e}")
                ),
                if q.input_tail > 0.0 {
                    format!(
                        "; input codes over each input's training range less {:.2}% of the rows on each side",
                        100.0 * q.input_tail
                    )
                } else {
                    "; input codes over each input's whole training range".into()
                }
            ));
        }
        let emitted = if self.int8.is_some() {
            "f32 model before quantising"
        } else {
            "emitted model"
        };
        for (what, m) in [
            (emitted, &self.metrics.emitted),
            ("full posterior", &self.metrics.full_posterior),
        ] {
            s.push_str(&format!("  {what}: {}\n", describe(m)));
        }
        if let Some(b) = &self.metrics.dense_baseline {
            s.push_str(&format!("  dense baseline: {}\n", describe(b)));
        }
        if let Some(b) = &self.metrics.magnitude_baseline {
            s.push_str(&format!("  magnitude-pruned baseline: {}\n", describe(b)));
        }
        if let Some(u) = &self.uncertainty {
            s.push_str(&u.summary());
            if self.spec.network.variances == crate::spec::Variances::Table4 {
                s.push_str(&format!(
                    "  f32 layers of {} kept weights or more store their variances as 4-bit codes into 16 (network.variances = \"table4\")\n",
                    crate::posterior::CODED_FROM
                ));
            }
        }
        s.push_str(&format!(
            "  verified against candle: max difference {:.1e} (tolerance {:.0e}); {:.1} s\n",
            self.verify.max_difference, self.verify.tolerance, self.training_seconds
        ));
        for w in &self.warnings {
            s.push_str(&format!("  warning: {w}\n"));
        }
        s
    }
}

/// How the summary names a [`Start`].
fn start_name(start: Start) -> &'static str {
    match start {
        Start::Fit => "from the fit",
        Start::Fresh => "afresh",
    }
}

fn describe(m: &SplitMetrics) -> String {
    [
        m.validation.map(|v| v.describe("validation")),
        m.test.map(|v| v.describe("test")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

fn abbreviate(names: &[String]) -> String {
    if names.len() <= 12 {
        names.join(" ")
    } else {
        format!(
            "{} ... {} ({} in all)",
            names[..6].join(" "),
            names[names.len() - 3..].join(" "),
            names.len()
        )
    }
}

/// Blob bytes of a dense network of these widths, without metadata (close to what the compiler would write unpruned).
pub fn dense_bytes(widths: &[usize]) -> usize {
    let n = widths[0];
    let weights: usize = widths.windows(2).map(|w| w[0] * w[1]).sum();
    let biases: usize = widths[1..].iter().sum();
    let header = 32 + 4 * widths.len();
    header + (2 * n).next_multiple_of(4) + 8 * n + 4 * (weights + biases) + 8 + 4
}

/// RAM of an evaluation on a 32-bit target: activation buffers, the `Model` value (about 16
/// bytes per slice view), and the caller's feature and output arrays.
pub fn ram_estimate(features: usize, outputs: usize, layers: usize) -> usize {
    spikeslab_runtime::EVAL_BUFFER_BYTES + 4 * (features + outputs) + 96 + 28 * layers
}

//! `compile`: data → train → PIPs → prune → (fine-tune) → blob → verify → report.

use std::time::Instant;

use rand::SeedableRng;
use rand_pcg::Pcg64;
use spikeslab_runtime::{self as rt, Activation, Task};

use crate::blob::{BlobBytes, Network, OwnedLayer};
use crate::bnn::{Bnn, Posterior, Prior, Shape, parse_activation};
use crate::evaluate::{
    median_metrics, posterior_metrics, pruned_outputs, runtime_metrics, runtime_outputs,
};
use crate::metrics::Metrics;
use crate::mlp::{Fit, Mlp};
use crate::pip::{NodePips, input_relevance, node_pips};
use crate::prepare::{Prepared, prepare};
use crate::prune::{Pruned, prune};
use crate::report::{self, Report};
use crate::spec::{Spec, TaskKind};
use crate::train::{Progress, Settings, train};
use crate::{Error, Result};

/// Switches of one compile that are not part of the model.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// No progress bars or summary.
    pub quiet: bool,
    /// Also train the dense and magnitude-pruned baselines and report their metrics.
    pub baseline: bool,
}

/// Everything a compile produced.
pub struct Compiled {
    /// The emitted network.
    pub network: Network,
    /// Its blob.
    pub blob: BlobBytes,
    /// The report.
    pub report: Report,
    /// The trained posterior.
    pub posterior: Posterior,
    /// The prepared data.
    pub data: Prepared,
}

/// Trains the dense and magnitude-pruned baselines against a model compiled without them
/// and records their metrics in its report: what [`Options::baseline`] adds to [`compile`].
///
/// # Errors
/// A tensor error or divergence of a baseline.
pub fn add_baselines(spec: &Spec, compiled: &mut Compiled, quiet: bool) -> Result<()> {
    let Compiled {
        network,
        report,
        posterior,
        data,
        ..
    } = compiled;
    record_baselines(spec, data, &posterior.shape, network, report, quiet)
}

/// The baselines of `spec`, pruned to the node counts of `network` (inputs first, output
/// layer left out), recorded in `report`.
fn record_baselines(
    spec: &Spec,
    data: &Prepared,
    shape: &Shape,
    network: &Network,
    report: &mut Report,
    quiet: bool,
) -> Result<()> {
    let hidden = &network.layers[..network.layers.len().saturating_sub(1)];
    let kept: Vec<usize> = std::iter::once(network.inputs.len())
        .chain(hidden.iter().map(|l| l.bias.len()))
        .collect();
    let b = crate::baseline::baselines(spec, data, shape, &kept, quiet)?;
    report.metrics.dense_baseline = Some(b.dense);
    report.metrics.magnitude_baseline = Some(b.magnitude);
    Ok(())
}

/// Monte Carlo draws for the full posterior's metrics (method §4 diagnostics).
pub const POSTERIOR_DRAWS: usize = 30;
/// Largest allowed difference between the runtime's and candle's outputs, relative to the
/// target's standard deviation (regression) or in probability (classification).
pub const VERIFY_TOLERANCE: f64 = 1e-3;

/// Runs a spec end to end, in memory.
///
/// # Errors
/// Any [`Error`]: bad data, divergence, no input left, budget or capacity exceeded, failed
/// verification.
pub fn compile(spec: &Spec, opts: &Options) -> Result<Compiled> {
    let t0 = Instant::now();
    let data = prepare(spec)?;
    let classify = spec.task == TaskKind::Classification;
    let act = parse_activation(&spec.network.activation).unwrap_or(Activation::Relu);
    let outputs = if classify { data.classes.len() } else { 1 };
    let mut widths = vec![data.columns.len()];
    widths.extend(&spec.network.hidden);
    widths.push(outputs);
    let shape = Shape {
        widths,
        activation: act,
    };
    let prior = Prior {
        sigma0: spec.prior.sigma0,
        inclusion: spec.inclusion(data.columns.len(), outputs, data.train.len()),
    };
    let mut rng = Pcg64::seed_from_u64(spec.train.seed);
    let bnn = Bnn::new(shape.clone(), !classify, &mut rng)?;
    let settings = Settings {
        epochs: spec.train.epochs,
        batch: spec.train.batch,
        lr: spec.train.learning_rate,
        temperature: spec.train.temperature,
        kl_warmup: spec.train.kl_warmup,
        prior,
        eval_every: (spec.train.epochs / 50).max(1),
    };
    let progress = Progress::new(spec.train.epochs, "train", opts.quiet);
    let monitor = if data.valid.is_empty() {
        &data.train
    } else {
        &data.valid
    };
    let curve = train(&bnn, &data.train, &settings, &mut rng, &progress, |b| {
        let m = median_metrics(b, &data, monitor)?;
        let pips = node_pips(&b.posterior()?, prior.inclusion);
        let kept = pips
            .iter()
            .flat_map(|p| &p.pip)
            .filter(|&&v| v >= spec.prune.threshold)
            .count();
        Ok((m.headline(), kept))
    })?;
    progress.finish();
    let post = bnn.posterior()?;
    let pips = node_pips(&post, prior.inclusion);
    let pruned = prune(&post, &pips, spec.prune.threshold)?;
    let (emitted, noise, before_ft) =
        finetune(spec, &data, &pruned, act, post.noise, opts.quiet, &mut rng)?;
    let network = build_network(spec, &data, &emitted, &pips)?;
    let blob = network
        .to_blob()
        .map_err(|e| capacity_message(e, &emitted))?;
    let model = blob.model()?;
    let verify = verify(&data, &emitted, act, &model)?;
    let mut report = Report::new(
        spec, &data, &post, &pips, &emitted, &blob, verify, prior, curve,
    );
    let mut eval_rng = Pcg64::seed_from_u64(spec.train.seed.wrapping_add(1));
    report.metrics.full_posterior = both(&data, |rows| {
        posterior_metrics(&post, &data, rows, POSTERIOR_DRAWS, &mut eval_rng)
    })?;
    let sigma = f64::from(noise.unwrap_or(1.0));
    report.metrics.emitted.validation = non_empty(&data.raw.valid)
        .then(|| {
            Ok::<_, Error>(runtime_metrics(
                &data,
                &runtime_outputs(&model, &data.raw.valid)?,
                &data.raw.valid,
                sigma,
            ))
        })
        .transpose()?;
    report.metrics.emitted.test = data
        .raw
        .test
        .as_ref()
        .map(|t| {
            Ok::<_, Error>(runtime_metrics(
                &data,
                &runtime_outputs(&model, t)?,
                t,
                sigma,
            ))
        })
        .transpose()?;
    if let Some(p) = before_ft {
        report.metrics.pruned_before_finetune = Some(p);
    }
    if opts.baseline {
        record_baselines(spec, &data, &shape, &network, &mut report, opts.quiet)?;
    }
    report.input_relevance = input_relevance(&post);
    report.training_seconds = t0.elapsed().as_secs_f64();
    check_budgets(spec, &report)?;
    let network = Network {
        metrics: report.blob_metrics(),
        ..network
    };
    let blob = network.to_blob()?;
    report.blob_bytes = blob.as_bytes().len();
    check_budgets(spec, &report)?;
    Ok(Compiled {
        network,
        blob,
        report,
        posterior: post,
        data,
    })
}

fn non_empty(t: &crate::data::Table) -> bool {
    t.rows() > 0
}

/// Metrics on the validation and test rows.
fn both(
    data: &Prepared,
    mut f: impl FnMut(&crate::train::Rows) -> Result<Metrics>,
) -> Result<report::SplitMetrics> {
    Ok(report::SplitMetrics {
        validation: (!data.valid.is_empty())
            .then(|| f(&data.valid))
            .transpose()?,
        test: data.test.as_ref().map(&mut f).transpose()?,
    })
}

/// Fine-tunes the pruned network when the spec asks: `(emitted, noise, metrics before)`.
fn finetune(
    spec: &Spec,
    data: &Prepared,
    pruned: &Pruned,
    act: Activation,
    noise: f32,
    quiet: bool,
    rng: &mut Pcg64,
) -> Result<(Pruned, Option<f32>, Option<report::SplitMetrics>)> {
    let regression = spec.task == TaskKind::Regression;
    let noise = regression.then_some(noise);
    if spec.prune.finetune_epochs == 0 {
        return Ok((pruned.clone(), noise, None));
    }
    let before = both(data, |rows| pruned_metrics(data, pruned, act, rows, noise))?;
    let mlp = Mlp::from_pruned(pruned, act, spec.prune.finetune == "edges", noise)?;
    let progress = Progress::new(spec.prune.finetune_epochs, "fine-tune", quiet);
    let rows = crate::baseline::select_columns(&data.train, &pruned.kept[0]);
    mlp.fit(
        &rows,
        Fit {
            epochs: spec.prune.finetune_epochs,
            batch: spec.train.batch,
            lr: spec.train.learning_rate,
            sigma0: spec.prior.sigma0,
        },
        rng,
        &progress,
    )?;
    progress.finish();
    let tuned = mlp.to_pruned(pruned)?;
    Ok((tuned, mlp.noise()?, Some(before)))
}

/// Candle metrics of a pruned network on standardised rows.
pub fn pruned_metrics(
    data: &Prepared,
    pr: &Pruned,
    act: Activation,
    rows: &crate::train::Rows,
    noise: Option<f32>,
) -> Result<Metrics> {
    let out = pruned_outputs(pr, act, rows, !data.classes.is_empty())?;
    let preds: Vec<f64> = out.iter().map(|&v| f64::from(v)).collect();
    Ok(crate::evaluate::score(
        data,
        &preds,
        &rows.y,
        f64::from(noise.unwrap_or(1.0)),
    ))
}

/// The blob's network from a pruned network.
fn build_network(spec: &Spec, data: &Prepared, pr: &Pruned, pips: &[NodePips]) -> Result<Network> {
    let features = u16::try_from(data.names.len()).map_err(|_| {
        Error::Budget(format!(
            "{} feature columns; the blob format holds at most 65535",
            data.names.len()
        ))
    })?;
    let inputs = pr.kept[0].iter().map(|&j| data.columns[j] as u16).collect();
    let mut layers = Vec::new();
    for (l, (w, b)) in pr.weights.iter().zip(&pr.biases).enumerate() {
        layers.push(OwnedLayer::from_matrix(
            pr.activations[l],
            b.clone(),
            w,
            pr.kept[l].len(),
        ));
    }
    let mut node_pip: Vec<f32> = Vec::new();
    for (l, kept) in pr.kept[..pr.kept.len() - 1].iter().enumerate() {
        node_pip.extend(kept.iter().map(|&k| pips[l].pip[k] as f32));
    }
    let regression = spec.task == TaskKind::Regression;
    Ok(Network {
        task: if regression {
            Task::Regression
        } else {
            Task::Classification
        },
        features,
        inputs,
        input_mean: pr.kept[0].iter().map(|&j| data.mean[j]).collect(),
        input_scale: pr.kept[0].iter().map(|&j| 1.0 / data.std[j]).collect(),
        layers,
        output_mean: if regression {
            vec![data.target.0]
        } else {
            vec![]
        },
        output_scale: if regression {
            vec![data.target.1]
        } else {
            vec![]
        },
        pips: node_pip,
        name: spec.name.clone(),
        metrics: Vec::new(),
    })
}

/// Turns a capacity refusal into a message that says what to change.
fn capacity_message(e: Error, pr: &Pruned) -> Error {
    match e {
        Error::Runtime(rt::Error::Capacity | rt::Error::Shape { .. }) => Error::Budget(format!(
            "the pruned network {:?} exceeds the runtime's capacity ({} layers, {} nodes per layer, kept inputs included): raise `prune.threshold` or narrow `network.hidden`",
            pr.widths(),
            rt::MAX_LAYERS,
            rt::MAX_WIDTH
        )),
        other => other,
    }
}

/// Compares the runtime's predictions with candle's on the validation rows.
fn verify(
    data: &Prepared,
    pr: &Pruned,
    act: Activation,
    model: &rt::Model<'_>,
) -> Result<report::Verify> {
    let (rows, table) = if data.valid.is_empty() {
        (&data.train, &data.raw.train)
    } else {
        (&data.valid, &data.raw.valid)
    };
    let classify = !data.classes.is_empty();
    let reference = pruned_outputs(pr, act, rows, classify)?;
    let got = runtime_outputs(model, table)?;
    let k = model.outputs();
    let scale = if classify {
        1.0
    } else {
        f64::from(data.target.1)
    };
    let mut worst = (0.0f64, 0usize);
    for (i, (r, g)) in reference.chunks(k).zip(got.chunks(k)).enumerate() {
        for (a, b) in r.iter().zip(g) {
            let a = if classify {
                f64::from(*a)
            } else {
                f64::from(*a) * scale + f64::from(data.target.0)
            };
            let d = (a - f64::from(*b)).abs() / scale;
            if d > worst.0 || d.is_nan() {
                worst = (d, i);
            }
        }
    }
    let tolerance = VERIFY_TOLERANCE;
    if worst.0 > tolerance || worst.0.is_nan() {
        return Err(Error::Verify {
            diff: worst.0,
            tolerance,
            row: worst.1,
        });
    }
    Ok(report::Verify {
        max_difference: worst.0,
        tolerance,
        rows: rows.len(),
        relative_to: if classify {
            "probability".into()
        } else {
            "target standard deviation".into()
        },
    })
}

/// Fails when the blob or the RAM estimate is over the spec's budget.
fn check_budgets(spec: &Spec, r: &Report) -> Result<()> {
    if let Some(max) = spec.budget.max_blob_bytes
        && r.blob_bytes > max
    {
        return Err(Error::Budget(format!(
            "the blob is {} bytes, {} over `budget.max_blob_bytes` = {max} ({} weights kept of {}): raise `prune.threshold`, lower `prior.inclusion` or narrow `network.hidden`",
            r.blob_bytes,
            r.blob_bytes - max,
            r.weights_kept(),
            r.weights_total()
        )));
    }
    if let Some(max) = spec.budget.max_ram_bytes
        && r.ram_bytes > max
    {
        return Err(Error::Budget(format!(
            "evaluation needs about {} bytes of RAM, {} over `budget.max_ram_bytes` = {max}: the runtime's activation buffers alone take {} bytes (capacity {} nodes), so the budget must be at least that",
            r.ram_bytes,
            r.ram_bytes - max,
            rt::EVAL_BUFFER_BYTES,
            rt::MAX_WIDTH
        )));
    }
    Ok(())
}

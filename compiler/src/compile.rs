//! `compile`, the pipeline: [`prepare`] → [`candidates`] → per candidate [`fit`] →
//! [`select`] → [`finetune`] → [`held_out_noise`] → [`evaluate`] → [`choose`] one → (every
//! hidden node on its inputs, [`every_hidden_wins`]) → [`encode`] once → [`verify`] →
//! [`Report`], each stage taking the previous one's value.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde::Serialize;
use spikeslab_runtime::{self as rt, Task};

use crate::baseline::baselines;
use crate::blob::{BlobBytes, Info, Packing, encode, encode_quantised};
use crate::data::Table;
use crate::dataset::{Dataset, Part, Rows, prepare};
use crate::evaluate::{
    evaluate, evaluate_quantised, network_outputs, posterior_metrics, runtime_outputs,
};
use crate::metrics::Metrics;
use crate::network::{Layer, Network};
use crate::plan::{Settings, candidates};
use crate::posterior::{
    POSTERIORS, calibrate, centred_at, coded, epistemic_limit, moments, monte_carlo_ll,
    probit_softmax, slab_moments,
};
use crate::quantise::{INPUT_TAILS, Quantised, Rounding, quantise};
use crate::report::{
    AllMetrics, DistVerify, Int8Report, ModelMetrics, PosteriorCandidate, Report, SplitLl,
    SplitMetrics, UncertaintyReport, Verify, ram_estimate,
};
use crate::rounding::DAMPINGS;
use crate::select::{Selection, Start, every_hidden, select};
use crate::spec::{HiddenRule, Rule, Spec, Variances};
use crate::train::Schedule;
use crate::train::{Bars, Fit, fit};
use crate::tune::{Mask, columns_of, finetune, held_out_noise, train_variational};
use crate::{Error, Result};

/// Switches of one compile that are not part of the model.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// No progress bars.
    pub quiet: bool,
    /// Also train the dense and magnitude-pruned baselines and report their metrics.
    pub baseline: bool,
    /// Threads at once (default: the cores available): the candidates, the two starts of
    /// the network of every hidden node, the int8 input tails. The result does not depend
    /// on it.
    pub jobs: Option<usize>,
}

/// Monte Carlo draws for the full posterior's metrics (method §4 diagnostics).
pub const POSTERIOR_DRAWS: usize = 30;
/// Largest allowed difference between the runtime's and candle's outputs, relative to the
/// target's standard deviation (regression) or in probability (classification).
pub const VERIFY_TOLERANCE: f64 = 1e-3;

/// One trained candidate.
#[derive(Clone, Debug)]
pub struct Trained {
    /// The variational fit.
    pub fit: Fit,
    /// What pruning kept.
    pub selection: Selection,
    /// The fine-tuned network (the selection's when not fine-tuned).
    pub network: Network,
    /// Its validation metrics.
    pub validation: Option<Metrics>,
}

/// A candidate and how it went.
#[derive(Debug)]
pub struct Candidate {
    /// Its settings.
    pub settings: Settings,
    /// The trained candidate, or why it cannot be emitted.
    pub outcome: Result<Trained>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Everything a compile produced.
#[derive(Debug)]
pub struct Compiled {
    /// The emitted network.
    pub network: Network,
    /// Its blob.
    pub blob: BlobBytes,
    /// The report.
    pub report: Report,
    /// The chosen candidate's fit and selection.
    pub chosen: Trained,
    /// The data.
    pub data: Dataset,
}

/// Runs a spec end to end, in memory.
///
/// # Errors
/// Any [`Error`]: bad data, divergence, no input left under every candidate, budget or
/// capacity exceeded, failed verification.
pub fn compile(spec: &Spec, opts: &Options) -> Result<Compiled> {
    let t0 = Instant::now();
    let data = prepare(&spec.data, spec.train.seed)?;
    let plans = candidates(spec, &data)?;
    let bars = Bars::new(opts.quiet);
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    let mut all = train_all(&data, &plans, jobs, &bars);
    let scores: Vec<Option<Metrics>> = all
        .iter()
        .map(|c| c.outcome.as_ref().ok().and_then(|t| t.validation))
        .collect();
    let rule = spec.prior.rule;
    let Some(at) = (if all.len() == 1 {
        all[0].outcome.is_ok().then_some(0)
    } else {
        choose(&scores, rule)
    }) else {
        let first = all.remove(0);
        return Err(first
            .outcome
            .err()
            .unwrap_or_else(|| unreachable!("no candidate succeeded")));
    };
    let summaries: Vec<CandidateInfo> = all
        .iter()
        .enumerate()
        .map(|(i, c)| CandidateInfo::new(c, &data, i == at))
        .collect::<Result<_>>()?;
    let winner = all.swap_remove(at);
    let settings = winner.settings;
    let chosen = winner
        .outcome
        .unwrap_or_else(|_| unreachable!("the chosen candidate succeeded"));
    let (chosen, every_hidden) = match spec.prune.hidden {
        HiddenRule::Auto => every_hidden_stage(spec, &data, &settings, chosen, jobs, &bars)?,
        HiddenRule::Pip => (chosen, None),
    };
    let (chosen, uncertainty) = if spec.network.uncertainty {
        let codes = spec.network.variances == Variances::Table4;
        let (t, u) = posterior_stage(&data, &settings, chosen, codes, &bars)?;
        (t, Some(u))
    } else {
        (chosen, None)
    };
    let mut metrics = metrics(&data, &settings, &chosen, opts, &bars)?;
    let network = chosen.network.clone();
    let int8 = if spec.network.int8 {
        let (q, difference) = quantise_within(&network, &data, jobs)?;
        metrics.int8 = Some(SplitMetrics {
            validation: evaluate_quantised(&q, &data, Part::Validation),
            test: evaluate_quantised(&q, &data, Part::Test),
        });
        Some((q, difference))
    } else {
        None
    };
    // The moments the blob's predict_dist propagates: an int8 model's are those of its
    // dequantised weights.
    let dequantised = int8.as_ref().and_then(|(q, _)| q.dequantised());
    let limit = uncertainty
        .as_ref()
        .and_then(|_| epistemic_limit(dequantised.as_ref().unwrap_or(&network), &data));
    // A point model's blob has no epistemic sd to compare with the limit.
    let point_info = Info {
        name: spec.name.clone(),
        metrics: blob_metrics(&metrics),
    };
    let mut info = point_info.clone();
    if let Some(l) = limit {
        info.metrics.push((rt::EPISTEMIC_LIMIT.into(), l as f32));
    }
    let f32_blob =
        encode(&network, &info, Packing::Smaller).map_err(|e| capacity_message(e, &network))?;
    let blob = match &int8 {
        Some((q, _)) => encode_quantised(q, &info, Packing::Smaller)
            .map_err(|e| capacity_message(e, &network))?,
        None => f32_blob.clone(),
    };
    let ram = ram_estimate(
        network.feature_names.len(),
        data.outputs(),
        network.layers.len(),
    );
    check_budgets(
        spec,
        &network,
        &chosen.selection,
        blob.as_bytes().len(),
        ram,
    )?;
    let verify = verify(&data, &network, &f32_blob)?;
    let uncertainty = uncertainty
        .map(|u| -> Result<UncertaintyReport> {
            let point = match &int8 {
                Some((q, _)) => {
                    encode_quantised(&without_posterior(q), &point_info, Packing::Smaller)?
                }
                None => encode(&without_variance(&network), &point_info, Packing::Smaller)?,
            };
            Ok(UncertaintyReport {
                verify: verify_dist(&data, dequantised.as_ref().unwrap_or(&network), &blob)?,
                int8: dequantised
                    .as_ref()
                    .map(|d| ModelMetrics::of(d, &data))
                    .transpose()?,
                blob_bytes: blob.as_bytes().len(),
                point_blob_bytes: point.as_bytes().len(),
                epistemic_limit: limit,
                ..u
            })
        })
        .transpose()?;
    let int8 = int8
        .map(|(q, d)| verify_int8(&data, &q, d, &blob, f32_blob.as_bytes().len()))
        .transpose()?;
    let report = Report::new(
        spec,
        &data,
        &settings,
        Choice {
            rule,
            chosen: at,
            candidates: summaries,
            every_hidden,
        },
        &chosen,
        &blob,
        verify,
        int8,
        uncertainty,
        metrics,
        t0.elapsed().as_secs_f64(),
    );
    Ok(Compiled {
        network,
        blob,
        report,
        chosen,
        data,
    })
}

/// Whether the network of every hidden node on the kept inputs, with validation metrics
/// `every`, replaces the PIP-pruned one, with `pruned`: when its loss (MSE, or error rate) is
/// lower by more than its own standard error and its log-likelihood is no lower. With both
/// networks' noise from the validation rows ([`held_out_noise`]) a regression's
/// log-likelihood there is `−½ ln(2π·MSE) − ½`, so the second condition follows from the
/// first; for a classifier it keeps out a network whose error rate is lower but whose
/// probabilities are worse.
pub fn every_hidden_wins(pruned: Option<Metrics>, every: Option<Metrics>) -> bool {
    let (Some(p), Some(e)) = (pruned, every) else {
        return false;
    };
    let ((loss, _), (wide, se)) = (p.loss(), e.loss());
    wide + se < loss && e.log_likelihood() >= p.log_likelihood()
}

/// `prune.hidden = "auto"`: trains the network of every hidden node on the inputs `chosen`
/// kept ([`every_hidden`]; every edge trained) from each [`Start`]: from the fit as long as
/// the fine-tuning, afresh as long as the training and the fine-tuning together (as many
/// steps in all as the fit's network had), the two on their own threads when `jobs`
/// allows; takes the one of lower validation loss (the fit's on a tie), and keeps it instead
/// of `chosen` when [`every_hidden_wins`] on the validation rows and its blob, at its
/// largest ([`largest_blob`]), fits the spec's budget. The selection stays [`every_hidden`]'s
/// whichever start is kept: the fit's values on the kept nodes, which the report scores as
/// the network before fine-tuning and the slab posterior reads. `None` when `chosen`
/// already keeps every hidden node or there are no validation rows.
///
/// # Errors
/// A training or tensor error.
fn every_hidden_stage(
    spec: &Spec,
    data: &Dataset,
    s: &Settings,
    chosen: Trained,
    jobs: usize,
    bars: &Bars,
) -> Result<(Trained, Option<EveryHidden>)> {
    let widths = chosen.network.widths();
    let hidden = &widths[1..widths.len() - 1];
    if hidden == s.hidden.as_slice() || chosen.validation.is_none() {
        return Ok((chosen, None));
    }
    let t = Instant::now();
    let schedule = after_pruning(s);
    let mut rng = Pcg64::seed_from_u64(s.seed.wrapping_add(3));
    let selection = every_hidden(&chosen.fit, data, &chosen.selection, &mut rng);
    // Each start has its own stream, so neither result depends on `jobs`.
    let mut fresh_rng = Pcg64::seed_from_u64(s.seed.wrapping_add(4));
    let mut fresh = selection.network.clone();
    fresh.layers = Layer::fresh(&fresh.shape(), &mut fresh_rng);
    // The fit's network was trained for the training's epochs before these; afresh, the
    // network gets as many steps in all: the training's epochs and then these.
    let afresh = Schedule {
        epochs: s.epochs + schedule.epochs,
        ..schedule
    };
    let train = |start: &Network, schedule: Schedule, rng: &mut Pcg64, label: &str| {
        crate::tune::train_point(
            start,
            data,
            Mask::All,
            schedule,
            s.sigma0,
            rng,
            &bars.bar(schedule.epochs, label),
        )
    };
    let mut from_fit = || {
        train(
            &selection.network,
            schedule,
            &mut rng,
            "every hidden node, from the fit",
        )
    };
    let mut from_scratch = || train(&fresh, afresh, &mut fresh_rng, "every hidden node, afresh");
    let (from_fit, fresh) = if jobs > 1 {
        std::thread::scope(|scope| {
            let fresh = scope.spawn(from_scratch);
            let from_fit = from_fit();
            let fresh = fresh
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (from_fit, fresh)
        })
    } else {
        (from_fit(), from_scratch())
    };
    let mut starts = Vec::with_capacity(2);
    let mut best: Option<(Start, Network, Option<Metrics>)> = None;
    for (start, network) in [(Start::Fit, from_fit?), (Start::Fresh, fresh?)] {
        let network = held_out_noise(network, data)?;
        let validation = evaluate(&network, data, Part::Validation)?;
        starts.push(StartTried {
            start,
            validation,
            test: evaluate(&network, data, Part::Test)?,
        });
        let loss = |v: Option<Metrics>| v.map_or(f64::INFINITY, |m| m.loss().0);
        if best.as_ref().is_none_or(|b| loss(validation) < loss(b.2)) {
            best = Some((start, network, validation));
        }
    }
    let (start, network, validation) =
        best.unwrap_or_else(|| unreachable!("two starts were trained"));
    let blob_bytes = largest_blob(spec, &network);
    let within_budget = match (spec.budget.max_blob_bytes, blob_bytes) {
        (Some(max), Some(b)) => b <= max,
        (_, b) => b.is_some(),
    };
    let wins = within_budget && every_hidden_wins(chosen.validation, validation);
    let info = EveryHidden {
        chosen: wins,
        start,
        validation,
        test: starts
            .iter()
            .find(|t| t.start == start)
            .and_then(|t| t.test),
        starts,
        kept_hidden: hidden_count(&network),
        blob_bytes,
        within_budget,
        seconds: t.elapsed().as_secs_f64(),
    };
    let chosen = if wins {
        Trained {
            fit: chosen.fit,
            selection,
            network,
            validation,
        }
    } else {
        chosen
    };
    Ok((chosen, Some(info)))
}

/// The most bytes the blob of `net` can take once the later stages have run: with the spec's
/// name, four metrics, and (with `network.uncertainty`) the epistemic limit and an f32
/// variance per stored weight and bias, which 4-bit codes and int8 layers only make smaller.
/// `None` when `net` does not encode.
fn largest_blob(spec: &Spec, net: &Network) -> Option<usize> {
    let mut net = net.clone();
    if spec.network.uncertainty {
        for l in &mut net.layers {
            l.variance = Some(crate::network::Variance {
                weights: vec![1.0; l.weights.len()],
                bias: vec![1.0; l.bias.len()],
                table: None,
            });
        }
    }
    let regression = net.task == Task::Regression;
    let mut metrics: Vec<(String, f32)> = BLOB_METRICS
        .iter()
        .flat_map(|&model| ["val", "test"].map(|split| (model, split)))
        .map(|(model, split)| (metric_name(model, split, regression), 0.0))
        .collect();
    if spec.network.uncertainty {
        metrics.push((rt::EPISTEMIC_LIMIT.into(), 0.0));
    }
    let info = Info {
        name: spec.name.clone(),
        metrics,
    };
    encode(&net, &info, Packing::Smaller)
        .map(|b| b.as_bytes().len())
        .ok()
}

/// How a network is trained after pruning: as long as the fine-tuning, or the training when
/// the spec turns fine-tuning off.
fn after_pruning(s: &Settings) -> Schedule {
    Schedule {
        epochs: if s.finetune_epochs > 0 {
            s.finetune_epochs
        } else {
            s.epochs
        },
        batch: s.batch,
        lr: s.learning_rate,
    }
}

/// Hidden nodes of `net`.
fn hidden_count(net: &Network) -> usize {
    let w = net.widths();
    w[1..w.len() - 1].iter().sum()
}

/// Monte Carlo draws of the kept network's posterior for the uncertainty report.
pub const PREDICTIVE_DRAWS: usize = 100;

/// The uncertainty stage: the posteriors of the kept weights ([`crate::posterior`]), the
/// variational one trained from the chosen network and the spike-and-slab one of its
/// selection, scored by their moment-propagated validation log-likelihood; the better one
/// becomes the candidate's network (with its validation metrics), its f32 layers' weight
/// variances as 4-bit codes with `codes` ([`coded`]).
///
/// # Errors
/// A training or tensor error.
fn posterior_stage(
    data: &Dataset,
    s: &Settings,
    chosen: Trained,
    codes: bool,
    bars: &Bars,
) -> Result<(Trained, UncertaintyReport)> {
    let mask = if s.finetune == crate::spec::Finetune::Nodes {
        Mask::All
    } else {
        Mask::Edges
    };
    let schedule = after_pruning(s);
    let mut rng = Pcg64::seed_from_u64(s.seed.wrapping_add(2));
    let variational = train_variational(
        &chosen.network,
        data,
        mask,
        schedule,
        s.sigma0,
        &mut rng,
        &bars.bar(schedule.epochs, "posterior"),
    )?;
    let slab = slab_moments(&chosen.fit, &chosen.selection);
    let point = ModelMetrics::of(&chosen.network, data)?;
    let map = centred_at(&chosen.network, &variational);
    let candidates = POSTERIORS
        .into_iter()
        .zip([Some(variational), Some(slab), map])
        .filter_map(|(name, net)| Some((name, net?)))
        .map(|(name, net)| {
            let (net, calibration) = match calibrate(&net, data) {
                Some((net, c)) => (net, Some(c)),
                None => (net, None),
            };
            let m = ModelMetrics::of(&net, data)?;
            Ok((name, net, m, calibration))
        })
        .collect::<Result<Vec<_>>>()?;
    let score = |m: &ModelMetrics| {
        m.predictive_validation
            .map_or(f64::NEG_INFINITY, |p| p.log_likelihood)
    };
    // The first of the best: ties keep the earlier candidate.
    let best = (0..candidates.len()).fold(0, |b, i| {
        if score(&candidates[i].2) > score(&candidates[b].2) {
            i
        } else {
            b
        }
    });
    let summaries = candidates
        .iter()
        .map(|(name, _, m, calibration)| PosteriorCandidate {
            posterior: (*name).into(),
            metrics: m.clone(),
            calibration: *calibration,
        })
        .collect();
    let (name, network, _, calibration) = candidates.into_iter().nth(best).unwrap_or_else(|| {
        unreachable!("the variational and slab candidates are always there");
    });
    let network = if codes { coded(&network) } else { network };
    let monte_carlo = SplitLl {
        validation: monte_carlo_ll(&network, data, Part::Validation, PREDICTIVE_DRAWS, &mut rng)?,
        test: monte_carlo_ll(&network, data, Part::Test, PREDICTIVE_DRAWS, &mut rng)?,
    };
    let validation = evaluate(&network, data, Part::Validation)?;
    let report = UncertaintyReport {
        posterior: name.into(),
        calibration,
        point,
        candidates: summaries,
        monte_carlo,
        draws: PREDICTIVE_DRAWS,
        verify: None,
        int8: None,
        blob_bytes: 0,
        point_blob_bytes: 0,
        epistemic_limit: None,
    };
    Ok((
        Trained {
            network,
            validation,
            ..chosen
        },
        report,
    ))
}

/// `net` without its posterior variances.
fn without_variance(net: &Network) -> Network {
    let mut net = net.clone();
    for l in &mut net.layers {
        l.variance = None;
    }
    net
}

/// `q` without its posterior.
fn without_posterior(q: &Quantised) -> Quantised {
    let mut q = q.clone();
    q.network = without_variance(&q.network);
    for l in &mut q.layers {
        l.posterior = None;
    }
    q
}

/// Largest allowed difference between the runtime's predictive mean and sd and the
/// compiler's moment propagation (f64, exact Φ), relative to the target's standard deviation
/// (regression mean and sd) or in probability (classification); the sd's also relative to
/// the sd itself.
pub const VERIFY_DIST_TOLERANCE: f64 = 1e-3;

/// Compares the runtime's `predict_dist` from the blob with [`crate::posterior::moments`] on
/// the validation rows (the training rows when there are none).
///
/// # Errors
/// [`Error::VerifyDist`] when they differ by more than [`VERIFY_DIST_TOLERANCE`].
pub fn verify_dist(data: &Dataset, net: &Network, blob: &BlobBytes) -> Result<Option<DistVerify>> {
    let model = blob.model()?;
    let (rows, table) = verify_rows(data);
    let rows = rows.select(&columns_of(net, data));
    let k = model.outputs();
    let (mean, scale, unit) = output_unit(data);
    let mut out = vec![rt::Prediction::default(); k];
    let mut scratch = rt::DistScratch::new();
    let (mut worst_mean, mut worst_sd) = ((0.0f64, 0usize), (0.0f64, 0usize));
    for (i, x) in rows.x.chunks(rows.d.max(1)).enumerate() {
        model.predict_dist_with(&mut scratch, table.row(i), &mut out)?;
        let reference = moments(net, x);
        let probs = (data.task == Task::Classification).then(|| probit_softmax(&reference));
        for (o, (p, &(m, v))) in out.iter().zip(&reference).enumerate() {
            let (want_mean, want_sd, got_sd) = match &probs {
                Some(q) => (q[o], v.sqrt(), f64::from(p.epistemic).sqrt()),
                None => (
                    m * scale + mean,
                    v.sqrt() * scale,
                    f64::from(p.epistemic).sqrt(),
                ),
            };
            let dm = (f64::from(p.mean) - want_mean).abs() / scale;
            let ds = (got_sd - want_sd).abs() / (scale + want_sd);
            if dm > worst_mean.0 || dm.is_nan() {
                worst_mean = (dm, i);
            }
            if ds > worst_sd.0 || ds.is_nan() {
                worst_sd = (ds, i);
            }
        }
    }
    let tolerance = VERIFY_DIST_TOLERANCE;
    for (what, (diff, row)) in [("mean", worst_mean), ("sd", worst_sd)] {
        if diff > tolerance || diff.is_nan() {
            return Err(Error::VerifyDist {
                what,
                diff,
                tolerance,
                row,
            });
        }
    }
    Ok(Some(DistVerify {
        max_mean_difference: worst_mean.0,
        max_sd_difference: worst_sd.0,
        tolerance,
        rows: rows.len(),
        relative_to: unit.into(),
    }))
}

/// Trains every candidate, `jobs` at a time; each is seeded by its settings alone, so the
/// results do not depend on `jobs`.
fn train_all(data: &Dataset, plans: &[Settings], jobs: usize, bars: &Bars) -> Vec<Candidate> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Candidate>>> = plans.iter().map(|_| Mutex::new(None)).collect();
    let label = |s: &Settings, what: &str| {
        if plans.len() > 1 {
            format!("λ {} {what}", s.inclusion)
        } else {
            what.to_string()
        }
    };
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(s) = plans.get(i) else { break };
            let t = Instant::now();
            let outcome = train_one(data, s, bars, &label);
            let c = Candidate {
                settings: s.clone(),
                outcome,
                seconds: t.elapsed().as_secs_f64(),
            };
            *slots[i]
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(c);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..jobs.min(plans.len()) {
            scope.spawn(work);
        }
        work();
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .unwrap_or_else(|| unreachable!("every candidate ran"))
        })
        .collect()
}

/// One candidate through fit → select → finetune → validation metrics.
fn train_one(
    data: &Dataset,
    s: &Settings,
    bars: &Bars,
    label: &dyn Fn(&Settings, &str) -> String,
) -> Result<Trained> {
    let mut fit = fit(data, s, &bars.bar(s.epochs, &label(s, "train")))?;
    let selection = select(&fit, data, s.threshold)?;
    if let Some(w) = selection
        .network
        .widths()
        .iter()
        .find(|&&w| w > rt::MAX_WIDTH)
    {
        return Err(Error::Budget(format!(
            "the pruned network keeps {w} nodes in one layer, more than the runtime's {} (kept inputs included): raise `prune.threshold`, lower `prior.inclusion` or narrow `network.hidden`",
            rt::MAX_WIDTH
        )));
    }
    let mut rng = fit.rng.clone();
    let network = finetune(
        data,
        &selection,
        s,
        &mut rng,
        &bars.bar(s.finetune_epochs, &label(s, "fine-tune")),
    )?;
    let network = held_out_noise(network, data)?;
    fit.rng = rng;
    let validation = evaluate(&network, data, Part::Validation)?;
    Ok(Trained {
        fit,
        selection,
        network,
        validation,
    })
}

/// The index `rule` picks from candidates' validation metrics (`None`: the candidate failed),
/// ordered sparsest first; `None` when every candidate failed.
pub fn choose(scores: &[Option<Metrics>], rule: Rule) -> Option<usize> {
    let ok = || {
        scores
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.map(|m| (i, m.loss())))
    };
    let (best, (loss, se)) =
        ok().fold(None, |acc: Option<(usize, (f64, f64))>, (i, l)| match acc {
            Some((_, b)) if l.0 >= b.0 => acc,
            _ => Some((i, l)),
        })?;
    Some(match rule {
        Rule::Best => best,
        Rule::OneSe => ok()
            .find(|(_, l)| l.0 <= loss + se)
            .map_or(best, |(i, _)| i),
    })
}

/// Metrics of the chosen candidate, its posterior and (when asked) the baselines.
fn metrics(
    data: &Dataset,
    s: &Settings,
    chosen: &Trained,
    opts: &Options,
    bars: &Bars,
) -> Result<AllMetrics> {
    let both = |net: &Network| -> Result<SplitMetrics> {
        Ok(SplitMetrics {
            validation: evaluate(net, data, Part::Validation)?,
            test: evaluate(net, data, Part::Test)?,
        })
    };
    let mut rng = Pcg64::seed_from_u64(s.seed.wrapping_add(1));
    let post = &chosen.fit.posterior;
    let full_posterior = SplitMetrics {
        validation: posterior_metrics(post, data, Part::Validation, POSTERIOR_DRAWS, &mut rng)?,
        test: posterior_metrics(post, data, Part::Test, POSTERIOR_DRAWS, &mut rng)?,
    };
    let tuned = chosen.network != chosen.selection.network;
    let (dense, magnitude) = if opts.baseline {
        let kept: Vec<usize> = chosen.network.widths()[..chosen.network.layers.len()].to_vec();
        let b = baselines(data, s, &kept, bars)?;
        (Some(both(&b.dense)?), Some(both(&b.magnitude)?))
    } else {
        (None, None)
    };
    Ok(AllMetrics {
        emitted: SplitMetrics {
            validation: chosen.validation,
            test: evaluate(&chosen.network, data, Part::Test)?,
        },
        full_posterior,
        pruned_before_finetune: tuned.then(|| both(&chosen.selection.network)).transpose()?,
        dense_baseline: dense,
        magnitude_baseline: magnitude,
        int8: None,
    })
}

/// The metrics stored in the blob's metadata (at most [`rt::MAX_METRICS`]).
pub fn blob_metrics(m: &AllMetrics) -> Vec<(String, f32)> {
    let mut out = Vec::new();
    let emitted = m.int8.as_ref().unwrap_or(&m.emitted);
    for (model, m) in BLOB_METRICS.into_iter().zip([emitted, &m.full_posterior]) {
        for (split, v) in [("val", m.validation), ("test", m.test)] {
            if let Some(v) = v {
                let name = metric_name(model, split, v.rmse().is_some());
                out.push((name, v.headline() as f32));
            }
        }
    }
    out.truncate(rt::MAX_METRICS);
    out
}

/// The models whose validation and test metrics a blob stores ([`blob_metrics`]).
const BLOB_METRICS: [&str; 2] = ["emitted", "posterior"];

/// The name a blob stores a metric under: `emitted_val_rmse`, `posterior_test_accuracy`, ...
fn metric_name(model: &str, split: &str, regression: bool) -> String {
    let what = if regression { "rmse" } else { "accuracy" };
    format!("{model}_{split}_{what}")
}

/// Turns a capacity refusal into a message that says what to change.
fn capacity_message(e: Error, net: &Network) -> Error {
    match e {
        Error::Runtime(rt::Error::Capacity | rt::Error::Shape { .. }) => Error::Budget(format!(
            "the pruned network {:?} on {} features exceeds the runtime's capacity ({} layers, {} nodes per layer, kept inputs included, 65535 features): raise `prune.threshold` or narrow `network.hidden`",
            net.widths(),
            net.feature_names.len(),
            rt::MAX_LAYERS,
            rt::MAX_WIDTH
        )),
        other => other,
    }
}

/// Compares the runtime's predictions from the blob with candle's of the network, on the
/// validation rows (the training rows when there are none).
///
/// # Errors
/// [`Error::Verify`] when they differ by more than [`VERIFY_TOLERANCE`].
pub fn verify(data: &Dataset, net: &Network, blob: &BlobBytes) -> Result<Verify> {
    let model = blob.model()?;
    let (rows, table) = verify_rows(data);
    let reference = network_outputs(net, data, rows)?;
    let got = runtime_outputs(&model, table)?;
    let k = model.outputs();
    let (mean, scale, unit) = output_unit(data);
    let mut worst = (0.0f64, 0usize);
    for (i, (r, g)) in reference.chunks(k).zip(got.chunks(k)).enumerate() {
        for (a, b) in r.iter().zip(g) {
            let d = (f64::from(*a) * scale + mean - f64::from(*b)).abs() / scale;
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
    Ok(Verify {
        max_difference: worst.0,
        tolerance,
        rows: rows.len(),
        relative_to: unit.into(),
    })
}

/// Largest allowed root-mean-square difference between the integer model's outputs and the
/// f32 network's, relative to the target's standard deviation (regression) or in
/// probability (classification), on the validation rows.
pub const INT8_TOLERANCE: f64 = 0.1;

/// For regression, the integer model's difference from f32 must also stay within this
/// fraction of the f32 network's own RMSE on the validation rows: a difference `d`
/// uncorrelated with the error adds in quadrature, `√(1 + 0.142²) = 1.01`, so the integer
/// model's RMSE stays within about 1% of f32's.
pub const INT8_RELATIVE_TOLERANCE: f64 = 0.142;

/// How far an integer model's outputs are from the f32 network's, on the verify rows.
#[derive(Clone, Copy, Debug)]
pub struct Int8Difference {
    /// Root-mean-square difference.
    pub rms: f64,
    /// Largest difference.
    pub max: f64,
    /// The tolerance it was held to: [`INT8_TOLERANCE`], or less for regression
    /// ([`INT8_RELATIVE_TOLERANCE`]).
    pub tolerance: f64,
    /// How its weights were rounded: to the nearest code, or refitted with one of
    /// [`DAMPINGS`], whichever is nearest f32.
    pub rounding: Rounding,
    /// The fraction of training rows left outside each input's code range on each side
    /// (one of [`INPUT_TAILS`], whichever is nearest f32).
    pub input_tail: f64,
}

/// The rows the verify steps compare on: the validation rows, or the training rows when
/// there are none.
fn verify_rows(data: &Dataset) -> (&Rows, &Table) {
    data.part(Part::Validation)
        .unwrap_or((&data.train, &data.raw.train))
}

/// The unit of an output difference: `(mean, scale)` that put the f32 network's outputs on
/// the runtime's scale, and the unit's name.
fn output_unit(data: &Dataset) -> (f64, f64, &'static str) {
    if data.task == Task::Classification {
        (0.0, 1.0, "probability")
    } else {
        (
            f64::from(data.target.0),
            f64::from(data.target.1),
            "target standard deviation",
        )
    }
}

/// The first of `candidates` whose outputs are nearest f32 (least RMS difference).
fn nearest_f32(
    candidates: impl Iterator<Item = (Quantised, Int8Difference)>,
) -> Option<(Quantised, Int8Difference)> {
    let mut nearest: Option<(Quantised, Int8Difference)> = None;
    for (q, d) in candidates {
        if nearest.as_ref().is_none_or(|(_, n)| d.rms < n.rms) {
            nearest = Some((q, d));
        }
    }
    nearest
}

/// The integer network for `net`: every layer in int8 when its outputs stay within the
/// tolerance (RMS) of the f32 network's on the verify rows, else the output layer kept in f32
/// when that is within it; with its difference from f32. Each is quantised with each of
/// [`INPUT_TAILS`], rounded to the nearest codes and refitted at each of [`DAMPINGS`]
/// ([`Rounding`]), `jobs` tails at a time, and the one nearest f32 on those rows is kept.
/// The tolerance is [`INT8_TOLERANCE`], and for regression at most
/// [`INT8_RELATIVE_TOLERANCE`] times the f32 network's own RMSE on those rows.
///
/// # Errors
/// [`Error::Int8`] when neither is.
pub fn quantise_within(
    net: &Network,
    data: &Dataset,
    jobs: usize,
) -> Result<(Quantised, Int8Difference)> {
    let (rows, table) = verify_rows(data);
    let f32_out = network_outputs(net, data, rows)?;
    let (mean, scale, unit) = output_unit(data);
    let tolerance = if data.task == Task::Regression {
        let k = f32_out.len() / rows.len().max(1);
        let squared: f64 = f32_out
            .chunks(k.max(1))
            .zip(&rows.y)
            .map(|(o, &y)| (f64::from(o[0]) - f64::from(y)).powi(2))
            .sum();
        let rmse = (squared / rows.len().max(1) as f64).sqrt();
        INT8_TOLERANCE.min(INT8_RELATIVE_TOLERANCE * rmse)
    } else {
        INT8_TOLERANCE
    };
    let difference = |q: &Quantised, rounding: Rounding, input_tail: f64| {
        let got = q.outputs(table);
        let (mut sum, mut max) = (0.0f64, 0.0f64);
        for (&a, &b) in f32_out.iter().zip(&got) {
            let d = ((f64::from(a) * scale + mean - f64::from(b)) / scale).abs();
            sum += d * d;
            max = max.max(d);
        }
        let rms = (sum / got.len().max(1) as f64).sqrt();
        Int8Difference {
            rms,
            max,
            tolerance,
            rounding,
            input_tail,
        }
    };
    let all = net.layers.len();
    let mut best = f64::INFINITY;
    // Calibrated on the training rows, the same for every candidate.
    let calibration = data.train.select(&columns_of(net, data));
    for layers in (all.saturating_sub(1).max(1)..=all).rev() {
        // The input tails' roundings `jobs` tails at a time, each on a thread of its own; the
        // nearest f32 is taken in the order of `INPUT_TAILS` and the roundings, whatever the
        // threads' timing.
        let per_tail = |tail: f64| {
            nearest_f32(
                std::iter::once(Rounding::Nearest)
                    .chain(DAMPINGS.map(Rounding::Refit))
                    .map(|rounding| {
                        let q = quantise(net, &calibration.x, layers, rounding, tail);
                        (q, rounding)
                    })
                    .take_while(|(q, _)| !q.layers.is_empty())
                    .map(|(q, rounding)| {
                        let d = difference(&q, rounding, tail);
                        (q, d)
                    }),
            )
        };
        let mut tails: Vec<Option<(Quantised, Int8Difference)>> = Vec::new();
        for some in INPUT_TAILS.chunks(jobs.max(1)) {
            std::thread::scope(|scope| {
                let handles: Vec<_> = some
                    .iter()
                    .map(|&tail| scope.spawn(move || per_tail(tail)))
                    .collect();
                tails.extend(
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))),
                );
            });
        }
        let Some((q, d)) = nearest_f32(tails.into_iter().flatten()) else {
            continue;
        };
        if d.rms <= tolerance {
            return Ok((q, d));
        }
        best = best.min(d.rms);
    }
    Err(Error::Int8 {
        rms: best,
        tolerance,
        unit: unit.into(),
    })
}

/// Checks the integer blob: the runtime's outputs must equal the host reference of the
/// integer arithmetic ([`Quantised::predict`]) on every verify row, so that `difference`
/// (measured on that reference by [`quantise_within`]) is the blob's.
///
/// # Errors
/// [`Error::Int8Reference`] naming the first row where the runtime and the reference differ.
pub fn verify_int8(
    data: &Dataset,
    q: &Quantised,
    difference: Int8Difference,
    blob: &BlobBytes,
    f32_bytes: usize,
) -> Result<Int8Report> {
    let model = blob.model()?;
    let (rows, table) = verify_rows(data);
    let got = runtime_outputs(&model, table)?;
    let reference = q.outputs(table);
    let k = model.outputs().max(1);
    for (i, (g, r)) in got.chunks(k).zip(reference.chunks(k)).enumerate() {
        let same = g
            .iter()
            .zip(r)
            .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
        if !same || g.len() != r.len() {
            return Err(Error::Int8Reference { row: i });
        }
    }
    Ok(Int8Report {
        integer_layers: q.layers.len(),
        layers: q.network.layers.len(),
        blob_bytes: blob.as_bytes().len(),
        f32_blob_bytes: f32_bytes,
        bit_exact_rows: rows.len(),
        rms_difference: difference.rms,
        max_difference: difference.max,
        tolerance: difference.tolerance,
        damping: match difference.rounding {
            Rounding::Nearest => None,
            Rounding::Refit(d) => Some(d),
        },
        input_tail: difference.input_tail,
        relative_to: output_unit(data).2.into(),
    })
}

/// Fails when the blob or the RAM estimate is over the spec's budget.
fn check_budgets(
    spec: &Spec,
    net: &Network,
    sel: &Selection,
    bytes: usize,
    ram: usize,
) -> Result<()> {
    if let Some(max) = spec.budget.max_blob_bytes
        && bytes > max
    {
        let total: usize = sel.pips.iter().map(|p| p.pip.len()).sum::<usize>();
        return Err(Error::Budget(format!(
            "the blob is {bytes} bytes, {} over `budget.max_blob_bytes` = {max} ({} weights and {} of {total} input and hidden nodes kept): raise `prune.threshold`, lower `prior.inclusion` or narrow `network.hidden`",
            bytes - max,
            net.edges(),
            net.widths()[..net.layers.len()].iter().sum::<usize>(),
        )));
    }
    if let Some(max) = spec.budget.max_ram_bytes
        && ram > max
    {
        return Err(Error::Budget(format!(
            "evaluation needs about {ram} bytes of RAM, {} over `budget.max_ram_bytes` = {max}: the runtime's activation buffers alone take {} bytes (capacity {} nodes), so the budget must be at least that",
            ram - max,
            rt::EVAL_BUFFER_BYTES,
            rt::MAX_WIDTH
        )));
    }
    Ok(())
}

/// How λ was chosen, for the report.
#[derive(Clone, Debug, Serialize)]
pub struct Choice {
    /// The rule.
    pub rule: Rule,
    /// Index of the chosen candidate.
    pub chosen: usize,
    /// Every candidate, sparsest first.
    pub candidates: Vec<CandidateInfo>,
    /// The network of every hidden node on the chosen candidate's inputs
    /// (`prune.hidden = "auto"`), when the candidate dropped hidden nodes.
    pub every_hidden: Option<EveryHidden>,
}

/// The network of every hidden node on the kept inputs, weighed against the chosen
/// candidate ([`every_hidden_wins`]).
#[derive(Clone, Debug, Serialize)]
pub struct EveryHidden {
    /// Whether it replaced the PIP-pruned network.
    pub chosen: bool,
    /// Where its training started: the start of lower validation loss.
    pub start: Start,
    /// Its validation metrics.
    pub validation: Option<Metrics>,
    /// Its test metrics, for the record: never used to choose.
    pub test: Option<Metrics>,
    /// Each start's network: from the fit, then afresh.
    pub starts: Vec<StartTried>,
    /// Its hidden nodes.
    pub kept_hidden: usize,
    /// The most bytes its blob can take once the later stages have run (its variances, the
    /// spec's name and metrics included; `null` when it does not encode).
    pub blob_bytes: Option<usize>,
    /// Whether that blob fits `budget.max_blob_bytes`.
    pub within_budget: bool,
    /// Wall-clock seconds to train it.
    pub seconds: f64,
}

/// The network of every hidden node trained from one start.
#[derive(Clone, Debug, Serialize)]
pub struct StartTried {
    /// Where its training started.
    pub start: Start,
    /// Its validation metrics.
    pub validation: Option<Metrics>,
    /// Its test metrics, for the record: never used to choose.
    pub test: Option<Metrics>,
}

/// One candidate in the report.
#[derive(Clone, Debug, Serialize)]
pub struct CandidateInfo {
    /// λ.
    pub inclusion: f64,
    /// Whether it was chosen.
    pub chosen: bool,
    /// Validation metrics of its emitted model (`null` when it failed).
    pub validation: Option<Metrics>,
    /// Test metrics of its emitted model, for the record: never used to choose.
    pub test: Option<Metrics>,
    /// Input features kept.
    pub kept_inputs: usize,
    /// Their raw column indices (0-based, as the data's columns count).
    pub inputs: Vec<usize>,
    /// Hidden nodes kept.
    pub kept_hidden: usize,
    /// Weights kept.
    pub kept_weights: usize,
    /// Wall-clock seconds to train, prune and fine-tune it.
    pub seconds: f64,
    /// Why it cannot be emitted, when it cannot.
    pub error: Option<String>,
}

impl CandidateInfo {
    fn new(c: &Candidate, data: &Dataset, chosen: bool) -> Result<Self> {
        let (validation, test, widths, inputs, edges, error) = match &c.outcome {
            Ok(t) => (
                t.validation,
                evaluate(&t.network, data, Part::Test)?,
                t.network.widths(),
                t.network.inputs.clone(),
                t.network.edges(),
                None,
            ),
            Err(e) => (None, None, vec![0, 0], Vec::new(), 0, Some(e.to_string())),
        };
        Ok(Self {
            inclusion: c.settings.inclusion,
            chosen,
            validation,
            test,
            kept_inputs: widths[0],
            inputs,
            kept_hidden: widths[1..widths.len() - 1].iter().sum(),
            kept_weights: edges,
            seconds: c.seconds,
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(mse: f64, se: f64) -> Option<Metrics> {
        Some(Metrics::Regression {
            rmse: mse.sqrt(),
            mse,
            mse_se: se,
            log_likelihood: 0.0,
            rows: 200,
        })
    }

    #[test]
    fn every_hidden_wins_only_clearly_lower_in_loss_and_no_lower_in_ll() {
        let with_ll = |m: Option<Metrics>, ll: f64| match m {
            Some(Metrics::Regression {
                rmse,
                mse,
                mse_se,
                rows,
                ..
            }) => Some(Metrics::Regression {
                rmse,
                mse,
                mse_se,
                log_likelihood: ll,
                rows,
            }),
            other => other,
        };
        let pruned = with_ll(reg(100.0, 5.0), -3.0);
        assert!(every_hidden_wins(pruned, with_ll(reg(94.0, 5.0), -2.9)));
        // Within its standard error: the pruned network stays.
        assert!(!every_hidden_wins(pruned, with_ll(reg(96.0, 5.0), -2.9)));
        // Lower loss but a lower log-likelihood (an overfitted noise estimate): stays.
        assert!(!every_hidden_wins(pruned, with_ll(reg(80.0, 5.0), -3.5)));
        assert!(!every_hidden_wins(pruned, None));
        assert!(!every_hidden_wins(None, with_ll(reg(80.0, 5.0), -2.0)));
    }

    #[test]
    fn best_takes_the_lowest_loss_and_skips_failures() {
        let s = [reg(100.0, 5.0), None, reg(90.0, 5.0)];
        assert_eq!(choose(&s, Rule::Best), Some(2));
        assert_eq!(choose(&[None, None], Rule::Best), None);
        assert_eq!(
            choose(&[reg(90.0, 1.0), reg(90.0, 1.0)], Rule::Best),
            Some(0)
        );
    }

    #[test]
    fn one_se_takes_the_sparsest_within_one_standard_error_of_the_best() {
        let s = [reg(98.0, 9.0), reg(95.0, 9.0), reg(90.0, 9.0)];
        assert_eq!(choose(&s, Rule::OneSe), Some(0));
        let s = [reg(100.0, 9.0), reg(95.0, 9.0), reg(90.0, 9.0)];
        assert_eq!(choose(&s, Rule::OneSe), Some(1));
        let s = [None, reg(120.0, 9.0), reg(90.0, 9.0)];
        assert_eq!(choose(&s, Rule::OneSe), Some(2));
    }

    #[test]
    fn one_se_reads_accuracy_as_an_error_rate() {
        let acc = |a: f64, se: f64| {
            Some(Metrics::Classification {
                accuracy: a,
                accuracy_se: se,
                log_likelihood: 0.0,
                rows: 200,
            })
        };
        let s = [acc(0.90, 0.02), acc(0.95, 0.015), acc(0.93, 0.018)];
        assert_eq!(choose(&s, Rule::OneSe), Some(1));
        assert_eq!(choose(&s, Rule::Best), Some(1));
        let s = [acc(0.94, 0.02), acc(0.95, 0.015)];
        assert_eq!(choose(&s, Rule::OneSe), Some(0));
    }
}

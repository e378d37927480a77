//! E6: the UCI regression suite on its standard splits, against MC dropout's published numbers
//! and the dense and magnitude-pruned baselines.

use std::path::Path;

use serde::Serialize;
use spikeslab_compiler::metrics::Metrics;
use spikeslab_compiler::report::SplitMetrics;
use spikeslab_compiler::select::Start;
use spikeslab_compiler::spec::{DataSpec, Source, Spec};
use spikeslab_runtime::Task;

use super::{Output, Rule, Stat, by_rule, fit_int8, table};

/// Mean and standard error as published.
pub type Published = (f64, f64);

/// The data sets: folder, display name, MC dropout's test RMSE and test LL.
pub const DATASETS: [(&str, &str, Published, Published); 6] = [
    (
        "bostonHousing",
        "Boston housing",
        (2.90, 0.18),
        (-2.40, 0.04),
    ),
    ("concrete", "Concrete", (4.82, 0.16), (-2.93, 0.02)),
    ("energy", "Energy", (0.54, 0.06), (-1.21, 0.01)),
    (
        "naval-propulsion-plant",
        "Naval propulsion",
        (0.00, 0.00),
        (4.45, 0.00),
    ),
    ("power-plant", "Power plant", (4.01, 0.04), (-2.80, 0.01)),
    (
        "protein-tertiary-structure",
        "Protein",
        (4.27, 0.02),
        (-2.87, 0.00),
    ),
];

/// One (dataset, method) record.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// Data set folder.
    pub dataset: String,
    /// `spikeslab-pruned`, `spikeslab-finetuned` (the emitted model), `spikeslab-int8` (it,
    /// quantised, on the splits where the compiler kept int8),
    /// `spikeslab-finetuned-int8-splits` (the emitted f32 model on those same splits),
    /// `spikeslab-best-rule` (the emitted model had λ been chosen by the plain best rule),
    /// `spikeslab-full`, `dense`, `magnitude`.
    pub method: String,
    /// Test RMSE, mean over splits.
    pub rmse_mean: f64,
    /// Its standard error.
    pub rmse_se: f64,
    /// Test log-likelihood, mean over splits.
    pub ll_mean: f64,
    /// Its standard error.
    pub ll_se: f64,
    /// Validation RMSE (the rows settings are chosen on), mean over splits.
    pub val_rmse_mean: f64,
    /// Its standard error.
    pub val_rmse_se: f64,
    /// Hidden nodes kept (fraction of all hidden nodes).
    pub hidden_kept_mean: f64,
    /// Input features kept.
    pub features_kept_mean: f64,
    /// Weights kept.
    pub weights_kept_mean: f64,
    /// Blob bytes (spikeslab models; the dense estimate for `dense`).
    pub blob_bytes_mean: f64,
    /// λ chosen on the validation split, per split.
    pub inclusion: Vec<f64>,
    /// The emitted model's hidden nodes, per split: `pip` (the PIPs'), or every hidden node
    /// trained from the fit (`fit`) or afresh (`fresh`) (`prune.hidden = "auto"`).
    pub hidden_nodes: Vec<&'static str>,
    /// Splits run.
    pub splits: usize,
}

/// The spec of split `split` (0-based, as the index files count): only the data, every other
/// setting what `compile` chooses, and the width the suite's protocol fixes (`n_hidden.txt`,
/// as MC dropout was run). Each split is compiled by [`fit_int8`], which scores the int8
/// quantisation too.
pub fn spec(dir: &Path, split: usize, hidden: usize, seed: Option<u64>) -> Spec {
    let mut spec = Spec::for_data(
        "experiment",
        DataSpec::new(
            Task::Regression,
            Source::Uci {
                dir: dir.to_path_buf(),
                split,
            },
        ),
    );
    spec.network.hidden = vec![hidden];
    if let Some(seed) = seed {
        spec.train.seed = seed;
    }
    spec
}

/// Test and validation metrics of one model.
#[derive(Clone, Copy)]
struct Both {
    test: Metrics,
    validation: Metrics,
}

/// The metrics of a model a split does not have (NaN, left out of the means).
const NAN_BOTH: Both = Both {
    test: Metrics::Regression {
        rmse: f64::NAN,
        mse: f64::NAN,
        mse_se: f64::NAN,
        log_likelihood: f64::NAN,
        rows: 0,
    },
    validation: Metrics::Regression {
        rmse: f64::NAN,
        mse: f64::NAN,
        mse_se: f64::NAN,
        log_likelihood: f64::NAN,
        rows: 0,
    },
};

struct Split {
    pruned: Both,
    full: Both,
    tuned: Both,
    /// `None` when the compiler refused int8 for this split (too far from f32).
    int8: Option<Both>,
    dense: Both,
    magnitude: Both,
    /// The emitted model had λ been chosen by the plain best rule (same runs).
    best_rule: Both,
    hidden_kept: f64,
    best_rule_hidden_kept: f64,
    features_kept: f64,
    weights_kept: f64,
    blob: f64,
    int8_blob: f64,
    dense_blob: f64,
    inclusion: f64,
    best_rule_inclusion: f64,
    hidden_nodes: &'static str,
}

fn run_split(dir: &Path, split: usize, hidden: usize, seed: Option<u64>) -> anyhow::Result<Split> {
    let c = fit_int8(&spec(dir, split, hidden, seed), true)?;
    let r = &c.report;
    let both = |test: Option<Metrics>, validation: Option<Metrics>| {
        Ok::<_, anyhow::Error>(Both {
            test: test.ok_or_else(|| anyhow::anyhow!("no test metrics"))?,
            validation: validation.ok_or_else(|| anyhow::anyhow!("no validation metrics"))?,
        })
    };
    let split = |m: &Option<SplitMetrics>| {
        m.as_ref()
            .map_or_else(|| both(None, None), |m| both(m.test, m.validation))
    };
    let hidden_total: usize = r.hidden.iter().map(Vec::len).sum();
    let hidden_kept: usize = r.hidden.iter().flatten().filter(|n| n.kept).count();
    let best = by_rule(&c, Rule::Best).ok_or_else(|| anyhow::anyhow!("no candidate"))?;
    Ok(Split {
        pruned: split(&r.metrics.pruned_before_finetune)?,
        full: both(
            r.metrics.full_posterior.test,
            r.metrics.full_posterior.validation,
        )?,
        tuned: both(r.metrics.emitted.test, r.metrics.emitted.validation)?,
        int8: r
            .metrics
            .int8
            .as_ref()
            .map(|m| both(m.test, m.validation))
            .transpose()?,
        dense: split(&r.metrics.dense_baseline)?,
        magnitude: split(&r.metrics.magnitude_baseline)?,
        best_rule: both(best.test, best.validation)?,
        hidden_kept: hidden_kept as f64 / hidden_total as f64,
        best_rule_hidden_kept: best.kept_hidden as f64 / hidden_total as f64,
        features_kept: r.kept_features.len() as f64,
        weights_kept: r.weights_kept() as f64,
        blob: r.int8.as_ref().map_or(r.blob_bytes, |q| q.f32_blob_bytes) as f64,
        int8_blob: if r.int8.is_some() {
            r.blob_bytes as f64
        } else {
            f64::NAN
        },
        dense_blob: r.dense_blob_bytes as f64,
        inclusion: r.settings.inclusion,
        best_rule_inclusion: best.inclusion,
        hidden_nodes: match &r.choice.every_hidden {
            Some(e) if e.chosen => match e.start {
                Start::Fit => "fit",
                Start::Fresh => "fresh",
            },
            _ => "pip",
        },
    })
}

/// Every name of `only` is a data set of [`DATASETS`].
///
/// # Errors
/// The first unknown name, with the known ones.
pub fn known(only: Option<&[&str]>) -> anyhow::Result<()> {
    if let Some(unknown) = only
        .into_iter()
        .flatten()
        .find(|o| !DATASETS.iter().any(|d| d.0 == **o))
    {
        let known: Vec<&str> = DATASETS.iter().map(|d| d.0).collect();
        anyhow::bail!("no UCI data set {unknown:?}: one of {}", known.join(", "));
    }
    Ok(())
}

/// A data set's splits and hidden width as the suite's protocol fixes them
/// (`n_splits.txt`, `n_hidden.txt`).
///
/// # Errors
/// A missing or unreadable file, with its path.
pub fn protocol(dir: &Path) -> anyhow::Result<(usize, usize)> {
    let read = |name: &str| -> anyhow::Result<usize> {
        let path = dir.join(name);
        Ok(std::fs::read_to_string(&path)
            .map_err(|e| {
                anyhow::anyhow!(
                    "{}: {e} (the UCI data sets are read from ../shared/datasets)",
                    path.display()
                )
            })?
            .trim()
            .parse()?)
    };
    Ok((read("n_splits.txt")?, read("n_hidden.txt")?))
}

/// A data set of [`DATASETS`]: folder, display name, MC dropout's test RMSE and test LL.
pub type Set = (&'static str, &'static str, Published, Published);

/// One data set's results from [`each_set`].
pub struct SetRuns<T> {
    /// The data set.
    pub set: Set,
    /// Its splits as the protocol fixes them (`n_splits.txt`).
    pub protocol_splits: usize,
    /// One result per split run, in split order.
    pub runs: Vec<T>,
}

/// `run(dir, split, hidden)` on `splits` splits (all when `None`) of each data set of
/// [`DATASETS`] (`only` the named ones when given), `hidden` the protocol's width; a set's
/// splits are independent, so every core takes the next one.
///
/// # Errors
/// An unknown data set, missing data (with the path), or the first error of `run`.
pub fn each_set<T: Send>(
    root: &Path,
    splits: Option<usize>,
    only: Option<&[&str]>,
    run: impl Fn(&Path, usize, usize) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<SetRuns<T>>> {
    known(only)?;
    let mut sets = Vec::new();
    for set in DATASETS {
        if only.is_some_and(|o| !o.contains(&set.0)) {
            continue;
        }
        let dir = root.join(set.0);
        let (n, hidden) = protocol(&dir)?;
        let runs = super::par_map(splits.unwrap_or(n).min(n), |s| run(&dir, s, hidden))?;
        sets.push(SetRuns {
            set,
            protocol_splits: n,
            runs,
        });
    }
    Ok(sets)
}

/// Runs E6 over `splits` splits of each data set (all splits when `None`); `only` restricts the
/// data sets; `seed` replaces `compile`'s default training seed (to measure how much the
/// means move with the seed alone).
///
/// # Errors
/// Missing data (with the path), a compile or a write error.
pub fn e6(
    root: &Path,
    splits: Option<usize>,
    only: Option<&[&str]>,
    seed: Option<u64>,
    out: &Output,
    name: &str,
) -> anyhow::Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut rows = Vec::new();
    let sets = each_set(root, splits, only, |dir, s, hidden| {
        run_split(dir, s, hidden, seed)
    })?;
    for SetRuns {
        set: (folder, label, dropout_rmse, dropout_ll),
        protocol_splits: n,
        runs,
    } in sets
    {
        let k = runs.len();
        let stat = |f: &dyn Fn(&Split) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>());
        type Pick<'a> = &'a dyn Fn(&Split) -> Both;
        let methods: [(&str, Pick<'_>, bool); 8] = [
            ("spikeslab-pruned", &|s| s.pruned, true),
            ("spikeslab-finetuned", &|s| s.tuned, true),
            ("spikeslab-int8", &|s| s.int8.unwrap_or(NAN_BOTH), true),
            // The f32 model on the splits where int8 was kept: the int8 row's pair.
            (
                "spikeslab-finetuned-int8-splits",
                &|s| if s.int8.is_some() { s.tuned } else { NAN_BOTH },
                true,
            ),
            ("spikeslab-best-rule", &|s| s.best_rule, true),
            ("spikeslab-full", &|s| s.full, false),
            ("dense", &|s| s.dense, false),
            ("magnitude", &|s| s.magnitude, true),
        ];
        for (method, m, pruned) in methods {
            let best_rule = method == "spikeslab-best-rule";
            let rmse = stat(&|s| m(s).test.rmse().unwrap_or(f64::NAN));
            let ll = stat(&|s| m(s).test.log_likelihood());
            let val = stat(&|s| m(s).validation.rmse().unwrap_or(f64::NAN));
            let rec = Record {
                dataset: folder.into(),
                method: method.into(),
                rmse_mean: rmse.mean,
                rmse_se: rmse.se,
                ll_mean: ll.mean,
                ll_se: ll.se,
                val_rmse_mean: val.mean,
                val_rmse_se: val.se,
                hidden_kept_mean: if best_rule {
                    stat(&|s| s.best_rule_hidden_kept).mean
                } else if pruned {
                    stat(&|s| s.hidden_kept).mean
                } else {
                    1.0
                },
                features_kept_mean: if !pruned || best_rule {
                    f64::NAN
                } else {
                    stat(&|s| s.features_kept).mean
                },
                weights_kept_mean: if pruned && !best_rule {
                    stat(&|s| s.weights_kept).mean
                } else {
                    f64::NAN
                },
                blob_bytes_mean: if method == "dense" {
                    stat(&|s| s.dense_blob).mean
                } else if method == "spikeslab-int8" {
                    stat(&|s| s.int8_blob).mean
                } else if pruned && !best_rule {
                    stat(&|s| s.blob).mean
                } else {
                    f64::NAN
                },
                inclusion: runs
                    .iter()
                    .map(|s| {
                        if best_rule {
                            s.best_rule_inclusion
                        } else {
                            s.inclusion
                        }
                    })
                    .collect(),
                hidden_nodes: runs.iter().map(|s| s.hidden_nodes).collect(),
                splits: if method.contains("int8") {
                    runs.iter().filter(|s| s.int8.is_some()).count()
                } else {
                    k
                },
            };
            rows.push(vec![
                label.to_string(),
                method.to_string(),
                rmse.show_significant(3),
                ll.show(3),
                val.show_significant(3),
                if pruned {
                    format!("{:.0}%", 100.0 * rec.hidden_kept_mean)
                } else {
                    "100%".into()
                },
                if rec.blob_bytes_mean.is_finite() {
                    format!("{:.0}", rec.blob_bytes_mean)
                } else {
                    "-".into()
                },
                rec.splits.to_string(),
            ]);
            records.push(rec);
        }
        rows.push(vec![
            label.to_string(),
            "MC dropout (published)".into(),
            format!("{:.2} ± {:.2}", dropout_rmse.0, dropout_rmse.1),
            format!("{:.2} ± {:.2}", dropout_ll.0, dropout_ll.1),
            "-".into(),
            "100%".into(),
            "-".into(),
            n.to_string(),
        ]);
    }
    let md = table(
        &[
            "data set",
            "method",
            "test RMSE",
            "test LL",
            "validation RMSE",
            "hidden kept",
            "blob B",
            "splits",
        ],
        &rows,
    );
    out.write(name, &md, &records, None)?;
    Ok(records)
}

//! E7: digits (8×8 images, 10 classes) and wine (13 features, 3 classes), 5 random 80/20 splits.

use std::io::Read as _;
use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64;
use serde::Serialize;
use spikeslab_compiler::data::Table;
use spikeslab_compiler::spec::{DataSpec, Source, Spec};
use spikeslab_runtime::Task;

use super::{Output, Rule, Stat, by_rule, fit_int8, table as markdown};

/// One data set's results.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// `digits` or `wine`.
    pub dataset: String,
    /// Test accuracy of the emitted model.
    pub accuracy: Stat,
    /// Test accuracy had λ been chosen by the plain best rule (same runs).
    pub accuracy_best_rule: Stat,
    /// Test accuracy of the emitted model quantised to int8 (`network.int8`), over the
    /// splits where the compiler kept it.
    pub accuracy_int8: Stat,
    /// Its blob bytes.
    pub int8_blob_bytes: Stat,
    /// Splits where the compiler kept int8 (it refuses when too far from f32).
    pub int8_splits: usize,
    /// Test accuracy of the dense baseline.
    pub accuracy_dense: Stat,
    /// Test accuracy of the magnitude-pruned baseline.
    pub accuracy_magnitude: Stat,
    /// Kept input features.
    pub features_kept: Stat,
    /// Kept hidden nodes.
    pub hidden_kept: Stat,
    /// Blob bytes.
    pub blob_bytes: Stat,
    /// How often each feature was kept, over the splits.
    pub kept_frequency: Vec<f64>,
    /// λ chosen on the validation split, per split.
    pub inclusion: Vec<f64>,
    /// λ the plain best rule would have chosen, per split.
    pub inclusion_best_rule: Vec<f64>,
    /// Splits run.
    pub splits: usize,
}

/// Rows of features and class labels.
type Rows = (Vec<Vec<f64>>, Vec<f64>);

fn digits(path: &Path) -> anyhow::Result<Rows> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path)?).read_to_string(&mut text)?;
    parse(&text, 0)
}

fn wine(path: &Path) -> anyhow::Result<Rows> {
    parse(&std::fs::read_to_string(path)?, 1)
}

/// Comma-separated rows, the class last, after `skip` header lines.
fn parse(text: &str, skip: usize) -> anyhow::Result<Rows> {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for line in text.lines().skip(skip).filter(|l| !l.trim().is_empty()) {
        let v: Vec<f64> = line
            .split(',')
            .map(|c| c.trim().parse())
            .collect::<Result<_, _>>()?;
        let (class, features) = v.split_last().ok_or_else(|| anyhow::anyhow!("empty row"))?;
        x.push(features.to_vec());
        y.push(*class);
    }
    Ok((x, y))
}

fn table(label: &str, rows: &Rows, idx: &[usize]) -> anyhow::Result<Table> {
    let d = rows.0.first().map_or(0, Vec::len);
    Ok(Table::new(
        label,
        (0..d).map(|j| format!("f{j}")).collect(),
        "class".into(),
        idx.iter()
            .flat_map(|&i| rows.0[i].iter().map(|&v| v as f32))
            .collect(),
        idx.iter().map(|&i| rows.1[i] as f32).collect(),
    )?)
}

/// The spec of one split: only the data, every other setting what `compile` chooses.
fn spec(name: &str, rows: &Rows, train: &[usize], test: &[usize]) -> anyhow::Result<Spec> {
    Ok(Spec::for_data(
        name,
        DataSpec::new(
            Task::Classification,
            Source::Memory {
                label: format!("{name} (in memory)"),
                train: table(name, rows, train)?,
                test: Some(table(name, rows, test)?),
            },
        ),
    ))
}

fn run(name: &str, rows: &Rows, splits: u64) -> anyhow::Result<Record> {
    let d = rows.0.first().map_or(0, Vec::len);
    let (mut acc, mut best, mut dense, mut mag, mut feats, mut hid, mut bytes) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut acc_int8, mut bytes_int8) = (vec![], vec![]);
    let mut freq = vec![0.0; d];
    let (mut inclusion, mut inclusion_best) = (Vec::new(), Vec::new());
    for seed in 1..=splits {
        let mut idx: Vec<usize> = (0..rows.1.len()).collect();
        idx.shuffle(&mut Pcg64::seed_from_u64(seed));
        let (train, test) = idx.split_at(idx.len() * 8 / 10);
        let c = fit_int8(&spec(name, rows, train, test)?, true)?;
        let b = by_rule(&c, Rule::Best).ok_or_else(|| anyhow::anyhow!("no candidate"))?;
        best.push(b.test.and_then(|m| m.accuracy()).unwrap_or(f64::NAN));
        inclusion_best.push(b.inclusion);
        let r = c.report;
        inclusion.push(r.settings.inclusion);
        let a = |m: &Option<spikeslab_compiler::report::SplitMetrics>| {
            m.as_ref()
                .and_then(|m| m.test)
                .and_then(|m| m.accuracy())
                .unwrap_or(f64::NAN)
        };
        acc.push(
            r.metrics
                .emitted
                .test
                .and_then(|m| m.accuracy())
                .unwrap_or(f64::NAN),
        );
        dense.push(a(&r.metrics.dense_baseline));
        mag.push(a(&r.metrics.magnitude_baseline));
        feats.push(r.kept_features.len() as f64);
        hid.push(r.hidden.iter().flatten().filter(|n| n.kept).count() as f64);
        match &r.int8 {
            Some(q) => {
                bytes.push(q.f32_blob_bytes as f64);
                bytes_int8.push(r.blob_bytes as f64);
                acc_int8.push(a(&r.metrics.int8));
            }
            None => bytes.push(r.blob_bytes as f64),
        }
        for (f, i) in freq.iter_mut().zip(&r.inputs) {
            *f += f64::from(u8::from(i.kept)) / splits as f64;
        }
    }
    Ok(Record {
        dataset: name.into(),
        accuracy: Stat::of(&acc),
        accuracy_best_rule: Stat::of(&best),
        int8_splits: acc_int8.len(),
        accuracy_int8: Stat::of(&acc_int8),
        int8_blob_bytes: Stat::of(&bytes_int8),
        accuracy_dense: Stat::of(&dense),
        accuracy_magnitude: Stat::of(&mag),
        features_kept: Stat::of(&feats),
        hidden_kept: Stat::of(&hid),
        blob_bytes: Stat::of(&bytes),
        kept_frequency: freq,
        inclusion,
        inclusion_best_rule: inclusion_best,
        splits: splits as usize,
    })
}

/// Runs E7 on `splits` random splits (5 in the full run).
///
/// # Errors
/// Missing data (with the path), a compile or a write error.
pub fn e7(sklearn: &Path, splits: u64, out: &Output) -> anyhow::Result<Vec<Record>> {
    let load = |f: fn(&Path) -> anyhow::Result<Rows>, name: &str| {
        let p = sklearn.join(name);
        f(&p).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e} (the data sets are read from ../shared/datasets)",
                p.display()
            )
        })
    };
    let records = vec![
        run("digits", &load(digits, "digits.csv.gz")?, splits)?,
        run("wine", &load(wine, "wine_data.csv")?, splits)?,
    ];
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let d = r.kept_frequency.len();
            vec![
                r.dataset.clone(),
                r.accuracy.show(3),
                format!(
                    "{} (λ {:?})",
                    r.accuracy_best_rule.show(3),
                    r.inclusion_best_rule
                ),
                format!("{} ({} splits)", r.accuracy_int8.show(3), r.int8_splits),
                r.accuracy_dense.show(3),
                r.accuracy_magnitude.show(3),
                format!("{} of {d}", r.features_kept.show(1)),
                r.hidden_kept.show(1),
                r.blob_bytes.show(0),
                r.int8_blob_bytes.show(0),
                format!("{:?}", r.inclusion),
                r.splits.to_string(),
            ]
        })
        .collect();
    let md = markdown(
        &[
            "data set",
            "accuracy (pruned)",
            "best rule instead",
            "int8",
            "dense",
            "magnitude",
            "features kept",
            "hidden kept",
            "blob B",
            "int8 blob B",
            "λ chosen on validation",
            "splits",
        ],
        &rows,
    );
    out.write(
        "e7",
        &md,
        &records,
        Some(&pixels_svg(&records[0].kept_frequency)?),
    )?;
    Ok(records)
}

/// The 8×8 digit pixels, shaded by how often they were kept.
fn pixels_svg(freq: &[f64]) -> anyhow::Result<String> {
    use plotters::prelude::*;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (360, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let root = root
            .titled(
                "E7 digits: kept pixels (dark = kept in every split)",
                ("sans-serif", 13),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (k, &f) in freq.iter().enumerate() {
            let (r, c) = ((k / 8) as i32, (k % 8) as i32);
            let shade = (255.0 * (1.0 - f)) as u8;
            let rect = Rectangle::new(
                [(20 + c * 40, 20 + r * 40), (58 + c * 40, 58 + r * 40)],
                RGBColor(shade, shade, shade).filled(),
            );
            root.draw(&rect).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(svg)
}

/// E7 with the predictive distribution, one data set: per split compiled with
/// `uncertainty = true`.
#[derive(Clone, Debug, Serialize)]
pub struct UncertaintyRecord {
    /// `digits` or `wine`.
    pub dataset: String,
    /// Test log-likelihood of the emitted posterior's probabilities (probit approximation).
    pub ll: Stat,
    /// Of the point model it replaces.
    pub point_ll: Stat,
    /// By Monte Carlo over the same posterior.
    pub monte_carlo_ll: Stat,
    /// Test accuracy of the predictive probabilities.
    pub accuracy: Stat,
    /// Of the point model.
    pub point_accuracy: Stat,
    /// Mean logit sd with every input shifted by 3 training sds, over unshifted.
    pub shift_ratio: Stat,
    /// Share of test rows whose largest logit sd is above the blob's epistemic limit: as
    /// they are, and with every input shifted by 3 training sds.
    pub flagged: (Stat, Stat),
    /// Splits where each posterior was chosen: variational, slab, MAP means.
    pub chosen: [usize; 3],
    /// Blob bytes with and without the variances.
    pub blob_bytes: (Stat, Stat),
    /// Test LL with the weights' variances as 4-bit codes (`network.variances = "table4"`),
    /// minus the emitted one's, and the blob's bytes so.
    pub table4: (Stat, Stat),
    /// Splits run.
    pub splits: usize,
}

fn run_uncertainty(name: &str, rows: &Rows, splits: u64) -> anyhow::Result<UncertaintyRecord> {
    let mut v: [Vec<f64>; 12] = Default::default();
    let mut chosen_counts = [0usize; 3];
    for seed in 1..=splits {
        let mut idx: Vec<usize> = (0..rows.1.len()).collect();
        idx.shuffle(&mut Pcg64::seed_from_u64(seed));
        let (train, test) = idx.split_at(idx.len() * 8 / 10);
        let mut s = spec(name, rows, train, test)?;
        s.network.uncertainty = true;
        let c = super::fit(&s, false)?;
        let u = c
            .report
            .uncertainty
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no uncertainty report"))?;
        let chosen = u
            .candidates
            .iter()
            .find(|k| k.posterior == u.posterior)
            .and_then(|k| k.metrics.predictive_test)
            .ok_or_else(|| anyhow::anyhow!("no test rows"))?;
        let base = super::uncertainty::shifted(&c, 0.0);
        let moved = super::uncertainty::shifted(&c, super::uncertainty::SHIFT);
        let point = u.point.test;
        let (change, bytes) = super::uncertainty::table4(&c, chosen.log_likelihood, u.blob_bytes)?;
        for (k, x) in [
            chosen.log_likelihood,
            point.map_or(f64::NAN, |m| m.log_likelihood()),
            u.monte_carlo.test.unwrap_or(f64::NAN),
            chosen.accuracy.unwrap_or(f64::NAN),
            point.and_then(|m| m.accuracy()).unwrap_or(f64::NAN),
            moved.sd / base.sd,
            u.blob_bytes as f64,
            u.point_blob_bytes as f64,
            change,
            bytes,
            base.flagged,
            moved.flagged,
        ]
        .into_iter()
        .enumerate()
        {
            v[k].push(x);
        }
        if let Some(i) = spikeslab_compiler::posterior::POSTERIORS
            .iter()
            .position(|&p| p == u.posterior)
        {
            chosen_counts[i] += 1;
        }
    }
    Ok(UncertaintyRecord {
        dataset: name.into(),
        ll: Stat::of(&v[0]),
        point_ll: Stat::of(&v[1]),
        monte_carlo_ll: Stat::of(&v[2]),
        accuracy: Stat::of(&v[3]),
        point_accuracy: Stat::of(&v[4]),
        shift_ratio: Stat::of(&v[5]),
        flagged: (Stat::of(&v[10]), Stat::of(&v[11])),
        chosen: chosen_counts,
        blob_bytes: (Stat::of(&v[6]), Stat::of(&v[7])),
        table4: (Stat::of(&v[8]), Stat::of(&v[9])),
        splits: splits as usize,
    })
}

/// Runs E7 with `uncertainty = true` on `splits` random splits.
///
/// # Errors
/// Missing data (with the path), a compile or a write error.
pub fn e7_uncertainty(
    sklearn: &Path,
    splits: u64,
    out: &Output,
    name: &str,
) -> anyhow::Result<Vec<UncertaintyRecord>> {
    let load = |f: fn(&Path) -> anyhow::Result<Rows>, file: &str| {
        let p = sklearn.join(file);
        f(&p).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e} (the data sets are read from ../shared/datasets)",
                p.display()
            )
        })
    };
    let records = vec![
        run_uncertainty("digits", &load(digits, "digits.csv.gz")?, splits)?,
        run_uncertainty("wine", &load(wine, "wine_data.csv")?, splits)?,
    ];
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.dataset.clone(),
                r.ll.show(3),
                r.point_ll.show(3),
                r.monte_carlo_ll.show(3),
                r.accuracy.show(3),
                r.point_accuracy.show(3),
                format!("{:.2}", r.shift_ratio.mean),
                format!(
                    "{:.1}% / {:.1}%",
                    100.0 * r.flagged.0.mean,
                    100.0 * r.flagged.1.mean
                ),
                format!("{} / {} / {}", r.chosen[0], r.chosen[1], r.chosen[2]),
                format!("{:.0} / {:.0}", r.blob_bytes.0.mean, r.blob_bytes.1.mean),
                format!("{:+.4}, {:.0} B", r.table4.0.mean, r.table4.1.mean),
            ]
        })
        .collect();
    let md = markdown(
        &[
            "data set",
            "test LL (predict_dist)",
            "point model",
            "Monte Carlo, same posterior",
            "accuracy (predict_dist)",
            "point accuracy",
            "logit sd ×, inputs +3 sd",
            "above the epistemic limit: as they are / +3 sd",
            "chosen: variational / slab / MAP means",
            "blob B / without variances",
            "variances in 4-bit codes: LL change, blob",
        ],
        &rows,
    );
    out.write(name, &md, &records, None)?;
    Ok(records)
}

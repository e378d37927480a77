//! E6 with the predictive distribution: the UCI suite compiled with `uncertainty = true`, the
//! emitted posterior's test log-likelihood by moment propagation (what `predict_dist` gives)
//! against the point model with `σ_ε` only, against Monte Carlo over the same posterior and
//! against MC dropout's published figure; the coverage of the central 50% and 90% predictive
//! intervals; and a shift test, the mean predictive sd on test rows whose inputs are moved by
//! 3 training standard deviations over its value on the rows as they are, and the share of
//! test rows, as they are and so moved, whose epistemic sd passes the blob's epistemic limit
//! (the 99th percentile of the validation rows').

use std::path::Path;

use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde::Serialize;
use spikeslab_compiler::blob::{Info, Packing, encode};
use spikeslab_compiler::compile::Compiled;
use spikeslab_compiler::dataset::Part;
use spikeslab_compiler::network::Network;
use spikeslab_compiler::posterior::{
    POSTERIORS, coded, largest_epistemic_sd, moments, monte_carlo_ll, predictive_on,
};
use spikeslab_compiler::tune::columns_of;

use super::uci::{SetRuns, each_set, spec};
use super::{Output, Stat, fit, table};

/// Monte Carlo draws of the posterior for the reference log-likelihood (the compile's own
/// report uses 100; the difference from moment propagation is a few thousandths of a nat,
/// which 100 draws do not resolve).
pub const DRAWS: usize = 1000;

/// Inputs move by this many training standard deviations in the shift test.
pub const SHIFT: f32 = 3.0;

/// One data set's figures, mean ± standard error over its splits.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// Data set folder.
    pub dataset: String,
    /// Test LL of the emitted posterior, moment-propagated.
    pub ll: Stat,
    /// Test LL of the point model it replaces (MAP fine-tuned, `σ_ε` only).
    pub point_ll: Stat,
    /// Test LL by Monte Carlo over the same posterior ([`DRAWS`] draws).
    pub monte_carlo_ll: Stat,
    /// Mean over splits of |moment − Monte Carlo| test LL.
    pub moment_gap: Stat,
    /// Test LL with the weights' variances as 4-bit codes (`network.variances = "table4"`),
    /// minus the emitted one's.
    pub table4_ll_change: Stat,
    /// Blob bytes so.
    pub table4_blob_bytes: Stat,
    /// Test LL of each posterior: variational, slab, MAP means with the variational spread.
    pub variational_ll: Stat,
    /// See `variational_ll`.
    pub slab_ll: Stat,
    /// See `variational_ll`.
    pub map_ll: Stat,
    /// MC dropout's published test LL.
    pub dropout_ll: (f64, f64),
    /// Test RMSE of the emitted means.
    pub rmse: Stat,
    /// Fraction of test rows in the central 50% interval.
    pub coverage_50: Stat,
    /// In the central 90% interval.
    pub coverage_90: Stat,
    /// Mean predictive sd with every input shifted by [`SHIFT`] sds, over unshifted.
    pub shift_sd_ratio: Stat,
    /// The same for the epistemic sd alone.
    pub shift_epistemic_ratio: Stat,
    /// Share of test rows whose epistemic sd is above the blob's epistemic limit: as they
    /// are, and with every input shifted by [`SHIFT`] sds.
    pub flagged: (Stat, Stat),
    /// Splits where each posterior was chosen: variational, slab, MAP means.
    pub chosen: [usize; 3],
    /// Blob bytes with the variances.
    pub blob_bytes: Stat,
    /// Without them.
    pub point_blob_bytes: Stat,
    /// Splits run.
    pub splits: usize,
}

/// The figures of one compiled split.
struct Split {
    ll: f64,
    table4: (f64, f64),
    point_ll: f64,
    monte_carlo_ll: f64,
    variational_ll: f64,
    slab_ll: f64,
    map_ll: f64,
    rmse: f64,
    coverage: (f64, f64),
    shift: (f64, f64),
    flagged: (f64, f64),
    chosen: usize,
    bytes: (f64, f64),
}

/// The test rows with every input moved by `shift` standard deviations, through the emitted
/// posterior's moments (each row's once).
#[derive(Clone, Copy, Debug)]
pub struct Shifted {
    /// Mean predictive sd: regression on the target's scale; classification of the logits
    /// (averaged over the classes; no noise, so the same as `epistemic`).
    pub sd: f64,
    /// Mean epistemic sd, likewise.
    pub epistemic: f64,
    /// The share of rows whose largest epistemic sd, as `predict_dist` reports it, is above
    /// `c`'s epistemic limit (the blob's [`spikeslab_runtime::EPISTEMIC_LIMIT`]): the rows
    /// firmware would flag as unlike the training data. NaN without a limit.
    pub flagged: f64,
}

/// [`Shifted`] for `c`'s test rows moved by `shift`; NaN throughout without test rows.
pub fn shifted(c: &Compiled, shift: f32) -> Shifted {
    let data = &c.data;
    let Some((rows, _)) = data.part(Part::Test) else {
        return Shifted {
            sd: f64::NAN,
            epistemic: f64::NAN,
            flagged: f64::NAN,
        };
    };
    let limit = c
        .report
        .uncertainty
        .as_ref()
        .and_then(|u| u.epistemic_limit);
    let rows = rows.select(&columns_of(&c.network, data));
    let s = f64::from(data.target.1);
    let noise = f64::from(c.network.noise.unwrap_or(0.0));
    let (mut sd, mut epi, mut above) = (0.0, 0.0, 0usize);
    for x in rows.x.chunks(rows.d.max(1)).take(rows.len()) {
        let moved: Vec<f32> = x.iter().map(|v| v + shift).collect();
        let out = moments(&c.network, &moved);
        if data.task == spikeslab_runtime::Task::Regression {
            let (_, v) = out[0];
            sd += (v + noise * noise).sqrt() * s;
            epi += v.sqrt() * s;
        } else {
            let logit = out.iter().map(|&(_, v)| v.sqrt()).sum::<f64>() / out.len() as f64;
            sd += logit;
            epi += logit;
        }
        above += usize::from(limit.is_some_and(|l| largest_epistemic_sd(&out, data) > l));
    }
    let n = rows.len().max(1) as f64;
    Shifted {
        sd: sd / n,
        epistemic: epi / n,
        flagged: if limit.is_some() {
            above as f64 / n
        } else {
            f64::NAN
        },
    }
}

/// The emitted network with its weights' variances as 4-bit codes (`network.variances =
/// "table4"`, [`coded`]): its test log-likelihood minus `ll`, the emitted one's, and the
/// bytes of its blob (`blob_bytes` less what the codes save).
pub fn table4(c: &Compiled, ll: f64, blob_bytes: usize) -> anyhow::Result<(f64, f64)> {
    let net = coded(&c.network);
    let change =
        predictive_on(&net, &c.data, Part::Test).map_or(f64::NAN, |p| p.log_likelihood - ll);
    let bytes = |n: &Network| -> anyhow::Result<f64> {
        Ok(encode(n, &Info::default(), Packing::Smaller)?
            .as_bytes()
            .len() as f64)
    };
    Ok((
        change,
        blob_bytes as f64 - bytes(&c.network)? + bytes(&net)?,
    ))
}

fn run_split(dir: &Path, split: usize, hidden: usize) -> anyhow::Result<Split> {
    let mut s = spec(dir, split, hidden, None);
    s.network.uncertainty = true;
    let c = fit(&s, false)?;
    let u = c
        .report
        .uncertainty
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no uncertainty report"))?;
    let test_ll = |name: &str| {
        u.candidates
            .iter()
            .find(|k| k.posterior == name)
            .and_then(|k| k.metrics.predictive_test)
            .map_or(f64::NAN, |p| p.log_likelihood)
    };
    let chosen = u
        .candidates
        .iter()
        .find(|k| k.posterior == u.posterior)
        .and_then(|k| k.metrics.predictive_test)
        .ok_or_else(|| anyhow::anyhow!("no test rows"))?;
    let (base, moved) = (shifted(&c, 0.0), shifted(&c, SHIFT));
    Ok(Split {
        ll: chosen.log_likelihood,
        table4: table4(&c, chosen.log_likelihood, u.blob_bytes)?,
        point_ll: u.point.test.map_or(f64::NAN, |m| m.log_likelihood()),
        monte_carlo_ll: monte_carlo_ll(
            &c.network,
            &c.data,
            Part::Test,
            DRAWS,
            &mut Pcg64::seed_from_u64(split as u64),
        )?
        .unwrap_or(f64::NAN),
        variational_ll: test_ll(POSTERIORS[0]),
        slab_ll: test_ll(POSTERIORS[1]),
        map_ll: test_ll(POSTERIORS[2]),
        rmse: c
            .report
            .metrics
            .emitted
            .test
            .and_then(|m| m.rmse())
            .unwrap_or(f64::NAN),
        coverage: (
            chosen.coverage_50.unwrap_or(f64::NAN),
            chosen.coverage_90.unwrap_or(f64::NAN),
        ),
        shift: (moved.sd / base.sd, moved.epistemic / base.epistemic),
        flagged: (base.flagged, moved.flagged),
        chosen: POSTERIORS
            .iter()
            .position(|&p| p == u.posterior)
            .unwrap_or(0),
        bytes: (u.blob_bytes as f64, u.point_blob_bytes as f64),
    })
}

/// Runs the suite over `splits` splits of each data set (all when `None`), `only` the named
/// data sets when given.
///
/// # Errors
/// An unknown data set, missing data (with the path), a compile or a write error.
pub fn e6_uncertainty(
    root: &Path,
    splits: Option<usize>,
    only: Option<&[&str]>,
    out: &Output,
    name: &str,
) -> anyhow::Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut rows = Vec::new();
    for SetRuns {
        set: (folder, label, _, dropout_ll),
        runs,
        ..
    } in each_set(root, splits, only, run_split)?
    {
        let k = runs.len();
        let stat = |f: &dyn Fn(&Split) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>());
        let rec = Record {
            dataset: folder.into(),
            ll: stat(&|s| s.ll),
            point_ll: stat(&|s| s.point_ll),
            monte_carlo_ll: stat(&|s| s.monte_carlo_ll),
            moment_gap: stat(&|s| (s.ll - s.monte_carlo_ll).abs()),
            table4_ll_change: stat(&|s| s.table4.0),
            table4_blob_bytes: stat(&|s| s.table4.1),
            variational_ll: stat(&|s| s.variational_ll),
            slab_ll: stat(&|s| s.slab_ll),
            map_ll: stat(&|s| s.map_ll),
            dropout_ll,
            rmse: stat(&|s| s.rmse),
            coverage_50: stat(&|s| s.coverage.0),
            coverage_90: stat(&|s| s.coverage.1),
            shift_sd_ratio: stat(&|s| s.shift.0),
            shift_epistemic_ratio: stat(&|s| s.shift.1),
            flagged: (stat(&|s| s.flagged.0), stat(&|s| s.flagged.1)),
            chosen: [0, 1, 2].map(|i| runs.iter().filter(|s| s.chosen == i).count()),
            blob_bytes: stat(&|s| s.bytes.0),
            point_blob_bytes: stat(&|s| s.bytes.1),
            splits: k,
        };
        rows.push(vec![
            label.to_string(),
            rec.ll.show(3),
            rec.point_ll.show(3),
            rec.monte_carlo_ll.show(3),
            format!("{:.4}", rec.moment_gap.mean),
            format!("{:.2} ± {:.2}", dropout_ll.0, dropout_ll.1),
            rec.variational_ll.show(3),
            rec.slab_ll.show(3),
            rec.map_ll.show(3),
            format!(
                "{:+.4}, {:.0} B",
                rec.table4_ll_change.mean, rec.table4_blob_bytes.mean
            ),
            format!(
                "{:.0}% / {:.0}%",
                100.0 * rec.coverage_50.mean,
                100.0 * rec.coverage_90.mean
            ),
            format!(
                "{:.2} ({:.1})",
                rec.shift_sd_ratio.mean, rec.shift_epistemic_ratio.mean
            ),
            format!(
                "{:.1}% / {:.1}%",
                100.0 * rec.flagged.0.mean,
                100.0 * rec.flagged.1.mean
            ),
            rec.rmse.show_significant(3),
            format!("{} / {} / {}", rec.chosen[0], rec.chosen[1], rec.chosen[2]),
            format!(
                "{:.0} / {:.0}",
                rec.blob_bytes.mean, rec.point_blob_bytes.mean
            ),
        ]);
        records.push(rec);
    }
    let md = table(
        &[
            "data set",
            "test LL (predict_dist)",
            "point model, σ_ε only",
            "Monte Carlo, same posterior (1,000 draws)",
            "mean |moments − MC|",
            "MC dropout (published)",
            "variational",
            "slab",
            "MAP means",
            "variances in 4-bit codes: LL change, blob",
            "50% / 90% intervals cover",
            "sd ×, inputs +3 sd (epistemic ×)",
            "above the epistemic limit: as they are / +3 sd",
            "test RMSE",
            "chosen: variational / slab / MAP means",
            "blob B / without variances",
        ],
        &rows,
    );
    out.write(name, &md, &records, None)?;
    Ok(records)
}

//! From a spec's data section to standardised training, validation and test rows.

use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde::Serialize;

use crate::data::{Table, moments, read_csv, read_uci};
use crate::simulate::Design;
use crate::spec::{Spec, TaskKind};
use crate::train::Rows;
use crate::{Error, Result};

/// Data ready for training.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Names of all raw feature columns (D of them).
    pub names: Vec<String>,
    /// Raw column of each network input (constant columns left out).
    pub columns: Vec<usize>,
    /// Mean of each network input.
    pub mean: Vec<f32>,
    /// Standard deviation of each network input.
    pub std: Vec<f32>,
    /// Regression: target mean and standard deviation.
    pub target: (f32, f32),
    /// Classification: the class values, in index order.
    pub classes: Vec<f32>,
    /// Raw training, validation and test tables (targets as class indices for classification).
    pub raw: Splits,
    /// Standardised training rows.
    pub train: Rows,
    /// Standardised validation rows.
    pub valid: Rows,
    /// Standardised test rows, when the source has a test set.
    pub test: Option<Rows>,
    /// Simulated designs: the 0-based true features and the noise variance.
    pub truth: Option<(Vec<usize>, f64)>,
    /// Description for the report.
    pub info: DataInfo,
}

/// The raw splits.
#[derive(Clone, Debug)]
pub struct Splits {
    /// Training rows.
    pub train: Table,
    /// Validation rows (held out from training).
    pub valid: Table,
    /// Test rows.
    pub test: Option<Table>,
}

/// What the report says about the data.
#[derive(Clone, Debug, Serialize)]
pub struct DataInfo {
    /// Where the rows came from.
    pub source: String,
    /// Raw feature columns D.
    pub features: usize,
    /// Training rows.
    pub train_rows: usize,
    /// Validation rows.
    pub validation_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Constant columns left out of the network.
    pub dropped_constant: Vec<String>,
}

/// Loads and prepares the spec's data.
///
/// # Errors
/// [`Error::Data`] for unreadable or malformed data, a classification target with one class,
/// or fewer training rows than the batch; [`Error::Io`] for missing files.
pub fn prepare(spec: &Spec) -> Result<Prepared> {
    let d = &spec.data;
    let (train, test, truth, source) = if let Some(name) = &d.simulate {
        let mut design = Design::new(name)?;
        design.features = d.features.unwrap_or(design.features);
        design.alpha = d.alpha.unwrap_or(design.alpha);
        design.psi2 = d.psi2.unwrap_or(design.psi2);
        design.linear = d.g.as_deref() == Some("linear");
        let rows = d.rows.unwrap_or(design.default_rows());
        let sim = design.generate(rows, d.test_rows.unwrap_or(2000), d.seed.unwrap_or(1))?;
        let src = format!(
            "simulated {name}, D = {}, seed {}",
            design.features,
            d.seed.unwrap_or(1)
        );
        (
            sim.train,
            Some(sim.test),
            Some((sim.truth, sim.noise_var)),
            src,
        )
    } else if let Some(path) = &d.csv {
        let target = d.target.as_deref().unwrap_or("y");
        let train = read_csv(path, target)?;
        let test = d
            .test_csv
            .as_ref()
            .map(|p| read_csv(p, target))
            .transpose()?;
        if let Some(t) = &test
            && t.names != train.names
        {
            return Err(Error::data(
                d.test_csv.clone().unwrap_or_default(),
                "the test CSV's columns differ from the training CSV's",
            ));
        }
        (train, test, None, path.display().to_string())
    } else {
        let dir = d.uci.clone().unwrap_or_default();
        let split = d.split.unwrap_or(0);
        let (train, test) = read_uci(&dir, split)?;
        (
            train,
            Some(test),
            None,
            format!("{} split {split}", dir.display()),
        )
    };
    let mut rng = Pcg64::seed_from_u64(spec.train.seed.wrapping_add(0x9E37_79B9_7F4A_7C15));
    let (mut train, mut valid) = train.split(d.validation, &mut rng);
    let mut test = test;
    let classes = if spec.task == TaskKind::Classification {
        let classes = class_values(&train);
        if classes.len() < 2 {
            return Err(Error::data(
                &source,
                format!(
                    "the classification target has {} class in the training rows; at least 2 are needed",
                    classes.len()
                ),
            ));
        }
        for t in [Some(&mut train), Some(&mut valid), test.as_mut()]
            .into_iter()
            .flatten()
        {
            for y in &mut t.y {
                *y = classes.iter().position(|c| c == y).ok_or_else(|| {
                    Error::data(
                        &source,
                        format!("class {y} does not occur in the training rows"),
                    )
                })? as f32;
            }
        }
        classes
    } else {
        Vec::new()
    };
    if train.rows() < spec.train.batch {
        return Err(Error::data(
            &source,
            format!(
                "{} training rows (after holding out {} for validation) is fewer than the batch of {}; lower `train.batch`",
                train.rows(),
                valid.rows(),
                spec.train.batch
            ),
        ));
    }
    let constant = train.constant_columns();
    let columns: Vec<usize> = (0..train.features())
        .filter(|j| !constant.contains(j))
        .collect();
    if columns.is_empty() {
        return Err(Error::data(
            &source,
            "every feature column is constant in the training rows",
        ));
    }
    let pick = |t: &Table| -> Vec<f32> {
        (0..t.rows())
            .flat_map(|i| columns.iter().map(move |&j| t.row(i)[j]))
            .collect()
    };
    let (mean, std) = moments(&pick(&train), columns.len());
    let target = if classes.is_empty() {
        let (m, s) = moments(&train.y, 1);
        (m[0], s[0])
    } else {
        (0.0, 1.0)
    };
    let rows = |t: &Table| -> Rows {
        let x = pick(t)
            .chunks(columns.len())
            .flat_map(|r| {
                r.iter()
                    .zip(mean.iter().zip(&std))
                    .map(|(v, (m, s))| (v - m) / s)
                    .collect::<Vec<_>>()
            })
            .collect();
        let y = if classes.is_empty() {
            t.y.iter().map(|v| (v - target.0) / target.1).collect()
        } else {
            t.y.clone()
        };
        Rows {
            x,
            y,
            d: columns.len(),
        }
    };
    let info = DataInfo {
        source,
        features: train.features(),
        train_rows: train.rows(),
        validation_rows: valid.rows(),
        test_rows: test.as_ref().map_or(0, Table::rows),
        dropped_constant: constant.iter().map(|&j| train.names[j].clone()).collect(),
    };
    Ok(Prepared {
        names: train.names.clone(),
        train: rows(&train),
        valid: rows(&valid),
        test: test.as_ref().map(rows),
        columns,
        mean,
        std,
        target,
        classes,
        raw: Splits { train, valid, test },
        truth,
        info,
    })
}

fn class_values(t: &Table) -> Vec<f32> {
    let mut v = t.y.clone();
    v.sort_by(f32::total_cmp);
    v.dedup();
    v
}

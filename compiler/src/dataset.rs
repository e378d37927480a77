//! The first stage: from a spec's data section to standardised training, validation and
//! test rows ([`prepare`]).

use candle::{Device, Tensor};
use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde::Serialize;
use spikeslab_runtime::Task;

use crate::data::{Table, moments, read_csv, read_uci};
use crate::spec::{DataSpec, Source};
use crate::{Error, Result};

/// Rows on the host, features standardised, targets standardised (regression) or class indices.
#[derive(Clone, Debug)]
pub struct Rows {
    /// Row-major features.
    pub x: Vec<f32>,
    /// Targets.
    pub y: Vec<f32>,
    /// Feature count.
    pub d: usize,
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// The rows restricted to the columns `cols`.
    pub fn select(&self, cols: &[usize]) -> Self {
        Self {
            x: self
                .x
                .chunks(self.d)
                .flat_map(|r| cols.iter().map(|&j| r[j]))
                .collect(),
            y: self.y.clone(),
            d: cols.len(),
        }
    }

    /// All features as an `n × d` tensor.
    ///
    /// # Errors
    /// A tensor error.
    pub fn x_tensor(&self) -> Result<Tensor> {
        Ok(Tensor::from_slice(
            &self.x,
            (self.len(), self.d),
            &Device::Cpu,
        )?)
    }

    /// The rows at `idx` into `x` (row-major) and `y`, replacing what they held.
    pub fn gather(&self, idx: &[usize], x: &mut Vec<f32>, y: &mut Vec<f32>) {
        x.clear();
        y.clear();
        for &i in idx {
            x.extend_from_slice(&self.x[i * self.d..(i + 1) * self.d]);
            y.push(self.y[i]);
        }
    }

    /// The rows at `idx` as tensors.
    ///
    /// # Errors
    /// A tensor error.
    pub fn batch(&self, idx: &[usize]) -> Result<(Tensor, Tensor)> {
        let mut x = Vec::with_capacity(idx.len() * self.d);
        for &i in idx {
            x.extend_from_slice(&self.x[i * self.d..(i + 1) * self.d]);
        }
        let y: Vec<f32> = idx.iter().map(|&i| self.y[i]).collect();
        let dev = &Device::Cpu;
        Ok((
            Tensor::from_vec(x, (idx.len(), self.d), dev)?,
            Tensor::from_vec(y, idx.len(), dev)?,
        ))
    }
}

/// Which rows of a [`Dataset`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The training rows.
    Train,
    /// The held-out validation rows.
    Validation,
    /// The test rows.
    Test,
}

/// Data ready for training.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Regression or classification.
    pub task: Task,
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
    /// The target column's name.
    pub target_name: String,
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

impl Dataset {
    /// The standardised rows and the raw table of `part`; `None` when there are none.
    pub fn part(&self, part: Part) -> Option<(&Rows, &Table)> {
        let (rows, table) = match part {
            Part::Train => (&self.train, &self.raw.train),
            Part::Validation => (&self.valid, &self.raw.valid),
            Part::Test => (self.test.as_ref()?, self.raw.test.as_ref()?),
        };
        (!rows.is_empty()).then_some((rows, table))
    }

    /// Outputs of the network: 1 for regression, one per class.
    pub fn outputs(&self) -> usize {
        if self.task == Task::Regression {
            1
        } else {
            self.classes.len()
        }
    }
}

/// Loads and prepares the data; `seed` draws the validation rows.
///
/// # Errors
/// [`Error::Data`] for unreadable or malformed data or a classification target with one
/// class; [`Error::Io`] for missing files.
pub fn prepare(d: &DataSpec, seed: u64) -> Result<Dataset> {
    let (train, test, truth, source) = match &d.source {
        Source::Simulate(s) => {
            let sim = s.design.generate(s.rows, s.test_rows, s.seed)?;
            let src = format!(
                "simulated {}, D = {}, seed {}",
                s.design.kind.name(),
                s.design.features,
                s.seed
            );
            (
                sim.train,
                Some(sim.test),
                Some((sim.truth, sim.noise_var)),
                src,
            )
        }
        Source::Csv { path, target, test } => {
            let train = read_csv(path, target)?;
            let test_rows = test.as_ref().map(|p| read_csv(p, target)).transpose()?;
            if let (Some(t), Some(p)) = (&test_rows, test)
                && t.names != train.names
            {
                return Err(Error::data(
                    p,
                    "the test CSV's columns differ from the training CSV's",
                ));
            }
            (train, test_rows, None, path.display().to_string())
        }
        Source::Memory { label, train, test } => {
            if let Some(t) = test
                && t.names != train.names
            {
                return Err(Error::data(
                    label,
                    "the test rows' columns differ from the training rows'",
                ));
            }
            let check = |t: &Table| {
                Table::new(
                    label,
                    t.names.clone(),
                    t.target.clone(),
                    t.x.clone(),
                    t.y.clone(),
                )
            };
            let test = test.as_ref().map(check).transpose()?;
            (check(train)?, test, None, label.clone())
        }
        Source::Uci { dir, split } => {
            let (train, test) = read_uci(dir, *split)?;
            (
                train,
                Some(test),
                None,
                format!("{} split {split}", dir.display()),
            )
        }
    };
    if train.features() > usize::from(u16::MAX) {
        return Err(Error::data(
            &source,
            format!(
                "{} feature columns: a model reads at most 65535 raw features",
                train.features()
            ),
        ));
    }
    let mut rng = Pcg64::seed_from_u64(seed.wrapping_add(0x9E37_79B9_7F4A_7C15));
    let (mut train, mut valid) = train.split(d.validation, &mut rng);
    let mut test = test;
    let classes = if d.task == Task::Classification {
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
        if classes.len() > spikeslab_runtime::MAX_WIDTH {
            return Err(Error::data(
                &source,
                format!(
                    "the classification target `{}` has {} classes in the training rows; the runtime's output layer holds at most {}",
                    crate::text::excerpt(&train.target),
                    classes.len(),
                    spikeslab_runtime::MAX_WIDTH
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
    let (train_rows, valid_rows) = (rows(&train), rows(&valid));
    let test_rows = test.as_ref().map(rows);
    // Values near f32's range overflow once centred or scaled: say so here, not as divergence.
    for (r, t) in [(&train_rows, &train), (&valid_rows, &valid)]
        .into_iter()
        .chain(test_rows.iter().zip(test.iter()))
    {
        if let Some(k) = r.x.iter().position(|v| !v.is_finite()) {
            let name = &train.names[columns[k % columns.len()]];
            return Err(Error::data(
                &source,
                format!(
                    "column `{}`: its values (up to {:e}) overflow f32 once standardised; rescale the column",
                    crate::text::excerpt(name),
                    (0..t.rows())
                        .map(|i| t.row(i)[columns[k % columns.len()]].abs())
                        .fold(0f32, f32::max)
                ),
            ));
        }
        if r.y.iter().any(|v| !v.is_finite()) {
            return Err(Error::data(
                &source,
                format!(
                    "target `{}`: its values overflow f32 once standardised; rescale it",
                    crate::text::excerpt(&train.target)
                ),
            ));
        }
    }
    let info = DataInfo {
        source,
        features: train.features(),
        train_rows: train.rows(),
        validation_rows: valid.rows(),
        test_rows: test.as_ref().map_or(0, Table::rows),
        dropped_constant: constant.iter().map(|&j| train.names[j].clone()).collect(),
    };
    Ok(Dataset {
        task: d.task,
        names: train.names.clone(),
        train: train_rows,
        valid: valid_rows,
        test: test_rows,
        columns,
        mean,
        std,
        target,
        target_name: train.target.clone(),
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

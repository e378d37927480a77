//! `spikeslab eval`: runs the runtime over a CSV on the host.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use spikeslab_runtime::{DistScratch, Model, Prediction, Scratch, Task};

use crate::cmd::say;
use spikeslab_compiler::blob::read as load;
use spikeslab_compiler::data::{Table, read_csv, read_csv_named};
use spikeslab_compiler::files::{Outputs, check_outputs};
use spikeslab_compiler::metrics::{Metrics, gaussian_log_density};
use spikeslab_compiler::posterior::{Z50, Z90};
use spikeslab_compiler::{Error, Result};

/// Evaluate a blob on a CSV with the runtime (exactly as a board would) and print the metrics,
/// or write the predictions. Columns are matched by the names the blob stores; other columns
/// are ignored, in any order.
#[derive(Args, Debug)]
pub struct Cmd {
    /// The blob.
    pub blob: PathBuf,
    /// CSV with a header: the columns the model reads (by name) and the target column.
    #[arg(long)]
    pub data: PathBuf,
    /// Name of the target column (default: the one the model was trained on).
    #[arg(long)]
    pub target: Option<String>,
    /// Read the features by position instead: every column but the target, in order, must be
    /// the model's raw feature vector.
    #[arg(long)]
    pub by_position: bool,
    /// Write the predictions (one row per data row) to this CSV.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn text(t: spikeslab_runtime::Text<'_>) -> String {
    // `blob::read` has checked every name is UTF-8.
    String::from_utf8_lossy(t.as_bytes()).into_owned()
}

impl Cmd {
    /// Runs the subcommand.
    ///
    /// # Errors
    /// An invalid blob, a CSV that does not fit the model, or an output that is an input.
    pub fn run(self) -> Result<()> {
        if let Some(out) = &self.out {
            check_outputs(&[&self.blob, &self.data], &[out])?;
        }
        let blob = load(&self.blob)?;
        let model = blob.model()?;
        let target = self
            .target
            .clone()
            .unwrap_or_else(|| text(model.meta().target));
        let (mut table, out, dist) = self.predict(&model, &target)?;
        let limit = model.epistemic_limit();
        let k = model.outputs();
        let labels: Vec<String> = model.output_names().map(text).collect();
        let metrics = if model.task() == Task::Regression {
            let sd = f64::from(model.noise_sd()[0]);
            let pred: Vec<f64> = out.iter().map(|&v| f64::from(v)).collect();
            let ll: Vec<f64> = pred
                .iter()
                .zip(&table.y)
                .map(|(&p, &y)| gaussian_log_density(f64::from(y), p, sd))
                .collect();
            Metrics::regression(&pred, &table.y, &ll)
        } else {
            let classes: Vec<f32> = labels
                .iter()
                .map(|l| l.parse().unwrap_or(f32::NAN))
                .collect();
            for (i, y) in table.y.iter_mut().enumerate() {
                *y = classes.iter().position(|c| c == y).ok_or_else(|| {
                    Error::data(
                        &self.data,
                        format!(
                            "line {}: class {y} is not one the model knows ({})",
                            i + 2,
                            spikeslab_compiler::text::list(&labels, 12)
                        ),
                    )
                })? as f32;
            }
            Metrics::classification(
                &out.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
                k,
                &table.y,
            )
        };
        if let Some(path) = &self.out {
            let mut s = String::new();
            let mut header: Vec<String> = if model.task() == Task::Regression {
                labels.clone()
            } else {
                labels.iter().map(|l| format!("p({l})")).collect()
            };
            if dist.is_some() {
                header.extend(labels.iter().map(|l| format!("{l}_mean")));
                header.extend(labels.iter().map(|l| format!("{l}_sd")));
                header.extend(labels.iter().map(|l| format!("{l}_epistemic_sd")));
                if limit.is_some() {
                    header.push("unfamiliar".into());
                }
            }
            let _ = writeln!(s, "{}", header.join(","));
            for (i, row) in out.chunks(k).enumerate() {
                let mut cells: Vec<String> = row.iter().map(f32::to_string).collect();
                if let Some(d) = &dist {
                    let d = &d[i * k..(i + 1) * k];
                    cells.extend(d.iter().map(|p| p.mean.to_string()));
                    cells.extend(d.iter().map(|p| p.sd().to_string()));
                    cells.extend(d.iter().map(|p| p.epistemic.sqrt().to_string()));
                    if let Some(l) = limit {
                        cells.push(u8::from(unfamiliar(d, l)).to_string());
                    }
                }
                let _ = writeln!(s, "{}", cells.join(","));
            }
            let mut outputs = Outputs::new(&[&self.blob, &self.data]);
            outputs.add(path, s);
            outputs.commit()?;
        }
        let rows = table.rows();
        let predictive = dist.as_ref().map(|d| {
            let mut line = predictive_line(d, &table.y, k, model.task());
            if let Some(l) = limit {
                let above = d.chunks(k.max(1)).filter(|r| unfamiliar(r, l)).count();
                line.push_str(&format!(
                    "unlike the training data (an epistemic sd above the model's limit {l:.4}): {above} of {rows} rows ({:.1}%)\n",
                    100.0 * above as f64 / rows.max(1) as f64
                ));
            }
            line
        });
        say(&match metrics {
            Metrics::Regression {
                rmse,
                mse,
                log_likelihood,
                ..
            } => format!(
                "{rows} rows: RMSE {rmse:.6} (MSE {mse:.6}), log-likelihood {log_likelihood:.4} per row\n"
            ),
            Metrics::Classification {
                accuracy,
                log_likelihood,
                ..
            } => format!(
                "{rows} rows: accuracy {accuracy:.4}, log-likelihood {log_likelihood:.4} per row\n"
            ),
        })?;
        match predictive {
            Some(line) => say(&line),
            None => Ok(()),
        }
    }

    /// The CSV's rows (the read columns, by name; or every column, by position) and the
    /// model's outputs on them. By name, each row's raw feature vector holds the read
    /// columns in place and zeros the model never reads.
    ///
    /// With a posterior, also each row's predictive distribution (`predict_dist`).
    fn predict(
        &self,
        model: &Model<'_>,
        target: &str,
    ) -> Result<(Table, Vec<f32>, Option<Vec<Prediction>>)> {
        let table = if self.by_position {
            let table = read_csv(&self.data, target)?;
            if table.features() != model.features() {
                return Err(Error::data(
                    &self.data,
                    format!(
                        "{} feature columns, the model takes {} (by position)",
                        table.features(),
                        model.features()
                    ),
                ));
            }
            table
        } else {
            let names: Vec<String> = model.input_names().map(text).collect();
            read_csv_named(&self.data, target, &names)?
        };
        let k = model.outputs();
        let mut raw = vec![0f32; model.features()];
        let mut out = vec![0f32; table.rows() * k];
        let mut dist = model
            .has_posterior()
            .then(|| vec![Prediction::default(); table.rows() * k]);
        let (mut scratch, mut dist_scratch) = (Scratch::new(), DistScratch::new());
        for (i, o) in out.chunks_mut(k).enumerate() {
            if self.by_position {
                raw.copy_from_slice(table.row(i));
            } else {
                for (&at, &v) in model.inputs().iter().zip(table.row(i)) {
                    raw[usize::from(at)] = v;
                }
            }
            model.predict_with(&mut scratch, &raw, o)?;
            if let Some(d) = &mut dist {
                model.predict_dist_with(&mut dist_scratch, &raw, &mut d[i * k..(i + 1) * k])?;
            }
        }
        Ok((table, out, dist))
    }
}

/// Whether a row's predictive distribution is unlike the training data: an output's
/// epistemic variance above `limit²`, as firmware tests it.
fn unfamiliar(row: &[Prediction], limit: f32) -> bool {
    row.iter().any(|p| p.epistemic > limit * limit)
}

/// The predictive distribution's figures on the rows: regression, its log-likelihood, the
/// coverage of the central 50% and 90% intervals and the mean sds; classification, the
/// log-likelihood of its probabilities (`y` class indices).
fn predictive_line(dist: &[Prediction], y: &[f32], k: usize, task: Task) -> String {
    let n = y.len().max(1) as f64;
    if task == Task::Regression {
        let (mut ll, mut in50, mut in90, mut sd, mut epi) = (0.0, 0usize, 0usize, 0.0, 0.0);
        for (p, &t) in dist.iter().step_by(k.max(1)).zip(y) {
            let s = f64::from(p.sd());
            ll += gaussian_log_density(f64::from(t), f64::from(p.mean), s);
            let d = (f64::from(t) - f64::from(p.mean)).abs() / s;
            in50 += usize::from(d <= Z50);
            in90 += usize::from(d <= Z90);
            sd += s;
            epi += f64::from(p.epistemic).sqrt();
        }
        format!(
            "predictive distribution (predict_dist): log-likelihood {:.4} per row; 50%/90% intervals cover {:.1}%/{:.1}%; mean sd {:.4} (weights {:.4})\n",
            ll / n,
            100.0 * in50 as f64 / n,
            100.0 * in90 as f64 / n,
            sd / n,
            epi / n
        )
    } else {
        let (mut ll, mut right) = (0.0, 0usize);
        for (row, &t) in dist.chunks(k.max(1)).zip(y) {
            let t = t as usize;
            ll += f64::from(row.get(t).map_or(0.0, |p| p.mean))
                .max(1e-300)
                .ln();
            let best = row
                .iter()
                .enumerate()
                .fold(0, |b, (i, p)| if p.mean > row[b].mean { i } else { b });
            right += usize::from(best == t);
        }
        format!(
            "predictive distribution (predict_dist): accuracy {:.4}, log-likelihood {:.4} per row\n",
            right as f64 / n,
            ll / n
        )
    }
}

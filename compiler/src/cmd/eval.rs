//! `spikeslab eval`: runs the runtime over a CSV on the host.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use spikeslab_runtime::{Model, Scratch, Task};

use crate::cmd::say;
use spikeslab_compiler::blob::read as load;
use spikeslab_compiler::data::{Table, read_csv, read_csv_named};
use spikeslab_compiler::evaluate::runtime_outputs;
use spikeslab_compiler::files::{Outputs, check_outputs};
use spikeslab_compiler::metrics::{Metrics, gaussian_log_density};
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
        let (mut table, out) = self.predict(&model, &target)?;
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
            let header: Vec<String> = if model.task() == Task::Regression {
                labels.clone()
            } else {
                labels.iter().map(|l| format!("p({l})")).collect()
            };
            let _ = writeln!(s, "{}", header.join(","));
            for row in out.chunks(k) {
                let _ = writeln!(
                    s,
                    "{}",
                    row.iter().map(f32::to_string).collect::<Vec<_>>().join(",")
                );
            }
            let mut outputs = Outputs::new(&[&self.blob, &self.data]);
            outputs.add(path, s);
            outputs.commit()?;
        }
        let rows = table.rows();
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
        })
    }

    /// The CSV's rows (the read columns, by name; or every column, by position) and the
    /// model's outputs on them. By name, each row's raw feature vector holds the read
    /// columns in place and zeros the model never reads.
    fn predict(&self, model: &Model<'_>, target: &str) -> Result<(Table, Vec<f32>)> {
        if self.by_position {
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
            let out = runtime_outputs(model, &table)?;
            return Ok((table, out));
        }
        let names: Vec<String> = model.input_names().map(text).collect();
        let table = read_csv_named(&self.data, target, &names)?;
        let k = model.outputs();
        let mut raw = vec![0f32; model.features()];
        let mut out = vec![0f32; table.rows() * k];
        let mut scratch = Scratch::new();
        for (i, o) in out.chunks_mut(k).enumerate() {
            for (&at, &v) in model.inputs().iter().zip(table.row(i)) {
                raw[usize::from(at)] = v;
            }
            model.predict_with(&mut scratch, &raw, o)?;
        }
        Ok((table, out))
    }
}

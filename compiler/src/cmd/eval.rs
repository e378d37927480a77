//! `spikeslab eval`: runs the runtime over a CSV on the host.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use spikeslab_runtime::Task;

use crate::cmd::compile::report_path;
use spikeslab_compiler::blob::read as load;
use spikeslab_compiler::data::read_csv;
use spikeslab_compiler::evaluate::runtime_outputs;
use spikeslab_compiler::metrics::Metrics;
use spikeslab_compiler::{Error, Result, write_atomic};

/// Evaluate a blob on a CSV with the runtime (exactly as a board would) and print the metric,
/// or write the predictions.
#[derive(Args, Debug)]
pub struct Cmd {
    /// The blob.
    pub blob: PathBuf,
    /// CSV with a header: the model's D feature columns in order, and the target column.
    #[arg(long)]
    pub data: PathBuf,
    /// Name of the target column.
    #[arg(long, default_value = "y")]
    pub target: String,
    /// Write the predictions (one row per data row) to this CSV.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl Cmd {
    /// Runs the subcommand.
    ///
    /// # Errors
    /// An invalid blob, or a CSV that does not fit the model.
    pub fn run(self) -> Result<()> {
        let blob = load(&self.blob)?;
        let model = blob.model()?;
        let mut table = read_csv(&self.data, &self.target)?;
        if table.features() != model.features() {
            return Err(Error::data(
                &self.data,
                format!(
                    "{} feature columns, the model takes {}",
                    table.features(),
                    model.features()
                ),
            ));
        }
        let out = runtime_outputs(&model, &table)?;
        let k = model.outputs();
        let metrics = if model.task() == Task::Regression {
            let pred: Vec<f64> = out.iter().map(|&v| f64::from(v)).collect();
            Metrics::regression(&pred, &table.y, &vec![f64::NAN; table.rows()])
        } else {
            let classes = classes(&self.blob).unwrap_or_else(|| (0..k).map(|c| c as f32).collect());
            for (i, y) in table.y.iter_mut().enumerate() {
                *y = classes.iter().position(|c| c == y).ok_or_else(|| {
                    Error::data(
                        &self.data,
                        format!("line {}: class {y} is not one the model knows", i + 2),
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
            let header: Vec<String> = (0..k).map(|j| format!("output{j}")).collect();
            let _ = writeln!(s, "{}", header.join(","));
            for row in out.chunks(k) {
                let _ = writeln!(
                    s,
                    "{}",
                    row.iter().map(f32::to_string).collect::<Vec<_>>().join(",")
                );
            }
            write_atomic(path, s.as_bytes())?;
        }
        let rows = table.rows();
        match metrics {
            Metrics::Regression { rmse, mse, .. } => {
                println!("{rows} rows: RMSE {rmse:.6} (MSE {mse:.6})");
            }
            Metrics::Classification { accuracy, .. } => {
                println!("{rows} rows: accuracy {accuracy:.4}");
            }
        }
        Ok(())
    }
}

fn classes(blob: &std::path::Path) -> Option<Vec<f32>> {
    let text = std::fs::read_to_string(report_path(blob, "report.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["classes"]
        .as_array()?
        .iter()
        .map(|c| c.as_f64().map(|x| x as f32))
        .collect()
}

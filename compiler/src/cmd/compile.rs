//! `spikeslab compile`: train, prune, emit, verify, report.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::compile::{Options, compile};
use crate::spec::{Inclusion, Spec};
use crate::{Error, Result, write_atomic};

/// Compile a model spec: train the spike-and-slab network, prune it by node PIPs, write the
/// blob (verified with the runtime) and a report (`<name>.report.json`, `<name>.svg`) beside it.
#[derive(Args, Debug, Default)]
pub struct Cmd {
    /// The model spec (TOML).
    pub spec: PathBuf,
    /// Blob path (default: `<spec folder>/<name>.postcard`).
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// No progress bars or summary.
    #[arg(long)]
    pub quiet: bool,
    /// Also train the dense baseline and its magnitude-pruned twin (same node counts) and report both.
    #[arg(long)]
    pub baseline: bool,
    /// Override `train.epochs`.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override `train.seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override `train.batch`.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Override `train.learning_rate`.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Override `prune.threshold`.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Override `prior.inclusion`: `auto` or a probability.
    #[arg(long)]
    pub inclusion: Option<String>,
    /// Override `network.hidden`, e.g. `50` or `64,32`.
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Override `prune.finetune_epochs`.
    #[arg(long)]
    pub finetune_epochs: Option<usize>,
    /// Override `data.seed` (simulated data).
    #[arg(long)]
    pub data_seed: Option<u64>,
    /// Override `budget.max_blob_bytes`.
    #[arg(long)]
    pub max_blob_bytes: Option<usize>,
}

impl Cmd {
    /// The spec with the command line's overrides applied and checked.
    ///
    /// # Errors
    /// The spec's errors, or an override out of range.
    pub fn spec(&self) -> Result<Spec> {
        let mut s = Spec::load(&self.spec)?;
        let t = &mut s.train;
        t.epochs = self.epochs.unwrap_or(t.epochs);
        t.seed = self.seed.unwrap_or(t.seed);
        t.batch = self.batch.unwrap_or(t.batch);
        t.learning_rate = self.learning_rate.unwrap_or(t.learning_rate);
        s.prune.threshold = self.threshold.unwrap_or(s.prune.threshold);
        s.prune.finetune_epochs = self.finetune_epochs.unwrap_or(s.prune.finetune_epochs);
        if let Some(h) = &self.hidden {
            s.network.hidden.clone_from(h);
        }
        if let Some(seed) = self.data_seed {
            s.data.seed = Some(seed);
        }
        s.budget.max_blob_bytes = self.max_blob_bytes.or(s.budget.max_blob_bytes);
        if let Some(i) = &self.inclusion {
            let bad = || Error::SpecValue {
                path: "command line".into(),
                key: "--inclusion".into(),
                value: i.clone(),
                expected: "auto or a probability in (0, 1)".into(),
            };
            s.prior.inclusion = if i == "auto" {
                Inclusion::Auto(crate::spec::Auto::Auto)
            } else {
                Inclusion::Fixed(i.parse().map_err(|_| bad())?)
            };
        }
        s.check(Path::new("command line"))?;
        Ok(s)
    }

    /// Runs the subcommand.
    ///
    /// # Errors
    /// Any compile error; nothing is written then.
    pub fn run(self) -> Result<()> {
        let spec = self.spec()?;
        let blob_path = self
            .out
            .clone()
            .unwrap_or_else(|| self.spec.with_file_name(format!("{}.postcard", spec.name)));
        let c = compile(
            &spec,
            &Options {
                quiet: self.quiet,
                baseline: self.baseline,
            },
        )?;
        let json =
            serde_json::to_string_pretty(&c.report).map_err(|e| Error::Report(e.to_string()))?;
        let svg = crate::report::svg::render(&c.report)?;
        write_atomic(&report_path(&blob_path, "report.json"), json.as_bytes())?;
        write_atomic(&report_path(&blob_path, "svg"), svg.as_bytes())?;
        write_atomic(&blob_path, c.blob.as_bytes())?;
        if !self.quiet {
            print!("{}", c.report.summary());
            println!("  wrote {} and its report", blob_path.display());
        }
        Ok(())
    }
}

/// `model.postcard` → `model.<ext>`.
pub fn report_path(blob: &Path, ext: &str) -> PathBuf {
    let stem = blob.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    blob.with_file_name(format!("{stem}.{ext}"))
}

//! `spikeslab compile`: train, prune, emit, verify, report.

use std::path::{Path, PathBuf};

use clap::Args;
use spikeslab_compiler::Result;
use spikeslab_compiler::compile::{Options, compile};
use spikeslab_compiler::files::{Outputs, check_outputs};
use spikeslab_compiler::spec::{Override, Spec};

use crate::cmd::say;
use toml::Value;

/// Compile a model spec: train the spike-and-slab network (for each λ of the grid, choosing
/// one on the validation rows), prune it by node PIPs, write the blob (verified with the
/// runtime) and a report (`<name>.report.json`, `<name>.svg`) beside it. A spec needs only a
/// `[data]` section; every flag below sets the spec key it names, fixing that choice.
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
    /// Threads at once, 1 or more (default: the cores available): the candidates, the two starts of the network of every hidden node, the int8 input tails; the blob does not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// `data.split`: the UCI split (0-based).
    #[arg(long)]
    pub split: Option<i64>,
    /// `data.seed`: the simulation's seed.
    #[arg(long)]
    pub data_seed: Option<i64>,
    /// `prior.inclusion`: `auto` (a grid chosen on validation), `bai`, a probability, or a
    /// comma-separated grid such as `0.01,0.05,0.1`.
    #[arg(long)]
    pub inclusion: Option<String>,
    /// `prior.rule`: how a λ grid is decided, `one-se` or `best`.
    #[arg(long)]
    pub rule: Option<String>,
    /// `network.hidden`, e.g. `50` or `64,32`.
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<i64>>,
    /// `network.activation`: relu, tanh or sigmoid.
    #[arg(long)]
    pub activation: Option<String>,
    /// `network.int8 = true`: quantise the emitted network to 8-bit integers.
    #[arg(long)]
    pub int8: bool,
    /// `network.uncertainty = true`: store the weights' posterior variances, for the
    /// runtime's `predict_dist` (mean ± sd).
    #[arg(long)]
    pub uncertainty: bool,
    /// `network.variances`: how f32 layers store the weights' variances, `f32` or `table4`
    /// (a 4-bit code each into a table of 16 per layer).
    #[arg(long)]
    pub variances: Option<String>,
    /// `train.epochs`.
    #[arg(long)]
    pub epochs: Option<i64>,
    /// `train.batch`.
    #[arg(long)]
    pub batch: Option<i64>,
    /// `train.learning_rate`.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// `train.kl_warmup`: epochs of linear KL warm-up (0: none).
    #[arg(long)]
    pub kl_warmup: Option<i64>,
    /// `train.seed`.
    #[arg(long)]
    pub seed: Option<i64>,
    /// `prune.threshold`.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// `prune.finetune`: nodes, edges or none.
    #[arg(long)]
    pub finetune: Option<String>,
    /// `prune.finetune_epochs`.
    #[arg(long)]
    pub finetune_epochs: Option<i64>,
    /// `prune.hidden`: auto (every hidden node when the validation rows say the pruned
    /// layers fit clearly worse) or pip.
    #[arg(long)]
    pub hidden_rule: Option<String>,
    /// `budget.max_blob_bytes`.
    #[arg(long)]
    pub max_blob_bytes: Option<i64>,
    /// `budget.max_ram_bytes`.
    #[arg(long)]
    pub max_ram_bytes: Option<i64>,
}

impl Cmd {
    /// The spec keys the flags set.
    fn overrides(&self) -> Vec<Override> {
        let int = |v: Option<i64>| v.map(Value::Integer);
        let text = |v: &Option<String>| v.clone().map(Value::String);
        let inclusion = self.inclusion.as_ref().map(|i| {
            let numbers: Option<Vec<Value>> = i
                .split(',')
                .map(|p| p.trim().parse::<f64>().ok().map(Value::Float))
                .collect();
            match numbers {
                Some(mut n) if n.len() == 1 => n.remove(0),
                Some(n) => Value::Array(n),
                None => Value::String(i.clone()),
            }
        });
        [
            ("data.split", int(self.split)),
            ("data.seed", int(self.data_seed)),
            ("prior.inclusion", inclusion),
            ("prior.rule", text(&self.rule)),
            (
                "network.hidden",
                self.hidden
                    .as_ref()
                    .map(|h| Value::Array(h.iter().map(|&w| Value::Integer(w)).collect())),
            ),
            ("network.activation", text(&self.activation)),
            ("network.int8", self.int8.then_some(Value::Boolean(true))),
            (
                "network.uncertainty",
                self.uncertainty.then_some(Value::Boolean(true)),
            ),
            ("network.variances", text(&self.variances)),
            ("train.epochs", int(self.epochs)),
            ("train.batch", int(self.batch)),
            ("train.learning_rate", self.learning_rate.map(Value::Float)),
            ("train.kl_warmup", int(self.kl_warmup)),
            ("train.seed", int(self.seed)),
            ("prune.threshold", self.threshold.map(Value::Float)),
            ("prune.finetune", text(&self.finetune)),
            ("prune.finetune_epochs", int(self.finetune_epochs)),
            ("prune.hidden", text(&self.hidden_rule)),
            ("budget.max_blob_bytes", int(self.max_blob_bytes)),
            ("budget.max_ram_bytes", int(self.max_ram_bytes)),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }

    /// The spec with the command line's settings applied and checked.
    ///
    /// # Errors
    /// The spec's errors, or a setting out of range (naming the command line).
    pub fn spec(&self) -> Result<Spec> {
        Spec::load_with(&self.spec, &self.overrides())
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
        let (report, svg) = (
            report_path(&blob_path, "report.json"),
            report_path(&blob_path, "svg"),
        );
        let mut inputs = vec![self.spec.clone()];
        inputs.extend(spec.data.files());
        let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        // Refused before training, and checked again when the files are committed.
        check_outputs(&inputs, &[&report, &svg, &blob_path])?;
        let c = compile(
            &spec,
            &Options {
                quiet: self.quiet,
                baseline: self.baseline,
                jobs: self.jobs.map(usize::from),
            },
        )?;
        let json = serde_json::to_string_pretty(&c.report)
            .map_err(|e| spikeslab_compiler::Error::Report(e.to_string()))?;
        let mut outputs = Outputs::new(&inputs);
        outputs.add(report, json);
        outputs.add(svg, spikeslab_compiler::report::svg::render(&c.report)?);
        outputs.add(&blob_path, c.blob.as_bytes());
        outputs.commit()?;
        if !self.quiet {
            say(&format!(
                "{}  wrote {} and its report\n",
                c.report.summary(),
                blob_path.display()
            ))?;
        }
        Ok(())
    }
}

/// `model.postcard` → `model.<ext>`.
pub fn report_path(blob: &Path, ext: &str) -> PathBuf {
    let stem = blob.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    blob.with_file_name(format!("{stem}.{ext}"))
}

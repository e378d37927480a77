//! Model specs: the TOML files in `models/` that say what to train and how.
//!
//! Only `[data]` is required. Every other setting has a default, and the ones marked
//! *chosen* below are picked by `compile` for the data unless the spec fixes them (see
//! [`crate::plan`]).
//!
//! ```toml
//! name = "demo"                       # default: the spec's file stem
//! task = "regression"                 # or "classification"
//!
//! [data]                              # exactly one of simulate, csv, uci
//! simulate = "e3"                     # e1..e5, see `spikeslab simulate --help`
//! features = 50
//! rows = 2000
//! test_rows = 2000
//! alpha = 2.0
//! seed = 1
//! # csv = "train.csv", target = "y", test_csv = "test.csv"
//! # uci = "path/to/concrete", split = 0
//! validation = 0.2                    # fraction of the training rows held out
//!
//! [network]
//! hidden = [50]
//! activation = "relu"                 # relu, tanh, sigmoid
//! int8 = false                        # true: 8-bit weights and activations (FPU-less cores)
//! uncertainty = false                 # true: store the weights' posterior variances, so the
//!                                     # runtime's predict_dist gives a mean ± sd
//! variances = "f32"                   # with uncertainty, how f32 layers store them: "f32",
//!                                     # or "table4" (a 4-bit code each into 16 per layer;
//!                                     # int8 layers always do)
//!
//! [prior]
//! sigma0 = 1.3
//! inclusion = "auto"                  # chosen: λ from 0.01, 0.1, 0.5 on the validation rows;
//!                                     # or a probability (0.01), a grid ([0.01, 0.05]),
//!                                     # or "bai" (Bai et al.'s rate from the architecture)
//! rule = "one-se"                     # how a grid is decided: "one-se" or "best"
//!
//! [train]
//! epochs = 400                        # chosen: about 8000 steps, 160 to 2000 epochs
//! batch = 128                         # chosen: 128, or every training row when fewer
//! learning_rate = 5e-3
//! temperature = 0.5
//! kl_warmup = 100                     # chosen: a quarter of the epochs (0: none)
//! seed = 1
//!
//! [prune]
//! threshold = 0.5
//! finetune = "nodes"                  # chosen: "nodes" (reconnect the kept nodes), "edges", "none"
//! finetune_epochs = 100               # chosen: as many as the training epochs
//! hidden = "auto"                     # "pip": hidden nodes kept by PIP; "auto": every hidden
//!                                     # node on the kept inputs instead when the validation
//!                                     # rows say the PIP-pruned layers fit clearly worse
//!
//! [budget]
//! max_blob_bytes = 16384
//! max_ram_bytes = 4096
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use spikeslab_runtime::{Activation, Task};

use crate::data::Table;
use crate::simulate::{Design, DesignKind};
use crate::{Error, Result};

/// The λ grid that `inclusion = "auto"` (the default) searches.
pub const DEFAULT_GRID: [f64; 3] = [0.01, 0.1, 0.5];

/// A whole model spec, every value checked.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Spec {
    /// Model name (the blob's file stem).
    pub name: String,
    /// Where the rows come from, and what the target is.
    pub data: DataSpec,
    /// Architecture.
    pub network: NetworkSpec,
    /// Spike-and-slab prior.
    pub prior: PriorSpec,
    /// Optimisation.
    pub train: TrainSpec,
    /// Pruning and fine-tuning.
    pub prune: PruneSpec,
    /// Size limits the compile must meet.
    pub budget: BudgetSpec,
}

/// The data: its source, its task, the validation fraction.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DataSpec {
    /// Regression or classification.
    pub task: Task,
    /// Where the rows come from.
    pub source: Source,
    /// Fraction of the training rows held out for validation.
    pub validation: f64,
}

/// The validation fraction when the spec does not give one.
pub const DEFAULT_VALIDATION: f64 = 0.2;

impl DataSpec {
    /// `source` for `task`, with the default validation fraction.
    pub fn new(task: Task, source: Source) -> Self {
        Self {
            task,
            source,
            validation: DEFAULT_VALIDATION,
        }
    }
}

impl DataSpec {
    /// The files the data is read from (none for simulated or in-memory rows): what no
    /// output may overwrite.
    pub fn files(&self) -> Vec<PathBuf> {
        match &self.source {
            Source::Csv { path, test, .. } => {
                std::iter::once(path.clone()).chain(test.clone()).collect()
            }
            Source::Uci { dir, split } => [
                "data.txt".to_string(),
                "index_features.txt".into(),
                "index_target.txt".into(),
                format!("index_train_{split}.txt"),
                format!("index_test_{split}.txt"),
            ]
            .iter()
            .map(|f| dir.join(f))
            .collect(),
            Source::Simulate(_) | Source::Memory { .. } => Vec::new(),
        }
    }
}

/// A TOML error as a bounded message: line and column, what is wrong, and an excerpt of the
/// line (toml's own text repeats the whole line, however long).
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let what = crate::text::excerpt_long(e.message());
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let start = before.rfind('\n').map_or(0, |i| i + 1);
            let column = before[start..].chars().count() + 1;
            let source = text[start..].lines().next().unwrap_or("");
            format!(
                "line {line}, column {column}: {what} (in `{}`)",
                crate::text::excerpt(source)
            )
        }
        None => what,
    }
}

/// Largest batch.
pub const MAX_BATCH: usize = 65_536;

/// Longest model name, in bytes.
pub const MAX_NAME: usize = 64;

/// Checks that `name` is a name and not a path: 1 to [`MAX_NAME`] bytes, no `/`, `\`, `:`,
/// control characters, and not `.` or `..`. A blob's default file is `<name>.postcard` in
/// the spec's folder, so a name can never place it elsewhere.
///
/// # Errors
/// What is wrong with it.
pub fn check_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() || name.len() > MAX_NAME {
        Err("1 to 64 bytes")
    } else if name == "." || name == ".." {
        Err("a name, not `.` or `..`")
    } else if name
        .chars()
        .any(|c| matches!(c, '/' | '\\' | ':') || c.is_control())
    {
        Err("a name without `/`, `\\`, `:` or control characters (it is not a path)")
    } else {
        Ok(())
    }
}

/// Where the rows come from.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub enum Source {
    /// A simulated design, generated from a seed.
    Simulate(Simulation),
    /// A CSV file with a header row.
    Csv {
        /// The training rows.
        path: PathBuf,
        /// Name of the target column.
        target: String,
        /// Test rows with the same columns.
        test: Option<PathBuf>,
    },
    /// A UCI-suite folder and one of its standard splits (0-based, as its index files count).
    Uci {
        /// The folder.
        dir: PathBuf,
        /// The split.
        split: usize,
    },
    /// Rows already in memory, checked by [`Table::new`]; the report records only the label.
    Memory {
        /// What errors and the report call the rows.
        label: String,
        /// The training rows.
        #[serde(skip)]
        train: Table,
        /// Test rows with the same columns.
        #[serde(skip)]
        test: Option<Table>,
    },
}

/// A simulated data set.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Simulation {
    /// The design and its parameters.
    pub design: Design,
    /// Training rows.
    pub rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Seed of the simulation.
    pub seed: u64,
}

/// Architecture.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NetworkSpec {
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// Whether the emitted network is quantised to 8-bit integers ([`crate::quantise`]).
    pub int8: bool,
    /// Whether the emitted network carries the posterior variances of its weights
    /// ([`crate::posterior`]) for the runtime's predictive distribution.
    pub uncertainty: bool,
    /// How its f32 layers store their weights' variances (an int8 layer's are always
    /// [`Variances::Table4`]).
    pub variances: Variances,
}

/// How an f32 layer stores the posterior variances of its weights.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Variances {
    /// One f32 each.
    #[default]
    F32,
    /// A 4-bit code each into a table of 16 per layer ([`crate::posterior::coded`]).
    Table4,
}

/// The spike-and-slab prior.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PriorSpec {
    /// Slab standard deviation σ0.
    pub sigma0: f64,
    /// Prior inclusion probability λ.
    pub inclusion: Inclusion,
    /// How a grid of λ is decided on the validation rows.
    pub rule: Rule,
}

/// λ, fixed or chosen.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub enum Inclusion {
    /// Every value is trained; [`Rule`] picks one on the validation rows.
    Grid(Vec<f64>),
    /// This value.
    Fixed(f64),
    /// Bai et al.'s rate from the architecture and the row count ([`bai_inclusion`]).
    Bai,
}

/// How one λ of a grid is chosen from the emitted models' validation loss (squared error for
/// regression, 0/1 error for classification), candidates ordered by λ, sparsest first.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The sparsest candidate whose mean validation loss is within one standard error of the
    /// best one's, the standard error being that of the best one's per-row losses.
    OneSe,
    /// The lowest mean validation loss; the sparser of equals.
    Best,
}

/// Optimisation; `None` means chosen by [`crate::plan`].
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TrainSpec {
    /// Passes over the training rows.
    pub epochs: Option<usize>,
    /// Rows per step.
    pub batch: Option<usize>,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Binary-concrete temperature τ.
    pub temperature: f64,
    /// Epochs of linear KL warm-up (0: none).
    pub kl_warmup: Option<usize>,
    /// Seed of every random choice (validation split, initialisation, shuffling, noise).
    pub seed: u64,
}

/// How the kept network is fine-tuned after pruning.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Finetune {
    /// Not at all: the slab means are the weights.
    None,
    /// The kept edges only.
    Edges,
    /// Every edge between kept nodes (pruned edges start at zero).
    Nodes,
}

/// Pruning and fine-tuning; `None` means chosen by [`crate::plan`].
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PruneSpec {
    /// Nodes with PIP below this are dropped.
    pub threshold: f64,
    /// How to fine-tune.
    pub finetune: Option<Finetune>,
    /// Epochs of MAP fine-tuning.
    pub finetune_epochs: Option<usize>,
    /// Which hidden nodes are kept.
    pub hidden: HiddenRule,
}

/// Which hidden nodes a model keeps (the inputs are always those the PIPs keep).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HiddenRule {
    /// Those whose PIP reaches the threshold (method §4).
    Pip,
    /// Those, or every hidden node on the kept inputs when that network fits the validation
    /// rows clearly better: its loss lower by more than its standard error and its
    /// log-likelihood no lower ([`crate::compile::every_hidden_wins`]). It is trained from
    /// the fit and afresh ([`crate::select::Start`]), and the start of lower validation loss
    /// is weighed.
    Auto,
}

/// Size limits.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetSpec {
    /// Largest acceptable blob.
    pub max_blob_bytes: Option<usize>,
    /// Largest acceptable evaluation RAM (activation buffers the model needs, see the report).
    pub max_ram_bytes: Option<usize>,
}

/// A spec value set on the command line: a dotted key (`train.epochs`) and its value.
pub type Override = (&'static str, toml::Value);

impl Spec {
    /// Reads and checks a spec file; relative data paths become relative to its folder.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Spec`] (syntax, unknown key, with line and column) or
    /// [`Error::SpecValue`] (a value out of range).
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, &[])
    }

    /// [`Spec::load`] with `overrides` set on top of the file; an error in an overridden
    /// value names the command line.
    ///
    /// # Errors
    /// As [`Spec::load`].
    pub fn load_with(path: &Path, overrides: &[Override]) -> Result<Self> {
        let text = crate::files::read_text(path, crate::files::Kind::Spec)?;
        let syntax = |e: toml::de::Error| Error::Spec {
            path: path.into(),
            message: toml_message(&text, &e),
        };
        // The file alone first, so that its errors carry their line and column.
        let mut raw: file::Raw = toml::from_str(&text).map_err(syntax)?;
        if !overrides.is_empty() {
            let mut table: toml::Table = toml::from_str(&text).map_err(syntax)?;
            for (key, value) in overrides {
                set(&mut table, key, value.clone());
            }
            raw = file::Raw::deserialize(table).map_err(|e| Error::Spec {
                path: "command line".into(),
                message: crate::text::excerpt_long(e.message()),
            })?;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
        let dir = path.parent().unwrap_or(Path::new("."));
        raw.check(stem, dir).map_err(|e| match e {
            Error::SpecValue {
                key,
                value,
                expected,
                ..
            } => Error::SpecValue {
                path: if overrides.iter().any(|(k, _)| *k == key) {
                    PathBuf::from("command line")
                } else {
                    path.into()
                },
                key,
                value,
                expected,
            },
            other => other,
        })
    }

    /// Parses and checks spec text, with data paths relative to `dir`: for specs built in
    /// memory.
    ///
    /// # Errors
    /// As [`Spec::load`], with `name` as the file.
    pub fn parse(text: &str, name: &str, dir: &Path) -> Result<Self> {
        let raw: file::Raw = toml::from_str(text).map_err(|e| Error::Spec {
            path: name.into(),
            message: e.to_string(),
        })?;
        raw.check(name, dir).map_err(|e| match e {
            Error::SpecValue {
                key,
                value,
                expected,
                ..
            } => Error::SpecValue {
                path: name.into(),
                key,
                value,
                expected,
            },
            other => other,
        })
    }

    /// A spec of only `data`, every other setting at its default: what `compile` does for a
    /// spec file holding just a `[data]` section.
    pub fn for_data(name: &str, data: DataSpec) -> Self {
        let mut s = Self::parse("[data]\nsimulate = \"e1\"", name, Path::new("."))
            .unwrap_or_else(|_| unreachable!("the default spec is valid"));
        s.data = data;
        s
    }
}

/// Sets `table[a][b] = value` for the dotted key `a.b` (or `a`).
fn set(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        None => {
            table.insert(key.into(), value);
        }
        Some((section, rest)) => {
            let entry = table
                .entry(section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(t) = entry {
                set(t, rest, value);
            }
        }
    }
}

/// Bai et al.'s prior inclusion rate for a network `inputs`-`hidden`-`outputs` and `rows` rows:
/// `exp(−a)`, `a = log T + 0.1·[(L+1)·log N + log(√n·D)]`.
pub fn bai_inclusion(inputs: usize, hidden: &[usize], outputs: usize, rows: usize) -> f64 {
    let mut widths = vec![inputs];
    widths.extend(hidden);
    widths.push(outputs);
    let t: usize = widths.windows(2).map(|w| w[0] * w[1]).sum();
    let l = hidden.len() as f64;
    let n_wide = hidden.iter().copied().max().unwrap_or(1) as f64;
    let a = (t as f64).ln()
        + 0.1 * ((l + 1.0) * n_wide.ln() + ((rows as f64).sqrt() * inputs as f64).ln());
    (-a).exp()
}

/// The spec file as written: every key optional, unknown keys refused; [`file::Raw::check`]
/// turns it into a [`Spec`].
mod file {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Raw {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        task: Option<String>,
        data: Data,
        #[serde(default)]
        network: Network,
        #[serde(default)]
        prior: Prior,
        #[serde(default)]
        train: Train,
        #[serde(default)]
        prune: Prune,
        #[serde(default)]
        budget: BudgetSpec,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Data {
        simulate: Option<String>,
        csv: Option<PathBuf>,
        target: Option<String>,
        test_csv: Option<PathBuf>,
        uci: Option<PathBuf>,
        split: Option<usize>,
        features: Option<usize>,
        rows: Option<usize>,
        test_rows: Option<usize>,
        alpha: Option<f64>,
        psi2: Option<f64>,
        g: Option<String>,
        seed: Option<u64>,
        validation: Option<f64>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Network {
        hidden: Option<Vec<usize>>,
        activation: Option<String>,
        int8: Option<bool>,
        uncertainty: Option<bool>,
        variances: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum RawInclusion {
        Value(f64),
        Grid(Vec<f64>),
        Word(String),
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Prior {
        sigma0: Option<f64>,
        inclusion: Option<RawInclusion>,
        rule: Option<String>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Train {
        epochs: Option<usize>,
        batch: Option<usize>,
        learning_rate: Option<f64>,
        temperature: Option<f64>,
        kl_warmup: Option<usize>,
        seed: Option<u64>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Prune {
        threshold: Option<f64>,
        finetune: Option<String>,
        finetune_epochs: Option<usize>,
        hidden: Option<String>,
    }

    fn bad<T>(key: &str, value: impl std::fmt::Display, expected: &str) -> Result<T> {
        Err(Error::SpecValue {
            path: PathBuf::new(),
            key: key.into(),
            value: crate::text::excerpt(&value.to_string()),
            expected: expected.into(),
        })
    }

    /// `v` (or `default`) if it lies in `[lo, hi]`: a range that f32 represents exactly
    /// enough, so that a value accepted here is not 0 or infinite in training.
    fn within(key: &str, v: Option<f64>, default: f64, lo: f64, hi: f64) -> Result<f64> {
        match v {
            None => Ok(default),
            Some(x) if (lo..=hi).contains(&x) => Ok(x),
            Some(x) => bad(key, x, &format!("from {lo:e} to {hi:e}")),
        }
    }

    fn probability(key: &str, l: f64) -> Result<f64> {
        if l > 0.0 && l < 1.0 {
            Ok(l)
        } else {
            bad(
                key,
                l,
                "\"auto\", \"bai\", a probability in (0, 1) or a list of them",
            )
        }
    }

    fn epochs(key: &str, v: Option<usize>) -> Result<Option<usize>> {
        match v {
            Some(e) if e == 0 || e > 1_000_000 => bad(key, e, "from 1 to 1000000"),
            _ => Ok(v),
        }
    }

    impl Raw {
        /// Checks every value's range (the error's path is filled in by the caller).
        pub(super) fn check(self, stem: &str, dir: &Path) -> Result<Spec> {
            let task = match self.task.as_deref() {
                None | Some("regression") => Task::Regression,
                Some("classification") => Task::Classification,
                Some(t) => {
                    return bad(
                        "task",
                        format!("{t:?}"),
                        "\"regression\" or \"classification\"",
                    );
                }
            };
            let at = |p: PathBuf| if p.is_relative() { dir.join(p) } else { p };
            let d = self.data;
            let sources = usize::from(d.simulate.is_some())
                + usize::from(d.csv.is_some())
                + usize::from(d.uci.is_some());
            if sources != 1 {
                return bad(
                    "data",
                    format!("{sources} sources"),
                    "exactly one of `simulate`, `csv`, `uci`",
                );
            }
            let source = if let Some(name) = d.simulate {
                let kind = DesignKind::parse(&name).map_or_else(
                    || {
                        bad(
                            "data.simulate",
                            format!("{name:?}"),
                            "one of e1, e2, e3, e4, e5",
                        )
                    },
                    Ok,
                )?;
                let mut design = Design::new(kind);
                if let Some(f) = d.features {
                    design.features = f;
                }
                let (min, max) = (design.kind.min_features(), usize::from(u16::MAX));
                if !(min..=max).contains(&design.features) {
                    return bad(
                        "data.features",
                        design.features,
                        &format!("from {min} to {max} for design {name}"),
                    );
                }
                design.alpha = d.alpha.unwrap_or(design.alpha);
                design.psi2 = d.psi2.unwrap_or(design.psi2);
                design.linear = match d.g.as_deref() {
                    None | Some("f") => false,
                    Some("linear") => true,
                    Some(g) => return bad("data.g", format!("{g:?}"), "\"f\" or \"linear\""),
                };
                let rows = d.rows.unwrap_or(design.kind.default_rows());
                let test_rows = d.test_rows.unwrap_or(2000);
                design.check(rows, test_rows)?;
                Source::Simulate(Simulation {
                    design,
                    rows,
                    test_rows,
                    seed: d.seed.unwrap_or(1),
                })
            } else if let Some(path) = d.csv {
                let Some(target) = d.target else {
                    return bad(
                        "data.target",
                        "missing",
                        "the name of the target column of the CSV",
                    );
                };
                Source::Csv {
                    path: at(path),
                    target,
                    test: d.test_csv.map(at),
                }
            } else {
                Source::Uci {
                    dir: at(d.uci.unwrap_or_default()),
                    split: d.split.unwrap_or(0),
                }
            };
            let validation = d.validation.unwrap_or(DEFAULT_VALIDATION);
            if !(0.0..0.9).contains(&validation) {
                return bad("data.validation", validation, "a fraction in [0, 0.9)");
            }
            let hidden = self.network.hidden.unwrap_or_else(|| vec![50]);
            if hidden.is_empty() || hidden.len() >= spikeslab_runtime::MAX_LAYERS {
                return bad(
                    "network.hidden",
                    format!("{hidden:?}"),
                    "1 to 7 hidden layers",
                );
            }
            if let Some(w) = hidden
                .iter()
                .find(|&&w| w == 0 || w > spikeslab_runtime::MAX_WIDTH)
            {
                return bad(
                    "network.hidden",
                    w,
                    "widths from 1 to 256 (the runtime's capacity)",
                );
            }
            let activation = match self.network.activation.as_deref() {
                None | Some("relu") => Activation::Relu,
                Some("tanh") => Activation::Tanh,
                Some("sigmoid") => Activation::Sigmoid,
                Some(a) => {
                    return bad(
                        "network.activation",
                        format!("{a:?}"),
                        "relu, tanh or sigmoid",
                    );
                }
            };
            let sigma0 = within("prior.sigma0", self.prior.sigma0, 1.3, 1e-3, 1e3)?;
            let inclusion = match self.prior.inclusion {
                None => Inclusion::Grid(DEFAULT_GRID.to_vec()),
                Some(RawInclusion::Word(w)) if w == "auto" => {
                    Inclusion::Grid(DEFAULT_GRID.to_vec())
                }
                Some(RawInclusion::Word(w)) if w == "bai" => Inclusion::Bai,
                Some(RawInclusion::Word(w)) => {
                    return bad(
                        "prior.inclusion",
                        format!("{w:?}"),
                        "\"auto\", \"bai\", a probability in (0, 1) or a list of them",
                    );
                }
                Some(RawInclusion::Value(l)) => {
                    Inclusion::Fixed(probability("prior.inclusion", l)?)
                }
                Some(RawInclusion::Grid(g)) => {
                    if g.is_empty() || g.len() > 16 {
                        return bad(
                            "prior.inclusion",
                            format!("{g:?}"),
                            "a list of 1 to 16 probabilities",
                        );
                    }
                    let mut g = g
                        .into_iter()
                        .map(|l| probability("prior.inclusion", l))
                        .collect::<Result<Vec<_>>>()?;
                    g.sort_by(f64::total_cmp);
                    g.dedup();
                    if g.len() == 1 {
                        Inclusion::Fixed(g[0])
                    } else {
                        Inclusion::Grid(g)
                    }
                }
            };
            let rule = match self.prior.rule.as_deref() {
                None | Some("one-se") => Rule::OneSe,
                Some("best") => Rule::Best,
                Some(r) => return bad("prior.rule", format!("{r:?}"), "\"one-se\" or \"best\""),
            };
            let t = self.train;
            let epochs = epochs("train.epochs", t.epochs)?;
            if let Some(b) = t.batch.filter(|&b| b == 0 || b > MAX_BATCH) {
                return bad("train.batch", b, &format!("from 1 to {MAX_BATCH}"));
            }
            if let Some(w) = t.kl_warmup.filter(|&w| w > 1_000_000) {
                return bad("train.kl_warmup", w, "from 0 to 1000000");
            }
            let learning_rate = within("train.learning_rate", t.learning_rate, 5e-3, 1e-8, 10.0)?;
            let temperature = within("train.temperature", t.temperature, 0.5, 1e-2, 10.0)?;
            let r = self.prune;
            let threshold = r.threshold.unwrap_or(0.5);
            if !(0.0..=1.0).contains(&threshold) {
                return bad("prune.threshold", threshold, "a probability in [0, 1]");
            }
            let finetune = match r.finetune.as_deref() {
                None => None,
                Some("none") => Some(Finetune::None),
                Some("edges") => Some(Finetune::Edges),
                Some("nodes") => Some(Finetune::Nodes),
                Some(f) => {
                    return bad(
                        "prune.finetune",
                        format!("{f:?}"),
                        "\"nodes\", \"edges\" or \"none\"",
                    );
                }
            };
            // `finetune_epochs = 0` is how specs have always said "no fine-tuning".
            let (finetune, finetune_epochs) = match r.finetune_epochs {
                Some(0) => (Some(Finetune::None), None),
                Some(e) if e > 1_000_000 => {
                    return bad("prune.finetune_epochs", e, "from 0 to 1000000");
                }
                e => (finetune, e),
            };
            let hidden_rule = match r.hidden.as_deref() {
                None | Some("auto") => HiddenRule::Auto,
                Some("pip") => HiddenRule::Pip,
                Some(h) => return bad("prune.hidden", format!("{h:?}"), "\"auto\" or \"pip\""),
            };
            let int8 = self.network.int8.unwrap_or(false);
            let uncertainty = self.network.uncertainty.unwrap_or(false);
            let variances = match self.network.variances.as_deref() {
                None | Some("f32") => Variances::F32,
                Some("table4") => Variances::Table4,
                Some(v) => return bad("network.variances", format!("{v:?}"), "f32 or table4"),
            };
            let name = self.name.unwrap_or_else(|| stem.into());
            if let Err(expected) = check_name(&name) {
                return bad("name", format!("{name:?}"), expected);
            }
            Ok(Spec {
                name,
                data: DataSpec {
                    task,
                    source,
                    validation,
                },
                network: NetworkSpec {
                    hidden,
                    activation,
                    int8,
                    uncertainty,
                    variances,
                },
                prior: PriorSpec {
                    sigma0,
                    inclusion,
                    rule,
                },
                train: TrainSpec {
                    epochs,
                    batch: t.batch,
                    learning_rate,
                    temperature,
                    kl_warmup: t.kl_warmup,
                    seed: t.seed.unwrap_or(1),
                },
                prune: PruneSpec {
                    threshold,
                    finetune,
                    finetune_epochs,
                    hidden: hidden_rule,
                },
                budget: self.budget,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Spec> {
        Spec::parse(text, "test", Path::new("/specs"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any text spliced into a full spec: parsed, or refused naming the spec.
        #[test]
        fn any_spec_text_is_parsed_or_refused_with_the_spec_named(
            at in 0usize..400,
            cut in 0usize..12,
            junk in "[\\[\\]=\"'.,a-z0-9_ \n-]{0,16}",
        ) {
            let good = "name = \"m\"\ntask = \"regression\"\n[data]\nsimulate = \"e3\"\nfeatures = 20\nrows = 300\n[network]\nhidden = [16, 8]\nactivation = \"tanh\"\nint8 = true\n[prior]\ninclusion = [0.01, 0.1]\n[train]\nepochs = 20\nbatch = 64\n[prune]\nthreshold = 0.5\nfinetune = \"edges\"\n[budget]\nmax_blob_bytes = 4096\n";
            let parsed = Spec::parse(good, "good.toml", Path::new("/specs"));
            proptest::prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
            let mut at = at.min(good.len());
            while !good.is_char_boundary(at) {
                at -= 1;
            }
            let end = (at + cut).min(good.len());
            let text = format!("{}{junk}{}", &good[..at], &good[end..]);
            if let Err(e) = Spec::parse(&text, "specname.toml", Path::new("/specs")) {
                proptest::prop_assert!(e.to_string().contains("specname.toml"), "{e}");
            }
        }
    }

    #[test]
    fn bai_rate_matches_the_reference_for_e3() {
        let l = bai_inclusion(50, &[50], 1, 2000);
        assert!((l - 8.3e-5).abs() < 0.05e-5, "{l}");
    }

    #[test]
    fn a_data_section_alone_leaves_the_choices_to_compile() {
        let s = parse("[data]\nuci = \"concrete\"\nsplit = 3").unwrap();
        assert_eq!(
            s.data.source,
            Source::Uci {
                dir: "/specs/concrete".into(),
                split: 3
            }
        );
        assert_eq!(s.prior.inclusion, Inclusion::Grid(DEFAULT_GRID.to_vec()));
        assert_eq!(s.prior.rule, Rule::OneSe);
        assert_eq!(
            (s.train.epochs, s.train.batch, s.train.kl_warmup),
            (None, None, None)
        );
        assert_eq!((s.prune.finetune, s.prune.finetune_epochs), (None, None));
        assert_eq!(s.name, "test");
        assert_eq!(s, Spec::for_data("test", s.data.clone()));
    }

    #[test]
    fn inclusion_words_values_and_grids() {
        let inc = |v: &str| {
            parse(&format!(
                "[data]\nsimulate = \"e3\"\n[prior]\ninclusion = {v}"
            ))
            .map(|s| s.prior.inclusion)
        };
        assert_eq!(
            inc("\"auto\"").unwrap(),
            Inclusion::Grid(DEFAULT_GRID.to_vec())
        );
        assert_eq!(inc("\"bai\"").unwrap(), Inclusion::Bai);
        assert_eq!(inc("0.01").unwrap(), Inclusion::Fixed(0.01));
        assert_eq!(
            inc("[0.1, 0.01, 0.1]").unwrap(),
            Inclusion::Grid(vec![0.01, 0.1])
        );
        assert_eq!(inc("[0.2]").unwrap(), Inclusion::Fixed(0.2));
        for v in ["\"often\"", "1.5", "[0.1, 0]", "[]"] {
            let e = inc(v).unwrap_err().to_string();
            assert!(e.contains("prior.inclusion"), "{v}: {e}");
        }
    }

    #[test]
    fn hidden_rule_is_auto_unless_the_spec_says_pip() {
        let rule =
            |t: &str| parse(&format!("[data]\nsimulate = \"e3\"\n{t}")).map(|s| s.prune.hidden);
        assert_eq!(rule("").unwrap(), HiddenRule::Auto);
        assert_eq!(
            rule("[prune]\nhidden = \"auto\"").unwrap(),
            HiddenRule::Auto
        );
        assert_eq!(rule("[prune]\nhidden = \"pip\"").unwrap(), HiddenRule::Pip);
        let e = rule("[prune]\nhidden = \"all\"").unwrap_err().to_string();
        assert!(e.contains("prune.hidden") && e.contains("pip"), "{e}");
    }

    #[test]
    fn finetune_epochs_zero_means_no_finetuning() {
        let s = parse("[data]\nsimulate = \"e3\"\n[prune]\nfinetune_epochs = 0").unwrap();
        assert_eq!(s.prune.finetune, Some(Finetune::None));
    }

    #[test]
    fn values_out_of_range_name_their_key() {
        for (text, key) in [
            ("[data]\nsimulate = \"e9\"", "data.simulate"),
            ("[data]\nsimulate = \"e1\"\nfeatures = 1", "data.features"),
            ("[data]\ncsv = \"a.csv\"", "data.target"),
            (
                "[data]\nsimulate = \"e3\"\nvalidation = 0.95",
                "data.validation",
            ),
            (
                "[data]\nsimulate = \"e3\"\n[network]\nhidden = []",
                "network.hidden",
            ),
            (
                "[data]\nsimulate = \"e3\"\n[network]\nactivation = \"gelu\"",
                "network.activation",
            ),
            (
                "[data]\nsimulate = \"e3\"\n[network]\nvariances = \"f16\"",
                "network.variances",
            ),
            (
                "[data]\nsimulate = \"e3\"\n[train]\nepochs = 0",
                "train.epochs",
            ),
            (
                "[data]\nsimulate = \"e3\"\n[prune]\nfinetune = \"all\"",
                "prune.finetune",
            ),
            (
                "[data]\nsimulate = \"e3\"\n[prior]\nrule = \"worst\"",
                "prior.rule",
            ),
            ("task = \"ranking\"\n[data]\nsimulate = \"e3\"", "task"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}`")), "{text}: {e}");
        }
    }

    #[test]
    fn command_line_overrides_are_checked_and_blamed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.toml");
        std::fs::write(&path, "[data]\nsimulate = \"e3\"\n[train]\nepochs = 10\n").unwrap();
        let s = Spec::load_with(&path, &[("train.epochs", toml::Value::Integer(20))]).unwrap();
        assert_eq!(s.train.epochs, Some(20));
        let e = Spec::load_with(&path, &[("train.epochs", toml::Value::Integer(0))])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("command line: `train.epochs` = 0"), "{e}");
        let e = Spec::load_with(
            &path,
            &[
                ("data.split", toml::Value::Integer(1)),
                ("prune.threshold", toml::Value::Float(2.0)),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("command line: `prune.threshold`"), "{e}");
    }
}

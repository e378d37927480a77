//! The compiler's error type: every message says what was wrong and where.

use std::path::PathBuf;

/// What went wrong while compiling, inspecting or evaluating a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The model spec is not valid TOML or has an unknown key.
    #[error("{path}: {message}")]
    Spec {
        /// The spec file.
        path: PathBuf,
        /// What is wrong, with the line and column.
        message: String,
    },
    /// A spec value is out of its range.
    #[error("{path}: `{key}` = {value}: {expected}")]
    SpecValue {
        /// The spec file (or `command line`).
        path: PathBuf,
        /// The key, e.g. `train.epochs`.
        key: String,
        /// The value given.
        value: String,
        /// What it should be.
        expected: String,
    },
    /// A data file is malformed at a given place.
    #[error("{path}: {message}")]
    Data {
        /// The data file or folder.
        path: PathBuf,
        /// What is wrong and where (row, column).
        message: String,
    },
    /// Training produced a non-finite loss.
    #[error(
        "training diverged at epoch {epoch}: the loss is {loss}; lower `train.learning_rate` (now {lr})"
    )]
    Diverged {
        /// Epoch (from 1) in which the loss became non-finite.
        epoch: usize,
        /// The loss.
        loss: f32,
        /// The learning rate in use.
        lr: f64,
    },
    /// Pruning removed every input feature.
    #[error(
        "every input feature was pruned (threshold {threshold}): the posterior supports no input; check that the target depends on the features, raise `prior.inclusion` or lower `prune.threshold`"
    )]
    NoInputs {
        /// The PIP threshold.
        threshold: f64,
    },
    /// The model exceeds a budget or a runtime capacity.
    #[error("{0}")]
    Budget(String),
    /// Standard output could not be written (closed, or on a full disk).
    #[error("cannot write to standard output: {0}")]
    Stdout(std::io::Error),
    /// An output path is refused before anything is written: it is a folder, an input, or
    /// another output.
    #[error("{0}")]
    Output(String),
    /// The int8 model is too far from the f32 network, even with its output layer in f32.
    #[error(
        "int8: the integer model's outputs differ from the f32 network's by {rms:.3} RMS (in units of {unit}) on the validation rows, over the tolerance {tolerance:.1e}, even with the output layer kept in f32: this network needs more than 8 bits; compile it without `int8`"
    )]
    Int8 {
        /// RMS difference of the best integer model tried.
        rms: f64,
        /// The tolerance.
        tolerance: f64,
        /// Unit of the difference.
        unit: String,
    },
    /// The runtime's int8 outputs differ from the compiler's integer reference: a defect of
    /// one of them.
    #[error(
        "verification failed: the runtime's int8 outputs differ from the compiler's integer reference on validation row {row}; please report this with the spec"
    )]
    Int8Reference {
        /// Row where they differ.
        row: usize,
    },
    /// The emitted blob disagrees with the trained network.
    #[error(
        "verification failed: the runtime's predictions differ from candle's by {diff:.3e} (tolerance {tolerance:.1e}) on validation row {row}"
    )]
    Verify {
        /// Largest difference found.
        diff: f64,
        /// The tolerance.
        tolerance: f64,
        /// Row where it was found.
        row: usize,
    },
    /// The runtime's predictive distribution disagrees with the compiler's moment
    /// propagation.
    #[error(
        "verification failed: the runtime's predictive {what} differs from the compiler's by {diff:.3e} (tolerance {tolerance:.1e}) on validation row {row}"
    )]
    VerifyDist {
        /// `mean` or `sd`.
        what: &'static str,
        /// Largest difference found.
        diff: f64,
        /// The tolerance.
        tolerance: f64,
        /// Row where it was found.
        row: usize,
    },
    /// The runtime rejected a model or blob.
    #[error("model rejected by the runtime: {0}")]
    Runtime(#[from] spikeslab_runtime::Error),
    /// A tensor operation failed.
    #[error("tensor operation: {0}")]
    Candle(#[from] candle::Error),
    /// A matrix product was given arrays of the wrong length.
    #[error("matrix shape: {0}")]
    Shape(#[from] ndarray::ShapeError),
    /// A report could not be written.
    #[error("report: {0}")]
    Report(String),
}

/// Result with the compiler's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// A data error in `path`.
    pub fn data(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Data {
            path: path.into(),
            message: message.into(),
        }
    }
}

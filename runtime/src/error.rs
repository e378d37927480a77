//! The one error type of the runtime.

use core::fmt;

/// Why a blob was rejected, a model refused, or a call's slices did not fit.
///
/// Byte offsets count from the start of the blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The blob does not start with the magic bytes `SSNN`: it is not a spikeslab model.
    Magic,
    /// The blob was written for another format version: recompile the model with a
    /// compiler of this runtime's version.
    Version {
        /// The version found in the blob.
        found: u16,
    },
    /// The CRC-32 at the end of the blob does not match its contents (corrupt or truncated).
    Checksum,
    /// The header is not a valid postcard encoding of this format version (or holds more layers or
    /// metrics than the runtime's capacities).
    Decode,
    /// The blob is not 4-byte aligned in memory; embed it with [`crate::include_model!`] or
    /// [`crate::Aligned`].
    Align,
    /// The model exceeds the runtime's fixed capacities ([`crate::MAX_LAYERS`], [`crate::MAX_WIDTH`]).
    Capacity,
    /// The task does not fit the output layer (a classifier needs two or more classes and
    /// identity outputs; regression needs an output mean and scale per output).
    Task,
    /// The input map is invalid: no input, more inputs than features, or indices not strictly
    /// increasing below the feature count.
    Inputs,
    /// A layer's sizes do not chain: zero width, or an array of the wrong length.
    Shape {
        /// Layer number, from 0 (the first hidden layer).
        layer: u8,
    },
    /// A layer's formats do not fit: an integer layer follows an f32 one (integer layers
    /// come first), or the layer stores posterior variances where the others do not (every
    /// layer or none).
    Format {
        /// Layer number, from 0.
        layer: u8,
    },
    /// A sparse column index is out of range or not strictly increasing within its row.
    Index {
        /// Byte offset of the index.
        offset: u32,
    },
    /// The names are not one per read input and one per output, each of 1..=127 bytes, or
    /// two inputs (or two outputs) share a name.
    Names {
        /// Byte offset of the name at fault (of the end of the names when some are missing).
        offset: u32,
    },
    /// A stored number is NaN or infinite, a PIP is outside `[0, 1]`, a noise standard
    /// deviation is not positive, or an integer layer's bias or shift is out of its range.
    NonFinite {
        /// Byte offset of the number.
        offset: u32,
    },
    /// The arena is longer or shorter than the header says, or the padding is not zero.
    Length,
    /// The input slice has the wrong length.
    InputLen {
        /// The length the model expects.
        expected: u16,
    },
    /// The output slice has the wrong length.
    OutputLen {
        /// The length the model writes.
        expected: u16,
    },
    /// [`crate::Model::predict_dist`] on a model without posterior variances: compile it
    /// with `uncertainty = true`.
    NoPosterior,
    /// The buffer given to [`crate::Parts::encode`] is too small.
    BufferTooSmall {
        /// Bytes needed.
        needed: u32,
    },
}

/// Result with the runtime's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Magic => f.write_str("not a spikeslab model (bad magic bytes)"),
            Self::Version { found } => write!(
                f,
                "blob format version {found}, this runtime reads version {}: recompile the model with this version's `spikeslab compile`",
                crate::FORMAT_VERSION
            ),
            Self::Checksum => f.write_str("CRC-32 mismatch: the blob is corrupt or truncated"),
            Self::Decode => write!(
                f,
                "the blob header is not a valid format-v{} encoding",
                crate::FORMAT_VERSION
            ),
            Self::Align => f.write_str("the blob is not 4-byte aligned in memory"),
            Self::Capacity => write!(
                f,
                "the model exceeds the runtime's capacities ({} layers, {} nodes per layer)",
                crate::MAX_LAYERS,
                crate::MAX_WIDTH
            ),
            Self::Task => f.write_str("the output layer does not fit the task"),
            Self::Inputs => f.write_str("invalid input map"),
            Self::Shape { layer } => write!(f, "layer {layer} has inconsistent sizes"),
            Self::Format { layer } => write!(
                f,
                "layer {layer}'s formats do not fit: an integer layer after an f32 one (integer layers come first), or variances in some layers only (every layer or none)"
            ),
            Self::Index { offset } => write!(f, "sparse index out of range at byte {offset}"),
            Self::Names { offset } => write!(
                f,
                "invalid input or output name at byte {offset} (one per input and output, 1 to 127 bytes, no repeats)"
            ),
            Self::NonFinite { offset } => write!(f, "invalid number at byte {offset}"),
            Self::Length => f.write_str("the arena length or padding does not match the header"),
            Self::InputLen { expected } => write!(f, "expected {expected} input values"),
            Self::OutputLen { expected } => write!(f, "expected room for {expected} outputs"),
            Self::NoPosterior => f.write_str(
                "the model carries no posterior variances for a predictive distribution: compile it with `uncertainty = true`",
            ),
            Self::BufferTooSmall { needed } => write!(f, "the buffer needs {needed} bytes"),
        }
    }
}

impl core::error::Error for Error {}

impl From<postcard::Error> for Error {
    fn from(_: postcard::Error) -> Self {
        Self::Decode
    }
}

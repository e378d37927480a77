//! The wire types of a model blob (format v1) and the runtime's fixed capacities.
//!
//! A blob is `postcard(Header) ‖ crc32_le(postcard(Header))`. The header carries the structure
//! and the metadata; its last field, `data`, is an arena of little-endian numbers that the
//! runtime reads in place (see `runtime/FORMAT.md` for the byte layout).

use heapless::Vec;
use serde::{Deserialize, Serialize};

/// The first four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"SSNN";
/// The format version this runtime reads and writes.
pub const FORMAT_VERSION: u16 = 1;
/// Most layers a model may have (hidden layers plus the output layer).
pub const MAX_LAYERS: usize = 8;
/// Widest layer, including the kept inputs: the size of each of the two activation buffers.
///
/// It is 256 so that a sparse layer's column indices are single bytes that can never index
/// outside the activation buffer.
pub const MAX_WIDTH: usize = 256;
/// Most named metrics in the metadata.
pub const MAX_METRICS: usize = 8;
/// Alignment, in bytes, that the arena needs in memory (and so the blob, see [`crate::Aligned`]).
pub const ARENA_ALIGN: usize = 4;

/// What the outputs mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Task {
    /// Outputs are real values, de-standardised to the target's original scale.
    Regression,
    /// Outputs are the softmax probabilities of the classes (at least two).
    Classification,
}

/// Activation applied elementwise after a layer's affine map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    /// `f(z) = z`.
    Identity,
    /// `f(z) = max(z, 0)`; NaN stays NaN.
    Relu,
    /// `f(z) = tanh(z)`, from micromath's `exp` (see [`crate::math`]).
    Tanh,
    /// `f(z) = 1 / (1 + e^−z)`, from micromath's `exp` (see [`crate::math`]).
    Sigmoid,
}

/// How a layer's weights are laid out in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Storage {
    /// Row-major `width × in_width` matrix.
    Dense,
    /// Compressed sparse rows with this many stored edges.
    Sparse {
        /// Number of stored (non-pruned) edges.
        edges: u32,
    },
}

/// Shape of one layer in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LayerSpec {
    /// Number of nodes (outputs) of the layer.
    pub width: u16,
    /// Activation after the affine map.
    pub activation: Activation,
    /// Weight layout.
    pub storage: Storage,
}

/// A named scalar of the metadata, e.g. `("val_rmse", 0.42)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric<'a> {
    /// Short name, e.g. `train_loss`.
    pub name: &'a str,
    /// Value.
    pub value: f32,
}

/// Descriptive metadata: not used by evaluation, shown by `spikeslab inspect`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta<'a> {
    /// Model name.
    pub name: &'a str,
    /// Version of the compiler that wrote the blob.
    pub compiler: &'a str,
    /// Training and validation metrics.
    #[serde(borrow)]
    pub metrics: Vec<Metric<'a>, MAX_METRICS>,
}

/// Structure and metadata: the first part of a blob.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header<'a> {
    /// Always [`MAGIC`].
    pub magic: [u8; 4],
    /// Always [`FORMAT_VERSION`] for this runtime.
    pub version: u16,
    /// Regression or classification.
    pub task: Task,
    /// Length of the raw feature vector that firmware samples (D).
    pub features: u16,
    /// Number of features the model reads.
    pub inputs: u16,
    /// Hidden layers then the output layer.
    pub layers: Vec<LayerSpec, MAX_LAYERS>,
    /// Whether the arena ends with the PIP of every kept input and hidden node.
    pub has_pips: bool,
    /// Descriptive metadata.
    #[serde(borrow)]
    pub meta: Meta<'a>,
}

/// Everything a blob holds but its trailing CRC-32.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Blob<'a> {
    /// Structure and metadata.
    #[serde(borrow)]
    pub header: Header<'a>,
    /// Zero bytes that bring `data` to a multiple of [`ARENA_ALIGN`] from the blob's start.
    pub pad: &'a [u8],
    /// The arena.
    pub data: &'a [u8],
}

/// The version prefix of any blob, decoded before the rest.
#[derive(Deserialize)]
pub struct Prefix {
    pub magic: [u8; 4],
    pub version: u16,
}

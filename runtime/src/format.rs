//! The wire types of a model blob (format v8) and the runtime's fixed capacities.
//!
//! A blob is `postcard(Header) ‖ crc32_le(postcard(Header))`. The header carries the structure
//! and the metadata; its last field, `data`, is an arena of little-endian numbers that the
//! runtime reads in place (see `runtime/FORMAT.md` for the byte layout).

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The first four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"SSNN";
/// The format version this runtime reads and writes.
pub const FORMAT_VERSION: u16 = 8;
/// Most layers a model may have (hidden layers plus the output layer).
pub const MAX_LAYERS: usize = 8;
/// Widest layer, including the kept inputs: the size of each of the two activation buffers.
///
/// It is 256 so that a sparse layer's column indices are single bytes that can never index
/// outside the activation buffer.
pub const MAX_WIDTH: usize = 256;
/// Most named metrics in the metadata.
pub const MAX_METRICS: usize = 8;
/// Longest name of an input or an output, in bytes of UTF-8: its length is one byte.
pub const MAX_NAME: usize = 127;
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
    /// `f(z) = tanh(z)`, from the runtime's `exp` (see [`crate::math`]).
    Tanh,
    /// `f(z) = 1 / (1 + e^−z)`, from the runtime's `exp` (see [`crate::math`]).
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

/// The number format of a layer: of its weights and biases, and of the activations it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NumberFormat {
    /// IEEE 754 binary32 throughout.
    F32,
    /// 8-bit weight codes with a scale per node, 8-bit activation codes, 32-bit integer
    /// biases and sums (`runtime/FORMAT.md` gives the arithmetic exactly). Integer layers
    /// come first: a model's layers are zero or more `Int8` layers, then `F32` ones.
    Int8,
}

/// How a layer stores the posterior variances of its weights and biases, which
/// [`crate::Model::predict_dist`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VarianceFormat {
    /// No variances: a point estimate.
    None,
    /// One f32 variance per stored weight (in the weights' order) and per bias; an integer
    /// layer also stores its weights' real scale (`runtime/FORMAT.md`).
    F32,
    /// Integer layers only: as [`VarianceFormat::F32`], but each weight's variance is a
    /// 4-bit code into a table of 16 f32 variances per layer.
    Table4,
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
    /// Number format.
    pub format: NumberFormat,
    /// Posterior variances.
    pub variance: VarianceFormat,
}

/// A string of the metadata, kept as the blob's bytes.
///
/// The encoding is postcard's string encoding (a varint length, then the bytes), but the
/// UTF-8 check happens when the text is read ([`Text::as_str`]), not when the model is
/// loaded: evaluation never reads metadata, so firmware that does not show it carries no UTF-8
/// decoder (about 700 bytes of flash on a Cortex-M4).
#[derive(Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text<'a>(&'a [u8]);

impl<'a> Text<'a> {
    /// The text of a string.
    pub const fn new(s: &'a str) -> Self {
        Self(s.as_bytes())
    }

    /// Bytes as they would be stored (not checked here: [`Text::as_str`] checks them).
    pub const fn from_bytes(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }

    /// The text, checked to be UTF-8.
    ///
    /// # Errors
    /// The bytes are not UTF-8 (the blob was not written by a spikeslab compiler).
    pub fn as_str(&self) -> Result<&'a str, core::str::Utf8Error> {
        core::str::from_utf8(self.0)
    }

    /// The bytes as stored.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl core::fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.as_str() {
            Ok(s) => core::fmt::Debug::fmt(s, f),
            Err(_) => core::fmt::Debug::fmt(self.0, f),
        }
    }
}

/// The names of a model's read inputs, then of its outputs (the class labels of a
/// classifier, the target's name for a regression), kept as the blob's bytes.
///
/// Each name is a postcard string of 1..=[`MAX_NAME`] bytes (so its length is one byte),
/// one after another. [`crate::Model::from_bytes`] checks that there are exactly as many as
/// the model has inputs and outputs, and that no two inputs, nor two outputs, share a name;
/// as with [`Text`], the UTF-8 is checked only when a name is read as a `str`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Names<'a>(&'a [u8]);

impl<'a> Names<'a> {
    /// Names stored as `bytes` (checked when a blob is loaded, not here).
    pub const fn from_bytes(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }

    /// The bytes as stored.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// Every name, in order; stops early at bytes that are not a name.
    pub fn iter(&self) -> NameIter<'a> {
        NameIter { rest: self.0 }
    }

    /// Writes `names` into `buf` in the stored form and returns the bytes used.
    ///
    /// # Errors
    /// [`Error::Names`] with the offset in `buf` of a name that is empty or longer than
    /// [`MAX_NAME`] bytes, or [`Error::BufferTooSmall`].
    pub fn write<'s>(
        names: impl IntoIterator<Item = &'s str>,
        buf: &mut [u8],
    ) -> crate::Result<usize> {
        let mut at = 0;
        for name in names {
            let offset = u32::try_from(at).unwrap_or(u32::MAX);
            let len = u8::try_from(name.len())
                .ok()
                .filter(|&l| l > 0 && usize::from(l) <= MAX_NAME)
                .ok_or(Error::Names { offset })?;
            let end = at + 1 + name.len();
            let slot = buf.get_mut(at..end).ok_or(Error::BufferTooSmall {
                needed: u32::try_from(end).unwrap_or(u32::MAX),
            })?;
            let (head, tail) = slot.split_at_mut(1);
            head.fill(len);
            tail.copy_from_slice(name.as_bytes());
            at = end;
        }
        Ok(at)
    }
}

impl core::fmt::Debug for Names<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The names of a [`Names`], in order.
#[derive(Clone, Debug)]
pub struct NameIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for NameIter<'a> {
    type Item = Text<'a>;

    fn next(&mut self) -> Option<Text<'a>> {
        let name = name_at(self.rest, 0)?;
        self.rest = self.rest.get(1 + name.len()..)?;
        Some(Text::from_bytes(name))
    }
}

/// The bytes of the name stored at `pos` of `bytes`, if one of 1..=[`MAX_NAME`] bytes is.
pub fn name_at(bytes: &[u8], pos: usize) -> Option<&[u8]> {
    let len = usize::from(*bytes.get(pos)?);
    if len == 0 || len > MAX_NAME {
        return None;
    }
    bytes.get(pos + 1..pos + 1 + len)
}

/// A named scalar of the metadata, e.g. `("val_rmse", 0.42)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric<'a> {
    /// Short name, e.g. `train_loss`.
    #[serde(borrow)]
    pub name: Text<'a>,
    /// Value.
    pub value: f32,
}

/// Descriptive metadata: not used by evaluation, shown by `spikeslab inspect`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta<'a> {
    /// Model name.
    #[serde(borrow)]
    pub name: Text<'a>,
    /// Version of the compiler that wrote the blob.
    #[serde(borrow)]
    pub compiler: Text<'a>,
    /// Name of the target column the model was trained to predict (a classifier's labels
    /// are its values).
    #[serde(borrow)]
    pub target: Text<'a>,
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
    /// The name of every read input, then of every output.
    #[serde(borrow)]
    pub names: Names<'a>,
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

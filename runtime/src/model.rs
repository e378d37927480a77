//! A validated model: the views into a blob that evaluation reads.

use heapless::Vec;

use crate::arena::Reader;
use crate::format::{
    Activation, Blob, Header, LayerSpec, MAGIC, MAX_LAYERS, MAX_WIDTH, Meta, NameIter, Names,
    NumberFormat, Prefix, Storage, Task, Text, VarianceFormat,
};
use crate::{Error, FORMAT_VERSION, Result};

/// CRC-32/ISO-HDLC (the CRC of zlib, PNG and Ethernet), bitwise: no table in flash.
pub const CRC: crc::Crc<u32, crc::NoTable> =
    crc::Crc::<u32, crc::NoTable>::new(&crc::CRC_32_ISO_HDLC);

/// The weights of one layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Weights<'a> {
    /// A `width × in_width` matrix packed for evaluation: weight `(o, i)`, into node `o` from
    /// input `i`, is at [`dense_index`]`(o, i, width, in_width)`.
    Dense(&'a [f32]),
    /// Compressed sparse rows: row `o` holds `row_len[o]` edges, whose source nodes (strictly
    /// increasing) and weights follow those of row `o − 1` in `cols` and `values`.
    Sparse {
        /// Edges into each node.
        row_len: &'a [u16],
        /// Source node of each edge.
        cols: &'a [u8],
        /// Weight of each edge.
        values: &'a [f32],
    },
}

/// Position of weight `(o, i)` of a dense `width × in_width` layer in its packed array.
///
/// Rows come in blocks of four, each block stored column by column (the four weights from
/// input 0, then the four from input 1, ...); the last `width % 4` rows follow row by row.
pub const fn dense_index(o: usize, i: usize, width: usize, in_width: usize) -> usize {
    let (start, step) = dense_row(o, width, in_width);
    start + step * i
}

/// Where row `o` of a dense `width × in_width` layer lies in its packed array: weight
/// `(o, i)` at `start + step·i` ([`dense_index`]).
pub const fn dense_row(o: usize, width: usize, in_width: usize) -> (usize, usize) {
    let blocked = width / 4 * 4;
    if o < blocked {
        ((o / 4) * 4 * in_width + o % 4, 4)
    } else {
        (blocked * in_width + (o - blocked) * in_width, 1)
    }
}

/// `v` in chunks of `size` (a layer's rows or blocks), as `chunks_exact` gives them, for a
/// `size` that is not 0; a `size` of 0 takes chunks of 1 instead of panicking, so that no
/// panic is linked where the compiler cannot see that a width is positive.
pub fn chunks<T>(v: &[T], size: usize) -> core::slice::ChunksExact<'_, T> {
    v.chunks_exact(size.max(1))
}

/// The weights of an integer layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Int8Weights<'a> {
    /// Codes `u = w + 128` of the weights `w ∈ [−127, 127]`, packed as [`Weights::Dense`]:
    /// code `(o, i)` at [`dense_index`]`(o, i, width, in_width)`.
    Dense(&'a [u8]),
    /// Compressed sparse rows, as [`Weights::Sparse`], with the weights `w` themselves.
    Sparse {
        /// Edges into each node.
        row_len: &'a [u16],
        /// Source node of each edge.
        cols: &'a [u8],
        /// Weight of each edge.
        values: &'a [i8],
    },
}

/// How an integer layer turns each node's 32-bit sum into what the next layer reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rescale<'a> {
    /// Into the next (integer) layer's 8-bit codes: `r = ⌊(s·mult + 2^(shift−1)) / 2^shift⌋`,
    /// exactly, then the activation's code map (`runtime/FORMAT.md`); or, for a classifier's
    /// output layer, into logits `r` in units of 2^−8 for the integer softmax.
    Requantise {
        /// Multiplier of each node.
        mult: &'a [u16],
        /// Right shift of each node, 17..=47.
        shift: &'a [u8],
    },
    /// Into f32 for the next (f32) layer or a regression's outputs: `z = s · scale`, then the
    /// activation in f32.
    Dequantise(&'a [f32]),
}

/// An integer layer: 8-bit activation codes `a` in, `s = bias + Σ w·a` in 32 bits per node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Int8<'a> {
    /// Where each node's sum starts, in units of the products `w·a`: the bias, with the input
    /// codes' zero point folded in.
    pub bias: &'a [i32],
    /// The kept weights.
    pub weights: Int8Weights<'a>,
    /// What the sums become.
    pub rescale: Rescale<'a>,
    /// The weights' posterior, if the model carries it.
    pub posterior: Option<Int8Posterior<'a>>,
}

/// The posterior of an integer layer's parameters, which [`crate::Model::predict_dist`]
/// reads in f32: weight `(o, i)` stands for `scale[o] · w[o,i] · unit[i]` (`w` the stored
/// code, `u − 128` when dense), the posterior mean of the weight in the units of the layer's
/// real inputs, and node `o`'s pre-activation mean is `bias[o] + scale[o] · Σ_i w[o,i] ·
/// unit[i] · m[i]`.
///
/// The arrays are consecutive in the blob, and this view keeps them as one slice (two words
/// and two lengths, so that every layer of a [`Model`] stays small in RAM). Two are equal
/// when their arrays are equal bit for bit (the words of 4-bit codes are not numbers).
#[derive(Clone, Copy, Debug)]
pub struct Int8Posterior<'a> {
    values: &'a [f32],
    width: u16,
    /// The inputs, and in [`TABLE_FLAG`] whether the weights' variances are 4-bit codes.
    inputs: u16,
}

impl PartialEq for Int8Posterior<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.width, self.inputs) == (other.width, other.inputs)
            && self.values.len() == other.values.len()
            && (self.values.iter().zip(other.values)).all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

/// The bit of [`Int8Posterior`]'s input count that marks [`VarianceFormat::Table4`] (inputs
/// are at most 256).
const TABLE_FLAG: u16 = 1 << 15;

/// How a layer stores its weights' variances (an integer layer's in squared code steps).
#[derive(Clone, Copy, Debug)]
pub enum CodeVariances<'a> {
    /// One f32 per stored weight.
    F32(&'a [f32]),
    /// A 4-bit code per stored weight into a table of 16 variances: eight codes a 32-bit
    /// word (stored as the f32 of those bits), weight `k`'s in bits `4·(k mod 8)` up of word
    /// `⌊k/8⌋`.
    Table4 {
        /// The variances the codes stand for.
        table: &'a [f32],
        /// The words of codes.
        words: &'a [f32],
    },
}

/// Equal when the variances are equal as numbers and the words of codes bit for bit (they
/// are not numbers: a NaN pattern would compare unequal).
impl PartialEq for CodeVariances<'_> {
    fn eq(&self, other: &Self) -> bool {
        let bits = |a: &[f32], b: &[f32]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        };
        match (self, other) {
            (Self::F32(a), Self::F32(b)) => a == b,
            (Self::Table4 { table, words }, Self::Table4 { table: t, words: w }) => {
                table == t && bits(words, w)
            }
            _ => false,
        }
    }
}

impl CodeVariances<'_> {
    /// Whether these are the variances of `stored` weights: that many f32s, or a full table
    /// and `⌈stored/8⌉` words of codes.
    pub fn holds(&self, stored: usize) -> bool {
        match *self {
            Self::F32(v) => v.len() == stored,
            Self::Table4 { table, words } => {
                table.len() == TABLE4 && words.len() == stored.div_ceil(8)
            }
        }
    }

    /// How they are stored.
    pub fn format(&self) -> VarianceFormat {
        match self {
            Self::F32(_) => VarianceFormat::F32,
            Self::Table4 { .. } => VarianceFormat::Table4,
        }
    }

    /// The variance of stored weight `k` (`None` past the end).
    #[inline]
    pub fn get(&self, k: usize) -> Option<f32> {
        match *self {
            Self::F32(v) => v.get(k).copied(),
            Self::Table4 { table, words } => {
                let word = words.get(k / 8)?.to_bits();
                table.get(((word >> (4 * (k % 8))) & 15) as usize).copied()
            }
        }
    }
}

/// Entries of a [`VarianceFormat::Table4`] layer's table.
pub const TABLE4: usize = 16;

/// The word of [`CodeVariances::Table4`] that holds up to eight 4-bit `codes` (the first in
/// the lowest bits; codes past eight, and bits above each code's four, are ignored), as the
/// f32 of its bits.
pub fn table4_word(codes: &[u8]) -> f32 {
    let bits = (codes.iter().take(8).enumerate())
        .fold(0u32, |w, (j, &c)| w | u32::from(c & 15) << (4 * j));
    f32::from_bits(bits)
}

impl<'a> Int8Posterior<'a> {
    /// The posterior of a layer of `width` nodes on `inputs` inputs from its arrays one after
    /// another: bias means (`width`), scales (`width`), units (`inputs`), bias variances
    /// (`width`), then one variance per stored weight (the rest). `None` when `values` is
    /// shorter than `3·width + inputs` or `width` exceeds 65,535 or `inputs` 32,767.
    pub fn new(values: &'a [f32], width: usize, inputs: usize) -> Option<Self> {
        let width = u16::try_from(width).ok()?;
        let inputs = u16::try_from(inputs).ok().filter(|&n| n < TABLE_FLAG)?;
        (values.len() >= 3 * usize::from(width) + usize::from(inputs)).then_some(Self {
            values,
            width,
            inputs,
        })
    }

    /// As [`Int8Posterior::new`], the weights' variances ([`VarianceFormat::Table4`]) being
    /// [`TABLE4`] variances and then the words of `stored` 4-bit codes
    /// ([`CodeVariances::Table4`]). `None` unless `values` holds exactly
    /// `3·width + inputs + 16 + ⌈stored/8⌉`.
    pub fn with_table(
        values: &'a [f32],
        width: usize,
        inputs: usize,
        stored: usize,
    ) -> Option<Self> {
        let p = Self::new(values, width, inputs)?;
        let len = 3 * width + inputs + TABLE4 + stored.div_ceil(8);
        (values.len() == len).then_some(Self {
            inputs: p.inputs | TABLE_FLAG,
            ..p
        })
    }

    /// How the weights' variances are stored.
    pub fn format(&self) -> VarianceFormat {
        if self.inputs & TABLE_FLAG != 0 {
            VarianceFormat::Table4
        } else {
            VarianceFormat::F32
        }
    }

    fn inputs(&self) -> usize {
        usize::from(self.inputs & !TABLE_FLAG)
    }

    fn part(&self, from: usize, len: usize) -> &'a [f32] {
        self.values.get(from..from + len).unwrap_or_default()
    }

    /// The arrays, one after another, as stored (the words of 4-bit codes as the f32s of
    /// their bits).
    pub fn values(&self) -> &'a [f32] {
        self.values
    }

    /// Posterior mean of each bias, in the units of the node's pre-activation.
    pub fn bias(&self) -> &'a [f32] {
        self.part(0, usize::from(self.width))
    }

    /// Real value of one weight code step of each node, per unit of [`Self::unit`].
    pub fn scale(&self) -> &'a [f32] {
        let w = usize::from(self.width);
        self.part(w, w)
    }

    /// Real value of one code step of each input (of the standardised input for the first
    /// layer, of the previous layer's output otherwise).
    pub fn unit(&self) -> &'a [f32] {
        self.part(2 * usize::from(self.width), self.inputs())
    }

    /// Variance of each bias, in the pre-activation's units.
    pub fn bias_variance(&self) -> &'a [f32] {
        let w = usize::from(self.width);
        self.part(2 * w + self.inputs(), w)
    }

    /// Variance of each stored weight, in squared code steps (the variance of `w[o,i]`, so
    /// that of the real weight is `(scale[o] · unit[i])²` times it), in the order of the
    /// weights.
    pub fn weight_variance(&self) -> CodeVariances<'a> {
        let start = 3 * usize::from(self.width) + self.inputs();
        let rest = self.values.get(start..).unwrap_or_default();
        match self.format() {
            VarianceFormat::Table4 => {
                let (table, words) = rest.split_at(TABLE4.min(rest.len()));
                CodeVariances::Table4 { table, words }
            }
            _ => CodeVariances::F32(rest),
        }
    }
}

/// The posterior variances of an f32 layer's parameters: the spread of each weight and bias
/// around the stored value, its mean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variances<'a> {
    /// Variance of each bias.
    pub bias: &'a [f32],
    /// Variance of each stored weight, in the order of the weights (packed as
    /// [`Weights::Dense`], or as the sparse `values`): one f32 each, or a 4-bit code each
    /// into a table of 16.
    pub weights: CodeVariances<'a>,
}

/// A layer's parameters, in its number format.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Params<'a> {
    /// `y = act(b + W·x)` in f32.
    F32 {
        /// One bias per node; its length is the layer's width.
        bias: &'a [f32],
        /// The kept weights.
        weights: Weights<'a>,
        /// Their posterior variances, if the model carries them.
        variance: Option<Variances<'a>>,
    },
    /// 8-bit weights and activations, 32-bit sums.
    Int8(Int8<'a>),
}

/// One layer: its activation and its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layer<'a> {
    /// Activation after the affine map.
    pub activation: Activation,
    /// Biases, weights and, for an integer layer, its rescaling.
    pub params: Params<'a>,
}

impl Layer<'_> {
    /// Whether the layer is dense integer relu, its sums become codes, and its multipliers
    /// are normalised: the layers [`crate::int8::dense_relu_codes`] evaluates.
    pub(crate) fn fuses(&self) -> bool {
        self.activation == Activation::Relu
            && matches!(
                self.params,
                Params::Int8(Int8 {
                    weights: Int8Weights::Dense(_),
                    rescale: Rescale::Requantise { mult, .. },
                    ..
                }) if crate::int8::normalised(mult)
            )
    }

    /// Number of nodes.
    pub fn width(&self) -> usize {
        match self.params {
            Params::F32 { bias, .. } => bias.len(),
            Params::Int8(q) => q.bias.len(),
        }
    }

    /// Number of stored weights.
    pub fn weight_count(&self) -> usize {
        match self.params {
            Params::F32 { weights, .. } => weights.len(),
            Params::Int8(Int8 {
                weights: Int8Weights::Dense(w),
                ..
            }) => w.len(),
            Params::Int8(Int8 {
                weights: Int8Weights::Sparse { values, .. },
                ..
            }) => values.len(),
        }
    }

    /// The layer's number format.
    pub fn format(&self) -> NumberFormat {
        match self.params {
            Params::F32 { .. } => NumberFormat::F32,
            Params::Int8(_) => NumberFormat::Int8,
        }
    }

    /// How the layer stores its posterior variances.
    pub fn variance_format(&self) -> VarianceFormat {
        match self.params {
            Params::F32 {
                variance: Some(v), ..
            } => v.weights.format(),
            Params::Int8(Int8 {
                posterior: Some(p), ..
            }) => p.format(),
            _ => VarianceFormat::None,
        }
    }

    fn storage(&self) -> Storage {
        let sparse = |edges: usize| Storage::Sparse {
            edges: u32::try_from(edges).unwrap_or(u32::MAX),
        };
        match self.params {
            Params::F32 {
                weights: Weights::Sparse { values, .. },
                ..
            } => sparse(values.len()),
            Params::Int8(Int8 {
                weights: Int8Weights::Sparse { values, .. },
                ..
            }) => sparse(values.len()),
            _ => Storage::Dense,
        }
    }
}

/// Whether an int8 layer followed by a layer of format `next` (`None`: it is the output
/// layer) stores multipliers and shifts ([`Rescale::Requantise`]) rather than f32 scales:
/// into a next int8 layer, or a classifier's integer logits (`runtime/FORMAT.md`).
pub fn requantised(next: Option<NumberFormat>, task: Task) -> bool {
    match next {
        Some(format) => format == NumberFormat::Int8,
        None => task == Task::Classification,
    }
}

/// How each read input becomes what the first layer reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InputMap<'a> {
    /// The first layer is f32: `z = (x − mean) · scale`, with the training mean and
    /// 1 / standard deviation of each read feature.
    F32 {
        /// Training mean of each read feature.
        mean: &'a [f32],
        /// 1 / training standard deviation of each read feature.
        scale: &'a [f32],
    },
    /// The first layer is int8: each read input's 8-bit code, from its f32 bits in integer
    /// arithmetic (`runtime/FORMAT.md`, "Integer layers"), the standardisation and the codes'
    /// scale and zero point folded in.
    Int8 {
        /// `C`: where the codes start, in units of `2^−exp` of the input.
        offset: &'a [i32],
        /// `q`: code multiplier.
        mult: &'a [u16],
        /// `k`: its right shift, 17..=47.
        shift: &'a [u8],
        /// `g`: the input is read as the integer `⌊|x|·2^g⌋` with x's sign.
        exp: &'a [i8],
        /// With a posterior ([`Int8Posterior`]): each read feature's training mean and
        /// 1 / standard deviation, for [`crate::Model::predict_dist`], which reads the
        /// standardised inputs in f32. Empty otherwise.
        mean: &'a [f32],
        /// See `mean`.
        scale: &'a [f32],
    },
}

/// Everything a model holds, as plain views: what [`Parts::encode`] writes and what
/// [`Model::from_bytes`] reads back.
#[derive(Clone, Debug, PartialEq)]
pub struct Parts<'a> {
    /// Regression or classification.
    pub task: Task,
    /// Length of the raw feature vector (D).
    pub features: u16,
    /// Indices, into the raw feature vector, of the features the model reads (strictly increasing).
    pub inputs: &'a [u16],
    /// How each read feature enters the first layer; its kind follows the first layer's
    /// number format.
    pub input: InputMap<'a>,
    /// Hidden layers, then the output layer.
    pub layers: Vec<Layer<'a>, MAX_LAYERS>,
    /// Regression only: `y = z · output_scale + output_mean`, per output. Empty for classification.
    pub output_mean: &'a [f32],
    /// Regression only, see `output_mean`.
    pub output_scale: &'a [f32],
    /// Regression only: the standard deviation of the noise around each output, on the
    /// target's scale (the model's `σ_ε`). Empty for classification.
    pub noise_sd: &'a [f32],
    /// The name of every read input (in the order of `inputs`), then of every output (the
    /// class labels, or the target's name).
    pub names: Names<'a>,
    /// PIP of every read input, then of every hidden node, layer by layer; or empty.
    pub pips: &'a [f32],
    /// Descriptive metadata.
    pub meta: Meta<'a>,
}

/// A model that passed validation: evaluation cannot fail except on slice lengths.
#[derive(Clone, Debug, PartialEq)]
pub struct Model<'a> {
    pub(crate) parts: Parts<'a>,
    /// Bit `l` set: layer `l` [`Layer::fuses`], so it takes [`crate::int8::dense_relu_codes`]
    /// where evaluation uses it (`FUSED` in `eval.rs`); found once here.
    pub(crate) fused: u16,
}

const _: () = assert!(MAX_LAYERS <= 16, "Model::fused has a bit per layer");

impl<'a> Model<'a> {
    /// Decodes and validates a blob, reading its numbers in place.
    ///
    /// Checks the magic bytes, the version, the CRC-32, the header encoding, the capacities,
    /// that layer shapes chain, that every index is in range, that every number is finite
    /// (and every PIP in `[0, 1]`), and that nothing follows the CRC.
    ///
    /// # Errors
    /// The first problem found, as an [`Error`]; byte offsets count from `bytes[0]`.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        let (prefix, _) = postcard::take_from_bytes::<Prefix>(bytes).map_err(|_| Error::Magic)?;
        if prefix.magic != MAGIC {
            return Err(Error::Magic);
        }
        if prefix.version != FORMAT_VERSION {
            return Err(Error::Version {
                found: prefix.version,
            });
        }
        let split = bytes.len().checked_sub(4).ok_or(Error::Checksum)?;
        let (body, crc) = bytes.split_at(split);
        if CRC.checksum(body).to_le_bytes() != *crc {
            return Err(Error::Checksum);
        }
        let (blob, rest) = postcard::take_from_bytes::<Blob<'a>>(body)?;
        if !rest.is_empty() || blob.pad.iter().any(|&b| b != 0) {
            return Err(Error::Length);
        }
        let parts = decode(blob.header, blob.data)?;
        crate::check::check(&parts, bytes)?;
        let fused = parts
            .layers
            .iter()
            .enumerate()
            .filter(|(_, l)| crate::eval::FUSED && l.fuses())
            .fold(0, |bits, (i, _)| bits | 1u16 << i);
        Ok(Self { parts, fused })
    }

    /// The model's contents.
    pub fn parts(&self) -> &Parts<'a> {
        &self.parts
    }

    /// Regression or classification.
    pub fn task(&self) -> Task {
        self.parts.task
    }

    /// Length of the raw feature vector that [`Model::predict`] takes (D).
    pub fn features(&self) -> usize {
        usize::from(self.parts.features)
    }

    /// Indices of the features the model reads, increasing: firmware can stop sampling the others.
    pub fn inputs(&self) -> &'a [u16] {
        self.parts.inputs
    }

    /// Number of outputs: 1 for a scalar regression, the class count for classification.
    pub fn outputs(&self) -> usize {
        self.parts.layers.last().map_or(0, Layer::width)
    }

    /// Layers, the output layer last.
    pub fn layers(&self) -> &[Layer<'a>] {
        &self.parts.layers
    }

    /// Descriptive metadata.
    pub fn meta(&self) -> &Meta<'a> {
        &self.parts.meta
    }

    /// The names of the read inputs, in the order of [`Model::inputs`].
    pub fn input_names(&self) -> core::iter::Take<NameIter<'a>> {
        self.parts.names.iter().take(self.parts.inputs.len())
    }

    /// The names of the outputs: the class labels of a classifier, in output order, or the
    /// target's name of a regression.
    pub fn output_names(&self) -> impl Iterator<Item = Text<'a>> + use<'a> {
        self.parts.names.iter().skip(self.parts.inputs.len())
    }

    /// The position in the raw feature vector of the read input called `name`: where
    /// firmware puts that sensor's reading. `None` when the model does not read it.
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.parts
            .inputs
            .iter()
            .zip(self.input_names())
            .find(|(_, n)| n.as_bytes() == name.as_bytes())
            .map(|(&i, _)| usize::from(i))
    }

    /// Regression: the standard deviation of the noise around each output, on the target's
    /// scale. Empty for classification.
    pub fn noise_sd(&self) -> &'a [f32] {
        self.parts.noise_sd
    }

    /// Whether the model carries the posterior variances of its weights, so that
    /// [`Model::predict_dist`] can give a predictive distribution.
    pub fn has_posterior(&self) -> bool {
        self.parts.has_posterior()
    }

    /// Number of stored weights (kept edges).
    pub fn weight_count(&self) -> usize {
        self.parts.layers.iter().map(Layer::weight_count).sum()
    }

    /// The value of the metric called `name` in the model's metadata (the first, should a
    /// name repeat).
    pub fn metric(&self, name: &str) -> Option<f32> {
        self.parts
            .meta
            .metrics
            .iter()
            .find(|m| m.name.as_bytes() == name.as_bytes())
            .map(|m| m.value)
    }

    /// The epistemic sd above which an input is unlike the training data: the 99th
    /// percentile, over the validation rows, of each row's largest `√epistemic` from
    /// [`Model::predict_dist`] (target units for a regression, logit units for a
    /// classifier), stored by the compiler as the metric [`EPISTEMIC_LIMIT`]. About 1 in 100
    /// inputs like the training data lie above it. `None` for a model without a posterior.
    pub fn epistemic_limit(&self) -> Option<f32> {
        self.has_posterior()
            .then(|| self.metric(EPISTEMIC_LIMIT))
            .flatten()
            .filter(|v| v.is_finite() && *v >= 0.0)
    }
}

/// The name of the metric that holds [`Model::epistemic_limit`].
pub const EPISTEMIC_LIMIT: &str = "epistemic_sd_q99";

impl Weights<'_> {
    /// Number of stored weights.
    pub fn len(&self) -> usize {
        match self {
            Self::Dense(w) => w.len(),
            Self::Sparse { values, .. } => values.len(),
        }
    }

    /// Whether no weight is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'a> Parts<'a> {
    /// The header that describes these parts.
    pub(crate) fn header(&self) -> Result<Header<'a>> {
        let mut layers = Vec::new();
        for l in &self.layers {
            let width = u16::try_from(l.width()).map_err(|_| Error::Capacity)?;
            let spec = LayerSpec {
                width,
                activation: l.activation,
                storage: l.storage(),
                format: l.format(),
                variance: l.variance_format(),
            };
            layers.push(spec).map_err(|_| Error::Capacity)?;
        }
        Ok(Header {
            magic: MAGIC,
            version: FORMAT_VERSION,
            task: self.task,
            features: self.features,
            inputs: u16::try_from(self.inputs.len()).map_err(|_| Error::Capacity)?,
            layers,
            has_pips: !self.pips.is_empty(),
            names: self.names,
            meta: self.meta.clone(),
        })
    }

    /// Whether the layers carry the posterior variances of their weights (every layer or
    /// none, so the first says).
    pub fn has_posterior(&self) -> bool {
        self.layers
            .first()
            .is_some_and(|l| l.variance_format() != VarianceFormat::None)
    }

    /// Number of PIPs the arena holds when it holds them: kept inputs plus hidden nodes.
    pub fn node_count(inputs: usize, layers: &[LayerSpec]) -> usize {
        let hidden = layers.split_last().map_or(&[][..], |(_, h)| h);
        inputs + hidden.iter().map(|l| usize::from(l.width)).sum::<usize>()
    }
}

/// Slices the arena into the views the header describes.
fn decode<'a>(h: Header<'a>, data: &'a [u8]) -> Result<Parts<'a>> {
    if h.layers.is_empty() || usize::from(h.inputs) > MAX_WIDTH {
        return Err(Error::Capacity);
    }
    let mut r = Reader::new(data)?;
    let n = usize::from(h.inputs);
    let inputs = r.u16s(n)?;
    let posterior = h
        .layers
        .first()
        .is_some_and(|l| l.variance != VarianceFormat::None);
    let input = match h.layers.first().map(|l| l.format) {
        Some(NumberFormat::Int8) => InputMap::Int8 {
            offset: r.i32s(n)?,
            mult: r.u16s(n)?,
            shift: r.u8s(n)?,
            exp: r.i8s(n)?,
            mean: r.f32s(if posterior { n } else { 0 })?,
            scale: r.f32s(if posterior { n } else { 0 })?,
        },
        _ => InputMap::F32 {
            mean: r.f32s(n)?,
            scale: r.f32s(n)?,
        },
    };
    let mut layers = Vec::new();
    let mut in_width = n;
    for (i, spec) in h.layers.iter().enumerate() {
        let width = usize::from(spec.width);
        if width > MAX_WIDTH {
            return Err(Error::Capacity);
        }
        if width == 0 {
            return Err(Error::Shape {
                layer: u8::try_from(i).unwrap_or(u8::MAX),
            });
        }
        let layer = u8::try_from(i).unwrap_or(u8::MAX);
        let edges = match spec.storage {
            Storage::Dense => None,
            Storage::Sparse { edges } => {
                let edges = usize::try_from(edges).map_err(|_| Error::Length)?;
                if edges > width * in_width {
                    return Err(Error::Shape { layer });
                }
                Some(edges)
            }
        };
        // Variances in every layer or none (as f32, or as 4-bit codes into a table).
        let none = |v: VarianceFormat| v == VarianceFormat::None;
        if h.layers
            .first()
            .is_some_and(|l| none(l.variance) != none(spec.variance))
        {
            return Err(Error::Format { layer });
        }
        let params = match spec.format {
            NumberFormat::F32 => {
                let bias = r.f32s(width)?;
                let weights = match edges {
                    None => Weights::Dense(r.f32s(width * in_width)?),
                    Some(edges) => Weights::Sparse {
                        row_len: r.u16s(width)?,
                        cols: r.u8s(edges)?,
                        values: r.f32s(edges)?,
                    },
                };
                let variance = match spec.variance {
                    VarianceFormat::None => None,
                    format => Some(Variances {
                        bias: r.f32s(width)?,
                        weights: if format == VarianceFormat::Table4 {
                            let v = r.f32s(TABLE4 + weights.len().div_ceil(8))?;
                            let (table, words) = v.split_at(TABLE4.min(v.len()));
                            CodeVariances::Table4 { table, words }
                        } else {
                            CodeVariances::F32(r.f32s(weights.len())?)
                        },
                    }),
                };
                Params::F32 {
                    bias,
                    weights,
                    variance,
                }
            }
            NumberFormat::Int8 => {
                if i > 0
                    && h.layers
                        .get(i - 1)
                        .is_some_and(|p| p.format != NumberFormat::Int8)
                {
                    return Err(Error::Format { layer });
                }
                let bias = r.i32s(width)?;
                let weights = match edges {
                    None => Int8Weights::Dense(r.u8s(width * in_width)?),
                    Some(edges) => Int8Weights::Sparse {
                        row_len: r.u16s(width)?,
                        cols: r.u8s(edges)?,
                        values: r.i8s(edges)?,
                    },
                };
                let next = h.layers.get(i + 1).map(|l| l.format);
                let rescale = if requantised(next, h.task) {
                    Rescale::Requantise {
                        mult: r.u16s(width)?,
                        shift: r.u8s(width)?,
                    }
                } else {
                    Rescale::Dequantise(r.f32s(width)?)
                };
                let stored = match weights {
                    Int8Weights::Dense(w) => w.len(),
                    Int8Weights::Sparse { values, .. } => values.len(),
                };
                let posterior = match spec.variance {
                    VarianceFormat::None => None,
                    VarianceFormat::F32 => {
                        let len = (3 * width + in_width)
                            .checked_add(stored)
                            .ok_or(Error::Length)?;
                        Some(
                            Int8Posterior::new(r.f32s(len)?, width, in_width)
                                .ok_or(Error::Capacity)?,
                        )
                    }
                    VarianceFormat::Table4 => {
                        let len = 3 * width + in_width + TABLE4 + stored.div_ceil(8);
                        Some(
                            Int8Posterior::with_table(r.f32s(len)?, width, in_width, stored)
                                .ok_or(Error::Capacity)?,
                        )
                    }
                };
                Params::Int8(Int8 {
                    bias,
                    weights,
                    rescale,
                    posterior,
                })
            }
        };
        layers
            .push(Layer {
                activation: spec.activation,
                params,
            })
            .map_err(|_| Error::Capacity)?;
        in_width = width;
    }
    let outputs = if h.task == Task::Regression {
        in_width
    } else {
        0
    };
    let (output_mean, output_scale, noise_sd) =
        (r.f32s(outputs)?, r.f32s(outputs)?, r.f32s(outputs)?);
    let pips = r.f32s(if h.has_pips {
        Parts::node_count(n, &h.layers)
    } else {
        0
    })?;
    r.finish()?;
    Ok(Parts {
        task: h.task,
        features: h.features,
        inputs,
        input,
        layers,
        output_mean,
        output_scale,
        noise_sd,
        names: h.names,
        pips,
        meta: h.meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dense_requantised_relu_layers_with_normalised_multipliers_fuse() {
        let (bias, codes, scale) = ([1, 2], [128u8; 6], [0.5f32; 2]);
        let layer = |weights, rescale| Layer {
            activation: Activation::Relu,
            params: Params::Int8(Int8 {
                bias: &bias,
                weights,
                rescale,
                posterior: None,
            }),
        };
        let dense = Int8Weights::Dense(&codes);
        let requantise = |mult| Rescale::Requantise {
            mult,
            shift: &[20, 47],
        };
        assert!(layer(dense, requantise(&[32_768, 65_535])).fuses());
        let tanh = Layer {
            activation: Activation::Tanh,
            ..layer(dense, requantise(&[32_768, 65_535]))
        };
        assert!(!tanh.fuses());
        assert!(!layer(dense, requantise(&[32_768, 32_767])).fuses());
        assert!(!layer(dense, Rescale::Dequantise(&scale)).fuses());
        let sparse = Int8Weights::Sparse {
            row_len: &[1, 1],
            cols: &[0, 2],
            values: &[5, -5],
        };
        assert!(!layer(sparse, requantise(&[32_768, 65_535])).fuses());
    }

    #[test]
    fn table4_codes_are_nibbles_of_little_endian_words() {
        // A 2-node layer on 1 input: bias means, scales, units, bias variances (7 values),
        // the 16-entry table (entry j = j + 0.5), then 10 codes in two words.
        let codes = [3u32, 15, 0, 7, 1, 2, 9, 4, 12, 5];
        let mut words = [0u32; 2];
        for (k, &c) in codes.iter().enumerate() {
            words[k / 8] |= c << (4 * (k % 8));
        }
        let bytes = codes.map(|c| c as u8);
        assert_eq!(table4_word(&bytes[..8]).to_bits(), words[0]);
        assert_eq!(table4_word(&bytes[8..]).to_bits(), words[1]);
        let mut values = [0.0f32; 7 + TABLE4 + 2];
        for (j, t) in values[7..7 + TABLE4].iter_mut().enumerate() {
            *t = j as f32 + 0.5;
        }
        values[7 + TABLE4] = f32::from_bits(words[0]);
        values[8 + TABLE4] = f32::from_bits(words[1]);
        assert!(Int8Posterior::with_table(&values[..values.len() - 1], 2, 1, 10).is_none());
        let p = Int8Posterior::with_table(&values, 2, 1, 10).unwrap();
        assert_eq!(p.format(), VarianceFormat::Table4);
        assert_eq!(p.unit().len(), 1);
        assert_eq!(p.bias_variance(), &values[5..7]);
        let v = p.weight_variance();
        for (k, &c) in codes.iter().enumerate() {
            assert_eq!(v.get(k), Some(c as f32 + 0.5), "weight {k}");
        }
        // Word 1's bytes as stored: weights 8 and 9 in the first byte, low nibble first.
        assert_eq!(words[1].to_le_bytes()[0], 0x5C);
        assert_eq!(v.get(16), None);
    }

    #[test]
    fn crc_is_crc32_iso_hdlc() {
        assert_eq!(CRC.checksum(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn dense_index_is_a_bijection() {
        for width in 1..=11 {
            for in_width in 1..=9 {
                let mut seen = [false; 11 * 9];
                for o in 0..width {
                    for i in 0..in_width {
                        let k = dense_index(o, i, width, in_width);
                        assert!(
                            k < width * in_width && !seen[k],
                            "({o}, {i}) of {width}x{in_width}"
                        );
                        seen[k] = true;
                    }
                }
            }
        }
        assert_eq!(dense_index(1, 2, 4, 3), 2 * 4 + 1);
        assert_eq!(dense_index(4, 2, 5, 3), 4 * 3 + 2);
    }
}

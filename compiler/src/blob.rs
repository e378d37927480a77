//! Blobs: a [`Network`] encoded by the runtime's own encoder (the format's layout is the
//! runtime's alone), and blob files read back and checked.

use std::path::Path;

use spikeslab_runtime::{
    self as rt, Int8Weights, Meta, Metric, Model, Params, Parts, Task, Text, Weights,
};

use crate::network::{Layer, Network};
use crate::quantise::{QLayer, Quantised, Rescale};
use crate::{Error, Result};

/// How a layer's weights are stored in the blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packing {
    /// Dense or sparse, whichever takes fewer bytes.
    Smaller,
    /// Dense, whatever the zeros.
    Dense,
}

/// A layer's weights as the blob stores them; with a posterior, their variances in the same
/// order.
enum Stored {
    Dense {
        weights: Vec<f32>,
        variance: Option<Vec<f32>>,
    },
    Sparse {
        row_len: Vec<u16>,
        cols: Vec<u8>,
        values: Vec<f32>,
        variance: Option<Vec<f32>>,
    },
}

impl Stored {
    /// The runtime's view of `l` stored as `self`.
    fn layer<'a>(&'a self, l: &'a Layer) -> rt::Layer<'a> {
        let (weights, variance) = match self {
            Self::Dense { weights, variance } => (Weights::Dense(weights), variance),
            Self::Sparse {
                row_len,
                cols,
                values,
                variance,
            } => (
                Weights::Sparse {
                    row_len,
                    cols,
                    values,
                },
                variance,
            ),
        };
        rt::Layer {
            activation: l.activation,
            params: Params::F32 {
                bias: &l.bias,
                weights,
                variance: variance.as_deref().zip(l.variance.as_ref()).map(|(w, v)| {
                    rt::Variances {
                        bias: &v.bias,
                        weights: match v.table {
                            Some(_) => {
                                let (table, words) = w.split_at(rt::TABLE4.min(w.len()));
                                rt::CodeVariances::Table4 { table, words }
                            }
                            None => rt::CodeVariances::F32(w),
                        },
                    }
                }),
            },
        }
    }
}

/// An integer layer's codes as the blob stores them; with a posterior, its arrays one after
/// another: the f32 ones, the variance table, then the 4-bit variance codes in the weight
/// codes' order, eight a word ([`rt::Int8Posterior::with_table`]), and the stored weights.
struct StoredQ {
    codes: StoredCodes,
    posterior: Option<(Vec<f32>, usize)>,
}

enum StoredCodes {
    Dense(Vec<u8>),
    Sparse {
        row_len: Vec<u16>,
        cols: Vec<u8>,
        values: Vec<i8>,
    },
}

impl StoredQ {
    /// The runtime's view of `l` stored as `self`.
    fn layer<'a>(&'a self, l: &'a QLayer) -> rt::Layer<'a> {
        rt::Layer {
            activation: l.activation,
            params: Params::Int8(rt::Int8 {
                bias: &l.bias,
                weights: match &self.codes {
                    StoredCodes::Dense(w) => Int8Weights::Dense(w),
                    StoredCodes::Sparse {
                        row_len,
                        cols,
                        values,
                    } => Int8Weights::Sparse {
                        row_len,
                        cols,
                        values,
                    },
                },
                rescale: match &l.rescale {
                    Rescale::Requantise { mult, shift } => rt::Rescale::Requantise { mult, shift },
                    Rescale::Dequantise(scale) => rt::Rescale::Dequantise(scale),
                },
                posterior: l.posterior.as_ref().zip(self.posterior.as_ref()).and_then(
                    |(p, (values, stored))| {
                        rt::Int8Posterior::with_table(values, l.width(), p.unit.len(), *stored)
                    },
                ),
            }),
        }
    }
}

/// Bytes of an integer layer stored sparse and dense, its code variances included.
fn sizes_q(layer: &QLayer, in_width: usize) -> (usize, usize) {
    let nnz = layer.edges();
    // The 4-bit variance codes (the table costs both the same).
    let codes = |n: usize| {
        if layer.posterior.is_some() {
            4 * n.div_ceil(8)
        } else {
            0
        }
    };
    (
        (2 * layer.width()).next_multiple_of(4) + 2 * nnz.next_multiple_of(4) + codes(nnz),
        (layer.width() * in_width).next_multiple_of(4) + codes(layer.codes.len()),
    )
}

fn store_q(layer: &QLayer, in_width: usize, packing: Packing) -> StoredQ {
    let width = layer.width();
    let (sparse, dense) = sizes_q(layer, in_width);
    let var = layer.posterior.as_ref().map(|p| &p.code);
    let posterior = |variance: Vec<u8>| {
        layer.posterior.as_ref().map(|p| {
            let words = variance.chunks(8).map(rt::table4_word);
            let values = [&p.bias, &p.scale, &p.unit, &p.bias_variance, &p.table]
                .into_iter()
                .flatten()
                .copied()
                .chain(words)
                .collect();
            (values, variance.len())
        })
    };
    if packing == Packing::Smaller && sparse < dense && in_width <= rt::MAX_WIDTH {
        let mut row_len = Vec::with_capacity(width);
        let (mut cols, mut values, mut variance) = (Vec::new(), Vec::new(), Vec::new());
        for (o, row) in layer.codes.chunks(in_width.max(1)).enumerate() {
            let before = values.len();
            for (c, &v) in row.iter().enumerate().filter(|(_, v)| **v != 0) {
                cols.push(c as u8);
                values.push(v);
                if let Some(var) = var {
                    variance.push(var[o * in_width + c]);
                }
            }
            row_len.push((values.len() - before) as u16);
        }
        StoredQ {
            codes: StoredCodes::Sparse {
                row_len,
                cols,
                values,
            },
            posterior: posterior(variance),
        }
    } else {
        let mut packed = vec![128u8; layer.codes.len()];
        for (k, &v) in layer.codes.iter().enumerate() {
            packed[rt::dense_index(k / in_width, k % in_width, width, in_width)] =
                (i16::from(v) + 128) as u8;
        }
        let mut variance = vec![0u8; var.map_or(0, Vec::len)];
        for (k, &x) in var.into_iter().flatten().enumerate() {
            variance[rt::dense_index(k / in_width, k % in_width, width, in_width)] = x;
        }
        StoredQ {
            codes: StoredCodes::Dense(packed),
            posterior: posterior(variance),
        }
    }
}

/// Bytes of a layer stored sparse and dense, its variances included.
fn sizes(layer: &Layer, in_width: usize) -> (usize, usize) {
    let width = layer.width();
    let nnz = layer.edges();
    // Variances: one more f32 per stored weight, or a 4-bit code (the table costs both the
    // same).
    let variances = |n: usize| match &layer.variance {
        None => 0,
        Some(v) if v.table.is_some() => 4 * n.div_ceil(8),
        Some(_) => 4 * n,
    };
    (
        (2 * width).next_multiple_of(4) + nnz.next_multiple_of(4) + 4 * nnz + variances(nnz),
        4 * width * in_width + variances(width * in_width),
    )
}

/// A layer's weight variances in stored order as the blob keeps them: as they are, or, for
/// a layer with a table ([`crate::network::Variance::table`]), the table and then the words
/// of each value's 4-bit code.
fn stored_variances(values: Vec<f32>, table: Option<&[f32]>) -> Vec<f32> {
    let Some(table) = table else {
        return values;
    };
    let code = |v: &f32| {
        let at = table.iter().position(|t| t.to_bits() == v.to_bits());
        at.unwrap_or_else(|| unreachable!("a coded layer's variances are its table's entries"))
            as u8
    };
    let codes: Vec<u8> = values.iter().map(code).collect();
    let words = codes.chunks(8).map(rt::table4_word);
    table.iter().copied().chain(words).collect()
}

fn store(layer: &Layer, in_width: usize, packing: Packing) -> Stored {
    let width = layer.width();
    let (sparse, dense) = sizes(layer, in_width);
    let var = layer.variance.as_ref().map(|v| &v.weights);
    let table = layer.variance.as_ref().and_then(|v| v.table.as_deref());
    if packing == Packing::Smaller && sparse < dense && in_width <= rt::MAX_WIDTH {
        let mut row_len = Vec::with_capacity(width);
        let (mut cols, mut values, mut variance) = (Vec::new(), Vec::new(), Vec::new());
        for (o, row) in layer.weights.chunks(in_width.max(1)).enumerate() {
            let before = values.len();
            for (c, &v) in row.iter().enumerate().filter(|(_, v)| **v != 0.0) {
                cols.push(c as u8);
                values.push(v);
                if let Some(var) = var {
                    variance.push(var[o * in_width + c]);
                }
            }
            row_len.push((values.len() - before) as u16);
        }
        Stored::Sparse {
            row_len,
            cols,
            values,
            variance: var.map(|_| stored_variances(variance, table)),
        }
    } else {
        let pack = |src: &[f32]| {
            let mut packed = vec![0.0; src.len()];
            for (k, &v) in src.iter().enumerate() {
                packed[rt::dense_index(k / in_width, k % in_width, width, in_width)] = v;
            }
            packed
        };
        Stored::Dense {
            weights: pack(&layer.weights),
            variance: var.map(|v| stored_variances(pack(v), table)),
        }
    }
}

/// Whether each layer of `net` is stored sparse.
pub fn sparse_layers(net: &Network) -> Vec<bool> {
    net.widths()
        .iter()
        .zip(&net.layers)
        .map(|(&i, l)| {
            let (sparse, dense) = sizes(l, i);
            sparse < dense && i <= rt::MAX_WIDTH
        })
        .collect()
}

/// The metadata stored beside a network.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Info {
    /// Model name.
    pub name: String,
    /// Named metrics (at most [`rt::MAX_METRICS`]).
    pub metrics: Vec<(String, f32)>,
}

/// Encodes `net` with the runtime's own encoder and checks it by loading it back.
///
/// # Errors
/// [`Error::Runtime`] with the runtime's reason when the network cannot be a valid blob
/// ([`rt::Error::Capacity`] for too many layers, features or metrics).
pub fn encode(net: &Network, info: &Info, packing: Packing) -> Result<BlobBytes> {
    let input_scale: Vec<f32> = net.input_std.iter().map(|s| 1.0 / s).collect();
    let widths = net.widths();
    let stored: Vec<Stored> = net
        .layers
        .iter()
        .zip(&widths)
        .map(|(l, &i)| store(l, i, packing))
        .collect();
    let layers = net
        .layers
        .iter()
        .zip(&stored)
        .map(|(l, s)| s.layer(l))
        .collect();
    let input = rt::InputMap::F32 {
        mean: &net.input_mean,
        scale: &input_scale,
    };
    write(net, input, layers, info)
}

/// Encodes an integer network ([`Quantised`]): its integer layers, then its f32 ones.
///
/// # Errors
/// As [`encode`].
pub fn encode_quantised(q: &Quantised, info: &Info, packing: Packing) -> Result<BlobBytes> {
    let net = &q.network;
    let widths = net.widths();
    let ints: Vec<StoredQ> = q
        .layers
        .iter()
        .zip(&widths)
        .map(|(l, &i)| store_q(l, i, packing))
        .collect();
    let rest: Vec<Stored> = q
        .rest()
        .iter()
        .zip(&widths[q.layers.len()..])
        .map(|(l, &i)| store(l, i, packing))
        .collect();
    let layers = q
        .layers
        .iter()
        .zip(&ints)
        .map(|(l, s)| s.layer(l))
        .chain(q.rest().iter().zip(&rest).map(|(l, s)| s.layer(l)))
        .collect();
    let c = &q.input_codes;
    let posterior = q.layers.first().is_some_and(|l| l.posterior.is_some());
    let input_scale: Vec<f32> = if posterior {
        net.input_std.iter().map(|s| 1.0 / s).collect()
    } else {
        Vec::new()
    };
    let input = rt::InputMap::Int8 {
        offset: &c.offset,
        mult: &c.mult,
        shift: &c.shift,
        exp: &c.exp,
        mean: if posterior { &net.input_mean } else { &[] },
        scale: &input_scale,
    };
    write(net, input, layers, info)
}

/// The blob of `net`'s inputs, names and output map with `layers`.
fn write(
    net: &Network,
    input: rt::InputMap<'_>,
    layers: Vec<rt::Layer<'_>>,
    info: &Info,
) -> Result<BlobBytes> {
    let capacity = || Error::Runtime(rt::Error::Capacity);
    let mut stored = rt::heapless::Vec::<_, { rt::MAX_LAYERS }>::new();
    for l in layers {
        stored.push(l).map_err(|_| capacity())?;
    }
    let features = u16::try_from(net.feature_names.len()).map_err(|_| capacity())?;
    let inputs = net
        .inputs
        .iter()
        .map(|&i| u16::try_from(i).map_err(|_| capacity()))
        .collect::<Result<Vec<u16>>>()?;
    let mut meta = Meta {
        name: Text::new(&info.name),
        compiler: Text::new(crate::VERSION),
        target: Text::new(&net.target_name),
        metrics: rt::heapless::Vec::new(),
    };
    for (name, value) in &info.metrics {
        let m = Metric {
            name: Text::new(name),
            value: *value,
        };
        meta.metrics.push(m).map_err(|_| capacity())?;
    }
    let regression = net.task == Task::Regression;
    let outputs = net.layers.last().map_or(0, Layer::width);
    let (mean, scale) = (vec![net.target.0; outputs], vec![net.target.1; outputs]);
    let noise = match net.noise {
        Some(sd) if regression => vec![sd * net.target.1; outputs],
        None if regression => {
            return Err(Error::Budget(
                "a regression network needs its noise standard deviation to be stored".into(),
            ));
        }
        _ => Vec::new(),
    };
    let names = names(net)?;
    let parts = Parts {
        task: net.task,
        features,
        inputs: &inputs,
        input,
        layers: stored,
        output_mean: if regression { &mean } else { &[] },
        output_scale: if regression { &scale } else { &[] },
        noise_sd: &noise,
        names: rt::Names::from_bytes(&names),
        pips: &net.pips,
        meta,
    };
    let len = parts.encoded_len()?;
    let mut words = vec![0u32; len.div_ceil(4)];
    let n = parts.encode(bytemuck::cast_slice_mut(&mut words))?;
    Ok(BlobBytes { words, len: n })
}

/// The label the blob gives a class: the target value as Rust writes an `f32` (the shortest
/// text that reads back as the same value, `2` for 2.0).
pub fn class_label(value: f32) -> String {
    value.to_string()
}

/// The stored names of `net`: its read inputs' column names, then its class labels, or the
/// target's name (`<target>.<k>` for each of several regression outputs).
///
/// # Errors
/// [`Error::Budget`] naming a name that is empty or longer than [`rt::MAX_NAME`] bytes.
fn names(net: &Network) -> Result<Vec<u8>> {
    let mut list: Vec<String> = net
        .inputs
        .iter()
        .map(|&i| net.feature_names.get(i).cloned().unwrap_or_default())
        .collect();
    let outputs = net.layers.last().map_or(0, Layer::width);
    if net.task == Task::Regression && outputs == 1 {
        list.push(net.target_name.clone());
    } else if net.task == Task::Regression {
        list.extend((0..outputs).map(|k| format!("{}.{k}", net.target_name)));
    } else {
        list.extend(net.classes.iter().map(|&c| class_label(c)));
    }
    if let Some(bad) = list.iter().find(|n| n.is_empty() || n.len() > rt::MAX_NAME) {
        return Err(Error::Budget(format!(
            "the name {:?} cannot be stored: names are 1 to {} bytes",
            crate::text::excerpt(bad),
            rt::MAX_NAME
        )));
    }
    let mut bytes = vec![0; list.iter().map(|n| n.len() + 1).sum()];
    rt::Names::write(list.iter().map(String::as_str), &mut bytes)?;
    Ok(bytes)
}

/// Blob bytes in a 4-byte aligned buffer, as [`rt::Model::from_bytes`] needs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobBytes {
    words: Vec<u32>,
    len: usize,
}

impl BlobBytes {
    /// An aligned copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        let mut words = vec![0u32; bytes.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Self {
            words,
            len: bytes.len(),
        }
    }

    /// The blob's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u32, u8>(&self.words)[..self.len]
    }

    /// Decodes and validates the blob.
    ///
    /// # Errors
    /// The runtime's reason for rejecting it.
    pub fn model(&self) -> Result<Model<'_>> {
        Ok(Model::from_bytes(self.as_bytes())?)
    }
}

/// Reads and validates a blob file.
///
/// # Errors
/// [`Error::Io`], or [`Error::Data`] with the runtime's reason for rejecting it and the path.
pub fn read(path: &Path) -> Result<BlobBytes> {
    let bytes = crate::files::read(path, crate::files::Kind::Blob)?;
    let blob = BlobBytes::new(&bytes);
    let checked = blob
        .model()
        .map_err(|e| e.to_string())
        .and_then(|model| check_text(&model));
    checked.map_err(|e| Error::data(path, format!("not a valid model blob: {e}")))?;
    Ok(blob)
}

/// Checks that the names and metadata strings are UTF-8 (the runtime reads them only on
/// demand).
///
/// # Errors
/// Which string is not, and after how many bytes.
pub fn check_text(model: &Model<'_>) -> std::result::Result<(), String> {
    let meta = model.meta();
    let fields = [
        ("model name", meta.name),
        ("compiler version", meta.compiler),
        ("target name", meta.target),
    ]
    .into_iter()
    .chain(meta.metrics.iter().map(|m| ("metric name", m.name)))
    .chain(model.input_names().map(|n| ("input name", n)))
    .chain(model.output_names().map(|n| ("output name", n)));
    for (what, text) in fields {
        text.as_str().map_err(|e| {
            format!(
                "the {what} in its metadata is not UTF-8 (invalid after {} bytes)",
                e.valid_up_to()
            )
        })?;
    }
    Ok(())
}

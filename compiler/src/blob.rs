//! Owned networks and the blobs they encode to, through the runtime's own encoder.

use spikeslab_runtime::{self as rt, Activation, Meta, Metric, Parts, Task, Text, Weights};

use crate::{Error, Result};

/// The weights of one layer, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerWeights {
    /// Packed as [`rt::dense_index`] says.
    Dense(Vec<f32>),
    /// Compressed sparse rows (see [`rt::Weights::Sparse`]).
    Sparse {
        /// Edges into each node.
        row_len: Vec<u16>,
        /// Source node of each edge.
        cols: Vec<u8>,
        /// Weight of each edge.
        values: Vec<f32>,
    },
}

/// One layer, owned.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedLayer {
    /// Activation after the affine map.
    pub activation: Activation,
    /// Bias of each node.
    pub bias: Vec<f32>,
    /// Kept weights.
    pub weights: LayerWeights,
}

/// A network ready to be written as a blob: owned arrays of [`rt::Parts`].
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Regression or classification.
    pub task: Task,
    /// Length of the raw feature vector.
    pub features: u16,
    /// Indices of the read features.
    pub inputs: Vec<u16>,
    /// Mean of each read feature.
    pub input_mean: Vec<f32>,
    /// `1 / std` of each read feature.
    pub input_scale: Vec<f32>,
    /// Hidden layers, then the output layer.
    pub layers: Vec<OwnedLayer>,
    /// Regression: target mean per output.
    pub output_mean: Vec<f32>,
    /// Regression: target standard deviation per output.
    pub output_scale: Vec<f32>,
    /// PIPs of the kept inputs and hidden nodes, or empty.
    pub pips: Vec<f32>,
    /// Model name.
    pub name: String,
    /// Named metrics stored in the blob.
    pub metrics: Vec<(String, f32)>,
}

impl OwnedLayer {
    /// A layer from a row-major `width × in_width` matrix whose pruned entries are exactly 0,
    /// stored dense or sparse, whichever takes fewer bytes.
    pub fn from_matrix(activation: Activation, bias: Vec<f32>, w: &[f32], in_width: usize) -> Self {
        let width = bias.len();
        let nnz = w.iter().filter(|&&v| v != 0.0).count();
        let dense_bytes = 4 * width * in_width;
        let sparse_bytes = (2 * width).next_multiple_of(4) + nnz.next_multiple_of(4) + 4 * nnz;
        if sparse_bytes < dense_bytes && in_width <= rt::MAX_WIDTH {
            Self::sparse(activation, bias, w, in_width)
        } else {
            Self::dense(activation, bias, w, in_width)
        }
    }

    /// A dense layer from a row-major `width × in_width` matrix.
    pub fn dense(activation: Activation, bias: Vec<f32>, w: &[f32], in_width: usize) -> Self {
        let width = bias.len();
        let mut packed = vec![0.0; w.len()];
        for (k, &v) in w.iter().enumerate() {
            packed[rt::dense_index(k / in_width, k % in_width, width, in_width)] = v;
        }
        Self {
            activation,
            bias,
            weights: LayerWeights::Dense(packed),
        }
    }

    /// A sparse layer holding the non-zero entries of a row-major `width × in_width` matrix.
    pub fn sparse(activation: Activation, bias: Vec<f32>, w: &[f32], in_width: usize) -> Self {
        let mut row_len = Vec::with_capacity(bias.len());
        let (mut cols, mut values) = (Vec::new(), Vec::new());
        for row in w.chunks(in_width.max(1)) {
            let before = values.len();
            for (c, &v) in row.iter().enumerate().filter(|(_, v)| **v != 0.0) {
                cols.push(c as u8);
                values.push(v);
            }
            row_len.push((values.len() - before) as u16);
        }
        Self {
            activation,
            bias,
            weights: LayerWeights::Sparse {
                row_len,
                cols,
                values,
            },
        }
    }

    /// The weights as a row-major `width × in_width` matrix, pruned entries 0.
    pub fn dense_matrix(&self, in_width: usize) -> Vec<f32> {
        match &self.weights {
            LayerWeights::Dense(packed) => {
                let width = self.bias.len();
                (0..width * in_width)
                    .map(|k| packed[rt::dense_index(k / in_width, k % in_width, width, in_width)])
                    .collect()
            }
            LayerWeights::Sparse {
                row_len,
                cols,
                values,
            } => {
                let mut w = vec![0.0; self.bias.len() * in_width];
                let mut k = 0;
                for (o, &len) in row_len.iter().enumerate() {
                    for _ in 0..len {
                        w[o * in_width + usize::from(cols[k])] = values[k];
                        k += 1;
                    }
                }
                w
            }
        }
    }
}

impl Network {
    /// Views of the arrays, as the runtime's encoder takes them.
    ///
    /// # Errors
    /// [`Error::Runtime`] with [`rt::Error::Capacity`] when there are more layers or metrics
    /// than the runtime holds.
    pub fn parts<'a>(&'a self, compiler: &'a str) -> Result<Parts<'a>> {
        if self.layers.len() > rt::MAX_LAYERS {
            return Err(Error::Runtime(rt::Error::Capacity));
        }
        let layers = self.layers.iter().map(|l| rt::Layer {
            activation: l.activation,
            bias: &l.bias,
            weights: match &l.weights {
                LayerWeights::Dense(w) => Weights::Dense(w),
                LayerWeights::Sparse {
                    row_len,
                    cols,
                    values,
                } => Weights::Sparse {
                    row_len,
                    cols,
                    values,
                },
            },
        });
        let mut meta = Meta {
            name: Text::new(&self.name),
            compiler: Text::new(compiler),
            metrics: rt::heapless::Vec::new(),
        };
        for (name, value) in &self.metrics {
            let m = Metric {
                name: Text::new(name),
                value: *value,
            };
            meta.metrics
                .push(m)
                .map_err(|_| Error::Runtime(rt::Error::Capacity))?;
        }
        Ok(Parts {
            task: self.task,
            features: self.features,
            inputs: &self.inputs,
            input_mean: &self.input_mean,
            input_scale: &self.input_scale,
            layers: layers.collect::<rt::heapless::Vec<_, { rt::MAX_LAYERS }>>(),
            output_mean: &self.output_mean,
            output_scale: &self.output_scale,
            pips: &self.pips,
            meta,
        })
    }

    /// Encodes the network and checks it by loading it back with the runtime.
    ///
    /// # Errors
    /// [`Error::Runtime`] with the runtime's reason when the network cannot be a valid blob.
    pub fn to_blob(&self) -> Result<BlobBytes> {
        let parts = self.parts(crate::VERSION)?;
        let len = parts.encoded_len()?;
        let mut words = vec![0u32; len.div_ceil(4)];
        let n = parts.encode(bytemuck::cast_slice_mut(&mut words))?;
        Ok(BlobBytes { words, len: n })
    }
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
    pub fn model(&self) -> Result<rt::Model<'_>> {
        Ok(rt::Model::from_bytes(self.as_bytes())?)
    }
}

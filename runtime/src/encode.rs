//! Writing a blob: the inverse of [`Model::from_bytes`], into a caller's buffer (no allocation).

use postcard::ser_flavors::Size;

use crate::arena::Writer;
use crate::format::{ARENA_ALIGN, NumberFormat, Task, VarianceFormat};
use crate::model::{
    CRC, CodeVariances, InputMap, Int8, Int8Weights, Layer, Model, Params, Parts, Rescale, TABLE4,
    Weights, requantised,
};
use crate::{Error, Result};

impl Parts<'_> {
    /// Bytes of the arena that holds these parts.
    fn arena_len(&self) -> Result<usize> {
        let mut w = Writer::counter();
        self.write_arena(&mut w)?;
        Ok(w.len())
    }

    /// Checks that the array lengths agree with each other, so that the blob's layout is
    /// what these parts mean. Values and indices are checked when the blob is read back.
    fn check_lengths(&self) -> Result<()> {
        let n = self.inputs.len();
        let first = self.layers.first().map(Layer::format);
        let posterior = self.has_posterior();
        let input_fits = match self.input {
            InputMap::F32 { mean, scale } => {
                first != Some(NumberFormat::Int8) && mean.len() == n && scale.len() == n
            }
            InputMap::Int8 {
                offset,
                mult,
                shift,
                exp,
                mean,
                scale,
            } => {
                let real = if posterior { n } else { 0 };
                first == Some(NumberFormat::Int8)
                    && offset.len() == n
                    && mult.len() == n
                    && shift.len() == n
                    && exp.len() == n
                    && mean.len() == real
                    && scale.len() == real
            }
        };
        if !input_fits {
            return Err(Error::Inputs);
        }
        let mut in_width = n;
        let mut hidden = 0;
        let formats = self.layers.iter().map(Layer::format);
        let next = formats.skip(1).map(Some).chain([None]);
        for ((i, l), next) in self.layers.iter().enumerate().zip(next) {
            let layer = u8::try_from(i).unwrap_or(u8::MAX);
            if !l.fits(in_width, next, self.task) {
                return Err(Error::Shape { layer });
            }
            hidden += in_width;
            in_width = l.width();
        }
        let outputs = if self.task == Task::Regression {
            in_width
        } else {
            0
        };
        if self.output_mean.len() != outputs
            || self.output_scale.len() != outputs
            || self.noise_sd.len() != outputs
        {
            return Err(Error::Task);
        }
        if !self.pips.is_empty() && self.pips.len() != hidden {
            return Err(Error::Length);
        }
        Ok(())
    }

    /// Bytes of the blob that [`Parts::encode`] writes.
    ///
    /// # Errors
    /// [`Error::Capacity`] when the header cannot hold the parts.
    pub fn encoded_len(&self) -> Result<usize> {
        Ok(self.layout()?.2)
    }

    /// Header bytes, arena offset and total length.
    fn layout(&self) -> Result<(usize, usize, usize)> {
        let header = self.header()?;
        let head = postcard::serialize_with_flavor(&header, Size::default())?;
        let arena = self.arena_len()?;
        let arena_prefix = varint_len(arena);
        let before_pad = head + 1;
        let pad = (ARENA_ALIGN - (before_pad + arena_prefix) % ARENA_ALIGN) % ARENA_ALIGN;
        let offset = before_pad + pad + arena_prefix;
        Ok((head, offset, offset + arena + 4))
    }

    /// Writes the blob into `buf` and reads it back with [`Model::from_bytes`].
    ///
    /// `buf` must be 4-byte aligned; the blob occupies its first `n` bytes, `n` returned.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] with the size needed, [`Error::Align`] for a misaligned
    /// buffer, or whatever [`Model::from_bytes`] finds wrong with the parts (lengths that do
    /// not chain, non-finite numbers, indices out of range, capacities exceeded).
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize> {
        self.check_lengths()?;
        let (head, offset, total) = self.layout()?;
        if buf.len() < total {
            return Err(Error::BufferTooSmall {
                needed: u32::try_from(total).unwrap_or(u32::MAX),
            });
        }
        let (body, _) = buf.split_at_mut(total - 4);
        let (front, arena) = body.split_at_mut(offset);
        postcard::to_slice(&self.header()?, front)?;
        let pad = offset - head - 1 - varint_len(arena.len());
        let (pad_len, rest) = front.split_at_mut(head).1.split_at_mut(1);
        pad_len.fill(u8::try_from(pad).map_err(|_| Error::Length)?);
        let (zeros, arena_len) = rest.split_at_mut(pad);
        zeros.fill(0);
        postcard::to_slice(&(arena.len() as u64), arena_len)?;
        self.write_arena(&mut Writer::new(arena))?;
        let crc = CRC.checksum(buf.get(..total - 4).unwrap_or_default());
        if let Some(tail) = buf.get_mut(total - 4..total) {
            tail.copy_from_slice(&crc.to_le_bytes());
        }
        Model::from_bytes(buf.get(..total).unwrap_or_default())?;
        Ok(total)
    }

    fn write_arena(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16s(self.inputs)?;
        match self.input {
            InputMap::F32 { mean, scale } => {
                w.f32s(mean)?;
                w.f32s(scale)?;
            }
            InputMap::Int8 {
                offset,
                mult,
                shift,
                exp,
                mean,
                scale,
            } => {
                w.i32s(offset)?;
                w.u16s(mult)?;
                w.u8s(shift)?;
                w.i8s(exp)?;
                w.f32s(mean)?;
                w.f32s(scale)?;
            }
        }
        for layer in &self.layers {
            match layer.params {
                Params::F32 {
                    bias,
                    weights,
                    variance,
                } => {
                    w.f32s(bias)?;
                    match weights {
                        Weights::Dense(v) => w.f32s(v)?,
                        Weights::Sparse {
                            row_len,
                            cols,
                            values,
                        } => {
                            w.u16s(row_len)?;
                            w.u8s(cols)?;
                            w.f32s(values)?;
                        }
                    }
                    if let Some(v) = variance {
                        w.f32s(v.bias)?;
                        match v.weights {
                            CodeVariances::F32(v) => w.f32s(v)?,
                            CodeVariances::Table4 { table, words } => {
                                w.f32s(table)?;
                                w.f32s(words)?;
                            }
                        }
                    }
                }
                Params::Int8(Int8 {
                    bias,
                    weights,
                    rescale,
                    posterior,
                }) => {
                    w.i32s(bias)?;
                    match weights {
                        Int8Weights::Dense(v) => w.u8s(v)?,
                        Int8Weights::Sparse {
                            row_len,
                            cols,
                            values,
                        } => {
                            w.u16s(row_len)?;
                            w.u8s(cols)?;
                            w.i8s(values)?;
                        }
                    }
                    match rescale {
                        Rescale::Requantise { mult, shift } => {
                            w.u16s(mult)?;
                            w.u8s(shift)?;
                        }
                        Rescale::Dequantise(scale) => w.f32s(scale)?,
                    }
                    if let Some(p) = posterior {
                        w.f32s(p.values())?;
                    }
                }
            }
        }
        w.f32s(self.output_mean)?;
        w.f32s(self.output_scale)?;
        w.f32s(self.noise_sd)?;
        w.f32s(self.pips)
    }
}

impl Layer<'_> {
    /// Whether the arrays have the lengths of a layer of its width on `in_width` inputs,
    /// followed by a layer of format `next` (`None` for the output layer): an integer layer
    /// requantises for an integer layer and dequantises for anything else.
    fn fits(&self, in_width: usize, next: Option<NumberFormat>, task: Task) -> bool {
        let requantised = requantised(next, task);
        let width = self.width();
        let dense = |len: usize| len == width * in_width;
        let sparse = |rows: usize, cols: usize, values: usize| rows == width && cols == values;
        if let Params::F32 {
            weights,
            variance: Some(v),
            ..
        } = self.params
            && (v.bias.len() != width || !v.weights.holds(weights.len()))
        {
            return false;
        }
        match self.params {
            Params::F32 {
                weights: Weights::Dense(w),
                ..
            } => dense(w.len()),
            Params::F32 {
                weights:
                    Weights::Sparse {
                        row_len,
                        cols,
                        values,
                    },
                ..
            } => sparse(row_len.len(), cols.len(), values.len()),
            Params::Int8(q) => {
                let shape = match q.weights {
                    Int8Weights::Dense(w) => dense(w.len()),
                    Int8Weights::Sparse {
                        row_len,
                        cols,
                        values,
                    } => sparse(row_len.len(), cols.len(), values.len()),
                };
                let rescale = match q.rescale {
                    Rescale::Requantise { mult, shift } => {
                        requantised && mult.len() == width && shift.len() == width
                    }
                    Rescale::Dequantise(scale) => !requantised && scale.len() == width,
                };
                let posterior = q.posterior.is_none_or(|p| {
                    let f32s = 3 * width + in_width;
                    let weights = match p.format() {
                        VarianceFormat::Table4 => TABLE4 + self.weight_count().div_ceil(8),
                        _ => self.weight_count(),
                    };
                    p.unit().len() == in_width && p.values().len() == f32s + weights
                });
                shape && rescale && posterior
            }
        }
    }
}

/// Bytes of postcard's varint encoding of `n`.
fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    bits.div_ceil(7).max(1) as usize
}

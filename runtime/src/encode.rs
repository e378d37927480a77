//! Writing a blob: the inverse of [`Model::from_bytes`], into a caller's buffer (no allocation).

use postcard::ser_flavors::Size;

use crate::arena::{Writer, padded};
use crate::format::{ARENA_ALIGN, Task};
use crate::model::{CRC, Layer, Model, Parts, Weights};
use crate::{Error, Result};

impl Parts<'_> {
    /// Bytes of the arena that holds these parts.
    fn arena_len(&self) -> usize {
        let n = self.inputs.len();
        let mut len = padded(2 * n) + 8 * n;
        for l in &self.layers {
            len += 4 * l.bias.len()
                + match l.weights {
                    Weights::Dense(w) => 4 * w.len(),
                    Weights::Sparse {
                        row_len,
                        cols,
                        values,
                    } => padded(2 * row_len.len()) + padded(cols.len()) + 4 * values.len(),
                };
        }
        len + 4
            * (self.output_mean.len()
                + self.output_scale.len()
                + self.noise_sd.len()
                + self.pips.len())
    }

    /// Checks that the array lengths agree with each other, so that the blob's layout is
    /// what these parts mean. Values and indices are checked when the blob is read back.
    fn check_lengths(&self) -> Result<()> {
        let n = self.inputs.len();
        if self.input_mean.len() != n || self.input_scale.len() != n {
            return Err(Error::Inputs);
        }
        let mut in_width = n;
        let mut hidden = 0;
        for (i, l) in self.layers.iter().enumerate() {
            let width = l.bias.len();
            if !l.weights.fits(width, in_width) {
                return Err(Error::Shape {
                    layer: u8::try_from(i).unwrap_or(u8::MAX),
                });
            }
            hidden += in_width;
            in_width = width;
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
        let arena = self.arena_len();
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
        w.f32s(self.input_mean)?;
        w.f32s(self.input_scale)?;
        for Layer { bias, weights, .. } in &self.layers {
            w.f32s(bias)?;
            match *weights {
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
        }
        w.f32s(self.output_mean)?;
        w.f32s(self.output_scale)?;
        w.f32s(self.noise_sd)?;
        w.f32s(self.pips)
    }
}

impl Weights<'_> {
    /// Whether the arrays have the lengths of a `width × in_width` layer.
    fn fits(&self, width: usize, in_width: usize) -> bool {
        match *self {
            Self::Dense(w) => w.len() == width * in_width,
            Self::Sparse {
                row_len,
                cols,
                values,
            } => row_len.len() == width && cols.len() == values.len(),
        }
    }
}

/// Bytes of postcard's varint encoding of `n`.
fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    bits.div_ceil(7).max(1) as usize
}

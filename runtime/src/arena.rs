//! The arena: little-endian arrays, each starting on a 4-byte boundary, zero-padded.
//!
//! [`Reader`] hands out typed views in place (no copy); [`Writer`] lays arrays out the same way.

use crate::format::ARENA_ALIGN;
use crate::{Error, Result};

#[cfg(target_endian = "big")]
compile_error!(
    "spikeslab-runtime reads little-endian arrays in place: big-endian targets are not supported"
);

/// Bytes an array of `bytes` bytes occupies in the arena, padding included.
pub const fn padded(bytes: usize) -> usize {
    bytes.div_ceil(ARENA_ALIGN) * ARENA_ALIGN
}

/// Hands out consecutive views of an aligned arena.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Result<Self> {
        if data.as_ptr().align_offset(ARENA_ALIGN) != 0 {
            return Err(Error::Align);
        }
        Ok(Self { rest: data })
    }

    fn take(&mut self, bytes: usize) -> Result<&'a [u8]> {
        let used = bytes
            .checked_next_multiple_of(ARENA_ALIGN)
            .ok_or(Error::Length)?;
        let (head, rest) = self.rest.split_at_checked(used).ok_or(Error::Length)?;
        self.rest = rest;
        let (array, pad) = head.split_at_checked(bytes).ok_or(Error::Length)?;
        if pad.iter().any(|&b| b != 0) {
            return Err(Error::Length);
        }
        Ok(array)
    }

    pub fn f32s(&mut self, n: usize) -> Result<&'a [f32]> {
        let bytes = self.take(n.checked_mul(4).ok_or(Error::Length)?)?;
        bytemuck::try_cast_slice(bytes).map_err(|_| Error::Align)
    }

    pub fn u16s(&mut self, n: usize) -> Result<&'a [u16]> {
        let bytes = self.take(n.checked_mul(2).ok_or(Error::Length)?)?;
        bytemuck::try_cast_slice(bytes).map_err(|_| Error::Align)
    }

    pub fn i32s(&mut self, n: usize) -> Result<&'a [i32]> {
        let bytes = self.take(n.checked_mul(4).ok_or(Error::Length)?)?;
        bytemuck::try_cast_slice(bytes).map_err(|_| Error::Align)
    }

    pub fn u8s(&mut self, n: usize) -> Result<&'a [u8]> {
        self.take(n)
    }

    pub fn i8s(&mut self, n: usize) -> Result<&'a [i8]> {
        bytemuck::try_cast_slice(self.take(n)?).map_err(|_| Error::Align)
    }

    /// Fails unless every byte was handed out.
    pub fn finish(self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::Length)
        }
    }
}

/// Appends arrays to an arena buffer in the [`Reader`]'s layout, or only counts their bytes.
pub struct Writer<'b> {
    buf: Option<&'b mut [u8]>,
    len: usize,
}

impl<'b> Writer<'b> {
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self {
            buf: Some(buf),
            len: 0,
        }
    }

    /// A writer that writes nothing and counts the bytes ([`Writer::len`]).
    pub fn counter() -> Self {
        Self { buf: None, len: 0 }
    }

    /// Bytes laid out so far, padding included.
    pub fn len(&self) -> usize {
        self.len
    }

    fn put(&mut self, bytes: impl Iterator<Item = u8>, n: usize) -> Result<()> {
        let end = self.len + padded(n);
        if let Some(buf) = self.buf.as_deref_mut() {
            let dst = buf.get_mut(self.len..end).ok_or(Error::BufferTooSmall {
                needed: u32::try_from(end).unwrap_or(u32::MAX),
            })?;
            dst.fill(0);
            for (d, s) in dst.iter_mut().zip(bytes) {
                *d = s;
            }
        }
        self.len = end;
        Ok(())
    }

    pub fn f32s(&mut self, v: &[f32]) -> Result<()> {
        self.put(v.iter().flat_map(|x| x.to_le_bytes()), v.len() * 4)
    }

    pub fn u16s(&mut self, v: &[u16]) -> Result<()> {
        self.put(v.iter().flat_map(|x| x.to_le_bytes()), v.len() * 2)
    }

    pub fn i32s(&mut self, v: &[i32]) -> Result<()> {
        self.put(v.iter().flat_map(|x| x.to_le_bytes()), v.len() * 4)
    }

    pub fn u8s(&mut self, v: &[u8]) -> Result<()> {
        self.put(v.iter().copied(), v.len())
    }

    pub fn i8s(&mut self, v: &[i8]) -> Result<()> {
        self.put(v.iter().map(|&x| x.to_le_bytes()[0]), v.len())
    }
}

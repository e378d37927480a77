#![doc = include_str!("../README.md")]
#![no_std]
// `unsafe` only in `asm`'s two loops, and only with the `asm` feature.
#![cfg_attr(not(feature = "asm"), forbid(unsafe_code))]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(test)]
extern crate std;

mod arena;
#[cfg(all(feature = "asm", target_arch = "arm"))]
mod asm;
mod check;
mod dist;
mod encode;
mod error;
mod eval;
mod format;
mod int8;
pub mod math;
mod model;

pub use check::{INT8_SHIFTS, MAX_INPUT_OFFSET, MAX_INT8_BIAS};
pub use dist::{DistScratch, Prediction};
pub use error::{Error, Result};
pub use eval::Scratch;
pub use format::{
    ARENA_ALIGN, Activation, Blob, FORMAT_VERSION, Header, LayerSpec, MAGIC, MAX_LAYERS,
    MAX_METRICS, MAX_NAME, MAX_WIDTH, Meta, Metric, NameIter, Names, NumberFormat, Storage, Task,
    Text, VarianceFormat,
};
pub use heapless;
pub use int8::{input_coder, requantiser};
pub use math::argmax;
pub use model::{
    CodeVariances, EPISTEMIC_LIMIT, InputMap, Int8, Int8Posterior, Int8Weights, Layer, Model,
    Params, Parts, Rescale, TABLE4, Variances, Weights, dense_index, table4_word,
};

/// The CRC-32/ISO-HDLC of `bytes`, as a blob's last four bytes hold it (little-endian) for
/// the bytes before them: for tools that write or edit blobs.
pub fn crc32(bytes: &[u8]) -> u32 {
    model::CRC.checksum(bytes)
}

/// Bytes of RAM that evaluation uses besides the caller's slices: the two activation buffers
/// on the stack (the frames of `predict` add a few hundred bytes more).
pub const EVAL_BUFFER_BYTES: usize = 2 * MAX_WIDTH * size_of::<f32>();

/// Bytes of RAM that [`Model::predict_dist`] uses besides the caller's slices: means and
/// variances, two buffers each, on the stack ([`DistScratch`]).
pub const DIST_BUFFER_BYTES: usize = 4 * MAX_WIDTH * size_of::<f32>();

const _: () = assert!(
    size_of::<Scratch>() == EVAL_BUFFER_BYTES && size_of::<DistScratch>() == DIST_BUFFER_BYTES
);

/// A value aligned to [`ARENA_ALIGN`] bytes, so that a blob in flash can be read in place.
///
/// ```
/// use spikeslab_runtime::Aligned;
/// static BLOB: &Aligned<[u8]> = &Aligned(*b"SSNN...");
/// assert_eq!(BLOB.0.as_ptr() as usize % 4, 0);
/// ```
#[repr(C, align(4))]
#[derive(Debug)]
pub struct Aligned<T: ?Sized>(pub T);

/// Embeds a blob file 4-byte aligned and yields it as `&'static [u8]`.
///
/// The path is relative to the file that calls the macro, as with `include_bytes!`.
#[macro_export]
macro_rules! include_model {
    ($path:expr) => {{
        static BLOB: &$crate::Aligned<[u8]> = &$crate::Aligned(*include_bytes!($path));
        &BLOB.0
    }};
}

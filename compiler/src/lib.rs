//! spikeslab compiler: trains spike-and-slab Bayesian neural networks with candle, prunes
//! them by node posterior inclusion probabilities and writes spikeslab-runtime blobs.

pub mod blob;
mod error;

pub use error::{Error, Result};

/// Version of this compiler, recorded in every blob it writes.
pub const VERSION: &str = concat!("spikeslab ", env!("CARGO_PKG_VERSION"));

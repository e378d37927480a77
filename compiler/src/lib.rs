//! spikeslab compiler: trains spike-and-slab Bayesian neural networks with candle, prunes
//! them by node posterior inclusion probabilities and writes spikeslab-runtime blobs.
//!
//! The method is specified in the repository's method notes: a fully connected network with
//! an edge-level spike-and-slab prior, mean-field variational inference with a binary-concrete
//! relaxation and the straight-through estimator, node PIPs in log space, pruning with a
//! cascade to a fixed point, and MAP fine-tuning.
//!
//! [`compile::compile`] is a pipeline of stage values: [`dataset::prepare`] gives a
//! [`dataset::Dataset`]; [`plan::candidates`] the [`plan::Settings`] of each λ; per candidate
//! [`train::fit`] gives a [`train::Fit`], [`select::select`] a [`select::Selection`] and
//! [`tune::finetune`] a [`network::Network`], scored by [`evaluate::evaluate`]; one is
//! chosen, encoded once ([`blob::encode`], the runtime owns the format), verified against
//! the runtime, and described by a [`report::Report`] assembled last.

pub mod baseline;
pub mod blob;
pub mod bnn;
pub mod compile;
pub mod data;
pub mod dataset;
mod error;
pub mod evaluate;
pub mod fastmath;
pub mod files;
pub mod fused;
pub mod metrics;
pub mod network;
pub mod pip;
pub mod plan;
pub mod posterior;
pub mod quantise;
pub mod report;
pub mod rounding;
pub mod select;
pub mod simulate;
pub mod spec;
pub mod text;
pub mod train;
pub mod tune;

pub use error::{Error, Result};

/// Version of this compiler, recorded in every blob it writes.
pub const VERSION: &str = concat!("spikeslab ", env!("CARGO_PKG_VERSION"));

/// Writes `bytes` to `path` through a temporary file in the same folder, so that `path` is
/// either absent, the old file, or the whole new one.
///
/// # Errors
/// [`Error::Io`] with the path.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, e)
        })
}

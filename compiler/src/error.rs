//! The compiler's error type.

/// What went wrong while compiling, inspecting or evaluating a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The runtime rejected a model or blob.
    #[error("model rejected by the runtime: {0}")]
    Runtime(#[from] spikeslab_runtime::Error),
}

/// Result with the compiler's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

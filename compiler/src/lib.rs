//! spikeslab compiler.

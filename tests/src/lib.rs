//! Shared helpers for the host simulation tests.

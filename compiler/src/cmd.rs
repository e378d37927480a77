//! The `spikeslab` subcommands, one file each.

pub mod compile;
pub mod eval;
pub mod inspect;
pub mod simulate;

//! The `spikeslab` subcommands, one file each.

pub mod compile;
pub mod eval;
pub mod inspect;
pub mod simulate;

use std::io::Write;

use spikeslab_compiler::{Error, Result};

/// Writes `text` to standard output. A closed pipe (`| head`) is [`Error::Stdout`] with
/// [`std::io::ErrorKind::BrokenPipe`], which `main` ends on quietly; a full disk is an error.
///
/// # Errors
/// [`Error::Stdout`].
pub fn say(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::Stdout)
}

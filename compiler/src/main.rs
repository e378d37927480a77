//! The `spikeslab` command line.
fn main() {}

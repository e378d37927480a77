//! Writes the golden files of a committed model: `models/<name>.inputs` (the first rows of
//! its spec's test split, raw little-endian f32) and `models/<name>.expected` (the runtime's
//! outputs on them, as the boards print them).
//!
//! `cargo run -p spikeslab-tests --bin golden -- models/demo.toml`

use std::path::PathBuf;

use anyhow::Context;
use spikeslab_compiler::blob::BlobBytes;
use spikeslab_compiler::dataset::prepare;
use spikeslab_compiler::spec::Spec;
use spikeslab_tests::{expected_lines, write_atomic};

/// Rows of the test split embedded in the boards.
const ROWS: usize = 8;

fn main() -> anyhow::Result<()> {
    let spec_path = PathBuf::from(
        std::env::args()
            .nth(1)
            .context("usage: golden models/<name>.toml")?,
    );
    let spec = Spec::load(&spec_path)?;
    let data = prepare(&spec.data, spec.train.seed)?;
    let test = data.raw.test.as_ref().unwrap_or(&data.raw.valid);
    let rows: Vec<Vec<f32>> = (0..ROWS.min(test.rows()))
        .map(|i| test.row(i).to_vec())
        .collect();
    let blob_path = spec_path.with_file_name(format!("{}.postcard", spec.name));
    let blob = BlobBytes::new(
        &std::fs::read(&blob_path).with_context(|| blob_path.display().to_string())?,
    );
    let lines = expected_lines(&blob.model()?, &rows)?;
    let bytes: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    write_atomic(&blob_path.with_extension("inputs"), &bytes)?;
    write_atomic(
        &blob_path.with_extension("expected"),
        lines.join("\n").as_bytes(),
    )?;
    println!(
        "{}: {} rows, {} output lines",
        blob_path.display(),
        rows.len(),
        lines.len()
    );
    Ok(())
}

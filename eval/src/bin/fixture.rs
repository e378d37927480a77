//! Writes a random network of a given architecture as a blob (`<out>.postcard`) and random
//! raw feature rows as little-endian f32 (`<out>.inputs`): fixtures for firmware size and
//! speed measurements that do not depend on training.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use rand::SeedableRng;
use rand_pcg::Pcg64;
use spikeslab_runtime::{Activation, Task};
use spikeslab_tests::{Arch, ToBlob, random_inputs, random_network, write_atomic};

#[derive(Parser)]
struct Args {
    /// Layer widths from the inputs to the outputs, e.g. `64-128-64-10`.
    #[arg(long)]
    arch: String,
    /// Fraction of kept edges (1 = dense).
    #[arg(long, default_value_t = 1.0)]
    density: f64,
    /// Classification (softmax over the last layer) instead of regression.
    #[arg(long)]
    classify: bool,
    /// Hidden activation: relu, tanh, sigmoid or identity.
    #[arg(long, default_value = "relu")]
    activation: String,
    /// Quantise to 8-bit integers, calibrated on 256 random rows.
    #[arg(long)]
    int8: bool,
    /// Store posterior variances for `predict_dist`: each kept weight's sd `0.3·(u·|w| + 0.1)`
    /// with `u` uniform in [0, 1), each bias's 0.075.
    #[arg(long)]
    posterior: bool,
    /// With `--posterior`, store the f32 layers' weight variances as 4-bit codes where that
    /// is smaller (`network.variances = "table4"`).
    #[arg(long, requires = "posterior")]
    table4: bool,
    /// Seed of the weights and inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of input rows.
    #[arg(long, default_value_t = 4)]
    rows: usize,
    /// Output path without extension.
    #[arg(short, long)]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let widths: Vec<usize> = a
        .arch
        .split('-')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("--arch")?;
    let [inputs, layers @ ..] = widths.as_slice() else {
        bail!("--arch needs at least two widths")
    };
    if layers.is_empty() {
        bail!("--arch needs at least two widths");
    }
    let activation = match a.activation.as_str() {
        "relu" => Activation::Relu,
        "tanh" => Activation::Tanh,
        "sigmoid" => Activation::Sigmoid,
        "identity" => Activation::Identity,
        other => bail!("unknown activation {other}"),
    };
    let task = if a.classify {
        Task::Classification
    } else {
        Task::Regression
    };
    let arch = Arch {
        task,
        features: *inputs,
        inputs: *inputs,
        widths: layers.to_vec(),
        density: a.density,
        activation,
    };
    let mut net = random_network(&arch, a.seed);
    if a.posterior {
        net = spikeslab_tests::with_variances(&net, 0.3, a.seed);
    }
    if a.table4 {
        net = spikeslab_compiler::posterior::coded(&net);
    }
    let blob = if a.int8 {
        spikeslab_tests::int8(&net, a.seed).to_blob()?
    } else {
        net.to_blob()?
    };
    let mut rng = Pcg64::seed_from_u64(a.seed ^ 0x5eed);
    let rows: Vec<u8> = random_inputs(*inputs, a.rows, &mut rng)
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    write_atomic(&a.out.with_extension("postcard"), blob.as_bytes())?;
    write_atomic(&a.out.with_extension("inputs"), &rows)?;
    println!(
        "{}: {} bytes, {} weights",
        a.out.display(),
        blob.as_bytes().len(),
        blob.model()?.weight_count()
    );
    Ok(())
}

//! The `spikeslab` command line.

use clap::{Parser, Subcommand};
use spikeslab_compiler::cmd;

/// Train, prune and emit spike-and-slab neural networks for microcontrollers.
#[derive(Parser)]
#[command(name = "spikeslab", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Simulate(cmd::simulate::Cmd),
    Compile(cmd::compile::Cmd),
    Inspect(cmd::inspect::Cmd),
    Eval(cmd::eval::Cmd),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Simulate(c) => c.run()?,
        Command::Compile(c) => c.run()?,
        Command::Inspect(c) => c.run()?,
        Command::Eval(c) => c.run()?,
    }
    Ok(())
}

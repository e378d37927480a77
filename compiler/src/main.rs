//! The `spikeslab` command line.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
mod cmd;

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
    Compile(Box<cmd::compile::Cmd>),
    Inspect(cmd::inspect::Cmd),
    Eval(cmd::eval::Cmd),
}

fn main() -> ExitCode {
    let result: anyhow::Result<()> = match Cli::parse().command {
        Command::Simulate(c) => c.run().map_err(Into::into),
        Command::Compile(c) => c.run().map_err(Into::into),
        Command::Inspect(c) => c.run().map_err(Into::into),
        Command::Eval(c) => c.run().map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<spikeslab_compiler::Error>() {
            // The reader went away (`| head`): what it wanted was written.
            Some(spikeslab_compiler::Error::Stdout(io))
                if io.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                ExitCode::SUCCESS
            }
            _ => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "error: {}", message(&e));
                ExitCode::FAILURE
            }
        },
    }
}

/// The error and its causes, each cause once: a cause whose text the message already holds (our
/// errors print their source) is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

//! Runs the method's evaluation and writes tables, plots and JSON to `eval/results/`.
//!
//! `cargo run --release -p spikeslab-eval --bin experiments -- e1 e2 e3 e4 e5 e6 e7 [--quick]`
//!
//! `e6-uncertainty` and `e7-uncertainty` run E6 and E7 with `uncertainty = true` and score
//! the predictive distribution; `precision` measures the bits an integer model of each UCI
//! set needs.

use std::path::PathBuf;

use clap::Parser;
use spikeslab_eval::experiments::sim::{self, Scale};
use spikeslab_eval::experiments::{Output, classify, precision, uci, uncertainty};
use spikeslab_tests::board::root;

#[derive(Parser)]
struct Args {
    /// Experiments to run: e1 .. e7, e6-uncertainty, e7-uncertainty, precision.
    #[arg(required = true)]
    experiments: Vec<String>,
    /// A small subset: 2 replications, fewer configurations, one split of one UCI set.
    #[arg(long)]
    quick: bool,
    /// Replications of the simulated designs (default 10; quick 2).
    #[arg(long)]
    reps: Option<u64>,
    /// UCI splits per data set (default: all).
    #[arg(long)]
    splits: Option<usize>,
    /// E6, e6-uncertainty and precision: only these data sets (folder names, e.g. `naval-propulsion-plant`; default: all).
    #[arg(long)]
    only: Vec<String>,
    /// E6: this training seed instead of `compile`'s default (writes `e6-seed<N>`).
    #[arg(long)]
    seed: Option<u64>,
    /// E3, E4: choose λ per replication on the validation rows by the one-standard-error rule
    /// (writes `e3-chosen`, `e4-chosen`).
    #[arg(long)]
    choose_inclusion: bool,
    /// Output folder.
    #[arg(long, default_value = "eval/results")]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let command = format!(
        "cargo run --release -p spikeslab-eval --bin experiments -- {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    let out = Output {
        dir: if a.out.is_absolute() {
            a.out.clone()
        } else {
            root().join(&a.out)
        },
        command,
    };
    let scale = if a.quick {
        Scale {
            reps: a.reps.unwrap_or(2),
            epochs: 400,
            finetune: 100,
            e5_epochs: 600,
            quick: true,
            choose_inclusion: a.choose_inclusion,
        }
    } else {
        Scale {
            reps: a.reps.unwrap_or(10),
            epochs: 400,
            finetune: 100,
            e5_epochs: 2000,
            quick: false,
            choose_inclusion: a.choose_inclusion,
        }
    };
    for e in &a.experiments {
        let t0 = std::time::Instant::now();
        match e.as_str() {
            "e1" => drop(sim::e1(scale, &out)?),
            "e2" => drop(sim::e2(scale, &out)?),
            "e3" => drop(sim::e3(scale, &out)?),
            "e4" => drop(sim::e4(scale, &out)?),
            "e5" => drop(sim::e5(scale, &out)?),
            "e6" => {
                let data = root().join("../shared/datasets/uci");
                let named: Vec<&str> = a.only.iter().map(String::as_str).collect();
                let only: Option<&[&str]> = if a.quick {
                    Some(&["concrete"][..])
                } else {
                    (!named.is_empty()).then_some(&named[..])
                };
                let splits = if a.quick { Some(1) } else { a.splits };
                let mut name = if a.quick { "e6-quick" } else { "e6" }.to_string();
                if let Some(s) = a.seed {
                    name.push_str(&format!("-seed{s}"));
                }
                for o in &named {
                    name.push('-');
                    name.push_str(o);
                }
                drop(uci::e6(&data, splits, only, a.seed, &out, &name)?);
            }
            "e6-uncertainty" => {
                let data = root().join("../shared/datasets/uci");
                let named: Vec<&str> = a.only.iter().map(String::as_str).collect();
                let only: Option<&[&str]> = if a.quick {
                    Some(&["bostonHousing"][..])
                } else {
                    (!named.is_empty()).then_some(&named[..])
                };
                let splits = if a.quick { Some(2) } else { a.splits };
                let mut name = if a.quick {
                    "e6-uncertainty-quick"
                } else {
                    "e6-uncertainty"
                }
                .to_string();
                for o in &named {
                    name.push('-');
                    name.push_str(o);
                }
                drop(uncertainty::e6_uncertainty(
                    &data, splits, only, &out, &name,
                )?);
            }
            "precision" => {
                let data = root().join("../shared/datasets/uci");
                let named: Vec<&str> = a.only.iter().map(String::as_str).collect();
                let only: Option<&[&str]> = if a.quick {
                    Some(&["energy"][..])
                } else {
                    (!named.is_empty()).then_some(&named[..])
                };
                let splits = if a.quick { Some(1) } else { a.splits };
                let mut name = if a.quick {
                    "precision-quick"
                } else {
                    "precision"
                }
                .to_string();
                for o in &named {
                    name.push('-');
                    name.push_str(o);
                }
                drop(precision::precision(&data, splits, only, &out, &name)?);
            }
            "e7-uncertainty" => drop(classify::e7_uncertainty(
                &root().join("../shared/datasets/sklearn"),
                if a.quick { 1 } else { 5 },
                &out,
                if a.quick {
                    "e7-uncertainty-quick"
                } else {
                    "e7-uncertainty"
                },
            )?),
            "e7" => drop(classify::e7(
                &root().join("../shared/datasets/sklearn"),
                if a.quick { 1 } else { 5 },
                &out,
            )?),
            other => anyhow::bail!(
                "unknown experiment {other}: e1 .. e7, e6-uncertainty, e7-uncertainty, precision"
            ),
        }
        println!(
            "{e}: {:.0} s, written to {}",
            t0.elapsed().as_secs_f64(),
            out.dir.display()
        );
    }
    Ok(())
}

//! `spikeslab simulate`: writes the rows of a simulated design as CSV.

use std::path::PathBuf;

use clap::Args;

use spikeslab_compiler::files::{Outputs, check_outputs};
use spikeslab_compiler::simulate::{Design, DesignKind, csv_text};
use spikeslab_compiler::{Error, Result};

use crate::cmd::say;

/// Generate a synthetic data set (designs e1..e5 of the method's evaluation) as CSV with a
/// header `x1,...,xD,y`.
#[derive(Args, Debug)]
pub struct Cmd {
    /// Design: e1 (two features, weights 1-psi2 and psi2), e2 (5 of 20 with random weights),
    /// e3/e4 (the first 20% of D features through f), e5 (Bai's 200-feature design).
    pub design: String,
    /// Number of features D (default: 10, 20, 50, 100, 200 for e1..e5).
    #[arg(long)]
    pub features: Option<usize>,
    /// Rows to write (default: 2000; e5: 3000).
    #[arg(long)]
    pub rows: Option<usize>,
    /// Signal-to-noise variance ratio.
    #[arg(long, default_value_t = 2.0)]
    pub alpha: f64,
    /// e1: weight of x2.
    #[arg(long, default_value_t = 0.5)]
    pub psi2: f64,
    /// e2: use a linear g instead of f.
    #[arg(long)]
    pub linear: bool,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output CSV.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Also write this many test rows to this file.
    #[arg(long, requires = "test_rows")]
    pub test_out: Option<PathBuf>,
    /// Test rows for `--test-out`.
    #[arg(long)]
    pub test_rows: Option<usize>,
}

impl Cmd {
    /// Runs the subcommand.
    ///
    /// # Errors
    /// An unknown design, too few features, or a file that cannot be written.
    pub fn run(self) -> Result<()> {
        let kind = DesignKind::parse(&self.design).ok_or_else(|| Error::SpecValue {
            path: "command line".into(),
            key: "design".into(),
            value: spikeslab_compiler::text::excerpt(&format!("{:?}", self.design)),
            expected: "one of e1, e2, e3, e4, e5".into(),
        })?;
        let mut d = Design::new(kind);
        d.features = self.features.unwrap_or(d.features);
        d.alpha = self.alpha;
        d.psi2 = self.psi2;
        d.linear = self.linear;
        let rows = self.rows.unwrap_or(kind.default_rows());
        let test_rows = self.test_rows.unwrap_or(0);
        // The flags' names in errors, not the spec keys that the same check uses.
        d.check(rows, test_rows).map_err(|e| match e {
            Error::SpecValue {
                key,
                value,
                expected,
                ..
            } => Error::SpecValue {
                path: "command line".into(),
                key: key.replace("data.", "--").replace('_', "-"),
                value,
                expected,
            },
            other => other,
        })?;
        let mut paths = vec![self.out.as_path()];
        paths.extend(self.test_out.as_deref());
        check_outputs(&[], &paths)?;
        let sim = d.generate(rows, test_rows, self.seed)?;
        let mut outputs = Outputs::new(&[]);
        if let Some(p) = &self.test_out {
            outputs.add(p, csv_text(&sim.test));
        }
        outputs.add(&self.out, csv_text(&sim.train));
        outputs.commit()?;
        let truth: Vec<String> = sim.truth.iter().map(|j| format!("x{}", j + 1)).collect();
        say(&format!(
            "{}: {} rows of {} features; y depends on {}; noise variance {:.3}\n",
            self.out.display(),
            rows,
            d.features,
            truth.join(" "),
            sim.noise_var
        ))
    }
}

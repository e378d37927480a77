//! `spikeslab simulate`: writes the rows of a simulated design as CSV.

use std::path::PathBuf;

use clap::Args;

use spikeslab_compiler::Error;
use spikeslab_compiler::Result;
use spikeslab_compiler::simulate::{Design, DesignKind, write_csv};

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
            value: format!("{:?}", self.design),
            expected: "one of e1, e2, e3, e4, e5".into(),
        })?;
        let mut d = Design::new(kind);
        d.features = self.features.unwrap_or(d.features);
        d.alpha = self.alpha;
        d.psi2 = self.psi2;
        d.linear = self.linear;
        let rows = self.rows.unwrap_or(kind.default_rows());
        let sim = d.generate(rows, self.test_rows.unwrap_or(0), self.seed)?;
        write_csv(&self.out, &sim.train)?;
        if let Some(p) = &self.test_out {
            write_csv(p, &sim.test)?;
        }
        let truth: Vec<String> = sim.truth.iter().map(|j| format!("x{}", j + 1)).collect();
        println!(
            "{}: {} rows of {} features; y depends on {}; noise variance {:.3}",
            self.out.display(),
            rows,
            d.features,
            truth.join(" "),
            sim.noise_var
        );
        Ok(())
    }
}

//! The simulated designs E1–E5 of the method's evaluation, generated from one seed.
//!
//! `f(x) = e^{|x|} − 2x + sin(2πx)`; `x ~ N(0, I_D)` (E5: `U(−1, 1)^D`); Gaussian noise with
//! variance `Var(signal) / α`, where `Var(signal)` is exact (numerical quadrature of `f`
//! against the normal density), so that the noise floor of a design is known.

use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal, Uniform};
use rand_pcg::Pcg64;

use crate::data::Table;
use crate::{Error, Result};

/// One of the method's designs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DesignKind {
    /// y = (1 − ψ2)·f(x1) + ψ2·f(x2) + ε.
    E1,
    /// Five features with random weights, through g (linear or f).
    E2,
    /// The first 20% of D features through f (D = 50 by default).
    E3,
    /// As E3 with D = 100.
    E4,
    /// Bai et al.'s 200-feature design on U(−1, 1).
    E5,
}

impl DesignKind {
    /// `e1` .. `e5`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "e1" => Self::E1,
            "e2" => Self::E2,
            "e3" => Self::E3,
            "e4" => Self::E4,
            "e5" => Self::E5,
            _ => return None,
        })
    }

    /// `e1` .. `e5`.
    pub fn name(self) -> &'static str {
        match self {
            Self::E1 => "e1",
            Self::E2 => "e2",
            Self::E3 => "e3",
            Self::E4 => "e4",
            Self::E5 => "e5",
        }
    }

    /// Default features D: 10, 20, 50, 100, 200.
    pub fn default_features(self) -> usize {
        match self {
            Self::E1 => 10,
            Self::E2 => 20,
            Self::E3 => 50,
            Self::E4 => 100,
            Self::E5 => 200,
        }
    }

    /// The fewest features the design can be drawn with.
    pub fn min_features(self) -> usize {
        match self {
            Self::E1 => 2,
            Self::E2 | Self::E5 => 5,
            Self::E3 | Self::E4 => 1,
        }
    }

    /// Default training rows: 3000 for E5, else 2000.
    pub fn default_rows(self) -> usize {
        if self == Self::E5 { 3000 } else { 2000 }
    }
}

/// Most rows a simulation writes (training and test each).
pub const MAX_ROWS: usize = 10_000_000;
/// Most cells (rows × (features + 1), training and test together) a simulation writes: 400 MB
/// of f32.
pub const MAX_CELLS: usize = 100_000_000;
/// Smallest signal-to-noise variance ratio α.
pub const MIN_ALPHA: f64 = 1e-3;
/// Largest signal-to-noise variance ratio α.
pub const MAX_ALPHA: f64 = 1e6;

/// What to simulate.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Design {
    /// The design.
    pub kind: DesignKind,
    /// Features D.
    pub features: usize,
    /// Signal-to-noise variance ratio α (E1–E4).
    pub alpha: f64,
    /// E1: weight ψ2 of x2 (x1 has 1 − ψ2).
    pub psi2: f64,
    /// E2: `g` is linear (`true`) or `f`.
    pub linear: bool,
}

/// Simulated rows with their ground truth.
#[derive(Clone, Debug)]
pub struct Simulated {
    /// Training rows.
    pub train: Table,
    /// Test rows.
    pub test: Table,
    /// 0-based indices of the features the target depends on.
    pub truth: Vec<usize>,
    /// True importance of each feature (its coefficient; 0 for noise features).
    pub importance: Vec<f64>,
    /// Variance of the noise: the best achievable test MSE.
    pub noise_var: f64,
}

/// The paper's test function.
pub fn f(x: f64) -> f64 {
    x.abs().exp() - 2.0 * x + (2.0 * std::f64::consts::PI * x).sin()
}

/// `Var f(X)` for `X ~ N(0, 1)`, by Simpson's rule on [−12, 12].
pub fn var_f() -> f64 {
    let (a, b, n) = (-12.0f64, 12.0f64, 24_000usize);
    let h = (b - a) / n as f64;
    let (mut m1, mut m2) = (0.0, 0.0);
    for i in 0..=n {
        let x = a + h * i as f64;
        let w = if i == 0 || i == n {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        let p = (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        m1 += w * f(x) * p;
        m2 += w * f(x).powi(2) * p;
    }
    let (m1, m2) = (m1 * h / 3.0, m2 * h / 3.0);
    m2 - m1 * m1
}

impl Design {
    /// The design's defaults: D = 10, 20, 50, 100, 200 for E1..E5; α = 2; ψ2 = 0.5; g = f.
    pub fn new(kind: DesignKind) -> Self {
        Self {
            kind,
            features: kind.default_features(),
            alpha: 2.0,
            psi2: 0.5,
            linear: false,
        }
    }

    /// Checks every parameter's range, and the size of `rows` + `test_rows` rows, before
    /// anything is allocated. Keys are the spec's (`data.rows`); the path is `data`.
    ///
    /// # Errors
    /// [`Error::SpecValue`] naming the parameter and its range.
    pub fn check(&self, rows: usize, test_rows: usize) -> Result<()> {
        let bad = |key: &str, value: String, expected: String| {
            Err(Error::SpecValue {
                path: "data".into(),
                key: key.into(),
                value: crate::text::excerpt(&value),
                expected,
            })
        };
        let d = self.features;
        let min = self.kind.min_features();
        if d < min || d > usize::from(u16::MAX) {
            return bad(
                "data.features",
                d.to_string(),
                format!("from {min} to 65535 for design {}", self.kind.name()),
            );
        }
        if !(MIN_ALPHA..=MAX_ALPHA).contains(&self.alpha) {
            return bad(
                "data.alpha",
                self.alpha.to_string(),
                format!("a signal-to-noise ratio from {MIN_ALPHA} to {MAX_ALPHA}"),
            );
        }
        if !(0.0..=1.0).contains(&self.psi2) {
            return bad(
                "data.psi2",
                self.psi2.to_string(),
                "a weight in [0, 1]".into(),
            );
        }
        if !(1..=MAX_ROWS).contains(&rows) {
            return bad(
                "data.rows",
                rows.to_string(),
                format!("from 1 to {MAX_ROWS}"),
            );
        }
        if test_rows > MAX_ROWS {
            return bad(
                "data.test_rows",
                test_rows.to_string(),
                format!("from 0 to {MAX_ROWS}"),
            );
        }
        let cells = (rows + test_rows).saturating_mul(d + 1);
        if cells > MAX_CELLS {
            return bad(
                "data.rows",
                format!("{rows} (+ {test_rows} test rows) of {d} features"),
                format!("at most {MAX_CELLS} cells in all, rows × (features + 1)"),
            );
        }
        Ok(())
    }

    /// Generates `rows` training and `test_rows` test rows from `seed`.
    ///
    /// # Errors
    /// [`Error::SpecValue`] from [`Design::check`].
    pub fn generate(&self, rows: usize, test_rows: usize, seed: u64) -> Result<Simulated> {
        self.check(rows, test_rows)?;
        let d = self.features;
        let mut rng = Pcg64::seed_from_u64(seed);
        let (coef, signal_var): (Vec<f64>, f64) = match self.kind {
            DesignKind::E1 => {
                let c = vec![1.0 - self.psi2, self.psi2];
                let v = c.iter().map(|b| b * b).sum::<f64>() * var_f();
                (c, v)
            }
            DesignKind::E2 => {
                let c: Vec<f64> = (0..5).map(|_| rng.random::<f64>()).collect();
                let v =
                    c.iter().map(|b| b * b).sum::<f64>() * if self.linear { 1.0 } else { var_f() };
                (c, v)
            }
            DesignKind::E5 => (vec![1.0; 5], 0.0),
            _ => {
                let k = (0.2 * d as f64).ceil() as usize;
                (vec![1.0; k], k as f64 * var_f())
            }
        };
        let noise_var = if self.kind == DesignKind::E5 {
            1.0
        } else {
            signal_var / self.alpha
        };
        let truth: Vec<usize> = coef
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != 0.0)
            .map(|(j, _)| j)
            .collect();
        let mut importance = vec![0.0; d];
        importance[..coef.len()].copy_from_slice(&coef);
        let train = self.rows(rows, &coef, noise_var, &mut rng);
        let test = self.rows(test_rows, &coef, noise_var, &mut rng);
        Ok(Simulated {
            train,
            test,
            truth,
            importance,
            noise_var,
        })
    }

    fn rows(&self, n: usize, coef: &[f64], noise_var: f64, rng: &mut Pcg64) -> Table {
        let d = self.features;
        let uniform = Uniform::new(-1.0f64, 1.0).unwrap_or_else(|_| unreachable!("-1 < 1"));
        let mut x = Vec::with_capacity(n * d);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f64> = if self.kind == DesignKind::E5 {
                (0..d).map(|_| uniform.sample(rng)).collect()
            } else {
                (0..d).map(|_| StandardNormal.sample(rng)).collect()
            };
            let eps: f64 = StandardNormal.sample(rng);
            let signal = match self.kind {
                DesignKind::E5 => {
                    7.0 * row[1] / (1.0 + row[0] * row[0])
                        + 5.0 * (row[2] * row[3]).sin()
                        + 2.0 * row[4]
                }
                DesignKind::E2 if self.linear => coef.iter().zip(&row).map(|(b, v)| b * v).sum(),
                _ => coef.iter().zip(&row).map(|(b, v)| b * f(*v)).sum(),
            };
            y.push((signal + noise_var.sqrt() * eps) as f32);
            x.extend(row.iter().map(|&v| v as f32));
        }
        Table {
            names: (1..=d).map(|j| format!("x{j}")).collect(),
            target: "y".into(),
            x,
            y,
        }
    }
}

/// A table as CSV text with a header (`x1..xD,y`).
pub fn csv_text(t: &Table) -> String {
    let mut out = String::new();
    out.push_str(&t.names.join(","));
    out.push(',');
    out.push_str(&t.target);
    out.push('\n');
    for i in 0..t.rows() {
        for v in t.row(i) {
            out.push_str(&format!("{v},"));
        }
        out.push_str(&format!("{}\n", t.y[i]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_floor_of_e3_is_the_reference_one() {
        let s = Design::new(DesignKind::E3).generate(10, 10, 1).unwrap();
        assert!((s.noise_var - 56.2).abs() < 0.1, "{}", s.noise_var);
        assert_eq!(s.truth, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn same_seed_same_rows() {
        let d = Design::new(DesignKind::E5);
        let (a, b) = (d.generate(50, 5, 7).unwrap(), d.generate(50, 5, 7).unwrap());
        assert_eq!(a.train, b.train);
        assert_ne!(a.train, d.generate(50, 5, 8).unwrap().train);
        assert!(a.train.x.iter().all(|v| v.abs() <= 1.0));
    }
}

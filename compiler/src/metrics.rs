//! Metrics on the original target scale.

use serde::Serialize;

/// Metrics of one model on one set of rows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Metrics {
    /// A real-valued target.
    Regression {
        /// Root mean squared error.
        rmse: f64,
        /// Mean squared error.
        mse: f64,
        /// Standard error of the MSE: the standard deviation of the per-row squared errors
        /// over √rows.
        mse_se: f64,
        /// Mean Gaussian log predictive density per row.
        log_likelihood: f64,
        /// Rows evaluated.
        rows: usize,
    },
    /// Class labels.
    Classification {
        /// Fraction of rows whose most probable class is right.
        accuracy: f64,
        /// Standard error of the accuracy, `√(a(1 − a)/rows)`.
        accuracy_se: f64,
        /// Mean log probability of the true class per row.
        log_likelihood: f64,
        /// Rows evaluated.
        rows: usize,
    },
}

impl Metrics {
    /// Regression metrics of predictive means `pred` and per-row log densities `ll`.
    pub fn regression(pred: &[f64], y: &[f32], ll: &[f64]) -> Self {
        let n = y.len().max(1) as f64;
        let sq: Vec<f64> = pred
            .iter()
            .zip(y)
            .map(|(p, &t)| (p - f64::from(t)).powi(2))
            .collect();
        let mse = sq.iter().sum::<f64>() / n;
        let var = sq.iter().map(|s| (s - mse).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        Self::Regression {
            rmse: mse.sqrt(),
            mse,
            mse_se: (var / n).sqrt(),
            log_likelihood: ll.iter().sum::<f64>() / n,
            rows: y.len(),
        }
    }

    /// Classification metrics of per-row class probabilities `probs` (`rows × k`).
    pub fn classification(probs: &[f64], k: usize, y: &[f32]) -> Self {
        let n = y.len().max(1) as f64;
        let (mut right, mut ll) = (0usize, 0.0);
        for (row, &t) in probs.chunks(k).zip(y) {
            let t = t as usize;
            let best = row
                .iter()
                .enumerate()
                .fold(0, |b, (i, &p)| if p > row[b] { i } else { b });
            right += usize::from(best == t);
            ll += row.get(t).copied().unwrap_or(0.0).max(1e-300).ln();
        }
        let accuracy = right as f64 / n;
        Self::Classification {
            accuracy,
            accuracy_se: (accuracy * (1.0 - accuracy) / n).sqrt(),
            log_likelihood: ll / n,
            rows: y.len(),
        }
    }

    /// The headline number: RMSE for regression, accuracy for classification.
    pub fn headline(&self) -> f64 {
        match *self {
            Self::Regression { rmse, .. } => rmse,
            Self::Classification { accuracy, .. } => accuracy,
        }
    }

    /// The loss that λ is chosen on, lower is better, and its standard error: MSE, or the
    /// error rate `1 − accuracy`.
    pub fn loss(&self) -> (f64, f64) {
        match *self {
            Self::Regression { mse, mse_se, .. } => (mse, mse_se),
            Self::Classification {
                accuracy,
                accuracy_se,
                ..
            } => (1.0 - accuracy, accuracy_se),
        }
    }

    /// Regression: the RMSE.
    pub fn rmse(&self) -> Option<f64> {
        match *self {
            Self::Regression { rmse, .. } => Some(rmse),
            Self::Classification { .. } => None,
        }
    }

    /// Regression: the MSE.
    pub fn mse(&self) -> Option<f64> {
        self.rmse().map(|r| r * r)
    }

    /// Classification: the accuracy.
    pub fn accuracy(&self) -> Option<f64> {
        match *self {
            Self::Classification { accuracy, .. } => Some(accuracy),
            Self::Regression { .. } => None,
        }
    }

    /// Mean log predictive density per row.
    pub fn log_likelihood(&self) -> f64 {
        match *self {
            Self::Regression { log_likelihood, .. }
            | Self::Classification { log_likelihood, .. } => log_likelihood,
        }
    }

    /// `name RMSE r (LL l)` or `name accuracy a (LL l)`.
    pub fn describe(&self, name: &str) -> String {
        match *self {
            Self::Regression {
                rmse,
                log_likelihood,
                ..
            } => format!(
                "{name} RMSE {rmse:.4} (MSE {:.3}, LL {log_likelihood:.3})",
                rmse * rmse
            ),
            Self::Classification {
                accuracy,
                log_likelihood,
                ..
            } => format!("{name} accuracy {accuracy:.4} (LL {log_likelihood:.3})"),
        }
    }
}

/// `log N(y; m, σ²)`.
pub fn gaussian_log_density(y: f64, m: f64, sigma: f64) -> f64 {
    -0.5 * (2.0 * std::f64::consts::PI).ln() - sigma.ln() - 0.5 * ((y - m) / sigma).powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_loss_and_its_standard_error() {
        let m = Metrics::regression(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 6.0], &[0.0; 4]);
        // Squared errors 0, 0, 0, 4: mean 1, sample sd 2, se 1.
        assert_eq!(m.loss(), (1.0, 1.0));
        assert_eq!(m.rmse(), Some(1.0));
        let c = Metrics::classification(
            &[0.9, 0.1, 0.2, 0.8, 0.6, 0.4, 0.3, 0.7],
            2,
            &[0.0, 1.0, 1.0, 1.0],
        );
        assert_eq!(c.accuracy(), Some(0.75));
        let (loss, se) = c.loss();
        assert!((loss - 0.25).abs() < 1e-12 && (se - (0.75f64 * 0.25 / 4.0).sqrt()).abs() < 1e-12);
    }
}

//! Metrics on the original target scale.

use serde::Serialize;

/// Metrics of one model on one set of rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Regression: root mean squared error. Classification: absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rmse: Option<f64>,
    /// Regression: mean squared error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mse: Option<f64>,
    /// Classification: fraction of rows whose most probable class is right.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Mean log predictive density per row (Gaussian for regression, of the true class for
    /// classification).
    pub log_likelihood: f64,
    /// Rows evaluated.
    pub rows: usize,
}

impl Metrics {
    /// The headline number: RMSE for regression, accuracy for classification.
    pub fn headline(&self) -> f64 {
        self.rmse.or(self.accuracy).unwrap_or(f64::NAN)
    }

    /// Regression metrics of predictive means `pred` and per-row log densities `ll`.
    pub fn regression(pred: &[f64], y: &[f32], ll: &[f64]) -> Self {
        let n = y.len().max(1) as f64;
        let mse = pred
            .iter()
            .zip(y)
            .map(|(p, &t)| (p - f64::from(t)).powi(2))
            .sum::<f64>()
            / n;
        Self {
            rmse: Some(mse.sqrt()),
            mse: Some(mse),
            accuracy: None,
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
        Self {
            rmse: None,
            mse: None,
            accuracy: Some(right as f64 / n),
            log_likelihood: ll / n,
            rows: y.len(),
        }
    }
}

/// `log N(y; m, σ²)`.
pub fn gaussian_log_density(y: f64, m: f64, sigma: f64) -> f64 {
    -0.5 * (2.0 * std::f64::consts::PI).ln() - sigma.ln() - 0.5 * ((y - m) / sigma).powi(2)
}

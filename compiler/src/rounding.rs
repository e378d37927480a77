//! One integer layer's weights, fitted to the codes it will read and rounded with error
//! feedback.
//!
//! A node computes `t ≈ c + Σ_i e_i·u_i` from its inputs' centred codes `u_i = a_i − z_i`
//! (`e_i` is the real weight of one code step). Rounding each `e_i` to the grid `σ·ℤ` on its
//! own leaves an error that grows with the node's inputs; two steps shrink it, both on the
//! calibration rows (the training rows):
//!
//! 1. **Refit.** With `H = UᵀU` over the rows (an intercept column last) and the f32
//!    network's pre-activation `t` as the target, the weights minimise
//!    `‖U·e − t‖² + δ·h̄·Σ_i ((e_i − e⁰_i)/s_i)² + δ·N·(c − c⁰)²` (`e⁰`, `c⁰` the f32
//!    weights, `s_i` the real value of input `i`'s code step, `h̄` the inputs' mean square
//!    real value over the `N` rows, `δ` of [`DAMPINGS`]):
//!    what the codes lose to rounding (inputs, and earlier layers' outputs) is made up where
//!    a linear map of the codes can make it up, and the damping keeps the refit near the f32
//!    weights where the rows do not decide them (collinear inputs).
//! 2. **Error feedback** (the optimal-brain-quantiser update, as GPTQ does it): weights are
//!    rounded one at a time, and each rounding error `(e_j − q_j)/R_jj` is taken up by the
//!    weights not yet rounded through row `j` of `R`, the upper Cholesky factor of the
//!    inverse of `H` damped as above; the intercept, last and never rounded, takes up the
//!    rest. This minimises `‖U·(e − q)‖²` greedily, instead of `‖e − q‖²`.
//!
//! Pruned edges stay pruned: a node's fit and rounding use only its kept inputs.

use std::collections::HashMap;

/// The dampings `δ` that `compile` tries, beside rounding to the nearest code, keeping the
/// one whose integer model is nearest f32 on the validation rows. Measured on UCI splits 0–4
/// of six sets, no one value is best on every split.
pub const DAMPINGS: [f64; 5] = [1e-4, 1e-3, 1e-2, 1e-1, 1.0];

/// The calibration rows' centred codes of one layer's inputs, and the factors of each kept
/// set of inputs met so far.
pub struct Refit<'a> {
    /// Row-major `rows × n` centred codes.
    codes: &'a [f64],
    n: usize,
    /// `(n+1) × (n+1)` Gram matrix, the intercept last.
    gram: Vec<f64>,
    /// The damping of each weight, then of the intercept.
    ridge: Vec<f64>,
    factors: HashMap<Vec<usize>, Factor>,
}

/// For one kept set `S` (the intercept appended): `(H_S + D_S)⁻¹`, `D` the damping's
/// diagonal, and its upper Cholesky factor `R` (`Rᵀ·R` = that inverse), row-major `m × m`.
struct Factor {
    inverse: Vec<f64>,
    upper: Vec<f64>,
}

impl<'a> Refit<'a> {
    /// The rows' centred codes, `rows × n` row-major, the real value of each input's code
    /// step, and the damping `δ`.
    pub fn new(codes: &'a [f64], scale: &[f64], damping: f64) -> Self {
        let n = scale.len();
        let m = n + 1;
        let mut gram = vec![0.0; m * m];
        for row in codes.chunks_exact(n.max(1)) {
            for i in 0..m {
                let ui = row.get(i).copied().unwrap_or(1.0);
                for j in i..m {
                    gram[i * m + j] += ui * row.get(j).copied().unwrap_or(1.0);
                }
            }
        }
        for i in 0..m {
            for j in 0..i {
                gram[i * m + j] = gram[j * m + i];
            }
        }
        // The damping is on the real weights `e_i / s_i`, alike for every input: δ times
        // the inputs' mean square real value over the rows, `h̄ = mean_i H_ii·s_i²`. A
        // node's weight on an input that seldom leaves its zero (a relu node active on a
        // few rows) then stays near f32 instead of fitting those rows: such a node's
        // incoming weights are the ones the posterior leaves broad, and a weight moved onto
        // it would carry that breadth into the predictive variance. The intercept's is δ
        // times the rows.
        let mean_square = (0..n)
            .map(|i| gram[i * m + i] * scale[i] * scale[i])
            .sum::<f64>()
            / n.max(1) as f64;
        let mut ridge: Vec<f64> = scale
            .iter()
            .map(|s| damping * mean_square.max(f64::MIN_POSITIVE) / (s * s).max(f64::MIN_POSITIVE))
            .collect();
        ridge.push(damping * (codes.len() / n.max(1)).max(1) as f64);
        Self {
            codes,
            n,
            gram,
            ridge,
            factors: HashMap::new(),
        }
    }

    /// Rows.
    fn rows(&self) -> usize {
        self.codes.len() / self.n.max(1)
    }

    fn factor(&mut self, keep: &[usize]) -> Option<&Factor> {
        if !self.factors.contains_key(keep) {
            let m = self.n + 1;
            let index: Vec<usize> = keep.iter().copied().chain([self.n]).collect();
            let k = index.len();
            let mut h = vec![0.0; k * k];
            for (a, &i) in index.iter().enumerate() {
                for (b, &j) in index.iter().enumerate() {
                    h[a * k + b] = self.gram[i * m + j];
                }
                h[a * k + a] += self.ridge[i];
            }
            let inverse = spd_inverse(&h, k)?;
            let upper = cholesky_upper(&inverse, k)?;
            self.factors
                .insert(keep.to_vec(), Factor { inverse, upper });
        }
        self.factors.get(keep)
    }

    /// The refitted weights of a node on its kept inputs `keep` (then the intercept), from
    /// its f32 weights `start` (the same order, intercept last) and its target on each row.
    /// `None` when the rows' Gram matrix is singular even damped.
    pub fn fit(&mut self, keep: &[usize], start: &[f64], target: &[f64]) -> Option<Vec<f64>> {
        let n = self.n;
        let mut rhs: Vec<f64> = keep
            .iter()
            .copied()
            .chain([n])
            .enumerate()
            .map(|(a, i)| self.ridge[i] * start[a])
            .collect();
        for (row, &t) in self.codes.chunks_exact(n.max(1)).zip(target) {
            for (a, &i) in keep.iter().enumerate() {
                rhs[a] += row[i] * t;
            }
            rhs[keep.len()] += t;
        }
        if self.rows() == 0 {
            return None;
        }
        let f = self.factor(keep)?;
        let k = rhs.len();
        Some(
            (0..k)
                .map(|a| (0..k).map(|b| f.inverse[a * k + b] * rhs[b]).sum())
                .collect(),
        )
    }

    /// Rounds the weights `w` of [`Refit::fit`] (kept inputs, then the intercept) to
    /// multiples of `sigma` within `±127·sigma`, with error feedback; returns the codes and
    /// the intercept that takes up the remaining error.
    pub fn round(&mut self, keep: &[usize], mut w: Vec<f64>, sigma: f64) -> Option<(Vec<i8>, f64)> {
        let f = self.factor(keep)?;
        let k = w.len();
        let mut codes = Vec::with_capacity(k - 1);
        for a in 0..k - 1 {
            let q = (w[a] / sigma).round().clamp(-127.0, 127.0);
            codes.push(q as i8);
            let err = (w[a] - q * sigma) / f.upper[a * k + a];
            let row = &f.upper[a * k + a + 1..(a + 1) * k];
            for (v, &r) in w[a + 1..].iter_mut().zip(row) {
                *v -= err * r;
            }
        }
        Some((codes, w[k - 1]))
    }
}

/// The inverse of a symmetric positive definite `k × k` matrix, by Cholesky; `None` when
/// it is not positive definite.
fn spd_inverse(h: &[f64], k: usize) -> Option<Vec<f64>> {
    // h = L·Lᵀ, then h⁻¹ = L⁻ᵀ·L⁻¹.
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s = h[i * k + j] - (0..j).map(|p| l[i * k + p] * l[j * k + p]).sum::<f64>();
            if i == j {
                if s.is_nan() || s <= 0.0 {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    // Columns of L⁻¹ by forward substitution.
    let mut inv_l = vec![0.0; k * k];
    for c in 0..k {
        for i in c..k {
            let rhs = if i == c { 1.0 } else { 0.0 };
            let s = rhs - (c..i).map(|p| l[i * k + p] * inv_l[p * k + c]).sum::<f64>();
            inv_l[i * k + c] = s / l[i * k + i];
        }
    }
    let mut out = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = (i..k).map(|p| inv_l[p * k + i] * inv_l[p * k + j]).sum();
            out[i * k + j] = s;
            out[j * k + i] = s;
        }
    }
    Some(out)
}

/// The upper triangular `R` with `Rᵀ·R = a` (row-major), `None` when `a` is not positive
/// definite.
fn cholesky_upper(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut r = vec![0.0; k * k];
    for i in 0..k {
        let s = a[i * k + i] - (0..i).map(|p| r[p * k + i] * r[p * k + i]).sum::<f64>();
        if s.is_nan() || s <= 0.0 {
            return None;
        }
        r[i * k + i] = s.sqrt();
        for j in i + 1..k {
            let s = a[i * k + j] - (0..i).map(|p| r[p * k + i] * r[p * k + j]).sum::<f64>();
            r[i * k + j] = s / r[i * k + i];
        }
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matmul(a: &[f64], b: &[f64], k: usize) -> Vec<f64> {
        (0..k * k)
            .map(|x| (0..k).map(|p| a[x / k * k + p] * b[p * k + x % k]).sum())
            .collect()
    }

    #[test]
    fn the_inverse_and_its_factor_are_exact() {
        let h = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let inv = spd_inverse(&h, 3).unwrap();
        let id = matmul(&h, &inv, 3);
        for (x, v) in id.iter().enumerate() {
            let want = if x % 4 == 0 { 1.0 } else { 0.0 };
            assert!((v - want).abs() < 1e-12, "{id:?}");
        }
        let r = cholesky_upper(&inv, 3).unwrap();
        let rt: Vec<f64> = (0..9).map(|x| r[x % 3 * 3 + x / 3]).collect();
        let back = matmul(&rt, &r, 3);
        for (a, b) in back.iter().zip(&inv) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!(spd_inverse(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    /// A pseudo-random integer in `[−100, 100]` (a 64-bit LCG).
    fn draw(state: &mut u64) -> f64 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((*state >> 33) % 201) as f64 - 100.0
    }

    /// 400 rows of eight codes, the last four near copies of the first four (correlated
    /// inputs, as sensors often are).
    fn rows() -> Vec<f64> {
        let mut state = 12_345u64;
        let mut codes = Vec::new();
        for _ in 0..400 {
            let base: Vec<f64> = (0..4).map(|_| draw(&mut state)).collect();
            let near: Vec<f64> = base
                .iter()
                .map(|b| b + (draw(&mut state) / 20.0).round())
                .collect();
            codes.extend(base.into_iter().chain(near));
        }
        codes
    }

    #[test]
    fn error_feedback_rounds_better_than_rounding_each_weight() {
        let codes = rows();
        let keep: Vec<usize> = (0..8).collect();
        let sigma = 0.0011;
        let mut state = 99u64;
        let (mut plain_total, mut fed_total) = (0.0, [0.0; DAMPINGS.len()]);
        // 40 nodes, each an exact linear map of the codes with weights of 0 to 9 code steps.
        // Of each near pair, rounding alone errs on both; error feedback passes the first's
        // error to the second, so about half the squared error is left.
        for _ in 0..40 {
            let start: Vec<f64> = (0..9).map(|_| draw(&mut state) * 0.09 * sigma).collect();
            let target: Vec<f64> = codes
                .chunks(8)
                .map(|u| start[8] + u.iter().zip(&start).map(|(u, w)| u * w).sum::<f64>())
                .collect();
            let err = |q: &[f64], c: f64| -> f64 {
                let rows = codes.chunks(8).zip(&target);
                rows.map(|(u, t)| {
                    let y = c + u.iter().zip(q).map(|(u, q)| u * q * sigma).sum::<f64>();
                    (y - t).powi(2)
                })
                .sum()
            };
            let plain: Vec<f64> = start[..8].iter().map(|v| (v / sigma).round()).collect();
            plain_total += err(&plain, start[8]);
            for (total, damping) in fed_total.iter_mut().zip(DAMPINGS) {
                let mut refit = Refit::new(&codes, &[1.0; 8], damping);
                let w = refit.fit(&keep, &start, &target).unwrap();
                let (q, c) = refit.round(&keep, w, sigma).unwrap();
                let fed: Vec<f64> = q.iter().map(|&v| f64::from(v)).collect();
                *total += err(&fed, c);
            }
        }
        for (total, damping) in fed_total.iter().zip(DAMPINGS) {
            // δ = 1 damps the feedback as much as the rows' own weight: less is passed on.
            let bound = if damping < 1.0 { 0.6 } else { 0.75 };
            assert!(
                *total < bound * plain_total,
                "δ = {damping}: {total} against {plain_total}"
            );
        }
    }

    #[test]
    fn a_weight_on_an_input_that_seldom_fires_stays_near_f32() {
        // Input 2 is at its zero on all but 3 of 400 rows, where the target is off by 1:
        // fitting those rows would move its weight by about 1 / 60 per code step.
        let codes: Vec<f64> = rows()
            .chunks(8)
            .enumerate()
            .flat_map(|(r, u)| [u[0], u[1], if r % 150 == 7 { 60.0 } else { 0.0 }])
            .collect();
        let target: Vec<f64> = codes
            .chunks(3)
            .map(|u| 0.01 * u[0] + 0.02 * u[1] + if u[2] > 0.0 { 1.0 } else { 0.0 })
            .collect();
        let start = [0.01, 0.02, 0.0, 0.0];
        let moved = |scale: f64| {
            let mut refit = Refit::new(&codes, &[1.0, 1.0, scale], 0.01);
            refit.fit(&[0, 1, 2], &start, &target).unwrap()[2] / scale
        };
        // In real units: a code step of 1 (as large as the other inputs') lets the rows
        // decide; one of 1/100 (a node whose few firings are small) holds it at f32.
        assert!(moved(1.0) > 0.005, "{}", moved(1.0));
        assert!(moved(0.01).abs() < 0.05 * moved(1.0), "{}", moved(0.01));
    }

    #[test]
    fn a_pruned_input_stays_out_and_the_fit_recovers_the_map() {
        let codes = rows();
        let target: Vec<f64> = codes.chunks(8).map(|u| 0.02 * u[1] - 0.5).collect();
        let mut refit = Refit::new(&codes, &[1.0; 8], 0.01);
        let w = refit.fit(&[1], &[0.019, -0.4], &target).unwrap();
        assert_eq!(w.len(), 2);
        // The damping pulls a little toward the start; the rows decide the rest.
        assert!(
            (w[0] - 0.02).abs() < 2e-4 && (w[1] + 0.5).abs() < 1e-2,
            "{w:?}"
        );
    }
}

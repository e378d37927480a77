//! Activations, softmax and the Gaussian functions of the predictive distribution, in plain
//! f32 arithmetic (no FMA, no target intrinsics), so that the host and every target run the
//! same operations and give bit-identical results.
//!
//! [`exp`] reduces the argument to `|r| ≤ ln 2 / 2` (Cody–Waite), evaluates the degree-6
//! Taylor polynomial of `e^r` there (truncation error below 1.3e-7 relative) and scales by
//! `2^k` exactly: 57 instructions a call on a Cortex-M4F (`board-profile`; `x ≤ 0`, as in
//! every relu moment, scales in one step and takes about 8 fewer), where
//! micromath's `exp`, which it replaces, took about 150 and erred by up to 2.4e-3. Measured against f64 on a grid of step
//! 5e-4 over [−20, 20] (and [−87, 88] for `exp`) by this module's tests: `exp` relative error
//! ≤ 3e-7, `tanh` absolute error ≤ 2e-7, `sigmoid` absolute error ≤ 1e-7, softmax
//! probabilities absolute error ≤ 1e-6. NaN stays NaN; `tanh` and `sigmoid` saturate exactly
//! at ±1 and 0/1 for large |x|.

use crate::format::Activation;

/// `e^x = 2^k · e^r` with `k = round(x / ln 2)`, `|r| ≤ ln 2 / 2` (Cody–Waite reduction), `e^r`
/// by its degree-6 Taylor polynomial and `2^k` applied exactly. NaN stays NaN; 0 below −87.3
/// (where `e^x` falls below the smallest normal float), +∞ above 88.8.
pub fn exp(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x > 88.8 {
        return f32::INFINITY;
    }
    if x < -87.3 {
        return 0.0;
    }
    if x <= 0.0 {
        return exp_nonpositive(x);
    }
    exp_core(x)
}

/// [`exp_core`] for `−87.3 ≤ x ≤ 0` (NaN gives NaN), bit for bit: `k ≤ 0` rounds as
/// `t − 0.5` truncated, and `2^k` (`k ≥ −126`) scales in one exact step where
/// [`exp_core`] takes two, each product rounded once at most either way.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    let k = (x * core::f32::consts::LOG2_E - 0.5) as i32;
    taylor6(reduced(x, k)) * pow2(k)
}

/// `r = x − k·ln 2` in two steps (Cody–Waite: `LN2_HI` has 15 significant bits, so
/// `k·LN2_HI` is exact for `|k| < 2^9`).
#[inline(always)]
fn reduced(x: f32, k: i32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let kf = k as f32;
    (x - kf * LN2_HI) - kf * LN2_LO
}

/// `e^r` for `|r| ≤ ln 2 / 2` by its degree-6 Taylor polynomial (truncation below 1.3e-7
/// relative).
#[inline(always)]
fn taylor6(r: f32) -> f32 {
    1.0 + r
        * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))))
}

/// [`exp`] without its range checks, for `−87.3 ≤ x ≤ 88.8` (NaN gives NaN).
#[inline(always)]
fn exp_core(x: f32) -> f32 {
    let t = x * core::f32::consts::LOG2_E;
    let k = (t + if t < 0.0 { -0.5 } else { 0.5 }) as i32;
    let r = reduced(x, k);
    let p = taylor6(r);
    // −126 ≤ k ≤ 128 here; 2^128 is split in two so that e^88.8 stays finite.
    let half = k / 2;
    p * pow2(half) * pow2(k - half)
}

/// `2^k` for `−126 ≤ k ≤ 127`, exactly.
fn pow2(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// `tanh x = 1 − 2 / (e^{2x} + 1)`: absolute error ≤ 2e-7 (from [`exp`]).
pub fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

/// `1 / (1 + e^{−x})`: absolute error ≤ 1e-7 (from [`exp`]).
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `max(x, 0)`, keeping NaN.
pub fn relu(x: f32) -> f32 {
    if x < 0.0 { 0.0 } else { x }
}

/// Applies `act` to every element of `v`.
pub fn activate(act: Activation, v: &mut [f32]) {
    match act {
        Activation::Identity => {}
        Activation::Relu => v.iter_mut().for_each(|x| *x = relu(*x)),
        Activation::Tanh => v.iter_mut().for_each(|x| *x = tanh(*x)),
        Activation::Sigmoid => v.iter_mut().for_each(|x| *x = sigmoid(*x)),
    }
}

/// `round(32512 · tanh(k / 16))` for `k = 0..=64`: 127 · tanh in units of 1/256, on
/// `[0, 4]`.
const TANH_Q: [u16; 65] = [
    0, 2029, 4043, 6026, 7963, 9842, 11651, 13381, 15024, 16576, 18031, 19389, 20650, 21814, 22885,
    23866, 24761, 25575, 26312, 26979, 27579, 28120, 28605, 29040, 29428, 29775, 30085, 30361,
    30606, 30824, 31018, 31190, 31342, 31478, 31598, 31704, 31798, 31881, 31954, 32019, 32077,
    32128, 32173, 32212, 32247, 32278, 32306, 32330, 32351, 32370, 32387, 32401, 32414, 32426,
    32436, 32445, 32453, 32460, 32466, 32471, 32476, 32480, 32484, 32487, 32490,
];

/// `127 · tanh(r / 1024)`, rounded to an integer in `[−127, 127]`: the integer layers' tanh
/// (and sigmoid, as `σ(z) = (1 + tanh(z/2)) / 2`).
///
/// Linear interpolation in a table of 65 entries, `round(32512 · tanh(k / 16))` (steps of 1/16), then `⌊(t + 128) / 256⌋`, the sign put
/// back; 127 from `|r| ≥ 4096` (`127 · tanh 4 = 126.91`). Measured against f64 over every
/// `r` in `[−40000, 40000]` by this module's tests: within 0.55 of `127 · tanh(r / 1024)`,
/// so at most one code from the nearest.
pub fn tanh_q(r: i32) -> i32 {
    let m = r.unsigned_abs();
    let i = (m >> 6) as usize;
    let t = match (TANH_Q.get(i), TANH_Q.get(i + 1)) {
        (Some(&lo), Some(&hi)) => {
            let f = m & 63;
            u32::from(lo) + ((u32::from(hi - lo) * f) >> 6)
        }
        _ => return if r < 0 { -127 } else { 127 },
    };
    let q = ((t + 128) >> 8) as i32;
    if r < 0 { -q } else { q }
}

/// `round(2^16 · 2^(−j/64)) − 2^15` for `j = 0..=64`: one octave of `2^−x` in steps of 1/64.
const EXP2_Q: [u16; 65] = [
    32768, 32062, 31364, 30673, 29989, 29313, 28645, 27983, 27329, 26681, 26041, 25408, 24781,
    24161, 23548, 22941, 22341, 21747, 21160, 20579, 20005, 19436, 18874, 18317, 17767, 17223,
    16684, 16152, 15625, 15103, 14588, 14078, 13573, 13074, 12580, 12091, 11608, 11130, 10657,
    10190, 9727, 9269, 8816, 8368, 7925, 7487, 7053, 6624, 6200, 5780, 5365, 4954, 4548, 4146,
    3748, 3355, 2966, 2581, 2200, 1823, 1451, 1082, 718, 357, 0,
];

/// Probabilities from integer logits `r` in units of 2^−8 (`runtime/FORMAT.md`, "Integer
/// softmax"): `p_k = e_k · (1 / Σ_j e_j)` in f32, with `e_k ≈ 2^16 · e^((r_k − max r)/256)`
/// in integers: `t = max r − r_k`; `e = 0` for `t > 3072`; else `v = ⌊(47274·t + 2^14) /
/// 2^15⌋` (t·log2 e in units of 2^−8), `j = ⌊(v mod 256) / 4⌋`, `f = v mod 4`,
/// `e = ⌊(E[j] − ⌊(E[j] − E[j+1])·f / 4⌋) / 2^⌊v/256⌋⌋` with `E[j] = round(2^16·2^(−j/64))`.
///
/// Each `e_k` is within 0.2% + 2^−16 (relative to the largest) of `2^16·e^(−t/256)`, so each
/// probability is within 0.004 of the exact softmax of `r/256` (this module's tests).
pub fn softmax_q(r: &[i32], out: &mut [f32]) {
    let max = r.iter().copied().max().unwrap_or(0);
    let mut sum = 0u32;
    for (o, &rk) in out.iter_mut().zip(r) {
        let t = max.wrapping_sub(rk) as u32;
        let e = if t > 3072 {
            0
        } else {
            let v = (t * 47_274 + (1 << 14)) >> 15;
            let j = ((v & 255) >> 2) as usize;
            match (EXP2_Q.get(j), EXP2_Q.get(j + 1)) {
                (Some(&hi), Some(&lo)) => {
                    let hi = u32::from(hi) + (1 << 15);
                    let step = ((hi - u32::from(lo) - (1 << 15)) * (v & 3)) >> 2;
                    (hi - step).checked_shr(v >> 8).unwrap_or(0)
                }
                _ => 0,
            }
        };
        sum += e;
        *o = e as f32;
    }
    let inv = 1.0 / sum as f32;
    for o in out.iter_mut() {
        *o *= inv;
    }
}

/// Replaces logits by probabilities: `p_k = e^{z_k − max z} / Σ_j e^{z_j − max z}`.
///
/// A NaN logit makes every probability NaN.
pub fn softmax(v: &mut [f32]) {
    let max = v
        .iter()
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = exp(*x - max);
        sum += *x;
    }
    let inv = 1.0 / sum;
    for x in v {
        *x *= inv;
    }
}

/// `√x`, correctly rounded (libm's `sqrtf`, so every target gives the same bits).
pub fn sqrt(x: f32) -> f32 {
    libm::sqrtf(x)
}

/// `1/√v` for normal positive `v`: two Newton steps `y ← y·(k − v·y²/2)` from the bit-level
/// estimate `0x5f376a17 − bits(v)/2`, `k = 1.5008727` in the first step and `1.5000006` in the
/// second (the plain step's `k = 3/2` shifted so that the error, one-sided after a plain
/// step, is balanced; the three constants minimise the largest error after both steps over
/// every mantissa of `[1, 4)`, as Walczyk et al. 2021 tune the first step). Measured against
/// f64 over normal floats by this module's tests: relative error ≤ 7.5e-7. NaN gives NaN;
/// other values outside the domain give some number (never a panic).
pub fn rsqrt(v: f32) -> f32 {
    let h = 0.5 * v;
    let mut y = f32::from_bits(0x5f37_6a17u32.wrapping_sub(v.to_bits() >> 1));
    y *= 1.500_872_7 - h * y * y;
    y *= 1.500_000_6 - h * y * y;
    y
}

/// `1/√(2π)`.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// The standard normal density and distribution function at `z`: `(ϕ(z), Φ(z))`.
///
/// `ϕ(z) = e^{−z²/2}/√(2π)` from [`exp`]; `Φ` by Abramowitz & Stegun 26.2.17,
/// `Φ(−|z|) = ϕ(z)·(b₁t + b₂t² + b₃t³ + b₄t⁴ + b₅t⁵)` with `t = 1/(1 + 0.2316419·|z|)`
/// (error below 7.5e-8 in exact arithmetic), so one `exp` gives both. Measured against f64
/// over `[−16, 16]` in steps of 1e-3 by this module's tests: `ϕ` within 1e-7 and `Φ` within
/// 3e-7 absolutely, and the smaller tail `Φ(−|z|)` within 0.05% relatively for `|z| ≤ 4`.
/// NaN gives NaN; `Φ` is exactly 0 or 1 for `|z| ≥ 14.5`.
pub fn normal(z: f32) -> (f32, f32) {
    normal_with(z, exp)
}

/// [`normal`] with `e^x` from `exp`.
#[inline(always)]
fn normal_with(z: f32, exp: impl Fn(f32) -> f32) -> (f32, f32) {
    const P: f32 = 0.231_641_9;
    const B: [f32; 5] = [
        0.319_381_53,
        -0.356_563_78,
        1.781_477_9,
        -1.821_256,
        1.330_274_4,
    ];
    let pdf = FRAC_1_SQRT_2PI * exp(-0.5 * z * z);
    let a = if z < 0.0 { -z } else { z };
    let t = 1.0 / (1.0 + P * a);
    let poly = t * (B[0] + t * (B[1] + t * (B[2] + t * (B[3] + t * B[4]))));
    let tail = pdf * poly;
    (pdf, if z < 0.0 { tail } else { 1.0 - tail })
}

/// `√(π/8)`: the probit approximation `sigmoid(x) ≈ Φ(x·√(π/8))`.
const PROBIT: f32 = 0.626_657_07;

/// Mean and variance of `relu(a)` for `a ~ N(m, v)`: with `s = √v`, `z = m/s`,
/// `E = m·Φ(z) + s·ϕ(z)` and `Var = v·(z²Φ(1−Φ) + Φ + zϕ(1−2Φ) − ϕ²)` (the second moment
/// `(m² + v)·Φ + m·s·ϕ` minus `E²`, written without the cancellation of large terms), the
/// bracket clamped to `[0, 1]`, `1/s` by [`rsqrt`]; for `|z| > 5.5`, `(m, v)` or `(0, 0)`.
/// `v` below the smallest normal float (0 included) gives `(relu(m), 0)` exactly.
#[inline(always)]
pub fn relu_moments(m: f32, v: f32) -> (f32, f32) {
    if v < f32::MIN_POSITIVE {
        return (relu(m), 0.0);
    }
    if m * m > 30.25 * v {
        // |z| > 5.5: by the Mills ratio E − relu(m) and Var − v·1[m > 0] are below 4e-9·s
        // and 2e-9·v, under f32's resolution of the result.
        return if m > 0.0 { (m, v) } else { (0.0, 0.0) };
    }
    let y = rsqrt(v);
    let (s, z) = (v * y, m * y);
    // |z| ≤ 5.5 here (or NaN): the exponent −z²/2 ∈ [−15.2, 0] needs no range check.
    let (pdf, cdf) = normal_with(z, exp_nonpositive);
    let mean = m * cdf + s * pdf;
    let g = z * z * cdf * (1.0 - cdf) + cdf + z * pdf * (1.0 - 2.0 * cdf) - pdf * pdf;
    (if mean < 0.0 { 0.0 } else { mean }, v * g.clamp(0.0, 1.0))
}

/// Mean and variance of `sigmoid(a)` for `a ~ N(m, v)`, by the probit approximation:
/// `κ = 1/√(1 + πv/8)`, `E ≈ sigmoid(κm)`, `Var ≈ (E(1−E))²·κ²·v` (the delta method with the
/// same shrinkage; exact to first order in `v`). Measured against quadrature by this
/// module's tests over means in `[−6, 6]` and variances in `[10⁻³, 100]`: the mean within
/// 0.011 and the sd within 0.092 (the worst at large `|m|` and `v`). `v = 0` gives
/// `(sigmoid(m), 0)` exactly.
pub fn sigmoid_moments(m: f32, v: f32) -> (f32, f32) {
    if v == 0.0 {
        return (sigmoid(m), 0.0);
    }
    let k = rsqrt(1.0 + PROBIT * PROBIT * v);
    let p = sigmoid(k * m);
    let d = p * (1.0 - p);
    (p, d * d * k * k * v)
}

/// Mean and variance of `tanh(a)` for `a ~ N(m, v)`: `tanh(a) = 2·sigmoid(2a) − 1`, by
/// [`sigmoid_moments`] of `N(2m, 4v)`. `v = 0` gives `(tanh(m), 0)` exactly.
pub fn tanh_moments(m: f32, v: f32) -> (f32, f32) {
    if v == 0.0 {
        return (tanh(m), 0.0);
    }
    let (p, var) = sigmoid_moments(2.0 * m, 4.0 * v);
    (2.0 * p - 1.0, 4.0 * var)
}

/// Index of the largest score: `None` when `scores` is empty or holds a NaN.
/// Ties go to the lowest index.
pub fn argmax(scores: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &s) in scores.iter().enumerate() {
        if s.is_nan() {
            return None;
        }
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use super::*;

    fn grid() -> impl Iterator<Item = f32> {
        (-40_000..=40_000).map(|i| i as f32 * 5e-4)
    }

    #[test]
    fn exp_relative_error_within_documented_bound() {
        for x in (-174_000..=176_000).map(|i| i as f32 * 5e-4) {
            let exact = f64::from(x).exp();
            let rel = ((f64::from(exp(x)) - exact) / exact).abs();
            assert!(rel <= 3e-7, "exp({x}): relative error {rel}");
        }
    }

    #[test]
    fn tanh_and_sigmoid_absolute_error_within_documented_bound() {
        for x in grid() {
            let t = (f64::from(tanh(x)) - f64::from(x).tanh()).abs();
            let s = (f64::from(sigmoid(x)) - 1.0 / (1.0 + (-f64::from(x)).exp())).abs();
            assert!(t <= 2e-7, "tanh({x}): error {t}");
            assert!(s <= 1e-7, "sigmoid({x}): error {s}");
        }
    }

    #[test]
    fn saturates_and_keeps_nan() {
        assert_eq!(tanh(100.0), 1.0);
        assert_eq!(tanh(-100.0), -1.0);
        assert_eq!(sigmoid(-200.0), 0.0);
        assert_eq!(sigmoid(200.0), 1.0);
        assert!(tanh(f32::NAN).is_nan() && sigmoid(f32::NAN).is_nan() && relu(f32::NAN).is_nan());
        assert_eq!(relu(-0.5), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-87.4), 0.0);
        assert!(exp(-87.2) >= f32::MIN_POSITIVE);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
    }

    #[test]
    fn softmax_q_table_and_accuracy() {
        for (j, &e) in EXP2_Q.iter().enumerate() {
            let exact = (65536.0 * 2f64.powf(-(j as f64) / 64.0)).round() - 32768.0;
            assert_eq!(f64::from(e), exact, "entry {j}");
        }
        let mut state = 3u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as i32
        };
        let mut worst = 0f64;
        for case in 0..20_000 {
            let k = 2 + case % 11;
            let spread = [64, 1024, 8192, 1 << 20][case % 4];
            let r: Vec<i32> = (0..k).map(|_| next() % spread - spread / 2).collect();
            let mut p = vec![0.0; k];
            softmax_q(&r, &mut p);
            let max = f64::from(*r.iter().max().unwrap());
            let e: Vec<f64> = r
                .iter()
                .map(|&v| ((f64::from(v) - max) / 256.0).exp())
                .collect();
            let sum: f64 = e.iter().sum();
            for (got, want) in p.iter().zip(&e) {
                worst = worst.max((f64::from(*got) - want / sum).abs());
            }
            let total: f32 = p.iter().sum();
            assert!((total - 1.0).abs() < 1e-5, "{r:?}: sum {total}");
        }
        assert!(worst <= 0.004, "worst probability error {worst}");
        let mut p = [0.0; 3];
        softmax_q(&[i32::MAX / 2, i32::MIN / 2, 0], &mut p);
        assert_eq!(p, [1.0, 0.0, 0.0]);
    }

    #[test]
    fn tanh_q_table_and_accuracy() {
        for (k, &t) in TANH_Q.iter().enumerate() {
            assert_eq!(
                f64::from(t),
                (32512.0 * (k as f64 / 16.0).tanh()).round(),
                "entry {k}"
            );
        }
        let mut worst = 0f64;
        for r in -40_000..=40_000 {
            let q = tanh_q(r);
            let exact = 127.0 * (f64::from(r) / 1024.0).tanh();
            worst = worst.max((f64::from(q) - exact).abs());
            assert_eq!(q, -tanh_q(-r), "odd at {r}");
        }
        assert!(worst <= 0.55, "worst error {worst}");
        assert_eq!(
            (tanh_q(i32::MAX), tanh_q(i32::MIN), tanh_q(0)),
            (127, -127, 0)
        );
    }

    #[test]
    fn softmax_sums_to_one_and_matches_f64() {
        let mut v = [2.0, -1.0, 0.5, 30.0, -30.0];
        let z = v;
        softmax(&mut v);
        let m = 30.0f64;
        let s: f64 = z.iter().map(|&x| (f64::from(x) - m).exp()).sum();
        for (p, x) in v.iter().zip(z) {
            let exact = (f64::from(x) - m).exp() / s;
            assert!((f64::from(*p) - exact).abs() <= 1e-6, "{p} vs {exact}");
        }
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        let mut n = [1.0, f32::NAN];
        softmax(&mut n);
        assert!(n.iter().all(|x| x.is_nan()));
    }

    /// `Φ(z)` in f64 from libm's `erfc`.
    fn cdf64(z: f64) -> f64 {
        0.5 * libm::erfc(-z / core::f64::consts::SQRT_2)
    }

    #[test]
    fn normal_density_and_distribution_within_documented_bounds() {
        let (mut pdf_err, mut cdf_err, mut tail_rel) = (0f64, 0f64, 0f64);
        // f64 reference tails for the relative bound: |z| ≤ 4.
        for i in -16_000..=16_000 {
            let z = i as f32 * 1e-3;
            let (pdf, cdf) = normal(z);
            let zf = f64::from(z);
            let exact_pdf = (-0.5 * zf * zf).exp() / (2.0 * core::f64::consts::PI).sqrt();
            pdf_err = pdf_err.max((f64::from(pdf) - exact_pdf).abs());
            cdf_err = cdf_err.max((f64::from(cdf) - cdf64(zf)).abs());
            if zf.abs() <= 4.0 {
                let tail = if z < 0.0 { cdf } else { 1.0 - cdf };
                let exact = cdf64(-zf.abs());
                if z <= 0.0 {
                    tail_rel = tail_rel.max((f64::from(tail) - exact).abs() / exact);
                }
            }
        }
        assert!(pdf_err <= 1e-7, "ϕ error {pdf_err}");
        assert!(cdf_err <= 3e-7, "Φ error {cdf_err}");
        assert!(tail_rel <= 5e-4, "tail relative error {tail_rel}");
        assert_eq!(normal(15.0).1, 1.0);
        assert_eq!(normal(-15.0).1, 0.0);
        assert!(normal(f32::NAN).0.is_nan() && normal(f32::NAN).1.is_nan());
    }

    /// Mean and variance of `f(a)`, `a ~ N(m, v)`, by 8,001-point quadrature over ±10 sd.
    fn quadrature(m: f64, v: f64, f: impl Fn(f64) -> f64) -> (f64, f64) {
        let s = v.sqrt();
        let (mut w, mut e, mut e2) = (0.0, 0.0, 0.0);
        for i in 0..=8000 {
            let z = -10.0 + 20.0 * f64::from(i) / 8000.0;
            let p = (-0.5 * z * z).exp();
            let y = f(m + s * z);
            (w, e, e2) = (w + p, e + p * y, e2 + p * y * y);
        }
        (e / w, e2 / w - (e / w) * (e / w))
    }

    const MEANS: [f32; 11] = [-6.0, -4.0, -2.0, -1.0, -0.3, 0.0, 0.5, 1.0, 2.0, 4.0, 6.0];
    const VARIANCES: [f32; 9] = [1e-3, 1e-2, 0.1, 0.5, 1.0, 2.0, 5.0, 20.0, 100.0];

    #[test]
    fn the_nonpositive_exp_is_the_general_one_bit_for_bit() {
        let mut x = -87.3f32;
        while x <= 0.0 {
            assert_eq!(exp_nonpositive(x).to_bits(), exp_core(x).to_bits(), "{x}");
            x = f32::from_bits(x.to_bits() - 40_503);
        }
        let half_ln2 = -core::f32::consts::LN_2 / 2.0;
        let next = f32::from_bits(half_ln2.to_bits() + 1);
        for x in [0.0, -0.0, -87.3, -1e-30, -f32::MIN_POSITIVE, half_ln2, next] {
            assert_eq!(exp_nonpositive(x).to_bits(), exp_core(x).to_bits(), "{x}");
        }
        assert!(exp_nonpositive(f32::NAN).is_nan());
    }

    #[test]
    fn rsqrt_within_documented_bound() {
        let mut worst = 0f64;
        let mut v = f32::MIN_POSITIVE;
        while v < 1e30 {
            for k in 0..64 {
                let x = v * (1.0 + k as f32 / 64.0);
                let exact = 1.0 / f64::from(x).sqrt();
                worst = worst.max((f64::from(rsqrt(x)) - exact).abs() / exact);
            }
            v *= 2.0;
        }
        assert!(worst <= 7.5e-7, "rsqrt relative error {worst}");
        assert!(rsqrt(f32::NAN).is_nan() && rsqrt(-f32::NAN).is_nan());
    }

    #[test]
    fn relu_moments_match_quadrature() {
        let (mut mean_err, mut sd_err) = (0f64, 0f64);
        for &m in &MEANS {
            for &v in &VARIANCES {
                let (e, var) = relu_moments(m, v);
                let (qe, qv) = quadrature(f64::from(m), f64::from(v), |x| x.max(0.0));
                let scale = f64::from(v).sqrt();
                mean_err = mean_err.max((f64::from(e) - qe).abs() / scale);
                sd_err = sd_err.max((f64::from(var).sqrt() - qv.max(0.0).sqrt()).abs() / scale);
            }
        }
        // Relative to the input's sd: the closed forms are exact, what is left is f32 and Φ.
        assert!(mean_err <= 1e-4, "mean error {mean_err} sd");
        assert!(sd_err <= 2e-3, "sd error {sd_err} sd");
        assert_eq!(relu_moments(-2.0, 0.0), (0.0, 0.0));
        assert_eq!(relu_moments(3.0, 0.0), (3.0, 0.0));
    }

    #[test]
    fn sigmoid_and_tanh_moments_within_documented_bounds() {
        let (mut mean_err, mut sd_err) = (0f64, 0f64);
        for &m in &MEANS {
            for &v in &VARIANCES {
                let (e, var) = sigmoid_moments(m, v);
                let (qe, qv) = quadrature(f64::from(m), f64::from(v), |x| 1.0 / (1.0 + (-x).exp()));
                mean_err = mean_err.max((f64::from(e) - qe).abs());
                sd_err = sd_err.max((f64::from(var).sqrt() - qv.sqrt()).abs());
                let (te, tv) = tanh_moments(m / 2.0, v / 4.0);
                assert!((te - (2.0 * e - 1.0)).abs() < 1e-6 && (tv - 4.0 * var).abs() <= 1e-6);
            }
        }
        assert!(mean_err <= 0.011, "mean error {mean_err}");
        assert!(sd_err <= 0.092, "sd error {sd_err}");
    }

    #[test]
    fn argmax_picks_first_largest_and_refuses_nan() {
        assert_eq!(argmax(&[0.1, 0.7, 0.7, 0.2]), Some(1));
        assert_eq!(argmax(&[]), None);
        assert_eq!(argmax(&[0.1, f32::NAN]), None);
    }
}

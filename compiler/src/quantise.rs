//! The integer stage: a [`Network`] to 8-bit layers ([`quantise`]), calibrated on the
//! training rows, and the host reference of their arithmetic ([`Quantised::predict`]),
//! written from `runtime/FORMAT.md` apart from the runtime's kernels.
//!
//! Per node (output row) `o` of a layer whose inputs `i` arrive as codes `a_i` of real value
//! `(a_i − z_i)·s_i`: the weights `w_oi·s_i` (input scales folded in) get one symmetric scale
//! `σ_o = max_i |w_oi·s_i| / 127` (at least `|b_o| / 2^23`, so the bias fits), codes
//! `q_oi = round(w_oi·s_i / σ_o)` ([`Rounding::Nearest`]; [`Rounding::Refit`] first fits
//! the weights to the codes the layer reads and rounds them with error feedback,
//! [`crate::rounding`]), and the sum `S_o = B_o + Σ_i q_oi·a_i` with
//! `B_o = round(b_o / σ_o − Σ_i q_oi·z_i)` is the pre-activation in units of `σ_o`. The
//! node's own output scale is calibrated on the training rows (relu: its largest value / 255;
//! identity: its largest magnitude / 127 around code 128; tanh and sigmoid fixed by the
//! format), so every node uses its own full 8-bit range; the next layer folds these scales
//! into its weights as above. Inputs are calibrated the same way, per input, on their
//! training range less a tail of rows on each side ([`INPUT_TAILS`]; its least value at
//! code 0, so an input's zero `z_i` is real; an input whose values lie on a lattice of at
//! most 256 points gets its whole range and a step on which each is a code), and that map,
//! with the standardisation, becomes each input's integer code map
//! ([`InputCodes`]). A classifier's output layer requantises to logits in units of 2^−8
//! for the format's integer softmax; when a node's logits need a coarser step, the output
//! layer stays f32 and the layer before it dequantises.

use spikeslab_runtime::{self as rt, Activation, Task};

use crate::data::Table;
use crate::network::{Layer, Network};
use crate::rounding::Refit;

/// How an integer layer's sums leave it.
#[derive(Clone, Debug, PartialEq)]
pub enum Rescale {
    /// Into the next integer layer's codes: multiplier and shift per node.
    Requantise {
        /// Multipliers.
        mult: Vec<u16>,
        /// Shifts, within [`rt::INT8_SHIFTS`].
        shift: Vec<u8>,
    },
    /// Into f32: `z = S · scale` per node.
    Dequantise(Vec<f32>),
}

/// One integer layer.
#[derive(Clone, Debug, PartialEq)]
pub struct QLayer {
    /// Activation.
    pub activation: Activation,
    /// Row-major `out × in` weight codes in `[−127, 127]`; 0 is no edge.
    pub codes: Vec<i8>,
    /// Sum offsets `B_o`.
    pub bias: Vec<i32>,
    /// What the sums become.
    pub rescale: Rescale,
    /// The weights' posterior in f32 for `predict_dist`, when the f32 layer has one.
    pub posterior: Option<QPosterior>,
}

/// An integer layer's posterior (the runtime's `Int8Posterior`): weight `(o, i)` stands for
/// `scale[o]·q_oi·unit[i]`, with variance `(scale[o]·unit[i])²·code_variance[o, i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct QPosterior {
    /// The bias each node's sum starts from, in real units: `σ_o·round(b_o / σ_o)`.
    pub bias: Vec<f32>,
    /// `σ_o`.
    pub scale: Vec<f32>,
    /// `1 / s_i`: real value of one code step of each input, inverted.
    pub unit: Vec<f32>,
    /// The biases' posterior variances.
    pub bias_variance: Vec<f32>,
    /// Row-major `out × in` variances of the codes (0 where an edge is pruned), each one of
    /// `table`'s.
    pub code_variance: Vec<f32>,
    /// The layer's 16 variances ([`rt::VarianceFormat::Table4`]).
    pub table: Vec<f32>,
    /// Row-major `out × in`: the entry of `table` that is each code's variance.
    pub code: Vec<u8>,
}

/// A layer's variances as 4-bit codes into a table of [`rt::TABLE4`]: the positive ones
/// clustered in the log domain (Lloyd's algorithm from their quantiles, each entry the
/// geometric mean of its cluster), 0 kept exact in an entry of its own when it occurs.
/// Returns the table and each value's entry.
pub fn table4(values: &[f32]) -> (Vec<f32>, Vec<u8>) {
    let zero = values.iter().any(|&v| v <= 0.0);
    let all: Vec<f64> = values
        .iter()
        .filter(|&&v| v > 0.0)
        .map(|&v| f64::from(v).ln())
        .collect();
    let mut logs = all.clone();
    logs.sort_by(f64::total_cmp);
    logs.dedup();
    let levels = (rt::TABLE4 - usize::from(zero)).min(logs.len());
    let mut centres: Vec<f64> = (0..levels)
        .map(|i| logs[(2 * i + 1) * logs.len() / (2 * levels)])
        .collect();
    let nearest = |centres: &[f64], x: f64| {
        let above = centres.partition_point(|&c| c < x);
        match (above.checked_sub(1), centres.get(above)) {
            (Some(below), Some(&c)) if c - x < x - centres[below] => above,
            (Some(below), _) => below,
            (None, _) => 0,
        }
    };
    for _ in 0..50 {
        let mut sum = vec![(0.0, 0usize); levels];
        for &x in &all {
            let c = &mut sum[nearest(&centres, x)];
            *c = (c.0 + x, c.1 + 1);
        }
        let next: Vec<f64> = (sum.iter().zip(&centres))
            .map(|(&(s, n), &c)| if n == 0 { c } else { s / n as f64 })
            .collect();
        if next == centres {
            break;
        }
        centres = next;
    }
    let offset = usize::from(zero);
    let mut table = vec![0.0f32; rt::TABLE4];
    for (t, &c) in table[offset..].iter_mut().zip(&centres) {
        *t = c.exp() as f32;
    }
    // `all` holds the logs of the positive values, in their order.
    let mut positive = all.iter();
    let codes = values
        .iter()
        .map(|&v| {
            if v > 0.0 {
                positive
                    .next()
                    .map_or(0, |&x| (offset + nearest(&centres, x)) as u8)
            } else {
                0
            }
        })
        .collect();
    (table, codes)
}

impl QLayer {
    /// Nodes.
    pub fn width(&self) -> usize {
        self.bias.len()
    }

    /// Non-zero codes.
    pub fn edges(&self) -> usize {
        self.codes.iter().filter(|&&c| c != 0).count()
    }

    /// The exact sums `S_o = B_o + Σ_i q_oi·a_i` for input codes `a`.
    fn sums(&self, a: &[i64]) -> Vec<i64> {
        self.bias
            .iter()
            .zip(self.codes.chunks(a.len().max(1)))
            .map(|(&b, row)| {
                let dot: i64 = row.iter().zip(a).map(|(&q, &a)| i64::from(q) * a).sum();
                i64::from(b) + dot
            })
            .collect()
    }
}

/// The next layer's codes from a layer's sums: `r = ⌊(S·m + 2^(k−1)) / 2^k⌋`, then the
/// activation's code.
fn requantised(act: Activation, mult: &[u16], shift: &[u8], sums: &[i64]) -> Vec<i64> {
    sums.iter()
        .zip(mult.iter().zip(shift))
        .map(|(&s, (&m, &k))| code_of(act, (s * i64::from(m) + (1i64 << (k - 1))) >> k))
        .collect()
}

/// The stored map from each read input to its 8-bit code (`runtime/FORMAT.md`), one entry
/// per input in each array.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InputCodes {
    /// `C`.
    pub offset: Vec<i32>,
    /// `q`.
    pub mult: Vec<u16>,
    /// `k`.
    pub shift: Vec<u8>,
    /// `g`.
    pub exp: Vec<i8>,
}

impl InputCodes {
    /// The code of input `j` for the raw value `x` as the format defines it, in i64 (`None`
    /// for NaN and ±∞): `X = ±⌊|x|·2^g⌋` (0 or 255 by sign from `2^29` on), then
    /// `clamp(⌊((X − C)·q + 2^(k−1)) / 2^k⌋, 0, 255)`.
    pub fn code(&self, j: usize, x: f32) -> Option<i64> {
        if !x.is_finite() {
            return None;
        }
        let scaled = f64::from(x.abs()) * 2f64.powi(i32::from(self.exp[j]));
        if scaled >= f64::from(1u32 << 29) {
            return Some(if x < 0.0 { 0 } else { 255 });
        }
        // x·2^g below 2^29 is its significand shifted: the cast truncates exactly.
        let magnitude = scaled as i64;
        let v = if x < 0.0 { -magnitude } else { magnitude } - i64::from(self.offset[j]);
        let k = self.shift[j];
        Some(((v * i64::from(self.mult[j]) + (1i64 << (k - 1))) >> k).clamp(0, 255))
    }

    /// Appends the map of codes `≈ (x − mean)·scale + ½`; false when the format cannot hold
    /// it (a mean over about 2.6·10^5 code spans from zero).
    fn push(&mut self, mean: f64, scale: f64) -> bool {
        let Some((o, m, k, g)) = rt::input_coder(mean, scale) else {
            return false;
        };
        self.offset.push(o);
        self.mult.push(m);
        self.shift.push(k);
        self.exp.push(g);
        true
    }
}

/// A network whose first layers are integer ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantised {
    /// The network it was made from: inputs, names, output map, and the f32 layers that
    /// follow the integer ones.
    pub network: Network,
    /// Each read input's code, `≈ clamp(⌊(x − mean)·scale + ½⌋, 0, 255)` with the
    /// standardisation and the codes' scale and zero point folded into `mean` and `scale`.
    pub input_codes: InputCodes,
    /// The integer layers, the first of the network's layers.
    pub layers: Vec<QLayer>,
}

impl Quantised {
    /// The network's layers after the integer ones, in f32.
    pub fn rest(&self) -> &[Layer] {
        &self.network.layers[self.layers.len()..]
    }

    /// The f32 network whose integer layers hold their weights as the codes stand for them
    /// (`σ_o·q_oi·(1/s_i)`, the bias `σ_o·round(b_o/σ_o)`) with the stored variances: the
    /// network whose moments the integer model's `predict_dist` propagates. `None` without
    /// a posterior.
    pub fn dequantised(&self) -> Option<Network> {
        let mut net = self.network.clone();
        for (l, q) in net.layers.iter_mut().zip(&self.layers) {
            let p = q.posterior.as_ref()?;
            let n = p.unit.len();
            let real = |o: usize, i: usize| f64::from(p.scale[o]) * f64::from(p.unit[i]);
            l.weights = (0..q.codes.len())
                .map(|k| (f64::from(q.codes[k]) * real(k / n, k % n)) as f32)
                .collect();
            l.bias.clone_from(&p.bias);
            l.variance = Some(crate::network::Variance {
                weights: (0..q.codes.len())
                    .map(|k| (f64::from(p.code_variance[k]) * real(k / n, k % n).powi(2)) as f32)
                    .collect(),
                bias: p.bias_variance.clone(),
                table: None,
            });
        }
        Some(net)
    }

    /// The outputs for one raw feature row, computed as `runtime/FORMAT.md` specifies the
    /// integer layers (exact integers, i64), with the runtime's own f32 functions for the
    /// dequantised tail, so they are the runtime's outputs bit for bit.
    pub fn predict(&self, row: &[f32]) -> Vec<f32> {
        let net = &self.network;
        let outputs = net.layers.last().map_or(0, Layer::width);
        let mut codes = Vec::with_capacity(net.inputs.len());
        for (k, &j) in net.inputs.iter().enumerate() {
            match self.input_codes.code(k, row[j]) {
                Some(code) => codes.push(code),
                None => return vec![f32::NAN; outputs],
            }
        }
        let mut z: Vec<f32> = Vec::new();
        let classifier = net.task == Task::Classification;
        for (index, l) in self.layers.iter().enumerate() {
            let output = index + 1 == net.layers.len();
            let sums = l.sums(&codes);
            match &l.rescale {
                Rescale::Requantise { mult, shift } if output && classifier => {
                    let r: Vec<i64> = sums
                        .iter()
                        .zip(mult.iter().zip(shift))
                        .map(|(&s, (&m, &k))| (s * i64::from(m) + (1i64 << (k - 1))) >> k)
                        .collect();
                    return softmax_q(&r);
                }
                Rescale::Requantise { mult, shift } => {
                    codes = requantised(l.activation, mult, shift, &sums);
                }
                Rescale::Dequantise(scale) => {
                    z = sums
                        .iter()
                        .zip(scale)
                        .map(|(&s, &d)| s as i32 as f32 * d)
                        .collect();
                    rt::math::activate(l.activation, &mut z);
                }
            }
        }
        for l in self.rest() {
            let n = z.len();
            let mut next: Vec<f32> = l
                .bias
                .iter()
                .zip(l.weights.chunks(n.max(1)))
                .map(|(&b, row)| row.iter().zip(&z).fold(b, |s, (&w, &x)| s + w * x))
                .collect();
            rt::math::activate(l.activation, &mut next);
            z = next;
        }
        match net.task {
            Task::Regression => {
                let (m, s) = net.target;
                z.iter_mut().for_each(|v| *v = *v * s + m);
            }
            Task::Classification => rt::math::softmax(&mut z),
        }
        z
    }

    /// [`Quantised::predict`] for every row of a raw table, flat.
    pub fn outputs(&self, t: &Table) -> Vec<f32> {
        (0..t.rows()).flat_map(|i| self.predict(t.row(i))).collect()
    }
}

/// `127·tanh(r / 1024)` as the format's table and interpolation define it, the table built
/// here from f64.
fn tanh_q(r: i64) -> i64 {
    let t = |k: i64| (32512.0 * (k as f64 / 16.0).tanh()).round() as i64;
    let m = r.abs();
    let i = m >> 6;
    let v = if i >= 64 {
        return 127 * r.signum();
    } else {
        t(i) + (((t(i + 1) - t(i)) * (m & 63)) >> 6)
    };
    let q = (v + 128) >> 8;
    if r < 0 { -q } else { q }
}

/// The code of a requantised sum after `act` (`runtime/FORMAT.md`).
fn code_of(act: Activation, r: i64) -> i64 {
    match act {
        Activation::Relu => r.clamp(0, 255),
        Activation::Identity => (r + 128).clamp(0, 255),
        Activation::Tanh => 128 + tanh_q(r),
        Activation::Sigmoid => 127 + tanh_q(r),
    }
}

/// Probabilities from logits `r` in units of 2^−8 by the format's integer softmax (i64, its
/// table built here from f64), the last steps in f32 as the runtime does them.
fn softmax_q(r: &[i64]) -> Vec<f32> {
    let table = |j: u64| (65536.0 * 2f64.powf(-(j as f64) / 64.0)).round() as u64;
    let max = r.iter().copied().max().unwrap_or(0);
    let e: Vec<u64> = r
        .iter()
        .map(|&rk| {
            let t = (max - rk) as u64;
            if t > 3072 {
                return 0;
            }
            let v = (t * 47_274 + (1 << 14)) >> 15;
            let j = (v % 256) / 4;
            let e = table(j) - ((table(j) - table(j + 1)) * (v % 4)) / 4;
            if v / 256 >= 64 { 0 } else { e >> (v / 256) }
        })
        .collect();
    let inv = 1.0 / e.iter().sum::<u64>() as f32;
    e.iter().map(|&v| v as f32 * inv).collect()
}

/// Real value of one code step and the code of real 0 of a layer's outputs, for the next
/// layer (an input's zero need not be a whole code: the layer's sum offsets fold it in).
#[derive(Clone, Debug)]
struct Codes {
    scale: Vec<f64>,
    zero: Vec<f64>,
}

/// The finest step `(hi − lo) / K`, `K ≤ 255`, on whose grid from `lo` every one of
/// `values` lies (within 10^−3 of a step): an input that takes a few values on a lattice
/// (a switch, a setting, a coarse reading) is then coded exactly. `None` when there is no
/// such grid, or more than 256 distinct values.
fn lattice(values: impl Iterator<Item = f64>, lo: f64, hi: f64) -> Option<f64> {
    let mut distinct: Vec<f64> = Vec::new();
    for v in values {
        if !distinct.contains(&v) {
            if distinct.len() == 256 {
                return None;
            }
            distinct.push(v);
        }
    }
    (1..=255u32).rev().find_map(|k| {
        let step = (hi - lo) / f64::from(k);
        let on = |v: &f64| {
            let n = (v - lo) / step;
            (n - n.round()).abs() < 1e-3
        };
        (step > 0.0 && distinct.iter().all(on)).then_some(step)
    })
}

/// The fractions of the training rows that an input's codes may leave outside their range on
/// each side, for [`quantise`]'s `input_tail`: the compiler keeps the one whose integer network
/// is nearest f32 on the validation rows. A heavy-tailed input spends most of its 256 codes
/// on a few rows over its whole range; those rows' codes saturate at 0 or 255 instead.
pub const INPUT_TAILS: [f64; 3] = [0.0, 1e-4, 1e-3];

/// The range of `values` (0 included) less the `tail` fraction of them on each side: with
/// `n` values sorted, from the `⌊tail·n⌋`-th least to the `⌊tail·n⌋`-th greatest (counted
/// from 0); the whole range for `tail` 0.
fn within_tails(values: impl Iterator<Item = f64>, tail: f64) -> (f64, f64) {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let Some(last) = v.len().checked_sub(1) else {
        return (0.0, 0.0);
    };
    let k = ((v.len() as f64 * tail) as usize).min(last);
    (v[k].min(0.0), v[last - k].max(0.0))
}

/// How a layer's real weights become codes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rounding {
    /// Each weight to its nearest code.
    Nearest,
    /// Refitted to the codes the layer reads, then rounded with error feedback, with this
    /// damping ([`crate::rounding`]).
    Refit(f64),
}

/// Quantises at most the first `layers` layers of `net` (module docs), calibrated on `rows`:
/// standardised values of its inputs, row-major. Layers stay integer up to the first whose
/// requantisation cannot be represented (a tanh or sigmoid layer after sums too coarse for
/// its 2^−10 input step): that layer dequantises, and the rest stay f32. With
/// [`Rounding::Refit`] each layer's weights are fitted to the codes its inputs take on
/// `rows` in the integer layers before it, so it makes up for their rounding as it can.
pub fn quantise(
    net: &Network,
    rows: &[f32],
    layers: usize,
    rounding: Rounding,
    input_tail: f64,
) -> Quantised {
    let int_layers = layers.clamp(1, net.layers.len());
    let n = net.inputs.len();
    let count = rows.len() / n.max(1);
    // The f32 network's activations (and, per layer, pre-activations: the refit's
    // targets) on the training rows, layer by layer, in f64.
    let mut acts: Vec<Vec<f64>> = vec![rows.iter().map(|&v| f64::from(v)).collect()];
    let mut pres: Vec<Vec<f64>> = Vec::new();
    for l in &net.layers {
        let prev = acts.last().map(Vec::as_slice).unwrap_or_default();
        let width_in = prev.len() / count.max(1);
        let mut out = Vec::with_capacity(count * l.width());
        let mut pre = Vec::with_capacity(count * l.width());
        for x in prev.chunks(width_in.max(1)) {
            for (row, &b) in l.weights.chunks(width_in.max(1)).zip(&l.bias) {
                let s = f64::from(b)
                    + row
                        .iter()
                        .zip(x)
                        .map(|(&w, &v)| f64::from(w) * v)
                        .sum::<f64>();
                pre.push(s);
                out.push(f64::from(crate::network::act_host(s as f32, l.activation)));
            }
        }
        acts.push(out);
        pres.push(pre);
    }
    let range = |values: &[f64], width: usize, j: usize| {
        values
            .iter()
            .skip(j)
            .step_by(width.max(1))
            .fold((0f64, 0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)))
    };
    // Inputs: per input, codes 0..=255 over its training range (0 included), less `input_tail`
    // of the rows on each side.
    let mut input = Codes {
        scale: Vec::new(),
        zero: Vec::new(),
    };
    let mut input_codes = InputCodes::default();
    for j in 0..n {
        let (lo, hi) = range(&acts[0], n, j);
        let (m, k) = (
            f64::from(net.input_mean[j]),
            1.0 / f64::from(net.input_std[j]),
        );
        // code = (x − m)·k / s + zero: the raw value's map, mean and scale folded, the
        // training range less its tails on codes 0 to 255 (or the whole range on a
        // lattice's points); the step s doubles until the format holds the map (only for
        // inputs far from zero).
        let column = acts[0].iter().skip(j).step_by(n.max(1)).copied();
        let (lo, step) = match lattice(column.clone(), lo, hi) {
            Some(step) => (lo, step),
            None => {
                let (lo, hi) = within_tails(column, input_tail);
                (lo, ((hi - lo) / 255.0).max(1e-6))
            }
        };
        let mut s = step;
        while !input_codes.push(m + lo / k, k / s) {
            s *= 2.0;
        }
        input.scale.push(s);
        input.zero.push(-lo / s);
    }
    let mut codes = input;
    // The training rows as the integer layers see them: each layer's input codes.
    let mut seen: Vec<i64> = rows
        .chunks(n.max(1))
        .flat_map(|row| {
            row.iter().enumerate().map(|(j, &v)| {
                let raw = v * net.input_std[j] + net.input_mean[j];
                input_codes.code(j, raw).unwrap_or(0)
            })
        })
        .collect();
    let mut layers: Vec<QLayer> = Vec::new();
    let mut previous_sigma: Vec<f64> = Vec::new();
    for (l, layer) in net.layers.iter().enumerate().take(int_layers) {
        let width = layer.width();
        let in_width = codes.scale.len();
        // A classifier's integer output layer requantises to logits in units of 2^−8.
        let logits = l + 1 == net.layers.len() && net.task == Task::Classification;
        let next_int8 = l + 1 < int_layers || logits;
        let mut q = QLayer {
            activation: layer.activation,
            codes: Vec::with_capacity(width * in_width),
            bias: Vec::with_capacity(width),
            rescale: Rescale::Dequantise(Vec::new()),
            posterior: None,
        };
        let mut sigma = Vec::with_capacity(width);
        let mut real_bias = Vec::with_capacity(width);
        let centred: Vec<f64> = seen
            .chunks(in_width.max(1))
            .flat_map(|a| a.iter().zip(&codes.zero).map(|(&a, &z)| a as f64 - z))
            .collect();
        let mut refit = match rounding {
            Rounding::Nearest => None,
            Rounding::Refit(d) => Some(Refit::new(&centred, &codes.scale, d)),
        };
        for (o, (row, &b)) in layer
            .weights
            .chunks(in_width.max(1))
            .zip(&layer.bias)
            .enumerate()
        {
            let keep: Vec<usize> = (0..in_width).filter(|&i| row[i] != 0.0).collect();
            let start: Vec<f64> = keep
                .iter()
                .map(|&i| f64::from(row[i]) * codes.scale[i])
                .chain([f64::from(b)])
                .collect();
            let target: Vec<f64> = pres[l]
                .iter()
                .skip(o)
                .step_by(width.max(1))
                .copied()
                .collect();
            let fitted = refit.as_mut().and_then(|r| r.fit(&keep, &start, &target));
            let w = fitted.as_deref().unwrap_or(&start);
            let (max, b) = (
                w[..keep.len()].iter().fold(0f64, |m, v| m.max(v.abs())),
                w[keep.len()],
            );
            let bias_floor = b.abs() / f64::from(1u32 << 23);
            // With a posterior, a code's sd stays within 2^20 steps (only a row whose
            // weights are all near 0 meets this floor).
            let sd_floor = layer.variance.as_ref().map_or(0.0, |v| {
                let row = &v.weights[o * in_width..(o + 1) * in_width];
                row.iter()
                    .zip(&codes.scale)
                    .fold(0f64, |m, (&var, &s)| m.max(f64::from(var).sqrt() * s))
                    / f64::from(1u32 << 20)
            });
            let sg = (max / 127.0).max(bias_floor).max(sd_floor).max(1e-30);
            let rounded = refit.as_mut().and_then(|r| r.round(&keep, w.to_vec(), sg));
            let (kept_codes, b) = rounded.unwrap_or_else(|| {
                let plain = w[..keep.len()].iter();
                let plain = plain.map(|v| (v / sg).round().clamp(-127.0, 127.0) as i8);
                (plain.collect(), b)
            });
            let mut row_codes = vec![0i8; in_width];
            for (&i, &c) in keep.iter().zip(&kept_codes) {
                row_codes[i] = c;
            }
            let folded: f64 = row_codes
                .iter()
                .zip(&codes.zero)
                .map(|(&c, &z)| f64::from(c) * z)
                .sum();
            let bound = f64::from(rt::MAX_INT8_BIAS);
            let bias = (b / sg - folded).round().clamp(-bound, bound);
            q.bias.push(bias as i32);
            real_bias.push(((bias + folded) * sg) as f32);
            q.codes.extend(row_codes);
            sigma.push(sg);
        }
        let mut next = Codes {
            scale: Vec::with_capacity(width),
            zero: Vec::with_capacity(width),
        };
        let mut requant = next_int8.then(|| (Vec::new(), Vec::new()));
        for (o, &sg) in sigma.iter().enumerate() {
            let Some((mult, shift)) = requant.as_mut() else {
                break;
            };
            let (lo, hi) = range(&acts[l + 1], width, o);
            let (target, scale, zero) = match layer.activation {
                _ if logits => (1.0 / 256.0, 0.0, 0.0),
                Activation::Relu => {
                    let s = (hi / 255.0).max(sg * 2.5);
                    (s, s, 0.0)
                }
                Activation::Identity => {
                    let s = (lo.abs().max(hi) / 127.0).max(sg * 2.5);
                    (s, s, 128.0)
                }
                Activation::Tanh => (1.0 / 1024.0, 1.0 / 127.0, 128.0),
                Activation::Sigmoid => (1.0 / 512.0, 1.0 / 254.0, 0.0),
            };
            match rt::requantiser(sg / target) {
                Some((m, k)) => {
                    mult.push(m);
                    shift.push(k);
                    next.scale.push(scale);
                    next.zero.push(zero);
                }
                None => requant = None,
            }
        }
        let stop = requant.is_none();
        if stop && logits {
            // Logits too coarse for 2^−8 steps: the output layer stays f32, and the layer
            // before it dequantises.
            if let Some(prev) = layers.last_mut() {
                prev.rescale =
                    Rescale::Dequantise(previous_sigma.iter().map(|&s| s as f32).collect());
            }
            break;
        }
        q.rescale = match requant {
            Some((mult, shift)) => Rescale::Requantise { mult, shift },
            None => Rescale::Dequantise(sigma.iter().map(|&s| s as f32).collect()),
        };
        q.posterior = layer.variance.as_ref().map(|v| {
            let exact: Vec<f32> = v
                .weights
                .iter()
                .enumerate()
                .map(|(k, &var)| {
                    let r = codes.scale[k % in_width.max(1)] / sigma[k / in_width.max(1)];
                    (f64::from(var) * r * r) as f32
                })
                .collect();
            let (table, code) = table4(&exact);
            QPosterior {
                bias: real_bias.clone(),
                scale: sigma.iter().map(|&s| s as f32).collect(),
                unit: codes.scale.iter().map(|&s| (1.0 / s) as f32).collect(),
                bias_variance: v.bias.clone(),
                code_variance: code.iter().map(|&c| table[usize::from(c)]).collect(),
                table,
                code,
            }
        });
        layers.push(q);
        if stop {
            break;
        }
        if let Some(Rescale::Requantise { mult, shift }) = layers.last().map(|q| &q.rescale) {
            let q = &layers[layers.len() - 1];
            seen = seen
                .chunks(in_width.max(1))
                .flat_map(|a| requantised(q.activation, mult, shift, &q.sums(a)))
                .collect();
        }
        codes = next;
        previous_sigma = sigma;
    }
    Quantised {
        network: net.clone(),
        input_codes,
        layers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::fixture;

    /// The fixture as a two-class classifier whose output weights are scaled by `gain`.
    fn classifier(gain: f32) -> Network {
        let mut net = fixture();
        net.task = Task::Classification;
        net.noise = None;
        net.classes = vec![0.0, 1.0];
        net.layers[1] = Layer {
            activation: Activation::Identity,
            weights: [1.0, 0.5, -1.0, 0.25].map(|w| w * gain).to_vec(),
            bias: vec![0.2, -0.1],
            variance: None,
        };
        net
    }

    /// The f32 network's probabilities for a standardised row.
    fn forward(net: &Network, row: &[f32]) -> Vec<f32> {
        let mut z = row.to_vec();
        for l in &net.layers {
            z = l
                .weights
                .chunks(z.len())
                .zip(&l.bias)
                .map(|(w, &b)| {
                    let s = w.iter().zip(&z).fold(b, |s, (&w, &x)| s + w * x);
                    crate::network::act_host(s, l.activation)
                })
                .collect();
        }
        rt::math::softmax(&mut z);
        z
    }

    fn rows() -> Vec<f32> {
        (0..60)
            .map(|i| ((i * 37) % 23) as f32 / 11.0 - 1.0)
            .collect()
    }

    #[test]
    fn a_classifier_gets_integer_logits_and_probabilities_near_f32() {
        let net = classifier(1.0);
        let q = quantise(&net, &rows(), 2, Rounding::Refit(0.01), 0.0);
        assert_eq!(q.layers.len(), 2);
        assert!(matches!(q.layers[1].rescale, Rescale::Requantise { .. }));
        for row in rows().chunks(3) {
            let raw: Vec<f32> = row
                .iter()
                .zip(net.input_mean.iter().zip(&net.input_std))
                .map(|(&z, (&m, &s))| z * s + m)
                .collect();
            let p = q.predict(&raw);
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{p:?}");
            let f = forward(&net, row);
            for (a, b) in p.iter().zip(&f) {
                assert!((a - b).abs() < 0.05, "{p:?} against {f:?}");
            }
        }
    }

    #[test]
    fn logits_too_coarse_for_their_step_keep_the_output_layer_in_f32() {
        let q = quantise(&classifier(1e4), &rows(), 2, Rounding::Refit(0.01), 0.0);
        assert_eq!(q.layers.len(), 1, "only the hidden layer stays integer");
        assert!(matches!(q.layers[0].rescale, Rescale::Dequantise(_)));
        assert_eq!(q.rest().len(), 1);
    }

    #[test]
    fn table4_keeps_zero_and_few_values_exact_and_spreads_its_levels() {
        let few = [0.0, 2.5, 1e-3, 0.0, 7.0, 2.5];
        let (table, code) = table4(&few);
        assert_eq!(table.len(), rt::TABLE4);
        for (&v, &c) in few.iter().zip(&code) {
            let t = table[usize::from(c)];
            assert!((t - v).abs() <= 1e-6 * v, "{v} coded as {t}");
        }
        assert_eq!(code[0], 0);
        // 1,000 values over six decades: 16 levels (no zero), each value within half a level
        // spacing, ln(10^6)/16/2 ≈ 0.43, of its entry in the log domain.
        let spread: Vec<f32> = (0..1000)
            .map(|i| 10f32.powf(-6.0 * (i as f32 * 0.618_034).fract()))
            .collect();
        let (table, code) = table4(&spread);
        assert!(table.iter().all(|&t| t > 0.0), "{table:?}");
        let worst = (spread.iter().zip(&code))
            .map(|(&v, &c)| (table[usize::from(c)].ln() - v.ln()).abs())
            .fold(0f32, f32::max);
        assert!(worst < 0.5, "{worst}");
    }

    #[test]
    fn inputs_on_a_lattice_get_exact_codes() {
        let glazing = [0.0, 0.1, 0.25, 0.4].into_iter().cycle().take(40);
        // On steps of 0.05: 8 of them, so 248 of 0.4/248.
        assert_eq!(lattice(glazing, 0.0, 0.4), Some(0.4 / 248.0));
        // From −3 on steps of 0.5: 14 of them, so 252.
        let v = [-3.0, 2.5, 4.0, -1.5];
        let step = lattice(v.into_iter(), -3.0, 4.0).unwrap();
        assert!((step - 7.0 / 252.0).abs() < 1e-15, "{step}");
        let spread = (0..100).map(|i| f64::from(i).sqrt());
        assert_eq!(lattice(spread, 0.0, 99f64.sqrt()), None);
        let many = (0..300).map(f64::from);
        assert_eq!(lattice(many, 0.0, 299.0), None, "more than 256 values");

        // Through the integer input map: every training value of a lattice input is coded
        // exactly on its grid point, from the raw f32.
        let mut net = fixture();
        net.input_mean = vec![0.2, 5.0, 0.0];
        net.input_std = vec![0.15, 2.0, 1.0];
        let raw = [0.0f32, 0.1, 0.25, 0.4];
        let rows: Vec<f32> = (0..40)
            .flat_map(|i| {
                let x = (raw[i % 4] - 0.2) / 0.15;
                [x, ((i % 7) as f32 - 3.0) / 3.0, 0.0]
            })
            .collect();
        for tail in INPUT_TAILS {
            let q = quantise(&net, &rows, 2, Rounding::Refit(0.01), tail);
            let codes: Vec<i64> = raw
                .iter()
                .map(|&x| q.input_codes.code(0, x).unwrap())
                .collect();
            assert_eq!(codes, [0, 62, 155, 248], "tail {tail}");
        }
    }

    #[test]
    fn tails_leave_out_that_fraction_of_rows_on_each_side() {
        let v = || (0..1000).map(|i| f64::from(i) - 200.0);
        assert_eq!(within_tails(v(), 0.0), (-200.0, 799.0));
        assert_eq!(within_tails(v(), 1e-3), (-199.0, 798.0));
        assert_eq!(within_tails(v(), 1e-2), (-190.0, 789.0));
        // 0 stays inside; fewer rows than one tail's worth leave nothing out.
        assert_eq!(within_tails([3.0, 5.0].into_iter(), 1e-3), (0.0, 5.0));
        assert_eq!(within_tails([-3.0, -1.0].into_iter(), 0.3), (-3.0, 0.0));
        assert_eq!(within_tails(std::iter::empty(), 0.5), (0.0, 0.0));
    }

    #[test]
    fn an_input_tail_gives_the_bulk_of_a_heavy_tailed_input_finer_codes() {
        // Input 0: 1,999 values within ±1 and one at 50; the others a spread.
        let rows: Vec<f32> = (0..2000)
            .flat_map(|i| {
                let x = if i == 7 {
                    50.0
                } else {
                    ((i % 200) as f32 - 99.5) / 100.0
                };
                [
                    x,
                    ((i % 13) as f32 - 6.1) / 3.0,
                    ((i % 17) as f32 - 8.3) / 4.0,
                ]
            })
            .collect();
        let whole = quantise(&fixture(), &rows, 2, Rounding::Nearest, 0.0);
        let tail = quantise(&fixture(), &rows, 2, Rounding::Nearest, 1e-3);
        let code = |q: &Quantised, x: f32| q.input_codes.code(0, x).unwrap();
        // Over the whole range a step is about 51/255 = 0.2; without the outlier, 2/255.
        assert!(code(&whole, 0.0) - code(&whole, -0.1) <= 1);
        assert!(code(&tail, 0.0) - code(&tail, -0.1) >= 12);
        // The outlier saturates instead.
        assert_eq!(code(&tail, 50.0), 255);
        assert_eq!(code(&whole, 50.0), 255);
        assert!(code(&tail, 2.0) == 255 && code(&whole, 2.0) < 20);
    }

    #[test]
    fn tanh_q_follows_the_format() {
        assert_eq!(tanh_q(0), 0);
        assert_eq!(tanh_q(4096), 127);
        assert_eq!(tanh_q(-100_000), -127);
        for r in -5000..5000 {
            assert_eq!(
                tanh_q(r) as i32,
                rt::math::tanh_q(r as i32),
                "the reference and the runtime's table disagree at {r}"
            );
        }
    }
}

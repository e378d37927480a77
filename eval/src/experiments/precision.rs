//! How many bits an integer model of each UCI set needs, and where it loses accuracy: the
//! emitted network (compiled with `uncertainty`, so each kept weight has a posterior sd) run
//! in f64 with one part at a time rounded to a grid of `b` bits (inputs, hidden outputs,
//! weights), against the compiler's own int8 model, and the bits each layer's posterior
//! says its weights need.
//!
//! The grids, by plain rounding to the nearest point (the compiler's int8 refits its weights
//! and codes lattice inputs exactly, so its own column is the better of the two at 8 bits):
//! - an input: `2^b − 1` steps over its training range;
//! - a hidden node's output: `2^b − 1` steps from 0 (relu) or its least value to its largest
//!   on the training rows;
//! - a row's weights: symmetric, `2^(b−1) − 1` steps each side of 0 up to the row's largest
//!   magnitude.
//!
//! The posterior's bits (Louizos, Ullrich & Welling 2017: the posterior variance tells how
//! finely a weight is known): the least `b` whose rounding noise, of sd `Δ/√12` with
//! `Δ = max|w| / (2^(b−1) − 1)`, is at most the row's posterior sd `σ̄` (the geometric mean
//! over its kept weights): `b = 1 + log2(1 + max|w| / (√12·σ̄))`, averaged over a layer's rows.
//! A layer may be stored in 4 bits where that is at most 4 and its weights at 4 bits keep the
//! validation RMSE within 1% of f32's.

use std::path::Path;

use serde::Serialize;
use spikeslab_compiler::compile::{Compiled, quantise_within};
use spikeslab_compiler::dataset::{Part, Rows};
use spikeslab_compiler::evaluate::evaluate_quantised;
use spikeslab_compiler::network::{Layer, Network, act_host};
use spikeslab_compiler::tune::columns_of;
use spikeslab_runtime::Activation;

use super::uci::{SetRuns, each_set, spec};
use super::{Output, Stat, fit, table};

/// Bits of each simulated grid, in the table's order.
pub const VARIANTS: [(&str, Bits); 9] = [
    ("inputs 8", Bits::inputs(8)),
    ("inputs 12", Bits::inputs(12)),
    ("inputs 16", Bits::inputs(16)),
    ("hidden 8", Bits::hidden(8)),
    ("hidden 16", Bits::hidden(16)),
    ("weights 4", Bits::weights(4)),
    ("weights 8", Bits::weights(8)),
    ("all 8", Bits::all(8)),
    ("all 16", Bits::all(16)),
];

/// The bits of each part of a simulated integer model; 0 leaves it in f64.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Bits {
    /// Inputs.
    pub inputs: u32,
    /// Hidden nodes' outputs.
    pub hidden: u32,
    /// Every layer's weights.
    pub weights: u32,
}

impl Bits {
    const fn inputs(b: u32) -> Self {
        Self {
            inputs: b,
            hidden: 0,
            weights: 0,
        }
    }
    const fn hidden(b: u32) -> Self {
        Self {
            inputs: 0,
            hidden: b,
            weights: 0,
        }
    }
    const fn weights(b: u32) -> Self {
        Self {
            inputs: 0,
            hidden: 0,
            weights: b,
        }
    }
    const fn all(b: u32) -> Self {
        Self {
            inputs: b,
            hidden: b,
            weights: b,
        }
    }
}

/// One data set's figures, mean ± standard error over its splits.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// Data set folder.
    pub dataset: String,
    /// Test RMSE of the emitted f32 network (the target's scale).
    pub rmse: Stat,
    /// Test RMSE change of each of [`VARIANTS`], percent of f32's.
    pub change: Vec<Stat>,
    /// The compiler's int8 model's test RMSE change, percent, on the splits where it kept it.
    pub int8_change: Stat,
    /// Splits where the compiler kept int8 (its output within tolerance of f32's).
    pub int8_kept: usize,
    /// The posterior's bits per layer, first to last.
    pub rule_bits: Vec<Stat>,
    /// Layers (over all splits) whose posterior bits are at most 4.
    pub rule_4bit_layers: usize,
    /// Of those, the ones whose weights at 4 bits keep the validation RMSE within 1%.
    pub allowed_4bit_layers: usize,
    /// Their test RMSE change, percent (NaN when none).
    pub allowed_4bit_change: Stat,
    /// Bytes of weights saved by storing those layers in 4 bits instead of 8, per split.
    pub allowed_4bit_bytes: Stat,
    /// Layers in all.
    pub layers: usize,
    /// Splits run.
    pub splits: usize,
}

/// The training ranges the grids span: per input, and per hidden node of each layer.
struct Ranges {
    inputs: Vec<(f64, f64)>,
    hidden: Vec<Vec<(f64, f64)>>,
}

/// `v` on `steps` steps over `[lo, hi]`, clamped into it.
fn on_grid(v: f64, (lo, hi): (f64, f64), steps: f64) -> f64 {
    let step = (hi - lo) / steps;
    if step > 0.0 {
        lo + ((v - lo) / step).round().clamp(0.0, steps) * step
    } else {
        v
    }
}

/// A layer's weights, each row on the symmetric grid of `bits` bits (`bits` 0: as they are).
fn weights_on_grid(layer: &Layer, bits: u32) -> Vec<f64> {
    let n = layer.weights.len() / layer.width().max(1);
    let levels = f64::from((1u32 << bits.max(1)) / 2 - 1);
    layer
        .weights
        .chunks(n.max(1))
        .flat_map(|row| {
            let max = row.iter().fold(0f64, |m, &w| m.max(f64::from(w).abs()));
            row.iter().map(move |&v| {
                if bits == 0 || max == 0.0 {
                    f64::from(v)
                } else {
                    (f64::from(v) / max * levels).round() / levels * max
                }
            })
        })
        .collect()
}

/// `act(b + W·a)` of `layer` with the weights `w`, in f64 (the activation in f32, as the
/// runtime applies it).
fn layer_out(layer: &Layer, w: &[f64], a: &[f64]) -> Vec<f64> {
    w.chunks(a.len().max(1))
        .zip(&layer.bias)
        .map(|(row, &b)| {
            let s = f64::from(b) + row.iter().zip(a).map(|(&w, &x)| w * x).sum::<f64>();
            f64::from(act_host(s as f32, layer.activation))
        })
        .collect()
}

/// `net`'s standardised output for the standardised row `x` with the weights `w` (per layer,
/// [`weights_on_grid`]), the inputs and hidden outputs on the grids of `bits`.
fn forward(net: &Network, w: &[Vec<f64>], x: &[f32], bits: Bits, r: &Ranges) -> f64 {
    let grid = |b: u32| f64::from((1u32 << b) - 1);
    let mut a: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    if bits.inputs > 0 {
        for (v, &range) in a.iter_mut().zip(&r.inputs) {
            *v = on_grid(*v, range, grid(bits.inputs));
        }
    }
    let last = net.layers.len() - 1;
    for (l, (layer, w)) in net.layers.iter().zip(w).enumerate() {
        a = layer_out(layer, w, &a);
        if bits.hidden > 0 && l < last {
            for (v, &range) in a.iter_mut().zip(&r.hidden[l]) {
                *v = on_grid(*v, range, grid(bits.hidden));
            }
        }
    }
    a[0]
}

/// The ranges of the inputs and hidden outputs over the training rows `x` (row-major).
fn ranges(net: &Network, x: &[f32], d: usize) -> Ranges {
    let widen = |(lo, hi): (f64, f64), v: f64| (lo.min(v), hi.max(v));
    let empty = (f64::INFINITY, f64::NEG_INFINITY);
    let mut r = Ranges {
        inputs: vec![empty; d],
        hidden: net.layers.iter().map(|l| vec![empty; l.width()]).collect(),
    };
    let weights: Vec<Vec<f64>> = net.layers.iter().map(|l| weights_on_grid(l, 0)).collect();
    for row in x.chunks(d.max(1)) {
        let mut a: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
        for (range, &v) in r.inputs.iter_mut().zip(&a) {
            *range = widen(*range, v);
        }
        for (l, (layer, w)) in net.layers.iter().zip(&weights).enumerate() {
            a = layer_out(layer, w, &a);
            for (range, &v) in r.hidden[l].iter_mut().zip(&a) {
                *range = widen(*range, v);
            }
            if layer.activation == Activation::Relu {
                r.hidden[l].iter_mut().for_each(|range| range.0 = 0.0);
            }
        }
    }
    r
}

/// The posterior's bits of each layer (module docs); NaN for a layer without variances.
pub fn rule_bits(net: &Network) -> Vec<f64> {
    net.layers
        .iter()
        .map(|l| {
            let Some(v) = &l.variance else {
                return f64::NAN;
            };
            let n = l.weights.len() / l.width().max(1);
            let per_row: Vec<f64> = l
                .weights
                .chunks(n.max(1))
                .zip(v.weights.chunks(n.max(1)))
                .filter_map(|(row, var)| {
                    let logs: Vec<f64> = row
                        .iter()
                        .zip(var)
                        .filter(|&(&w, &s2)| w != 0.0 && s2 > 0.0)
                        .map(|(_, &s2)| 0.5 * f64::from(s2).ln())
                        .collect();
                    let max = row.iter().fold(0f64, |m, &w| m.max(f64::from(w).abs()));
                    (!logs.is_empty()).then(|| {
                        let sd = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
                        1.0 + (1.0 + max / (12f64.sqrt() * sd)).log2()
                    })
                })
                .collect();
            per_row.iter().sum::<f64>() / per_row.len() as f64
        })
        .collect()
}

/// The figures of one compiled split.
struct Split {
    rmse: f64,
    change: Vec<f64>,
    int8_change: Option<f64>,
    rule_bits: Vec<f64>,
    rule_4bit: usize,
    allowed: usize,
    allowed_change: f64,
    allowed_bytes: f64,
}

/// RMSE of `net` on `rows` (standardised target) with `bits` and `four`.
fn rmse(net: &Network, rows: &Rows, bits: Bits, four: &[bool], r: &Ranges) -> f64 {
    let w: Vec<Vec<f64>> = (net.layers.iter().enumerate())
        .map(|(l, layer)| weights_on_grid(layer, if four[l] { 4 } else { bits.weights }))
        .collect();
    let squared: f64 = rows
        .x
        .chunks(rows.d.max(1))
        .zip(&rows.y)
        .map(|(x, &y)| (forward(net, &w, x, bits, r) - f64::from(y)).powi(2))
        .sum();
    (squared / rows.len().max(1) as f64).sqrt()
}

fn run_split(dir: &Path, split: usize, hidden: usize) -> anyhow::Result<Split> {
    let mut s = spec(dir, split, hidden, None);
    s.network.uncertainty = true;
    let c: Compiled = fit(&s, false)?;
    let (net, data) = (&c.network, &c.data);
    let cols = columns_of(net, data);
    let part = |p: Part| -> anyhow::Result<Rows> {
        Ok(data
            .part(p)
            .ok_or_else(|| anyhow::anyhow!("split {split} has no {p:?} rows"))?
            .0
            .select(&cols))
    };
    let (train, valid, test) = (
        part(Part::Train)?,
        part(Part::Validation)?,
        part(Part::Test)?,
    );
    let r = ranges(net, &train.x, train.d);
    let none = vec![false; net.layers.len()];
    let f32_test = rmse(net, &test, Bits::default(), &none, &r);
    let f32_valid = rmse(net, &valid, Bits::default(), &none, &r);
    let change = |rows: &Rows, bits: Bits, four: &[bool], base: f64| {
        100.0 * (rmse(net, rows, bits, four, &r) / base - 1.0)
    };
    let bits = rule_bits(net);
    let candidates: Vec<bool> = bits.iter().map(|&b| b <= 4.0).collect();
    let allowed: Vec<bool> = candidates
        .iter()
        .enumerate()
        .map(|(l, &c)| {
            let mut four = none.clone();
            four[l] = true;
            c && change(&valid, Bits::default(), &four, f32_valid) <= 1.0
        })
        .collect();
    let saved: usize = net
        .layers
        .iter()
        .zip(&allowed)
        .filter(|&(_, &a)| a)
        .map(|(l, _)| l.weights.iter().filter(|&&w| w != 0.0).count() / 2)
        .sum();
    let int8_change = quantise_within(net, data, 1).ok().and_then(|(q, _)| {
        let emitted = c.report.metrics.emitted.test?.rmse()?;
        Some(100.0 * (evaluate_quantised(&q, data, Part::Test)?.rmse()? / emitted - 1.0))
    });
    Ok(Split {
        rmse: f32_test * f64::from(data.target.1),
        change: VARIANTS
            .iter()
            .map(|&(_, b)| change(&test, b, &none, f32_test))
            .collect(),
        int8_change,
        rule_4bit: candidates.iter().filter(|&&c| c).count(),
        allowed: allowed.iter().filter(|&&a| a).count(),
        allowed_change: if allowed.contains(&true) {
            change(&test, Bits::default(), &allowed, f32_test)
        } else {
            f64::NAN
        },
        allowed_bytes: saved as f64,
        rule_bits: bits,
    })
}

/// Runs the study over `splits` splits of each data set (all when `None`), `only` the named
/// data sets when given.
///
/// # Errors
/// An unknown data set, missing data (with the path), a compile or a write error.
pub fn precision(
    root: &Path,
    splits: Option<usize>,
    only: Option<&[&str]>,
    out: &Output,
    name: &str,
) -> anyhow::Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut rows = Vec::new();
    for SetRuns {
        set: (folder, label, _, _),
        runs,
        ..
    } in each_set(root, splits, only, run_split)?
    {
        let k = runs.len();
        let stat = |f: &dyn Fn(&Split) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>());
        let layers = runs.first().map_or(0, |s| s.rule_bits.len());
        let rec = Record {
            dataset: folder.into(),
            rmse: stat(&|s| s.rmse),
            change: (0..VARIANTS.len())
                .map(|i| stat(&|s| s.change[i]))
                .collect(),
            int8_change: stat(&|s| s.int8_change.unwrap_or(f64::NAN)),
            int8_kept: runs.iter().filter(|s| s.int8_change.is_some()).count(),
            rule_bits: (0..layers)
                .map(|l| stat(&|s| s.rule_bits.get(l).copied().unwrap_or(f64::NAN)))
                .collect(),
            rule_4bit_layers: runs.iter().map(|s| s.rule_4bit).sum(),
            allowed_4bit_layers: runs.iter().map(|s| s.allowed).sum(),
            allowed_4bit_change: stat(&|s| s.allowed_change),
            allowed_4bit_bytes: stat(&|s| s.allowed_bytes),
            layers: layers * k,
            splits: k,
        };
        let pct = |s: &Stat| {
            if s.mean.is_finite() {
                format!("{:+.2}", s.mean)
            } else {
                "–".into()
            }
        };
        let mut row = vec![
            label.to_string(),
            k.to_string(),
            rec.rmse.show_significant(3),
        ];
        row.extend(rec.change.iter().map(pct));
        row.push(format!(
            "{} ({} of {k})",
            pct(&rec.int8_change),
            rec.int8_kept
        ));
        row.push(
            rec.rule_bits
                .iter()
                .map(|b| format!("{:.1}", b.mean))
                .collect::<Vec<_>>()
                .join(" / "),
        );
        row.push(format!(
            "{} / {} of {}: {}, {:.0} B",
            rec.allowed_4bit_layers,
            rec.rule_4bit_layers,
            rec.layers,
            pct(&rec.allowed_4bit_change),
            rec.allowed_4bit_bytes.mean
        ));
        rows.push(row);
        records.push(rec);
    }
    let mut header = vec!["data set", "splits", "f32 test RMSE"];
    header.extend(VARIANTS.iter().map(|v| v.0));
    header.extend([
        "compiler's int8 (kept on)",
        "posterior's bits per layer",
        "4-bit layers: allowed / by the rule alone of all: test change, bytes saved",
    ]);
    let md = format!(
        "Test RMSE change (percent of the f32 network's) with one part of the network on a \
         grid of that many bits (plain rounding; `eval/src/experiments/precision.rs`), the \
         compiler's int8 model on the splits where it keeps it, and the bits the posterior \
         gives each layer.\n\n{}",
        table(&header, &rows)
    );
    out.write(name, &md, &records, None)?;
    Ok(records)
}

//! Random models built from the runtime's own [`Parts`], an f64 reference forward pass, and
//! aligned byte buffers: what the round-trip and robustness tests share (no compiler needed).

#![allow(dead_code)]

use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64;
use spikeslab_runtime::{
    Activation, CodeVariances, InputMap, Int8, Int8Posterior, Int8Weights, Layer, MAX_INT8_BIAS,
    MAX_LAYERS, Meta, Metric, Model, Names, Params, Parts, Rescale, Task, Text, Variances, Weights,
    dense_index, heapless, input_coder, requantiser,
};

/// Shape of a random model.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Regression or classification.
    pub task: Task,
    /// Raw feature count.
    pub features: usize,
    /// Read features.
    pub inputs: usize,
    /// Widths of all layers, the output layer last.
    pub widths: Vec<usize>,
    /// Fraction of edges kept.
    pub density: f64,
    /// Activation of the hidden layers.
    pub activation: Activation,
}

/// How layers are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// Dense or sparse, whichever takes fewer arena bytes.
    Smaller,
    /// Every layer dense.
    Dense,
}

/// An int8 input map, owned: offsets, multipliers, shifts, exponents.
pub type InputCodes = (Vec<i32>, Vec<u16>, Vec<u8>, Vec<i8>);

/// One layer, owned: the row-major matrix (pruned edges exactly 0) and both storages.
#[derive(Clone, Debug)]
pub struct Owned {
    /// Activation after the affine map.
    pub activation: Activation,
    /// Row-major `width × in_width` weights.
    pub rows: Vec<Vec<f32>>,
    /// Biases.
    pub bias: Vec<f32>,
    packed: Vec<f32>,
    row_len: Vec<u16>,
    cols: Vec<u8>,
    values: Vec<f32>,
    sparse: bool,
    /// The integer form of the layer, when it has one.
    pub int8: Option<OwnedQ>,
    /// Posterior variances: row-major per weight (0 where pruned), then per bias; stored
    /// as the weights are.
    pub variance: Option<OwnedVar>,
}

/// A layer's posterior variances, owned.
#[derive(Clone, Debug)]
pub struct OwnedVar {
    /// Row-major variance of each weight.
    pub rows: Vec<Vec<f32>>,
    /// Variance of each bias.
    pub bias: Vec<f32>,
    packed: Vec<f32>,
    values: Vec<f32>,
    /// As `table4` (table, then words of codes), dense and sparse.
    table4: Option<(Vec<f32>, Vec<f32>)>,
}

/// An integer layer's arrays, owned; its sparsity pattern is its f32 layer's.
#[derive(Clone, Debug)]
pub struct OwnedQ {
    /// Row-major weights in `[−127, 127]`.
    pub rows: Vec<Vec<i8>>,
    /// Sum offsets (bias with the input zero point folded in).
    pub bias: Vec<i32>,
    packed: Vec<u8>,
    values: Vec<i8>,
    /// Requantisation multipliers and shifts, or empty.
    pub mult: Vec<u16>,
    /// See `mult`.
    pub shift: Vec<u8>,
    /// Dequantisation scales, or empty.
    pub scale: Vec<f32>,
    /// Real value of one weight code step per node, with inputs in code steps (`σ_o`).
    pub sigma: Vec<f64>,
    /// Real value of one input code step.
    pub s_in: f64,
    /// The posterior for `predict_dist`, when the f32 layer has variances.
    pub posterior: Option<OwnedQPosterior>,
}

/// An integer layer's posterior arrays, owned (`Int8Posterior`): bias means, scales,
/// units and bias variances, then the code variances as the dense or the sparse storage
/// holds them.
#[derive(Clone, Debug)]
pub struct OwnedQPosterior {
    /// With the dense code variances.
    pub dense: Vec<f32>,
    /// With the sparse ones.
    pub sparse: Vec<f32>,
    /// Nodes.
    pub width: usize,
    /// Inputs.
    pub inputs: usize,
    /// Whether the code variances after the head are `table4` (16 entries, then the words
    /// of the codes), with this many stored weights, dense and sparse.
    pub table4: Option<(usize, usize)>,
}

/// `head` then `vars` as `table4`: 16 variances spread evenly from 0 to the largest, then
/// each variance's nearest entry, eight 4-bit codes a word; or, without `codes`, `head`
/// then each variance replaced by its entry (f32 variances of the same values).
fn table4(head: &[f32], vars: &[f32], codes: bool) -> Vec<f32> {
    let hi = vars.iter().copied().fold(0.0f32, f32::max);
    let table: Vec<f32> = (0..16).map(|j| hi * j as f32 / 15.0).collect();
    let code = |v: f32| {
        (0..16)
            .min_by(|&a, &b| (table[a] - v).abs().total_cmp(&(table[b] - v).abs()))
            .unwrap_or(0) as u32
    };
    if !codes {
        let values = vars.iter().map(|&v| table[code(v) as usize]);
        return head.iter().copied().chain(values).collect();
    }
    let words = vars.chunks(8).map(|c| {
        let bits = c
            .iter()
            .enumerate()
            .fold(0u32, |w, (j, &v)| w | code(v) << (4 * j));
        f32::from_bits(bits)
    });
    let out: Vec<f32> = head.iter().chain(&table).copied().chain(words).collect();
    out
}

impl Owned {
    /// `rows` stored as `store` says.
    pub fn new(activation: Activation, rows: Vec<Vec<f32>>, bias: Vec<f32>, store: Store) -> Self {
        let width = rows.len();
        let n = rows.first().map_or(0, Vec::len);
        let mut packed = vec![0.0; width * n];
        let (mut row_len, mut cols, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for (o, row) in rows.iter().enumerate() {
            let mut len = 0u16;
            for (i, &w) in row.iter().enumerate() {
                packed[dense_index(o, i, width, n)] = w;
                if w != 0.0 {
                    cols.push(u8::try_from(i).unwrap_or(u8::MAX));
                    values.push(w);
                    len += 1;
                }
            }
            row_len.push(len);
        }
        let pad = |b: usize| b.div_ceil(4) * 4;
        let sparse_bytes = pad(2 * width) + pad(values.len()) + 4 * values.len();
        let sparse = store == Store::Smaller && sparse_bytes < 4 * width * n && n <= 256;
        Self {
            activation,
            rows,
            bias,
            packed,
            row_len,
            cols,
            values,
            sparse,
            int8: None,
            variance: None,
        }
    }

    /// Attaches posterior variances: `rows` row-major (read where the weight is kept).
    pub fn set_variance(&mut self, rows: Vec<Vec<f32>>, bias: Vec<f32>) {
        let width = self.rows.len();
        let n = self.rows.first().map_or(0, Vec::len);
        let mut packed = vec![0.0; width * n];
        let mut values = Vec::new();
        for (o, (row, vrow)) in self.rows.iter().zip(&rows).enumerate() {
            for (i, (&w, &v)) in row.iter().zip(vrow).enumerate() {
                packed[dense_index(o, i, width, n)] = v;
                if w != 0.0 {
                    values.push(v);
                }
            }
        }
        self.variance = Some(OwnedVar {
            rows,
            bias,
            packed,
            values,
            table4: None,
        });
    }

    fn layer(&self) -> Layer<'_> {
        let params = match &self.int8 {
            None => Params::F32 {
                bias: &self.bias,
                weights: if self.sparse {
                    Weights::Sparse {
                        row_len: &self.row_len,
                        cols: &self.cols,
                        values: &self.values,
                    }
                } else {
                    Weights::Dense(&self.packed)
                },
                variance: self.variance.as_ref().map(|v| Variances {
                    bias: &v.bias,
                    weights: match &v.table4 {
                        None => CodeVariances::F32(if self.sparse { &v.values } else { &v.packed }),
                        Some((dense, sparse)) => {
                            let (table, words) =
                                if self.sparse { sparse } else { dense }.split_at(16);
                            CodeVariances::Table4 { table, words }
                        }
                    },
                }),
            },
            Some(q) => Params::Int8(Int8 {
                bias: &q.bias,
                weights: if self.sparse {
                    Int8Weights::Sparse {
                        row_len: &self.row_len,
                        cols: &self.cols,
                        values: &q.values,
                    }
                } else {
                    Int8Weights::Dense(&q.packed)
                },
                rescale: if q.scale.is_empty() {
                    Rescale::Requantise {
                        mult: &q.mult,
                        shift: &q.shift,
                    }
                } else {
                    Rescale::Dequantise(&q.scale)
                },
                posterior: q.posterior.as_ref().map(|p| {
                    let values = if self.sparse { &p.sparse } else { &p.dense };
                    match p.table4 {
                        None => Int8Posterior::new(values, p.width, p.inputs),
                        Some((dense, sparse)) => {
                            let stored = if self.sparse { sparse } else { dense };
                            Int8Posterior::with_table(values, p.width, p.inputs, stored)
                        }
                    }
                    .expect("its own arrays")
                }),
            }),
        };
        Layer {
            activation: self.activation,
            params,
        }
    }

    /// The integer form of this layer on input codes of real value `(a − zero) · s_in`,
    /// rescaled for `next` (the target scale of the requantised sums), or dequantised.
    fn quantise(&self, s_in: f64, zero: i32, next: Option<f64>) -> OwnedQ {
        let width = self.rows.len();
        let n = self.rows.first().map_or(0, Vec::len);
        let mut q = OwnedQ {
            rows: Vec::new(),
            bias: Vec::new(),
            packed: vec![128; width * n],
            values: Vec::new(),
            mult: Vec::new(),
            shift: Vec::new(),
            scale: Vec::new(),
            sigma: Vec::new(),
            s_in,
            posterior: None,
        };
        for (o, (row, &b)) in self.rows.iter().zip(&self.bias).enumerate() {
            let max = row.iter().fold(0f64, |m, &w| m.max(f64::from(w).abs()));
            let sw = if max > 0.0 { max / 127.0 } else { 1.0 / 127.0 };
            let codes: Vec<i8> = row
                .iter()
                .map(|&w| (f64::from(w) / sw).round().clamp(-127.0, 127.0) as i8)
                .collect();
            for (i, (&c, &w)) in codes.iter().zip(row).enumerate() {
                q.packed[dense_index(o, i, width, n)] = (i32::from(c) + 128) as u8;
                if w != 0.0 {
                    q.values.push(c);
                }
            }
            let folded = codes.iter().map(|&c| i64::from(c)).sum::<i64>() * i64::from(zero);
            let bound = i64::from(MAX_INT8_BIAS);
            let bias = ((f64::from(b) / (sw * s_in)).round() as i64 - folded).clamp(-bound, bound);
            q.bias.push(bias as i32);
            match next {
                Some(target) => {
                    let (m, k) = requantiser(sw * s_in / target).expect("factor below 1/2");
                    q.mult.push(m);
                    q.shift.push(k);
                }
                None => q.scale.push((sw * s_in) as f32),
            }
            q.rows.push(codes);
            q.sigma.push(sw * s_in);
        }
        q
    }

    /// The integer layer's posterior from the f32 layer's variances: weight `(o, i)` is
    /// `σ_o · w · (1 / s_in)` in real units, so its code's variance is `V / sw²`.
    fn attach_posterior(&mut self) {
        let (Some(q), Some(v)) = (self.int8.as_mut(), self.variance.as_ref()) else {
            return;
        };
        let width = self.rows.len();
        let n = self.rows.first().map_or(0, Vec::len);
        let mut var_packed = vec![0.0; width * n];
        let mut var_values = Vec::new();
        for (o, (row, vrow)) in self.rows.iter().zip(&v.rows).enumerate() {
            let sw = q.sigma[o] / q.s_in;
            for (i, (&w, &var)) in row.iter().zip(vrow).enumerate() {
                let code_var = (f64::from(var) / (sw * sw)) as f32;
                var_packed[dense_index(o, i, width, n)] = code_var;
                if w != 0.0 {
                    var_values.push(code_var);
                }
            }
        }
        let mut head = self.bias.clone();
        head.extend(q.sigma.iter().map(|&s| s as f32));
        head.extend(vec![(1.0 / q.s_in) as f32; n]);
        head.extend(&v.bias);
        q.posterior = Some(OwnedQPosterior {
            dense: [&head[..], &var_packed].concat(),
            sparse: [&head[..], &var_values].concat(),
            width,
            inputs: n,
            table4: None,
        });
    }

    /// The integer layer's code variances as `table4` (with `codes`), or as f32 of the
    /// table's values.
    fn posterior_table4(&mut self, codes: bool) {
        if let (None, Some(v)) = (&self.int8, self.variance.as_mut()) {
            if codes {
                v.table4 = Some((table4(&[], &v.packed, true), table4(&[], &v.values, true)));
            } else {
                (v.packed, v.values) =
                    (table4(&[], &v.packed, false), table4(&[], &v.values, false));
            }
            return;
        }
        let Some(p) = self.int8.as_mut().and_then(|q| q.posterior.as_mut()) else {
            return;
        };
        let head = 3 * p.width + p.inputs;
        let stored = (p.dense.len() - head, p.sparse.len() - head);
        p.dense = table4(&p.dense[..head], &p.dense[head..], codes);
        p.sparse = table4(&p.sparse[..head], &p.sparse[head..], codes);
        p.table4 = codes.then_some(stored);
    }

    /// The f32 layer whose weights are the integer layer's codes in real units.
    pub fn dequantised(&self) -> Self {
        let Some(q) = &self.int8 else {
            return self.clone();
        };
        let rows = q
            .rows
            .iter()
            .zip(&self.rows)
            .zip(&q.sigma)
            .map(|((codes, row), &s)| {
                codes
                    .iter()
                    .zip(row)
                    .map(|(&c, &w)| {
                        if w == 0.0 {
                            0.0
                        } else {
                            (f64::from(c) * s / q.s_in) as f32
                        }
                    })
                    .collect()
            })
            .collect();
        let store = if self.sparse {
            Store::Smaller
        } else {
            Store::Dense
        };
        let mut l = Self::new(self.activation, rows, self.bias.clone(), store);
        l.sparse = self.sparse;
        if let Some(v) = &self.variance {
            l.set_variance(v.rows.clone(), v.bias.clone());
        }
        l
    }
}

/// A model's arrays, owned.
#[derive(Clone, Debug)]
pub struct Net {
    /// Regression or classification.
    pub task: Task,
    /// Raw feature count.
    pub features: u16,
    /// Read features.
    pub inputs: Vec<u16>,
    /// Their means.
    pub mean: Vec<f32>,
    /// Their scales.
    pub scale: Vec<f32>,
    /// The int8 input map (offset, multiplier, shift, exponent per input) when the first
    /// layer is int8: codes `≈ (x − mean)·scale + ½`, clamped.
    pub codes: Option<InputCodes>,
    /// The standardisation (means, scales) before `int8` folded the codes' map into `mean`
    /// and `scale`.
    pub real: Option<(Vec<f32>, Vec<f32>)>,
    /// The layers.
    pub layers: Vec<Owned>,
    /// Regression: output means.
    pub output_mean: Vec<f32>,
    /// Regression: output scales.
    pub output_scale: Vec<f32>,
    /// Regression: noise standard deviations.
    pub noise_sd: Vec<f32>,
    /// The names of the inputs then of the outputs, stored.
    pub names: Vec<u8>,
    /// PIPs, or empty.
    pub pips: Vec<f32>,
    /// The model name.
    pub name: Vec<u8>,
    /// Metrics stored after the first, `seed = 1`.
    pub metrics: Vec<(&'static str, f32)>,
}

impl Net {
    /// A random model of `shape`: weights uniform in `±2/√in`, pruned edges exactly 0.
    pub fn random(shape: &Shape, seed: u64, store: Store) -> Self {
        let mut rng = Pcg64::seed_from_u64(seed);
        let mut inputs: Vec<u16> = (0..shape.features as u16).collect();
        while inputs.len() > shape.inputs {
            inputs.remove(rng.random_range(0..inputs.len()));
        }
        let mut in_width = inputs.len();
        let mut layers = Vec::new();
        for (k, &width) in shape.widths.iter().enumerate() {
            let gain = 2.0 / (in_width as f32).sqrt();
            let rows = (0..width)
                .map(|_| {
                    (0..in_width)
                        .map(|_| {
                            if rng.random_bool(shape.density) {
                                gain * (rng.random::<f32>() - 0.5) * 2.0
                            } else {
                                0.0
                            }
                        })
                        .collect()
                })
                .collect();
            let bias = (0..width).map(|_| rng.random::<f32>() - 0.5).collect();
            let act = if k + 1 == shape.widths.len() {
                Activation::Identity
            } else {
                shape.activation
            };
            layers.push(Owned::new(act, rows, bias, store));
            in_width = width;
        }
        let n = inputs.len();
        let regression = shape.task == Task::Regression;
        let names: Vec<String> = inputs
            .iter()
            .map(|i| format!("s{i}"))
            .chain((0..in_width).map(|k| format!("out{k}")))
            .collect();
        let mut stored = vec![0; names.iter().map(|n| n.len() + 1).sum()];
        Names::write(names.iter().map(String::as_str), &mut stored).expect("short names");
        Self {
            task: shape.task,
            features: shape.features as u16,
            mean: (0..n).map(|_| rng.random::<f32>() * 4.0 - 2.0).collect(),
            scale: (0..n).map(|_| 0.2 + rng.random::<f32>() * 2.0).collect(),
            codes: None,
            real: None,
            inputs,
            layers,
            output_mean: if regression {
                (0..in_width).map(|_| rng.random::<f32>() * 100.0).collect()
            } else {
                vec![]
            },
            output_scale: if regression {
                (0..in_width)
                    .map(|_| 0.5 + rng.random::<f32>() * 10.0)
                    .collect()
            } else {
                vec![]
            },
            noise_sd: if regression {
                (0..in_width).map(|_| 0.1 + rng.random::<f32>()).collect()
            } else {
                vec![]
            },
            names: stored,
            pips: Vec::new(),
            name: b"random".to_vec(),
            metrics: Vec::new(),
        }
    }

    /// The same model with its first `k` layers in integers: input codes of step 4/255 around
    /// zero point 128, relu codes of step 4/255, hidden identity codes of step 8/255 around
    /// 128, tanh and sigmoid at their fixed scales.
    pub fn int8(mut self, k: usize) -> Self {
        let (mut s_in, mut zero) = (4.0 / 255.0, 128);
        self.real = Some((self.mean.clone(), self.scale.clone()));
        for (m, sc) in self.mean.iter_mut().zip(self.scale.iter_mut()) {
            *m -= (f64::from(zero) * s_in / f64::from(*sc)) as f32;
            *sc = (f64::from(*sc) / s_in) as f32;
        }
        if k > 0 {
            let mut c = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (&m, &sc) in self.mean.iter().zip(&self.scale) {
                let (o, q, s, g) =
                    input_coder(f64::from(m), f64::from(sc)).expect("a codable input");
                c.0.push(o);
                c.1.push(q);
                c.2.push(s);
                c.3.push(g);
            }
            self.codes = Some(c);
        }
        for l in 0..k.min(self.layers.len()) {
            let act = self.layers[l].activation;
            let (target, next) = match act {
                Activation::Relu => (4.0 / 255.0, (4.0 / 255.0, 0)),
                Activation::Identity => (8.0 / 255.0, (8.0 / 255.0, 128)),
                Activation::Tanh => (1.0 / 1024.0, (1.0 / 127.0, 128)),
                Activation::Sigmoid => (1.0 / 512.0, (1.0 / 254.0, 0)),
            };
            let last = l + 1 == k.min(self.layers.len());
            let output = l + 1 == self.layers.len();
            // A classifier's integer output layer gives logits in units of 2^−8.
            let target = if output && self.task == Task::Classification {
                Some(1.0 / 256.0)
            } else {
                (!last).then_some(target)
            };
            let q = self.layers[l].quantise(s_in, zero, target);
            self.layers[l].int8 = Some(q);
            self.layers[l].attach_posterior();
            (s_in, zero) = next;
        }
        self
    }

    /// The f32 model whose weights are the integer layers' codes in real units, with the
    /// same variances: what `predict_dist` of the integer model computes.
    pub fn dequantised(&self) -> Self {
        let mut net = self.clone();
        if let Some((mean, scale)) = &self.real {
            (net.mean, net.scale) = (mean.clone(), scale.clone());
        }
        net.codes = None;
        net.real = None;
        net.layers = self.layers.iter().map(Owned::dequantised).collect();
        net
    }

    /// The same model with posterior variances on every weight and bias: each weight's sd a
    /// random fraction (up to `spread`) of its magnitude plus `spread`/10, each bias's
    /// `spread`/4.
    pub fn with_variances(mut self, spread: f32, seed: u64) -> Self {
        let mut rng = Pcg64::seed_from_u64(seed);
        for l in &mut self.layers {
            let rows: Vec<Vec<f32>> = l
                .rows
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|&w| {
                            let sd = spread * (rng.random::<f32>() * w.abs() + 0.1);
                            sd * sd
                        })
                        .collect()
                })
                .collect();
            let bias = l.bias.iter().map(|_| (spread / 4.0).powi(2)).collect();
            l.set_variance(rows, bias);
            l.attach_posterior();
        }
        self
    }

    /// The same model with its weights' variances (an integer layer's code variances) as
    /// 4-bit codes (`table4`), or, without `codes`, as f32 of the values those codes stand
    /// for.
    pub fn with_table4(mut self, codes: bool) -> Self {
        for l in &mut self.layers {
            l.posterior_table4(codes);
        }
        self
    }

    /// PIPs in `[0, 1]` for every read input and hidden node.
    pub fn with_pips(mut self) -> Self {
        let hidden: usize = self.layers[..self.layers.len() - 1]
            .iter()
            .map(|l| l.bias.len())
            .sum();
        self.pips = (0..self.inputs.len() + hidden)
            .map(|k| (k % 10) as f32 / 9.0)
            .collect();
        self
    }

    /// The views that [`Parts::encode`] writes.
    pub fn parts(&self) -> Parts<'_> {
        let mut layers = heapless::Vec::<_, MAX_LAYERS>::new();
        for l in self.layers.iter().take(MAX_LAYERS) {
            let _ = layers.push(l.layer());
        }
        let mut metrics = heapless::Vec::new();
        let _ = metrics.push(Metric {
            name: Text::new("seed"),
            value: 1.0,
        });
        for &(name, value) in &self.metrics {
            let _ = metrics.push(Metric {
                name: Text::new(name),
                value,
            });
        }
        Parts {
            task: self.task,
            features: self.features,
            inputs: &self.inputs,
            input: match &self.codes {
                Some((offset, mult, shift, exp)) => {
                    let posterior = self.layers.first().is_some_and(|l| l.variance.is_some());
                    let (mean, scale) = match &self.real {
                        Some((m, s)) if posterior => (&m[..], &s[..]),
                        _ => (&[][..], &[][..]),
                    };
                    InputMap::Int8 {
                        offset,
                        mult,
                        shift,
                        exp,
                        mean,
                        scale,
                    }
                }
                None => InputMap::F32 {
                    mean: &self.mean,
                    scale: &self.scale,
                },
            },
            layers,
            output_mean: &self.output_mean,
            output_scale: &self.output_scale,
            noise_sd: &self.noise_sd,
            names: Names::from_bytes(&self.names),
            pips: &self.pips,
            meta: Meta {
                name: Text::from_bytes(&self.name),
                compiler: Text::new("test"),
                target: Text::new("y"),
                metrics,
            },
        }
    }

    /// The encoded blob.
    ///
    /// # Errors
    /// The encoder's refusal.
    pub fn blob(&self) -> spikeslab_runtime::Result<Aligned> {
        let parts = self.parts();
        let n = parts.encoded_len()?;
        let mut buf = Aligned::zeroed(n);
        let written = parts.encode(buf.bytes_mut())?;
        assert_eq!(written, n, "encoded_len disagrees with encode");
        Ok(buf)
    }

    /// The model evaluated in f64 with exact transcendentals, its integer layers exactly as
    /// `FORMAT.md` states them (the input codes and dequantisation in f32).
    pub fn reference(&self, features: &[f32]) -> Vec<f64> {
        let read = self.inputs.iter().map(|&i| features[usize::from(i)]);
        let mut codes: Vec<i64> = Vec::new();
        let mut x: Vec<f64> = Vec::new();
        for (j, (v, (&m, &s))) in read.zip(self.mean.iter().zip(&self.scale)).enumerate() {
            if let Some((o, q, k, g)) = &self.codes {
                if !v.is_finite() {
                    return vec![f64::NAN; self.layers.last().map_or(0, |l| l.bias.len())];
                }
                // FORMAT.md: X = ±⌊|x|·2^g⌋, saturating from 2^29; then the requantisation.
                let scaled = f64::from(v.abs()) * 2f64.powi(i32::from(g[j]));
                let c = if scaled >= f64::from(1u32 << 29) {
                    if v < 0.0 { 0 } else { 255 }
                } else {
                    let mag = scaled as i64;
                    let d = if v < 0.0 { -mag } else { mag } - i64::from(o[j]);
                    ((d * i64::from(q[j]) + (1i64 << (k[j] - 1))) >> k[j]).clamp(0, 255)
                };
                codes.push(c);
            } else {
                x.push((f64::from(v) - f64::from(m)) * f64::from(s));
            }
        }
        let table: Vec<i64> = (0..=64)
            .map(|k| (32512.0 * (f64::from(k) / 16.0).tanh()).round() as i64)
            .collect();
        let tanh_q = |r: i64| {
            let m = r.abs();
            let i = (m >> 6) as usize;
            let t = if i >= 64 {
                32512 + 127
            } else {
                table[i] + (((table[i + 1] - table[i]) * (m & 63)) >> 6)
            };
            let q = ((t + 128) >> 8).min(127);
            if r < 0 { -q } else { q }
        };
        let act = |a: Activation, z: f64| match a {
            Activation::Identity => z,
            Activation::Relu => z.max(0.0),
            Activation::Tanh => z.tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        };
        for (index, l) in self.layers.iter().enumerate() {
            let output = index + 1 == self.layers.len();
            if let Some(q) = &l.int8 {
                let sums: Vec<i64> = q
                    .rows
                    .iter()
                    .zip(&q.bias)
                    .map(|(row, &b)| {
                        i64::from(b)
                            + row
                                .iter()
                                .zip(&codes)
                                .map(|(&w, &a)| i64::from(w) * a)
                                .sum::<i64>()
                    })
                    .collect();
                if q.scale.is_empty() && output {
                    let r: Vec<i64> = sums
                        .iter()
                        .zip(q.mult.iter().zip(&q.shift))
                        .map(|(&s, (&m, &k))| (s * i64::from(m) + (1i64 << (k - 1))) >> k)
                        .collect();
                    return softmax_q(&r);
                }
                if q.scale.is_empty() {
                    codes = sums
                        .iter()
                        .zip(q.mult.iter().zip(&q.shift))
                        .map(|(&s, (&m, &k))| {
                            let r = (s * i64::from(m) + (1i64 << (k - 1))) >> k;
                            match l.activation {
                                Activation::Relu => r.clamp(0, 255),
                                Activation::Identity => (r + 128).clamp(0, 255),
                                Activation::Tanh => 128 + tanh_q(r),
                                Activation::Sigmoid => 127 + tanh_q(r),
                            }
                        })
                        .collect();
                } else {
                    x = sums
                        .iter()
                        .zip(&q.scale)
                        .map(|(&s, &d)| act(l.activation, f64::from(s as f32 * d)))
                        .collect();
                }
                continue;
            }
            x = l
                .rows
                .iter()
                .zip(&l.bias)
                .map(|(row, &b)| {
                    let z = row
                        .iter()
                        .zip(&x)
                        .map(|(&w, &v)| f64::from(w) * v)
                        .sum::<f64>()
                        + f64::from(b);
                    act(l.activation, z)
                })
                .collect();
        }
        match self.task {
            Task::Regression => x
                .iter()
                .zip(self.output_mean.iter().zip(&self.output_scale))
                .map(|(&z, (&m, &s))| z * f64::from(s) + f64::from(m))
                .collect(),
            Task::Classification => {
                let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = x.iter().map(|&z| (z - max).exp()).collect();
                let s: f64 = e.iter().sum();
                e.iter().map(|v| v / s).collect()
            }
        }
    }

    /// `|a − b| ≤ max(R·|a + b|, A)` with `R = 1e-4` (f32 accumulation and the activations'
    /// documented error, compounded over the layers) and `A = 1e-4` times the output scale (1
    /// for probabilities).
    ///
    /// # Errors
    /// A message naming the first output out of tolerance.
    pub fn within_tolerance(&self, got: &[f32], want: &[f64]) -> Result<(), String> {
        for (k, (&a, &b)) in got.iter().zip(want).enumerate() {
            let scale = self.output_scale.get(k).map_or(1.0, |&s| f64::from(s));
            let a = f64::from(a);
            let tol = (1e-4 * (a + b).abs()).max(1e-4 * scale);
            if (a - b).abs() > tol || a.is_nan() {
                return Err(format!(
                    "output {k}: runtime {a}, reference {b}, tolerance {tol}"
                ));
            }
        }
        Ok(())
    }
}

/// Bytes in a 4-byte-aligned buffer.
#[derive(Clone, Debug)]
pub struct Aligned {
    words: Vec<u32>,
    len: usize,
}

impl Aligned {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(4)],
            len,
        }
    }

    /// An aligned copy of `bytes`.
    pub fn copy(bytes: &[u8]) -> Self {
        let mut a = Self::zeroed(bytes.len());
        a.bytes_mut().copy_from_slice(bytes);
        a
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }

    /// The bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }

    /// The model they hold.
    ///
    /// # Errors
    /// The loader's refusal.
    pub fn model(&self) -> spikeslab_runtime::Result<Model<'_>> {
        Model::from_bytes(self.bytes())
    }
}

/// The integer softmax of logits `r` in units of 2^−8, as `FORMAT.md` states it, its table
/// built here from f64.
pub fn softmax_q(r: &[i64]) -> Vec<f64> {
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
    e.iter().map(|&v| f64::from(v as f32 * inv)).collect()
}

/// Random raw feature vectors, entries uniform in `[−3, 3]`.
pub fn random_inputs(features: usize, rows: usize, rng: &mut impl Rng) -> Vec<Vec<f32>> {
    (0..rows)
        .map(|_| {
            (0..features)
                .map(|_| rng.random::<f32>() * 6.0 - 3.0)
                .collect()
        })
        .collect()
}

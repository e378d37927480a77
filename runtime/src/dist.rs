//! The predictive distribution: the mean and variance of every node, layer by layer
//! (diagonal moment propagation), for models that carry the posterior variances of their
//! weights.
//!
//! For `y = W·x + b` with independent weights (means `W`, variances `V`, bias variances
//! `v_b`) independent of the input (means `m`, variances `c`):
//!
//! ```text
//! E[y_o]   = b_o + Σ_i W_oi·m_i
//! Var[y_o] = v_b,o + Σ_i ( V_oi·(m_i² + c_i) + W_oi²·c_i )
//! ```
//!
//! then each activation's moments under a Gaussian pre-activation ([`crate::math`]'s
//! `relu_moments`, closed form; `sigmoid_moments` and `tanh_moments`, probit approximation).
//! The means are summed from the bias in input order, as [`Model::predict`] sums, so a model
//! whose variances are all zero gives `predict`'s outputs bit for bit.

use crate::eval::Buf;
use crate::format::{Activation, MAX_WIDTH, Task};
use crate::math::{exp, relu_moments, rsqrt, sigmoid_moments, tanh_moments};
use crate::model::{
    CodeVariances, InputMap, Int8, Int8Posterior, Int8Weights, Layer, Model, Params, TABLE4,
    Variances, Weights, chunks, dense_row,
};
use crate::{Error, Result};

/// The predictive distribution of one output (`repr(C)`: three `f32` in this order).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Prediction {
    /// Regression: the predictive mean on the target's scale. Classification: the class's
    /// probability with the weights' uncertainty folded in (probit approximation: the
    /// softmax of `E[logit] / √(1 + π·Var[logit]/8)`).
    pub mean: f32,
    /// The variance the weights' uncertainty gives (epistemic): regression, of the output on
    /// the target's scale; classification, of the class's logit. It grows on inputs unlike
    /// the training data: above [`Model::epistemic_limit`] squared, about 1 in 100 inputs
    /// like them.
    pub epistemic: f32,
    /// Regression: `σ_ε²`, the variance of the noise around the output on the target's scale
    /// (aleatoric). 0 for classification.
    pub noise: f32,
}

impl Prediction {
    /// The predictive variance, `epistemic + noise`.
    pub fn variance(&self) -> f32 {
        self.epistemic + self.noise
    }

    /// The predictive standard deviation, `√(epistemic + noise)`.
    pub fn sd(&self) -> f32 {
        crate::math::sqrt(self.variance())
    }
}

/// The working memory of [`Model::predict_dist_with`]: means and variances, two buffers of
/// [`MAX_WIDTH`] floats each (4 KiB).
///
/// As for [`crate::Scratch`], its layout is fixed (`repr(C)`, [`crate::DIST_BUFFER_BYTES`]
/// bytes, aligned as `f32`) and every bit pattern is a valid `DistScratch`.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct DistScratch {
    m: [Buf; 2],
    v: [Buf; 2],
}

impl DistScratch {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Self {
            m: [[0.0; MAX_WIDTH]; 2],
            v: [[0.0; MAX_WIDTH]; 2],
        }
    }
}

impl Default for DistScratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Model<'_> {
    /// The predictive distribution of every output for a raw feature vector, as
    /// [`Model::predict`] reads it: per output its mean, the variance from the weights'
    /// posterior (epistemic) and, for regression, the noise variance (see [`Prediction`]).
    ///
    /// One pass, no sampling: means and variances go through the layers together (the
    /// module's formulas), about twice the multiply-adds of `predict`, plus one `exp` per
    /// hidden node. An int8 model's layers are read in f32 from their codes
    /// ([`crate::Int8Posterior`]): its means are those of its weights with f32 activations,
    /// not `predict`'s integer outputs, and on cores without an FPU this is soft-float work.
    ///
    /// # Errors
    /// [`Error::NoPosterior`] for a model without posterior variances
    /// ([`Model::has_posterior`]); [`Error::InputLen`] or [`Error::OutputLen`] for slices of
    /// the wrong length; nothing else.
    pub fn predict_dist(&self, features: &[f32], out: &mut [Prediction]) -> Result<()> {
        self.predict_dist_with(&mut DistScratch::new(), features, out)
    }

    /// [`Model::predict_dist`] with caller-provided working memory.
    ///
    /// # Errors
    /// As [`Model::predict_dist`].
    pub fn predict_dist_with(
        &self,
        scratch: &mut DistScratch,
        features: &[f32],
        out: &mut [Prediction],
    ) -> Result<()> {
        self.check_len(features.len(), self.parts.features, out.len())?;
        let p = &self.parts;
        if !self.has_posterior() {
            return Err(Error::NoPosterior);
        }
        let (InputMap::F32 { mean, scale } | InputMap::Int8 { mean, scale, .. }) = p.input;
        let [m0, m1] = &mut scratch.m;
        let [v0, v1] = &mut scratch.v;
        let (mut xm, mut xv, mut ym, mut yv) = (m0, v0, m1, v1);
        for ((((dst, var), &i), &mu), &s) in xm
            .iter_mut()
            .zip(xv.iter_mut())
            .zip(p.inputs)
            .zip(mean)
            .zip(scale)
        {
            let x = features.get(usize::from(i)).copied().unwrap_or(f32::NAN);
            *dst = (x - mu) * s;
            *var = 0.0;
        }
        let mut n = p.inputs.len();
        for (l, layer) in p.layers.iter().enumerate() {
            layer.moments(xm, xv, n, l == 0, ym, yv);
            n = layer.width();
            core::mem::swap(&mut xm, &mut ym);
            core::mem::swap(&mut xv, &mut yv);
        }
        for ((o, &m), &v) in out.iter_mut().zip(xm.iter()).zip(xv.iter()) {
            *o = Prediction {
                mean: m,
                epistemic: v,
                noise: 0.0,
            };
        }
        match p.task {
            Task::Regression => {
                for (((o, &mu), &s), &sd) in out
                    .iter_mut()
                    .zip(p.output_mean)
                    .zip(p.output_scale)
                    .zip(p.noise_sd)
                {
                    o.mean = o.mean * s + mu;
                    o.epistemic *= s * s;
                    o.noise = sd * sd;
                }
            }
            Task::Classification => probit_softmax(out),
        }
        Ok(())
    }
}

/// Class probabilities from logit means `m` and variances `v` (in `out[k].mean`,
/// `out[k].epistemic`): the softmax of `m_k · κ_k`, `κ_k = 1/√(1 + π·v_k/8)` by [`rsqrt`]
/// (exactly 1 for `v_k = 0`, so that a point model's probabilities are `predict`'s).
fn probit_softmax(out: &mut [Prediction]) {
    const PI_8: f32 = core::f32::consts::PI / 8.0;
    for o in out.iter_mut().filter(|o| o.epistemic != 0.0) {
        o.mean *= rsqrt(1.0 + PI_8 * o.epistemic);
    }
    let max = out.iter().fold(f32::NEG_INFINITY, |m, o| m.max(o.mean));
    let mut sum = 0.0;
    for o in out.iter_mut() {
        o.mean = exp(o.mean - max);
        sum += o.mean;
    }
    let inv = 1.0 / sum;
    for o in out.iter_mut() {
        o.mean *= inv;
    }
}

impl Layer<'_> {
    /// Means and variances of the layer's outputs from those of its first `n` inputs (`exact`:
    /// inputs without variance). A model carries variances in every layer or none, and
    /// [`Model::predict_dist`] refuses one without them first. An integer layer rescales its
    /// inputs in place ([`int8`]). A function of its own: inlined into `predict_dist`, the
    /// integer kernels took registers from the f32 ones (M4F, f32 8-50-1: 7,896 instructions
    /// against 7,623).
    #[inline(never)]
    fn moments(
        &self,
        xm: &mut Buf,
        xv: &mut Buf,
        n: usize,
        exact: bool,
        ym: &mut Buf,
        yv: &mut Buf,
    ) {
        let width = self.width();
        let (ym, yv) = (
            ym.get_mut(..width).unwrap_or_default(),
            yv.get_mut(..width).unwrap_or_default(),
        );
        let (xmn, xvn) = (
            xm.get(..n).unwrap_or_default(),
            xv.get(..n).unwrap_or_default(),
        );
        match self.params {
            Params::F32 {
                bias,
                weights: Weights::Dense(w),
                variance:
                    Some(Variances {
                        bias: vb,
                        weights: CodeVariances::F32(vw),
                    }),
            } => dense(w, bias, vb, vw, xmn, xvn, exact, ym, yv),
            Params::F32 {
                bias,
                weights: Weights::Dense(w),
                variance:
                    Some(Variances {
                        bias: vb,
                        weights: var @ CodeVariances::Table4 { table, words },
                    }),
            } => {
                // Cores without an FPU take the smaller kernel: soft-float arithmetic costs
                // them the same either way.
                if cfg!(all(target_arch = "arm", not(target_feature = "fpregs"))) {
                    dense_table4_rows(w, bias, (vb, var), xmn, xvn, exact, ym, yv);
                } else if let Some(table) = table.first_chunk::<TABLE4>() {
                    let v = (vb, var, table, words);
                    dense_table4(w, bias, v, xmn, xvn, exact, ym, yv);
                }
            }
            Params::F32 {
                bias,
                weights:
                    Weights::Sparse {
                        row_len,
                        cols,
                        values,
                    },
                variance: Some(Variances { bias: vb, weights }),
            } => match weights {
                CodeVariances::F32(vw) => {
                    sparse(row_len, cols, values, bias, (vb, vw), xm, xv, exact, ym, yv);
                }
                coded => {
                    let v = (vb, coded);
                    sparse_table4(row_len, cols, values, bias, v, xm, xv, exact, ym, yv);
                }
            },
            Params::Int8(
                q @ Int8 {
                    posterior: Some(p), ..
                },
            ) => {
                // With an FPU (and on the host) a dense layer takes its blocks of four rows
                // in one pass; cores without one keep the smaller loop, whose soft-float
                // arithmetic costs the same either way.
                let blocks = !cfg!(all(target_arch = "arm", not(target_feature = "fpregs")));
                int8(&q, &p, (xm, xv), n, exact, blocks, ym, yv);
            }
            Params::F32 { variance: None, .. }
            | Params::Int8(Int8 {
                posterior: None, ..
            }) => {}
        }
        let nodes = ym.iter_mut().zip(yv.iter_mut());
        match self.activation {
            Activation::Identity => {}
            Activation::Relu => nodes.for_each(|(m, v)| (*m, *v) = relu_moments(*m, *v)),
            Activation::Tanh => nodes.for_each(|(m, v)| (*m, *v) = tanh_moments(*m, *v)),
            Activation::Sigmoid => nodes.for_each(|(m, v)| (*m, *v) = sigmoid_moments(*m, *v)),
        }
    }
}

/// Means and variances of a dense layer (packed as [`crate::dense_index`] says): blocks of
/// four rows, each input's `m² + c` computed once per block; `exact` (the first layer, whose
/// inputs have no variance) leaves out the `W²·c` terms, which are then 0.
#[allow(clippy::too_many_arguments)]
fn dense(
    w: &[f32],
    bias: &[f32],
    vb: &[f32],
    vw: &[f32],
    xm: &[f32],
    xv: &[f32],
    exact: bool,
    ym: &mut [f32],
    yv: &mut [f32],
) {
    let n = xm.len();
    if n == 0 {
        return;
    }
    // The first layer two blocks (eight rows) at a time; the rest below.
    let done = if exact {
        dense_exact_pairs(w, bias, vb, vw, xm, ym, yv)
    } else {
        0
    };
    let (w, bias, ym, yv) = (
        w.get(done * n..).unwrap_or_default(),
        bias.get(done..).unwrap_or_default(),
        ym.get_mut(done..).unwrap_or_default(),
        yv.get_mut(done..).unwrap_or_default(),
    );
    let (vw, vb) = (
        vw.get(done * n..).unwrap_or_default(),
        vb.get(done..).unwrap_or_default(),
    );
    let (bc, bt) = bias.as_chunks::<4>();
    let (vbc, vbt) = vb.as_chunks::<4>();
    let (ymc, ymt) = ym.as_chunks_mut::<4>();
    let (yvc, yvt) = yv.as_chunks_mut::<4>();
    // One chunk iterator zipped, the other stepped: zipping two, the outlined `zip` divides
    // by a chunk size it cannot see is non-zero, and links a panic.
    let mut var_blocks = chunks(vw, 4 * n);
    for ((((block, om), ov), &b), &vb) in chunks(w, 4 * n).zip(ymc).zip(yvc).zip(bc).zip(vbc) {
        let Some(var_block) = var_blocks.next() else {
            break;
        };
        let (mut m, mut v) = (b, vb);
        let (wc, _) = block.as_chunks::<4>();
        let (vc, _) = var_block.as_chunks::<4>();
        if exact {
            // Two inputs per step: the loop's own instructions count for eight multiply-adds.
            let ((w2, w1), (v2, v1)) = (wc.as_chunks::<2>(), vc.as_chunks::<2>());
            let (x2, x1) = xm.as_chunks::<2>();
            for ((&[w, u], &[vw, vu]), &[a, b]) in w2.iter().zip(v2).zip(x2) {
                add_input((&mut m, &mut v), (w, vw), (a, a * a, 0.0), true);
                add_input((&mut m, &mut v), (u, vu), (b, b * b, 0.0), true);
            }
            if let (Some(&w), Some(&vw), Some(&a)) = (w1.first(), v1.first(), x1.first()) {
                add_input((&mut m, &mut v), (w, vw), (a, a * a, 0.0), true);
            }
        } else {
            for (((w, vw), &a), &c) in wc.iter().zip(vc).zip(xm).zip(xv) {
                add_input((&mut m, &mut v), (*w, *vw), (a, a * a + c, c), false);
            }
        }
        (*om, *ov) = (m, v);
    }
    let rest = 4 * n * bc.len();
    let rows = chunks(w.get(rest..).unwrap_or_default(), n);
    for (r, ((((row, om), ov), &b), &vb)) in rows.zip(ymt).zip(yvt).zip(bt).zip(vbt).enumerate() {
        // The row's variances start there (zipped with `row`, only `n` are read).
        let var_row = vw.get(rest + r * n..).unwrap_or_default();
        let (mut m, mut v) = (b, vb);
        for (((&w, &vw), &a), &c) in row.iter().zip(var_row).zip(xm).zip(xv) {
            add_terms((&mut m, &mut v), (w, vw), (a, a * a + c, c), false);
        }
        (*om, *ov) = (m, v);
    }
}

/// Means and variances of the first layer's rows (inputs without variance, so
/// `m = b + Σ w·a`, `v = vb + Σ V·a²`) two blocks of four at a time: per input, sixteen
/// multiply-adds into eight means and eight variances held in registers, `a²` computed once
/// for the eight rows. Returns the rows done (a multiple of eight); the sums run in input
/// order, as [`dense`]'s.
fn dense_exact_pairs(
    w: &[f32],
    bias: &[f32],
    vb: &[f32],
    vw: &[f32],
    xm: &[f32],
    ym: &mut [f32],
    yv: &mut [f32],
) -> usize {
    let n = xm.len();
    let (b8, _) = bias.as_chunks::<8>();
    let (vb8, _) = vb.as_chunks::<8>();
    let (ym8, _) = ym.as_chunks_mut::<8>();
    let (yv8, _) = yv.as_chunks_mut::<8>();
    let mut var_pairs = chunks(vw, 8 * n);
    let mut done = 0;
    let pairs = chunks(w, 8 * n).zip(ym8).zip(yv8);
    for (((w, om), ov), (&b, &vb)) in pairs.zip(b8.iter().zip(vb8)) {
        let Some(vw) = var_pairs.next() else {
            break;
        };
        let [mut m0, mut m1]: [[f32; 4]; 2] = bytemuck::cast(b);
        let [mut v0, mut v1]: [[f32; 4]; 2] = bytemuck::cast(vb);
        // Halves of `8·n` values: `4·n` each, and no panic to link.
        let ((wa, wb), (va, vb)) = (w.split_at(w.len() / 2), vw.split_at(vw.len() / 2));
        let inputs = (wa.as_chunks::<4>().0.iter().zip(wb.as_chunks::<4>().0))
            .zip(va.as_chunks::<4>().0.iter().zip(vb.as_chunks::<4>().0))
            .zip(xm);
        for (((&w, &x), (&p, &q)), &a) in inputs {
            let s = a * a;
            add_input((&mut m0, &mut v0), (w, p), (a, s, 0.0), true);
            add_input((&mut m1, &mut v1), (x, q), (a, s, 0.0), true);
        }
        *om = bytemuck::cast([m0, m1]);
        *ov = bytemuck::cast([v0, v1]);
        done += 8;
    }
    done
}

/// Adds one weight's terms to a node's sums: `m += w·a`, and `v += V·(a² + c) + w²·c`, or
/// `v += V·a²` when `exact` (inputs without variance, `c` = 0), through [`add_terms`].
#[inline(always)]
fn add_edge(mv: (&mut f32, &mut f32), wv: (f32, f32), (a, c): (f32, f32), exact: bool) {
    // A branch, not a select of `s`: LLVM would compute both, a soft-float call each.
    if exact {
        add_terms(mv, wv, (a, a * a, c), true);
    } else {
        add_terms(mv, wv, (a, a * a + c, c), false);
    }
}

/// Adds one weight's terms to a node's sums: `m += w·a`, `v += V·s`, and `v += w²·c` unless
/// `exact`, `s` being `a² + c` (or `a²` when `exact`) as the caller has it. Every kernel adds
/// a weight's terms so, which keeps their bits equal.
#[inline(always)]
fn add_terms(
    (m, v): (&mut f32, &mut f32),
    (w, vw): (f32, f32),
    (a, s, c): (f32, f32, f32),
    exact: bool,
) {
    *m += w * a;
    *v += vw * s;
    if !exact {
        *v += w * w * c;
    }
}

/// Means and variances of a sparse layer; `xm`, `xv` are indexed by byte, so never out of
/// range. `exact` (the first layer, whose inputs have no variance) leaves out the `W²·c`
/// terms, which are then 0, as [`dense`] does.
#[allow(clippy::too_many_arguments)]
fn sparse(
    row_len: &[u16],
    cols: &[u8],
    values: &[f32],
    bias: &[f32],
    (vb, vw): (&[f32], &[f32]),
    xm: &Buf,
    xv: &Buf,
    exact: bool,
    ym: &mut [f32],
    yv: &mut [f32],
) {
    let n = cols.len().min(values.len()).min(vw.len());
    let mut i = 0;
    let rows = ym.iter_mut().zip(yv.iter_mut()).zip(row_len);
    for (((om, ov), &len), (&b, &vb)) in rows.zip(bias.iter().zip(vb)) {
        let end = i + usize::from(len);
        if end > n {
            return;
        }
        let (mut m, mut v) = (b, vb);
        while i < end {
            let c = usize::from(cols[i]);
            add_edge((&mut m, &mut v), (values[i], vw[i]), (xm[c], xv[c]), exact);
            i += 1;
        }
        (*om, *ov) = (m, v);
    }
}

/// As [`sparse`], each weight's variance a 4-bit code (`var`, [`CodeVariances::Table4`]).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn sparse_table4(
    row_len: &[u16],
    cols: &[u8],
    values: &[f32],
    bias: &[f32],
    (vb, var): (&[f32], CodeVariances<'_>),
    xm: &Buf,
    xv: &Buf,
    exact: bool,
    ym: &mut [f32],
    yv: &mut [f32],
) {
    let n = cols.len().min(values.len());
    let mut i = 0;
    let rows = ym.iter_mut().zip(yv.iter_mut()).zip(row_len);
    for (((om, ov), &len), (&b, &vb)) in rows.zip(bias.iter().zip(vb)) {
        let end = i + usize::from(len);
        if end > n {
            return;
        }
        let (mut m, mut v) = (b, vb);
        while i < end {
            let c = usize::from(cols[i]);
            let vi = var.get(i).unwrap_or_default();
            add_edge((&mut m, &mut v), (values[i], vi), (xm[c], xv[c]), exact);
            i += 1;
        }
        (*om, *ov) = (m, v);
    }
}

/// As [`dense`], each weight's variance a 4-bit code into `table`
/// ([`CodeVariances::Table4`]; `var` the same codes, for the last `width mod 4` rows): one
/// block of four rows at a time, the four codes of an input in a block half a word. The sums
/// run in [`dense`]'s order, so that for the same variances the results are its bit for bit.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn dense_table4(
    w: &[f32],
    bias: &[f32],
    (vb, var, table, words): (&[f32], CodeVariances<'_>, &[f32; TABLE4], &[f32]),
    xm: &[f32],
    xv: &[f32],
    exact: bool,
    ym: &mut [f32],
    yv: &mut [f32],
) {
    let n = xm.len();
    if n == 0 {
        return;
    }
    let mut quad = table4_quads(table, words);
    let (bc, bt) = bias.as_chunks::<4>();
    let (vbc, vbt) = vb.as_chunks::<4>();
    let (ymc, ymt) = ym.as_chunks_mut::<4>();
    let (yvc, yvt) = yv.as_chunks_mut::<4>();
    let mut q = 0;
    let blocks = chunks(w, 4 * n).zip(ymc).zip(yvc).zip(bc).zip(vbc);
    for ((((block, om), ov), &b), &vb) in blocks {
        let (mut m, mut v) = (b, vb);
        let (wc, _) = block.as_chunks::<4>();
        if exact {
            for (w, &a) in wc.iter().zip(xm) {
                add_input((&mut m, &mut v), (*w, quad(q)), (a, a * a, 0.0), true);
                q += 1;
            }
        } else {
            for ((w, &a), &c) in wc.iter().zip(xm).zip(xv) {
                add_input((&mut m, &mut v), (*w, quad(q)), (a, a * a + c, c), false);
                q += 1;
            }
        }
        (*om, *ov) = (m, v);
    }
    let rest = 4 * n * bc.len();
    let rows = chunks(w.get(rest..).unwrap_or_default(), n);
    for (r, (((row, om), ov), (&b, &vb))) in
        rows.zip(ymt).zip(yvt).zip(bt.iter().zip(vbt)).enumerate()
    {
        let (mut m, mut v) = (b, vb);
        let k = rest + r * n;
        for (i, ((&w, &a), &c)) in row.iter().zip(xm).zip(xv).enumerate() {
            let vw = var.get(k + i).unwrap_or_default();
            m += w * a;
            v += vw * (a * a + c);
            v += w * w * c;
        }
        (*om, *ov) = (m, v);
    }
}

/// [`dense_table4`] written for size, row by row, each weight's variance looked up alone
/// (for cores without an FPU, where soft-float arithmetic dominates either way). Each row
/// sums as [`dense_table4`] does (the first layer's block rows without the `W²·c` terms,
/// every other row with them), so the results are the same bits.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn dense_table4_rows(
    w: &[f32],
    bias: &[f32],
    (vb, var): (&[f32], CodeVariances<'_>),
    xm: &[f32],
    xv: &[f32],
    exact: bool,
    ym: &mut [f32],
    yv: &mut [f32],
) {
    let (n, width) = (xm.len(), ym.len());
    let blocked = width / 4 * 4;
    let rows = ym.iter_mut().zip(yv.iter_mut()).zip(bias.iter().zip(vb));
    for (o, ((om, ov), (&b, &vb))) in rows.enumerate() {
        let (start, step) = dense_row(o, width, n);
        let (mut m, mut v) = (b, vb);
        for (i, (&a, &c)) in xm.iter().zip(xv).enumerate() {
            let k = start + step * i;
            let (wi, vi) = (
                w.get(k).copied().unwrap_or_default(),
                var.get(k).unwrap_or_default(),
            );
            add_edge((&mut m, &mut v), (wi, vi), (a, c), exact && o < blocked);
        }
        (*om, *ov) = (m, v);
    }
}

/// Means and variances of an integer layer from its posterior ([`Int8Posterior`]), in f32.
/// The inputs are first put in code steps in place, `a_i = m_i·t_i`, `c_i = v_i·t_i²`
/// (`t` the layer's `unit`); then, with `w` the stored codes, `V` their variances and `σ`
/// the nodes' `scale`:
///
/// ```text
/// E[y_o]   = b_o + σ_o · Σ_i w_oi·a_i
/// Var[y_o] = vb_o + σ_o² · Σ_i ( V_oi·(a_i² + c_i) + w_oi²·c_i )
/// ```
///
/// the f32 formulas of the module for the real weights `σ_o·w_oi·t_i`. With `exact` (the
/// first layer: every `c_i` is +0) `xv` takes `a_i²` and the variance sums are
/// `Σ_i V_oi·a_i²`, the same bits: `a_i² + 0` is `a_i²`, and a sum that starts at +0 is never
/// −0, so adding `w_oi²·0 = +0` to it changes nothing.
#[allow(clippy::too_many_arguments)]
fn int8(
    q: &Int8<'_>,
    p: &Int8Posterior<'_>,
    (xm, xv): (&mut Buf, &mut Buf),
    n: usize,
    exact: bool,
    blocks: bool,
    ym: &mut [f32],
    yv: &mut [f32],
) {
    for ((m, v), &t) in xm.iter_mut().zip(xv.iter_mut()).zip(p.unit()) {
        *m *= t;
        *v = if exact { *m * *m } else { *v * (t * t) };
    }
    let (xm, xv) = (
        xm.get(..n).unwrap_or_default(),
        xv.get(..n).unwrap_or_default(),
    );
    let (var, bias_var) = (p.weight_variance(), p.bias_variance());
    let (bias, scale) = (p.bias(), p.scale());
    let width = ym.len();
    // `blocks`: a dense layer's sums by [`int8_blocks`] and [`int8_rows`], which keep each
    // row's sums in registers, instead of the loop below; the same bits (tested).
    let blocked = match (q.weights, var) {
        // The compiler stores an integer layer's variances as 4-bit codes; f32 ones (which
        // the format allows) take the loop below.
        (Int8Weights::Dense(codes), CodeVariances::Table4 { table, words }) if blocks => {
            table.first_chunk::<TABLE4>().map_or(0, |table| {
                let (sm, sv) = (ym.as_chunks_mut::<4>(), yv.as_chunks_mut::<4>());
                int8_blocks(codes, table4_quads(table, words), xm, xv, exact, sm.0, sv.0);
                let rows = codes.get(sm.0.len() * 4 * n..).unwrap_or_default();
                let first = codes.len() - rows.len();
                let code = |k: usize| {
                    let k = first + k;
                    let word = words.get(k / 8).map_or(0, |w| w.to_bits());
                    table[((word >> (4 * (k % 8))) & 15) as usize]
                };
                int8_rows((rows, sm.1, sv.1), code, xm, xv, exact);
                width
            })
        }
        _ => 0,
    };
    let mut start = 0;
    // Node by node, one loop for both storages, written for size.
    let nodes = ym.iter_mut().zip(yv.iter_mut());
    let params = bias.iter().zip(bias_var).zip(scale);
    for (o, ((om, ov), ((&b, &vb), &s))) in nodes.zip(params).enumerate() {
        let (mut sm, mut sv) = (0.0f32, 0.0f32);
        let mut edge = |i: usize, w: f32, vw: f32| {
            let (a, c) = (
                xm.get(i).copied().unwrap_or_default(),
                xv.get(i).copied().unwrap_or_default(),
            );
            // `xv` holds `a²` when `exact`; a branch, as in `add_edge`.
            if exact {
                add_terms((&mut sm, &mut sv), (w, vw), (a, c, c), true);
            } else {
                add_terms((&mut sm, &mut sv), (w, vw), (a, a * a + c, c), false);
            }
        };
        match q.weights {
            Int8Weights::Dense(_) if o < blocked => (sm, sv) = (*om, *ov),
            Int8Weights::Dense(codes) => {
                let (first, step) = dense_row(o, width, n);
                for i in 0..n {
                    let k = first + step * i;
                    let (u, vw) = (codes.get(k), var.get(k));
                    // `u − 128` in integers, one conversion (exact either way).
                    let w = i16::from(u.copied().unwrap_or(128)) - 128;
                    edge(i, f32::from(w), vw.unwrap_or_default());
                }
            }
            Int8Weights::Sparse {
                row_len,
                cols,
                values,
            } => {
                let end = start + row_len.get(o).map_or(0, |&l| usize::from(l));
                let slice = |len: usize| start.min(len)..end.min(len);
                let edges = (cols.get(slice(cols.len())).unwrap_or_default().iter())
                    .zip(values.get(slice(values.len())).unwrap_or_default());
                for (k, (&c, &w)) in (start..).zip(edges) {
                    let vw = var.get(k).unwrap_or_default();
                    edge(usize::from(c), f32::from(w), vw);
                }
                start = end;
            }
        }
        (*om, *ov) = (b + s * sm, vb + s * s * sv);
    }
}

/// [`int8`]'s sums for the last `width mod 4` rows of a dense layer, stored one after the
/// other in `codes` (their variances `var(k)`, `k` counted from the first), as
/// [`int8_blocks`] gives them for the blocks: the row loop's operations in input order.
fn int8_rows(
    (codes, sm, sv): (&[u8], &mut [f32], &mut [f32]),
    var: impl Fn(usize) -> f32,
    xm: &[f32],
    xv: &[f32],
    exact: bool,
) {
    let n = xm.len();
    if n == 0 {
        return;
    }
    let mut k = 0;
    for ((row, om), ov) in chunks(codes, n).zip(sm).zip(sv) {
        let (mut m, mut v) = (0.0f32, 0.0f32);
        let terms = row.iter().zip(xm.iter().zip(xv));
        // One loop for each form, as in `int8_blocks`; `xv` holds `a²` when `exact`.
        if exact {
            for (&u, (&a, &c)) in terms {
                let (w, vw) = (f32::from(i16::from(u) - 128), var(k));
                k += 1;
                add_terms((&mut m, &mut v), (w, vw), (a, c, c), true);
            }
        } else {
            for (&u, (&a, &c)) in terms {
                let (w, vw) = (f32::from(i16::from(u) - 128), var(k));
                k += 1;
                add_terms((&mut m, &mut v), (w, vw), (a, a * a + c, c), false);
            }
        }
        (*om, *ov) = (m, v);
    }
}

/// The variances of the stored weights `4k` to `4k + 3` of a [`CodeVariances::Table4`]
/// array, for `k` = 0, 1, 2, ... in turn: half of word `k/2`, read when `k` is even.
fn table4_quads<'a>(
    table: &'a [f32; TABLE4],
    words: &'a [f32],
) -> impl FnMut(usize) -> [f32; 4] + 'a {
    let mut word = 0u32;
    move |k: usize| {
        let h = if k.is_multiple_of(2) {
            word = words.get(k / 2).map_or(0, |w| w.to_bits());
            word
        } else {
            word >> 16
        };
        [
            table[(h & 15) as usize],
            table[((h >> 4) & 15) as usize],
            table[((h >> 8) & 15) as usize],
            table[((h >> 12) & 15) as usize],
        ]
    }
}

/// [`int8`]'s sums for the blocks of four rows of a dense layer, `Σ_i w_oi·a_i` in `sm` and
/// `Σ_i (V_oi·(a_i² + c_i) + w_oi²·c_i)` in `sv` (`Σ_i V_oi·c_i` when `exact`, `xv` then
/// holding `a_i²`), each row's in input order with the row loop's operations, so the same
/// bits. `quad(k)` gives the variances of the stored weights `4k` to `4k + 3`, called for
/// `k` = 0, 1, 2, ... in turn.
fn int8_blocks(
    codes: &[u8],
    mut quad: impl FnMut(usize) -> [f32; 4],
    xm: &[f32],
    xv: &[f32],
    exact: bool,
    sm: &mut [[f32; 4]],
    sv: &mut [[f32; 4]],
) {
    let n = xm.len();
    if n == 0 {
        return;
    }
    // `u − 128` in integers, one conversion (exact either way).
    let real = |u: u8| f32::from(i16::from(u) - 128);
    let real = |u: &[u8; 4]| [real(u[0]), real(u[1]), real(u[2]), real(u[3])];
    let mut k = 0;
    for ((block, om), ov) in chunks(codes, 4 * n).zip(sm).zip(sv) {
        let (mut m, mut v) = ([0.0f32; 4], [0.0f32; 4]);
        let inputs = block.as_chunks::<4>().0.iter().zip(xm.iter().zip(xv));
        // One loop for each form, as in `dense_table4`; `xv` holds `a²` when `exact`.
        if exact {
            for (u, (&a, &c)) in inputs {
                add_input((&mut m, &mut v), (real(u), quad(k)), (a, c, c), true);
                k += 1;
            }
        } else {
            for (u, (&a, &c)) in inputs {
                add_input(
                    (&mut m, &mut v),
                    (real(u), quad(k)),
                    (a, a * a + c, c),
                    false,
                );
                k += 1;
            }
        }
        (*om, *ov) = (m, v);
    }
}

/// Adds one input's terms to the sums of a block of four rows: `m += w·a` and `v += V·s`
/// for each row, and `v += w²·c` unless `exact` (`s` is `a² + c`, or `a²` when `exact`).
/// Every block kernel ([`dense`], [`dense_exact_pairs`], [`dense_table4`], [`int8_blocks`])
/// adds them so, a row at a time through [`add_terms`] as the row loops do, so their bits
/// are equal.
/// Written out: as a loop over the rows, the sums go through the stack.
#[inline(always)]
fn add_input(
    (m, v): (&mut [f32; 4], &mut [f32; 4]),
    (w, vw): ([f32; 4], [f32; 4]),
    (a, s, c): (f32, f32, f32),
    exact: bool,
) {
    let [m0, m1, m2, m3] = m;
    let [v0, v1, v2, v3] = v;
    add_terms((m0, v0), (w[0], vw[0]), (a, s, c), exact);
    add_terms((m1, v1), (w[1], vw[1]), (a, s, c), exact);
    add_terms((m2, v2), (w[2], vw[2]), (a, s, c), exact);
    add_terms((m3, v3), (w[3], vw[3]), (a, s, c), exact);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dense_index;

    /// Uniform values in `[lo, lo + span)` from a 64-bit LCG.
    struct Values(u64);

    impl Values {
        fn next(&mut self, lo: f32, span: f32) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            lo + ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * span
        }
    }

    const WIDTHS: [usize; 9] = [1, 2, 3, 4, 5, 7, 8, 9, 17];

    /// The formulas in f64, row by row.
    fn naive(
        w: &[f32],
        vw: &[f32],
        b: &[f32],
        vb: &[f32],
        xm: &[f32],
        xv: &[f32],
        o: usize,
    ) -> (f64, f64) {
        let (width, n) = (b.len(), xm.len());
        let mut m = f64::from(b[o]);
        let mut v = f64::from(vb[o]);
        for i in 0..n {
            let k = dense_index(o, i, width, n);
            let (wf, vf, a, c) = (
                f64::from(w[k]),
                f64::from(vw[k]),
                f64::from(xm[i]),
                f64::from(xv[i]),
            );
            m += wf * a;
            v += vf * (a * a + c) + wf * wf * c;
        }
        (m, v)
    }

    #[test]
    fn dense_and_sparse_moments_follow_the_formulas() {
        let mut r = Values(5);
        for &width in &WIDTHS {
            for &n in &WIDTHS {
                let w: [f32; 17 * 17] = core::array::from_fn(|_| r.next(-1.0, 2.0));
                // Each weight's variance one of 16, so that the 4-bit codes hold them too.
                let table: [f32; TABLE4] = core::array::from_fn(|_| r.next(0.0, 0.1));
                let codes: [u8; 17 * 17] = core::array::from_fn(|_| r.next(0.0, 16.0) as u8);
                let vw = codes.map(|c| table[usize::from(c)]);
                let (w, vw) = (&w[..width * n], &vw[..width * n]);
                let words = |codes: &[u8]| -> [f32; 37] {
                    let mut words = [0.0; 37];
                    for (word, c) in words.iter_mut().zip(codes.chunks(8)) {
                        *word = crate::table4_word(c);
                    }
                    words
                };
                let dense_words = words(&codes[..width * n]);
                let coded = CodeVariances::Table4 {
                    table: &table,
                    words: &dense_words[..(width * n).div_ceil(8)],
                };
                let b: [f32; 17] = core::array::from_fn(|_| r.next(-1.0, 2.0));
                let vb: [f32; 17] = core::array::from_fn(|_| r.next(0.0, 0.1));
                let (mut xm, mut xv) = ([0.0; MAX_WIDTH], [0.0; MAX_WIDTH]);
                for i in 0..n {
                    xm[i] = r.next(-2.0, 4.0);
                    xv[i] = r.next(0.0, 0.5);
                }
                let vb = &vb[..width];
                let (mut ym, mut yv) = ([f32::NAN; 17], [f32::NAN; 17]);
                let (xm_n, xv_n) = (&xm[..n], &xv[..n]);
                dense(
                    w,
                    &b[..width],
                    vb,
                    vw,
                    xm_n,
                    xv_n,
                    false,
                    &mut ym[..width],
                    &mut yv[..width],
                );
                let same = |(m, v): &([f32; 17], [f32; 17]), (n, u): &([f32; 17], [f32; 17])| {
                    m.map(f32::to_bits) == n.map(f32::to_bits)
                        && v.map(f32::to_bits) == u.map(f32::to_bits)
                };
                // The same variances as 4-bit codes: the same bits.
                let four = |x: &[f32], exact: bool| {
                    let (mut m, mut v) = ([f32::NAN; 17], [f32::NAN; 17]);
                    let var = (vb, coded, &table, &dense_words[..]);
                    dense_table4(
                        w,
                        &b[..width],
                        var,
                        &xm[..n],
                        x,
                        exact,
                        &mut m[..width],
                        &mut v[..width],
                    );
                    // The row-by-row kernel of cores without an FPU: the same bits.
                    let (mut rm, mut rv) = ([f32::NAN; 17], [f32::NAN; 17]);
                    let (om, ov) = (&mut rm[..width], &mut rv[..width]);
                    dense_table4_rows(w, &b[..width], (vb, coded), &xm[..n], x, exact, om, ov);
                    assert!(same(&(m, v), &(rm, rv)), "rows, {width}x{n}");
                    (m, v)
                };
                assert!(same(&(ym, yv), &four(xv_n, false)), "table4, {width}x{n}");
                // Inputs without variance: the first layer's form gives the same bits.
                let zero = [0.0; MAX_WIDTH];
                let (mut em, mut ev, mut gm, mut gv) = ([0.0; 17], [0.0; 17], [0.0; 17], [0.0; 17]);
                let zero_n = &zero[..n];
                dense(
                    w,
                    &b[..width],
                    vb,
                    vw,
                    xm_n,
                    zero_n,
                    true,
                    &mut em[..width],
                    &mut ev[..width],
                );
                dense(
                    w,
                    &b[..width],
                    vb,
                    vw,
                    xm_n,
                    zero_n,
                    false,
                    &mut gm[..width],
                    &mut gv[..width],
                );
                assert_eq!(em.map(f32::to_bits), gm.map(f32::to_bits));
                assert_eq!(ev.map(f32::to_bits), gv.map(f32::to_bits));
                let (mut em4, mut ev4) = four(zero_n, true);
                em4[width..].fill(0.0);
                ev4[width..].fill(0.0);
                assert!(same(&(em, ev), &(em4, ev4)), "table4, exact, {width}x{n}");
                // The same layer stored sparse, every edge kept, row by row.
                let (mut row_len, mut cols, mut vals, mut vvals, mut vcodes) =
                    ([0u16; 17], [0u8; 289], [0f32; 289], [0f32; 289], [0u8; 289]);
                let mut e = 0;
                for (o, len) in row_len[..width].iter_mut().enumerate() {
                    for i in 0..n {
                        let k = dense_index(o, i, width, n);
                        (cols[e], vals[e], vvals[e], vcodes[e]) = (i as u8, w[k], vw[k], codes[k]);
                        *len += 1;
                        e += 1;
                    }
                }
                let sparse_words = words(&vcodes[..e]);
                let (row_len, cols, vals) = (&row_len[..width], &cols[..e], &vals[..e]);
                let (mut sm, mut sv) = ([0.0; 17], [0.0; 17]);
                let var = (vb, &vvals[..e]);
                let (m, v) = (&mut sm[..width], &mut sv[..width]);
                sparse(row_len, cols, vals, &b[..width], var, &xm, &xv, false, m, v);
                let table4 = CodeVariances::Table4 {
                    table: &table,
                    words: &sparse_words[..e.div_ceil(8)],
                };
                let sparse_with = |weights: CodeVariances<'_>, x: &Buf, exact: bool| {
                    let (mut m, mut v) = ([0.0; 17], [0.0; 17]);
                    let var = (vb, weights);
                    let (om, ov) = (&mut m[..width], &mut v[..width]);
                    sparse_table4(row_len, cols, vals, &b[..width], var, &xm, x, exact, om, ov);
                    (m, v)
                };
                assert!(
                    same(&(sm, sv), &sparse_with(table4, &xv, false)),
                    "sparse table4, {width}x{n}"
                );
                // Inputs without variance: the sparse kernels' first-layer form gives the
                // dense one's bits.
                let (mut pm, mut pv) = ([0.0; 17], [0.0; 17]);
                let (om, ov) = (&mut pm[..width], &mut pv[..width]);
                sparse(
                    row_len,
                    cols,
                    vals,
                    &b[..width],
                    var,
                    &xm,
                    &zero,
                    true,
                    om,
                    ov,
                );
                assert!(same(&(em, ev), &(pm, pv)), "sparse, exact, {width}x{n}");
                assert!(
                    same(&(em, ev), &sparse_with(table4, &zero, true)),
                    "sparse table4, exact, {width}x{n}"
                );
                for o in 0..width {
                    let (m, v) = naive(w, vw, &b[..width], vb, &xm[..n], &xv[..n], o);
                    let tol = 1e-5 * (1.0 + m.abs().max(v));
                    assert!(
                        (f64::from(ym[o]) - m).abs() < tol && (f64::from(yv[o]) - v).abs() < tol,
                        "node {o} of {width}x{n}: ({}, {}) against ({m}, {v})",
                        ym[o],
                        yv[o]
                    );
                    assert_eq!(
                        (ym[o].to_bits(), yv[o].to_bits()),
                        (sm[o].to_bits(), sv[o].to_bits()),
                        "dense and sparse differ at node {o} of {width}x{n}"
                    );
                }
                assert!(ym[width..].iter().all(|v| v.is_nan()));
            }
        }
    }

    /// Variances of −0 (a blob may hold them: they pass `≥ 0`) give the same bits in the f32
    /// kernel and both table4 kernels, the first layer's form and the others': the sums add
    /// the same terms, so even the sign of a zero agrees.
    #[test]
    fn negative_zero_variances_give_the_same_bits_in_every_kernel() {
        let mut r = Values(9);
        for &(width, n) in &[(9, 5), (4, 3), (13, 8)] {
            let w: [f32; 13 * 8] = core::array::from_fn(|_| r.next(-1.0, 2.0));
            let b: [f32; 13] = core::array::from_fn(|_| r.next(-1.0, 2.0));
            let (w, b, vb, vw) = (
                &w[..width * n],
                &b[..width],
                &[-0.0f32; 13][..width],
                &[-0.0f32; 13 * 8][..width * n],
            );
            let table = [-0.0f32; TABLE4];
            let words = [0.0f32; 13];
            let coded = CodeVariances::Table4 {
                table: &table,
                words: &words[..(width * n).div_ceil(8)],
            };
            let xm: [f32; 8] = core::array::from_fn(|_| r.next(-2.0, 4.0));
            for (exact, xv) in [(true, [0.0f32; 8]), (false, [0.25f32; 8])] {
                let (xm, xv) = (&xm[..n], &xv[..n]);
                let run = |k: usize| {
                    let (mut m, mut v) = ([0.0f32; 13], [0.0f32; 13]);
                    let (om, ov) = (&mut m[..width], &mut v[..width]);
                    match k {
                        0 => dense(w, b, vb, vw, xm, xv, exact, om, ov),
                        1 => dense_table4(w, b, (vb, coded, &table, &words), xm, xv, exact, om, ov),
                        _ => dense_table4_rows(w, b, (vb, coded), xm, xv, exact, om, ov),
                    }
                    (m.map(f32::to_bits), v.map(f32::to_bits))
                };
                assert_eq!(run(0), run(1), "table4, {width}x{n}, exact {exact}");
                assert_eq!(run(0), run(2), "rows, {width}x{n}, exact {exact}");
            }
        }
    }

    /// An integer layer's first-layer form (`exact`: `Σ V·a²`) gives the bits of the general
    /// form on inputs whose variances are +0, dense and sparse, weight variances of −0
    /// included.
    #[test]
    fn an_integer_layer_on_exact_inputs_gives_the_general_form_s_bits() {
        use crate::model::{Int8Weights, Rescale};
        let mut r = Values(5);
        for &(width, n) in &[(1, 1), (5, 3), (9, 8), (13, 17)] {
            let k = width * n;
            let codes: [u8; 13 * 17] = core::array::from_fn(|_| r.next(1.0, 254.0) as u8);
            let values: [i8; 13 * 17] = core::array::from_fn(|_| r.next(-127.0, 254.0) as i8);
            let row_len = [n as u16; 13];
            let cols: [u8; 13 * 17] = core::array::from_fn(|e| (e % n) as u8);
            // bias, scale (width each), unit (n), bias variances (width), weight variances.
            let mut post = [0.0f32; 4 * 13 + 17 + 13 * 17];
            let len = 3 * width + n + k;
            for (i, v) in post[..len].iter_mut().enumerate() {
                *v = match i {
                    _ if i < width => r.next(-1.0, 2.0),
                    _ if i < 2 * width => r.next(0.001, 0.01),
                    _ if i < 2 * width + n => r.next(0.5, 2.0),
                    _ if i % 3 == 0 => -0.0,
                    _ => r.next(0.0, 0.3),
                };
            }
            let p = Int8Posterior::new(&post[..len], width, n).unwrap();
            let weights = [
                Int8Weights::Dense(&codes[..k]),
                Int8Weights::Sparse {
                    row_len: &row_len[..width],
                    cols: &cols[..k],
                    values: &values[..k],
                },
            ];
            for w in weights {
                let q = Int8 {
                    bias: &[],
                    weights: w,
                    rescale: Rescale::Dequantise(&[]),
                    posterior: Some(p),
                };
                let x: [f32; MAX_WIDTH] = core::array::from_fn(|_| r.next(-3.0, 6.0));
                let run = |exact: bool| {
                    let (mut xm, mut xv) = (x, [0.0f32; MAX_WIDTH]);
                    let (mut ym, mut yv) = ([0.0f32; 13], [0.0f32; 13]);
                    let (om, ov) = (&mut ym[..width], &mut yv[..width]);
                    int8(&q, &p, (&mut xm, &mut xv), n, exact, true, om, ov);
                    (ym.map(f32::to_bits), yv.map(f32::to_bits))
                };
                assert_eq!(run(true), run(false), "{width}x{n}, {w:?}");
                assert!(
                    run(true).1[..width]
                        .iter()
                        .all(|&v| f32::from_bits(v) > 0.0)
                );
            }
        }
    }

    /// A dense integer layer's sums by blocks ([`int8_blocks`], [`int8_rows`]) are the row
    /// loop's bits, for widths around multiples of four, weight variances as f32 and as 4-bit
    /// codes (−0 among them), on exact inputs and on inputs with variances.
    #[test]
    fn an_integer_layer_s_blocks_give_the_row_loop_s_bits() {
        use crate::model::Rescale;
        let mut r = Values(9);
        for &(width, n) in &[(1, 1), (3, 5), (4, 4), (5, 3), (8, 9), (9, 8), (13, 17)] {
            let k = width * n;
            let codes: [u8; 13 * 17] = core::array::from_fn(|_| r.next(0.0, 255.99) as u8);
            // bias, scale (width each), unit (n), bias variances (width), then the weights'
            // variances: one f32 each, or a table of 16 and words of 4-bit codes.
            let head = 3 * width + n;
            let mut post = [0.0f32; 3 * 13 + 17 + 13 * 17];
            for (i, v) in post[..head + k].iter_mut().enumerate() {
                *v = match i {
                    _ if i < width => r.next(-1.0, 2.0),
                    _ if i < 2 * width => r.next(0.001, 0.01),
                    _ if i < 2 * width + n => r.next(0.5, 2.0),
                    _ if i % 5 == 0 => -0.0,
                    _ => r.next(0.0, 0.3),
                };
            }
            let mut coded = [0.0f32; 3 * 13 + 17 + TABLE4 + 13 * 17 / 8 + 1];
            coded[..head].copy_from_slice(&post[..head]);
            for (j, t) in coded[head..head + TABLE4].iter_mut().enumerate() {
                *t = if j == 0 { -0.0 } else { r.next(0.0, 0.3) };
            }
            let nibbles: [u8; 13 * 17] = core::array::from_fn(|_| r.next(0.0, 15.99) as u8);
            let words = k.div_ceil(8);
            for (w, c) in coded[head + TABLE4..][..words]
                .iter_mut()
                .zip(nibbles[..k].chunks(8))
            {
                *w = crate::table4_word(c);
            }
            let posteriors = [
                Int8Posterior::new(&post[..head + k], width, n).unwrap(),
                Int8Posterior::with_table(&coded[..head + TABLE4 + words], width, n, k).unwrap(),
            ];
            for p in posteriors {
                let q = Int8 {
                    bias: &[],
                    weights: Int8Weights::Dense(&codes[..k]),
                    rescale: Rescale::Dequantise(&[]),
                    posterior: Some(p),
                };
                let xm: [f32; MAX_WIDTH] = core::array::from_fn(|_| r.next(-3.0, 6.0));
                let xv: [f32; MAX_WIDTH] = core::array::from_fn(|_| r.next(0.0, 0.5));
                for exact in [true, false] {
                    let run = |blocks: bool| {
                        let (mut xm, mut xv) = (xm, if exact { [0.0; MAX_WIDTH] } else { xv });
                        let (mut ym, mut yv) = ([0.0f32; 13], [0.0f32; 13]);
                        let (om, ov) = (&mut ym[..width], &mut yv[..width]);
                        int8(&q, &p, (&mut xm, &mut xv), n, exact, blocks, om, ov);
                        (ym.map(f32::to_bits), yv.map(f32::to_bits))
                    };
                    let format = p.format();
                    assert_eq!(
                        run(true),
                        run(false),
                        "{width}x{n}, {format:?}, exact {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn probit_softmax_shrinks_uncertain_logits_towards_uniform() {
        let mut sure = [
            Prediction {
                mean: 2.0,
                epistemic: 0.0,
                noise: 0.0,
            },
            Prediction::default(),
        ];
        let mut unsure = sure;
        unsure[0].epistemic = 50.0;
        probit_softmax(&mut sure);
        probit_softmax(&mut unsure);
        let exact = 1.0 / (1.0 + (-2f64).exp());
        assert!((f64::from(sure[0].mean) - exact).abs() < 1e-4);
        assert!(unsure[0].mean < sure[0].mean && unsure[0].mean > 0.5);
        assert!((unsure[0].mean + unsure[1].mean - 1.0).abs() < 1e-6);
    }
}

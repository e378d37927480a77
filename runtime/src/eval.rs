//! Evaluation: `x₀ = (x[inputs] − mean) · scale`, `x_{l+1} = act_l(b_l + W_l·x_l)`, then the
//! task's output map (de-standardisation, or softmax).
//!
//! Working memory is a [`Scratch`]: two activation buffers of [`MAX_WIDTH`] floats; weights
//! are read in place. Each node's sum starts at its bias and adds the products in input
//! order, for dense and sparse layers alike, so both storages give the same bits.

use crate::format::{MAX_WIDTH, Task};
use crate::int8;
use crate::math::{activate, argmax, softmax, softmax_q};
use crate::model::{InputMap, Int8, Int8Weights, Layer, Model, Params, Rescale, Weights};
use crate::{Error, Result};

pub type Buf = [f32; MAX_WIDTH];

/// The working memory of an evaluation: two activation buffers of [`MAX_WIDTH`] floats (2 KiB).
///
/// [`Model::predict`] makes one on the stack for each call; a loop that evaluates many rows
/// can keep one and call [`Model::predict_with`], which saves clearing it every time.
///
/// Its layout is fixed (`repr(C)`, [`crate::EVAL_BUFFER_BYTES`] bytes, aligned as `f32`) and
/// every bit pattern is a valid `Scratch`: evaluation writes before it reads. So foreign code
/// may hand in any suitably sized and aligned memory (the C API does).
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Scratch {
    a: Buf,
    b: Buf,
}

impl Scratch {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Self {
            a: [0.0; MAX_WIDTH],
            b: [0.0; MAX_WIDTH],
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Model<'_> {
    /// Evaluates the model on a raw feature vector of length [`Model::features`]: only the
    /// entries listed by [`Model::inputs`] are read, so the others may hold anything.
    ///
    /// Writes [`Model::outputs`] values: regression outputs on the target's scale, or class
    /// probabilities. A NaN or infinite value in a read input propagates (NaN or infinite
    /// outputs); it is never an error.
    ///
    /// # Errors
    /// [`Error::InputLen`] or [`Error::OutputLen`] for slices of the wrong length; nothing else.
    pub fn predict(&self, features: &[f32], out: &mut [f32]) -> Result<()> {
        self.predict_with(&mut Scratch::new(), features, out)
    }

    /// [`Model::predict`] with caller-provided working memory.
    ///
    /// # Errors
    /// [`Error::InputLen`] or [`Error::OutputLen`] for slices of the wrong length; nothing else.
    pub fn predict_with(
        &self,
        scratch: &mut Scratch,
        features: &[f32],
        out: &mut [f32],
    ) -> Result<()> {
        self.check_len(features.len(), self.parts.features, out.len())?;
        // An int8 input map reads each input from `features` as it codes it.
        if let InputMap::F32 { .. } = self.parts.input {
            for (dst, &i) in scratch.a.iter_mut().zip(self.parts.inputs) {
                *dst = features.get(usize::from(i)).copied().unwrap_or(f32::NAN);
            }
        }
        self.run(scratch, Some(features), out);
        Ok(())
    }

    /// Like [`Model::predict`], but takes only the read features, in the order of [`Model::inputs`].
    ///
    /// # Errors
    /// [`Error::InputLen`] or [`Error::OutputLen`] for slices of the wrong length; nothing else.
    pub fn predict_inputs(&self, inputs: &[f32], out: &mut [f32]) -> Result<()> {
        let n = u16::try_from(self.parts.inputs.len()).unwrap_or(u16::MAX);
        self.check_len(inputs.len(), n, out.len())?;
        let mut scratch = Scratch::new();
        for (dst, &v) in scratch.a.iter_mut().zip(inputs) {
            *dst = v;
        }
        self.run(&mut scratch, None, out);
        Ok(())
    }

    /// The most probable class for a raw feature vector (classification), or the index of the
    /// largest output (regression); `None` when an output is NaN.
    ///
    /// # Errors
    /// [`Error::InputLen`] for a feature vector of the wrong length.
    pub fn classify(&self, features: &[f32]) -> Result<Option<usize>> {
        let mut out = [0.0; MAX_WIDTH];
        let out = out.get_mut(..self.outputs()).unwrap_or_default();
        self.predict(features, out)?;
        Ok(argmax(out))
    }

    pub(super) fn check_len(&self, got: usize, expected: u16, out: usize) -> Result<()> {
        if got != usize::from(expected) {
            return Err(Error::InputLen { expected });
        }
        if out != self.outputs() {
            let expected = u16::try_from(self.outputs()).unwrap_or(u16::MAX);
            return Err(Error::OutputLen { expected });
        }
        Ok(())
    }

    /// Evaluates the layers on the read inputs in `scratch.a`, or, for an int8 input map
    /// with `features`, on `features[inputs[j]]`.
    fn run(&self, scratch: &mut Scratch, features: Option<&[f32]>, out: &mut [f32]) {
        let p = &self.parts;
        let (mut x, mut y) = (&mut scratch.a, &mut scratch.b);
        let mut n = p.inputs.len();
        let mut unread = false;
        match p.input {
            InputMap::Int8 {
                offset,
                mult,
                shift,
                exp,
                ..
            } => {
                let read = offset.get(..n).unwrap_or_default();
                unread = !match features {
                    Some(f) => int8::feature_codes(f, p.inputs, read, mult, shift, exp, x),
                    None => int8::input_codes(read, mult, shift, exp, x),
                };
            }
            InputMap::F32 { mean, scale } => {
                for ((v, m), s) in x.iter_mut().zip(mean).zip(scale) {
                    *v = (*v - m) * s;
                }
            }
        }
        let Some((last, hidden)) = p.layers.split_last() else {
            return;
        };
        if FUSED && self.fused != 0 {
            let mut fused = self.fused;
            for layer in hidden {
                if fused & 1 != 0 {
                    layer.forward_codes(x, n, y);
                } else {
                    layer.forward(x, n, y);
                }
                fused >>= 1;
                n = layer.width();
                core::mem::swap(&mut x, &mut y);
            }
        } else {
            // Apart, so that a model without such layers pays no test per layer (the f32
            // demo on the M4F: 1,291 instructions against 1,301 with one loop).
            for layer in hidden {
                layer.forward(x, n, y);
                n = layer.width();
                core::mem::swap(&mut x, &mut y);
            }
        }
        if let Params::Int8(
            q @ Int8 {
                rescale: Rescale::Requantise { mult, shift },
                ..
            },
        ) = last.params
        {
            // A classifier's integer output layer: logits in units of 2^−8, integer softmax.
            let r: &mut [i32; MAX_WIDTH] = bytemuck::cast_mut(y);
            q.sums(bytemuck::bytes_of(x), n, r);
            for ((v, &m), &k) in r.iter_mut().zip(mult).zip(shift) {
                *v = int8::requantise(*v, m, k);
            }
            softmax_q(r.get(..last.width()).unwrap_or_default(), out);
        } else {
            last.forward(x, n, y);
            for (o, z) in out.iter_mut().zip(y.iter()) {
                *o = *z;
            }
            match p.task {
                Task::Regression => {
                    for ((o, m), s) in out.iter_mut().zip(p.output_mean).zip(p.output_scale) {
                        *o = *o * s + m;
                    }
                }
                Task::Classification => softmax(out),
            }
        }
        if unread {
            out.fill(f32::NAN);
        }
    }
}

/// Whether the layers that [`Layer::fuses`] take [`int8::dense_relu_codes`]: where the core has
/// the DSP extension (its `SMLAWB` is the requantisation's multiply), and on the host, so
/// that host tests and the boards without it check each other's route bit for bit.
pub const FUSED: bool = cfg!(any(not(target_arch = "arm"), target_feature = "dsp"));

impl Layer<'_> {
    /// [`Layer::forward`] of a layer that [`Layer::fuses`], by [`int8::dense_relu_codes`].
    fn forward_codes(&self, x: &Buf, n: usize, y: &mut Buf) {
        if let Params::Int8(Int8 {
            weights: Int8Weights::Dense(w),
            bias,
            rescale: Rescale::Requantise { mult, shift },
            ..
        }) = self.params
        {
            let a = bytemuck::bytes_of(x).get(..n).unwrap_or_default();
            let out = bytemuck::bytes_of_mut(y)
                .get_mut(..self.width())
                .unwrap_or_default();
            int8::dense_relu_codes(w, bias, a, mult, shift, out);
        }
    }

    /// `y[..width] = act(b + W · x[..n])`; an integer layer reads `x` as codes and writes
    /// codes (requantising) or f32 (dequantising).
    fn forward(&self, x: &Buf, n: usize, y: &mut Buf) {
        let width = self.width();
        match self.params {
            Params::F32 { bias, weights, .. } => {
                let y = y.get_mut(..width).unwrap_or_default();
                match weights {
                    Weights::Dense(w) => dense(w, bias, x.get(..n).unwrap_or_default(), y),
                    Weights::Sparse {
                        row_len,
                        cols,
                        values,
                    } => sparse(row_len, cols, values, bias, x, y),
                }
                activate(self.activation, y);
            }
            Params::Int8(q) => {
                let sums: &mut [i32; MAX_WIDTH] = bytemuck::cast_mut(y);
                q.sums(bytemuck::bytes_of(x), n, sums);
                match q.rescale {
                    Rescale::Requantise { mult, shift } => {
                        int8::codes(self.activation, mult, shift, sums);
                    }
                    Rescale::Dequantise(scale) => {
                        for (v, &d) in y.iter_mut().zip(scale) {
                            *v = v.to_bits() as i32 as f32 * d;
                        }
                        activate(self.activation, y.get_mut(..width).unwrap_or_default());
                    }
                }
            }
        }
    }
}

impl Int8<'_> {
    /// Writes each node's sum to `out`, reading the first `n` codes of `a`.
    fn sums(&self, a: &[u8], n: usize, out: &mut [i32; MAX_WIDTH]) {
        let out = out.get_mut(..self.bias.len()).unwrap_or_default();
        match self.weights {
            Int8Weights::Dense(w) => {
                int8::dense(w, self.bias, a.get(..n).unwrap_or_default(), out);
            }
            Int8Weights::Sparse {
                row_len,
                cols,
                values,
            } => {
                if let Some(a) = a.first_chunk::<MAX_WIDTH>() {
                    int8::sparse(row_len, cols, values, self.bias, a, out);
                }
            }
        }
    }
}

/// `y = b + W·x` for a dense `W` of `y.len()` rows of `x.len()` weights, packed as
/// [`crate::dense_index`] says: blocks of four rows stored column by column, then the last
/// `y.len() % 4` rows one after the other.
///
/// Each step of the block loop loads four inputs and sixteen consecutive weights and issues
/// sixteen multiply-adds.
fn dense(w: &[f32], bias: &[f32], x: &[f32], y: &mut [f32]) {
    let n = x.len();
    if n == 0 {
        return;
    }
    let (xc, xt) = x.as_chunks::<4>();
    let (bc, bt) = bias.as_chunks::<4>();
    let mut blocks = w.chunks_exact(4 * n);
    let (yc, yt) = y.as_chunks_mut::<4>();
    for ((block, out), &b) in blocks.by_ref().zip(yc).zip(bc) {
        let mut s = b;
        let (wc, wt) = block.as_chunks::<16>();
        // The same sums, from `vldm` loads (`asm` feature, cores with an FPU).
        #[cfg(all(feature = "asm", target_arch = "arm", target_feature = "fpregs"))]
        let wc = crate::asm::block_f32(wc, xc, &mut s);
        for (w, &[x0, x1, x2, x3]) in wc.iter().zip(xc) {
            s[0] += w[0] * x0;
            s[1] += w[1] * x0;
            s[2] += w[2] * x0;
            s[3] += w[3] * x0;
            s[0] += w[4] * x1;
            s[1] += w[5] * x1;
            s[2] += w[6] * x1;
            s[3] += w[7] * x1;
            s[0] += w[8] * x2;
            s[1] += w[9] * x2;
            s[2] += w[10] * x2;
            s[3] += w[11] * x2;
            s[0] += w[12] * x3;
            s[1] += w[13] * x3;
            s[2] += w[14] * x3;
            s[3] += w[15] * x3;
        }
        for (w, &xi) in wt.as_chunks::<4>().0.iter().zip(xt) {
            s[0] += w[0] * xi;
            s[1] += w[1] * xi;
            s[2] += w[2] * xi;
            s[3] += w[3] * xi;
        }
        *out = s;
    }
    for ((row, out), &b) in blocks.remainder().chunks_exact(n).zip(yt).zip(bt) {
        let mut s = b;
        let (rc, rt) = row.as_chunks::<4>();
        for (&[a0, a1, a2, a3], &[x0, x1, x2, x3]) in rc.iter().zip(xc) {
            s += a0 * x0;
            s += a1 * x1;
            s += a2 * x2;
            s += a3 * x3;
        }
        for (&a, &xi) in rt.iter().zip(xt) {
            s += a * xi;
        }
        *out = s;
    }
}

/// `y = b + W·x` for `W` in compressed sparse rows; `x` is indexed by byte, so never out of range.
fn sparse(row_len: &[u16], cols: &[u8], values: &[f32], bias: &[f32], x: &Buf, y: &mut [f32]) {
    let n = cols.len().min(values.len());
    let mut i = 0;
    for ((out, &len), &b) in y.iter_mut().zip(row_len).zip(bias) {
        let end = i + usize::from(len);
        if end > n {
            return;
        }
        let mut s = b;
        while i < end {
            s += values[i] * x[usize::from(cols[i])];
            i += 1;
        }
        *out = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dense_index;

    /// Uniform values in `[−2, 2)` from a 64-bit LCG (Knuth's MMIX constants).
    struct Values(u64);

    impl Values {
        fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        }
    }

    /// `b[o] + Σ_i W[o][i]·x[i]`, summed in input order: the order both kernels promise.
    fn naive(w: &[f32], bias: &[f32], x: &[f32], o: usize) -> f32 {
        let (width, n) = (bias.len(), x.len());
        (0..n).fold(bias[o], |s, i| s + w[dense_index(o, i, width, n)] * x[i])
    }

    /// Widths around multiples of 4, where the blocked loop meets its tails.
    const WIDTHS: [usize; 14] = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 33];

    #[test]
    fn dense_equals_naive_bit_for_bit_around_multiples_of_four() {
        let mut v = Values(7);
        for &width in &WIDTHS {
            for &n in &WIDTHS {
                let w: [f32; 33 * 33] = core::array::from_fn(|_| v.next());
                let w = &w[..width * n];
                let bias: [f32; 33] = core::array::from_fn(|_| v.next());
                let x: [f32; 33] = core::array::from_fn(|_| v.next());
                let mut y = [f32::NAN; 33];
                dense(w, &bias[..width], &x[..n], &mut y[..width]);
                for (o, yo) in y[..width].iter().enumerate() {
                    assert_eq!(
                        yo.to_bits(),
                        naive(w, &bias[..width], &x[..n], o).to_bits(),
                        "node {o} of {width}x{n}"
                    );
                }
                assert!(
                    y[width..].iter().all(|v| v.is_nan()),
                    "{width}x{n} wrote past its rows"
                );
            }
        }
    }

    #[test]
    fn sparse_equals_dense_with_zeros_for_every_pattern_density() {
        let mut v = Values(11);
        for &width in &WIDTHS {
            for &n in &WIDTHS {
                for keep in [0u64, 1, 2, 3] {
                    // Edge (o, i) kept when its hash falls under `keep` quarters.
                    let kept =
                        |o: usize, i: usize| ((o * 31 + i * 17) as u64 * 2_654_435_761) % 4 < keep;
                    let mut packed = [0.0f32; 33 * 33];
                    let (mut row_len, mut cols, mut values) =
                        ([0u16; 33], [0u8; 33 * 33], [0.0f32; 33 * 33]);
                    let mut e = 0;
                    for o in 0..width {
                        for i in 0..n {
                            if kept(o, i) {
                                let w = v.next();
                                packed[dense_index(o, i, width, n)] = w;
                                (cols[e], values[e]) = (i as u8, w);
                                row_len[o] += 1;
                                e += 1;
                            }
                        }
                    }
                    let bias: [f32; 33] = core::array::from_fn(|_| v.next());
                    let mut x: Buf = [0.0; MAX_WIDTH];
                    for xi in &mut x[..n] {
                        *xi = v.next();
                    }
                    let (mut yd, mut ys) = ([0.0f32; 33], [0.0f32; 33]);
                    dense(
                        &packed[..width * n],
                        &bias[..width],
                        &x[..n],
                        &mut yd[..width],
                    );
                    sparse(
                        &row_len[..width],
                        &cols[..e],
                        &values[..e],
                        &bias[..width],
                        &x,
                        &mut ys[..width],
                    );
                    for o in 0..width {
                        // Adding the zero products changes no bit of a finite sum but the sign of -0.
                        assert_eq!(
                            yd[o] + 0.0,
                            ys[o] + 0.0,
                            "node {o} of {width}x{n}, keep {keep}/4"
                        );
                    }
                }
            }
        }
    }
}

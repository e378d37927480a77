//! Evaluation: `x₀ = (x[inputs] − mean) · scale`, `x_{l+1} = act_l(W_l·x_l + b_l)`, then the
//! task's output map (de-standardisation, or softmax).
//!
//! Working memory is two activation buffers of [`MAX_WIDTH`] floats on the stack
//! (2 × 1 KiB); weights are read in place. A dense layer computes four rows at a time, so
//! that every input value loaded from RAM feeds four multiply-adds; each dot product is
//! summed in index order, then the bias is added.

use crate::format::{MAX_WIDTH, Task};
use crate::math::{activate, argmax, softmax};
use crate::model::{Layer, Model, Weights};
use crate::{Error, Result};

type Buf = [f32; MAX_WIDTH];

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
        self.check_len(features.len(), self.parts.features, out)?;
        let mut x = [0.0; MAX_WIDTH];
        for (dst, &i) in x.iter_mut().zip(self.parts.inputs) {
            *dst = features.get(usize::from(i)).copied().unwrap_or(f32::NAN);
        }
        self.run(x, out);
        Ok(())
    }

    /// Like [`Model::predict`], but takes only the read features, in the order of [`Model::inputs`].
    ///
    /// # Errors
    /// [`Error::InputLen`] or [`Error::OutputLen`] for slices of the wrong length; nothing else.
    pub fn predict_inputs(&self, inputs: &[f32], out: &mut [f32]) -> Result<()> {
        let n = u16::try_from(self.parts.inputs.len()).unwrap_or(u16::MAX);
        self.check_len(inputs.len(), n, out)?;
        let mut x = [0.0; MAX_WIDTH];
        for (dst, &v) in x.iter_mut().zip(inputs) {
            *dst = v;
        }
        self.run(x, out);
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

    fn check_len(&self, got: usize, expected: u16, out: &[f32]) -> Result<()> {
        if got != usize::from(expected) {
            return Err(Error::InputLen { expected });
        }
        if out.len() != self.outputs() {
            let expected = u16::try_from(self.outputs()).unwrap_or(u16::MAX);
            return Err(Error::OutputLen { expected });
        }
        Ok(())
    }

    fn run(&self, mut a: Buf, out: &mut [f32]) {
        let p = &self.parts;
        for ((x, m), s) in a.iter_mut().zip(p.input_mean).zip(p.input_scale) {
            *x = (*x - m) * s;
        }
        let mut b = [0.0; MAX_WIDTH];
        let (mut x, mut y) = (&mut a, &mut b);
        let mut n = p.inputs.len();
        for layer in &p.layers {
            layer.forward(x, n, y);
            n = layer.bias.len();
            core::mem::swap(&mut x, &mut y);
        }
        for (o, z) in out.iter_mut().zip(x.iter()) {
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
}

impl Layer<'_> {
    /// `y[..width] = act(W · x[..n] + b)`.
    fn forward(&self, x: &Buf, n: usize, y: &mut Buf) {
        let width = self.bias.len();
        let y = y.get_mut(..width).unwrap_or_default();
        match self.weights {
            Weights::Dense(w) => dense(w, x.get(..n).unwrap_or_default(), y),
            Weights::Sparse { row_len, cols, values } => sparse(row_len, cols, values, x, y),
        }
        for (v, b) in y.iter_mut().zip(self.bias) {
            *v += b;
        }
        activate(self.activation, y);
    }
}

/// `y = W·x` for a row-major `W` of `y.len()` rows of `x.len()` weights.
fn dense(w: &[f32], x: &[f32], y: &mut [f32]) {
    let n = x.len();
    if n == 0 {
        return;
    }
    let mut blocks = w.chunks_exact(4 * n);
    let mut y4 = y.chunks_exact_mut(4);
    for (rows, out) in blocks.by_ref().zip(y4.by_ref()) {
        let (r01, r23) = rows.split_at(2 * n);
        let (r0, r1) = r01.split_at(n);
        let (r2, r3) = r23.split_at(n);
        let mut s = [0.0f32; 4];
        for ((((&xi, &a), &b), &c), &d) in x.iter().zip(r0).zip(r1).zip(r2).zip(r3) {
            s[0] += a * xi;
            s[1] += b * xi;
            s[2] += c * xi;
            s[3] += d * xi;
        }
        out.copy_from_slice(&s);
    }
    for (row, out) in blocks.remainder().chunks_exact(n).zip(y4.into_remainder()) {
        let mut s = 0.0f32;
        for (&xi, &a) in x.iter().zip(row) {
            s += a * xi;
        }
        *out = s;
    }
}

/// `y = W·x` for `W` in compressed sparse rows; `x` is indexed by byte, so never out of range.
fn sparse(row_len: &[u16], cols: &[u8], values: &[f32], x: &Buf, y: &mut [f32]) {
    let mut start = 0;
    for (out, &len) in y.iter_mut().zip(row_len) {
        let end = start + usize::from(len);
        let (Some(c), Some(v)) = (cols.get(start..end), values.get(start..end)) else {
            return;
        };
        let mut s = 0.0f32;
        for (&ci, &wi) in c.iter().zip(v) {
            s += wi * x[usize::from(ci)];
        }
        *out = s;
        start = end;
    }
}

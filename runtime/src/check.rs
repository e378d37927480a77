//! Validation of decoded parts: after it, evaluation cannot index out of range or meet a
//! number it was not built for.

use crate::format::{Activation, MAX_WIDTH, Names, Task, name_at};
use crate::model::{CodeVariances, InputMap, Int8, Int8Weights, Params, Parts, Rescale, Weights};
use crate::{Error, Result};

/// Checks everything [`crate::Model::from_bytes`] promises about `p`, whose views all point
/// into `blob` (byte offsets in errors are relative to `blob`).
pub fn check(p: &Parts<'_>, blob: &[u8]) -> Result<()> {
    let at = |x: *const u8| {
        u32::try_from(x.addr().wrapping_sub(blob.as_ptr().addr())).unwrap_or(u32::MAX)
    };
    let n = p.inputs.len();
    if n == 0 || n > MAX_WIDTH || n > usize::from(p.features) {
        return Err(Error::Inputs);
    }
    let mut prev = None;
    for &i in p.inputs {
        if i >= p.features || prev.is_some_and(|q| i <= q) {
            return Err(Error::Inputs);
        }
        prev = Some(i);
    }
    match p.input {
        InputMap::F32 { mean, scale } => {
            finite(mean, &at)?;
            finite(scale, &at)?;
        }
        InputMap::Int8 {
            offset,
            shift,
            mean,
            scale,
            ..
        } => {
            within(offset, MAX_INPUT_OFFSET, &at)?;
            shifts(shift, &at)?;
            finite(mean, &at)?;
            finite(scale, &at)?;
        }
    }
    let mut in_width = n;
    for (i, l) in p.layers.iter().enumerate() {
        let layer = u8::try_from(i).unwrap_or(u8::MAX);
        match l.params {
            Params::F32 {
                bias,
                weights,
                variance,
            } => {
                if let Some(v) = variance {
                    variances(v.bias, &at)?;
                    code_variances(v.weights, &at)?;
                }
                finite(bias, &at)?;
                match weights {
                    Weights::Dense(w) => finite(w, &at)?,
                    Weights::Sparse {
                        row_len,
                        cols,
                        values,
                    } => {
                        sparse(row_len, cols, in_width, layer, &at)?;
                        finite(values, &at)?;
                    }
                }
            }
            Params::Int8(q) => int8(&q, in_width, layer, &at)?,
        }
        in_width = l.width();
    }
    let last = p.layers.last().ok_or(Error::Capacity)?;
    if p.task == Task::Classification && (in_width < 2 || last.activation != Activation::Identity) {
        return Err(Error::Task);
    }
    finite(p.output_mean, &at)?;
    finite(p.output_scale, &at)?;
    finite(p.noise_sd, &at)?;
    if let Some(x) = p.noise_sd.iter().find(|&&x| x <= 0.0) {
        return Err(Error::NonFinite {
            offset: at(core::ptr::from_ref(x).cast()),
        });
    }
    names(p.names, n, in_width, &at)?;
    finite(p.pips, &at)?;
    match p.pips.iter().find(|&&x| !(0.0..=1.0).contains(&x)) {
        Some(x) => Err(Error::NonFinite {
            offset: at(core::ptr::from_ref(x).cast()),
        }),
        None => Ok(()),
    }
}

/// Largest magnitude of an integer layer's bias. With at most [`MAX_WIDTH`] products of
/// magnitude at most 128 · 255 (dense codes `u − 128 ∈ [−128, 127]`, activation codes
/// `a ∈ [0, 255]`), every sum stays below 2^24 + 2^23 in magnitude, so the 32-bit sums and
/// the requantisation's 32-bit steps never overflow.
pub const MAX_INT8_BIAS: i32 = 1 << 24;

/// The shifts a requantisation may use: `r = ⌊(s·m + 2^(k−1)) / 2^k⌋` with `k` in this range.
pub const INT8_SHIFTS: core::ops::RangeInclusive<u8> = 17..=47;

/// Largest magnitude of an int8 input offset `C`. With `|⌊|x|·2^g⌋| < 2^29` (larger inputs
/// saturate first) the difference `X − C` stays below 2^30, within what
/// the requantisation computes exactly in 32-bit steps (`runtime/FORMAT.md`).
pub const MAX_INPUT_OFFSET: i32 = 1 << 29;

/// An integer layer's biases and shifts within range, its sparse indices as for f32, its
/// dequantisation scales and posterior finite, its variances non-negative.
fn int8(q: &Int8<'_>, in_width: usize, layer: u8, at: &impl Fn(*const u8) -> u32) -> Result<()> {
    within(q.bias, MAX_INT8_BIAS, at)?;
    if let Int8Weights::Sparse { row_len, cols, .. } = q.weights {
        sparse(row_len, cols, in_width, layer, at)?;
    }
    match q.rescale {
        Rescale::Requantise { shift, .. } => shifts(shift, at)?,
        Rescale::Dequantise(scale) => finite(scale, at)?,
    }
    if let Some(p) = q.posterior {
        finite(p.bias(), at)?;
        finite(p.scale(), at)?;
        finite(p.unit(), at)?;
        variances(p.bias_variance(), at)?;
        code_variances(p.weight_variance(), at)?;
    }
    Ok(())
}

/// As [`variances`]; every 4-bit code indexes its table, so only the table's entries need
/// checking.
fn code_variances(v: CodeVariances<'_>, at: &impl Fn(*const u8) -> u32) -> Result<()> {
    let (CodeVariances::F32(values) | CodeVariances::Table4 { table: values, .. }) = v;
    variances(values, at)
}

/// Every variance finite and non-negative (else `NonFinite` at the first that is not).
fn variances(v: &[f32], at: &impl Fn(*const u8) -> u32) -> Result<()> {
    match v.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
        Some(x) => Err(Error::NonFinite {
            offset: at(core::ptr::from_ref(x).cast()),
        }),
        None => Ok(()),
    }
}

/// Every value's magnitude at most `bound` (else `NonFinite` at the first beyond it).
fn within(v: &[i32], bound: i32, at: &impl Fn(*const u8) -> u32) -> Result<()> {
    match v.iter().find(|b| b.unsigned_abs() > bound.unsigned_abs()) {
        Some(b) => Err(Error::NonFinite {
            offset: at(core::ptr::from_ref(b).cast()),
        }),
        None => Ok(()),
    }
}

/// Every shift within [`INT8_SHIFTS`] (else `NonFinite` at the first outside).
fn shifts(shift: &[u8], at: &impl Fn(*const u8) -> u32) -> Result<()> {
    match shift.iter().find(|k| !INT8_SHIFTS.contains(k)) {
        Some(k) => Err(Error::NonFinite { offset: at(k) }),
        None => Ok(()),
    }
}

/// Exactly `inputs` names then `outputs` names, none repeated within its group.
fn names(
    names: Names<'_>,
    inputs: usize,
    outputs: usize,
    at: &impl Fn(*const u8) -> u32,
) -> Result<()> {
    let bytes = names.as_bytes();
    let fault = |pos: usize| Error::Names {
        offset: at(bytes.as_ptr().wrapping_add(pos)),
    };
    let mut pos = 0;
    for count in [inputs, outputs] {
        let first = pos;
        for _ in 0..count {
            let name = name_at(bytes, pos).ok_or_else(|| fault(pos))?;
            let mut q = first;
            while let Some(other) = name_at(bytes, q).filter(|_| q < pos) {
                if other == name {
                    return Err(fault(pos));
                }
                q += 1 + other.len();
            }
            pos += 1 + name.len();
        }
    }
    if pos == bytes.len() {
        Ok(())
    } else {
        Err(fault(pos))
    }
}

fn finite(v: &[f32], at: &impl Fn(*const u8) -> u32) -> Result<()> {
    match v.iter().find(|x| !x.is_finite()) {
        Some(x) => Err(Error::NonFinite {
            offset: at(core::ptr::from_ref(x).cast()),
        }),
        None => Ok(()),
    }
}

/// Row lengths add up to the edge count; columns increase strictly within a row, below `in_width`.
fn sparse(
    row_len: &[u16],
    cols: &[u8],
    in_width: usize,
    layer: u8,
    at: &impl Fn(*const u8) -> u32,
) -> Result<()> {
    let mut rest = cols;
    for &len in row_len {
        let (row, tail) = rest
            .split_at_checked(usize::from(len))
            .ok_or(Error::Shape { layer })?;
        let mut prev = None;
        for c in row {
            if usize::from(*c) >= in_width || prev.is_some_and(|q| *c <= q) {
                return Err(Error::Index { offset: at(c) });
            }
            prev = Some(*c);
        }
        rest = tail;
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(Error::Shape { layer })
    }
}

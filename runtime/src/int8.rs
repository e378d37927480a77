//! The integer kernels: 8-bit codes in, 32-bit sums, and the maps between sums, codes and f32.
//!
//! Every step is exact integer arithmetic, an input's code included (taken from its f32 bits,
//! [`input_codes`]; a core with an FPU truncates `x·2^exp` with one exact conversion instead
//! of shifting the significand, the same integer), except the dequantisation at the output,
//! single f32 operations; so the host and every target give the same bits
//! (`runtime/FORMAT.md`, "Integer layers", states each step).

use crate::format::Activation;
use crate::math::tanh_q;

/// `⌊(s·m + 2^(shift−1)) / 2^shift⌋`, exactly, for every `s` and `shift` in 17..=47.
///
/// With `y = ⌊s·m / 2^16⌋` ([`scaled`]; `|y| < 2^31`) and `⌊(⌊y⌋ + c) / 2^j⌋ = ⌊(y + c) /
/// 2^j⌋` for integer `c`, and `k = shift − 16`, the result is `⌊(⌊y / 2^(k−1)⌋ + 1) / 2⌋`:
/// two shifts and no addition that can overflow.
#[inline(always)]
pub fn requantise(s: i32, m: u16, shift: u8) -> i32 {
    let k1 = u32::from(shift).wrapping_sub(17);
    scaled(s, m).wrapping_shr(k1).wrapping_add(1) >> 1
}

/// [`requantise`] for a multiplier `m ≥ 2^15`, with `k1 = shift − 17` (0..=30):
/// `⌊s·m / 2^16⌋ = ⌊s·(m − 2^16) / 2^16⌋ + s`, exactly, as `s` is an integer, and `m − 2^16` is
/// `m` read as an `i16`: one multiply-accumulate of a word by a halfword (`SMLAWB`) where the
/// core has the DSP extension. `|s·(m − 2^16)| / 2^16 ≤ |s| / 2`, so nothing overflows.
#[inline(always)]
fn requantise_normal(s: i32, m: u16, k1: u32) -> i32 {
    let y = ((i64::from(s) * i64::from(m as i16)) >> 16) as i32;
    y.wrapping_add(s).wrapping_shr(k1).wrapping_add(1) >> 1
}

/// Whether every multiplier is normalised (`m ≥ 2^15`), as [`requantiser`] makes them except
/// for factors below `2^−32`: the condition of [`dense_relu_codes`].
pub fn normalised(mult: &[u16]) -> bool {
    mult.iter().all(|&m| m >= 1 << 15)
}

/// `⌊s·m / 2^16⌋`: [`scaled_wide`] where the core multiplies 32×32→64 bits in one
/// instruction (`SMULL` on ARMv7-M), else [`scaled_halves`]; the two are equal for every
/// `s` and `m` (tested).
#[inline(always)]
fn scaled(s: i32, m: u16) -> i32 {
    if cfg!(all(target_arch = "arm", target_feature = "thumb2")) {
        scaled_wide(s, m)
    } else {
        scaled_halves(s, m)
    }
}

/// `⌊s·m / 2^16⌋` from one 64-bit product; `|s·m| < 2^47`, so the result fits.
#[inline(always)]
fn scaled_wide(s: i32, m: u16) -> i32 {
    ((i64::from(s) * i64::from(m)) >> 16) as i32
}

/// `⌊s·m / 2^16⌋` as two 32-bit products, for ARMv6-M, where a 64-bit product is a library
/// call: with `s = 2^16·h + l` (`h = s >> 16`, `0 ≤ l < 2^16`), `⌊s·m / 2^16⌋ = h·m + ⌊l·m /
/// 2^16⌋`.
#[inline(always)]
fn scaled_halves(s: i32, m: u16) -> i32 {
    let m = u32::from(m);
    let hi = (s >> 16).wrapping_mul(m as i32);
    let lo = (((s as u32) & 0xFFFF).wrapping_mul(m) >> 16) as i32;
    hi.wrapping_add(lo)
}

/// The multiplier and shift of a requantisation (`runtime/FORMAT.md`) that scales by the real
/// `factor`: `m / 2^shift` with `m` in `[2^15, 2^16)` (16 significant bits, relative error
/// ≤ 2^−16), or the nearest representable when `factor` is below `2^−32` (`m` smaller);
/// `None` above `1/2 − 2^−18` (no shift of at least 17 holds it), and for a negative or
/// non-finite `factor`.
pub fn requantiser(factor: f64) -> Option<(u16, u8)> {
    if !(factor.is_finite() && factor >= 0.0) {
        return None;
    }
    let mut shift = 47u8;
    let mut scaled = factor * (1u64 << 47) as f64;
    while scaled >= 65_535.5 && shift > 17 {
        scaled /= 2.0;
        shift -= 1;
    }
    let m = scaled + 0.5;
    if m >= 65_536.0 {
        return None;
    }
    Some((m as u16, shift))
}

/// The 8-bit code of a requantised sum `r` after `act`:
/// relu `clamp(r, 0, 255)` (real value `code · scale`); identity `clamp(r + 128, 0, 255)`
/// (`(code − 128) · scale`); tanh `128 + tanh_q(r)` with `r` the pre-activation in units of
/// 2^−10 (`(code − 128) / 127`); sigmoid `127 + tanh_q(r)` with `r` half the pre-activation
/// in units of 2^−10 (`code / 254`).
#[inline(always)]
pub fn code(act: Activation, r: i32) -> u8 {
    let c = match act {
        Activation::Relu => r,
        Activation::Identity => r.saturating_add(128),
        Activation::Tanh => 128 + tanh_q(r),
        Activation::Sigmoid => 127 + tanh_q(r),
    };
    c.clamp(0, 255) as u8
}

/// The 8-bit code of a read input `x` (`runtime/FORMAT.md`, "Integer layers"), from its bits
/// alone: `X = ±⌊|x|·2^exp⌋` (x's sign; 255 or 0 by sign when `|x|·2^exp ≥ 2^29`), then
/// `clamp(requantise(X − offset, mult, shift), 0, 255)`. `None` for NaN and ±∞.
#[cfg(test)]
pub fn input_code(x: f32, offset: i32, mult: u16, shift: u8, exp: i8) -> Option<u8> {
    let (v, e) = input_value_bits(x.to_bits(), exp);
    (e != 0xFF).then(|| input_code_from(v, offset, mult, shift))
}

/// `X = ±⌊|x|·2^exp⌋` (x's sign) of an input's code for the f32 bits `bits`, or `Err(sign)`
/// (0 for a positive `x`, −1 for a negative) when `|x|·2^exp ≥ 2^29`; and the biased exponent
/// `e` (255 for NaN and ±∞).
///
/// `x = ±M·2^(e−150)` with `M` the 24-bit significand (`e` the biased exponent, 1 for
/// subnormals), so `|x|·2^exp = M·2^p` with `p = e − 150 + exp`, and for `p ≤ 5` that is
/// `⌊(M·2^5) / 2^(5−p)⌋`: one right shift of `M·2^5 < 2^29` (by at most 31, as any shift of
/// 29 or more gives 0).
#[inline(always)]
fn input_value_bits(bits: u32, exp: i8) -> (Result<i32, i32>, u32) {
    let e = (bits >> 23) & 0xFF;
    let significand = (bits & 0x7F_FFFF) | if e == 0 { 0 } else { 0x80_0000 };
    let sign = (bits as i32) >> 31;
    let right = 155 - e.max(1) as i32 - i32::from(exp);
    let v = if right < 0 {
        Err(sign)
    } else {
        let magnitude = ((significand << 5) >> right.min(31)) as i32;
        Ok((magnitude ^ sign) - sign)
    };
    (v, e)
}

/// [`input_value_bits`] with the FPU's conversion: for a normal `x` (`1 ≤ e ≤ 254`) whose
/// `x·2^exp` is normal and below 2^29 (`1 ≤ e + exp ≤ 155`), adding `exp` to the exponent
/// field gives `x·2^exp` exactly and `as i32` truncates it towards zero, as the shift does;
/// the rest (zeros, subnormals, saturation, NaN and ±∞) takes [`input_value_bits`]. `None`
/// for NaN and ±∞, found on that slower path only. Equal for every `x` and `exp` (tested).
#[inline(always)]
fn input_value_fpu(bits: u32, exp: i8) -> Option<Result<i32, i32>> {
    let e = (bits >> 23) & 0xFF;
    let t = e as i32 + i32::from(exp);
    if e.wrapping_sub(1) < 254 && (t - 1) as u32 <= 154 {
        let y = f32::from_bits(bits.wrapping_add((i32::from(exp) << 23) as u32));
        Some(Ok(y as i32))
    } else {
        let (v, e) = input_value_bits(bits, exp);
        (e != 0xFF).then_some(v)
    }
}

/// The code of an input from [`input_value_bits`] or [`input_value_fpu`]: 255 or 0 by sign
/// when saturated. `|X| < 2^29` and `|offset| ≤ 2^29`, so `X − offset` does not overflow.
#[inline(always)]
fn input_code_from(v: Result<i32, i32>, offset: i32, mult: u16, shift: u8) -> u8 {
    match v {
        Ok(v) => requantise(v.wrapping_sub(offset), mult, shift).clamp(0, 255) as u8,
        Err(sign) => !sign as u8,
    }
}

/// Replaces the first `n` values of `buf` (the read inputs, as f32) by their 8-bit codes
/// (`X` from [`input_value_fpu`] where the core has floating-point registers, else from
/// [`input_value_bits`], then `clamp(requantise(X − offset, mult, shift), 0, 255)`, or 255
/// or 0 by sign when saturated; byte `j` of `buf` gets input `j`'s code), `n` the length of
/// the shortest map array; `false` when an input is NaN or ±∞ (its code is then
/// meaningless).
///
/// One pass over the inputs: byte `j` of `buf` lies in value `⌊j/4⌋ ≤ j`, already read when
/// it is written. As a function of its own, 0.1–0.2% fewer instructions on the 64-128-64-10
/// network than inlined into `predict`. On the M4F, 64 inputs took 2,408 instructions with
/// [`input_value_fpu`] (34 per input before NaN and ±∞ left its fast path, 43 with
/// [`input_value_bits`]; board-profile, 64-128-64-10).
#[inline(never)]
pub fn input_codes(
    offset: &[i32],
    mult: &[u16],
    shift: &[u8],
    exp: &[i8],
    buf: &mut [f32; 256],
) -> bool {
    let n = offset.len().min(exp.len()).min(mult.len()).min(shift.len());
    code_each(n, |buf, j| buf[j].to_bits(), offset, mult, shift, exp, buf)
}

/// [`input_codes`] reading input `j` from `features[inputs[j]]` (NaN past its end), where
/// `predict` holds it, instead of from `buf`: 64-128-64-10 took 43,269 instructions on the
/// M4F, 43,389 on the M3 and 109,044 on the M0, against 43,512, 43,430 and 109,226 with the
/// read inputs gathered into `buf` first.
#[inline(never)]
pub fn feature_codes(
    features: &[f32],
    inputs: &[u16],
    offset: &[i32],
    mult: &[u16],
    shift: &[u8],
    exp: &[i8],
    buf: &mut [f32; 256],
) -> bool {
    let n = offset.len().min(exp.len()).min(mult.len()).min(shift.len());
    let n = n.min(inputs.len());
    let read = |_: &[f32; 256], j: usize| {
        features
            .get(usize::from(inputs[j]))
            .map_or(f32::NAN.to_bits(), |v| v.to_bits())
    };
    code_each(n, read, offset, mult, shift, exp, buf)
}

/// Byte `j` of `buf` for `j < n` (at most 256) becomes the code of the input whose f32 bits
/// `read(buf, j)` gives; `false` when one is NaN or ±∞. One index into every array: iterators
/// kept the arrays' bounds checks (64-128-64-10 on the M4F 44,668 instructions against
/// 43,269, on the M0 110,076 against 109,044).
#[inline(always)]
fn code_each(
    n: usize,
    read: impl Fn(&[f32; 256], usize) -> u32,
    offset: &[i32],
    mult: &[u16],
    shift: &[u8],
    exp: &[i8],
    buf: &mut [f32; 256],
) -> bool {
    let n = n.min(256);
    if cfg!(all(target_arch = "arm", target_feature = "fpregs")) {
        // With [`input_value_fpu`], which finds NaN and ±∞ off its fast path (64-128-64-10
        // on the M4F: 42,368 instructions against 42,497 with the exponent test below).
        let mut finite = true;
        for j in 0..n {
            // A NaN or ±∞ input's code is meaningless; only the flag matters.
            let v = input_value_fpu(read(buf, j), exp[j]).unwrap_or_else(|| {
                finite = false;
                Err(0)
            });
            bytemuck::bytes_of_mut(buf)[j] = input_code_from(v, offset[j], mult[j], shift[j]);
        }
        finite
    } else {
        // Bit 8 of `e + 1` is set for e = 255 only: no branch (a branch on each input cost
        // the M0 and M3 0.3% on 64-128-64-10).
        let mut top = 0;
        for j in 0..n {
            let (v, e) = input_value_bits(read(buf, j), exp[j]);
            top |= e + 1;
            bytemuck::bytes_of_mut(buf)[j] = input_code_from(v, offset[j], mult[j], shift[j]);
        }
        top & 0x100 == 0
    }
}

/// The stored map of an input whose code is `clamp(⌊(x − mean)·scale + ½⌋, 0, 255)` in real
/// arithmetic: `(offset, mult, shift, exp)` of the input code (`runtime/FORMAT.md`). `exp` is
/// the largest that keeps `|x|·2^exp < 2^28` over the codes' range and the mean (`reach`), so
/// one code spans at least `2^27 / (reach·scale)` steps of `X`: 2^20 for codes around zero,
/// about 2 at the largest offset allowed; `mult / 2^shift = scale·2^−exp` to 16 significant
/// bits. `None` when `scale` is not positive and finite, `mean` is not finite, or the mean
/// lies so far from zero against the codes' span (over about 2.6·10^5 spans) that
/// `scale·2^−exp ≥ ½`.
pub fn input_coder(mean: f64, scale: f64) -> Option<(i32, u16, u8, i8)> {
    if !(scale > 0.0 && scale.is_finite() && mean.is_finite()) {
        return None;
    }
    let reach = mean
        .abs()
        .max((mean - 0.5 / scale).abs())
        .max((mean + 255.5 / scale).abs());
    let mut exp = 127i32;
    // 2^e for |e| ≤ 128, exactly (normal f64).
    let pow2 = |e: i32| f64::from_bits(((e + 1023) as u64) << 52);
    while exp > -128 && reach * pow2(exp) >= f64::from(1u32 << 28) {
        exp -= 1;
    }
    let c = mean * pow2(exp);
    // Nearest integer, halves away from zero; |c| < 2^28.
    let offset = (c + if c < 0.0 { -0.5 } else { 0.5 }) as i32;
    let (m, k) = requantiser(scale * pow2(-exp))?;
    (offset.unsigned_abs() <= crate::MAX_INPUT_OFFSET.unsigned_abs())
        .then_some((offset, m, k, exp as i8))
}

/// `out[o] = bias[o] + Σ_i (u[o,i] − 128)·a[i]` for every row `o` of a dense integer layer
/// whose codes `u` are packed as [`crate::dense_index`] says; `a.len()` is the input width,
/// `out.len()` the layer's.
///
/// The `−128·Σa` is one subtraction per row, from `Σa` summed once. The sums of a block of
/// four rows come from [`block_sums`], whose shape suits the core (see there).
pub fn dense(w: &[u8], bias: &[i32], a: &[u8], out: &mut [i32]) {
    let n = a.len();
    if n == 0 {
        return;
    }
    let offset = (code_total(a) << 7) as i32;
    let (bc, bt) = bias.as_chunks::<4>();
    let (oc, ot) = out.as_chunks_mut::<4>();
    #[cfg(all(target_arch = "arm", target_feature = "thumb2"))]
    let tail = {
        let k = bc.len().min(oc.len());
        let Some((blocks, tail)) = w.split_at_checked(4 * n * k) else {
            return;
        };
        all_blocks(blocks, a, bc, offset, oc);
        tail
    };
    #[cfg(not(all(target_arch = "arm", target_feature = "thumb2")))]
    let tail = {
        let mut blocks = w.chunks_exact(4 * n);
        for ((w, b), o) in blocks.by_ref().zip(bc).zip(oc) {
            // A loop: written out, it leaves the inlined block fewer registers, and its
            // loop spills two values more per step (board-profile: 24 instructions per four
            // multiply-adds against 21).
            let s = block_sums(w, a);
            for ((ok, &sk), &bk) in o.iter_mut().zip(&s).zip(b) {
                *ok = bk.wrapping_add(sk as i32).wrapping_sub(offset);
            }
        }
        blocks.remainder()
    };
    #[cfg(all(target_arch = "arm", target_feature = "thumb2"))]
    for ((row, &b), o) in tail.chunks_exact(n).zip(bt).zip(ot) {
        *o = b.wrapping_add(row_sum(row, a) as i32).wrapping_sub(offset);
    }
    // ARMv6-M has no divide instruction, and `chunks_exact` divides to count its chunks (a
    // library call of about 125 instructions per layer): the rows are split off one by one
    // (8-50-1 on the M0 7,110 → 6,924 instructions, the int8 demo 3,314 → 3,259; on ARMv7-M
    // that measured 9–66 more).
    #[cfg(not(all(target_arch = "arm", target_feature = "thumb2")))]
    {
        let mut rest = tail;
        for (&b, o) in bt.iter().zip(ot) {
            let Some((row, r)) = rest.split_at_checked(n) else {
                return;
            };
            rest = r;
            *o = b.wrapping_add(row_sum(row, a) as i32).wrapping_sub(offset);
        }
    }
}

/// [`dense`] then [`codes`] in one pass, for a relu layer whose multipliers are all
/// normalised ([`normalised`]; otherwise the bytes are meaningless, though every access stays
/// in bounds): byte `o` of `out` becomes `code(Relu, requantise(s_o, mult[o], shift[o]))` for
/// the sum `s_o` that [`dense`] gives, the same bytes (tested).
///
/// Each block's four sums are coded as soon as they are summed, with no store and reload of
/// each sum and no loop of their own, and [`requantise_normal`]'s single multiply-accumulate.
/// The four shifts of a block come as one word: with every shift in 17..=47, adding 15 to
/// each byte carries into none, and `(byte + 15) mod 32 = shift − 17`, so each row's shift is
/// one bit-field extraction. On the M4F, 64-128-64-10 took 42,497 instructions against
/// 43,269 through [`dense`] and [`codes`] (and the `SMLAWB` alone, unfused, 42,929). Relu
/// only: the function is 0.9 KiB of code on the M4F, and one for each activation took 3.9.
#[inline(never)]
pub fn dense_relu_codes(
    w: &[u8],
    bias: &[i32],
    a: &[u8],
    mult: &[u16],
    shift: &[u8],
    out: &mut [u8],
) {
    // 1 to 256 inputs, the bound the block and row sums rely on; it also keeps
    // `chunks_exact`'s panic (a chunk size of 0) out of the firmware.
    let n = a.len();
    if !(1..=256).contains(&n) {
        return;
    }
    let offset = (code_total(a) << 7) as i32;
    let (bc, bt) = bias.as_chunks::<4>();
    let (mc, mt) = mult.as_chunks::<4>();
    let (kc, kt) = shift.as_chunks::<4>();
    let (oc, ot) = out.as_chunks_mut::<4>();
    let k = bc.len().min(mc.len()).min(kc.len()).min(oc.len());
    let Some((blocks, tail)) = w.split_at_checked(4 * n * k) else {
        return;
    };
    for ((((w, b), m), sh), o) in blocks.chunks_exact(4 * n).zip(bc).zip(mc).zip(kc).zip(oc) {
        let s = block_sums(w, a);
        let k1 = u32::from_le_bytes(*sh).wrapping_add(0x0F0F_0F0F);
        // Written out: at opt-level "s" a loop over the four stays a loop.
        let g = |j: usize| {
            let v = b[j].wrapping_add(s[j] as i32).wrapping_sub(offset);
            code(
                Activation::Relu,
                requantise_normal(v, m[j], (k1 >> (8 * j)) & 31),
            )
        };
        *o = [g(0), g(1), g(2), g(3)];
    }
    let rows = tail.chunks_exact(n).zip(bt).zip(mt).zip(kt).zip(ot);
    for ((((row, &b), &m), &sh), o) in rows {
        let v = b.wrapping_add(row_sum(row, a) as i32).wrapping_sub(offset);
        *o = code(
            Activation::Relu,
            requantise_normal(v, m, u32::from(sh).wrapping_add(15) & 31),
        );
    }
}

/// `Σ a` for `a.len() ≤ 256`: by words on ARMv7-M ([`code_sum`]), else code by code, four per
/// loop step (ARMv6-M has no unaligned word loads, and the words are not known to be aligned;
/// one code per step took 369 instructions more on the M0's 64-128-64-10).
#[inline(always)]
fn code_total(a: &[u8]) -> u32 {
    if cfg!(all(target_arch = "arm", target_feature = "thumb2")) {
        code_sum(a)
    } else {
        let (ac, at) = a.as_chunks::<4>();
        let mut s = 0u32;
        for c in ac {
            s += u32::from(c[0]) + u32::from(c[1]) + u32::from(c[2]) + u32::from(c[3]);
        }
        s + at.iter().map(|&v| u32::from(v)).sum::<u32>()
    }
}

/// `o[k] = b[k] + s[k] − offset` for the four sums `s` of each block of `w`
/// ([`block_into`]).
///
/// On ARMv7-M without the DSP extension (Cortex-M3), inlined into [`dense`] with a call per
/// block, so that the two-input loop keeps its registers (with the loop over blocks beside
/// it in one function, the 64-128-64-10 network took 55,668 instructions against 43,912).
/// With the DSP extension (Cortex-M4, M7, M33), one call per layer, whose one-input loop
/// keeps its registers beside the loop over blocks: a call per block cost about 22
/// instructions at the call and 37 in the callee (board-profile, M4F: 3,623 against 3,426 on
/// 8-50-1, 45,020 against 44,184 on 64-128-64-10).
#[cfg(all(target_arch = "arm", target_feature = "thumb2"))]
#[cfg_attr(target_feature = "dsp", inline(never))]
#[cfg_attr(not(target_feature = "dsp"), inline(always))]
fn all_blocks(w: &[u8], a: &[u8], b: &[[i32; 4]], offset: i32, o: &mut [[i32; 4]]) {
    // A layer has 1 to 256 inputs; the bound keeps `chunks_exact`'s panic (a chunk size of
    // 0, as `4·len` can wrap to) out of the firmware.
    if !(1..=256).contains(&a.len()) {
        return;
    }
    for ((w, b), o) in w.chunks_exact(4 * a.len()).zip(b).zip(o) {
        block_into(w, a, b, offset, o);
    }
}

/// `Σ_i u[i]·a[i]` for one row of codes `u` (`a.len() ≤ 256`), four at a time.
#[cfg(not(all(target_arch = "arm", target_feature = "thumb2")))]
#[inline(always)]
fn row_sum(u: &[u8], a: &[u8]) -> u32 {
    row_bytes(u, a)
}

/// `Σ_i u[i]·a[i]` on ARMv7-M: see [`row_pairs`].
#[cfg(all(target_arch = "arm", target_feature = "thumb2"))]
#[inline(always)]
fn row_sum(u: &[u8], a: &[u8]) -> u32 {
    row_pairs(u, a)
}

/// [`row_sum`], one code at a time.
#[cfg_attr(all(target_arch = "arm", target_feature = "thumb2"), allow(dead_code))]
#[inline(always)]
fn row_bytes(u: &[u8], a: &[u8]) -> u32 {
    let (uc, ut) = u.as_chunks::<4>();
    let (ac, at) = a.as_chunks::<4>();
    let mut s = 0u32;
    for (u, x) in uc.iter().zip(ac) {
        s += u32::from(u[0]) * u32::from(x[0]);
        s += u32::from(u[1]) * u32::from(x[1]);
        s += u32::from(u[2]) * u32::from(x[2]);
        s += u32::from(u[3]) * u32::from(x[3]);
    }
    for (&u, &x) in ut.iter().zip(at) {
        s += u32::from(u) * u32::from(x);
    }
    s
}

/// [`row_sum`], two products per 32×32→64-bit multiply-add (`UMLAL`). With four codes of
/// the row `u0 + u1·2^8 + u2·2^16 + u3·2^24` and of the inputs likewise, byte-reversed for
/// the inputs: `(u0 + u3·2^24)·(x3 + x0·2^24) = u0·x3 + (u0·x0 + u3·x3)·2^24 + u3·x0·2^48`,
/// and `(u2 + u1·2^24)·(x1 + x2·2^24)` holds `u2·x2 + u1·x1` in the same bits. Over at most
/// 64 words, the bits below 2^24 sum to at most `64·2·255² < 2^24` and the wanted ones to
/// `256·255² < 2^24`, so bits 24 to 47 of the 64-bit sum are the dot product, exactly (on the
/// Cortex-M4 LLVM makes the second multiply-add `UMULL`, `ADDS`, `ADC`; two sums measured no
/// fewer instructions there and more on the M3).
#[cfg_attr(
    not(all(target_arch = "arm", target_feature = "thumb2")),
    allow(dead_code)
)]
#[inline(always)]
fn row_pairs(u: &[u8], a: &[u8]) -> u32 {
    const MASK: u32 = 0xFF00_00FF;
    let (uc, ut) = u.as_chunks::<4>();
    let (ac, at) = a.as_chunks::<4>();
    let mut s = 0u64;
    for (w, x) in uc.iter().zip(ac) {
        let w = u32::from_le_bytes(*w);
        let x = u32::from_le_bytes(*x).swap_bytes();
        // Modulo 2^64: the bits above 2^48 overflow, and carries only go up.
        s = s.wrapping_add(u64::from(w & MASK) * u64::from(x & MASK));
        let (w, x) = (w.rotate_right(16) & MASK, x.rotate_right(16) & MASK);
        s = s.wrapping_add(u64::from(w) * u64::from(x));
    }
    let mut t = (s >> 24) as u32 & 0xFF_FFFF;
    for (&u, &x) in ut.iter().zip(at) {
        t += u32::from(u) * u32::from(x);
    }
    t
}

/// `Σ a`, four codes per word: `w & 0x00FF00FF` and `(w >> 8) & 0x00FF00FF` each hold two
/// codes in 16-bit halves, and 64 words (256 codes) sum to at most `64·2·255 < 2^16` per half.
#[inline(always)]
fn code_sum(a: &[u8]) -> u32 {
    const MASK: u32 = 0x00FF_00FF;
    // At most 256 codes (64 words), the bound the halves' sums rely on.
    let (ac, at) = a.get(..256).unwrap_or(a).as_chunks::<4>();
    let mut halves = 0u32;
    for c in ac {
        let w = u32::from_le_bytes(*c);
        halves += (w & MASK) + ((w >> 8) & MASK);
    }
    let tail: u32 = at.iter().map(|&v| u32::from(v)).sum();
    (halves & 0xFFFF) + (halves >> 16) + tail
}

/// `Σ_i u[k,i]·a[i]` for the four rows `k` of one packed block (`4·a.len()` codes: the
/// four rows' codes of input 0, then of input 1, ...), `a.len() ≤ 256`.
///
/// On ARMv6-M ([`block_bytes`]), one input load, then a weight load and a multiply-add for
/// each of the four rows. Measured against two inputs per step (board-bench): that saved 2%
/// on the M0's 64-128-64-10 but cost 2–5% on 8-50-1, as the extra live values spill (seven
/// free low registers); two passes of two rows spill as much (24 instructions per four
/// multiply-adds against 21). On ARMv7-M and later (Cortex-M3, M4, M7, M33), two rows per
/// multiply-add ([`block_pairs`]).
#[inline(always)]
fn block_sums(w: &[u8], a: &[u8]) -> [u32; 4] {
    if cfg!(all(target_arch = "arm", target_feature = "thumb2")) {
        block_pairs::<{ !cfg!(target_feature = "dsp") }>(w, a)
    } else {
        block_bytes(w, a)
    }
}

/// [`block_sums`] on ARMv7-M and later, written into the outputs `o[k] = b[k] + s[k] −
/// offset`. It writes the outputs itself (returned, the sums go through the stack);
/// on the M3 it is a function of its own, so that its loop gets the registers whatever
/// [`dense`] keeps live, and with the DSP extension it is inlined into [`all_blocks`].
#[cfg(all(target_arch = "arm", target_feature = "thumb2"))]
#[cfg_attr(not(target_feature = "dsp"), inline(never))]
#[cfg_attr(target_feature = "dsp", inline(always))]
fn block_into(w: &[u8], a: &[u8], b: &[i32; 4], offset: i32, o: &mut [i32; 4]) {
    let s = block_sums(w, a);
    o[0] = b[0].wrapping_add(s[0] as i32).wrapping_sub(offset);
    o[1] = b[1].wrapping_add(s[1] as i32).wrapping_sub(offset);
    o[2] = b[2].wrapping_add(s[2] as i32).wrapping_sub(offset);
    o[3] = b[3].wrapping_add(s[3] as i32).wrapping_sub(offset);
}

/// [`block_sums`], one code at a time (ARMv6-M has no 32×32→64 multiply-add). With the
/// `asm` feature, ARMv6-M takes the same sums from `asm::block_bytes`.
#[cfg(not(all(feature = "asm", target_arch = "arm", not(target_feature = "thumb2"))))]
#[inline(always)]
fn block_bytes(w: &[u8], a: &[u8]) -> [u32; 4] {
    let mut s = [0u32; 4];
    for (u, &x) in w.as_chunks::<4>().0.iter().zip(a) {
        let x = u32::from(x);
        s[0] += u32::from(u[0]) * x;
        s[1] += u32::from(u[1]) * x;
        s[2] += u32::from(u[2]) * x;
        s[3] += u32::from(u[3]) * x;
    }
    s
}

#[cfg(all(feature = "asm", target_arch = "arm", not(target_feature = "thumb2")))]
use crate::asm::block_bytes;

/// [`block_sums`], two rows per 32×32→64-bit multiply-add (`UMLAL`): with the four codes of an
/// input as the word `u0 + u1·2^8 + u2·2^16 + u3·2^24`, `word & 0xFF0000FF = u0 + u3·2^24`
/// and `rotr(word, 16) & 0xFF0000FF = u2 + u1·2^24`, so the 64-bit sums are `S0 + S3·2^24`
/// and `S2 + S1·2^24`. Each row's sum is below `256·255² < 2^24` (at most 256 inputs), so
/// the low 24 bits hold one row's sum and the bits above the other's, exactly.
///
/// `TWO`: two inputs per loop step, which suits the Cortex-M3 (15 instructions per eight
/// multiply-adds against 16); on the Cortex-M4 LLVM splits half of that loop's UMLALs into
/// UMULL, ADDS and ADC (board-profile), so one input per step there: with the DSP extension
/// its instruction selection first tries to make `UMAAL` of a 64-bit addition whose operand
/// is a `UMLAL`, and gives up when that `UMLAL` accumulates into a non-zero high word
/// (`AddCombineTo64bitUMAAL`), which a second product into the same sum always does.
#[inline(always)]
fn block_pairs<const TWO: bool>(w: &[u8], a: &[u8]) -> [u32; 4] {
    const MASK: u32 = 0xFF00_00FF;
    let (mut s03, mut s21) = (0u64, 0u64);
    let mut step = |u: &[u8; 4], x: u8| {
        let word = u32::from_le_bytes(*u);
        let x = u64::from(x);
        s03 += u64::from(word & MASK) * x;
        s21 += u64::from(word.rotate_right(16) & MASK) * x;
    };
    let (w4, _) = w.as_chunks::<4>();
    if TWO {
        let (wc, wt) = w4.as_chunks::<2>();
        let (ac, at) = a.as_chunks::<2>();
        for ([u0, u1], x) in wc.iter().zip(ac) {
            step(u0, x[0]);
            step(u1, x[1]);
        }
        if let (Some(u), Some(&x)) = (wt.first(), at.first()) {
            step(u, x);
        }
    } else {
        for (u, &x) in w4.iter().zip(a) {
            step(u, x);
        }
    }
    let low = |s: u64| s as u32 & 0xFF_FFFF;
    [low(s03), (s21 >> 24) as u32, low(s21), (s03 >> 24) as u32]
}

/// `out[o] = bias[o] + Σ w·a[col]` over the edges of each row of a sparse integer layer;
/// `a` is indexed by byte, so never out of range. A function of its own on ARMv7-M, where
/// it shares no registers with [`dense`]'s (inlined beside it, its rows cost two more
/// instructions each on the M3); inlined on the M0, where that measured 3.5% faster.
#[cfg_attr(all(target_arch = "arm", target_feature = "thumb2"), inline(never))]
pub fn sparse(
    row_len: &[u16],
    cols: &[u8],
    values: &[i8],
    bias: &[i32],
    a: &[u8; 256],
    out: &mut [i32],
) {
    let n = cols.len().min(values.len());
    let mut i = 0;
    for ((o, &len), &b) in out.iter_mut().zip(row_len).zip(bias) {
        let end = i + usize::from(len);
        if end > n {
            return;
        }
        let mut s = b;
        while i < end {
            s = s.wrapping_add(i32::from(values[i]) * i32::from(a[usize::from(cols[i])]));
            i += 1;
        }
        *o = s;
    }
}

/// Replaces the first `mult.len()` sums of `buf` by their 8-bit codes after `act`
/// (byte `o` of `buf` gets node `o`'s code): `code(act, requantise(s, m, k))`.
pub fn codes(act: Activation, mult: &[u16], shift: &[u8], buf: &mut [i32; 256]) {
    // One loop per activation, each with `code`'s match folded away.
    macro_rules! each {
        ($($a:ident),*) => {
            match act {
                $(Activation::$a => pack_codes(mult, shift, buf, |s, m, k| {
                    code(Activation::$a, requantise(s, m, k))
                }),)*
            }
        };
    }
    each!(Relu, Identity, Tanh, Sigmoid);
}

/// Replaces the first `min(mult.len(), shift.len())` values `s` of `buf` by the bytes
/// `f(s, m, k)` (`m`, `k` from `mult`, `shift`), byte `o` of `buf` getting value `o`'s:
/// byte `o` lies in value `⌊o/4⌋ ≤ o`, already read when it is written.
#[inline(always)]
fn pack_codes(mult: &[u16], shift: &[u8], buf: &mut [i32; 256], f: impl Fn(i32, u16, u8) -> u8) {
    // At most 256 nodes, so that every index below is in bounds and needs no check.
    let n = mult.len().min(shift.len()).min(256);
    for o in 0..n {
        let s = buf[o];
        bytemuck::bytes_of_mut(buf)[o] = f(s, mult[o], shift[o]);
    }
}

#[cfg(test)]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use super::*;
    use crate::dense_index;

    #[test]
    fn requantise_is_exact_rounding_half_up() {
        let sums = [
            0,
            1,
            -1,
            65_535,
            65_536,
            -65_536,
            -65_537,
            12_345_678,
            -12_345_678,
            (1 << 24) + (1 << 23),
            -(1 << 24) - (1 << 23),
            1 << 30,
            -(1 << 30),
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
        ];
        let mut state = 99u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as u32
        };
        for shift in 17..=47u8 {
            for &s in &sums {
                for m in [0u16, 1, 2, 32_768, 40_000, 65_535] {
                    let exact = (i64::from(s) * i64::from(m) + (1i64 << (shift - 1))) >> shift;
                    assert_eq!(
                        i64::from(requantise(s, m, shift)),
                        exact,
                        "{s}·{m} >> {shift}"
                    );
                }
            }
            for t in 0..4000 {
                // Sums of a layer's size, then any 32-bit value (input differences reach 2^30).
                let s = if t % 2 == 0 {
                    (next() % (3 << 24)) as i32 - (3 << 23)
                } else {
                    (next() << 1 ^ next()) as i32
                };
                let m = next() as u16;
                let exact = (i64::from(s) * i64::from(m) + (1i64 << (shift - 1))) >> shift;
                assert_eq!(
                    i64::from(requantise(s, m, shift)),
                    exact,
                    "{s}·{m} >> {shift}"
                );
            }
        }
    }

    /// The two forms of `⌊s·m / 2^16⌋` the cores use agree everywhere: exhaustively over
    /// `m` for sums at and around every power of two, and on random pairs.
    #[test]
    fn both_scalings_give_the_same_bits() {
        let mut sums = vec![0, i32::MAX, i32::MIN];
        for b in 0..31 {
            for d in [-1, 0, 1] {
                sums.extend([(1i32 << b).wrapping_add(d), (-(1i32 << b)).wrapping_add(d)]);
            }
        }
        for &s in &sums {
            for m in 0..=u16::MAX {
                assert_eq!(scaled_wide(s, m), scaled_halves(s, m), "{s}·{m}");
            }
        }
        let mut state = 7u64;
        for _ in 0..1_000_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let (s, m) = ((state >> 32) as i32, (state >> 8) as u16);
            assert_eq!(scaled_wide(s, m), scaled_halves(s, m), "{s}·{m}");
        }
    }

    #[test]
    fn requantisers_keep_sixteen_bits() {
        for e in -32..=-2 {
            for f in [1.0, 1.1, 1.5, 1.999] {
                let factor = f * 2f64.powi(e);
                let (m, shift) = requantiser(factor).unwrap();
                let got = f64::from(m) / 2f64.powi(i32::from(shift));
                assert!(m >= 1 << 15 || shift == 47, "{factor}: m {m}");
                assert!(
                    ((got - factor) / factor).abs() <= 2f64.powi(-16),
                    "{factor}: {got}"
                );
            }
        }
        assert_eq!(requantiser(0.0), Some((0, 47)));
        assert_eq!(requantiser(0.6), None);
        assert_eq!(requantiser(-1.0), None);
        assert_eq!(requantiser(f64::NAN), None);
        assert_eq!(requantiser(2f64.powi(-50)), Some((0, 47)));
    }

    #[test]
    fn codes_clamp_and_follow_each_activation() {
        assert_eq!(
            (code(Activation::Relu, -5), code(Activation::Relu, 300)),
            (0, 255)
        );
        assert_eq!(code(Activation::Relu, 77), 77);
        assert_eq!(code(Activation::Identity, -128), 0);
        assert_eq!(code(Activation::Identity, 0), 128);
        assert_eq!(code(Activation::Identity, i32::MAX), 255);
        assert_eq!(code(Activation::Tanh, 0), 128);
        assert_eq!(
            (
                code(Activation::Tanh, -99_999),
                code(Activation::Tanh, 99_999)
            ),
            (1, 255)
        );
        assert_eq!(code(Activation::Sigmoid, 0), 127);
        assert_eq!(
            (
                code(Activation::Sigmoid, -99_999),
                code(Activation::Sigmoid, 99_999)
            ),
            (0, 254)
        );
    }

    #[test]
    fn codes_pack_each_node_in_its_byte_for_every_width() {
        let acts = [
            Activation::Relu,
            Activation::Identity,
            Activation::Tanh,
            Activation::Sigmoid,
        ];
        for width in (1..=13).chain([64, 255, 256]) {
            let sums: Vec<i32> = bytes(width as u64, 4 * width)
                .collect::<Vec<u8>>()
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) >> 6)
                .collect();
            let mult: Vec<u16> = bytes(3, width).map(|b| u16::from(b) * 251).collect();
            let shift: Vec<u8> = bytes(4, width).map(|b| 17 + b % 31).collect();
            for act in acts {
                let mut buf = [0i32; 256];
                buf[..width].copy_from_slice(&sums);
                codes(act, &mult, &shift, &mut buf);
                let got = &bytemuck::bytes_of(&buf)[..width];
                for o in 0..width {
                    let want = code(act, requantise(sums[o], mult[o], shift[o]));
                    assert_eq!(got[o], want, "{act:?}, node {o} of {width}");
                }
            }
        }
    }

    #[test]
    fn the_fpu_input_value_equals_the_integer_one_for_every_exponent() {
        // Every biased exponent and every exp, both signs, the significand's edges and
        // random ones: the fast path's bounds (e + exp = 1 and 155), zeros, subnormals,
        // saturation, NaN and ±∞.
        let mut significands = vec![0u32, 1, 2, 0x40_0000, 0x7F_FFFE, 0x7F_FFFF];
        let words: Vec<u8> = bytes(12, 4 * 24).collect();
        significands.extend(
            words
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & 0x7F_FFFF),
        );
        for e in 0..=255u32 {
            for &m in &significands {
                for sign in [0, 1u32 << 31] {
                    let bits = sign | e << 23 | m;
                    for exp in i8::MIN..=i8::MAX {
                        let (v, e) = input_value_bits(bits, exp);
                        assert_eq!(
                            input_value_fpu(bits, exp),
                            (e != 0xFF).then_some(v),
                            "{bits:#010x} ({}), exp {exp}",
                            f32::from_bits(bits)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn input_codes_equal_each_inputs_code_and_flag_non_finite_inputs() {
        let xs: Vec<f32> = [
            0.0, -0.0, 1e-40, -1e-40, 0.3, -0.3, 1.0, 2.5, -2.5, 1e6, -1e6, 3e38, -3e38, 7.25,
        ]
        .into_iter()
        .chain(bytes(8, 40).map(|b| f32::from(b) / 17.0 - 5.0))
        .collect();
        let n = xs.len();
        let offset: Vec<i32> = (0..n as i32).map(|j| (j - 20) * 1_000_003).collect();
        let mult: Vec<u16> = bytes(9, n).map(|b| 256 * u16::from(b) + 7).collect();
        let shift: Vec<u8> = bytes(10, n).map(|b| 17 + b % 31).collect();
        let exp: Vec<i8> = bytes(11, n).map(|b| (b % 40) as i8 - 10).collect();
        for bad in [
            None,
            Some(f32::NAN),
            Some(f32::INFINITY),
            Some(f32::NEG_INFINITY),
        ] {
            let mut buf = [0f32; 256];
            buf[..n].copy_from_slice(&xs);
            if let Some(b) = bad {
                buf[n / 2] = b;
            }
            let finite = input_codes(&offset, &mult, &shift, &exp, &mut buf);
            assert_eq!(finite, bad.is_none());
            let got = &bytemuck::bytes_of(&buf)[..n];
            for j in (0..n).filter(|&j| bad.is_none() || j != n / 2) {
                let want = input_code(xs[j], offset[j], mult[j], shift[j], exp[j]);
                assert_eq!(Some(got[j]), want, "input {j}: {}", xs[j]);
            }
            // The same inputs read in place from a raw feature vector, in reverse order
            // there with a feature between each two.
            let mut features = vec![-7.5f32; 2 * n];
            let inputs: Vec<u16> = (0..n).map(|j| (2 * (n - 1 - j)) as u16).collect();
            for (j, &i) in inputs.iter().enumerate() {
                features[usize::from(i)] = buf_value(&xs, bad, j, n);
            }
            let mut other = [1f32; 256];
            let f = feature_codes(&features, &inputs, &offset, &mult, &shift, &exp, &mut other);
            assert_eq!(f, finite);
            assert_eq!(&bytemuck::bytes_of(&other)[..n], got);
        }
    }

    /// Input `j` of `xs` with `bad` in place of the middle one.
    fn buf_value(xs: &[f32], bad: Option<f32>, j: usize, n: usize) -> f32 {
        match bad {
            Some(b) if j == n / 2 => b,
            _ => xs[j],
        }
    }

    #[test]
    fn feature_codes_read_nan_past_the_features_end() {
        let mut buf = [0f32; 256];
        let finite = feature_codes(
            &[1.0],
            &[0, 3],
            &[0, 0],
            &[1 << 15; 2],
            &[17; 2],
            &[0; 2],
            &mut buf,
        );
        assert!(!finite);
    }

    /// The input code as the format defines it, in i64 from the f32's value.
    fn input_code_reference(x: f32, o: i32, m: u16, k: u8, g: i8) -> Option<u8> {
        if !x.is_finite() {
            return None;
        }
        let scaled = f64::from(x.abs()) * 2f64.powi(i32::from(g));
        if scaled >= f64::from(1u32 << 29) {
            return Some(if x.is_sign_negative() { 0 } else { 255 });
        }
        let mag = scaled as i64; // exact: the significand shifted, truncated
        let v = if x.is_sign_negative() { -mag } else { mag } - i64::from(o);
        let r = (v * i64::from(m) + (1i64 << (k - 1))) >> k;
        Some(r.clamp(0, 255) as u8)
    }

    #[test]
    fn input_codes_follow_the_definition_and_the_real_map() {
        let mut state = 7u64;
        let mut uniform = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut maps = 0;
        for _ in 0..400 {
            // Means from 0 to ±10^6, spans from 10^−6 to 10^6.
            let mean = (uniform() - 0.5) * 2.0 * 10f64.powf(uniform() * 12.0 - 6.0);
            let scale = 255.0 / 10f64.powf(uniform() * 12.0 - 6.0);
            let Some((o, m, k, g)) = input_coder(mean, scale) else {
                assert!(mean.abs() * scale > 2e5 * 255.0, "{mean} {scale}");
                continue;
            };
            maps += 1;
            for _ in 0..200 {
                let v = uniform() * 300.0 - 20.0;
                let x = (mean + v / scale) as f32;
                let got = input_code(x, o, m, k, g);
                assert_eq!(
                    got,
                    input_code_reference(x, o, m, k, g),
                    "{x} {mean} {scale}"
                );
                let real = ((f64::from(x) - mean) * scale + 0.5)
                    .floor()
                    .clamp(0.0, 255.0);
                let got = f64::from(got.unwrap());
                assert!((got - real).abs() <= 1.0, "{x}: {got} against {real}");
            }
        }
        assert!(maps > 350, "{maps} of 400 maps representable");
        let (o, m, k, g) = input_coder(0.0, 100.0).unwrap();
        for (x, c) in [
            (f32::NAN, None),
            (f32::INFINITY, None),
            (f32::NEG_INFINITY, None),
            (0.0, Some(0)),
            (-0.0, Some(0)),
            (1e-40, Some(0)),
            (0.0049, Some(0)),
            (0.0051, Some(1)),
            (1.0, Some(100)),
            (2.544, Some(254)),
            (2.546, Some(255)),
            (1e30, Some(255)),
            (-1e30, Some(0)),
            (f32::MAX, Some(255)),
        ] {
            assert_eq!(input_code(x, o, m, k, g), c, "{x}");
        }
        assert_eq!(input_coder(0.0, 0.0), None);
        assert_eq!(input_coder(f64::NAN, 1.0), None);
    }

    /// Uniform bytes from a 64-bit LCG.
    fn bytes(seed: u64, n: usize) -> impl Iterator<Item = u8> {
        let mut s = seed;
        (0..n).map(move |_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 56) as u8
        })
    }

    const WIDTHS: [usize; 12] = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33];

    #[test]
    fn dense_equals_the_definition_around_multiples_of_four_and_at_the_extremes() {
        for &width in &WIDTHS {
            for &n in &WIDTHS {
                for seed in [1, 2] {
                    let mut codes: Vec<u8> = bytes(seed, width * n).collect();
                    let mut a: Vec<u8> = bytes(seed + 10, n).collect();
                    if seed == 2 {
                        codes.fill(0);
                        a.fill(255);
                    }
                    let bias: Vec<i32> = (0..width as i32).map(|o| o * 1001 - 5000).collect();
                    let mut got = vec![None; width];
                    let mut out = vec![0; width];
                    dense(&codes, &bias, &a, &mut out);
                    for (g, &o) in got.iter_mut().zip(&out) {
                        *g = Some(o);
                    }
                    for (o, g) in got.iter().enumerate() {
                        let want = bias[o]
                            + (0..n)
                                .map(|i| {
                                    (i32::from(codes[dense_index(o, i, width, n)]) - 128)
                                        * i32::from(a[i])
                                })
                                .sum::<i32>();
                        assert_eq!(*g, Some(want), "node {o} of {width}x{n}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_block_sums_its_four_rows() {
        for &n in WIDTHS.iter().chain(&[255, 256]) {
            let w: Vec<u8> = bytes(n as u64, 4 * n).collect();
            let a: Vec<u8> = bytes(n as u64 + 50, n).collect();
            let want: Vec<u32> = (0..4)
                .map(|k| {
                    (0..n)
                        .map(|i| u32::from(w[4 * i + k]) * u32::from(a[i]))
                        .sum()
                })
                .collect();
            assert_eq!(block_bytes(&w, &a).to_vec(), want, "{n} inputs");
            assert_eq!(
                block_pairs::<false>(&w, &a).to_vec(),
                want,
                "{n} inputs, pairs"
            );
            assert_eq!(
                block_pairs::<true>(&w, &a).to_vec(),
                want,
                "{n} inputs, pairs, two"
            );
            let (w, a) = (vec![255; 4 * n], vec![255; n]);
            let extremes = [65025 * n as u32; 4];
            assert_eq!(block_bytes(&w, &a), extremes, "extremes, {n} inputs");
            assert_eq!(
                block_pairs::<false>(&w, &a),
                extremes,
                "extremes {n}, pairs"
            );
            assert_eq!(
                block_pairs::<true>(&w, &a),
                extremes,
                "extremes {n}, pairs, two"
            );
        }
    }

    #[test]
    fn row_sums_by_pairs_equal_sums_by_bytes() {
        for n in (0..=33).chain([255, 256]) {
            let (u, a): (Vec<u8>, Vec<u8>) = (bytes(n as u64, n).collect(), bytes(7, n).collect());
            let want: u32 = u
                .iter()
                .zip(&a)
                .map(|(&u, &x)| u32::from(u) * u32::from(x))
                .sum();
            assert_eq!(row_bytes(&u, &a), want, "{n} codes");
            assert_eq!(row_pairs(&u, &a), want, "{n} codes, pairs");
            let top = vec![255; n];
            assert_eq!(row_pairs(&top, &top), 65025 * n as u32, "{n} codes at 255");
        }
    }

    #[test]
    fn code_sums_by_words_equal_sums_by_bytes() {
        for n in (0..=33).chain([255, 256]) {
            for a in [bytes(n as u64, n).collect::<Vec<u8>>(), vec![255; n]] {
                let want: u32 = a.iter().map(|&v| u32::from(v)).sum();
                assert_eq!(code_sum(&a), want, "{n} codes");
            }
        }
    }

    #[test]
    fn normalised_requantisation_equals_the_general_one() {
        let random: Vec<u8> = bytes(5, 6 * 20_000).collect();
        let edges = [
            0,
            1,
            -1,
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
            1 << 24,
            -(1 << 24),
        ];
        for shift in 17..=47u8 {
            let k1 = u32::from(shift) - 17;
            for m in [32_768u16, 32_769, 50_000, 65_535] {
                for &s in &edges {
                    assert_eq!(requantise_normal(s, m, k1), requantise(s, m, shift));
                }
            }
            for b in random.chunks_exact(6) {
                let s = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                let m = 32_768 | u16::from_le_bytes([b[4], b[5]]);
                assert_eq!(
                    requantise_normal(s, m, k1),
                    requantise(s, m, shift),
                    "{s}·{m}"
                );
            }
        }
        assert!(normalised(&[32_768, 65_535]) && normalised(&[]));
        assert!(!normalised(&[32_768, 32_767]));
    }

    #[test]
    fn dense_relu_codes_equal_dense_then_codes() {
        for &width in WIDTHS.iter().chain(&[64, 256]) {
            for &n in WIDTHS.iter().chain(&[255, 256]) {
                let w: Vec<u8> = bytes(width as u64 * 7 + n as u64, width * n).collect();
                let a: Vec<u8> = bytes(n as u64 + 3, n).collect();
                let bias: Vec<i32> = bytes(9, width)
                    .map(|b| i32::from(b) * 997 - 99_999)
                    .collect();
                let mult: Vec<u16> = bytes(11, width)
                    .map(|b| 32_768 + u16::from(b) * 128)
                    .collect();
                // Both ends of the shift's range, and between.
                let shift: Vec<u8> = (0..width).map(|o| [17, 47, 23, 30][o % 4]).collect();
                let mut sums = [0i32; 256];
                dense(&w, &bias, &a, &mut sums[..width]);
                codes(Activation::Relu, &mult, &shift, &mut sums);
                let want = &bytemuck::bytes_of(&sums)[..width];
                let mut got = vec![0u8; width];
                dense_relu_codes(&w, &bias, &a, &mult, &shift, &mut got);
                assert_eq!(got, want, "{width}x{n}");
            }
        }
    }

    #[test]
    fn sparse_equals_dense_with_zero_codes() {
        for &width in &WIDTHS {
            for &n in &WIDTHS {
                let kept = |o: usize, i: usize| !(o * 31 + i * 17).is_multiple_of(3);
                let w: Vec<i8> = bytes(5, width * n).map(|b| b as i8).collect();
                let mut packed = vec![128u8; width * n];
                let (mut row_len, mut cols, mut values) = (vec![0u16; width], vec![], vec![]);
                for o in 0..width {
                    for i in 0..n {
                        if kept(o, i) {
                            let v = w[o * n + i].max(-127);
                            packed[dense_index(o, i, width, n)] = (i32::from(v) + 128) as u8;
                            cols.push(i as u8);
                            values.push(v);
                            row_len[o] += 1;
                        }
                    }
                }
                let mut a = [0u8; 256];
                for (d, s) in a.iter_mut().zip(bytes(6, n)) {
                    *d = s;
                }
                let bias: Vec<i32> = (0..width as i32).map(|o| 7 - o * 3).collect();
                let (mut d, mut s) = (vec![0; width], vec![0; width]);
                dense(&packed, &bias, &a[..n], &mut d);
                sparse(&row_len, &cols, &values, &bias, &a, &mut s);
                assert_eq!(d, s, "{width}x{n}");
            }
        }
    }
}

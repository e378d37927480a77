//! Hand-written inner loops for two cores, behind the `asm` feature (off by default): the only
//! `unsafe` in the runtime. Each computes exactly what the Rust loop it replaces computes, the
//! same products added in the same order, so the outputs are the same bits (the QEMU board
//! tests compare both builds with the host).
//!
//! They exist because two register-level facts keep LLVM from the shortest loop:
//! - On ARMv6-M (Cortex-M0/M0+), an integer block needs eight low registers (four sums, the
//!   input, a product, two pointers), and `thumbv6m-none-eabi` keeps r7 as the frame pointer:
//!   the compiled loop spills a sum and its count, 21 instructions per four multiply-adds
//!   against 17 here, which saves r7 on the stack around the loop and counts against a high
//!   register.
//! - On a core with an FPU, each weight takes a `vldr` of its own, as LLVM merges no loads
//!   into `vldm` (it gives the weights alternate registers): 40 instructions per sixteen
//!   multiply-adds against 21 here, with two `vldm` of eight weights and one of four inputs.
#![allow(unsafe_code)]

/// [`crate::int8`]'s block sums on ARMv6-M: `Σ_i u[k,i]·a[i]` for the four rows `k` of a
/// block of `4·n` codes (the four rows' codes of input 0, then of input 1, ...), over
/// `n = min(w.len() / 4, a.len())` inputs. Exact: each row's sum is below `256·255² < 2^24`.
#[cfg(not(target_feature = "thumb2"))]
#[inline(always)]
pub fn block_bytes(w: &[u8], a: &[u8]) -> [u32; 4] {
    let n = (w.len() / 4).min(a.len());
    if n == 0 {
        return [0; 4];
    }
    let (s0, s1, s2, s3): (u32, u32, u32, u32);
    // SAFETY: the loop reads `a[0..n]` (one byte per step from `pa`, until `pa` reaches
    // `a + n`) and `w[0..4n]` (four bytes per step from `pw`), within both slices as
    // `n ≤ a.len()` and `4n ≤ w.len()`, and `n ≥ 1`, so the loop ends; it writes registers
    // only. r7, which LLVM keeps as the frame pointer, is pushed before the loop and popped
    // after it, so the stack pointer and r7 are as they were; r8 is declared clobbered.
    unsafe {
        core::arch::asm!(
            "push {{r7}}",
            "mov r8, {t}",
            "movs {s0}, #0",
            "movs {s1}, #0",
            "movs {s2}, #0",
            "movs r7, #0",
            "2:",
            "ldrb {x}, [{pa}]",
            "adds {pa}, #1",
            "ldrb {t}, [{pw}, #0]",
            "muls {t}, {x}",
            "adds {s0}, {t}",
            "ldrb {t}, [{pw}, #1]",
            "muls {t}, {x}",
            "adds {s1}, {t}",
            "ldrb {t}, [{pw}, #2]",
            "muls {t}, {x}",
            "adds {s2}, {t}",
            "ldrb {t}, [{pw}, #3]",
            "muls {t}, {x}",
            "adds r7, {t}",
            "adds {pw}, #4",
            "cmp {pa}, r8",
            "bne 2b",
            "mov {x}, r7",
            "pop {{r7}}",
            s0 = out(reg) s0,
            s1 = out(reg) s1,
            s2 = out(reg) s2,
            x = out(reg) s3,
            t = inout(reg) a.as_ptr().wrapping_add(n) => _,
            pw = inout(reg) w.as_ptr() => _,
            pa = inout(reg) a.as_ptr() => _,
            out("r8") _,
        );
    }
    [s0, s1, s2, s3]
}

/// The f32 block loop on a core with an FPU: for `k = min(w.len(), x.len())` steps,
/// `s[r] += w[j][r]·x[j][0]; s[r] += w[j][4 + r]·x[j][1]; s[r] += w[j][8 + r]·x[j][2];
/// s[r] += w[j][12 + r]·x[j][3]` for each row `r` of the block, in that order, each product
/// and sum rounded to f32 (`vmla` does not fuse); returns the blocks of `w` left after the
/// `k` steps.
#[cfg(target_feature = "fpregs")]
#[inline(always)]
pub fn block_f32<'w>(w: &'w [[f32; 16]], x: &[[f32; 4]], s: &mut [f32; 4]) -> &'w [[f32; 16]] {
    let k = w.len().min(x.len());
    if k == 0 {
        return w;
    }
    // SAFETY: the loop reads `x[0..k]` (16 bytes a step from r4) and `w[0..k]` (64 bytes a
    // step from r5), within both slices as `k ≤ x.len()` and `k ≤ w.len()`, and `k ≥ 1`,
    // so the count in r8 reaches 0; it reads and writes the four floats of `s`, an exclusive
    // borrow. s0–s15 are pushed before and popped after (balanced, so the stack pointer is
    // as it was); r4, r5 and r8 are declared clobbered. (Declaring s0–s15 instead needs the
    // `vfp2` feature, which `thumbv7em-none-eabihf` lacks, and the C ABI's clobber set names
    // d16–d31, which its FPU does not have.)
    unsafe {
        core::arch::asm!(
            "vpush {{s0-s15}}",
            "mov r4, {px}",
            "mov r5, {pw}",
            "mov r8, {k}",
            "vldmia {ps}, {{s0-s3}}",
            "2:",
            "vldmia r4!, {{s4-s7}}",
            "vldmia r5!, {{s8-s15}}",
            "vmla.f32 s0, s8, s4",
            "vmla.f32 s1, s9, s4",
            "vmla.f32 s2, s10, s4",
            "vmla.f32 s3, s11, s4",
            "vmla.f32 s0, s12, s5",
            "vmla.f32 s1, s13, s5",
            "vmla.f32 s2, s14, s5",
            "vmla.f32 s3, s15, s5",
            "vldmia r5!, {{s8-s15}}",
            "vmla.f32 s0, s8, s6",
            "vmla.f32 s1, s9, s6",
            "vmla.f32 s2, s10, s6",
            "vmla.f32 s3, s11, s6",
            "vmla.f32 s0, s12, s7",
            "vmla.f32 s1, s13, s7",
            "vmla.f32 s2, s14, s7",
            "vmla.f32 s3, s15, s7",
            "subs r8, #1",
            "bne 2b",
            "vstmia {ps}, {{s0-s3}}",
            "vpop {{s0-s15}}",
            ps = in(reg) s.as_mut_ptr(),
            px = in(reg) x.as_ptr(),
            pw = in(reg) w.as_ptr(),
            k = in(reg) k,
            out("r4") _,
            out("r5") _,
            out("r8") _,
        );
    }
    w.get(k..).unwrap_or_default()
}

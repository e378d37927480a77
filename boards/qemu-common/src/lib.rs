//! What every QEMU board of spikeslab runs.
//!
//! [`run`] loads the embedded model, evaluates every embedded input row and prints each
//! output's bit pattern (`y[row][k]=xxxxxxxx`), then `done`, and exits QEMU with success; any
//! error prints `error: ...` and exits with failure (a panic too, through `panic-semihosting`).
//! The first row is evaluated between the markers [`bench_start`] and [`bench_end`], which an
//! instruction-counting QEMU plugin brackets, and with the free stack painted, so that the
//! peak stack of one inference is printed as `stack=N`. A model with a posterior also prints
//! each row's predictive distribution, `d[row][k]=<mean>,<epistemic>,<noise>` (bit patterns);
//! [`run_dist`] measures `predict_dist` instead of `predict`.
#![no_std]
#![deny(unsafe_code)]

use cortex_m_semihosting::{debug, hprintln};
use spikeslab_runtime::{DistScratch, Error, MAX_WIDTH, Model, Prediction, Scratch};

/// Largest raw feature vector the boards accept (1 KiB of stack: the microbit's 16 KiB hold
/// it, `Scratch`, and `predict_dist`'s `DistScratch` and frames beside it).
pub const MAX_FEATURES: usize = 256;

/// First instruction of the measured region.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn bench_start() {
    core::hint::black_box(1u32);
}

/// End of the measured region.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn bench_end() {
    core::hint::black_box(2u32);
}

/// Evaluates `model` on every row of `inputs` (little-endian f32, `features` per row), prints
/// the outputs and exits QEMU.
pub fn run(model: &[u8], inputs: &[u8]) -> ! {
    finish(evaluate(model, inputs))
}

/// Prints `done` or the error and exits QEMU with success or failure.
fn finish(result: Result<(), Error>) -> ! {
    match result {
        Ok(()) => {
            hprintln!("done");
            debug::exit(debug::EXIT_SUCCESS);
        }
        Err(e) => {
            hprintln!("error: {}", e);
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    loop {
        cortex_m::asm::wfi();
    }
}

/// The smallest useful firmware's work: load `model`, predict once on the first row of
/// `inputs`, exit (success when every output is finite). The `size-probe` binaries call it;
/// their flash minus that of the `empty` ones ([`embed_only`]) is the runtime's code size.
pub fn predict_once(model: &[u8], inputs: &[u8]) -> ! {
    let ok = matches!(once(model, inputs), Ok(true));
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

fn once(blob: &[u8], inputs: &[u8]) -> Result<bool, Error> {
    let model = Model::from_bytes(blob)?;
    let mut x = [0f32; MAX_FEATURES];
    let mut y = [0f32; MAX_WIDTH];
    let x = x.get_mut(..model.features()).ok_or(Error::Capacity)?;
    for (v, b) in x.iter_mut().zip(inputs.chunks_exact(4)) {
        *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    let y = y.get_mut(..model.outputs()).ok_or(Error::Capacity)?;
    model.predict(x, y)?;
    Ok(y.iter().all(|v| v.is_finite()))
}

/// The same startup and exit as [`predict_once`], keeping the same data, without the
/// runtime: the baseline that `size-probe` is measured against.
pub fn embed_only(model: &[u8], inputs: &[u8]) -> ! {
    let ok = !core::hint::black_box(model).is_empty() && !core::hint::black_box(inputs).is_empty();
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

fn evaluate(blob: &[u8], inputs: &[u8]) -> Result<(), Error> {
    let model = Model::from_bytes(blob)?;
    let (d, k) = (model.features(), model.outputs());
    let mut x = [0f32; MAX_FEATURES];
    let mut y = [0f32; MAX_WIDTH];
    let mut scratch = Scratch::new();
    let (x, y) = (
        x.get_mut(..d).ok_or(Error::Capacity)?,
        y.get_mut(..k).ok_or(Error::Capacity)?,
    );
    // A model reads at least one feature; `max` keeps `chunks_exact`'s panic out all the same.
    for (row, bytes) in inputs.chunks_exact((4 * d).max(4)).enumerate() {
        for (v, b) in x.iter_mut().zip(bytes.chunks_exact(4)) {
            *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        if row == 0 {
            let painted = stack::paint();
            bench_start();
            model.predict_with(&mut scratch, x, y)?;
            bench_end();
            hprintln!("stack={}", stack::peak(painted));
        } else {
            model.predict_with(&mut scratch, x, y)?;
        }
        for (j, v) in y.iter().enumerate() {
            hprintln!("y[{}][{}]={:08x}", row, j, v.to_bits());
        }
        if model.has_posterior() {
            print_dist(&model, x, row)?;
        }
    }
    Ok(())
}

/// Most outputs whose predictive distribution the boards print.
const MAX_DIST_OUTPUTS: usize = 16;

/// Prints `predict_dist`'s outputs for one row; a frame of its own, so that its 4 KiB of
/// working memory is not held beside `evaluate`'s (the micro:bit has 16 KiB of RAM).
#[inline(never)]
fn print_dist(model: &Model<'_>, x: &[f32], row: usize) -> Result<(), Error> {
    let mut d = [Prediction::default(); MAX_DIST_OUTPUTS];
    let d = d.get_mut(..model.outputs()).ok_or(Error::Capacity)?;
    model.predict_dist_with(&mut DistScratch::new(), x, d)?;
    for (j, p) in d.iter().enumerate() {
        hprintln!(
            "d[{}][{}]={:08x},{:08x},{:08x}",
            row,
            j,
            p.mean.to_bits(),
            p.epistemic.to_bits(),
            p.noise.to_bits()
        );
    }
    Ok(())
}

/// Like [`run`], but the measured region (row 0, between the markers, with the stack
/// painted) is `predict_dist` rather than `predict`: board-bench's figure for the
/// predictive distribution. Prints `stack=N` and `done`.
pub fn run_dist(model: &[u8], inputs: &[u8]) -> ! {
    finish(bench_dist(model, inputs))
}

fn bench_dist(blob: &[u8], inputs: &[u8]) -> Result<(), Error> {
    let model = Model::from_bytes(blob)?;
    let (d, k) = (model.features(), model.outputs());
    let mut x = [0f32; MAX_FEATURES];
    let mut y = [Prediction::default(); MAX_DIST_OUTPUTS];
    let (x, y) = (
        x.get_mut(..d).ok_or(Error::Capacity)?,
        y.get_mut(..k).ok_or(Error::Capacity)?,
    );
    for (v, b) in x.iter_mut().zip(inputs.chunks_exact(4)) {
        *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    let mut scratch = DistScratch::new();
    let painted = stack::paint();
    bench_start();
    model.predict_dist_with(&mut scratch, x, y)?;
    bench_end();
    hprintln!("stack={}", stack::peak(painted));
    Ok(())
}

/// Stack painting: fill the free stack with a pattern, later find the deepest overwritten word.
#[allow(unsafe_code)]
mod stack {
    const PATTERN: u32 = 0x5A5A_A5A5;
    const MARGIN: usize = 64;

    unsafe extern "C" {
        static __sheap: u32;
        static _stack_start: u32;
    }

    fn bottom() -> usize {
        core::ptr::addr_of!(__sheap) as usize
    }

    fn top() -> usize {
        core::ptr::addr_of!(_stack_start) as usize
    }

    /// Paints from the end of static RAM up to just below the current stack pointer; returns
    /// the painted range's end.
    pub fn paint() -> usize {
        let sp = cortex_m::register::msp::read() as usize;
        let end = sp.saturating_sub(MARGIN) & !3;
        let mut p = bottom();
        while p < end {
            // SAFETY: [bottom, end) is RAM between the end of .bss and the live stack, which
            // nothing else uses (no heap).
            unsafe { core::ptr::write_volatile(p as *mut u32, PATTERN) };
            p += 4;
        }
        end
    }

    /// Peak stack use in bytes since [`paint`]: from the top of RAM to the lowest overwritten word.
    pub fn peak(end: usize) -> usize {
        let mut p = bottom();
        while p < end {
            // SAFETY: reads the painted range of [`paint`].
            if unsafe { core::ptr::read_volatile(p as *const u32) } != PATTERN {
                break;
            }
            p += 4;
        }
        top() - p
    }
}

//! Loads the embedded model, evaluates every embedded input row, prints each output's bit
//! pattern and the instruction-count markers, and exits QEMU with the result.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;
use spikeslab_runtime::{Error, MAX_WIDTH, Model, Scratch, include_model};

static MODEL: &[u8] = include_model!(env!("SPIKESLAB_MODEL"));
static INPUTS: &[u8] = include_model!(env!("SPIKESLAB_INPUTS"));

/// First instruction of the measured region (a tracer counts from its first execution).
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

fn run() -> Result<(), Error> {
    let model = Model::from_bytes(MODEL)?;
    let (d, k) = (model.features(), model.outputs());
    let mut x = [0f32; 1024];
    let mut y = [0f32; MAX_WIDTH];
    let mut scratch = Scratch::new();
    let (x, y) = (
        x.get_mut(..d).ok_or(Error::Capacity)?,
        y.get_mut(..k).ok_or(Error::Capacity)?,
    );
    for (row, bytes) in INPUTS.chunks_exact(4 * d).enumerate() {
        for (v, b) in x.iter_mut().zip(bytes.chunks_exact(4)) {
            *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        if row == 0 {
            bench_start();
            model.predict_with(&mut scratch, x, y)?;
            bench_end();
        } else {
            model.predict_with(&mut scratch, x, y)?;
        }
        for (j, v) in y.iter().enumerate() {
            hprintln!("y[{}][{}]={:08x}", row, j, v.to_bits());
        }
    }
    Ok(())
}

#[entry]
fn main() -> ! {
    match run() {
        Ok(()) => {
            hprintln!("done");
            debug::exit(debug::EXIT_SUCCESS);
        }
        Err(e) => {
            hprintln!("error: {}", e);
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    loop {}
}

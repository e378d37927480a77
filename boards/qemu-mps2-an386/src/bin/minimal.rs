//! The smallest useful firmware: load the model, predict once, exit. Measures code size.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use cortex_m_rt::entry;
use cortex_m_semihosting::debug;
use panic_semihosting as _;
use spikeslab_runtime::{Error, MAX_WIDTH, Model, include_model};

static MODEL: &[u8] = include_model!(env!("SPIKESLAB_MODEL"));

fn run() -> Result<bool, Error> {
    let model = Model::from_bytes(core::hint::black_box(MODEL))?;
    let x = [0.5f32; 1024];
    let mut y = [0.0f32; MAX_WIDTH];
    let x = x.get(..model.features()).ok_or(Error::Capacity)?;
    let y = y.get_mut(..model.outputs()).ok_or(Error::Capacity)?;
    model.predict(core::hint::black_box(x), y)?;
    Ok(y.iter().all(|v| v.is_finite()))
}

#[entry]
fn main() -> ! {
    let ok = matches!(run(), Ok(true));
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {}
}

//! The smallest useful firmware: load the model, predict once on the first embedded row,
//! exit. Its flash minus that of `empty` (and the embedded data) is the runtime's code size.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use cortex_m_semihosting::debug;
use panic_semihosting as _;
use spikeslab_runtime::{Error, MAX_WIDTH, Model, include_model};

fn predict_once() -> Result<bool, Error> {
    let model = Model::from_bytes(include_model!(env!("SPIKESLAB_MODEL")))?;
    let inputs = include_model!(env!("SPIKESLAB_INPUTS"));
    let mut x = [0f32; 1024];
    let mut y = [0f32; MAX_WIDTH];
    let x = x.get_mut(..model.features()).ok_or(Error::Capacity)?;
    for (v, b) in x.iter_mut().zip(inputs.chunks_exact(4)) {
        *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    let y = y.get_mut(..model.outputs()).ok_or(Error::Capacity)?;
    model.predict(x, y)?;
    Ok(y.iter().all(|v| v.is_finite()))
}

#[cortex_m_rt::entry]
fn main() -> ! {
    let ok = matches!(predict_once(), Ok(true));
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {}
}

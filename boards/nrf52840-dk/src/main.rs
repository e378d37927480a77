//! Evaluates the embedded model on the embedded rows and logs which sensors it reads (index
//! and name) and every output's value and bit pattern over RTT (defmt), then stops the
//! probe-rs session.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use defmt_rtt as _;
use panic_probe as _;
use spikeslab_runtime::{Error, MAX_WIDTH, Model, Scratch, include_model};

static MODEL: &[u8] = include_model!(env!("SPIKESLAB_MODEL"));
static INPUTS: &[u8] = include_model!(env!("SPIKESLAB_INPUTS"));

fn run() -> Result<(), Error> {
    let model = Model::from_bytes(MODEL)?;
    defmt::info!(
        "model reads features {} of {}",
        model.inputs(),
        model.features()
    );
    for (name, index) in model.input_names().zip(model.inputs()) {
        defmt::info!("  [{}] {=[u8]:a}", index, name.as_bytes());
    }
    let (mut x, mut y, mut scratch) = ([0f32; 1024], [0f32; MAX_WIDTH], Scratch::new());
    let x = x.get_mut(..model.features()).ok_or(Error::Capacity)?;
    let y = y.get_mut(..model.outputs()).ok_or(Error::Capacity)?;
    for (row, bytes) in INPUTS.chunks_exact(4 * x.len()).enumerate() {
        for (v, b) in x.iter_mut().zip(bytes.chunks_exact(4)) {
            *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        model.predict_with(&mut scratch, x, y)?;
        for (k, v) in y.iter().enumerate() {
            defmt::info!("y[{}][{}] = {} ({=u32:08x})", row, k, v, v.to_bits());
        }
    }
    Ok(())
}

#[cortex_m_rt::entry]
fn main() -> ! {
    match run() {
        Ok(()) => defmt::info!("done"),
        Err(e) => defmt::error!("error: {}", e),
    }
    loop {
        cortex_m::asm::bkpt();
    }
}

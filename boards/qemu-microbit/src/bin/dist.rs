//! Measures `predict_dist` on the embedded model's first row (see `spikeslab_qemu::run_dist`).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use panic_semihosting as _;
use spikeslab_runtime::include_model;

#[cortex_m_rt::entry]
fn main() -> ! {
    let model = include_model!(env!("SPIKESLAB_MODEL"));
    let inputs = include_model!(env!("SPIKESLAB_INPUTS"));
    spikeslab_qemu::run_dist(model, inputs)
}

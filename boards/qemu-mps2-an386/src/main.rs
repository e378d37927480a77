//! Evaluates the embedded model on the embedded rows and prints the outputs (see spikeslab-qemu).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use panic_semihosting as _;
use spikeslab_runtime::include_model;

#[cortex_m_rt::entry]
fn main() -> ! {
    let model = include_model!(env!("SPIKESLAB_MODEL"));
    let inputs = include_model!(env!("SPIKESLAB_INPUTS"));
    spikeslab_qemu::run(model, inputs)
}

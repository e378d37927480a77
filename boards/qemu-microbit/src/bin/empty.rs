//! The same startup, exit and data as `size-probe`, without the runtime (see
//! `spikeslab_qemu::embed_only`).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use panic_semihosting as _;
use spikeslab_runtime::include_model;

#[cortex_m_rt::entry]
fn main() -> ! {
    let model = include_model!(env!("SPIKESLAB_MODEL"));
    let inputs = include_model!(env!("SPIKESLAB_INPUTS"));
    spikeslab_qemu::embed_only(model, inputs)
}

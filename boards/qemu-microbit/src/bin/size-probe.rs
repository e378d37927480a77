//! The smallest useful firmware (see `spikeslab_qemu::predict_once`): its flash minus that of
//! `empty` (and the embedded data) is the runtime's code size.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use panic_semihosting as _;
use spikeslab_runtime::include_model;

#[cortex_m_rt::entry]
fn main() -> ! {
    let model = include_model!(env!("SPIKESLAB_MODEL"));
    let inputs = include_model!(env!("SPIKESLAB_INPUTS"));
    spikeslab_qemu::predict_once(model, inputs)
}

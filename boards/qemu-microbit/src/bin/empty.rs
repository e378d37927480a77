//! The same startup and exit as `size-probe`, embedding the same data, without the runtime:
//! the baseline that `size-probe` is measured against.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use cortex_m_semihosting::debug;
use panic_semihosting as _;
use spikeslab_runtime::include_model;

#[cortex_m_rt::entry]
fn main() -> ! {
    let model = core::hint::black_box(include_model!(env!("SPIKESLAB_MODEL")));
    let inputs = core::hint::black_box(include_model!(env!("SPIKESLAB_INPUTS")));
    let ok = !model.is_empty() && !inputs.is_empty();
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {}
}

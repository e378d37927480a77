//! Chooses the integer kernels' shape for the core: `spikeslab_thumbv6m` on ARMv6-M
//! (Cortex-M0/M0+), whose eight low registers fit a narrower block than other cores' thirteen.
//! Stable Rust exposes no target feature that tells ARMv6-M apart, so the target name does.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(spikeslab_thumbv6m)");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("TARGET").is_ok_and(|t| t.starts_with("thumbv6m")) {
        println!("cargo::rustc-cfg=spikeslab_thumbv6m");
    }
}

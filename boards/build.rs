//! Shared build script of the QEMU boards: puts the board's memory.x on the linker's search
//! path and chooses the embedded model. `SPIKESLAB_MODEL` names a `.postcard` blob (default:
//! `models/demo.postcard` of this repository); its `.inputs` sibling holds the test rows as
//! little-endian f32.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("memory.x is readable");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    if env::var_os("CARGO_FEATURE_DEFMT").is_some() {
        println!("cargo:rustc-link-arg=-Tdefmt.x");
    }
    let dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let model = env::var_os("SPIKESLAB_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("../../models/demo.postcard"));
    let model = dir.join(model);
    let inputs = model.with_extension("inputs");
    for f in [&model, &inputs] {
        assert!(
            f.is_file(),
            "{} not found: set SPIKESLAB_MODEL to a compiled .postcard with a .inputs beside it",
            f.display()
        );
    }
    println!("cargo:rerun-if-env-changed=SPIKESLAB_MODEL");
    println!("cargo:rerun-if-changed={}", model.display());
    println!("cargo:rerun-if-changed={}", inputs.display());
    println!("cargo:rustc-env=SPIKESLAB_MODEL={}", model.display());
    println!("cargo:rustc-env=SPIKESLAB_INPUTS={}", inputs.display());
}

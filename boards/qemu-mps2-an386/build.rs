//! Puts memory.x on the linker's search path and chooses the embedded model:
//! `SPIKESLAB_MODEL` (a `.postcard` file; its `.inputs` sibling holds the test rows),
//! by default `models/demo.postcard` of this repository.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("memory.x is readable");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    let dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let model = env::var_os("SPIKESLAB_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("../../models/demo.postcard"));
    let model = model
        .canonicalize()
        .unwrap_or_else(|e| panic!("model {}: {e}", model.display()));
    let inputs = model.with_extension("inputs");
    println!("cargo:rerun-if-env-changed=SPIKESLAB_MODEL");
    println!("cargo:rerun-if-changed={}", model.display());
    println!("cargo:rerun-if-changed={}", inputs.display());
    println!("cargo:rustc-env=SPIKESLAB_MODEL={}", model.display());
    println!("cargo:rustc-env=SPIKESLAB_INPUTS={}", inputs.display());
}

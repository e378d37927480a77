//! The C boards (plain C through `spikeslab.h` and the packaged static library, built with
//! `make` or `CMake` and Debian's `gcc-arm-none-eabi`) print the inputs the model reads and
//! outputs bit-identical to the runtime on the host: the committed demos in f32 (with its
//! posterior) and int8, and the board fixtures (classifiers, tanh and sigmoid, dense and
//! sparse, f32, int8 and with variances); also when the firmware uses GCC's LTO. The
//! instructions of one inference equal the Rust board's on the same machine to within the C
//! API's call overhead, and the firmware links no panic.

use std::path::Path;

use spikeslab_compiler::blob::BlobBytes;
use spikeslab_tests::board::{
    C_BOARDS, build, build_c, build_c_cmake, build_c_with, panic_symbols, root, run, rust_twin,
};
use spikeslab_tests::{fixture_models, golden_demo, input_lines};

/// Most extra instructions the C API may add to one `predict`: its checks of the loaded
/// tag, the lengths, the pointers and their overlap (about 50 on the M4F, 90 on the M0),
/// the same for every model.
const CALL_OVERHEAD: u64 = 100;

fn check(board: usize, model: &Path, expected: &[String]) {
    let b = C_BOARDS[board];
    let r = run(b, &build_c(b, model, "board"));
    r.assert_matches(b, model, expected);
    let blob = BlobBytes::new(&std::fs::read(model).unwrap());
    assert_eq!(
        r.inputs,
        input_lines(&blob.model().unwrap()),
        "{} inputs of {}",
        b.name,
        model.display()
    );
    assert!(r.stack.is_some_and(|s| s > 0), "no stack figure: {}", r.log);
}

fn golden(board: usize) {
    for name in ["demo", "demo-int8"] {
        let (model, expected) = golden_demo(name);
        check(board, &model, &expected);
    }
}

fn fixtures(board: usize) {
    let dir = tempfile::tempdir_in(root().join("target")).unwrap();
    for (model, expected) in fixture_models(dir.path()) {
        check(board, &model, &expected);
    }
}

/// One `predict` of the demo and its int8 twin costs the same instructions from C as from
/// Rust on the same core, to within [`CALL_OVERHEAD`].
fn same_instructions(board: usize) {
    let c = C_BOARDS[board];
    let rust = rust_twin(c);
    for name in ["demo", "demo-int8"] {
        let model = root().join(format!("models/{name}.postcard"));
        let from_c = run(c, &build_c(c, &model, "board")).instructions.unwrap();
        let from_rust = run(rust, &build(rust, &model, rust.name))
            .instructions
            .unwrap();
        assert!(
            from_c.abs_diff(from_rust) <= CALL_OVERHEAD,
            "{name} on the {}: {from_c} instructions from C, {from_rust} from Rust",
            c.core
        );
    }
}

#[test]
fn c_cortex_m4f_mps2_an386_demo_is_golden() {
    golden(0);
}

#[test]
fn c_cortex_m0_microbit_demo_is_golden() {
    golden(1);
}

#[test]
fn c_cortex_m4f_mps2_an386_matches_host() {
    fixtures(0);
}

#[test]
fn c_cortex_m0_microbit_matches_host() {
    fixtures(1);
}

#[test]
fn c_cortex_m4f_costs_what_rust_does() {
    same_instructions(0);
}

#[test]
fn c_cortex_m0_costs_what_rust_does() {
    same_instructions(1);
}

/// Firmware built with GCC's link-time optimisation links the library as it is and prints
/// the same bits.
#[test]
fn c_firmware_with_gcc_lto_is_golden() {
    let b = C_BOARDS[0];
    let (model, expected) = golden_demo("demo");
    run(b, &build_c_with(b, &model, "board", "-flto")).assert_matches(b, &model, &expected);
}

/// The same boards built by `CMake`, the library found with `find_package(spikeslab)` and
/// chosen from `-mcpu` and `-mfloat-abi`, print the same bits.
#[test]
fn c_boards_built_by_cmake_are_golden() {
    for b in C_BOARDS {
        let (model, expected) = golden_demo("demo");
        run(b, &build_c_cmake(b, &model)).assert_matches(b, &model, &expected);
    }
}

/// A C firmware links no panic either: the packaged library's runtime cannot fail once a
/// blob is loaded, and the C API's checks return errors (its panic hook stays, unreached).
#[test]
fn no_c_firmware_links_a_panic() {
    let model = root().join("models/demo.postcard");
    for b in C_BOARDS {
        let panics = panic_symbols(&build_c(b, &model, "board").elf);
        assert!(panics.is_empty(), "{} links {panics:?}", b.name);
    }
}

//! Every QEMU board runs compiled models and prints outputs bit-identical to the runtime on
//! the host: the committed demos in f32 and int8 (regression, relu, sparse and dense layers,
//! golden outputs) and networks covering classification, tanh and sigmoid, dense and sparse
//! storage, each in f32, int8, and f32 with the predictive distribution; and no firmware
//! links a panic.

use std::path::Path;

use spikeslab_tests::board::{
    ASM_BOARDS, QEMU_BOARDS, build, build_with, panic_symbols, profile, root, run,
};
use spikeslab_tests::{fixture_models, golden_demo};

fn check_board(board: usize, model: &Path, expected: &[String], feature: Option<&str>) {
    let b = QEMU_BOARDS[board];
    run(b, &build_with(b, model, b.name, feature)).assert_matches(b, model, expected);
}

fn golden_demos(board: usize, feature: Option<&str>) {
    for name in ["demo", "demo-int8"] {
        let (model, expected) = golden_demo(name);
        check_board(board, &model, &expected, feature);
    }
}

/// Classification with tanh (sparse first layer), regression with sigmoid (dense), a dense
/// relu classifier with a width that is not a multiple of four; each in f32, in 8-bit
/// integers, and in f32 with posterior variances (`predict_dist`'s outputs too).
fn fixtures(board: usize, feature: Option<&str>) {
    let dir = tempfile::tempdir_in(root().join("target")).unwrap();
    for (model, expected) in fixture_models(dir.path()) {
        check_board(board, &model, &expected, feature);
    }
}

#[test]
fn cortex_m4f_mps2_an386_demo_is_golden() {
    golden_demos(0, None);
}

#[test]
fn cortex_m3_lm3s6965_demo_is_golden() {
    golden_demos(1, None);
}

#[test]
fn cortex_m0_microbit_demo_is_golden() {
    golden_demos(2, None);
}

#[test]
fn cortex_m4f_mps2_an386_matches_host() {
    fixtures(0, None);
}

#[test]
fn cortex_m3_lm3s6965_matches_host() {
    fixtures(1, None);
}

#[test]
fn cortex_m0_microbit_matches_host() {
    fixtures(2, None);
}

/// With the runtime's `asm` feature, the two cores it changes (the M4F's f32 blocks, the M0's
/// integer blocks) give the same bits as the host, for the demos and every fixture.
#[test]
fn cortex_m4f_mps2_an386_with_asm_matches_host() {
    golden_demos(ASM_BOARDS[0], Some("asm"));
    fixtures(ASM_BOARDS[0], Some("asm"));
}

#[test]
fn cortex_m0_microbit_with_asm_matches_host() {
    golden_demos(ASM_BOARDS[1], Some("asm"));
    fixtures(ASM_BOARDS[1], Some("asm"));
}

/// The per-address profile (`boards/tools/qemu-pcprofile.c`) of the int8 demo on the M0 adds
/// up to the exact instruction count, and its loops show (some address runs once per hidden
/// node or more): the tool the README's profiles come from measures what board-bench counts.
#[test]
fn the_profile_adds_up_to_the_instruction_count() {
    let b = QEMU_BOARDS[2];
    let model = root().join("models/demo-int8.postcard");
    let fw = build(b, &model, b.name);
    let counted = run(b, &fw).instructions.expect("an instruction count");
    let p = profile(b, &fw);
    assert_eq!(p.iter().map(|&(_, n)| n).sum::<u64>(), counted);
    assert!(p.windows(2).all(|w| w[0].0 < w[1].0), "sorted by address");
    let hottest = p.iter().map(|&(_, n)| n).max().unwrap_or(0);
    assert!(hottest >= 13, "the demo's 13 hidden nodes: {hottest}");
}

/// The runtime is validated once and then cannot fail, so no firmware links `core`'s panic
/// machinery: each board's own program, its `predict_dist` program and (where the board has
/// one) the size probe. Every kernel is linked whatever the model, as layers are dispatched
/// at run time, so the demo's firmware holds them all.
#[test]
fn no_firmware_links_a_panic() {
    let model = root().join("models/demo.postcard");
    for b in QEMU_BOARDS {
        let probe = root()
            .join("boards")
            .join(b.name)
            .join("src/bin/size-probe.rs");
        let bins = [b.name, "dist"]
            .into_iter()
            .chain(probe.is_file().then_some("size-probe"));
        for bin in bins {
            let panics = panic_symbols(&build(b, &model, bin).elf);
            assert!(panics.is_empty(), "{} `{bin}` links {panics:?}", b.name);
        }
    }
    for b in ASM_BOARDS.map(|i| QEMU_BOARDS[i]) {
        let panics = panic_symbols(&build_with(b, &model, b.name, Some("asm")).elf);
        assert!(panics.is_empty(), "{} with `asm` links {panics:?}", b.name);
    }
}

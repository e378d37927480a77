//! Every QEMU board runs compiled models and prints outputs bit-identical to the runtime on
//! the host: the committed demos in f32 and int8 (regression, relu, sparse and dense layers,
//! golden outputs) and networks covering classification, tanh and sigmoid, dense and sparse
//! storage, each in f32, int8, and f32 with the predictive distribution.

use std::path::Path;

use rand::SeedableRng;
use rand_pcg::Pcg64;
use spikeslab_compiler::blob::BlobBytes;
use spikeslab_runtime::{Activation, Task};
use spikeslab_tests::board::{QEMU_BOARDS, build, profile, root, run};
use spikeslab_tests::{
    Arch, ToBlob, expected_lines, int8, random_inputs, random_network, read_rows, with_variances,
};

fn check_board(board: usize, model: &Path, expected: &[String]) {
    let b = QEMU_BOARDS[board];
    let fw = build(b, model, b.name);
    let r = run(b, &fw);
    assert_eq!(
        r.status, 0,
        "{} exited with {}:\n{}",
        b.name, r.status, r.log
    );
    assert!(
        r.log.contains("\ndone") || r.log.starts_with("done"),
        "{}",
        r.log
    );
    assert_eq!(
        r.outputs,
        expected,
        "{} differs from the host runtime on {}",
        b.name,
        model.display()
    );
    assert!(
        r.instructions.is_some_and(|n| n > 0),
        "no instruction count: {}",
        r.log
    );
}

fn golden_demo(board: usize) {
    for name in ["demo", "demo-int8"] {
        golden(board, name);
    }
}

fn golden(board: usize, name: &str) {
    let model = root().join(format!("models/{name}.postcard"));
    let expected: Vec<String> = std::fs::read_to_string(model.with_extension("expected"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let blob = BlobBytes::new(&std::fs::read(&model).unwrap());
    let rows = read_rows(
        &std::fs::read(model.with_extension("inputs")).unwrap(),
        blob.model().unwrap().features(),
    );
    assert_eq!(
        expected_lines(&blob.model().unwrap(), &rows).unwrap(),
        expected,
        "host runtime differs from models/{name}.expected"
    );
    check_board(board, &model, &expected);
}

/// Classification with tanh (sparse first layer), regression with sigmoid (dense), a dense
/// relu classifier with a width that is not a multiple of four; each in f32, in 8-bit
/// integers, and in f32 with posterior variances (`predict_dist`'s outputs too).
fn fixtures(board: usize) {
    let dir = tempfile::tempdir_in(root().join("target")).unwrap();
    let archs = [
        Arch {
            task: Task::Classification,
            features: 20,
            inputs: 13,
            widths: vec![24, 3],
            density: 0.25,
            activation: Activation::Tanh,
        },
        Arch {
            task: Task::Regression,
            features: 8,
            inputs: 8,
            widths: vec![16, 8, 2],
            density: 1.0,
            activation: Activation::Sigmoid,
        },
        Arch {
            task: Task::Classification,
            features: 30,
            inputs: 30,
            widths: vec![18, 7],
            density: 0.9,
            activation: Activation::Relu,
        },
    ];
    let nets = archs.iter().enumerate().flat_map(|(i, arch)| {
        let net = random_network(arch, 40 + i as u64);
        let q = int8(&net, i as u64);
        let dist = with_variances(&net, 0.3, i as u64);
        [
            (format!("fixture{i}"), net.to_blob().unwrap()),
            (format!("fixture{i}-int8"), q.to_blob().unwrap()),
            (format!("fixture{i}-dist"), dist.to_blob().unwrap()),
        ]
    });
    for (i, (name, blob)) in nets.enumerate() {
        let arch = &archs[i / 3];
        let i = i / 3;
        let model = dir.path().join(format!("{name}.postcard"));
        std::fs::write(&model, blob.as_bytes()).unwrap();
        let rows = random_inputs(arch.features, 5, &mut Pcg64::seed_from_u64(i as u64));
        std::fs::write(
            model.with_extension("inputs"),
            rows.iter()
                .flatten()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        check_board(
            board,
            &model,
            &expected_lines(&blob.model().unwrap(), &rows).unwrap(),
        );
    }
}

#[test]
fn cortex_m4f_mps2_an386_demo_is_golden() {
    golden_demo(0);
}

#[test]
fn cortex_m3_lm3s6965_demo_is_golden() {
    golden_demo(1);
}

#[test]
fn cortex_m0_microbit_demo_is_golden() {
    golden_demo(2);
}

#[test]
fn cortex_m4f_mps2_an386_matches_host() {
    fixtures(0);
}

#[test]
fn cortex_m3_lm3s6965_matches_host() {
    fixtures(1);
}

#[test]
fn cortex_m0_microbit_matches_host() {
    fixtures(2);
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

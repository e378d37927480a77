//! Measures the QEMU boards per inference and prints a Markdown table: flash, blob, code,
//! static RAM, peak stack (painted), exact instructions per inference (QEMU plugin) and per
//! retained multiply-add, for the demo and three reference shapes, each in f32 and int8; then
//! the runtime's own code size, the speed-up that pruning and int8 give, blob bytes per
//! weight; the M4F and M0 again with the runtime's `asm` feature; `predict_dist`'s
//! instructions against `predict`'s with the flash the variances add; then the C boards
//! against the Rust boards on the same machines, and the C package's sizes.
//!
//! `cargo run --release -p spikeslab-eval --bin board-bench [-- --c]` (`--c`: the C part only)

use std::path::PathBuf;

use rand::SeedableRng;
use rand_pcg::Pcg64;
use spikeslab_compiler::blob::BlobBytes;
use spikeslab_runtime::{Activation, Task};
use spikeslab_tests::board::{
    ASM_BOARDS, Board, C_BOARDS, Firmware, QEMU_BOARDS, Run, build, build_c, build_with, c_package,
    root, run, rust_twin,
};
use spikeslab_tests::{Arch, ToBlob, random_inputs, random_network, with_variances};

#[derive(Clone)]
struct Model {
    label: &'static str,
    path: PathBuf,
    blob: usize,
    inputs: usize,
    macs: usize,
}

fn fixture(
    dir: &std::path::Path,
    label: &'static str,
    name: &str,
    arch: &Arch,
    int8: bool,
) -> Model {
    let net = random_network(arch, 7);
    let blob = if int8 {
        spikeslab_tests::int8(&net, 3).to_blob()
    } else {
        net.to_blob()
    }
    .expect("valid fixture");
    let path = dir.join(format!("{name}.postcard"));
    std::fs::write(&path, blob.as_bytes()).expect("write fixture");
    let rows = random_inputs(arch.features, 2, &mut Pcg64::seed_from_u64(3));
    let bytes: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(path.with_extension("inputs"), &bytes).expect("write inputs");
    Model {
        label,
        path,
        blob: blob.as_bytes().len(),
        inputs: bytes.len(),
        macs: blob.model().expect("valid").weight_count(),
    }
}

fn main() {
    let dir = root().join("target").join("boards").join("bench");
    std::fs::create_dir_all(&dir).expect("target/boards/bench");
    let demo = |name: &str, label: &'static str| {
        let path = root().join(format!("models/{name}.postcard"));
        let blob = BlobBytes::new(&std::fs::read(&path).expect("a committed demo"));
        Model {
            label,
            blob: blob.as_bytes().len(),
            inputs: std::fs::metadata(path.with_extension("inputs"))
                .map_or(0, |m| m.len() as usize),
            macs: blob.model().expect("valid demo").weight_count(),
            path,
        }
    };
    let classifier = Arch::classifier_64_128_64_10;
    let regressor = Arch {
        task: Task::Regression,
        features: 8,
        inputs: 8,
        widths: vec![50, 1],
        density: 1.0,
        activation: Activation::Relu,
    };
    let models = [
        demo("demo", "demo (E3, 10-14-1 kept of 50-50-1)"),
        fixture(
            &dir,
            "8-50-1 regressor, dense",
            "r8-50-1",
            &regressor,
            false,
        ),
        fixture(
            &dir,
            "64-128-64-10 classifier, dense",
            "c64-dense",
            &classifier(1.0),
            false,
        ),
        fixture(
            &dir,
            "64-128-64-10 classifier, 10% of edges (sparse)",
            "c64-pruned",
            &classifier(0.1),
            false,
        ),
        demo("demo-int8", "int8 demo (10-14-1)"),
        fixture(
            &dir,
            "int8 8-50-1 regressor, dense",
            "r8-50-1-int8",
            &regressor,
            true,
        ),
        fixture(
            &dir,
            "int8 64-128-64-10 classifier, dense",
            "c64-dense-int8",
            &classifier(1.0),
            true,
        ),
        fixture(
            &dir,
            "int8 64-128-64-10 classifier, 10% of edges (sparse)",
            "c64-pruned-int8",
            &classifier(0.1),
            true,
        ),
    ];
    if std::env::args().any(|a| a == "--c") {
        c_api(&models);
        return;
    }
    println!(
        "| board | model | blob B | flash B | code B | static RAM B | peak stack B | instructions / inference | multiply-adds | instructions / MAC |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut dense_vs_pruned = Vec::new();
    let mut all_counts = Vec::new();
    for board in QEMU_BOARDS {
        let mut counts = Vec::new();
        for m in &models {
            let (fw, r, insns) = measure(board, m, None);
            counts.push(insns);
            println!(
                "| {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} |",
                board.name,
                board.core,
                m.label,
                m.blob,
                fw.flash,
                fw.flash as usize - m.blob - m.inputs,
                fw.ram,
                r.stack.map_or("-".into(), |s| s.to_string()),
                insns,
                m.macs,
                insns as f64 / m.macs as f64
            );
        }
        dense_vs_pruned.push((
            board,
            counts[2] as f64 / counts[3] as f64,
            counts[0] as f64 / counts[4] as f64,
        ));
        all_counts.push(counts);
    }
    println!();
    for (board, pruned, int8) in dense_vs_pruned {
        println!(
            "on {} ({}): pruning {pruned:.2}x fewer instructions (64-128-64-10 dense over 10% edges); the int8 demo {int8:.1}x fewer than the f32 demo",
            board.name, board.core
        );
    }
    for (m, int8) in models[..4].iter().zip(&models[4..]) {
        println!(
            "blob bytes per stored weight, {}: f32 {:.2}, int8 {:.2}",
            m.label,
            m.blob as f64 / m.macs as f64,
            int8.blob as f64 / int8.macs as f64
        );
    }
    runtime_code_size(QEMU_BOARDS[0], &models[0], None);
    runtime_code_size(QEMU_BOARDS[2], &models[4], None);
    with_asm(&models, &all_counts);
    predictive(&dir, &models);
    c_api(&models);
}

/// The C boards (`spikeslab.h` and the packaged static library, `gcc -Os`) against the Rust
/// boards on the same machine and model: instructions of one `predict`, and the runtime's
/// code (load, validate, predict once: `probe` minus `empty`, as `size-probe`
/// minus `empty` for Rust); then the package's file sizes.
fn c_api(models: &[Model]) {
    println!(
        "\n| C board | model | instructions C / Rust (difference) | runtime code B C / Rust (difference) |"
    );
    println!("|---|---|---|---|");
    for board in C_BOARDS {
        let twin = rust_twin(board);
        for (i, m) in models.iter().enumerate() {
            let from_c = run(board, &build_c(board, &m.path, "board"));
            let from_rust = run(twin, &build(twin, &m.path, twin.name));
            assert_eq!(from_c.status, 0, "{}:\n{}", board.name, from_c.log);
            assert_eq!(
                from_c.outputs, from_rust.outputs,
                "{} on {}",
                board.name, m.label
            );
            let code = if i == 0 || i == 4 {
                let c =
                    build_c(board, &m.path, "probe").flash - build_c(board, &m.path, "empty").flash;
                let r =
                    build(twin, &m.path, "size-probe").flash - build(twin, &m.path, "empty").flash;
                format!("{c} / {r} ({:+})", c as i64 - r as i64)
            } else {
                "-".into()
            };
            let (c, r) = (
                from_c.instructions.unwrap_or(0),
                from_rust.instructions.unwrap_or(0),
            );
            println!(
                "| {} ({}) | {} | {c} / {r} ({:+}) | {code} |",
                board.name,
                board.core,
                m.label,
                c as i64 - r as i64,
            );
        }
    }
    let package = c_package();
    println!("\nC package (runtime-c/package.sh):");
    let mut libs: Vec<PathBuf> = std::fs::read_dir(package.join("lib"))
        .expect("the package's lib folder")
        .filter_map(Result::ok)
        .map(|e| e.path().join("libspikeslab.a"))
        .collect();
    libs.sort();
    for f in std::iter::once(package.join("include/spikeslab.h")).chain(libs) {
        let bytes = std::fs::metadata(&f).map_or(0, |m| m.len());
        println!(
            "  {}: {bytes} bytes",
            f.strip_prefix(&package).unwrap_or(&f).display()
        );
    }
}

/// `predict_dist` against `predict` on networks with posterior variances (the demo, the
/// 8-50-1 and 64-128-64-10 fixtures with variances, and the 8-50-1 in int8), and the flash
/// they add.
fn predictive(dir: &std::path::Path, models: &[Model]) {
    let posterior = |label: &'static str, name: &str, arch: &Arch, point: &Model| {
        let mut net = with_variances(&random_network(arch, 7), 0.3, 7);
        if name.contains("table4") {
            net = spikeslab_compiler::posterior::coded(&net);
        }
        let blob = if name.contains("int8") {
            spikeslab_tests::int8(&net, 3).to_blob()
        } else {
            net.to_blob()
        }
        .expect("valid fixture");
        let path = dir.join(format!("{name}.postcard"));
        std::fs::write(&path, blob.as_bytes()).expect("write fixture");
        std::fs::copy(
            point.path.with_extension("inputs"),
            path.with_extension("inputs"),
        )
        .expect("copy inputs");
        Model {
            label,
            path,
            blob: blob.as_bytes().len(),
            inputs: point.inputs,
            macs: point.macs,
        }
    };
    let regressor = Arch {
        task: Task::Regression,
        features: 8,
        inputs: 8,
        widths: vec![50, 1],
        density: 1.0,
        activation: Activation::Relu,
    };
    let dist = [
        (
            &models[0],
            Model {
                label: "demo (10-14-1)",
                ..models[0].clone()
            },
        ),
        (
            &models[1],
            posterior(
                "8-50-1 regressor, dense",
                "r8-50-1-dist",
                &regressor,
                &models[1],
            ),
        ),
        (
            &models[2],
            posterior(
                "64-128-64-10 classifier, dense",
                "c64-dense-dist",
                &Arch::classifier_64_128_64_10(1.0),
                &models[2],
            ),
        ),
        (
            &models[1],
            posterior(
                "8-50-1 regressor, dense, variances in 4 bits",
                "r8-50-1-dist-table4",
                &regressor,
                &models[1],
            ),
        ),
        (
            &models[2],
            posterior(
                "64-128-64-10 classifier, dense, variances in 4 bits",
                "c64-dense-dist-table4",
                &Arch::classifier_64_128_64_10(1.0),
                &models[2],
            ),
        ),
        (
            &models[5],
            posterior(
                "int8 8-50-1 regressor, dense",
                "r8-50-1-int8-dist",
                &regressor,
                &models[5],
            ),
        ),
    ];
    println!(
        "\n| board | model (with variances) | blob B | without variances | per kept weight | predict | predict_dist | predict_dist / predict |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for board in QEMU_BOARDS {
        for (point, m) in &dist {
            let count = |bin: &str| {
                let fw = build(board, &m.path, bin);
                let r = run(board, &fw);
                assert_eq!(
                    r.status, 0,
                    "{} failed on {}:\n{}",
                    board.name, m.label, r.log
                );
                r.instructions.expect("instruction count")
            };
            let (p, d) = (count(board.name), count("dist"));
            // The demo's point blob is not committed: its size without variances is the
            // report's; the fixtures' is the same network's blob without them.
            let without = if std::ptr::eq(*point, &models[0]) {
                demo_point_bytes()
            } else {
                point.blob
            };
            println!(
                "| {} ({}) | {} | {} | {} | {:.2}x | {} | {} | {:.2} |",
                board.name,
                board.core,
                m.label,
                m.blob,
                without,
                m.blob as f64 / without as f64,
                p,
                d,
                d as f64 / p as f64
            );
        }
    }
}

/// Bytes of the demo's blob without its variances, from its report.
fn demo_point_bytes() -> usize {
    let report = std::fs::read_to_string(root().join("models/demo.report.json"))
        .expect("the committed demo report");
    let v: serde_json::Value = serde_json::from_str(&report).expect("a JSON report");
    v["uncertainty"]["point_blob_bytes"]
        .as_u64()
        .expect("the demo carries its posterior") as usize
}

/// Builds `board`'s program with `m` embedded (and the cargo `feature`), runs it, and
/// returns the firmware, the run and its instructions per inference.
fn measure(board: Board, m: &Model, feature: Option<&str>) -> (Firmware, Run, u64) {
    let fw = build_with(board, &m.path, board.name, feature);
    let r = run(board, &fw);
    assert_eq!(
        r.status, 0,
        "{} failed on {}:\n{}",
        board.name, m.label, r.log
    );
    let insns = r.instructions.expect("instruction count");
    (fw, r, insns)
}

/// The M4F and M0 boards built with the runtime's `asm` feature (its hand-written f32 and
/// ARMv6-M integer block loops; `counts` are the same models' instructions without it, one
/// row per board of [`QEMU_BOARDS`]): instructions per inference and per multiply-add, and the
/// runtime's code.
fn with_asm(models: &[Model], counts: &[Vec<u64>]) {
    println!(
        "\nwith the runtime's `asm` feature (the boards' `--features asm`):\n\n| board | model | instructions / inference | without `asm` | instructions / MAC |"
    );
    println!("|---|---|---|---|---|");
    for i in ASM_BOARDS {
        let board = QEMU_BOARDS[i];
        let mut asm = Vec::new();
        for (m, &before) in models.iter().zip(&counts[i]) {
            let insns = measure(board, m, Some("asm")).2;
            asm.push(insns);
            println!(
                "| {} ({}) | {} | {} | {} | {:.2} |",
                board.name,
                board.core,
                m.label,
                insns,
                before,
                insns as f64 / m.macs as f64
            );
        }
        println!(
            "\non {} ({}) with `asm`: the int8 demo {:.1}x fewer instructions than the f32 demo",
            board.name,
            board.core,
            asm[0] as f64 / asm[4] as f64
        );
    }
    runtime_code_size(QEMU_BOARDS[0], &models[0], Some("asm"));
    runtime_code_size(QEMU_BOARDS[2], &models[4], Some("asm"));
}

/// Flash of `size-probe` (load + predict once) minus `empty` (same startup and data), built
/// with the board's cargo `feature`.
fn runtime_code_size(board: Board, m: &Model, feature: Option<&str>) {
    let probe = build_with(board, &m.path, "size-probe", feature);
    let empty = build_with(board, &m.path, "empty", feature);
    let r = run(board, &probe);
    assert_eq!(r.status, 0, "size-probe failed:\n{}", r.log);
    println!(
        "\nruntime code on {} ({}){}, opt-level s, LTO: {} bytes (load + validate + predict once: firmware {} B of flash without the blob and inputs; the same firmware without the runtime {} B)",
        board.name,
        board.core,
        feature.map_or(String::new(), |f| format!(" with `{f}`")),
        probe.flash - empty.flash,
        probe.flash as usize - m.blob - m.inputs,
        empty.flash as usize - m.blob - m.inputs
    );
}

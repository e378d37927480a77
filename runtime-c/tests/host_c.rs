//! The header and the host's static library from C: `tests/c/host.c` compiled with
//! `gcc -std=c99 -Wall -Wextra -Werror -pedantic` (and as C++ with `g++ -std=c++11` and the
//! same warnings), linked with the static library this crate builds for the host, prints
//! for the committed demos exactly what the Rust runtime gives, and names a refusal.

use std::path::{Path, PathBuf};
use std::process::Command;

use spikeslab_runtime::Model;

const INSTALL: &str = "apt-get install gcc g++ libc6-dev (or run ./ci.sh)";

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The host static library cargo built with this test: the newest
/// `libspikeslab_c-<hash>.a` beside this test's executable in `target/<profile>/deps`.
fn host_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    std::fs::read_dir(deps)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libspikeslab_c-") && name.ends_with(".a")
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
        .unwrap_or_else(|| panic!("no libspikeslab_c-*.a in {}", deps.display()))
}

/// Compiles `tests/c/host.c` with `compiler` (`gcc` or `g++`) into `dir`.
fn compile(compiler: &str, dir: &Path) -> PathBuf {
    let exe = dir.join(format!("host-{compiler}"));
    let mut cmd = Command::new(compiler);
    if compiler == "g++" {
        cmd.args(["-x", "c++", "-std=c++11"]);
    } else {
        cmd.arg("-std=c99");
    }
    let out = cmd
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-O1", "-I"])
        .arg(crate_dir().join("include"))
        .arg(crate_dir().join("tests/c/host.c"))
        .args(["-x", "none"])
        .arg(host_library())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("{compiler} not found ({e}): {INSTALL}"));
    assert!(
        out.status.success(),
        "{compiler} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn expected(name: &str) -> Vec<String> {
    let models = crate_dir().join("../models");
    let bytes = std::fs::read(models.join(format!("{name}.postcard"))).unwrap();
    // Copied into words, so aligned: the runtime reads the blob in place.
    let words: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
    let blob = &bytemuck::cast_slice(&words)[..bytes.len()];
    let model = Model::from_bytes(blob).unwrap();
    let mut lines: Vec<String> = model
        .inputs()
        .iter()
        .zip(model.input_names())
        .enumerate()
        .map(|(i, (f, n))| format!("input[{i}]={f} {}", n.as_str().unwrap()))
        .collect();
    lines.extend(
        std::fs::read_to_string(models.join(format!("{name}.expected")))
            .unwrap()
            .lines()
            .map(str::to_string),
    );
    lines
}

fn run(exe: &Path, blob: &Path, inputs: &Path) -> (bool, Vec<String>) {
    let out = Command::new(exe).arg(blob).arg(inputs).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    (
        out.status.success(),
        text.lines().map(str::to_string).collect(),
    )
}

#[test]
fn c99_and_cpp_programs_print_the_runtimes_bits() {
    let dir = tempfile::tempdir().unwrap();
    let models = crate_dir().join("../models");
    for compiler in ["gcc", "g++"] {
        let exe = compile(compiler, dir.path());
        for name in ["demo", "demo-int8"] {
            let (ok, lines) = run(
                &exe,
                &models.join(format!("{name}.postcard")),
                &models.join(format!("{name}.inputs")),
            );
            assert!(ok, "{compiler}: {lines:?}");
            assert_eq!(lines, expected(name), "{compiler}, {name}");
        }
        // A flipped byte: the CRC's status, named.
        let mut bytes = std::fs::read(models.join("demo.postcard")).unwrap();
        bytes[20] ^= 0x10;
        let bad = dir.path().join("bad.postcard");
        std::fs::write(&bad, &bytes).unwrap();
        let (ok, lines) = run(&exe, &bad, &models.join("demo.inputs"));
        assert!(!ok);
        assert_eq!(
            lines,
            ["error: CRC-32 mismatch: the blob is corrupt or truncated (detail 0)"]
        );
    }
}

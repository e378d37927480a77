//! Building the board firmware with Debian's Cortex-M toolchain, running it under QEMU with
//! the instruction-counting plugin, and reading what it printed.
//!
//! A missing tool is a failure that says what to install, never a skip.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// A QEMU board package under `boards/`.
#[derive(Clone, Copy, Debug)]
pub struct Board {
    /// Package folder.
    pub name: &'static str,
    /// Rust target.
    pub target: &'static str,
    /// QEMU `-machine`.
    pub machine: &'static str,
    /// Core, for tables.
    pub core: &'static str,
}

/// The QEMU boards.
pub const QEMU_BOARDS: [Board; 3] = [
    Board {
        name: "qemu-mps2-an386",
        target: "thumbv7em-none-eabihf",
        machine: "mps2-an386",
        core: "Cortex-M4F",
    },
    Board {
        name: "qemu-lm3s6965",
        target: "thumbv7m-none-eabi",
        machine: "lm3s6965evb",
        core: "Cortex-M3",
    },
    Board {
        name: "qemu-microbit",
        target: "thumbv6m-none-eabi",
        machine: "microbit",
        core: "Cortex-M0",
    },
];

/// The indices in [`QEMU_BOARDS`] of the boards whose code the runtime's `asm` feature
/// changes: the M4F (f32 blocks) and the M0 (integer blocks).
pub const ASM_BOARDS: [usize; 2] = [0, 2];

/// The C boards under `boards/` (plain C, `make`, Debian's `gcc-arm-none-eabi` and newlib),
/// which use the C API's static library; `target` is the library's.
pub const C_BOARDS: [Board; 2] = [
    Board {
        name: "qemu-mps2-an386-c",
        target: "thumbv7em-none-eabihf",
        machine: "mps2-an386",
        core: "Cortex-M4F",
    },
    Board {
        name: "qemu-microbit-c",
        target: "thumbv6m-none-eabi",
        machine: "microbit",
        core: "Cortex-M0",
    },
];

/// The Rust board on the same machine as the C board `c`.
pub fn rust_twin(c: Board) -> Board {
    QEMU_BOARDS
        .into_iter()
        .find(|b| b.machine == c.machine)
        .expect("a Rust board on every C board's machine")
}

const INSTALL_C: &str = "apt-get install rustc-web cargo-web rust-web-src binutils-arm-none-eabi gcc-arm-none-eabi libnewlib-arm-none-eabi make cmake qemu-system-arm (or run ./ci.sh)";

/// The C library package (`runtime-c/package.sh` into `target/spikeslab-c`), made once
/// per process.
///
/// # Panics
/// When a tool is missing (with what to install) or the build fails.
pub fn c_package() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        for t in ["arm-none-eabi-gcc", "make"] {
            assert!(which(t), "{t} not found: {INSTALL_C}");
        }
        let dir = root().join("target").join("spikeslab-c");
        let out = Command::new("bash")
            .arg(root().join("runtime-c/package.sh"))
            .arg(&dir)
            .current_dir(root())
            .env_remove("CARGO_TARGET_DIR")
            .stdin(Stdio::null())
            .output()
            .expect("run runtime-c/package.sh");
        assert!(
            out.status.success(),
            "runtime-c/package.sh failed ({INSTALL_C}):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .clone()
}

/// Builds the C board `board` (`make`, `-Os`) embedding the blob `model` (its `.inputs`
/// beside it) into a folder of its own under `target/boards/<board>/`, and returns `bin`:
/// `board` (prints the outputs), `probe` or `empty` (the code-size pair).
///
/// # Panics
/// When the toolchain is missing (with what to install) or the build fails.
pub fn build_c(board: Board, model: &Path, bin: &str) -> Firmware {
    build_c_with(board, model, bin, "")
}

/// [`build_c`] with `flags` for both the compiler and the linker (e.g. `-flto`).
///
/// # Panics
/// As [`build_c`].
pub fn build_c_with(board: Board, model: &Path, bin: &str, flags: &str) -> Firmware {
    let package = c_package();
    let _guard = lock_board(board.name);
    let model = model.canonicalize().expect("model path");
    let key = key_of((&model, flags));
    let out_dir = root()
        .join("target")
        .join("boards")
        .join(board.name)
        .join(format!("{key:016x}"));
    let out = tool("make")
        .arg("-s")
        .arg("-C")
        .arg(root().join("boards").join(board.name))
        .arg(format!("MODEL={}", model.display()))
        .arg(format!("OUT={}", out_dir.display()))
        .arg(format!("SPIKESLAB_DIR={}", package.display()))
        .arg(format!("FLAGS={flags}"))
        .arg(format!("{}/{bin}.elf", out_dir.display()))
        .stdin(Stdio::null())
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "C board build of {} failed:\n{}{}",
        board.name,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let elf = out_dir.join(format!("{bin}.elf"));
    let (flash, ram) = sizes(&elf);
    Firmware { elf, flash, ram }
}

/// Builds the C board `board` with `CMake` instead of `make` (its `CMakeLists.txt`, the
/// library found by `find_package(spikeslab)` in the package), embedding `model`, into a
/// folder of its own under `target/boards/<board>/cmake-<hash>`.
///
/// # Panics
/// When `CMake` or the toolchain is missing (with what to install) or the build fails.
pub fn build_c_cmake(board: Board, model: &Path) -> Firmware {
    let package = c_package();
    let _guard = lock_board(board.name);
    let model = model.canonicalize().expect("model path");
    let key = key_of(&model);
    let dir = root().join("boards").join(board.name);
    let build = root()
        .join("target")
        .join("boards")
        .join(board.name)
        .join(format!("cmake-{key:016x}"));
    assert!(which("cmake"), "cmake not found: {INSTALL_C}");
    let configure = tool("cmake")
        .arg("-S")
        .arg(&dir)
        .arg("-B")
        .arg(&build)
        .arg(format!(
            "-DCMAKE_TOOLCHAIN_FILE={}",
            root().join("boards/c-common/arm-none-eabi.cmake").display()
        ))
        .arg(format!("-Dspikeslab_DIR={}", package.display()))
        .arg(format!("-DMODEL={}", model.display()))
        .stdin(Stdio::null())
        .output()
        .expect("run cmake");
    let compile = configure.status.success().then(|| {
        tool("cmake")
            .arg("--build")
            .arg(&build)
            .stdin(Stdio::null())
            .output()
            .expect("run cmake --build")
    });
    let failed = compile.as_ref().unwrap_or(&configure);
    assert!(
        failed.status.success(),
        "CMake build of {} failed:\n{}{}",
        board.name,
        String::from_utf8_lossy(&failed.stdout),
        String::from_utf8_lossy(&failed.stderr)
    );
    let elf = build.join("board.elf");
    let (flash, ram) = sizes(&elf);
    Firmware { elf, flash, ram }
}

const INSTALL: &str = "apt-get install rustc-web cargo-web rust-web-src binutils-arm-none-eabi qemu-system-arm gcc (or run ./ci.sh)";

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tool(name: &str) -> Command {
    let c = Command::new(name);
    assert!(which(name), "{name} not found: {INSTALL}");
    c
}

fn which(name: &str) -> bool {
    Path::new(name).is_file()
        || std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// A hash of `value`, naming a build's own folder or file.
fn key_of(value: impl std::hash::Hash) -> u64 {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// Holds the board folder `name` for one build: builds of a board wait for each other (they
/// share its target or output folder).
fn lock_board(name: &'static str) -> MutexGuard<'static, ()> {
    static L: OnceLock<Mutex<HashMap<&'static str, &'static Mutex<()>>>> = OnceLock::new();
    let lock: &'static Mutex<()> = L
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(name)
        .or_insert_with(|| Box::leak(Box::default()));
    lock.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A built firmware image.
#[derive(Clone, Debug)]
pub struct Firmware {
    /// The ELF, copied to a path of its own.
    pub elf: PathBuf,
    /// Sizes from `arm-none-eabi-size -A`: flash (vector table, text, rodata, data) and static RAM (data, bss).
    pub flash: u64,
    /// Static RAM.
    pub ram: u64,
}

/// Builds `bin` of `board` (release, opt-level s, LTO) embedding the blob `model` (its
/// `.inputs` beside it) and copies the ELF next to the model.
///
/// # Panics
/// When the toolchain is missing (with what to install) or the build fails.
pub fn build(board: Board, model: &Path, bin: &str) -> Firmware {
    build_with(board, model, bin, None)
}

/// [`build`] with the board's cargo `feature` (e.g. `asm`, the runtime's hand-written loops),
/// in a target folder of its own (`target/boards/<board>-<feature>`), so that the two builds
/// do not rebuild each other.
///
/// # Panics
/// As [`build`].
pub fn build_with(board: Board, model: &Path, bin: &str, feature: Option<&str>) -> Firmware {
    let _guard = lock_board(board.name);
    let dir = root().join("boards").join(board.name);
    let folder = match feature {
        Some(f) => format!("{}-{f}", board.name),
        None => board.name.to_string(),
    };
    let target_dir = root().join("target").join("boards").join(folder);
    let out = tool("/usr/bin/cargo")
        .current_dir(&dir)
        .args(["build", "--release", "--bin", bin])
        .args(feature.map(|f| ["--features", f]).into_iter().flatten())
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTDOC", "/usr/bin/rustdoc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("SPIKESLAB_MODEL", model.canonicalize().expect("model path"))
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("run /usr/bin/cargo");
    assert!(
        out.status.success(),
        "firmware build of {} failed:\n{}",
        board.name,
        String::from_utf8_lossy(&out.stderr)
    );
    let built = target_dir.join(board.target).join("release").join(bin);
    let stem = model
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model");
    // One ELF per model path, so that concurrent tests of same-named models keep theirs.
    let key = key_of(model.canonicalize().expect("model path"));
    let elf = target_dir.join(format!("{stem}.{key:016x}.{bin}.elf"));
    std::fs::copy(&built, &elf).expect("copy the ELF");
    let (flash, ram) = sizes(&elf);
    Firmware { elf, flash, ram }
}

/// The symbols of `core`'s panic machinery that `elf` links (a panic, a failed index or
/// bounds check, a failed `unwrap`): none in a firmware where nothing can panic.
///
/// # Panics
/// When `arm-none-eabi-nm` is missing (with what to install) or fails.
pub fn panic_symbols(elf: &Path) -> Vec<String> {
    let out = tool("arm-none-eabi-nm")
        .arg("-C")
        .arg(elf)
        .output()
        .expect("run arm-none-eabi-nm");
    assert!(out.status.success(), "arm-none-eabi-nm {}", elf.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            [
                "core::panicking",
                "core::slice::index",
                "unwrap_failed",
                "expect_failed",
            ]
            .iter()
            .any(|p| l.contains(p))
        })
        .map(str::to_string)
        .collect()
}

fn sizes(elf: &Path) -> (u64, u64) {
    let out = tool("arm-none-eabi-size")
        .arg("-A")
        .arg(elf)
        .output()
        .expect("run arm-none-eabi-size");
    let (mut flash, mut ram) = (0, 0);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(size) = f.get(1).and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        match f[0] {
            ".vector_table" | ".text" | ".rodata" => flash += size,
            ".data" => {
                flash += size;
                ram += size;
            }
            ".bss" | ".uninit" => ram += size,
            _ => {}
        }
    }
    (flash, ram)
}

/// The address of `symbol` in `elf`.
pub fn symbol(elf: &Path, symbol: &str) -> Option<String> {
    let out = tool("arm-none-eabi-nm")
        .arg(elf)
        .output()
        .expect("run arm-none-eabi-nm");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.ends_with(&format!(" {symbol}")))
        .and_then(|l| l.split(' ').next())
        .map(|a| format!("0x{a}"))
}

/// The QEMU plugin `boards/tools/qemu-<name>.c`, built once per process into `target/boards`.
fn built_plugin(name: &'static str, cell: &'static OnceLock<PathBuf>) -> PathBuf {
    cell.get_or_init(|| {
        let dir = root().join("target").join("boards");
        std::fs::create_dir_all(&dir).expect("target/boards");
        let so = dir.join(format!("lib{name}.so"));
        let tmp = dir.join(format!("lib{name}.{}.so", std::process::id()));
        let st = tool("gcc")
            .args(["-O2", "-shared", "-fPIC", "-o"])
            .arg(&tmp)
            .arg(root().join(format!("boards/tools/qemu-{name}.c")))
            .status()
            .expect("run gcc");
        assert!(st.success(), "building the QEMU plugin {name} failed");
        std::fs::rename(&tmp, &so).expect("install the plugin");
        so
    })
    .clone()
}

fn plugin() -> PathBuf {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    built_plugin("insncount", &SO)
}

/// How often each instruction address of `fw` executed during the measured inference
/// (between `bench_start` and `bench_end`), from `boards/tools/qemu-pcprofile.c`: (address,
/// count), by address.
///
/// # Panics
/// When QEMU is missing, the markers are absent or the run fails.
pub fn profile(board: Board, fw: &Firmware) -> Vec<(u64, u64)> {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    let so = built_plugin("pcprofile", &SO);
    let (Some(s), Some(e)) = (symbol(&fw.elf, "bench_start"), symbol(&fw.elf, "bench_end")) else {
        panic!("{} has no bench markers", fw.elf.display());
    };
    let stem = fw
        .elf
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("firmware");
    let out = root()
        .join("target")
        .join("boards")
        .join(format!("{stem}.profile.txt"));
    let status = Command::new("timeout")
        .arg("120")
        .arg(tool("qemu-system-arm").get_program())
        .args([
            "-machine",
            board.machine,
            "-nographic",
            "-semihosting-config",
        ])
        .arg("enable=on,target=native")
        .arg("-plugin")
        .arg(format!(
            "{},start={s},end={e},out={}",
            so.display(),
            out.display()
        ))
        .arg("-kernel")
        .arg(&fw.elf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("run qemu-system-arm");
    assert!(status.success(), "profiling {} failed", fw.elf.display());
    std::fs::read_to_string(&out)
        .expect("the profile")
        .lines()
        .filter_map(|l| {
            let (pc, n) = l.split_once(' ')?;
            Some((u64::from_str_radix(pc, 16).ok()?, n.parse().ok()?))
        })
        .collect()
}

/// What a QEMU run printed.
#[derive(Clone, Debug)]
pub struct Run {
    /// QEMU's exit status (0: the firmware reported success).
    pub status: i32,
    /// Output lines `y[row][k]=bits` and `d[row][k]=mean,epistemic,noise` (bits).
    pub outputs: Vec<String>,
    /// The C boards' lines `input[i]=<feature index> <name>`.
    pub inputs: Vec<String>,
    /// Peak stack of one inference, as the firmware measured it.
    pub stack: Option<u64>,
    /// Instructions between `bench_start` and `bench_end`.
    pub instructions: Option<u64>,
    /// Everything printed, for messages.
    pub log: String,
}

impl Run {
    /// Requires a finished run of `board` on `model`: exit status 0, `done` printed,
    /// `expected` output lines exactly, and an instruction count.
    ///
    /// # Panics
    /// When any of them is not so, with what the board printed.
    pub fn assert_matches(&self, board: Board, model: &Path, expected: &[String]) {
        assert_eq!(
            self.status, 0,
            "{} exited with {}:\n{}",
            board.name, self.status, self.log
        );
        assert!(
            self.log.contains("\ndone") || self.log.starts_with("done"),
            "{}",
            self.log
        );
        assert_eq!(
            self.outputs,
            expected,
            "{} differs from the host runtime on {}",
            board.name,
            model.display()
        );
        assert!(
            self.instructions.is_some_and(|n| n > 0),
            "no instruction count: {}",
            self.log
        );
    }
}

/// Runs `fw` under QEMU (a 120 s timeout) with the instruction-counting plugin.
///
/// # Panics
/// When QEMU is missing (with what to install).
pub fn run(board: Board, fw: &Firmware) -> Run {
    let mut cmd = tool("qemu-system-arm");
    cmd.args([
        "-machine",
        board.machine,
        "-nographic",
        "-semihosting-config",
        "enable=on,target=native",
    ]);
    if let (Some(s), Some(e)) = (symbol(&fw.elf, "bench_start"), symbol(&fw.elf, "bench_end")) {
        cmd.arg("-plugin")
            .arg(format!("{},start={s},end={e}", plugin().display()));
    }
    let out = Command::new("timeout")
        .arg("120")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .arg("-kernel")
        .arg(&fw.elf)
        .stdin(Stdio::null())
        .output()
        .expect("run qemu-system-arm");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let instructions = stderr
        .lines()
        .find_map(|l| l.strip_prefix("insncount: "))
        .filter(|l| !l.contains("not hit"))
        .and_then(|l| l.split("between=").nth(1))
        .and_then(|v| v.trim().parse().ok());
    Run {
        status: out.status.code().unwrap_or(-1),
        outputs: stdout
            .lines()
            .filter(|l| l.starts_with("y[") || l.starts_with("d["))
            .map(str::to_string)
            .collect(),
        inputs: stdout
            .lines()
            .filter(|l| l.starts_with("input["))
            .map(str::to_string)
            .collect(),
        stack: stdout
            .lines()
            .find_map(|l| l.strip_prefix("stack="))
            .and_then(|v| v.trim().parse().ok()),
        instructions,
        log: format!("{stdout}{stderr}"),
    }
}

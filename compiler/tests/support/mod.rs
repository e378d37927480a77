//! What the command-line tests share: the binary, generated CSVs and a case folder.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// Runs `spikeslab args` in `dir`, one thread.
pub fn spikeslab(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spikeslab"))
        .args(args)
        .current_dir(dir)
        .env("RAYON_NUM_THREADS", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the spikeslab binary runs")
}

/// A CSV `a,b,c,y` with `rows` rows where y = 3a − 2b + noise (c is noise).
pub fn csv_text(rows: usize) -> String {
    csv_with(rows, |a, b, _, e| 3.0 * a - 2.0 * b + 0.1 * e)
}

/// A CSV `a,b,c,y` with `rows` rows of uniform features and `y = f(a, b, c, noise)`.
pub fn csv_with(rows: usize, f: fn(f64, f64, f64, f64) -> f64) -> String {
    let mut s = String::from("a,b,c,y\n");
    let mut state = 12345u64;
    let mut r = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
    };
    for _ in 0..rows {
        let (a, b, c) = (r(), r(), r());
        let e = r();
        let _ = writeln!(s, "{a:.5},{b:.5},{c:.5},{:.5}", f(a, b, c, e));
    }
    s
}

pub struct Case {
    pub dir: TempDir,
}

impl Case {
    pub fn new(csv: &str, spec_body: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("data.csv"), csv).unwrap();
        let spec = format!(
            "[data]\ncsv = \"data.csv\"\ntarget = \"y\"\n[network]\nhidden = [8]\n[train]\nepochs = 30\nbatch = 32\n{spec_body}"
        );
        std::fs::write(dir.path().join("m.toml"), spec).unwrap();
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn compile(&self, extra: &[&str]) -> Output {
        let mut args = vec!["compile", "m.toml", "--quiet"];
        args.extend(extra);
        spikeslab(self.dir.path(), &args)
    }

    /// Fails with a message containing every one of `needles`, and writes nothing.
    pub fn fails_with(&self, extra: &[&str], needles: &[&str]) {
        let out = self.compile(extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "expected failure, got success; stderr: {err}"
        );
        assert_eq!(out.status.code(), Some(1), "{err}");
        for n in needles {
            assert!(err.contains(n), "error message lacks {n:?}: {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
        let files: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "data.csv" && n != "m.toml")
            .collect();
        assert!(
            files.is_empty(),
            "a failed compile left files behind: {files:?}"
        );
    }
}

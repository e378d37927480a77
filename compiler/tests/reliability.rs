//! The command line where it meets the file system, sizes and names: one test per class of
//! failure. A blob says which columns it reads and what its outputs mean; no output can
//! overwrite an input, be half-written or follow a planted path; user sizes are bounded
//! before anything is allocated; messages quote bounded, escaped excerpts.

mod support;

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Case, csv_text, spikeslab};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Fails cleanly (exit 1, a message holding every needle, no panic).
fn refused(o: &std::process::Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "expected a clean failure: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "error message lacks {n:?}: {err}");
    }
}

/// A compiled regression case `m.postcard` on `a,b,c,y`.
fn compiled() -> Case {
    let c = Case::new(&csv_text(400), "");
    let out = c.compile(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    c
}

/// The first number after `key` in `text`.
fn number_after(text: &str, key: &str) -> f64 {
    text.split(key)
        .nth(1)
        .unwrap_or_else(|| panic!("no {key:?} in {text}"))
        .trim_start()
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Rewrites `path`'s CSV with its columns in the order `order` (indices of the header).
fn reorder(path: &Path, order: &[usize]) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            order
                .iter()
                .map(|&j| cells[j])
                .collect::<Vec<_>>()
                .join(",")
                + "\n"
        })
        .collect()
}

/// Runs `spikeslab args` in `dir` with stdout to `out`, killed (and failed) after 20 s.
fn run_bounded(dir: &Path, args: &[&str], out: Stdio) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spikeslab"))
        .args(args)
        .current_dir(dir)
        .stdout(out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("spikeslab {args:?} did not finish in 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn eval_matches_columns_by_name_and_needs_no_sidecar() {
    let c = compiled();
    for f in ["m.report.json", "m.svg"] {
        std::fs::remove_file(c.path(f)).unwrap();
    }
    let base = spikeslab(c.dir.path(), &["eval", "m.postcard", "--data", "data.csv"]);
    assert!(base.status.success(), "{}", stderr(&base));
    let rmse = number_after(&stdout(&base), "RMSE");
    let ll = number_after(&stdout(&base), "log-likelihood");
    assert!(ll.is_finite(), "log-likelihood {ll}");
    // swapped, reordered, with an extra non-numeric column: the same numbers
    let mut swapped = reorder(&c.path("data.csv"), &[1, 0, 3, 2]);
    swapped = swapped
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{l},{}\n", if i == 0 { "note" } else { "n/a" }))
        .collect();
    std::fs::write(c.path("swapped.csv"), &swapped).unwrap();
    let same = spikeslab(
        c.dir.path(),
        &["eval", "m.postcard", "--data", "swapped.csv"],
    );
    assert!(same.status.success(), "{}", stderr(&same));
    assert_eq!(number_after(&stdout(&same), "RMSE"), rmse);
    // by position, a swapped file is read as the model's raw vector: a different score
    std::fs::write(
        c.path("swapped.csv"),
        reorder(&c.path("data.csv"), &[1, 0, 2, 3]),
    )
    .unwrap();
    let pos = spikeslab(
        c.dir.path(),
        &[
            "eval",
            "m.postcard",
            "--data",
            "swapped.csv",
            "--by-position",
        ],
    );
    assert!(pos.status.success(), "{}", stderr(&pos));
    assert!(number_after(&stdout(&pos), "RMSE") > 2.0 * rmse);
    // a column the model reads is missing: named
    std::fs::write(
        c.path("short.csv"),
        reorder(&c.path("data.csv"), &[1, 2, 3]),
    )
    .unwrap();
    refused(
        &spikeslab(c.dir.path(), &["eval", "m.postcard", "--data", "short.csv"]),
        &[
            "short.csv",
            "the model reads 1 column that the file does not have: a",
        ],
    );
    let inspect = spikeslab(c.dir.path(), &["inspect", "m.postcard"]);
    assert!(
        stdout(&inspect).contains("predicts `y`, noise sd"),
        "{}",
        stdout(&inspect)
    );
}

#[test]
fn a_classifier_keeps_its_labels_and_an_old_blob_is_refused() {
    let text: String = csv_text(600)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let (x, _) = l.rsplit_once(',').unwrap();
            let a: f64 = x.split(',').next().unwrap().parse().unwrap_or(0.0);
            match i {
                0 => "a,b,c,y\n".to_string(),
                _ => format!("{x},{}\n", if a > 0.0 { "7.5" } else { "-2" }),
            }
        })
        .collect();
    let c = Case::new(&text, "");
    let spec = std::fs::read_to_string(c.path("m.toml")).unwrap();
    std::fs::write(
        c.path("m.toml"),
        format!("task = \"classification\"\n{spec}"),
    )
    .unwrap();
    assert!(c.compile(&[]).status.success());
    std::fs::remove_file(c.path("m.report.json")).unwrap();
    let inspect = spikeslab(c.dir.path(), &["inspect", "m.postcard"]);
    assert!(
        stdout(&inspect).contains("predicts `y`: 2 classes, -2, 7.5"),
        "{}",
        stdout(&inspect)
    );
    let eval = spikeslab(c.dir.path(), &["eval", "m.postcard", "--data", "data.csv"]);
    assert!(
        number_after(&stdout(&eval), "accuracy") > 0.9,
        "{}",
        stdout(&eval)
    );
    // the same blob marked as format v1 (CRC made valid): refused, with what to do
    let mut old = std::fs::read(c.path("m.postcard")).unwrap();
    old[4] = 1;
    let n = old.len() - 4;
    let crc = spikeslab_runtime::crc32(&old[..n]);
    old[n..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(c.path("old.postcard"), old).unwrap();
    refused(
        &spikeslab(c.dir.path(), &["inspect", "old.postcard"]),
        &["old.postcard", "version 1", "recompile"],
    );
}

#[test]
fn no_output_may_overwrite_an_input_or_another_output() {
    let c = compiled();
    let blob = std::fs::read(c.path("m.postcard")).unwrap();
    let spec = std::fs::read(c.path("m.toml")).unwrap();
    refused(
        &spikeslab(
            c.dir.path(),
            &[
                "eval",
                "m.postcard",
                "--data",
                "data.csv",
                "--out",
                "./m.postcard",
            ],
        ),
        &["is the input"],
    );
    refused(&c.compile(&["-o", "m.toml"]), &["m.toml", "is the input"]);
    std::fs::hard_link(c.path("data.csv"), c.path("link.csv")).unwrap();
    refused(
        &c.compile(&["-o", "link.csv"]),
        &["link.csv", "is the input"],
    );
    assert_eq!(std::fs::read(c.path("m.postcard")).unwrap(), blob);
    assert_eq!(std::fs::read(c.path("m.toml")).unwrap(), spec);
    refused(
        &spikeslab(
            c.dir.path(),
            &[
                "simulate",
                "e3",
                "-o",
                "s.csv",
                "--test-out",
                "s.csv",
                "--test-rows",
                "10",
            ],
        ),
        &["same file"],
    );
    assert!(!c.path("s.csv").exists());
}

#[test]
fn a_failed_command_leaves_every_previous_file_as_it_was() {
    let c = compiled();
    let before: Vec<Vec<u8>> = ["m.postcard", "m.report.json", "m.svg"]
        .iter()
        .map(|f| std::fs::read(c.path(f)).unwrap())
        .collect();
    // fails after training, when the files are written
    refused(
        &c.compile(&["--max-blob-bytes", "40"]),
        &["budget.max_blob_bytes"],
    );
    for (f, old) in ["m.postcard", "m.report.json", "m.svg"].iter().zip(&before) {
        assert_eq!(&std::fs::read(c.path(f)).unwrap(), old, "{f} changed");
    }
    // an output that is a folder: refused before anything is written
    std::fs::create_dir(c.path("dir")).unwrap();
    refused(&c.compile(&["-o", "dir"]), &["dir", "is a folder"]);
    let left: Vec<String> = std::fs::read_dir(c.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("dir.") || n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[cfg(unix)]
#[test]
fn outputs_never_follow_a_planted_path() {
    let c = compiled();
    std::fs::write(c.path("victim"), "keep").unwrap();
    for planted in [".pred.csv.tmp", "pred.csv.tmp", ".pred.csv"] {
        std::os::unix::fs::symlink(c.path("victim"), c.path(planted)).unwrap();
    }
    let out = spikeslab(
        c.dir.path(),
        &[
            "eval",
            "m.postcard",
            "--data",
            "data.csv",
            "--out",
            "pred.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(c.path("victim")).unwrap(), "keep");
    assert!(
        std::fs::read_to_string(c.path("pred.csv"))
            .unwrap()
            .starts_with("y\n")
    );
}

#[test]
fn a_spec_name_is_a_name_not_a_path() {
    for name in ["../../escaped", "/tmp/abs", "a\\\\b", ".."] {
        let c = Case::new(&csv_text(100), "");
        let spec = std::fs::read_to_string(c.path("m.toml")).unwrap();
        std::fs::write(c.path("m.toml"), format!("name = {name:?}\n{spec}")).unwrap();
        c.fails_with(&[], &["m.toml: `name` =", "a name"]);
    }
}

#[cfg(unix)]
#[test]
fn stdout_closed_or_full() {
    let c = compiled();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = run_bounded(c.dir.path(), &["inspect", "m.postcard"], full.into());
    refused(&out, &["cannot write to standard output"]);
    // a reader that has gone: a quiet success
    let mut child = Command::new(env!("CARGO_BIN_EXE_spikeslab"))
        .args(["inspect", "m.postcard", "--json"])
        .current_dir(c.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success() && err.is_empty(), "{status}: {err}");
}

#[test]
fn user_sizes_are_bounded_before_allocating() {
    let c = Case::new(&csv_text(100), "");
    for rows in ["1000000000000", "18446744073709551615"] {
        let out = run_bounded(
            c.dir.path(),
            &[
                "simulate",
                "e3",
                "--features",
                "5",
                "--rows",
                rows,
                "-o",
                "s.csv",
            ],
            Stdio::piped(),
        );
        refused(&out, &["`--rows`", "from 1 to 10000000"]);
    }
    let spec = "[data]\nsimulate = \"e3\"\nfeatures = 5\nrows = 1000000000000\n";
    std::fs::write(c.path("m.toml"), spec).unwrap();
    c.fails_with(&[], &["`data.rows` = 1000000000000"]);
    let spec = "[data]\nsimulate = \"e3\"\nfeatures = 60000\nrows = 9000000\n";
    std::fs::write(c.path("m.toml"), spec).unwrap();
    c.fails_with(&[], &["`data.rows`", "cells"]);
    let c = Case::new(&csv_text(100), "");
    c.fails_with(
        &["--finetune-epochs", "1000000000000000"],
        &["`prune.finetune_epochs`", "1000000"],
    );
    c.fails_with(&["--epochs", "1000001"], &["`train.epochs`"]);
    c.fails_with(&["--batch", "100000000"], &["`train.batch`"]);
    // A usage error, as clap reports every malformed flag: exit status 2, nothing written.
    for jobs in ["0", "65536"] {
        let out = c.compile(&["--jobs", jobs]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        for needle in ["--jobs", jobs, "1..=65535"] {
            assert!(
                err.contains(needle),
                "error message lacks {needle:?}: {err}"
            );
        }
        assert!(!c.path("m.postcard").exists());
    }
}

#[cfg(unix)]
#[test]
fn inputs_are_regular_files_within_a_limit() {
    let c = Case::new(&csv_text(100), "");
    let out = run_bounded(c.dir.path(), &["compile", "/dev/zero"], Stdio::piped());
    refused(&out, &["/dev/zero", "not a regular file"]);
    std::fs::write(
        c.path("m.toml"),
        "[data]\ncsv = \"/dev/zero\"\ntarget = \"y\"\n",
    )
    .unwrap();
    refused(
        &run_bounded(c.dir.path(), &["compile", "m.toml"], Stdio::piped()),
        &["not a regular file"],
    );
    let made = Command::new("mkfifo").arg(c.path("fifo")).status().unwrap();
    assert!(made.success(), "mkfifo (coreutils) failed");
    refused(
        &run_bounded(c.dir.path(), &["inspect", "fifo"], Stdio::piped()),
        &["fifo", "not a regular file"],
    );
    let big = std::fs::File::create(c.path("big.toml")).unwrap();
    big.set_len(2 << 20).unwrap();
    refused(
        &run_bounded(c.dir.path(), &["compile", "big.toml"], Stdio::piped()),
        &["big.toml", "larger than 1 MiB"],
    );
}

#[test]
fn messages_quote_bounded_excerpts() {
    let c = Case::new(&csv_text(100), "");
    let long = "x".repeat(500_000);
    std::fs::write(
        c.path("m.toml"),
        format!("[data]\ncsv = \"data.csv\" {long}\n"),
    )
    .unwrap();
    let out = c.compile(&[]);
    refused(&out, &["m.toml", "line 2"]);
    assert!(
        stderr(&out).len() < 1000,
        "{} bytes of error",
        stderr(&out).len()
    );
    let cell = csv_text(100).replacen("\n", &format!("\n{},0,0,1\n", "z".repeat(1 << 20)), 1);
    std::fs::write(c.path("data.csv"), cell).unwrap();
    std::fs::write(
        c.path("m.toml"),
        "[data]\ncsv = \"data.csv\"\ntarget = \"y\"\n",
    )
    .unwrap();
    let out = c.compile(&[]);
    refused(
        &out,
        &["line 2, column 1 (`a`)", "is not a number", "more bytes"],
    );
    assert!(
        stderr(&out).len() < 1000,
        "{} bytes of error",
        stderr(&out).len()
    );
    let header: Vec<String> = (0..100_000).map(|j| format!("col{j}")).collect();
    let wide = format!("{}\n{}\n", header.join(","), vec!["1"; 100_000].join(","));
    std::fs::write(c.path("wide.csv"), wide).unwrap();
    std::fs::write(
        c.path("m.toml"),
        "[data]\ncsv = \"wide.csv\"\ntarget = \"y\"\n",
    )
    .unwrap();
    let out = c.compile(&[]);
    refused(&out, &["no target column `y`", "more"]);
    assert!(
        stderr(&out).len() < 1000,
        "{} bytes of error",
        stderr(&out).len()
    );
}

#[test]
fn stored_names_cannot_drive_the_terminal() {
    let text = csv_text(400).replacen("a,b,c,y", "a\u{1b}[2J,b,c,y", 1);
    let c = Case::new(&text, "");
    assert!(c.compile(&[]).status.success());
    let out = spikeslab(c.dir.path(), &["inspect", "m.postcard"]);
    let shown = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    assert!(shown.contains("a\\u{1b}[2J"), "{shown}");
}

#[test]
fn column_names_are_present_and_distinct() {
    let dup = csv_text(100).replacen("a,b,c,y", "a,y,c,y", 1);
    Case::new(&dup, "").fails_with(
        &[],
        &["line 1, column 4", "`y` is also the name of column 2"],
    );
    let blank = csv_text(100).replacen("a,b,c,y", ",b,c,y", 1);
    Case::new(&blank, "").fails_with(&[], &["line 1, column 1", "no name", "index=False"]);
}

#[test]
fn simulate_refuses_parameters_that_give_non_finite_data() {
    let c = Case::new(&csv_text(100), "");
    for (flag, arg) in [
        ("--alpha", "--alpha=0"),
        ("--alpha", "--alpha=-1"),
        ("--psi2", "--psi2=NaN"),
        ("--alpha", "--alpha=inf"),
    ] {
        let out = spikeslab(c.dir.path(), &["simulate", "e1", arg, "-o", "s.csv"]);
        refused(&out, &[&format!("`{flag}`")]);
        assert!(!c.path("s.csv").exists());
    }
}

#[test]
fn messages_name_the_real_cause_before_training() {
    for (key, body) in [
        ("train.temperature", "[train]\ntemperature = 1e-50\n"),
        ("prior.sigma0", "[prior]\nsigma0 = 1e-50\n"),
    ] {
        let c = Case::new(&csv_text(100), "");
        std::fs::write(
            c.path("m.toml"),
            format!("[data]\ncsv = \"data.csv\"\ntarget = \"y\"\n{body}"),
        )
        .unwrap();
        c.fails_with(&[], &[key]);
    }
    // ±3.4e38 is finite in f32, but not once centred
    let huge: String = csv_text(100)
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("{l}\n"),
            _ => format!(
                "{},{}\n",
                if i % 3 == 0 { "3.4e38" } else { "-3.4e38" },
                l.split_once(',').unwrap().1
            ),
        })
        .collect();
    Case::new(&huge, "").fails_with(&[], &["column `a`", "overflow f32", "rescale"]);
    let many: String = std::iter::once("a,y\n".to_string())
        .chain((0..900).map(|i| format!("{},{}\n", i % 7, i % 300)))
        .collect();
    let c = Case::new(&many, "");
    std::fs::write(
        c.path("m.toml"),
        "task = \"classification\"\n[data]\ncsv = \"data.csv\"\ntarget = \"y\"\n[train]\nepochs = 1000000\n",
    )
    .unwrap();
    let t0 = Instant::now();
    c.fails_with(
        &[],
        &["data.csv", "classes in the training rows", "at most 256"],
    );
    let header: Vec<String> = (0..100_000).map(|j| format!("c{j}")).collect();
    let row = vec!["1"; 100_000].join(",");
    std::fs::write(
        c.path("data.csv"),
        format!("{},y\n{row},1\n{row},2\n", header.join(",")),
    )
    .unwrap();
    std::fs::write(
        c.path("m.toml"),
        "[data]\ncsv = \"data.csv\"\ntarget = \"y\"\n",
    )
    .unwrap();
    c.fails_with(&[], &["data.csv", "100000 feature columns", "65535"]);
    assert!(t0.elapsed() < Duration::from_secs(30), "it trained first");
}

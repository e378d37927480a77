//! Where one inference's instructions go on a QEMU board: builds the board's firmware for a
//! blob, counts every executed instruction address between `bench_start` and `bench_end`
//! (`boards/tools/qemu-pcprofile.c`), and prints the count per function (inlined code counts
//! in its caller) and the hottest instructions with their disassembly.
//!
//! `cargo run --release -p spikeslab-eval --bin board-profile -- models/demo-int8.postcard qemu-microbit [hot] [bin]`
//!
//! The blob's `.inputs` file beside it gives the rows; `hot` (default 40) is how many
//! instructions to list; `bin` is the firmware (default the board's own, which measures
//! `predict`; `dist` measures `predict_dist`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use spikeslab_tests::board::{QEMU_BOARDS, build, profile};

/// `(start, end, name)` of every function symbol, by address.
fn functions(elf: &std::path::Path) -> Vec<(u64, u64, String)> {
    let out = Command::new("arm-none-eabi-nm")
        .args(["-C", "-S", "-n"])
        .arg(elf)
        .output()
        .expect("run arm-none-eabi-nm");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(4, ' ');
            let start = u64::from_str_radix(f.next()?, 16).ok()?;
            let size = u64::from_str_radix(f.next()?, 16).ok()?;
            let kind = f.next()?;
            let name = f.next()?;
            matches!(kind, "T" | "t" | "W" | "w").then(|| {
                // Thumb symbols carry the low bit.
                let start = start & !1;
                (start, start + size, name.to_string())
            })
        })
        .collect()
}

/// The disassembly of each instruction address.
fn disassembly(elf: &std::path::Path) -> BTreeMap<u64, String> {
    let out = Command::new("arm-none-eabi-objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(elf)
        .output()
        .expect("run arm-none-eabi-objdump");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (pc, text) = l.trim_start().split_once(':')?;
            Some((u64::from_str_radix(pc, 16).ok()?, text.trim().to_string()))
        })
        .collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(model), Some(board)) = (args.first(), args.get(1)) else {
        eprintln!("usage: board-profile <blob.postcard> <board> [hot] [bin]");
        return ExitCode::from(2);
    };
    let Some(board) = QEMU_BOARDS.iter().copied().find(|b| b.name == board) else {
        let names: Vec<_> = QEMU_BOARDS.iter().map(|b| b.name).collect();
        eprintln!("unknown board {board:?}: one of {}", names.join(", "));
        return ExitCode::from(2);
    };
    let hot: usize = match args.get(2).map(|h| h.parse()) {
        None => 40,
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            eprintln!("hot {:?}: {e}", args[2]);
            return ExitCode::from(2);
        }
    };
    let model = PathBuf::from(model);
    if !model.is_file() {
        eprintln!("{}: no such blob", model.display());
        return ExitCode::from(2);
    }
    let bin = args.get(3).map_or(board.name, String::as_str);
    let fw = build(board, &model, bin);
    let counts = profile(board, &fw);
    let total: u64 = counts.iter().map(|c| c.1).sum();
    let functions = functions(&fw.elf);
    let name_of = |pc: u64| {
        functions
            .iter()
            .rev()
            .find(|f| f.0 <= pc && pc < f.1.max(f.0 + 2))
            .map_or("?", |f| f.2.as_str())
    };
    let mut per_function: BTreeMap<&str, u64> = BTreeMap::new();
    for &(pc, n) in &counts {
        *per_function.entry(name_of(pc)).or_default() += n;
    }
    let mut per_function: Vec<_> = per_function.into_iter().collect();
    per_function.sort_by_key(|f| std::cmp::Reverse(f.1));
    println!(
        "{} on {} ({}): {total} instructions\n",
        model.display(),
        board.name,
        board.core
    );
    println!("| instructions | share | function |\n|---|---|---|");
    for (name, n) in &per_function {
        println!(
            "| {n} | {:.1}% | `{name}` |",
            100.0 * *n as f64 / total as f64
        );
    }
    let text = disassembly(&fw.elf);
    let mut by_count = counts.clone();
    by_count.sort_by_key(|c| std::cmp::Reverse(c.1));
    by_count.truncate(hot);
    by_count.sort_by_key(|c| c.0);
    println!("\nthe {hot} most executed instructions, by address:\n");
    for (pc, n) in by_count {
        println!(
            "{n:>8}  {pc:08x}  {}",
            text.get(&pc).map_or("?", String::as_str)
        );
    }
    ExitCode::SUCCESS
}

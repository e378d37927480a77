//! The method's evaluation, apart from the tests: the experiments E1–E7 (`experiments`), the
//! board benchmarks (`board-bench`), firmware fixtures (`fixture`), and their results under
//! `eval/results/`.

pub mod experiments;

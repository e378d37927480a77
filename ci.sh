#!/usr/bin/env bash
# Everything CI checks, from a fresh Debian 12 machine: installs what cargo cannot (the
# Cortex-M toolchain, QEMU, the C cross-compiler and newlib, cargo-fuzz), then formatting,
# lints, the C library package, host tests (with the QEMU boards, Rust and C), docs, thumb
# builds of the runtime, the boards, and a bounded fuzzing run.
set -euo pipefail
cd "$(dirname "$0")"
t0=$SECONDS
step() { echo; echo "== $* ($((SECONDS - t0)) s)"; }

# Fails when a build log holds a compiler warning (cargo has no -D warnings for these builds
# without dropping the target's rustflags).
no_warnings() { if grep -q '^warning' "$1"; then echo "warnings in $1"; exit 1; fi; }

step "toolchain"
need=()
for p in rustc-web cargo-web rust-web-src binutils-arm-none-eabi qemu-system-arm gcc libc6-dev \
  g++ make cmake gcc-arm-none-eabi libnewlib-arm-none-eabi; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
v=$(/usr/bin/rustc --version | cut -d' ' -f2)
if [ "$(printf '%s\n1.88.0\n' "$v" | sort -V | head -1)" != "1.88.0" ]; then
  echo "Debian's rustc-web is $v; the runtime needs 1.88 or newer: apt-get install -t bookworm-security rustc-web cargo-web rust-web-src"
  exit 1
fi
if [ "$(readlink -f /usr/lib/rustlib/src/rust)" != "/usr/src/rustc-$v" ]; then
  echo "rustc-web $v and rust-web-src differ: apt-get install rustc-web cargo-web rust-web-src (same version)"
  exit 1
fi
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export RAYON_NUM_THREADS=1

step "format"
cargo fmt --all -- --check
for d in boards/*/ runtime/fuzz/; do
  [ -f "$d/Cargo.toml" ] && (cd "$d" && cargo fmt -- --check)
done

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The runtime's only `unsafe` is its `asm` feature's loops, in one file.
if grep -rn --include=*.rs -E '\bunsafe\b' runtime/src | grep -v '^runtime/src/asm.rs:' | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//'; then
  echo "unsafe outside runtime/src/asm.rs" >&2
  exit 1
fi

step "C library (runtime-c/package.sh)"
# The static library per core, the header (its staleness is a host test of spikeslab-c),
# the CMake and Makefile fragments; the C boards' host tests use this package.
runtime-c/package.sh target/spikeslab-c 2>&1 | tee target/package.log
no_warnings target/package.log

step "host tests"
cargo test --workspace --locked

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
# The private items' docs too (their links are the code's own cross-references).
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --document-private-items

step "thumb builds of the runtime"
# Debian's rustc-web builds core for the thumb targets (-Zbuild-std); never the rustup proxies.
thumb() { env -u RUSTUP_TOOLCHAIN -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_TARGET \
  RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 /usr/bin/cargo "$@"; }
for target in thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf; do
  for features in "" "--features defmt" "--features asm"; do
    # shellcheck disable=SC2086
    thumb build -p spikeslab-runtime --release --locked --target "$target" -Zbuild-std=core \
      --target-dir target/thumb $features 2>&1 | tee target/thumb.log
    no_warnings target/thumb.log
  done
done

step "boards"
# Each board builds with the committed demo model; the QEMU runs and bit-for-bit comparisons
# are host tests (tests/tests/boards.rs) and ran above, in target/boards/<board>: building
# there again reuses their `core`.
for board in boards/*/.cargo/config.toml; do
  dir=$(dirname "$(dirname "$board")")
  name=$(basename "$dir")
  (cd "$dir" && thumb build --release --locked --target-dir "../../target/boards/$name" 2>&1 | tee ../../target/board.log)
  no_warnings target/board.log
done

step "fuzz (30 s)"
corpus=runtime/fuzz/corpus/load_predict
mkdir -p "$corpus" target/boards
for a in "8-12-1" "13-20-3 --classify" "64-32-10 --classify --density 0.2 --activation tanh" \
  "8-12-1 --int8" "13-20-3 --classify --int8 --activation sigmoid" "64-32-10 --classify --density 0.2 --int8" \
  "8-12-1 --posterior" "13-20-3 --classify --int8 --posterior --density 0.3" "8-16-2 --int8 --posterior --activation tanh" \
  "8-12-1 --posterior --table4" "13-20-3 --classify --posterior --table4 --density 0.3 --activation tanh"; do
  # shellcheck disable=SC2086
  cargo run -q --locked -p spikeslab-eval --bin fixture -- --arch $a -o target/boards/seed
  head -c -4 target/boards/seed.postcard > "$corpus/seed-${a//[ .]/_}"
done
(cd runtime/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run load_predict --sanitizer none -- -max_total_time=30 2>&1 | tail -3)

step "all checks passed"

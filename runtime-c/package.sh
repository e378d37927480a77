#!/usr/bin/env bash
# Builds the C static library for every Cortex-M core and packages it with the header, a
# CMake package file and a Makefile fragment:
#
#   runtime-c/package.sh [OUT]        (default OUT: target/spikeslab-c)
#
#   OUT/include/spikeslab.h
#   OUT/lib/<target>/libspikeslab.a   thumbv6m-none-eabi        Cortex-M0, M0+, M1
#                                     thumbv7m-none-eabi        Cortex-M3
#                                     thumbv7em-none-eabi       Cortex-M4, M7 (-mfloat-abi=soft)
#                                     thumbv7em-none-eabihf     Cortex-M4F, M7F (-mfloat-abi=hard)
#   OUT/spikeslab-config.cmake        find_package(spikeslab) -> spikeslab::spikeslab
#   OUT/spikeslab.mk                  include it; adds SPIKESLAB_CFLAGS and SPIKESLAB_LIB
#   OUT/arduino/spikeslab/            an Arduino precompiled library (library.properties,
#                                     src/<mcu>/[<fpu>-<float-abi>/]libspikeslab.a)
#
# Each library is one relocatable object: the API, the runtime and the compiler intrinsics it
# uses, pre-linked (nothing else of `core` or `compiler_builtins`), with every symbol but
# `spikeslab_*` made local. So it links beside
# another Rust static library (which would bring its own `core` and `compiler_builtins`)
# or libgcc without duplicate symbols, and needs nothing from the C library.
#
# Needs Debian's rustc-web, cargo-web, rust-web-src and binutils-arm-none-eabi (./ci.sh
# installs them). OUT is replaced whole, or left as it was when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/spikeslab-c}
targets=(thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabi thumbv7em-none-eabihf)

for tool in /usr/bin/cargo /usr/bin/rustc arm-none-eabi-ld arm-none-eabi-objcopy arm-none-eabi-ar; do
  command -v "$tool" >/dev/null || {
    echo "$tool not found: apt-get install rustc-web cargo-web rust-web-src binutils-arm-none-eabi (or run ./ci.sh)" >&2
    exit 1
  }
done

root=$(pwd)
mkdir -p "$(dirname "$out")"
stage=$(mktemp -d "${out%/}.tmp.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/include" "$stage/lib"
cp runtime-c/include/spikeslab.h "$stage/include/"

for t in "${targets[@]}"; do
  # Debian's rustc-web builds `core` for the thumb targets (-Zbuild-std); never the rustup
  # proxies. `cargo rustc --crate-type staticlib` alone gets whole-program LTO (a crate that
  # is also an rlib does not).
  env -u RUSTUP_TOOLCHAIN -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_TARGET \
    RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
    /usr/bin/cargo rustc -q --locked -p spikeslab-c --lib --crate-type staticlib \
    --profile staticlib --target "$t" -Zbuild-std=core --target-dir target/thumb
  work="$stage/work-$t"
  mkdir -p "$work" "$stage/lib/$t"
  (cd "$work" && arm-none-eabi-ar x "$root/target/thumb/$t/staticlib/libspikeslab_c.a")
  # Keep what the API reaches (sections are per function), from the API's own symbols.
  api=$(arm-none-eabi-nm -g --defined-only "$work"/spikeslab_c-*.rcgu.o 2>/dev/null |
    awk '$3 ~ /^spikeslab_/ { printf "-u %s ", $3 }')
  # shellcheck disable=SC2086
  arm-none-eabi-ld -r --gc-sections $api -o "$work/spikeslab.o" "$work"/*.rcgu.o
  arm-none-eabi-objcopy -R .llvmbc -R .llvmcmd --strip-debug --wildcard \
    --keep-global-symbol='spikeslab_*' "$work/spikeslab.o" "$work/libspikeslab.o"
  if arm-none-eabi-nm -g --defined-only "$work/libspikeslab.o" | grep -v ' spikeslab_' | grep -q .; then
    echo "libspikeslab.a for $t exports more than spikeslab_*:" >&2
    arm-none-eabi-nm -g --defined-only "$work/libspikeslab.o" >&2
    exit 1
  fi
  if arm-none-eabi-nm -u "$work/libspikeslab.o" | grep -q .; then
    echo "libspikeslab.a for $t has undefined symbols:" >&2
    arm-none-eabi-nm -u "$work/libspikeslab.o" >&2
    exit 1
  fi
  arm-none-eabi-ar rcsD "$stage/lib/$t/libspikeslab.a" "$work/libspikeslab.o"
  rm -rf "$work"
done

cp runtime-c/spikeslab-config.cmake runtime-c/spikeslab.mk "$stage/"

# Arduino looks for src/{build.mcu}/{build.fpu}-{build.float-abi}/, then src/{build.mcu}/.
ard="$stage/arduino/spikeslab"
mkdir -p "$ard/src"
cp runtime-c/include/spikeslab.h "$ard/src/"
for pair in cortex-m0:thumbv6m-none-eabi cortex-m0plus:thumbv6m-none-eabi \
  cortex-m3:thumbv7m-none-eabi cortex-m4:thumbv7em-none-eabi cortex-m7:thumbv7em-none-eabi \
  cortex-m4/fpv4-sp-d16-hard:thumbv7em-none-eabihf cortex-m7/fpv5-d16-hard:thumbv7em-none-eabihf; do
  mkdir -p "$ard/src/${pair%%:*}"
  cp "$stage/lib/${pair#*:}/libspikeslab.a" "$ard/src/${pair%%:*}/"
done
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cat > "$ard/library.properties" <<EOF
name=spikeslab
version=$version
author=spikeslab
maintainer=spikeslab
sentence=Runs spikeslab models (pruned Bayesian neural networks) with no heap.
paragraph=Load a blob made by spikeslab compile, predict from raw sensor features, and get the predictive mean and sd.
category=Data Processing
architectures=*
includes=spikeslab.h
precompiled=true
ldflags=-lspikeslab
EOF
rm -rf "$out.old"
[ -e "$out" ] && mv "$out" "$out.old"
mv "$stage" "$out"
rm -rf "$out.old"
trap - EXIT
echo "packaged $out:"
(cd "$out" && find . -type f | sort | while read -r f; do printf '  %-40s %8d bytes\n' "${f#./}" "$(stat -c %s "$f")"; done)

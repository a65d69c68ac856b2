#!/usr/bin/env bash
# Cross-builds roost for armv7-unknown-linux-gnueabihf (32-bit Raspberry Pi
# OS on a Pi 2/3/Zero 2 W) with Debian's rustc-web toolchain, building std
# from rust-web-src (-Z build-std, RUSTC_BOOTSTRAP=1), then runs the same
# round trip as cross/aarch64-check.sh under qemu-arm.
#
# usage (from the repository root): bash cross/armv7-build.sh
# Runs as root, or uses sudo for apt. Builds into target/cross/build-std.
#
# Why build-std: Debian ships the armv7 std only as libstd-rust-web-dev:armhf,
# which needs `dpkg --add-architecture armhf`; with armhf added, apt-get update
# fails here (the bookworm-security armhf index does not match its Release
# file) and so would every later apt run. This script therefore never adds
# armhf: std is compiled from source, and the binary runs against the
# cross libc of libc6-armhf-cross (qemu-arm -L /usr/arm-linux-gnueabihf).
set -euo pipefail

# shellcheck source=cross/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TARGET=armv7-unknown-linux-gnueabihf
started=$SECONDS

note "packages"
# rust-web-src: std's source for -Z build-std (/usr/lib/rustlib/src/rust).
apt_ensure rustc-web cargo-web rust-web-src gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user file
command -v python3 >/dev/null || apt_ensure python3
[ "$(dpkg-query -W -f='${Version}' rustc-web)" = "$(dpkg-query -W -f='${Version}' rust-web-src)" ] ||
    fail "rustc-web and rust-web-src versions differ; apt-get upgrade them together"
[ -f /usr/lib/rustlib/src/rust/library/Cargo.lock ] || fail "rust-web-src did not provide /usr/lib/rustlib/src/rust/library"
pass "toolchain: $($DEBIAN_RUSTC --version), $($DEBIAN_CARGO --version)"

# Its own target dir under target/cross: RUSTC_BOOTSTRAP=1 changes the
# fingerprints of host crates (proc-macro2 probes for it), so sharing
# target/cross with the aarch64 build would rebuild them at every switch.
TARGET_DIR="$CROSS_TARGET_DIR/build-std"
note "build $TARGET (release, -Z build-std, target dir target/cross/build-std)"
cd "$REPO_DIR"
mapfile -t build_env < <(cargo_env "$TARGET" arm-linux-gnueabihf)
build_started=$SECONDS
# std's own dependencies (compiler_builtins, hashbrown, ...) come from crates.io
# through library/Cargo.lock. panic_unwind: the release profile unwinds.
bounded 3600 env "${build_env[@]}" RUSTC_BOOTSTRAP=1 "$DEBIAN_CARGO" build --locked --release \
    --target "$TARGET" --target-dir "$TARGET_DIR" -Z build-std=std,panic_unwind ||
    fail "cargo build --target $TARGET"
BINARY="$TARGET_DIR/$TARGET/release/roost"
pass "built $BINARY in $((SECONDS - build_started)) s"

description=$(file -b "$BINARY")
case "$description" in
    *"ELF 32-bit"*"ARM, EABI5"*) pass "file: $description" ;;
    *) fail "not a 32-bit ARM EABI5 ELF: $description" ;;
esac
attributes=$(arm-linux-gnueabihf-readelf -A "$BINARY")
grep -q 'Tag_CPU_arch: v7$' <<<"$attributes" || fail "not built for ARMv7: $(grep Tag_CPU_arch: <<<"$attributes")"
grep -q 'Tag_ABI_VFP_args: VFP registers' <<<"$attributes" || fail "not the hard-float ABI (gnueabihf)"
pass "readelf: ARMv7, hard-float ABI"

note "run under qemu-arm"
roundtrip "qemu-arm -L /usr/arm-linux-gnueabihf" "$BINARY"

pass "armv7 cross build and check in $((SECONDS - started)) s"

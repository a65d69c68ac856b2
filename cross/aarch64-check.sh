#!/usr/bin/env bash
# Cross-builds roost for aarch64-unknown-linux-gnu (64-bit Raspberry Pi OS)
# with Debian's rustc-web toolchain, then runs the ARM binary under
# qemu-user: user add, serve, an IMAP round trip over TLS, SIGTERM, check.
#
# usage (from the repository root): bash cross/aarch64-check.sh
# Runs as root, or uses sudo for apt. Builds into target/cross.
set -euo pipefail

# shellcheck source=cross/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TARGET=aarch64-unknown-linux-gnu
started=$SECONDS

note "packages"
dpkg_arch_ensure arm64
# rustc-web/cargo-web: Debian's newer Rust (/usr/bin/rustc, /usr/bin/cargo);
# libstd-rust-web-dev:arm64: its aarch64 std, plus (as dependencies) the
# arm64 libc that `qemu-aarch64 -L /` loads from /lib/aarch64-linux-gnu.
apt_ensure rustc-web cargo-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
    qemu-user file
command -v python3 >/dev/null || apt_ensure python3
# The arm64 std must be the same build as the host rustc.
[ "$(dpkg-query -W -f='${Version}' rustc-web)" = "$(dpkg-query -W -f='${Version}' libstd-rust-web-dev:arm64)" ] ||
    fail "rustc-web and libstd-rust-web-dev:arm64 versions differ; apt-get upgrade them together"
pass "toolchain: $($DEBIAN_RUSTC --version), $($DEBIAN_CARGO --version)"

note "build $TARGET (release, target dir target/cross)"
cd "$REPO_DIR"
mapfile -t build_env < <(cargo_env "$TARGET" aarch64-linux-gnu)
build_started=$SECONDS
bounded 3600 env "${build_env[@]}" "$DEBIAN_CARGO" build --locked --release \
    --target "$TARGET" --target-dir "$CROSS_TARGET_DIR" ||
    fail "cargo build --target $TARGET"
BINARY="$CROSS_TARGET_DIR/$TARGET/release/roost"
pass "built $BINARY in $((SECONDS - build_started)) s"

description=$(file -b "$BINARY")
case "$description" in
    *"ELF 64-bit"*"ARM aarch64"*) pass "file: $description" ;;
    *) fail "not an aarch64 ELF: $description" ;;
esac

note "run under qemu-aarch64"
# -L / : the arm64 libraries installed by multiarch. (-L /usr/aarch64-linux-gnu
# with the cross libc hangs at the first thread.)
roundtrip "qemu-aarch64 -L /" "$BINARY"

pass "aarch64 cross check in $((SECONDS - started)) s"

#!/usr/bin/env bash
# Makes the Debian package of roost for one architecture:
#
#   bash cross/deb.sh --arch amd64|arm64|armhf [--binary PATH] [--version V] [--revision R]
#
# and leaves target/deb/roost_<V>-<R>_<arch>.deb (V: Cargo.toml's version
# unless given; R: 1). Plain dpkg-deb, no Docker, no cargo-deb: the package
# is a handful of files and four maintainer scripts, all reviewable in
# cross/deb/, and cargo-deb would add a build of its own to CI.
#
# The binary:
#   amd64  --binary, else `cargo build --release --locked` (target/release/roost)
#   arm64  --binary, else target/cross/dist/roost-aarch64-unknown-linux-musl
#          (cross/static.sh), else the glibc build of cross/aarch64-check.sh
#   armhf  --binary, else target/cross/dist/roost-arm-unknown-linux-musleabihf:
#          the ARMv6 static musl build, which runs on every 32-bit Pi (Debian's
#          own armhf is ARMv7, which a Pi Zero or Pi 1 cannot run); an ARMv7
#          binary is refused.
# It is stripped (a copy) if it is not already. Depends: is read from the
# binary: nothing for a static one; libc6 (>= the newest GLIBC_x.y symbol
# version it uses) and libgcc-s1 for a glibc one.
#
# Contents: /usr/bin/roost; the unit (systemd/roost.service with /usr/bin and
# without its manual-install comment); sysusers.d; /etc/roost/roost.toml (a
# conffile: upgrades keep the user's edits); the fail2ban filter (inert until a
# jail names it) and jail example; README, changelog.Debian.gz, a man page,
# and copyright with the licence notice of every crate linked for the target
# (cross/deb/copyright.py; musl's too for a musl build).
set -euo pipefail

# shellcheck source=cross/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
DEB_DIR="$CROSS_DIR/deb"

usage() {
    echo "usage: bash cross/deb.sh --arch amd64|arm64|armhf [--binary PATH] [--version V] [--revision R]" >&2
    exit 2
}

arch="" binary="" version="" revision=1
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch=${2:-} && shift 2 ;;
        --binary) binary=${2:-} && shift 2 ;;
        --version) version=${2:-} && shift 2 ;;
        --revision) revision=${2:-} && shift 2 ;;
        -h | --help) usage ;;
        *) echo "unknown argument: $1" >&2 && usage ;;
    esac
done

cd "$REPO_DIR"
# readelf and strip; dpkg-deb is in every Debian.
command -v readelf >/dev/null || apt_ensure binutils
if [ -z "$version" ]; then
    # The [package] table's version, the first `version =` in Cargo.toml.
    version=$(awk -F'"' '/^\[package\]/ { p = 1 } p && /^version *=/ { print $2; exit }' Cargo.toml)
fi
[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || fail "not a Debian upstream version: '$version'"
[[ $revision =~ ^[0-9A-Za-z.+~]+$ ]] || fail "not a Debian revision: '$revision'"
full_version="$version-$revision"

# ELF machine (readelf -h), the Rust target whose crates are linked, the
# binutils prefix for strip, and the default binaries in order of preference.
case "$arch" in
    amd64)
        machine="Advanced Micro Devices X86-64" strip_tool=strip
        defaults=()
        ;;
    arm64)
        machine="AArch64" strip_tool=aarch64-linux-gnu-strip
        defaults=("$CROSS_TARGET_DIR/dist/roost-aarch64-unknown-linux-musl"
            "$CROSS_TARGET_DIR/aarch64-unknown-linux-gnu/release/roost")
        ;;
    armhf)
        machine="ARM" strip_tool=arm-linux-gnueabihf-strip
        defaults=("$CROSS_TARGET_DIR/dist/roost-arm-unknown-linux-musleabihf")
        ;;
    *) usage ;;
esac

if [ -z "$binary" ]; then
    if [ "$arch" = amd64 ]; then
        note "cargo build --release --locked"
        bounded 3600 cargo build --release --locked || fail "cargo build --release"
        binary="${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/roost"
    else
        for candidate in "${defaults[@]}"; do
            if [ -x "$candidate" ]; then binary=$candidate && break; fi
        done
        [ -n "$binary" ] || fail "no $arch binary: give --binary, or build one first (bash cross/static.sh; arm64 also: bash cross/aarch64-check.sh); looked for ${defaults[*]}"
    fi
fi
[ -f "$binary" ] || fail "no binary at $binary"

note "binary $binary"
readelf -h "$binary" | grep -q "Machine: *$machine\$" || fail "$binary is not an $arch ELF ($(file -b "$binary"))"

# Static (no program interpreter) or glibc: decides Depends and whether musl's
# notice must ship.
static=""
readelf -lW "$binary" | grep -q 'Requesting program interpreter' || static=yes
# A static Rust binary for Linux is a musl one (glibc does not link statically).
musl=$static
if [ -n "$musl" ]; then libc=musl; else libc=gnu; fi
case "$arch" in
    amd64) rust_target=x86_64-unknown-linux-$libc ;;
    arm64) rust_target=aarch64-unknown-linux-$libc ;;
    armhf) rust_target=arm-unknown-linux-${libc}eabihf ;;
esac
if [ "$arch" = armhf ]; then
    attributes=$(readelf -A "$binary")
    grep -q 'Tag_ABI_VFP_args: VFP registers' <<<"$attributes" || fail "armhf needs the hard-float ABI"
    # ARMv6 (v6, v6KZ, ...) runs on every 32-bit Pi; ARMv7 not on a Zero or a Pi 1.
    grep -Eq 'Tag_CPU_arch: v6' <<<"$attributes" ||
        fail "armhf must be the ARMv6 build (every 32-bit Pi); $binary is $(grep Tag_CPU_arch: <<<"$attributes")"
fi

depends=()
if [ -z "$static" ]; then
    # Every shared library must be glibc's or libgcc's: anything else would
    # need a Depends this script does not know.
    while read -r library; do
        case "$library" in
            libc.so.6 | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1 | libutil.so.1 | ld-linux*.so.*) ;;
            libgcc_s.so.1) depends+=("libgcc-s1") ;;
            *) fail "$binary needs $library: no Depends known for it" ;;
        esac
    done < <(readelf -dW "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    # The newest GLIBC_x.y symbol version it uses is the oldest glibc it runs on.
    glibc=$(readelf --dyn-syms -W "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
    [ -n "$glibc" ] || fail "$binary is dynamic but uses no GLIBC_ symbol version"
    depends=("libc6 (>= $glibc)" "${depends[@]}")
fi
# postinst's fallback when systemd-sysusers is missing.
depends+=("adduser")
depends_line=$(IFS=,; echo "${depends[*]}" | sed 's/,/, /g')
pass "$arch: ${static:+static }${musl:+musl }binary for $rust_target; Depends: $depends_line"

musl_copyright=""
if [ -n "$musl" ]; then
    # musl's own COPYRIGHT: from the zig that built it (cross/static.sh), else Debian's musl package.
    for candidate in "$CROSS_TARGET_DIR"/zig-venv/lib/python3*/site-packages/ziglang/lib/libc/musl/COPYRIGHT; do
        [ -f "$candidate" ] && musl_copyright=$candidate && break
    done
    if [ -z "$musl_copyright" ]; then
        apt_ensure musl
        musl_copyright=/usr/share/doc/musl/copyright
    fi
    [ -f "$musl_copyright" ] || fail "no musl COPYRIGHT found"
fi

# The package tree, built fresh each time; the old package goes first, so a
# failed build never leaves one behind to be mistaken for this one.
out_dir="$REPO_DIR/target/deb"
root="$out_dir/root-$arch"
deb="$out_dir/roost_${full_version}_${arch}.deb"
rm -rf "$root" "$deb"
umask 022
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/usr/lib/sysusers.d" \
    "$root/etc/roost" "$root/etc/fail2ban/filter.d" "$root/usr/share/doc/roost/examples/fail2ban" \
    "$root/usr/share/man/man1" "$root/usr/share/lintian/overrides"

install -m 0755 "$binary" "$root/usr/bin/roost"
# Stripped of symbols and of the compilers' .comment (idempotent: an already
# stripped binary passes through unchanged in behaviour).
if ! command -v "$strip_tool" >/dev/null; then
    case "$arch" in
        arm64) apt_ensure binutils-aarch64-linux-gnu ;;
        armhf) apt_ensure binutils-arm-linux-gnueabihf ;;
        *) apt_ensure binutils ;;
    esac
fi
"$strip_tool" --strip-all --remove-section=.comment "$root/usr/bin/roost" || fail "$strip_tool $binary"
pass "stripped: $(stat -c %s "$binary") -> $(stat -c %s "$root/usr/bin/roost") bytes"

# The unit: the binary's packaged path, and the header's manual-install steps
# (install -m ..., systemd-sysusers, systemctl enable) dropped: the package
# does all of them. Whatever else the unit says passes through unchanged.
awk '
    /^\[/ { body = 1 }
    !body && /^# *Install/ { skipping = 1; next }
    !body && skipping && /^#   / { next }
    { skipping = 0 }
    !body && /^# roost IMAP server/ { print; print "# Installed by the roost package: change it with `systemctl edit roost`, never here (an upgrade replaces this file)."; next }
    { gsub("/usr/local/bin/roost", "/usr/bin/roost"); print }
' systemd/roost.service >"$root/usr/lib/systemd/system/roost.service"
chmod 0644 "$root/usr/lib/systemd/system/roost.service"
! grep -n '/usr/local' "$root/usr/lib/systemd/system/roost.service" || fail "the unit still names /usr/local"
grep -Eq '^ExecStart=/usr/bin/roost ' "$root/usr/lib/systemd/system/roost.service" || fail "the unit's ExecStart does not run /usr/bin/roost"

install -m 0644 systemd/roost.sysusers "$root/usr/lib/sysusers.d/roost.conf"
install -m 0644 systemd/roost.toml "$root/etc/roost/roost.toml"
install -m 0644 systemd/fail2ban/roost.filter.conf "$root/etc/fail2ban/filter.d/roost.conf"
{
    echo "# Packaged: the filter is already /etc/fail2ban/filter.d/roost.conf. Enable with:"
    echo "#   sudo cp /usr/share/doc/roost/examples/fail2ban/roost.jail.conf /etc/fail2ban/jail.d/roost.conf"
    echo "#   sudo systemctl restart fail2ban"
    echo "#"
    grep -v '^#  *sudo \|^# fail2ban jail for roost. Install with the filter:' systemd/fail2ban/roost.jail.conf
} >"$root/usr/share/doc/roost/examples/fail2ban/roost.jail.conf"
chmod 0644 "$root/usr/share/doc/roost/examples/fail2ban/roost.jail.conf"

# Documentation, compressed as Debian policy asks (-n: no name or time in the
# gzip header, so two builds of one tree are identical).
gzip -9nc README.md >"$root/usr/share/doc/roost/README.md.gz"
gzip -9nc "$DEB_DIR/roost.1" >"$root/usr/share/man/man1/roost.1.gz"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
maintainer=${ROOST_DEB_MAINTAINER:-"roost developers <roost@example.org>"}
{
    echo "roost ($full_version) unstable; urgency=medium"
    echo
    echo "  * roost $version for $arch."
    echo "  * Packaged by cross/deb.sh from git commit $commit."
    echo
    echo " -- $maintainer  $(date -R -u -d "@$epoch")"
} | gzip -9n >"$root/usr/share/doc/roost/changelog.Debian.gz"
python3 "$DEB_DIR/copyright.py" --target "$rust_target" ${musl_copyright:+--musl-copyright "$musl_copyright"} \
    --out "$root/usr/share/doc/roost/copyright" || fail "licence notices"
install -m 0644 "$DEB_DIR/lintian-overrides" "$root/usr/share/lintian/overrides/roost"
if [ -n "$static" ]; then
    # Only a static binary earns this override.
    printf '%s\n' "# A static musl build on purpose: one binary runs on every Raspberry Pi OS release, bullseye included." \
        "roost: statically-linked-binary [usr/bin/roost]" >>"$root/usr/share/lintian/overrides/roost"
fi

# Control data.
for script in postinst prerm postrm; do install -m 0755 "$DEB_DIR/$script" "$root/DEBIAN/$script"; done
printf '%s\n' /etc/roost/roost.toml /etc/fail2ban/filter.d/roost.conf >"$root/DEBIAN/conffiles"
installed_kib=$(du -s --apparent-size --block-size=1024 --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: roost
Version: $full_version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_kib
Depends: $depends_line
Suggests: fail2ban
Provides: imap-server
Section: mail
Priority: optional
Description: IMAP server for a household, built for Raspberry Pi boards
 roost keeps a family's mail on a small board (a Raspberry Pi from the Zero
 to the Pi 5) and serves it to every phone and laptop over IMAP, with TLS,
 IDLE, CONDSTORE/QRESYNC, shared folders and quotas. Mail arrives from the
 local MTA over LMTP or through \`roost deliver\`.
 .
 All mail lives in one database under /var/lib/roost; the board profile in
 /etc/roost/roost.toml sets its memory and connection limits. A purge keeps
 that mail.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$epoch" {} +

SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null || fail "dpkg-deb --build"
pass "$deb ($(stat -c %s "$deb") bytes)"

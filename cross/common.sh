# shellcheck shell=bash
# Shared by cross/aarch64-check.sh, cross/armv7-build.sh and cross/static.sh:
# sourced, not run.
#
# Gives: apt installs (idempotent), Debian's rustc-web toolchain, child
# processes tracked by PID and killed on every exit path, zig in a venv, and
# `roundtrip`, which runs an ARM build of roost under qemu-user against a real
# IMAP client.

CROSS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$CROSS_DIR/.." && pwd)
# roost_wait_ports, roost_port_of: the ports file `serve --ports-file` writes.
# shellcheck source=tests/lib/roost.sh
source "$REPO_DIR/tests/lib/roost.sh"
# Never the default target dir: other developers build there.
# shellcheck disable=SC2034 # used by the scripts that source this file
CROSS_TARGET_DIR="$REPO_DIR/target/cross"
# Debian's rustc-web and cargo-web install these; rustup's proxies in
# ~/.cargo/bin usually come first on PATH, so name them in full.
DEBIAN_RUSTC=/usr/bin/rustc
# shellcheck disable=SC2034
DEBIAN_CARGO=/usr/bin/cargo
DEBIAN_RUSTDOC=/usr/bin/rustdoc

pass() { echo "PASS: $*"; }
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
note() { echo "---- $*"; }

# Prefix for commands that need root: nothing when root, else sudo.
if [ "$(id -u)" -eq 0 ]; then AS_ROOT=(); else AS_ROOT=(sudo); fi

# Children started by `bounded` and the server in `roundtrip`: killed on exit.
CHILD_PIDS=()
WORK_DIR=""

cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    local pid
    for pid in "${CHILD_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            # Give it a moment, then make sure.
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.5
            done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$WORK_DIR" ] && [ -d "$WORK_DIR" ]; then rm -rf "$WORK_DIR"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted" >&2; exit 130' INT
trap 'echo "FAIL: terminated" >&2; exit 143' TERM HUP

forget_pid() {
    local pid=$1 kept=() p
    for p in "${CHILD_PIDS[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
    CHILD_PIDS=("${kept[@]}")
}

# bounded SECONDS COMMAND...: runs COMMAND with a time limit, in the
# background so a signal to this script is handled at once (the trap kills
# it); returns its exit status (124 on timeout).
bounded() {
    local seconds=$1
    shift
    # <&0: keep this function's stdin (a background job would get /dev/null).
    timeout --kill-after=10 "$seconds" "$@" <&0 &
    local pid=$!
    CHILD_PIDS+=("$pid")
    local status=0
    wait "$pid" || status=$?
    forget_pid "$pid"
    return "$status"
}

# apt_ensure PACKAGE...: installs whatever is missing (names may carry :arch).
apt_ensure() {
    local missing=() package
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
            missing+=("$package")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        note "apt: all present: $*"
        return 0
    fi
    note "apt: installing ${missing[*]}"
    # A broken index elsewhere (another architecture, a third-party source)
    # makes apt-get update exit non-zero but refreshes the rest: go on, and
    # let the install say whether anything we need is missing.
    bounded 600 "${AS_ROOT[@]}" apt-get update -qq || echo "WARN: apt-get update reported errors; trying the install anyway" >&2
    bounded 1800 "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]}"
}

# Adds a foreign dpkg architecture (e.g. arm64) once.
dpkg_arch_ensure() {
    if ! dpkg --print-foreign-architectures | grep -qx "$1"; then
        note "dpkg: adding architecture $1"
        "${AS_ROOT[@]}" dpkg --add-architecture "$1"
        bounded 600 "${AS_ROOT[@]}" apt-get update -qq || echo "WARN: apt-get update reported errors" >&2
    fi
}

# Prints the environment for a Debian-toolchain cargo build for TARGET with
# the C cross compiler PREFIX-gcc (ring builds C and assembly).
cargo_env() {
    local target=$1 prefix=$2
    local upper lower
    upper=$(echo "$target" | tr 'a-z-' 'A-Z_')
    lower=$(echo "$target" | tr '-' '_')
    echo "RUSTC=$DEBIAN_RUSTC"
    echo "RUSTDOC=$DEBIAN_RUSTDOC"
    echo "CARGO_TARGET_${upper}_LINKER=${prefix}-gcc"
    echo "CC_${lower}=${prefix}-gcc"
    echo "AR_${lower}=${prefix}-ar"
}

# zig_ensure: zig and cargo-zigbuild (pinned) in a venv under target/cross
# (pip, not apt: Debian 12 packages neither). Prints the venv's bin
# directory; cargo-zigbuild finds zig through the venv's python3 (-m ziglang).
ZIG_VENV="$CROSS_TARGET_DIR/zig-venv"
zig_ensure() {
    local want="ziglang==0.17.1 cargo-zigbuild==0.24.1"
    if [ "$(cat "$ZIG_VENV/.installed" 2>/dev/null)" != "$want" ]; then
        # Debian's python3 lacks ensurepip until python3-venv is installed.
        if ! /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then apt_ensure python3-venv; fi
        rm -rf "$ZIG_VENV"
        bounded 600 /usr/bin/python3 -m venv "$ZIG_VENV" >&2 || fail "python3 -m venv $ZIG_VENV"
        # shellcheck disable=SC2086 # two requirements
        bounded 900 "$ZIG_VENV/bin/pip" install -q --disable-pip-version-check $want >&2 || fail "pip install $want"
        echo "$want" >"$ZIG_VENV/.installed"
    fi
    echo "$ZIG_VENV/bin"
}

# roundtrip QEMU_COMMAND BINARY: the end-to-end check, QEMU_COMMAND being a
# space-separated emulator prefix such as "qemu-aarch64 -L /".
roundtrip() {
    local qemu=$1 binary=$2
    local -a run
    read -r -a run <<<"$qemu"
    run+=("$binary")

    # A script may run several round trips: the previous one's directory goes.
    if [ -n "$WORK_DIR" ] && [ -d "$WORK_DIR" ]; then rm -rf "$WORK_DIR"; fi
    WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/roost-cross.XXXXXX")
    local config="$WORK_DIR/roost.toml" log="$WORK_DIR/serve.log"
    cat >"$config" <<EOF
data_dir = "$WORK_DIR/data"
log_level = "debug"
[imap]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
[limits]
argon2_memory_kib = 64
argon2_iterations = 1
auth_failure_delay = 10
EOF
    # RUST_LOG would override log_level, and the port lines are at info.
    unset RUST_LOG

    local password="cross-password-$$-$RANDOM"
    if ! bounded 120 "${run[@]}" user add alice --config "$config" <<<"$password" >"$WORK_DIR/user.log" 2>&1; then
        cat "$WORK_DIR/user.log" >&2
        fail "roost user add under ${qemu}"
    fi
    pass "roost user add alice (under ${qemu})"

    # The server, bounded too: it must never outlive the check.
    local ports_file="$WORK_DIR/ports"
    rm -f "$ports_file"
    timeout --kill-after=10 600 "${run[@]}" serve --config "$config" --ports-file "$ports_file" </dev/null >"$log" 2>&1 &
    local server=$!
    CHILD_PIDS+=("$server")

    roost_wait_ports "$ports_file" "$server" 60 || true
    local port
    port=$(roost_port_of "$ports_file" imaps)
    if [ -z "$port" ]; then
        cat "$log" >&2
        fail "roost serve did not report an imaps port within 60 s"
    fi
    pass "roost serve listening (imaps 127.0.0.1:$port)"

    local cert="$WORK_DIR/data/tls/cert.pem"
    [ -s "$cert" ] || fail "no generated certificate at $cert"
    if ! bounded 120 python3 "$CROSS_DIR/imap_roundtrip.py" 127.0.0.1 "$port" "$cert" alice "$password"; then
        echo "---- server log:" >&2
        cat "$log" >&2
        fail "IMAP round trip"
    fi

    kill -TERM "$server"
    local stopped=""
    for _ in $(seq 1 60); do
        if ! kill -0 "$server" 2>/dev/null; then
            stopped=yes
            break
        fi
        sleep 0.5
    done
    local status=0
    if [ -z "$stopped" ]; then
        cat "$log" >&2
        fail "roost serve still running 30 s after SIGTERM"
    fi
    wait "$server" || status=$?
    forget_pid "$server"
    if [ "$status" -ne 0 ]; then
        cat "$log" >&2
        fail "roost serve exited with status $status after SIGTERM"
    fi
    pass "roost serve stopped cleanly on SIGTERM"

    if ! bounded 120 "${run[@]}" check --config "$config" >"$WORK_DIR/check.log" 2>&1; then
        cat "$WORK_DIR/check.log" >&2
        fail "roost check under ${qemu}"
    fi
    pass "roost check: $(tr '\n' ' ' <"$WORK_DIR/check.log")"
}

#!/usr/bin/env bash
# The Debian packages, end to end (issue 17 item 2):
#
#   bash tests/deb/run.sh [--arches "amd64 arm64 armhf"]
#
# 1. cross/deb.sh builds the amd64 package twice (the Cargo.toml version and
#    VERSION+test1, the same binary) and one per ARM architecture from the
#    binaries already built (cross/static.sh, cross/aarch64-check.sh).
# 2. Install on this machine (apt-get install ./X.deb, as the README says;
#    it runs dpkg -i and waits for apt's lock): files, owners, modes, the user,
#    the enabled unit. `roost setup --yes` (ports 0), as a new user would:
#    config, certificate, first user, MemoryMax drop-in, phone settings and
#    the certificate's fingerprint printed. Run `roost serve` by hand as user
#    roost (no systemd here: the machine is a container); Python's imaplib
#    checks the certificate it is shown against the printed fingerprint and
#    logs in (tests/deb/phone.py); APPEND a message over IMAPS.
# 3. Upgrade to the second build: the config edit kept, `roost check`
#    passes, the message is fetched back byte for byte.
# 4. Purge: config, binary and unit gone; the mail and the user roost kept,
#    with the message saying so. Reinstall: the kept mail is served again.
# 5. lintian on every package: no error, no warning (overrides carry their
#    reason, cross/deb/lintian-overrides).
#
# It installs into the system, so it runs as root (or through sudo -n), and
# it refuses to run where roost is installed or /var/lib/roost exists: it
# never touches a real installation. On exit it purges the package and
# deletes the user and the data directory it made.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then exec sudo -n bash "$0" "$@"; fi

# shellcheck source=cross/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../cross/common.sh"
TESTS_DIR="$REPO_DIR/tests/deb"

arches="amd64 arm64 armhf"
while [ $# -gt 0 ]; do
    case "$1" in
        --arches) arches=$2 && shift 2 ;;
        *) fail "usage: bash tests/deb/run.sh [--arches \"amd64 arm64 armhf\"]" ;;
    esac
done
started=$SECONDS
CONFIG=/etc/roost/roost.toml
APT=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600)

# Ours to undo: set once we install, so a refusal below never cleans up
# someone else's roost.
installed="" server=""
deb_cleanup() {
    [ -n "$installed" ] || return 0
    # The server first: userdel refuses while a process of roost runs.
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server"
        wait "$server" || true
    fi
    dpkg-query -W roost >/dev/null 2>&1 && "${APT[@]}" purge roost >/dev/null 2>&1
    rm -rf /var/lib/roost /run/roost
    if getent passwd roost >/dev/null; then userdel roost; fi
    if getent group roost >/dev/null; then groupdel roost; fi
}
# common.sh's cleanup (children killed, work dir removed) after ours, with
# the script's exit status.
trap 'status=$?; deb_cleanup || true; (exit $status); cleanup' EXIT

if dpkg-query -W -f='${Status}' roost 2>/dev/null | grep -q installed || getent passwd roost >/dev/null ||
    [ -e /var/lib/roost ] || [ -e /etc/roost ]; then
    fail "roost is installed here (package, user, /var/lib/roost or /etc/roost): this test installs and purges roost, so it runs only where there is none"
fi
# init-system-helpers: deb-systemd-helper, which postinst uses to enable the unit.
apt_ensure lintian init-system-helpers
WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/roost-deb.XXXXXX")
chmod 0755 "$WORK_DIR"

note "build the packages"
version=$(awk -F'"' '/^\[package\]/ { p = 1 } p && /^version *=/ { print $2; exit }' "$REPO_DIR/Cargo.toml")
build_started=$SECONDS
bash "$REPO_DIR/cross/deb.sh" --arch amd64 || fail "cross/deb.sh --arch amd64"
first="$REPO_DIR/target/deb/roost_${version}-1_amd64.deb"
bash "$REPO_DIR/cross/deb.sh" --arch amd64 --binary "$REPO_DIR/target/release/roost" --version "${version}+test1" ||
    fail "cross/deb.sh --version ${version}+test1"
second="$REPO_DIR/target/deb/roost_${version}+test1-1_amd64.deb"
packages=("$first" "$second")
for arch in $arches; do
    [ "$arch" = amd64 ] && continue
    bash "$REPO_DIR/cross/deb.sh" --arch "$arch" || fail "cross/deb.sh --arch $arch"
    packages+=("$REPO_DIR/target/deb/roost_${version}-1_${arch}.deb")
    pass "$arch: Depends: $(dpkg-deb -f "${packages[-1]}" Depends)"
    # The packaged (stripped) binary still runs: under qemu-user, ARMv6 for
    # armhf (a Pi Zero's CPU); -L / finds the arm64 glibc of a glibc build.
    case "$arch" in
        arm64) qemu=(qemu-aarch64 -L /) ;;
        armhf) qemu=(qemu-arm -cpu arm1176 -L /usr/arm-linux-gnueabihf) ;;
    esac
    command -v "${qemu[0]}" >/dev/null || apt_ensure qemu-user
    ran=$(bounded 60 "${qemu[@]}" "$REPO_DIR/target/deb/root-$arch/usr/bin/roost" --version) ||
        fail "the packaged $arch roost does not run under ${qemu[*]}"
    grep -qF "$version" <<<"$ran" || fail "$arch roost --version: $ran"
    pass "$arch: the packaged binary runs under ${qemu[*]}: $ran"
done
pass "built ${#packages[@]} packages in $((SECONDS - build_started)) s"

# as_roost COMMAND...: as the user roost, with the unit's umask, the
# process itself (setpriv execs; no su/runuser child in between).
as_roost() { (umask 0077 && exec setpriv --reuid=roost --regid=roost --init-groups "$@"); }

# check_mode PATH MODE OWNER:GROUP
check_mode() {
    local got
    got=$(stat -c '%a %U:%G' "$1") || fail "missing: $1"
    [ "$got" = "$2 $3" ] || fail "$1 is $got, expected $2 $3"
}

install_package() {
    "${APT[@]}" install "$1" >"$WORK_DIR/apt.log" 2>&1 || { cat "$WORK_DIR/apt.log" >&2 && fail "apt-get install $1"; }
    installed=yes
    local want
    want=$(dpkg-deb -f "$1" Version)
    [ "$(dpkg-query -W -f='${Status} ${Version}' roost)" = "install ok installed $want" ] ||
        fail "roost $want not installed: $(dpkg-query -W -f='${Status} ${Version}' roost)"
    pass "installed $(basename "$1")"
}

# The edit a user would make, here for loopback ports (roost runs unprivileged:
# no 143/993) and a cheap password hash; the marker line must survive upgrades.
edit_config() {
    sed -i -e 's|^listen = \["0.0.0.0:143"\]|listen = ["127.0.0.1:0"]|' \
        -e 's|^listen_tls = \["0.0.0.0:993"\]|listen_tls = ["127.0.0.1:0"]|' "$CONFIG"
    printf '%s\n' "" "# edited by tests/deb/run.sh" "[limits]" "argon2_memory_kib = 1024" "argon2_iterations = 1" >>"$CONFIG"
    grep -q '^listen_tls = \["127.0.0.1:0"\]' "$CONFIG" || fail "could not edit $CONFIG (listen_tls changed?)"
}

start_server() {
    # What the unit's RuntimeDirectory= would make: the LMTP socket's directory.
    install -d -o roost -g roost -m 0750 /run/roost
    rm -f /run/roost/test.ports
    # exec: $! is the server itself, for the SIGTERM below.
    (umask 0077 && exec setpriv --reuid=roost --regid=roost --init-groups /usr/bin/roost serve --config "$CONFIG" \
        --ports-file /run/roost/test.ports) </dev/null >"$WORK_DIR/serve.log" 2>&1 &
    server=$!
    CHILD_PIDS+=("$server")
    roost_wait_ports /run/roost/test.ports "$server" 60 || true
    tls_port=$(roost_port_of /run/roost/test.ports imaps)
    [ -n "$tls_port" ] || { cat "$WORK_DIR/serve.log" >&2 && fail "roost serve (as roost, $CONFIG) did not start"; }
    pass "roost serve as user roost, imaps on 127.0.0.1:$tls_port"
}
stop_server() {
    kill -TERM "$server"
    local status=0
    wait "$server" || status=$?
    forget_pid "$server"
    [ "$status" -eq 0 ] || { cat "$WORK_DIR/serve.log" >&2 && fail "roost serve exited $status on SIGTERM"; }
}
mail() {
    bounded 120 python3 "$TESTS_DIR/mail.py" "$1" "$tls_port" /var/lib/roost/tls/cert.pem alice "$password" \
        "$WORK_DIR/message.eml" || { cat "$WORK_DIR/serve.log" >&2 && fail "IMAP $1"; }
}

note "install ${version}-1"
install_package "$first"
check_mode /usr/bin/roost 755 root:root
check_mode /usr/lib/systemd/system/roost.service 644 root:root
check_mode /usr/lib/sysusers.d/roost.conf 644 root:root
check_mode "$CONFIG" 644 root:root
check_mode /etc/fail2ban/filter.d/roost.conf 644 root:root
check_mode /var/lib/roost 700 roost:roost
for doc in copyright changelog.Debian.gz README.md.gz examples/fail2ban/roost.jail.conf; do
    check_mode "/usr/share/doc/roost/$doc" 644 root:root
done
grep -q '^Files: crates/ring-' /usr/share/doc/roost/copyright || fail "copyright lacks ring"
pass "files, owners and modes"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd roost)
[ "$home" = /var/lib/roost ] && [[ $shell == */nologin ]] || fail "user roost: home $home, shell $shell"
[ "$(stat -c %u /var/lib/roost)" = "$uid" ] || fail "/var/lib/roost not owned by roost's uid $uid"
pass "system user roost (uid $uid, home $home, shell $shell)"
# deb-systemd-helper names /lib/systemd/system: the same file on a merged /usr.
[ "$(readlink -f /etc/systemd/system/multi-user.target.wants/roost.service)" = /usr/lib/systemd/system/roost.service ] ||
    fail "roost.service not enabled (no multi-user.target.wants link)"
pass "roost.service enabled (deb-systemd-helper)"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /usr/lib/systemd/system/roost.service >"$WORK_DIR/verify.log" 2>&1 ||
        { cat "$WORK_DIR/verify.log" >&2 && fail "systemd-analyze verify roost.service"; }
    pass "systemd-analyze verify roost.service"
fi
/usr/bin/roost --version | grep -qF "$version" || fail "roost --version: $(/usr/bin/roost --version)"

note "first run: roost setup --yes, as a new user does after installing"
password="deb-test-$RANDOM-$RANDOM"
printf '%s\n' "$password" >"$WORK_DIR/password"
# Ports 0: this machine may serve 143/993 already, and roost runs here as an
# unprivileged user, without the unit's capability to bind them.
bounded 300 /usr/bin/roost setup --yes --hostname debtest --user alice --password-file "$WORK_DIR/password" \
    --imap-port 0 --imaps-port 0 >"$WORK_DIR/setup.log" 2>&1 || { cat "$WORK_DIR/setup.log" >&2 && fail "roost setup"; }
fingerprint=$(grep -oE '([0-9A-F]{2}:){31}[0-9A-F]{2}' "$WORK_DIR/setup.log" | head -1)
[ -n "$fingerprint" ] || { cat "$WORK_DIR/setup.log" >&2 && fail "roost setup printed no certificate fingerprint"; }
grep -q 'alice' "$WORK_DIR/setup.log" || { cat "$WORK_DIR/setup.log" >&2 && fail "roost setup printed no phone settings for alice"; }
check_mode "$CONFIG" 640 root:roost
check_mode /var/lib/roost/roost.redb 600 roost:roost
check_mode /etc/systemd/system/roost.service.d/memory.conf 644 root:root
pass "roost setup: config, certificate, user alice, MemoryMax drop-in; phone settings and fingerprint printed"
# The edit the upgrade must keep.
printf '%s\n' "" "# edited by tests/deb/run.sh" >>"$CONFIG"
start_server
bounded 120 python3 "$TESTS_DIR/phone.py" "$tls_port" "$fingerprint" alice "$password" ||
    { cat "$WORK_DIR/serve.log" >&2 && fail "a phone's first login"; }
mail append
stop_server

note "upgrade to ${version}+test1-1"
install_package "$second"
grep -qx '# edited by tests/deb/run.sh' "$CONFIG" || fail "the upgrade lost the edit to $CONFIG"
[ ! -e "$CONFIG.dpkg-dist" ] && [ ! -e "$CONFIG.dpkg-old" ] || fail "dpkg left $CONFIG.dpkg-*"
[ "$(id -u roost)" = "$uid" ] || fail "user roost's uid changed: $(id -u roost), was $uid"
pass "config edit kept, same user"
as_roost /usr/bin/roost check --config "$CONFIG" >"$WORK_DIR/check.log" 2>&1 ||
    { cat "$WORK_DIR/check.log" >&2 && fail "roost check after the upgrade"; }
pass "roost check: $(tr '\n' ' ' <"$WORK_DIR/check.log")"
start_server
mail fetch
stop_server

note "purge"
"${APT[@]}" purge roost >"$WORK_DIR/purge.log" 2>&1 || { cat "$WORK_DIR/purge.log" >&2 && fail "apt-get purge roost"; }
grep -F 'the mail in /var/lib/roost is kept' "$WORK_DIR/purge.log" || fail "purge did not say that the mail is kept"
! dpkg-query -W -f='${Status}' roost 2>/dev/null | grep -q installed || fail "roost still installed"
for gone in /etc/roost /usr/bin/roost /usr/lib/systemd/system/roost.service /etc/fail2ban/filter.d/roost.conf \
    /etc/systemd/system/multi-user.target.wants/roost.service /etc/systemd/system/roost.service \
    /etc/systemd/system/roost.service.d; do
    [ ! -e "$gone" ] && [ ! -L "$gone" ] || fail "purge left $gone"
done
[ -d /var/lib/roost/tls ] && [ "$(find /var/lib/roost -maxdepth 1 -type f -size +0 | wc -l)" -gt 0 ] ||
    fail "purge deleted the mail in /var/lib/roost"
[ "$(id -u roost)" = "$uid" ] || fail "purge removed the user roost"
pass "purged: config, binary, unit and enablement gone; /var/lib/roost ($(du -sh /var/lib/roost | cut -f1)) and user roost kept"

note "reinstall after the purge: the kept mail is served again"
install_package "$second"
edit_config
start_server
mail fetch
stop_server

note "lintian"
lintian_started=$SECONDS
# As nobody: lintian warns against running as root (it unpacks what it checks).
if ! bounded 900 setpriv --reuid=nobody --regid=nogroup --clear-groups lintian --fail-on error,warning --display-level '>=warning' "${packages[@]}" >"$WORK_DIR/lintian.log" 2>&1; then
    cat "$WORK_DIR/lintian.log" >&2
    fail "lintian"
fi
cat "$WORK_DIR/lintian.log"
pass "lintian: no error or warning on ${#packages[@]} packages ($((SECONDS - lintian_started)) s)"

pass "Debian packages: built, installed, upgraded, purged, reinstalled, linted in $((SECONDS - started)) s"

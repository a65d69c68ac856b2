#!/usr/bin/env bash
# Dovecot 2.3 reads what `roost export` writes: tests/interop/dovecot_export.py
# fills a fresh roost over IMAP, exports it (Maildir++, then again after
# changes, then mbox) and compares, mailbox by mailbox and UID by UID, what
# Dovecot's imap answers on the exported files with what roost answers.
#
# Dovecot runs unprivileged and without its daemon: its `imap` binary as a
# pre-authenticated process (user nobody, a config file of its own, no
# /etc/dovecot, no ports). Installs dovecot-imapd if missing (apt: root).
# Needs: cargo, python3 (standard library only), setpriv (util-linux).
set -euo pipefail
cd "$(dirname "$0")/../.."

as_root=()
[ "$(id -u)" = 0 ] || as_root=(sudo -n)
# Dovecot as the other scripts install it (tests/bench/dovecot.sh: apt,
# the package lists updated when missing, the system service kept off).
"${as_root[@]}" bash tests/bench/dovecot.sh install >/dev/null

cargo build --quiet
binary=$(pwd)/target/debug/roost
work=$(mktemp -d /tmp/dovecot-export.XXXXXX)
chmod 755 "$work"  # Dovecot runs as nobody and must reach its files
roost_pid=""
cleanup() {
    if [ -n "$roost_pid" ]; then kill -TERM "$roost_pid" 2>/dev/null || true; wait "$roost_pid" 2>/dev/null || true; fi
    "${as_root[@]}" rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

user=alice
password="export compare password"
printf '%s\n' "$password" >"$work/password"
source tests/lib/roost.sh
roost_start "$binary" "$work" "$user" "$password" || { echo "FAIL: roost did not start"; exit 1; }
status=0
"${as_root[@]}" timeout 300 python3 tests/interop/dovecot_export.py --roost "$roost_port" --user "$user" \
    --password-file "$work/password" --binary "$binary" --config "$work/roost.toml" --work "$work" || status=$?
if [ "$status" != 0 ] && [ -s "$work/dovecot.log" ]; then
    echo "Dovecot's log:" >&2
    tail -n 20 "$work/dovecot.log" >&2
fi
exit "$status"

#!/usr/bin/env bash
# Starts roost (debug build) and a private Dovecot 2.3 on loopback and runs
# catenate_compare.py against both. Needs root for Dovecot (see
# tests/bench/dovecot.sh), cargo, python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet
work=$(mktemp -d /tmp/catcmp.XXXXXX)
chmod 711 "$work"
export DOVECOT_PASS_SCHEME=PLAIN DOVECOT_MAX_CONN=20
roost_pid="" dovecot_started=""
cleanup() {
    if [ -n "$roost_pid" ]; then kill -TERM "$roost_pid" 2>/dev/null || true; wait "$roost_pid" 2>/dev/null || true; fi
    if [ -n "$dovecot_started" ]; then bash tests/bench/dovecot.sh stop "$work/dovecot" >&2 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
user=catuser password="catenate compare"
printf '%s %s\n' "$user" "$password" >"$work/users"
source tests/lib/roost.sh
roost_start target/debug/roost "$work" "$user" "$password"
read -r imap_port imaps_port < <(free_ports 2)
dovecot_started=1
bash tests/bench/dovecot.sh start "$work/dovecot" "$imap_port" "$imaps_port" "$work/users" >/dev/null
timeout 120 python3 tests/interop/catenate_compare.py "$roost_port" "$imap_port" "$user" "$password"

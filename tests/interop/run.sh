#!/usr/bin/env bash
# Runs the real-client smoke tests against a freshly started roost.
# Needs: cargo, python3 (its standard library only).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet
binary=target/debug/roost
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
cat > "$work/roost.toml" <<CONFIG
data_dir = "$work/data"
[imap]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
[limits]
argon2_memory_kib = 1024
argon2_iterations = 1
auth_failure_delay = 100
CONFIG
echo "correct horse battery staple" | "$binary" user add grandpa --config "$work/roost.toml"
"$binary" serve --config "$work/roost.toml" 2> "$work/log" &
server_pid=$!
for _ in $(seq 100); do
    grep -q "imaps listening" "$work/log" 2>/dev/null && break
    sleep 0.1
done
tls_port=$(sed -n 's/.*imaps listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/log")
plain_port=$(sed -n 's/.*imap listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/log")
[ -n "$tls_port" ] && [ -n "$plain_port" ] || { echo "FAIL: roost did not start"; cat "$work/log"; exit 1; }
timeout 120 python3 tests/interop/imaplib_smoke.py 127.0.0.1 "$tls_port" "$plain_port" \
    "$work/data/tls/cert.pem" grandpa "correct horse battery staple"
kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
"$binary" check --config "$work/roost.toml"

#!/usr/bin/env bash
# Runs the real-client smoke tests against a freshly started roost.
# Needs: cargo, python3 (its standard library only).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --quiet
binary=target/debug/roost
work=$(mktemp -d)
roost_pid=""
cleanup() {
    if [ -n "$roost_pid" ]; then kill "$roost_pid" 2>/dev/null || true; wait "$roost_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
source tests/lib/roost.sh
roost_start "$binary" "$work" grandpa "correct horse battery staple" || { echo "FAIL: roost did not start"; exit 1; }
timeout 120 python3 tests/interop/imaplib_smoke.py 127.0.0.1 "$roost_tls_port" "$roost_port" \
    "$work/data/tls/cert.pem" grandpa "correct horse battery staple"
kill -TERM "$roost_pid"; wait "$roost_pid" || true; roost_pid=""
"$binary" check --config "$work/roost.toml"

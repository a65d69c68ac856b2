#!/usr/bin/env bash
# The shipped fail2ban filter (systemd/fail2ban/roost.filter.conf) against
# real roost log lines: failed logins from two loopback addresses, one of
# them with a user name crafted to look like another address. fail2ban's
# own fail2ban-regex must find exactly the real addresses, the right number
# of times. Installs fail2ban from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/roost.sh

if ! command -v fail2ban-regex >/dev/null; then
    as_root=()
    [[ $(id -u) -eq 0 ]] || as_root=(sudo -n)
    "${as_root[@]}" apt-get update -qq || true
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fail2ban >/dev/null
fi
cargo build --quiet
work=$(mktemp -d "${TMPDIR:-/tmp}/roost-fail2ban.XXXXXX")
cleanup() {
    [[ -n ${roost_pid:-} ]] && kill -TERM "$roost_pid" 2>/dev/null && wait "$roost_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
roost_start target/debug/roost "$work" alice "a long password"

python3 - "$roost_port" <<'PY'
import socket, sys
port = int(sys.argv[1])
def attempt(source, user):
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b'a LOGIN "' + user.encode() + b'" "wrong"\r\n')
    while not f.readline().startswith(b"a "):
        pass
    s.close()
for _ in range(3):
    attempt("127.0.0.2", "alice")
# A name that, were it logged first, would look like an attacker's address.
for _ in range(2):
    attempt("127.0.0.3", 'x from 203.0.113.9: user \\"y')
PY
# Every failed login has its line before the answer went out.
kill -TERM "$roost_pid"; wait "$roost_pid" || true; roost_pid=

# fail2ban's own reading: the addresses it would ban (its HOST column).
report=$(fail2ban-regex -v "$work/roost.log" systemd/fail2ban/roost.filter.conf 2>&1)
echo "$report" | sed -n '/^Failregex/,/^Ignoreregex/p'
matched=$(sed -n 's/^Lines: .* \([0-9]*\) matched.*/\1/p' <<<"$report")
hosts=$(sed -n 's/^|      \([0-9a-f.:]*\)  .*/\1/p' <<<"$report" | sort | uniq -c | awk '{print $2"="$1}' | tr '\n' ' ')
echo "matched lines: $matched; by address: $hosts"
[[ $matched == 5 ]] || { echo "FAIL: expected 5 matched lines, got ${matched:-none}" >&2; echo "$report" >&2; exit 1; }
[[ $hosts == "127.0.0.2=3 127.0.0.3=2 " ]] || { echo "FAIL: wrong addresses: $hosts" >&2; exit 1; }
echo "PASS: fail2ban filter finds exactly the real addresses (5 of 5 failed logins)"

#!/usr/bin/env bash
# Checks systemd/roost.service without a running systemd (a container or a
# CI machine need not boot with it): `systemd-analyze verify` must print
# nothing (it exits 0 even on an unknown key or a bad value, so its output
# is what fails), and `systemd-analyze security --offline` must rate the
# unit's exposure at 2.0 or better (it was 1.6 when Type=notify arrived).
# Installs systemd's tools if they are missing. Takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null; then
    as_root=()
    [[ $(id -u) -eq 0 ]] || as_root=(sudo -n)
    "${as_root[@]}" apt-get update -qq || echo "WARN: apt-get update reported errors; trying the install anyway" >&2
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd
fi
systemd-analyze --version | head -1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# verify checks that ExecStart's program exists: point it at a stand-in.
# (The unit keeps /usr/local/bin/roost: the .deb rewrites that string.)
printf '#!/bin/sh\n' > "$work/roost" && chmod +x "$work/roost"
sed "s|/usr/local/bin/roost|$work/roost|" systemd/roost.service > "$work/roost.service"
grep -q '^Type=notify$' "$work/roost.service"

output=$(cd "$work" && systemd-analyze verify ./roost.service 2>&1) || { echo "$output" >&2; exit 1; }
if [[ -n "$output" ]]; then
    echo "systemd-analyze verify complained about systemd/roost.service:" >&2
    echo "$output" >&2
    exit 1
fi
echo "verify: clean"
(cd "$work" && systemd-analyze security --offline=yes --threshold=20 ./roost.service) | tail -1

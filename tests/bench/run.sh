#!/usr/bin/env bash
# The footprint and speed benchmark, roost beside Dovecot, in one run.
#
#   bash tests/bench/run.sh                 # everything (about 40-50 minutes:
#                                           # scenario 10 waits on Dovecot's 30 s
#                                           # IDLE poll, see dovecot.sh)
#   bash tests/bench/run.sh --quick --servers roost --scenarios 1,7 --idle 100
#
# Installs Debian's dovecot-imapd and dovecot-lmtpd when missing (dovecot.sh),
# builds roost in release mode, then runs `cargo bench --bench imap_load`
# with the arguments given here (see `--help`). Prints a Markdown table and
# writes target/bench-results.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ " $* " != *" --servers roost "* ]]; then
    bash tests/bench/dovecot.sh install
fi
cargo build --release --quiet
# The load generator and both servers hold thousands of sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo bench --quiet --bench imap_load -- "$@"

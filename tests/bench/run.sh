#!/usr/bin/env bash
# The footprint and speed benchmark, roost beside Dovecot, in one run.
#
#   bash tests/bench/run.sh                 # everything (about 40-50 minutes:
#                                           # scenario 10 waits on Dovecot's 30 s
#                                           # IDLE poll, see dovecot.sh)
#   bash tests/bench/run.sh --quick --servers roost --scenarios 1,7 --idle 100
#   bash tests/bench/run.sh --scenarios 11,12,13,14,15,16
#                                           # the attacks of issue 11 (about 15-20
#                                           # minutes the first time: 1 GiB is put
#                                           # into each server for 12 and kept in
#                                           # target/bench-work for later runs)
#   bash tests/bench/run.sh --quick --servers roost --scenarios 11,12,13,14,15,16
#                                           # the same, small (under a minute)
#   bash tests/bench/run.sh --scenarios 19  # PREVIEW listing of 10,000 messages vs
#                                           # their first part (issue 13, a few minutes)
#   bash tests/bench/run.sh --scenarios 17  # bans (issue 12): guessing until banned,
#                                           # then 10,000 attempts from the banned
#                                           # addresses and the CPU time they cost
#                                           # (about 4 minutes with Dovecot)
#   bash tests/bench/run.sh --scenarios 20  # full-text search (issue 18) on 100,000 messages,
#                                           # roost without/with its index beside Dovecot
#                                           # plain/fts-xapian (about 10 minutes once Dovecot's
#                                           # maildir and Xapian index are kept in
#                                           # target/bench-work; the first run builds them:
#                                           # about 35 minutes, `doveadm index` takes 23)
#   bash tests/bench/run.sh --scenarios 20 --messages 20000 --rebuild
#                                           # the same at 20,000, everything built and timed
#                                           # in the one run (about 7 minutes)
#   bash tests/bench/run.sh --scenarios 11,12,13,14,15,16 --roost /path/to/old/roost
#                                           # another roost binary, same scenarios
#
# Scenarios 11-16 attack the server (LIST and SEARCH floods, a client that
# stops reading, slow pre-auth connections, password guessing, pre-auth
# literals) while a bystander on 127.0.0.200 sends NOOP every 10 ms and logs
# in once a second; the table gets a column with roost's targets. They bind
# client sockets to 127.0.0.2 and up, which Linux routes to lo.
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

#!/usr/bin/env bash
# Compares roost's MIME / SEARCH / SORT / THREAD answers with Dovecot 2.3's.
#
#   tests/mime/compare.sh [--reference DIR] [--report FILE] [--examples N] [--keep]
#
# Installs Dovecot if missing (tests/bench/dovecot.sh install: apt, needs root),
# builds roost (release), generates the corpus (tests/mime/corpus.py), starts
# roost with a fresh data directory and a private Dovecot instance on free
# loopback ports, both with the same user and password, runs
# tests/mime/compare.py, and stops both servers whatever happens.
#
#   --reference DIR  also write Dovecot's raw answers there, one file per
#                    message (e.g. /work/notes/dovecot-mime-reference)
#   --report FILE    the full report (every difference); default: printed
#                    target/mime-compare-report.txt
#   --examples N     examples per kind of difference on stdout (default 3)
#   --keep           keep the work directory (corpus, logs, report)
#   --self-test      compare Dovecot with itself (two users, roost not
#                    built or started): checks this tool; must report 0
#
# Exit status: 0 when every difference is listed in
# tests/mime/intended-differences.txt, 1 when some are not, 2 on setup errors.
# Needs: root (or password-less sudo) for Dovecot, cargo, python3 (standard
# library only), openssl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

reference="" report="" examples=3 keep="" self_test=""
while [ $# -gt 0 ]; do
    case "$1" in
    --reference) reference=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    --report) report=$(realpath -m "$2"); shift 2 ;;
    --examples) examples=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --self-test) self_test=1; shift ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
cd "$here/../.."
root=$(pwd)

as_root=()
if [ "$(id -u)" != 0 ]; then
    sudo -n true 2>/dev/null || { echo "compare.sh: Dovecot needs root (or password-less sudo)" >&2; exit 2; }
    as_root=(sudo -n env "DOVECOT_PASS_SCHEME=PLAIN" "DOVECOT_MAX_CONN=20")
fi
export DOVECOT_PASS_SCHEME=PLAIN DOVECOT_MAX_CONN=20

started=$SECONDS
export PYTHONDONTWRITEBYTECODE=1
"${as_root[@]}" bash tests/bench/dovecot.sh install >&2 || { echo "compare.sh: installing Dovecot failed" >&2; exit 2; }
if [ -z "$self_test" ]; then
    cargo build --release --quiet || { echo "compare.sh: cargo build failed" >&2; exit 2; }
fi
binary=$root/target/release/roost

# Short path: Dovecot's unix sockets live under it (at most 60 characters).
work=$(mktemp -d /tmp/mime-compare.XXXXXX)
chmod 711 "$work"  # Dovecot's unprivileged processes must reach $work/dovecot
roost_pid="" dovecot_started="" compare_pid=""
cleanup() {
    local status=$?
    if [ -n "$compare_pid" ]; then
        kill -TERM "$compare_pid" 2>/dev/null || true
        wait "$compare_pid" 2>/dev/null || true
    fi
    if [ -n "$roost_pid" ]; then
        kill -TERM "$roost_pid" 2>/dev/null || true
        wait "$roost_pid" 2>/dev/null || true
    fi
    if [ -n "$dovecot_started" ]; then
        "${as_root[@]}" bash tests/bench/dovecot.sh stop "$work/dovecot" >&2 || true
    fi
    if [ -n "$keep" ]; then
        echo "compare.sh: work directory kept: $work" >&2
    else
        "${as_root[@]}" rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

user=mimeuser
password="mime compare password"
printf '%s\n' "$password" >"$work/password"
printf '%s %s\n' "$user" "$password" >"$work/users"
printf '%s2 %s\n' "$user" "$password" >>"$work/users"  # for --self-test

python3 tests/mime/corpus.py "$work/corpus" >&2

source tests/lib/roost.sh
roost_port=""
if [ -z "$self_test" ]; then
    roost_start "$binary" "$work" "$user" "$password" || { echo "compare.sh: roost did not start" >&2; exit 2; }
fi

# Dovecot on two free loopback ports (plain IMAP is used; IMAPS only has to exist).
read -r imap_port imaps_port < <(free_ports 2)
dovecot_started=1
"${as_root[@]}" bash tests/bench/dovecot.sh start "$work/dovecot" "$imap_port" "$imaps_port" "$work/users" >/dev/null ||
    { echo "compare.sh: Dovecot did not start" >&2; exit 2; }
roost_user=$user
if [ -n "$self_test" ]; then
    roost_port=$imap_port roost_user=${user}2
fi
echo "compare.sh: roost on $roost_port, Dovecot on $imap_port; setup took $((SECONDS - started)) s" >&2

[ -n "$report" ] || report=$root/target/mime-compare-report.txt
args=(--corpus "$work/corpus" --dovecot "$imap_port" --roost "$roost_port" --user "$user"
    --password-file "$work/password" --report "$report" --examples "$examples" --roost-user "$roost_user")
[ -z "$reference" ] || args+=(--reference "$reference")
status=0
# In the background, so that Ctrl-C or a TERM stops everything at once (the trap).
timeout 600 python3 tests/mime/compare.py "${args[@]}" &
compare_pid=$!
wait "$compare_pid" || status=$?
compare_pid=""
if [ -n "$roost_pid" ] && ! kill -0 "$roost_pid" 2>/dev/null; then
    echo "compare.sh: roost is no longer running (crashed?); its log:" >&2
    tail -n 20 "$work/roost.log" >&2
    roost_pid=""
    [ "$status" != 0 ] || status=1
fi
echo "compare.sh: total $((SECONDS - started)) s" >&2
exit "$status"

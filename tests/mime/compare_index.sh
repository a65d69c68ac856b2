#!/usr/bin/env bash
# The full-text index (issue 18) against the scan on tests/mime's corpus.
#
#   tests/mime/compare_index.sh [--binary PATH] [--needles N] [--seed N] [--keep]
#
# Builds roost (release, unless --binary names one), generates the corpus
# (tests/mime/corpus.py), starts two roosts on loopback ephemeral ports with
# fresh data directories, one keeping the search index (debug log, to count
# the needles it narrowed) and one with `[limits] search_index = false`,
# and runs tests/mime/compare_index.py: every SEARCH/SORT/THREAD command of
# compare.py's battery and N (default 600) random needles drawn from the
# corpus's text, compared with the index half built, complete and mixed;
# then `roost check`. Stops both servers whatever happens.
#
# Exit status: 0 when every answer is the same, 1 when some differ (listed
# in target/fts-compare-report.txt), 2 on setup errors.
# Needs: cargo (unless --binary), python3 (standard library only). No root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

binary="" needles=600 seed=18 keep=""
while [ $# -gt 0 ]; do
    case "$1" in
    --binary) binary=$(realpath "$2"); shift 2 ;;
    --needles) needles=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "compare_index.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
cd "$here/../.."
root=$(pwd)
started=$SECONDS
export PYTHONDONTWRITEBYTECODE=1
if [ -z "$binary" ]; then
    cargo build --release --quiet || { echo "compare_index.sh: cargo build failed" >&2; exit 2; }
    binary=$root/target/release/roost
fi

work=$(mktemp -d /tmp/fts-compare.XXXXXX)
pids=()
cleanup() {
    local status=$? pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$keep" ]; then
        echo "compare_index.sh: work directory kept: $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

user=ftsuser
password="fts compare password"
printf '%s\n' "$password" >"$work/password"
python3 tests/mime/corpus.py "$work/corpus" >&2

source tests/lib/roost.sh
# start_roost NAME EXTRA_LIMITS LOG_LEVEL: a roost in $work/NAME; sets port.
start_roost() {
    local dir=$work/$1
    mkdir -p "$dir"
    cat >"$dir/roost.toml" <<CONFIG
data_dir = "$dir/data"
log_level = "$3"
[imap]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
[limits]
argon2_memory_kib = 1024
argon2_iterations = 1
auth_failure_delay = 100
$2
CONFIG
    printf '%s\n' "$password" | timeout 30 "$binary" user add "$user" --config "$dir/roost.toml" >/dev/null ||
        { echo "compare_index.sh: roost user add failed" >&2; return 1; }
    "$binary" serve --config "$dir/roost.toml" --ports-file "$dir/ports" 2>"$dir/roost.log" &
    pids+=($!)
    roost_wait_ports "$dir/ports" "$!" 10 || true
    port=$(roost_port_of "$dir/ports" imap)
    [ -n "$port" ] || { echo "compare_index.sh: roost $1 did not start:" >&2; cat "$dir/roost.log" >&2; return 1; }
}
start_roost indexed "" debug || exit 2
indexed_port=$port
start_roost scanned "search_index = false" info || exit 2
scanned_port=$port
echo "compare_index.sh: index on $indexed_port, scan on $scanned_port; setup took $((SECONDS - started)) s" >&2

report=$root/target/fts-compare-report.txt
mkdir -p "$root/target"
status=0
timeout 900 python3 tests/mime/compare_index.py --corpus "$work/corpus" --indexed "$indexed_port" \
    --scanned "$scanned_port" --indexed-config "$work/indexed/roost.toml" --indexed-log "$work/indexed/roost.log" \
    --binary "$binary" --user "$user" --password-file "$work/password" --needles "$needles" --seed "$seed" \
    --report "$report" || status=$?
for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "compare_index.sh: a roost is no longer running (crashed?)" >&2; status=1; }
done
echo "compare_index.sh: total $((SECONDS - started)) s" >&2
exit "$status"

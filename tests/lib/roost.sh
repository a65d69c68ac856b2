# Shared by the scripts that run a real roost (tests/interop, tests/mime,
# tests/clients): source it, then
#
#   roost_start BINARY WORK USER PASSWORD
#
# writes WORK/roost.toml (data in WORK/data, plain IMAP and IMAPS on
# loopback ephemeral ports, a cheap argon2 cost so that logins are quick),
# adds USER, starts `roost serve` with its log in WORK/roost.log and waits
# for its ports file (WORK/ports, `serve --ports-file`). Sets roost_pid, roost_port (plain) and roost_tls_port.
# Returns 1, with the log on stderr, if roost did not start; stopping it
# (kill -TERM "$roost_pid") is the caller's, in its own cleanup.
roost_start() {
    local binary=$1 work=$2 user=$3 password=$4
    cat >"$work/roost.toml" <<CONFIG
data_dir = "$work/data"
[imap]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
[limits]
argon2_memory_kib = 1024
argon2_iterations = 1
auth_failure_delay = 100
CONFIG
    printf '%s\n' "$password" | timeout 30 "$binary" user add "$user" --config "$work/roost.toml" >/dev/null ||
        { echo "roost user add failed" >&2; return 1; }
    rm -f "$work/ports"
    "$binary" serve --config "$work/roost.toml" --ports-file "$work/ports" 2>"$work/roost.log" &
    roost_pid=$!
    local _
    for _ in $(seq 100); do
        [ -s "$work/ports" ] && break
        kill -0 "$roost_pid" 2>/dev/null || break
        sleep 0.1
    done
    roost_port=$(awk '$1 == "imap" { sub(/.*:/, "", $2); print $2; exit }' "$work/ports" 2>/dev/null)
    roost_tls_port=$(awk '$1 == "imaps" { sub(/.*:/, "", $2); print $2; exit }' "$work/ports" 2>/dev/null)
    if [ -z "$roost_port" ] || [ -z "$roost_tls_port" ]; then
        echo "roost did not start:" >&2
        cat "$work/roost.log" >&2
        return 1
    fi
}

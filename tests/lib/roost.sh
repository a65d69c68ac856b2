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
# The helpers after it (the ports file, free ports) serve cross/common.sh and
# the Dovecot comparisons too.
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
    roost_wait_ports "$work/ports" "$roost_pid" 10 || true
    roost_port=$(roost_port_of "$work/ports" imap)
    roost_tls_port=$(roost_port_of "$work/ports" imaps)
    if [ -z "$roost_port" ] || [ -z "$roost_tls_port" ]; then
        echo "roost did not start:" >&2
        cat "$work/roost.log" >&2
        return 1
    fi
}

# roost_wait_ports FILE PID SECONDS: waits until the roost with PID has written
# its ports file FILE (`serve --ports-file`), has exited, or SECONDS are over.
roost_wait_ports() {
    local file=$1 pid=$2 tries=$(($3 * 10)) _
    for _ in $(seq "$tries"); do
        [ -s "$file" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# roost_port_of FILE KIND: the port of the first KIND line (imap, imaps, ...)
# of a ports file (`KIND ADDRESS:PORT` a line); nothing if there is none.
roost_port_of() {
    awk -v kind="$2" '$1 == kind { sub(/.*:/, "", $2); print $2; exit }' "$1" 2>/dev/null || true
}

# free_ports N: N loopback TCP ports that were free a moment ago, on one line,
# for a server that cannot report the ports it bound (Dovecot).
free_ports() {
    python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
' "$1"
}

#!/usr/bin/env bash
# `roost import` against `doveadm import` on the same mbox (issue 16).
#
#   bash tests/bench/import.sh [MESSAGES]      # default 10000
#
# Generates an mbox of MESSAGES messages of mixed sizes (70 % 1-4 KiB,
# 25 % 10-50 KiB, 5 % 100-400 KiB; some bodies with "From " lines, which
# are quoted; half with Dovecot's Status/X-Keywords headers), then times:
#   roost, server stopped     roost import --mbox FILE (the database directly)
#   roost, server running     the same into a fresh database, through the
#                             control socket
#   roost, again              the same file once more (every message skipped)
#   doveadm import            Dovecot 2.3 (dovecot-core) into a Maildir, as
#                             an unprivileged user (doveadm refuses root),
#                             with its default mail_fsync = optimized
# Every run writes to the same file system (this script's temporary
# directory). Installs dovecot-core with apt if doveadm is missing; builds
# roost in release mode (or takes ROOST_BINARY=path/to/roost).
set -euo pipefail
messages=${1:-10000}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/roost-import-bench.XXXXXX)
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Dovecot as the other scripts install it (apt, updating the package lists
# when a fresh machine has none; the system service kept off).
bash "$root/tests/bench/dovecot.sh" install >/dev/null
if [[ -n ${ROOST_BINARY:-} ]]; then
    roost=$ROOST_BINARY  # a release binary built already
else
    (cd "$root" && cargo build --release -q)
    roost=$root/target/release/roost
fi

python3 - "$work/mail.mbox" "$messages" <<'PY'
import random, sys
path, count = sys.argv[1], int(sys.argv[2])
random.seed(16)
words = "the a mail of roost board family photo invoice meeting from to and with".split()
with open(path, "wb") as out:
    for n in range(count):
        r = random.random()
        size = random.randint(1024, 4096) if r < 0.70 else random.randint(10240, 51200) if r < 0.95 else random.randint(102400, 409600)
        day = 1 + n % 28
        head = (f"From sender{n % 97}@example.org Mon Jan {day:2d} 10:{n % 60:02d}:00 2024\n"
                f"Date: Mon, {day} Jan 2024 10:{n % 60:02d}:00 +0000\n"
                f"From: Sender {n % 97} <sender{n % 97}@example.org>\n"
                f"To: bench@example.org\nSubject: message {n}\nMessage-ID: <{n}@bench.example.org>\n")
        if n % 2:
            head += "Status: RO\nX-Keywords: $Forwarded work\n"
        body = []
        length = 0
        while length < size:
            line = " ".join(random.choice(words) for _ in range(12))
            if random.random() < 0.01:
                line = "From " + line
            body.append(line)
            length += len(line) + 1
        text = head + "\n" + "\n".join(">" + l if l.startswith("From ") else l for l in body) + "\n\n"
        out.write(text.encode())
PY
size=$(du -m "$work/mail.mbox" | cut -f1)
echo "mbox: $messages messages, $size MiB"

now() { date +%s.%N; }
rate() { python3 -c "import sys; n, s = int(sys.argv[1]), float(sys.argv[2]); print(f'{s:.2f} s, {n / s:.0f} msgs/s')" "$1" "$2"; }

# shellcheck source=../lib/roost.sh
source "$root/tests/lib/roost.sh"
mkdir -p "$work/stopped" "$work/running"
# A database with user bench, then the server stopped: the CLI opens it.
roost_start "$roost" "$work/stopped" bench "a long enough password"
kill -TERM "$roost_pid"; wait "$roost_pid" 2>/dev/null || true
start=$(now)
/usr/bin/time -f "%M" -o "$work/cli.kib" \
    "$roost" import --user bench --mbox "$work/mail.mbox" --into INBOX --config "$work/stopped/roost.toml" 2>/dev/null | tail -1
echo "roost import, server stopped: $(rate "$messages" "$(echo "$(now) - $start" | bc)"), CLI peak RSS $(cat "$work/cli.kib") KiB"

roost_start "$roost" "$work/running" bench "a long enough password"
server_pid=$roost_pid
start=$(now)
/usr/bin/time -f "%M" -o "$work/cli.kib" \
    "$roost" import --user bench --mbox "$work/mail.mbox" --into INBOX --config "$work/running/roost.toml" 2>/dev/null | tail -1
echo "roost import, server running: $(rate "$messages" "$(echo "$(now) - $start" | bc)"), CLI peak RSS $(cat "$work/cli.kib") KiB"
echo "roost server peak RSS: $(grep VmHWM /proc/$server_pid/status | awk '{print $2, $3}')"
start=$(now)
"$roost" import --user bench --mbox "$work/mail.mbox" --into INBOX --config "$work/running/roost.toml" 2>/dev/null | tail -1
echo "roost import again (all skipped): $(rate "$messages" "$(echo "$(now) - $start" | bc)")"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
echo "roost database: $(du -m "$work/running/data/roost.redb" | cut -f1) MiB"

# Dovecot: a standalone doveadm configuration (no running Dovecot needed).
owner=dovebench
id "$owner" >/dev/null 2>&1 || useradd --system --no-create-home "$owner"
uid=$(id -u "$owner"); gid=$(id -g "$owner")
mkdir -p "$work/dovecot/run" "$work/dovecot/mail" "$work/dovecot/home" "$work/dovecot/src"
ln "$work/mail.mbox" "$work/dovecot/src/inbox"
cat > "$work/dovecot/dovecot.conf" <<EOF
base_dir = $work/dovecot/run
state_dir = $work/dovecot/run
mail_location = maildir:$work/dovecot/mail/%u
mail_uid = $uid
mail_gid = $gid
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$work/dovecot/home/%u
}
passdb {
  driver = static
  args = nopassword=y
}
ssl = no
EOF
chown -R "$owner" "$work/dovecot"
chmod 755 "$work"
start=$(now)
runuser -u "$owner" -- env USER=bench HOME="$work/dovecot/home" \
    doveadm -c "$work/dovecot/dovecot.conf" import "mbox:$work/dovecot/src:INBOX=$work/dovecot/src/inbox" "" all
echo "doveadm import: $(rate "$messages" "$(echo "$(now) - $start" | bc)")"
echo "dovecot maildir: $(du -sm "$work/dovecot/mail" | cut -f1) MiB, $(find "$work/dovecot/mail" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l) files"

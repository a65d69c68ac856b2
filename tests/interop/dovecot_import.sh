#!/usr/bin/env bash
# roost import of what Dovecot 2.3 writes (issue 16): doveadm saves
# messages into a Maildir (a modified UTF-7 folder, flags, keywords, a
# body line starting "From "), copies them into an mbox tree (Dovecot's
# mbox: Content-Length, nothing quoted, Status/X-Status/X-Keywords/X-UID/
# X-IMAPbase), then roost imports the Maildir with the server stopped and
# the mbox tree with it running. Per message (by Message-ID), roost's
# FLAGS, INTERNALDATE and bytes must be Dovecot's (doveadm fetch), and a
# second import must add nothing.
# Needs: cargo, python3, dovecot-core (installed with apt if missing), root
# (doveadm runs as an unprivileged user, dovebench, made if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
# Dovecot as the other scripts install it (apt, updating the package lists
# when a fresh machine has none; the system service kept off).
bash tests/bench/dovecot.sh install >/dev/null
cargo build --quiet
binary=$root/target/debug/roost
work=$(mktemp -d /tmp/roost-dovecot-import.XXXXXX)
roost_pid=""
stop_roost() {  # a clean stop (SIGTERM), so the next open needs no repair
    [ -n "$roost_pid" ] || return 0
    kill -TERM "$roost_pid" 2>/dev/null || true
    wait "$roost_pid" 2>/dev/null || true
    roost_pid=""
}
trap 'stop_roost; rm -rf "$work"' EXIT
source tests/lib/roost.sh

owner=dovebench
id "$owner" >/dev/null 2>&1 || useradd --system --no-create-home "$owner"
mkdir -p "$work/dovecot/run" "$work/dovecot/maildir" "$work/dovecot/mbox" "$work/dovecot/home"
for layout in maildir mbox; do
    case $layout in
        maildir) location="maildir:$work/dovecot/maildir" ;;
        mbox) location="mbox:$work/dovecot/mbox:INBOX=$work/dovecot/mbox/inbox" ;;
    esac
    cat > "$work/dovecot/$layout.conf" <<EOF
base_dir = $work/dovecot/run
state_dir = $work/dovecot/run
mail_location = $location
mail_uid = $owner
mail_gid = $(id -gn "$owner")
userdb {
  driver = static
  args = uid=$owner gid=$(id -gn "$owner") home=$work/dovecot/home
}
passdb {
  driver = static
  args = nopassword=y
}
ssl = no
namespace inbox {
  inbox = yes
  separator = /
}
EOF
done
chown -R "$owner" "$work/dovecot"
chmod 755 "$work"
doveadm_as() {  # LAYOUT ARGS...
    runuser -u "$owner" -- env USER=bench HOME="$work/dovecot/home" TZ=UTC \
        doveadm -c "$work/dovecot/$1.conf" "${@:2}"
}
doveadm_as maildir mailbox create "Lists/Café"
printf 'Subject: one\nMessage-ID: <1@import.test>\n\nbody\nFrom here, unquoted\n' | doveadm_as maildir save
printf 'Subject: two\r\nMessage-ID: <2@import.test>\r\n\r\nbefore\r\n\r\nFrom x Sat Jan  3 01:05:34 1996\r\n>From quoted\r\n' | doveadm_as maildir save
printf 'Subject: three\nMessage-ID: <3@import.test>\n\nc\n' | doveadm_as maildir save -m "Lists/Café"
printf 'Subject: four\nMessage-ID: <4@import.test>\n\nd\n' | doveadm_as maildir save
doveadm_as maildir flags add '\Seen \Flagged $Work' mailbox INBOX uid 1
doveadm_as maildir flags add '\Answered Todo' mailbox INBOX uid 2
doveadm_as maildir flags add '\Deleted \Draft' mailbox INBOX uid 3
doveadm_as maildir flags add 'Todo' mailbox "Lists/Café" uid 1
doveadm_as mbox import "maildir:$work/dovecot/maildir" "" all
expected="$work/expected.tsv"
doveadm_as maildir -f tab fetch 'mailbox flags date.received hdr.message-id' all > "$expected"

mkdir -p "$work/roost"
roost_start "$binary" "$work/roost" ann "ann's password" || { echo "FAIL: roost did not start"; exit 1; }
stop_roost
# The Maildir with the server stopped (the database directly) ...
"$binary" import --user ann --maildir "$work/dovecot/maildir" --config "$work/roost/roost.toml"
# ... the mbox tree through the running server.
rm -f "$work/roost/ports"
"$binary" serve --config "$work/roost/roost.toml" --ports-file "$work/roost/ports" 2>"$work/roost/roost.log" &
roost_pid=$!
roost_wait_ports "$work/roost/ports" "$roost_pid" 10 || { echo "FAIL: roost did not start again"; exit 1; }
roost_port=$(roost_port_of "$work/roost/ports" imap)
"$binary" import --user ann --mbox "$work/dovecot/mbox" --into FromMbox --config "$work/roost/roost.toml"
again=$("$binary" import --user ann --maildir "$work/dovecot/maildir" --config "$work/roost/roost.toml" 2>/dev/null)
echo "$again"
case $again in *"imported 0, skipped 4"*) ;; *) echo "FAIL: a second import added mail"; exit 1 ;; esac

python3 - "$roost_port" "$expected" "$work/dovecot/maildir" <<'PY'
import imaplib, os, sys, calendar, time
port, expected_file, maildir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
expected = {}
with open(expected_file) as f:
    next(f)
    for line in f:
        mailbox, flags, received, message_id = line.rstrip("\n").split("\t")
        flags = set(flags.split()) - {"\\Recent"}
        when = calendar.timegm(time.strptime(received, "%Y-%m-%d %H:%M:%S"))
        expected[message_id] = (mailbox, flags, when)
bodies = {}
for directory, _, files in os.walk(maildir):
    if os.path.basename(directory) in ("cur", "new"):
        for name in files:
            data = open(os.path.join(directory, name), "rb").read()
            key = [l for l in data.split(b"\n") if l.lower().startswith(b"message-id:")][0].split(b":", 1)[1].strip().decode()
            # roost stores CRLF line ends, as APPEND does.
            bodies[key] = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
def mailbox_arg(name):
    # RFC 3501 §5.1.3: modified UTF-7, level by level.
    levels = [level if level.isascii() else level.encode("utf-7").decode("ascii").replace("/", ",").replace("+", "&")
              for level in name.split("/")]
    return '"' + "/".join(levels) + '"'

client = imaplib.IMAP4("127.0.0.1", port)
client.login("ann", "ann's password")
failures = 0
for prefix in ("", "FromMbox/"):
    compared = 0
    for message_id, (mailbox, flags, when) in expected.items():
        name = prefix + mailbox
        typ, _ = client.select(mailbox_arg(name), readonly=True)
        assert typ == "OK", name
        typ, data = client.uid("SEARCH", None, "HEADER", "Message-ID", message_id)
        uids = data[0].split()
        if len(uids) != 1:
            print(f"FAIL {name} {message_id}: {len(uids)} copies"); failures += 1; continue
        typ, data = client.uid("FETCH", uids[0], "(FLAGS INTERNALDATE BODY.PEEK[])")
        meta, body = data[0][0], data[0][1]
        got_flags = {flag.decode() for flag in imaplib.ParseFlags(meta)} - {"\\Recent"}
        got_when = int(time.mktime(imaplib.Internaldate2tuple(meta)))
        if got_flags != flags:
            print(f"FAIL {name} {message_id}: flags {sorted(got_flags)}, Dovecot {sorted(flags)}"); failures += 1
        if got_when != when:
            print(f"FAIL {name} {message_id}: INTERNALDATE {got_when}, Dovecot's received date {when}"); failures += 1
        if body != bodies[message_id]:
            print(f"FAIL {name} {message_id}: bytes differ:\n{body!r}\n{bodies[message_id]!r}"); failures += 1
        compared += 1
    print(f"{prefix or '(the Maildir import) '}{compared} messages compared with Dovecot's")
client.logout()
sys.exit(1 if failures else 0)
PY
stop_roost
"$binary" check --config "$work/roost/roost.toml"
echo "dovecot import: OK"

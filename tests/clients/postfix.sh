#!/usr/bin/env bash
# Postfix 3.7 (Debian 12) delivering into roost, as the README's "How mail
# comes in" tells a home user to set it up: LMTP on roost's socket (the
# Debian chroot catch, the group), then `roost deliver` as a pipe
# transport. Every check prints PASS or FAIL; exit 1 if any failed, 2 if
# the setup failed.
#
# Changes this machine: installs postfix (no configuration) and writes its
# /etc/postfix/main.cf and master.cf, creates the system user `roostpf`
# (not `roost`: the package tests create and purge that one), runs Postfix
# on loopback only while it runs and stops it at the end. Root or
# password-less sudo. About 30 s after the install.
set -uo pipefail
cd "$(dirname "$0")/../.."
as_root=()
[[ $(id -u) -eq 0 ]] || as_root=(sudo -n)
R() { "${as_root[@]}" "$@"; }
die() { echo "SETUP FAILED: $*" >&2; exit 2; }
failures=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

if ! command -v postconf >/dev/null; then
    echo "postfix postfix/main_mailer_type select No configuration" | R debconf-set-selections
    R apt-get update -qq || true
    R env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null || die "apt-get install postfix"
fi
cargo build -q || die "cargo build"

user=roostpf
getent group $user >/dev/null || R groupadd --system $user || die "groupadd"
id $user >/dev/null 2>&1 || R useradd --system --gid $user --no-create-home --shell /usr/sbin/nologin $user || die "useradd"
R gpasswd -d postfix $user >/dev/null 2>&1 || true

work=$(mktemp -d /tmp/roost-postfix.XXXXXX)
run=/run/$user
R install -d -o $user -g $user -m 0750 "$run"
R install -m 0755 target/debug/roost "$work/roost"
cat >"$work/roost.toml" <<EOF
data_dir = "$work/data"
[imap]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
[lmtp]
socket = "$run/lmtp.sock"
[limits]
argon2_memory_kib = 64
argon2_iterations = 1
min_password_length = 1
EOF
R chown -R $user:$user "$work"
as_roost() { R setpriv --reuid=$user --regid=$user --init-groups -- "$@"; }
echo secret | as_roost "$work/roost" user add alice@home.example --config "$work/roost.toml" >/dev/null || die "user add"
# Started directly (not through a function: $! must be roost's own pid,
# setpriv execs it), its output away from the caller's pipe.
"${as_root[@]}" setpriv --reuid=$user --regid=$user --init-groups -- \
    "$work/roost" serve --config "$work/roost.toml" --ports-file "$work/ports" >/dev/null 2>"$work/roost.log" &
server=$!
cleanup() {
    R postsuper -d ALL >/dev/null 2>&1
    R postfix stop >/dev/null 2>&1
    R kill "$server" 2>/dev/null
    [[ -n ${KEEP:-} ]] || R rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do [[ -s $work/ports ]] && break; sleep 0.1; done
[[ -s $work/ports ]] || die "roost did not start: $(cat "$work/roost.log")"
imap_port=$(awk '$1 == "imap" { sub(/.*:/, "", $2); print $2 }' "$work/ports")

maillog=/var/log/postfix-roost-test.log
R rm -f $maillog
R tee /etc/postfix/main.cf >/dev/null <<EOF
compatibility_level = 3.6
myhostname = pi.home.example
mydestination = localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
maillog_file = $maillog
virtual_mailbox_domains = home.example
virtual_mailbox_maps = hash:/etc/postfix/roost-recipients
virtual_transport = lmtp:unix:$run/lmtp.sock
EOF
echo "alice@home.example ok" | R tee /etc/postfix/roost-recipients >/dev/null
R postmap /etc/postfix/roost-recipients
R cp /etc/postfix/master.cf.proto /etc/postfix/master.cf 2>/dev/null || true
grep -qE '^lmtp +unix +- +- +y' /etc/postfix/master.cf &&
    pass "Debian's master.cf runs lmtp chrooted (chroot column y)" || fail "lmtp is not chrooted in master.cf"
R postsuper -d ALL >/dev/null 2>&1
R postfix start >/dev/null 2>&1 || die "postfix start"

# Count the messages in alice's INBOX, and print message N whole.
inbox() {
    python3 - "$imap_port" "$@" <<'PY'
import imaplib, sys
port, what = int(sys.argv[1]), sys.argv[2:]
imap = imaplib.IMAP4("127.0.0.1", port)
imap.login("alice@home.example", "secret")
typ, data = imap.select("INBOX")
if what:
    typ, data = imap.fetch(what[0], "(BODY.PEEK[])")
    sys.stdout.write(data[0][1].decode())
else:
    print(int(data[0]))
imap.logout()
PY
}
send() { printf 'From: Bob <bob@example.org>\nSubject: %s\n\nhello\n' "$2" | R sendmail -f bob@example.org "$1"; }
# Waits until the mail log holds $1 (at most 20 s).
wait_log() {
    for _ in $(seq 200); do R grep -q "$1" $maillog 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

# 1. As Debian ships it: the chrooted lmtp client cannot see the socket.
send alice@home.example "chrooted"
wait_log "status=deferred.*$run/lmtp.sock.*No such file" &&
    pass "chrooted lmtp: deferred, the socket path does not exist inside /var/spool/postfix" ||
    fail "chrooted lmtp: expected a deferral for the missing socket: $(R tail -3 $maillog)"

# 2. chroot off (the README's postconf -F line) and postfix in the
# socket's group, then a restart (the README says restart: the group
# applies to processes started after it): delivered.
R postconf -F 'lmtp/unix/chroot=n'
R usermod -aG $user postfix
R postfix stop >/dev/null 2>&1
R postfix start >/dev/null 2>&1
R postqueue -f
if wait_log "lmtp\[.*status=sent (250 2.0.0 <alice@home.example> Delivered)" && [[ $(inbox) == 1 ]]; then
    pass "lmtp with chroot=n and postfix in the group: delivered (1 message in INBOX)"
else
    fail "lmtp after the group: $(R tail -3 $maillog); INBOX $(inbox)"
fi
grep -q "delivered .* from <bob@example.org> to alice@home.example" "$work/roost.log" &&
    pass "roost logged the delivery" || fail "no delivery line in roost's log"

# 3. An address roost does not know (listed for Postfix): 550 5.1.1, bounced, logged.
echo "carol@home.example ok" | R tee -a /etc/postfix/roost-recipients >/dev/null
R postmap /etc/postfix/roost-recipients
send carol@home.example "nobody"
wait_log "carol@home.example.*status=bounced.*5.1.1" &&
    pass "unknown user: Postfix bounced it with roost's 5.1.1" || fail "unknown user: $(R tail -3 $maillog)"
grep -q "refused mail from <bob@example.org> to <carol@home.example>: 550 5.1.1 User unknown" "$work/roost.log" &&
    pass "roost logged the refusal" || fail "no refusal line in roost's log: $(tail -3 "$work/roost.log")"

# 4. roost deliver as a pipe transport running as the roost user.
R tee -a /etc/postfix/master.cf >/dev/null <<EOF
$user   unix  -       n       n       -       -       pipe
  flags=DRq user=$user argv=$work/roost deliver --config $work/roost.toml --user \${recipient} -f \${sender}
EOF
R postconf -e "virtual_transport = $user" "${user}_destination_recipient_limit = 1"
R postfix reload >/dev/null 2>&1
send alice@home.example "piped"
if wait_log "status=sent.*delivered via $user service" && [[ $(inbox) == 2 ]]; then
    pass "pipe transport: delivered (2 messages in INBOX)"
else
    fail "pipe transport: $(R tail -3 $maillog); INBOX $(inbox)"
fi
message=$(inbox 2)
[[ $(grep -c '^Return-Path:' <<<"$message") == 1 ]] && grep -q '^Return-Path: <bob@example.org>' <<<"$message" &&
    pass "pipe transport: one Return-Path (Postfix's R flag prepended one; roost deliver took it out)" ||
    fail "pipe transport: Return-Paths: $(grep '^Return-Path:' <<<"$message")"
! grep -q '^From ' <<<"$message" && pass "pipe transport: no mbox From line stored" || fail "a From line was stored"
send carol@home.example "piped nobody"
wait_log "carol@home.example.*status=bounced.*$user" &&
    pass "pipe transport: unknown user bounced (exit 67)" || fail "pipe unknown user: $(R tail -3 $maillog)"

R gpasswd -d postfix $user >/dev/null 2>&1 || true
echo
if ((failures)); then
    echo "$failures check(s) failed; Postfix log: $maillog"
    exit 1
fi
echo "all Postfix checks passed"

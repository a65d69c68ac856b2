#!/usr/bin/env bash
# Real IMAP clients against a freshly started roost, over TLS on loopback:
# mbsync (isync), offlineimap3, Python's imapclient and Node's ImapFlow,
# also in shared folders (shared.sh).
# See README.md here.
#
#   bash tests/clients/run.sh
#
# Installs what is missing first: the Debian packages isync, offlineimap3,
# python3-venv, nodejs and npm (apt, as root or with password-less sudo),
# imapclient from PyPI into the virtualenv target/clients-venv, and imapflow
# from npm into target/clients-node.
# Prints one PASS/FAIL line per check and a summary; exits 1 if any check
# failed, 2 if the setup failed. Every client run is bounded by `timeout`.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
root=$(pwd)
started=$SECONDS

die() {
    echo "clients: $*" >&2
    exit 2
}

# ------------------------------------------------------------------ install

as_root=()
if [ "$(id -u)" != 0 ]; then as_root=(sudo -n); fi
system_python=/usr/bin/python3
[ -x "$system_python" ] || system_python=$(command -v python3) || die "python3 is missing"
packages=()
command -v mbsync >/dev/null 2>&1 || packages+=(isync)
# offlineimap3 is Debian 12's name; "offlineimap" is only a transitional package.
command -v offlineimap >/dev/null 2>&1 || packages+=(offlineimap3)
# Debian's python3 has venv but not ensurepip unless python3-venv is installed.
"$system_python" -c 'import ensurepip, venv' >/dev/null 2>&1 || packages+=(python3-venv)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
if [ ${#packages[@]} -gt 0 ]; then
    if [ ${#as_root[@]} -gt 0 ]; then
        sudo -n true 2>/dev/null || die "installing ${packages[*]} needs root (or password-less sudo)"
    fi
    echo "clients: installing ${packages[*]} with apt" >&2
    apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q)
    if ! "${apt[@]}" install --no-install-recommends "${packages[@]}" >&2; then
        "${apt[@]}" update >&2 || die "apt-get update failed"
        "${apt[@]}" install --no-install-recommends "${packages[@]}" >&2 || die "apt-get install ${packages[*]} failed"
    fi
fi
command -v mbsync >/dev/null 2>&1 || die "mbsync still missing"
command -v offlineimap >/dev/null 2>&1 || die "offlineimap still missing"

# Debian 12's pip refuses to install into the system Python: a virtualenv.
venv=$root/target/clients-venv
py=$venv/bin/python
if ! "$py" -c 'import imapclient' >/dev/null 2>&1; then
    echo "clients: installing imapclient into $venv" >&2
    rm -rf "$venv"
    mkdir -p "$root/target"
    "$system_python" -m venv "$venv" || die "python3 -m venv failed"
    timeout 600 "$py" -m pip install --quiet --disable-pip-version-check "imapclient==3.0.1" >&2 ||
        die "pip install imapclient failed"
fi
# ImapFlow, pinned, in a directory of its own (no package.json in the repo).
node_dir=$root/target/clients-node
if [ ! -d "$node_dir/node_modules/imapflow" ]; then
    echo "clients: installing imapflow into $node_dir" >&2
    mkdir -p "$node_dir"
    timeout 600 npm install --silent --no-audit --no-fund --prefix "$node_dir" "imapflow@1.7.8" >&2 ||
        die "npm install imapflow failed"
fi
installed=$SECONDS

timeout 3600 cargo build --release --quiet || die "cargo build failed"
binary=$root/target/release/roost
built=$SECONDS
export PYTHONDONTWRITEBYTECODE=1

# ------------------------------------------------------------------ server

work=$(mktemp -d /tmp/roost-clients.XXXXXX)
roost_pid="" idle_pid=""
cleanup() {
    if [ -n "$idle_pid" ]; then kill "$idle_pid" 2>/dev/null; wait "$idle_pid" 2>/dev/null; fi
    if [ -n "$roost_pid" ]; then kill -TERM "$roost_pid" 2>/dev/null; wait "$roost_pid" 2>/dev/null; fi
    if [ -n "${KEEP:-}" ]; then echo "clients: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

user=grandpa
password="correct horse battery staple"
source "$root/tests/lib/roost.sh"
roost_start "$binary" "$work" "$user" "$password" || die "roost did not start"
tls_port=$roost_tls_port
cert=$work/data/tls/cert.pem

# The self-signed certificate roost writes names "localhost" (the default of
# [tls] hostnames), and nothing else: every client connects by that name and
# verifies the certificate against cert.pem.
export ROOST_HOST=localhost ROOST_PORT=$tls_port ROOST_CA=$cert ROOST_USER=$user ROOST_PASSWORD=$password
imapq() { timeout 60 "$py" "$here/imap.py" "$@"; }

passed=0 failed=0 failures=()
pass() {
    echo "PASS: $*"
    passed=$((passed + 1))
}
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
    failures+=("$*")
}
# expect WHAT GOT WANTED
expect() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (expected '$3', got '$2')"; fi
}
# run_checks WHAT COMMAND...: runs a checker script, counting the PASS/FAIL
# lines it prints (other lines are shown as they are).
run_checks() {
    local what=$1 line
    shift
    while IFS= read -r line; do
        case "$line" in
        PASS:*) pass "${line#PASS: }" ;;
        FAIL:*) fail "${line#FAIL: }" ;;
        *) echo "$line" ;;
        esac
    done < <("$@" 2>&1 || echo "FAIL: $what: the script exited with $?")
}
# has_flag "FLAG LIST" FLAG
has_flag() { [[ " $1 " == *" $2 "* ]]; }

# deliver MAILBOX FILE...
# The ONE way this script puts new mail into grandpa's mailboxes (seed, the
# "new mail" checks, the IDLE wake-up). Mail for INBOX arrives the way an
# MTA hands it over: `roost deliver`, an LMTP client of the server's own
# socket (LMTP always delivers to INBOX). Other folders get it by IMAP
# APPEND through imapclient, as a filtering client would file it.
deliver() {
    local mailbox=$1 file
    shift
    if [ "$mailbox" != INBOX ]; then
        imapq append "$mailbox" "$@"
        return
    fi
    for file in "$@"; do
        timeout 30 "$binary" deliver --user "$user" --from family@clients.roost.test \
            --config "$work/roost.toml" <"$file" || return 1
        # What the mailbox holds from now on: the message with the two trace
        # fields LMTP delivery adds in front (later checks compare with it).
        { printf 'Return-Path: <family@clients.roost.test>\r\nDelivered-To: %s\r\n' "$user"; cat "$file"; } >"$file.delivered"
        mv "$file.delivered" "$file"
    done
}

# Maildir helpers. ID is the Message-ID's local part (see corpus.py).
maildir_file() { grep -lF -- "<$2@clients.roost.test>" "$1"/cur/* "$1"/new/* 2>/dev/null | head -n1; }
maildir_count() { find "$1/cur" "$1/new" -type f 2>/dev/null | wc -l; }
maildir_flags() {
    local file name
    file=$(maildir_file "$1" "$2")
    [ -n "$file" ] || { echo MISSING; return; }
    name=$(basename "$file")
    [[ "$name" == *:2,* ]] && echo "${name##*:2,}" || echo ""
}
# set_maildir_flags DIR ID FLAGS: what a mail program does (move to cur/, new info).
set_maildir_flags() {
    local file name
    file=$(maildir_file "$1" "$2")
    [ -n "$file" ] || { fail "no local file for $2 in $1"; return; }
    name=$(basename "$file")
    mv "$file" "$1/cur/${name%%:2,*}:2,$3"
}
# same_message LOCAL ORIGINAL: the Maildir file is the original message, byte
# for byte, except for what the clients do on purpose: both store LF line
# ends (Maildir is a Unix format; the originals have CRLF), and mbsync adds
# one header field, X-TUID (its own temporary id), to the messages it stores.
as_stored() { tr -d '\r' <"$1" | sed '/^$/,$!{/^X-TUID: /d}'; }
same_message() { cmp -s <(as_stored "$1") <(as_stored "$2"); }
# put_local DIR ID: a message written locally (as a mail program files a
# sent copy): the original with LF line ends, into DIR/new/.
put_local() { tr -d '\r' <"$corpus/$2.eml" >"$1/new/$(date +%s).$$_$2.$(hostname)"; }
# uploaded WHAT MAILBOX ID: the message a client APPENDed is on the server, intact.
uploaded() {
    imapq body "$2" "$3" >"$work/$3.server" 2>/dev/null
    if [ -s "$work/$3.server" ] && same_message "$work/$3.server" "$corpus/$3.eml"; then
        pass "$1: a local new message was uploaded to $2 intact"
    else
        fail "$1: the local new message $3 is not on the server in $2, or changed"
    fi
}
# all_exact WHAT MAILDIR...: every message in the Maildirs is its original.
all_exact() {
    local what=$1 file id total=0 changed=()
    shift
    for file in $(find "$@" -path '*/cur/*' -type f -o -path '*/new/*' -type f); do
        total=$((total + 1))
        id=$(sed -n 's/^Message-ID: <\(.*\)@clients\.roost\.test>.*/\1/p' "$file" | tr -d '\r' | head -n1)
        [ -n "$id" ] && same_message "$file" "$corpus/$id.eml" || changed+=("${id:-$file}")
    done
    if [ "$total" -gt 0 ] && [ ${#changed[@]} = 0 ]; then
        pass "$what: all $total local messages are their originals"
    else
        fail "$what: of $total local messages these arrived changed: ${changed[*]:-}"
    fi
}

# ------------------------------------------------------------------ 1. seed

corpus=$work/corpus
"$py" "$here/corpus.py" "$corpus" || die "corpus.py failed"
imapq create Holidays || die "cannot CREATE Holidays"
deliver INBOX "$corpus"/INBOX-*.eml && deliver Holidays "$corpus"/Family-*.eml || die "seeding failed"
expect "seed: INBOX has 14 messages" "$(imapq count INBOX)" 14
expect "seed: Holidays has 6 messages" "$(imapq count Holidays)" 6
imapq body INBOX INBOX-03 >"$work/INBOX-03.server"
if cmp -s "$work/INBOX-03.server" "$corpus/INBOX-03.eml"; then
    pass "seed: the non-ASCII-subject message reads back byte-exact"
else
    fail "seed: the non-ASCII-subject message reads back changed"
fi

# ------------------------------------------------------------------ 2. mbsync

mb=$work/mbsync
mkdir -p "$mb"
cat >"$work/mbsyncrc" <<CONFIG
IMAPAccount roost
Host localhost
Port $tls_port
User $user
Pass "$password"
SSLType IMAPS
CertificateFile $cert

IMAPStore roost-far
Account roost

MaildirStore local
Path $mb/
Inbox $mb/INBOX
SubFolders Verbatim

Channel roost
Far :roost-far:
Near :local:
Patterns INBOX Holidays
Create Near
# Deletions go both ways and are expunged on both sides at once.
Expunge Both
Sync All
SyncState *
CONFIG
mbsync_sync() {
    echo "== mbsync $*" >>"$work/mbsync.log"
    timeout 60 mbsync -c "$work/mbsyncrc" roost >>"$work/mbsync.log" 2>&1
}
mbsync_failed() {
    fail "mbsync $1 (exit $2); log:"
    tail -n 15 "$work/mbsync.log" | sed 's/^/    /'
}

if mbsync_sync first; then pass "mbsync: first sync"; else mbsync_failed "first sync" $?; fi
expect "mbsync: INBOX has 14 local messages" "$(maildir_count "$mb/INBOX")" 14
expect "mbsync: Holidays has 6 local messages" "$(maildir_count "$mb/Holidays")" 6
file=$(maildir_file "$mb/INBOX" INBOX-03)
if [ -n "$file" ] && grep -qF "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen_=E2=98=80?=" "$file"; then
    pass "mbsync: the non-ASCII subject arrived intact"
else
    fail "mbsync: the non-ASCII subject did not arrive intact (${file:-no file})"
fi
if [ -n "$file" ] && same_message "$file" "$corpus/INBOX-03.eml"; then
    pass "mbsync: a multipart message arrived byte-exact"
else
    fail "mbsync: INBOX-03 arrived changed: $(diff <(as_stored "$corpus/INBOX-03.eml") <(as_stored "${file:-/dev/null}") | head -c 600)"
fi
all_exact mbsync "$mb/INBOX" "$mb/Holidays"
file=$(maildir_file "$mb/Holidays" Family-02)
if [ -n "$file" ] && same_message "$file" "$corpus/Family-02.eml"; then
    pass "mbsync: a base64 attachment in Holidays arrived byte-exact"
else
    fail "mbsync: Family-02 arrived changed: $(diff <(as_stored "$corpus/Family-02.eml") <(as_stored "${file:-/dev/null}") | head -c 600)"
fi

# Flags, near (local) to far (server).
set_maildir_flags "$mb/INBOX" INBOX-01 S
set_maildir_flags "$mb/INBOX" INBOX-02 F
if mbsync_sync local flags; then pass "mbsync: sync of local flags"; else mbsync_failed "sync of local flags" $?; fi
flags=$(imapq flags INBOX INBOX-01)
has_flag "$flags" '\Seen' && pass "mbsync: local :2,S became \\Seen on the server" ||
    fail "mbsync: local :2,S did not become \\Seen on the server (flags: $flags)"
flags=$(imapq flags INBOX INBOX-02)
has_flag "$flags" '\Flagged' && pass "mbsync: local :2,F became \\Flagged on the server" ||
    fail "mbsync: local :2,F did not become \\Flagged on the server (flags: $flags)"

# Flags, far to near.
imapq store INBOX INBOX-04 '\Flagged' '\Seen'
if mbsync_sync server flags; then pass "mbsync: sync of server flags"; else mbsync_failed "sync of server flags" $?; fi
expect "mbsync: server \\Flagged \\Seen became :2,FS locally" "$(maildir_flags "$mb/INBOX" INBOX-04)" FS

# Deletions both ways.
rm -f "$(maildir_file "$mb/INBOX" INBOX-06)"
imapq expunge INBOX INBOX-07
if mbsync_sync deletions; then pass "mbsync: sync of deletions"; else mbsync_failed "sync of deletions" $?; fi
expect "mbsync: a locally deleted message is gone from the server" "$(imapq flags INBOX INBOX-06)" MISSING
expect "mbsync: a message expunged on the server is gone locally" "$(maildir_flags "$mb/INBOX" INBOX-07)" MISSING
expect "mbsync: server INBOX has 12 messages" "$(imapq count INBOX)" 12
expect "mbsync: local INBOX has 12 messages" "$(maildir_count "$mb/INBOX")" 12

# New mail, both ways.
deliver INBOX "$corpus/new-01.eml"
deliver Holidays "$corpus/new-02.eml"
put_local "$mb/INBOX" new-05
if mbsync_sync new mail; then pass "mbsync: sync of new mail"; else mbsync_failed "sync of new mail" $?; fi
[ -n "$(maildir_file "$mb/INBOX" new-01)" ] && pass "mbsync: new mail in INBOX arrived" ||
    fail "mbsync: new mail in INBOX did not arrive"
[ -n "$(maildir_file "$mb/Holidays" new-02)" ] && pass "mbsync: new mail in Holidays arrived" ||
    fail "mbsync: new mail in Holidays did not arrive"
uploaded mbsync INBOX new-05

# ------------------------------------------------------------------ 3. offlineimap

oi=$work/offlineimap
mkdir -p "$oi/mail" "$oi/meta"
# offlineimap3 (Debian 12: 8.0.0 on Python 3.11, imaplib2) takes this as it
# is: with sslcacertfile it verifies the chain and checks remotehost against
# the certificate itself, so remotehost must be "localhost" too. It uses
# UIDPLUS (APPENDUID) when the server offers it, and then does not add its
# X-OfflineIMAP header to uploaded messages. -o: one sync, no loop; -u
# basic: no curses UI (there is no terminal under CI).
cat >"$work/offlineimaprc" <<CONFIG
[general]
accounts = roost
metadata = $oi/meta

[Account roost]
localrepository = local
remoterepository = far

[Repository local]
type = Maildir
localfolders = $oi/mail

[Repository far]
type = IMAP
remotehost = localhost
remoteport = $tls_port
remoteuser = $user
remotepass = $password
ssl = yes
sslcacertfile = $cert
folderfilter = lambda name: name in ["INBOX", "Holidays"]
maxconnections = 1
CONFIG
offlineimap_sync() {
    echo "== offlineimap $*" >>"$work/offlineimap.log"
    timeout 90 offlineimap -c "$work/offlineimaprc" -o -u basic >>"$work/offlineimap.log" 2>&1
}
offlineimap_failed() {
    fail "offlineimap $1 (exit $2); log:"
    tail -n 15 "$work/offlineimap.log" | sed 's/^/    /'
}

if offlineimap_sync first; then pass "offlineimap: first sync"; else offlineimap_failed "first sync" $?; fi
expect "offlineimap: INBOX has as many messages as the server" "$(maildir_count "$oi/mail/INBOX")" "$(imapq count INBOX)"
expect "offlineimap: Holidays has as many messages as the server" "$(maildir_count "$oi/mail/Holidays")" "$(imapq count Holidays)"
file=$(maildir_file "$oi/mail/INBOX" INBOX-03)
if [ -n "$file" ] && same_message "$file" "$corpus/INBOX-03.eml"; then
    pass "offlineimap: a multipart message arrived byte-exact"
else
    fail "offlineimap: INBOX-03 arrived changed: $(diff <(as_stored "$corpus/INBOX-03.eml") <(as_stored "${file:-/dev/null}") | head -c 600)"
fi
all_exact offlineimap "$oi/mail/INBOX" "$oi/mail/Holidays"

set_maildir_flags "$oi/mail/INBOX" INBOX-08 S
set_maildir_flags "$oi/mail/INBOX" INBOX-10 F
imapq store INBOX INBOX-11 '\Flagged' '\Seen'
if offlineimap_sync flags; then pass "offlineimap: sync of flags"; else offlineimap_failed "sync of flags" $?; fi
flags=$(imapq flags INBOX INBOX-08)
has_flag "$flags" '\Seen' && pass "offlineimap: local :2,S became \\Seen on the server" ||
    fail "offlineimap: local :2,S did not become \\Seen on the server (flags: $flags)"
flags=$(imapq flags INBOX INBOX-10)
has_flag "$flags" '\Flagged' && pass "offlineimap: local :2,F became \\Flagged on the server" ||
    fail "offlineimap: local :2,F did not become \\Flagged on the server (flags: $flags)"
expect "offlineimap: server \\Flagged \\Seen became :2,FS locally" "$(maildir_flags "$oi/mail/INBOX" INBOX-11)" FS

rm -f "$(maildir_file "$oi/mail/INBOX" INBOX-13)"
imapq expunge Holidays Family-03
if offlineimap_sync deletions; then pass "offlineimap: sync of deletions"; else offlineimap_failed "sync of deletions" $?; fi
expect "offlineimap: a locally deleted message is gone from the server" "$(imapq flags INBOX INBOX-13)" MISSING
expect "offlineimap: a message expunged on the server is gone locally" "$(maildir_flags "$oi/mail/Holidays" Family-03)" MISSING

deliver INBOX "$corpus/new-03.eml"
put_local "$oi/mail/Holidays" new-06
if offlineimap_sync new mail; then pass "offlineimap: sync of new mail"; else offlineimap_failed "sync of new mail" $?; fi
[ -n "$(maildir_file "$oi/mail/INBOX" new-03)" ] && pass "offlineimap: new mail in INBOX arrived" ||
    fail "offlineimap: new mail in INBOX did not arrive"
uploaded offlineimap Holidays new-06
expect "offlineimap: INBOX still matches the server" "$(maildir_count "$oi/mail/INBOX")" "$(imapq count INBOX)"

# ------------------------------------------------------------------ 4. IDLE

caps=$(imapq caps)
has_flag "$caps" IDLE && pass "imapclient: IDLE is advertised" || fail "imapclient: no IDLE in capabilities: $caps"
ready=$work/idle.ready
timeout 40 "$py" "$here/imap.py" idle INBOX "$ready" 10 >"$work/idle.out" 2>&1 &
idle_pid=$!
for _ in $(seq 200); do
    [ -e "$ready" ] || ! kill -0 "$idle_pid" 2>/dev/null && break
    sleep 0.1
done
if [ -e "$ready" ]; then
    deliver INBOX "$corpus/new-04.eml"
    if wait "$idle_pid"; then
        pass "imapclient: the idling client got EXISTS ($(cat "$work/idle.out"))"
    else
        fail "imapclient: the idling client got no EXISTS within 10 s: $(cat "$work/idle.out")"
    fi
else
    wait "$idle_pid"
    fail "imapclient: IDLE did not start: $(cat "$work/idle.out")"
fi
idle_pid=""

# ------------------------------------------------------------------ 5. ImapFlow

# CONDSTORE/QRESYNC as ImapFlow uses them (an idling watcher told of another
# device's flag change and deletion, a resync with SELECT QRESYNC and FETCH
# CHANGEDSINCE), with whatever it turns on by itself (ENABLE, COMPRESS).
run_checks imapflow env NODE_PATH="$node_dir" timeout 120 node "$here/imapflow.mjs"

# ------------------------------------------------------------------ 6. shared folders

# A second pair of users (mom shares, dad reads), Family/ folders, NAMESPACE
# and the ACL commands through imapclient, ImapFlow and mbsync.
source "$here/shared.sh"

# ------------------------------------------------------------------ stop, check

kill -TERM "$roost_pid"
for _ in $(seq 100); do
    kill -0 "$roost_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$roost_pid" 2>/dev/null; then
    fail "roost did not stop within 10 s of SIGTERM"
else
    wait "$roost_pid"
    roost_pid=""
    if timeout 60 "$binary" check --config "$work/roost.toml" >"$work/check.out" 2>&1; then
        pass "roost check after the run"
    else
        fail "roost check after the run: $(cat "$work/check.out")"
    fi
fi

echo
echo "clients: $passed passed, $failed failed; installs $((installed - started)) s, build $((built - installed)) s, tests $((SECONDS - built)) s"
if [ "$failed" -gt 0 ]; then
    printf '  FAILED: %s\n' "${failures[@]}"
    if grep -qiE "warn|error" "$work/roost.log"; then
        echo "  server log (warnings and errors):"
        grep -iE "warn|error" "$work/roost.log" | tail -n 20 | sed 's/^/    /'
    fi
    exit 1
fi

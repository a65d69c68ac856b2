# Shared folders (issue 15) with real clients: sourced by run.sh after its
# own checks, while roost still runs; uses run.sh's variables ($binary,
# $work, $py, $here, $node_dir, $tls_port, $cert, $corpus) and helpers
# (pass, fail, expect, run_checks, imapq, the Maildir helpers). See
# README.md here.

owner=mom owner_password="lemon tart on sunday"
grantee=dad grantee_password="rake the leaves today"
for pair in "$owner:$owner_password" "$grantee:$grantee_password"; do
    printf '%s\n' "${pair#*:}" | timeout 30 "$binary" user add "${pair%%:*}" --config "$work/roost.toml" >/dev/null ||
        die "roost user add ${pair%%:*} failed"
done
as_owner() { ROOST_USER=$owner ROOST_PASSWORD=$owner_password imapq "$@"; }
as_grantee() { ROOST_USER=$grantee ROOST_PASSWORD=$grantee_password imapq "$@"; }

as_owner create Bills && as_owner create Diary || die "cannot CREATE mom's Bills and Diary"
as_owner append Bills "$corpus"/Family-0{4,5,6}.eml && as_owner append Diary "$corpus/new-01.eml" ||
    die "cannot APPEND into mom's Bills and Diary"
timeout 30 "$binary" public create Newsletter --for anyone:p --config "$work/roost.toml" >/dev/null ||
    die "roost public create Newsletter failed"
for id in INBOX-12 INBOX-14; do
    timeout 30 "$binary" deliver --mailbox Family/Newsletter --config "$work/roost.toml" <"$corpus/$id.eml" ||
        die "roost deliver --mailbox Family/Newsletter failed"
done
timeout 30 "$binary" deliver --user "$grantee" --config "$work/roost.toml" <"$corpus/new-02.eml" ||
    die "roost deliver --user $grantee failed"
expect "shared: Family/Newsletter got 2 messages from roost deliver --mailbox" \
    "$(as_grantee count Family/Newsletter)" 2

# NAMESPACE, the ACL commands, the grantee's listing and SELECT, per-user \Seen.
run_checks "imapclient shared" timeout 60 "$py" "$here/shared.py" \
    "$owner" "$owner_password" "$grantee" "$grantee_password"
# ImapFlow's namespaces and list(); an idling owner told of the grantee's APPEND and flag.
run_checks "imapflow shared" env NODE_PATH="$node_dir" timeout 60 node "$here/shared.mjs" \
    "$owner" "$owner_password" "$grantee" "$grantee_password"

# mbsync as the grantee: one channel for mom's shared folders, one for the
# grantee's own (the personal-backup pattern of README.md).
mbs=$work/mbsync-shared
mkdir -p "$mbs/shared" "$mbs/personal"
cat >"$work/mbsyncrc-shared" <<CONFIG
IMAPAccount grantee
Host localhost
Port $tls_port
User $grantee
Pass "$grantee_password"
SSLType IMAPS
CertificateFile $cert

IMAPStore grantee-far
Account grantee

MaildirStore shared-local
Path $mbs/shared/
Inbox $mbs/shared/INBOX
SubFolders Verbatim

MaildirStore personal-local
Path $mbs/personal/
Inbox $mbs/personal/INBOX
SubFolders Verbatim

Channel shared
Far :grantee-far:
Near :shared-local:
Patterns Shared/$owner/*
Create Near
Sync All
SyncState *

Channel personal
Far :grantee-far:
Near :personal-local:
Patterns * !Shared/* !Family/*
Create Near
Sync All
SyncState *
CONFIG
# local_folders DIR: the Maildir folders under DIR (relative paths), sorted, on one line.
local_folders() { (cd "$1" && find . -type d -name cur | sed 's|^\./||; s|/cur$||' | sort | tr '\n' ' ' | sed 's/ $//'); }
mbsync_channel() {
    echo "== mbsync $1" >>"$work/mbsync-shared.log"
    timeout 60 mbsync -c "$work/mbsyncrc-shared" "$1" >>"$work/mbsync-shared.log" 2>&1
}
mbsync_shared_failed() {
    fail "mbsync shared: $1 (exit $2); log:"
    tail -n 15 "$work/mbsync-shared.log" | sed 's/^/    /'
}

bills=$mbs/shared/Shared/$owner/Bills
if mbsync_channel shared; then pass "mbsync shared: Patterns Shared/$owner/* syncs"; else mbsync_shared_failed "Patterns Shared/$owner/*" $?; fi
expect "mbsync shared: only Shared/$owner/Bills is synced" "$(local_folders "$mbs/shared")" "Shared/$owner/Bills"
expect "mbsync shared: Shared/$owner/Bills has as many messages as mom's Bills" \
    "$(maildir_count "$bills")" "$(as_owner count Bills)"
file=$(maildir_file "$bills" Family-05)
if [ -n "$file" ] && same_message "$file" "$corpus/Family-05.eml"; then
    pass "mbsync shared: a message of the shared folder arrived byte-exact"
else
    fail "mbsync shared: Family-05 arrived changed or not at all (${file:-no file})"
fi
# The grantee's flags: their own \Seen (shared.py) and \Flagged (shared.mjs),
# not the owner's \Seen on Family-05.
expect "mbsync shared: the grantee's private \\Seen arrives as :2,S" "$(maildir_flags "$bills" Family-04)" S
expect "mbsync shared: the owner's \\Seen does not reach the grantee" "$(maildir_flags "$bills" Family-05)" ""
expect "mbsync shared: the grantee's appended message is :2,FS" "$(maildir_flags "$bills" shared-append)" FS

if mbsync_channel personal; then pass "mbsync shared: Patterns * !Shared/* !Family/* syncs"; else mbsync_shared_failed "Patterns * !Shared/* !Family/*" $?; fi
expect "mbsync shared: Patterns * !Shared/* !Family/* syncs exactly the grantee's own folders" \
    "$(local_folders "$mbs/personal")" "Archive Drafts INBOX Junk Sent Trash"
expect "mbsync shared: the grantee's INBOX has its 1 message" "$(maildir_count "$mbs/personal/INBOX")" 1

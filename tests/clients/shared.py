"""Shared folders through imapclient: NAMESPACE, the ACL commands, a
grantee's view of another user's folder and of a Family/ folder, and
per-user \\Seen. Run by tests/clients/run.sh (see shared.sh, which seeds).

Usage: shared.py OWNER OWNER_PASSWORD GRANTEE GRANTEE_PASSWORD
(ROOST_HOST, ROOST_PORT, ROOST_CA in the environment)

What shared.sh has set up before: OWNER's Bills holds Family-04, Family-05
and Family-06, OWNER's Diary holds new-01 and is shared with nobody, and
Family/Newsletter (authenticated:lrs, anyone:p) holds INBOX-12 and
INBOX-14. This script gives GRANTEE lrswi on Bills with SETACL (what a
client's Sharing tab sends); later checks (ImapFlow, mbsync) rely on it.
Leaves GRANTEE's \\Seen on Family-04 and OWNER's on Family-05.

Prints one PASS/FAIL line per check; exits 1 if one failed.
"""
import os
import sys

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from imapclient.response_parser import parse_response

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from imapwire import tls_context  # noqa: E402

SEEN = b"\\Seen"
failed = 0


def check(what, ok, detail=""):
    global failed
    if ok:
        print(f"PASS: imapclient shared: {what}")
    else:
        failed += 1
        print(f"FAIL: imapclient shared: {what}" + (f" ({detail})" if detail else ""))


def connect(user, password):
    client = IMAPClient(
        os.environ["ROOST_HOST"], port=int(os.environ["ROOST_PORT"]), ssl=True,
        ssl_context=tls_context(os.environ["ROOST_CA"]), timeout=30,
    )
    client.login(user, password)
    return client


def names(client):
    return {name for _flags, _delimiter, name in client.list_folders()}


def uid_of(client, ident):
    uids = client.search(["HEADER", "Message-ID", f"<{ident}@clients.roost.test>"])
    return uids[0] if len(uids) == 1 else None


def flags_of(client, mailbox, ident):
    """The flags the client sees on the message, freshly selected."""
    client.select_folder(mailbox)
    uid = uid_of(client, ident)
    return set(client.get_flags([uid])[uid]) if uid else None


def rights_set(text):
    return set(text.decode() if isinstance(text, bytes) else text)


def myrights(client, mailbox):
    # imaplib (under imapclient) has MYRIGHTS: `* MYRIGHTS mailbox rights`.
    data = client._command_and_check("myrights", client._normalise_folder(mailbox))
    parsed = parse_response(data)
    return parsed[-1]


def select_error(client, mailbox):
    try:
        client.select_folder(mailbox)
    except IMAPClientError as error:
        return str(error)
    return None


def main():
    owner_name, owner_password, grantee_name, grantee_password = sys.argv[1:5]
    owner = connect(owner_name, owner_password)
    grantee = connect(grantee_name, grantee_password)

    caps = {cap.upper() for cap in grantee.capabilities()}
    check("ACL and RIGHTS=texk advertised", b"ACL" in caps and b"RIGHTS=TEXK" in caps,
          b" ".join(sorted(caps)).decode())

    # RFC 2342: personal "", other users "Shared/", shared "Family/".
    ns = grantee.namespace()

    def pairs(section):
        return [(prefix, sep) for prefix, sep in section or ()]
    check("namespace() parses personal \"\" with /", pairs(ns.personal) == [("", "/")], repr(ns.personal))
    check("namespace() parses other users \"Shared/\" with /", pairs(ns.other) == [("Shared/", "/")], repr(ns.other))
    check("namespace() parses shared \"Family/\" with /", pairs(ns.shared) == [("Family/", "/")], repr(ns.shared))

    bills = f"Shared/{owner_name}/Bills"
    diary = f"Shared/{owner_name}/Diary"
    before = names(grantee)
    check(f"before SETACL the grantee does not list {bills}", bills not in before, sorted(before))

    # The owner shares Bills as a client's Sharing tab does.
    try:
        owner.setacl("Bills", grantee_name, "lrswi")
        acl = {who.decode(): rights_set(what) for who, what in owner.getacl("Bills")}
        check(f"setacl, then getacl shows {grantee_name} lrswi", acl.get(grantee_name) == set("lrswi"), repr(acl))
    except IMAPClientError as error:
        check("setacl/getacl", False, str(error))
    try:
        # LISTRIGHTS is not in imapclient nor imaplib: raw, answers
        # `* LISTRIGHTS mailbox identifier required optional...` (RFC 4314 §3.7).
        data = owner._raw_command_untagged(b"LISTRIGHTS", [b"Bills", grantee_name.encode()], uid=False)
        parsed = parse_response(data)
        check("listrights answers for the mailbox and the identifier, with rights groups",
              len(parsed) >= 3 and parsed[0] == b"Bills" and parsed[1] == grantee_name.encode()
              and "l" in "".join(p.decode() if isinstance(p, bytes) else str(p) for p in parsed[2:]),
              repr(parsed))
    except IMAPClientError as error:
        check("listrights", False, str(error))
    try:
        mine = myrights(owner, "Bills")
        # RFC 4314 §2.1.1: the obsolete c and d may be added for old clients.
        check("myrights: the owner holds every right (lrswipkxtea)",
              set("lrswipkxtea") <= rights_set(mine) <= set("lrswipkxteacd"), repr(mine))
        theirs = myrights(grantee, bills)
        check(f"myrights: the grantee holds lrswi on {bills}", rights_set(theirs) == set("lrswi"), repr(theirs))
        public = myrights(grantee, "Family/Newsletter")
        check("myrights: the grantee holds lrs + p on Family/Newsletter", rights_set(public) == set("lrsp"),
              repr(public))
    except IMAPClientError as error:
        check("myrights", False, str(error))

    after = names(grantee)
    check(f"list_folders() shows {bills} to the grantee", bills in after, sorted(after))
    check("list_folders() shows Family/Newsletter to the grantee", "Family/Newsletter" in after, sorted(after))
    check(f"list_folders() does not show the unshared {diary}", diary not in after, sorted(after))
    # Rule V: a mailbox not shared is as absent as one never created.
    hidden = select_error(grantee, diary)
    missing = select_error(grantee, f"Shared/{owner_name}/Nonexistent")
    check(f"SELECT {diary} fails as for a mailbox never created",
          hidden is not None and missing is not None
          and hidden.replace("Diary", "X") == missing.replace("Nonexistent", "X"),
          f"{hidden!r} vs {missing!r}")

    # The grantee reads Bills and keeps their own \Seen.
    info = grantee.select_folder(bills)
    check(f"the grantee selects {bills} (3 messages)", info.get(b"EXISTS") == 3, repr(info))
    fetched = grantee.fetch("1:*", ["UID", "FLAGS", "RFC822.SIZE", "ENVELOPE", "BODY.PEEK[]"])
    check("the grantee fetches every message with envelope and body",
          len(fetched) == 3 and all(item.get(b"ENVELOPE") and item.get(b"BODY[]") for item in fetched.values()),
          repr(sorted(fetched)))
    uid = uid_of(grantee, "Family-04")
    if uid:
        grantee.add_flags([uid], [SEEN])
    grantee_flags = flags_of(grantee, bills, "Family-04")
    check("the grantee's \\Seen on Family-04 sticks for the grantee", grantee_flags is not None and SEEN in grantee_flags,
          repr(grantee_flags))
    owner_flags = flags_of(owner, "Bills", "Family-04")
    check("the owner's \\Seen on Family-04 stays unset (per-user \\Seen)",
          owner_flags is not None and SEEN not in owner_flags, repr(owner_flags))
    owner.select_folder("Bills")
    uid = uid_of(owner, "Family-05")
    if uid:
        owner.add_flags([uid], [SEEN])
    grantee_flags = flags_of(grantee, bills, "Family-05")
    check("the owner's \\Seen on Family-05 does not show to the grantee",
          grantee_flags is not None and SEEN not in grantee_flags, repr(grantee_flags))

    # Family/Newsletter: owned by nobody, every reader's \Seen is their own.
    info = grantee.select_folder("Family/Newsletter")
    check("the grantee selects Family/Newsletter (2 messages)", info.get(b"EXISTS") == 2, repr(info))
    uid = uid_of(grantee, "INBOX-12")
    if uid:
        grantee.add_flags([uid], [SEEN])
    grantee_flags = flags_of(grantee, "Family/Newsletter", "INBOX-12")
    owner_flags = flags_of(owner, "Family/Newsletter", "INBOX-12")
    check("a \\Seen in Family/Newsletter is the reader's own",
          grantee_flags is not None and SEEN in grantee_flags and owner_flags is not None and SEEN not in owner_flags,
          f"grantee {grantee_flags!r}, other {owner_flags!r}")

    # DELETEACL takes the folder away from a logged-in grantee at once;
    # SETACL gives it back (for the ImapFlow and mbsync checks after this).
    try:
        owner._command_and_check("deleteacl", "Bills", grantee_name)
        gone = names(grantee)
        check(f"after deleteacl the grantee no longer lists {bills}", bills not in gone, sorted(gone))
        owner.setacl("Bills", grantee_name, "lrswi")
        check(f"after setacl again the grantee lists {bills}", bills in names(grantee))
    except IMAPClientError as error:
        check("deleteacl", False, str(error))

    grantee.logout()
    owner.logout()


try:
    main()
except Exception as error:  # one FAIL line rather than a traceback in the summary
    failed += 1
    print(f"FAIL: imapclient shared: could not run: {type(error).__name__}: {error}")
sys.exit(1 if failed else 0)

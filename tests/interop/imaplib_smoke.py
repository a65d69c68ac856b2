"""Smoke test with a real client library: Python's imaplib, over TLS.

Usage: imaplib_smoke.py HOST TLS_PORT STARTTLS_PORT CERT_PEM USER PASSWORD
Exits non-zero (with the failing step) on any deviation.
"""
import imaplib
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from imapwire import check, same_bytes, tls_context  # noqa: E402

host, tls_port, starttls_port, cert, user, password = sys.argv[1:7]
context = tls_context(cert)  # verify our self-signed cert


def ok(result, what):
    typ, data = result
    check(typ == "OK", f"{what} -> {typ} {data!r}")
    return data


# The certificate names "localhost", so connect by that name.
imap = imaplib.IMAP4_SSL("localhost", int(tls_port), ssl_context=context)
check("IMAP4REV1" in imap.capabilities, "IMAP4rev1 advertised")
ok(imap.login(user, password), "LOGIN over TLS")
mailboxes = ok(imap.list(), "LIST")
names = b"\n".join(mailboxes)
for name in [b'"INBOX"', b"\\Sent", b"\\Trash", b"\\Drafts", b"\\Junk", b"\\Archive"]:
    check(name in names, f"LIST shows {name.decode()}")
ok(imap.create("Holidays/Family"), "CREATE Holidays/Family")
ok(imap.select("INBOX"), "SELECT INBOX")
body = (
    b"From: Grandma <grandma@example.org>\r\n"
    b"To: Family <family@example.org>\r\n"
    b"Subject: Photos from the weekend\r\n"
    b"Date: Sat, 21 Nov 2026 10:00:00 +0100\r\n"
    b"Message-ID: <photos@example.org>\r\n"
    b"\r\n"
    b"Here are the photos.\r\n"
)
typ, data = imap.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(1700000000), body)
check(typ == "OK" and b"APPENDUID" in data[0], f"APPEND with APPENDUID {data!r}")
uid = re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1).decode()
data = ok(imap.uid("FETCH", uid, "(BODY.PEEK[] FLAGS RFC822.SIZE)"), "UID FETCH BODY.PEEK[]")
same_bytes(data[0][1], body, "message round-trips byte for byte")
# imaplib splits the response around the literal: the items after it are in data[1].
rest = data[0][0] + data[1]
check(b"\\Flagged" in rest and b"\\Seen" not in rest, "flags as appended, PEEK kept it unseen")
check(f"RFC822.SIZE {len(body)}".encode() in rest, "RFC822.SIZE exact")
data = ok(imap.uid("SEARCH", None, "SUBJECT", "photos"), "UID SEARCH SUBJECT")
check(data[0].split() == [uid.encode()], "SEARCH finds the message")
ok(imap.uid("STORE", uid, "+FLAGS", "(\\Seen $Important)"), "UID STORE +FLAGS")
data = ok(imap.uid("FETCH", uid, "(FLAGS)"), "FETCH FLAGS")
check(b"\\Seen" in data[0] and b"$Important" in data[0], f"flags stored {data!r}")
ok(imap.uid("COPY", uid, "Holidays/Family"), "UID COPY")
ok(imap.uid("MOVE", uid, "Archive"), "UID MOVE")
data = ok(imap.status("Archive", "(MESSAGES UNSEEN)"), "STATUS Archive")
check(b"MESSAGES 1" in data[0] and b"UNSEEN 0" in data[0], f"STATUS counts {data!r}")
ok(imap.select("Holidays/Family"), "SELECT Holidays/Family")
ok(imap.store("1", "+FLAGS", "(\\Deleted)"), "STORE \\Deleted")
data = ok(imap.expunge(), "EXPUNGE")
check(data == [b"1"], f"EXPUNGE reports message 1 {data!r}")
ok(imap.close(), "CLOSE")
ok(imap.rename("Holidays/Family", "Holidays/Trips"), "RENAME")
ok(imap.delete("Holidays/Trips"), "DELETE")
imap.logout()

plain = imaplib.IMAP4("localhost", int(starttls_port))
check("STARTTLS" in plain.capabilities, "STARTTLS advertised on the plain port")
plain.starttls(ssl_context=context)
ok(plain.login(user, password), "LOGIN after STARTTLS")
data = ok(plain.select("Archive", readonly=True), "EXAMINE Archive")
check(data == [b"1"], "one message in Archive")
plain.logout()
print("PASS: imaplib smoke test")

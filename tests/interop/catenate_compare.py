#!/usr/bin/env python3
"""Runs the same CATENATE (RFC 4469) sessions against roost and Dovecot and
prints both servers' answers side by side, with the bytes each stored.

    catenate_compare.py ROOST_PORT DOVECOT_PORT USER PASSWORD

Started by catenate_compare.sh, which brings up both servers on loopback.
Standard library only. What differs on purpose is in
differences-from-dovecot.md.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from imapwire import Connection, Disconnected, Literal  # noqa: E402


def connect(port, user, password):
    conn = Connection("127.0.0.1", port, timeout=10)
    conn.login(user, password)
    return conn


def command(conn, *parts):
    """conn.command(), raising when the connection broke (the caller reconnects)."""
    result = conn.command(*parts)
    if result.status == "ERROR":
        raise Disconnected(result.text.removeprefix("connection: "))
    return result


def run(conn, *parts):
    """One command: (the untagged responses as text, the tagged one after its tag)."""
    result = command(conn, *parts)
    return [response.line() for response in result.untagged], result.tagged.line()


def body(conn, mailbox, uid):
    command(conn, f"EXAMINE {mailbox}")
    stored = command(conn, f"UID FETCH {uid} BODY.PEEK[]").fetched("BODY[]")
    return None if stored is None else stored.decode("latin-1")


def main():
    roost_port, dovecot_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    servers = {"roost": connect(roost_port, user, password), "dovecot": connect(dovecot_port, user, password)}
    message = ("From: Bob <bob@example.org>\r\nSubject: Report\r\nMIME-Version: 1.0\r\n"
               "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npre\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
               "See attached.\r\n--b1\r\nContent-Type: text/csv\r\n\r\nmonth,total\r\n--b1--\r\n").encode()
    setup = {}
    for name, session in servers.items():
        run(session, "CREATE Sent")
        run(session, "APPEND INBOX ", Literal(message))
        run(session, "EXAMINE INBOX")
        untagged, _ = run(session, "UID SEARCH ALL")
        uid = int(untagged[0].split()[-1])
        untagged, _ = run(session, "STATUS INBOX (UIDVALIDITY)")
        validity = int(re.search(r"UIDVALIDITY (\d+)", untagged[0]).group(1))
        run(session, "UNSELECT")
        setup[name] = (uid, validity)

    def cases(uid, validity):
        base = f"/INBOX;UIDVALIDITY={validity}/;UID={uid}"
        return [
            ("whole message", [f'APPEND Sent CATENATE (URL "{base}")']),
            ("no UIDVALIDITY", [f'APPEND Sent CATENATE (URL "/INBOX/;UID={uid}")']),
            ("TEXT + SECTION=TEXT", ["APPEND Sent CATENATE (TEXT ", Literal(b"Subject: forward\r\n\r\n"), f' URL "{base}/;SECTION=TEXT")']),
            ("SECTION=HEADER", [f'APPEND Sent CATENATE (URL "{base}/;SECTION=HEADER")']),
            ("SECTION=2 (MIME part)", ["APPEND Sent CATENATE (TEXT ", Literal(b"A: b\n"), f' URL "{base}/;SECTION=2")']),
            ("SECTION=2.MIME", ["APPEND Sent CATENATE (TEXT ", Literal(b"A: b\n"), f' URL "{base}/;SECTION=2.MIME")']),
            ("PARTIAL", ["APPEND Sent CATENATE (TEXT ", Literal(b"A: b\n"), f' URL "{base}/;SECTION=TEXT/;PARTIAL=5.10")']),
            ("HEADER.FIELDS", [f'APPEND Sent CATENATE (URL "{base}/;SECTION=HEADER.FIELDS%20(SUBJECT)")']),
            ("absolute, this user", [f'APPEND Sent CATENATE (URL "imap://{user}@127.0.0.1{base}")']),
            ("absolute, other user", [f'APPEND Sent CATENATE (URL "imap://someoneelse@127.0.0.1{base}")']),
            ("absolute, other host", [f'APPEND Sent CATENATE (URL "imap://{user}@mail.elsewhere.example{base}")']),
            ("bad UIDVALIDITY", [f'APPEND Sent CATENATE (URL "/INBOX;UIDVALIDITY={validity + 1}/;UID={uid}")']),
            ("no such UID", [f'APPEND Sent CATENATE (URL "/INBOX/;UID={uid + 50}")']),
            ("no such mailbox", [f'APPEND Sent CATENATE (URL "/Nowhere/;UID={uid}")']),
            ("no such section", [f'APPEND Sent CATENATE (URL "{base}/;SECTION=7")']),
            ("bad section syntax", [f'APPEND Sent CATENATE (URL "{base}/;SECTION=BOGUS")']),
            ("not a URL", ['APPEND Sent CATENATE (URL "INBOX")']),
            ("empty CATENATE", ["APPEND Sent CATENATE ()"]),
            ("empty result", ["APPEND Sent CATENATE (TEXT ", Literal(b""), ")"]),
            ("URL literal", ["APPEND Sent CATENATE (URL ", Literal(base), ")"]),
            ("MULTIAPPEND, 2nd bad", [f'APPEND Sent CATENATE (URL "{base}") CATENATE (URL "/INBOX/;UID={uid + 50}")']),
            # 12 bytes of literal: a line that reads like a command, then the ')'.
            ("LITERAL+ after BADURL", [f'APPEND Sent CATENATE (URL "/INBOX/;UID={uid + 50}" TEXT ', Literal(b"c9 LOGOUT\r\n)", sync=False)]),
            ("sync literal after BADURL", [f'APPEND Sent CATENATE (URL "/INBOX/;UID={uid + 50}" TEXT ', Literal(b"c9 LOGOUT\r\n)")]),
            ("literal8 TEXT", ["APPEND Sent CATENATE (TEXT ", Literal(b"A: \x00\n", binary=True), ")"]),
            ("selected: ;UID= relative to INBOX", [f'APPEND Sent CATENATE (URL ";UID={uid}")']),
            ("selected: /;UID= relative to INBOX", [f'APPEND Sent CATENATE (URL "/;UID={uid}")']),
        ]

    for index, (label, _) in enumerate(cases(0, 0)):
        print(f"== {label}")
        for name, session in servers.items():
            uid, validity = setup[name]
            pieces = cases(uid, validity)[index][1]
            try:
                if label.startswith("selected:"):
                    run(session, "SELECT INBOX")
                untagged, tagged = run(session, *pieces)
                stored = ""
                match = re.search(r"APPENDUID \d+ (\d+)", tagged)
                if match:
                    stored = repr(body(session, "Sent", int(match.group(1))))
                    run(session, "UNSELECT")
                noop = run(session, "NOOP")[1]
                print(f"  {name:8} {tagged}  {stored}  [then NOOP: {noop}]")
                if untagged:
                    print(f"  {'':8} untagged: {untagged}")
            except (Disconnected, OSError) as error:
                print(f"  {name:8} connection: {error}")
                servers[name] = connect(roost_port if name == "roost" else dovecot_port, user, password)


if __name__ == "__main__":
    main()

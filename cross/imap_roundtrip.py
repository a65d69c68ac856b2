#!/usr/bin/env python3
"""IMAP round trip against a running roost, stdlib only.

usage: imap_roundtrip.py HOST PORT CERT_PEM USER PASSWORD

Connects over implicit TLS, verifying the server's self-signed certificate
(CERT_PEM) for the name "localhost"; LOGIN, SELECT INBOX, APPEND a message,
FETCH it back with BODY.PEEK[] and compares the bytes, checks \\Seen was not
set, LOGOUT. Prints PASS/FAIL lines; exits non-zero on any failure. The client
is tests/lib/imapwire.py (found relative to this file).
"""

import os
import re
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from imapwire import Connection, Literal, check, fail, same_bytes, tls_context  # noqa: E402

TIMEOUT = 60  # seconds for every socket operation (the server runs under qemu)


def expect_ok(what, result):
    if result.status != "OK":
        fail(f"{what}: {result.status} {result.text}")
    return result


def exists(result):
    """The message count of a SELECT: its (last) EXISTS."""
    counts = [response.number for response in result.untagged if response.name == "EXISTS"]
    if not counts:
        fail("SELECT INBOX: no EXISTS")
    return counts[-1]


def message_bytes():
    # CRLF line endings (what IMAP stores), a unique token, and a body large
    # enough to cross several of the store's chunks.
    token = os.urandom(8).hex()
    body = b"".join(b"line %05d of the cross check %s\r\n" % (n, token.encode()) for n in range(3000))
    head = (
        b"From: Alice <alice@example.org>\r\n"
        b"To: Alice <alice@example.org>\r\n"
        b"Subject: roost cross check " + token.encode() + b"\r\n"
        b"Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n"
        b"Message-ID: <" + token.encode() + b"@cross.example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"\r\n"
    )
    return head + body


def main():
    if len(sys.argv) != 6:
        fail(__doc__.strip().splitlines()[2])
    host, port, cert, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

    try:
        imap = Connection(host, port, timeout=TIMEOUT, tls=tls_context(cert), server_name="localhost")
    except (OSError, ssl.SSLError) as error:
        fail(f"TLS connect to {host}:{port} (verifying {cert} for localhost): {error}")
    check(imap.greeting.status == "OK", f"TLS connection to {host}:{port}, certificate verified for localhost "
          f"({imap.sock.version()})")

    try:
        expect_ok("LOGIN", imap.login(user, password))
        print(f"PASS: LOGIN {user}")
        before = exists(expect_ok("SELECT INBOX", imap.command("SELECT INBOX")))
        print(f"PASS: SELECT INBOX ({before} messages)")

        message = message_bytes()
        appended = expect_ok("APPEND", imap.command("APPEND INBOX ", Literal(message)))
        print(f"PASS: APPEND {len(message)} bytes ({appended.tagged.line()})")

        expect_ok("NOOP", imap.command("NOOP"))
        after = exists(expect_ok("SELECT INBOX", imap.command("SELECT INBOX")))
        if after != before + 1:
            fail(f"INBOX has {after} messages after APPEND, expected {before + 1}")

        match = re.match(r"APPENDUID \d+ (\d+)$", appended.code or "")
        if match:
            label = f"UID {match.group(1)}"
            fetched = imap.command(f"UID FETCH {match.group(1)} (BODY.PEEK[])")
        else:
            label = f"message {after}"
            fetched = imap.command(f"FETCH {after} (BODY.PEEK[])")
        expect_ok(f"FETCH {label}", fetched)
        same_bytes(fetched.fetched("BODY[]"), message, f"FETCH {label} BODY.PEEK[] returned the same {len(message)} bytes")

        flags = expect_ok("FETCH FLAGS", imap.command(f"FETCH {after} (FLAGS)")).fetched("FLAGS")
        check(flags is not None and "\\Seen" not in flags, f"BODY.PEEK[] left \\Seen unset (FLAGS {flags})")

        logout = imap.command("LOGOUT")
        check(logout.status == "OK" and any(r.status == "BYE" for r in logout.untagged),
              f"LOGOUT ({logout.status} {logout.text})")
    finally:
        imap.close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""IMAP round trip against a running roost, stdlib only.

usage: imap_roundtrip.py HOST PORT CERT_PEM USER PASSWORD

Connects over implicit TLS, verifying the server's self-signed certificate
(CERT_PEM) for the name "localhost"; LOGIN, SELECT INBOX, APPEND a message,
FETCH it back with BODY.PEEK[] and compares the bytes, checks \\Seen was not
set, LOGOUT. Prints PASS/FAIL lines; exits non-zero on any failure.
"""

import imaplib
import os
import re
import socket
import ssl
import sys

TIMEOUT = 60  # seconds for every socket operation


class VerifiedIMAP4_SSL(imaplib.IMAP4_SSL):
    """IMAP4_SSL that connects to an address but checks the certificate
    for another name (the self-signed certificate names "localhost")."""

    def __init__(self, host, port, context, server_hostname):
        self._server_hostname = server_hostname
        super().__init__(host, port, ssl_context=context, timeout=TIMEOUT)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self._server_hostname)


def fail(text):
    print(f"FAIL: {text}", file=sys.stderr)
    sys.exit(1)


def expect_ok(what, result):
    typ, data = result
    if typ != "OK":
        fail(f"{what}: {typ} {data!r}")
    return data


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

    context = ssl.create_default_context(cafile=cert)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        imap = VerifiedIMAP4_SSL(host, port, context, "localhost")
    except (OSError, ssl.SSLError, imaplib.IMAP4.error) as error:
        fail(f"TLS connect to {host}:{port} (verifying {cert} for localhost): {error}")
    print(f"PASS: TLS connection to {host}:{port}, certificate verified for localhost ({imap.sock.version()})")

    try:
        expect_ok("LOGIN", imap.login(user, password))
        print(f"PASS: LOGIN {user}")
        before = int(expect_ok("SELECT INBOX", imap.select("INBOX"))[0])
        print(f"PASS: SELECT INBOX ({before} messages)")

        message = message_bytes()
        typ, data = imap.append("INBOX", None, None, message)
        if typ != "OK":
            fail(f"APPEND: {typ} {data!r}")
        print(f"PASS: APPEND {len(message)} bytes ({data[0].decode(errors='replace')})")

        expect_ok("NOOP", imap.noop())
        after = int(expect_ok("SELECT INBOX", imap.select("INBOX"))[0])
        if after != before + 1:
            fail(f"INBOX has {after} messages after APPEND, expected {before + 1}")

        match = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
        if match:
            uid = match.group(1).decode()
            typ, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[])")
            label = f"UID {uid}"
        else:
            typ, fetched = imap.fetch(str(after), "(BODY.PEEK[])")
            label = f"message {after}"
        if typ != "OK":
            fail(f"FETCH {label}: {typ} {fetched!r}")
        literals = [item[1] for item in fetched if isinstance(item, tuple)]
        if len(literals) != 1:
            fail(f"FETCH {label}: expected one literal, got {fetched!r:.300}")
        if literals[0] != message:
            got = literals[0]
            first = next((i for i, (a, b) in enumerate(zip(got, message)) if a != b), min(len(got), len(message)))
            fail(
                f"FETCH {label}: {len(got)} bytes differ from the {len(message)} appended "
                f"(first difference at byte {first}: {got[first:first + 40]!r} vs {message[first:first + 40]!r})"
            )
        print(f"PASS: FETCH {label} BODY.PEEK[] returned the same {len(message)} bytes")

        typ, flags = imap.fetch(str(after), "(FLAGS)")
        if typ != "OK":
            fail(f"FETCH FLAGS: {typ} {flags!r}")
        if b"\\Seen" in b" ".join(f if isinstance(f, bytes) else f[0] for f in flags):
            fail(f"BODY.PEEK[] set \\Seen: {flags!r}")
        print("PASS: BODY.PEEK[] left \\Seen unset")

        typ, data = imap.logout()
        if typ != "BYE":
            fail(f"LOGOUT: {typ} {data!r}")
        print("PASS: LOGOUT")
    except (OSError, ssl.SSLError, imaplib.IMAP4.error) as error:
        fail(f"IMAP: {type(error).__name__}: {error}")
    finally:
        try:
            imap.shutdown()
        except OSError:
            pass


if __name__ == "__main__":
    main()

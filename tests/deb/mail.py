#!/usr/bin/env python3
"""Stores one message in the packaged roost, and later reads it back.

usage: mail.py append|fetch PORT CERT_PEM USER PASSWORD FILE

Over implicit TLS to 127.0.0.1:PORT, verifying the server's self-signed
certificate (CERT_PEM) for "localhost". `append` APPENDs a new message to
INBOX and writes its bytes to FILE; `fetch` checks that INBOX's first message
is exactly FILE's bytes (the mail survived an upgrade, a purge, a
reinstall). The client is tests/lib/imapwire.py.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from imapwire import Connection, Literal, check, fail, same_bytes, tls_context  # noqa: E402


def expect_ok(what, result):
    if result.status != "OK":
        fail(f"{what}: {result.status} {result.text}")
    return result


def main():
    if len(sys.argv) != 7 or sys.argv[1] not in ("append", "fetch"):
        fail(__doc__.strip().splitlines()[2])
    mode, port, cert, user, password, path = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
    imap = Connection("127.0.0.1", port, timeout=30, tls=tls_context(cert), server_name="localhost")
    try:
        expect_ok("LOGIN", imap.login(user, password))
        selected = expect_ok("SELECT INBOX", imap.command("SELECT INBOX"))
        count = [r.number for r in selected.untagged if r.name == "EXISTS"][-1]
        if mode == "append":
            token = os.urandom(8).hex().encode()
            message = (
                b"From: Dad <dad@example.org>\r\nTo: Alice <alice@example.org>\r\n"
                b"Subject: kept across upgrades " + token + b"\r\n"
                b"Message-ID: <" + token + b"@deb.example.org>\r\n\r\n"
                + b"".join(b"line %04d, %s\r\n" % (n, token) for n in range(500))
            )
            expect_ok("APPEND", imap.command("APPEND INBOX ", Literal(message)))
            with open(path, "wb") as handle:
                handle.write(message)
            print(f"PASS: APPEND of {len(message)} bytes to {user}'s INBOX ({count} before)")
        else:
            with open(path, "rb") as handle:
                message = handle.read()
            check(count >= 1, f"INBOX holds {count} message(s)")
            fetched = expect_ok("FETCH", imap.command("FETCH 1 (BODY.PEEK[])"))
            same_bytes(fetched.fetched("BODY[]"), message, f"FETCH 1 BODY.PEEK[]: the same {len(message)} bytes")
        imap.command("LOGOUT")
    finally:
        imap.close()


if __name__ == "__main__":
    main()

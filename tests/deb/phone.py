#!/usr/bin/env python3
"""What a phone does after `roost setup`: connects over TLS, checks the
certificate it is shown against the fingerprint setup printed, and logs in.

usage: phone.py PORT FINGERPRINT USER PASSWORD

Python's own imaplib (IMAP4_SSL) to 127.0.0.1:PORT. The certificate is not
checked against a trust store (a phone has not installed roost's authority
yet at that point, and asks its user instead): its SHA-256 fingerprint must
be FINGERPRINT, as setup printed it (32 hex pairs joined by colons), or the
test fails before the password is sent. Then LOGIN, SELECT INBOX, LOGOUT.
"""

import hashlib
import imaplib
import ssl
import sys


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 5:
        fail(__doc__.strip().splitlines()[3])
    port, shown, user, password = int(sys.argv[1]), sys.argv[2].upper(), sys.argv[3], sys.argv[4]
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    imap = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=context, timeout=30)
    der = imap.sock.getpeercert(binary_form=True)
    seen = ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())
    if seen != shown:
        fail(f"the server showed a certificate with fingerprint {seen}, setup printed {shown}")
    status, _ = imap.login(user, password)
    if status != "OK":
        fail(f"LOGIN {user}: {status}")
    status, data = imap.select("INBOX")
    if status != "OK":
        fail(f"SELECT INBOX: {status} {data}")
    imap.logout()
    print(f"PASS: imaplib over TLS: the certificate's fingerprint is the one setup printed ({seen[:23]}...); "
          f"LOGIN {user}, SELECT INBOX ({data[0].decode()} messages)")


if __name__ == "__main__":
    main()

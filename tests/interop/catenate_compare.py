#!/usr/bin/env python3
"""Runs the same CATENATE (RFC 4469) sessions against roost and Dovecot and
prints both servers' answers side by side, with the bytes each stored.

    catenate_compare.py ROOST_PORT DOVECOT_PORT USER PASSWORD

Started by catenate_compare.sh, which brings up both servers on loopback.
Standard library only. What differs on purpose is in
differences-from-dovecot.md.
"""
import re
import socket
import sys


class Session:
    def __init__(self, port, user, password):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        self.count = 0
        self.line()
        self.run(f'LOGIN "{user}" "{password}"')

    def line(self):
        data = self.file.readline()
        if not data:
            raise EOFError("connection closed")
        return data.decode("latin-1").rstrip("\r\n")

    def response(self):
        text = self.line()
        while True:
            match = re.search(r"\{(\d+)\}$", text)
            if not match:
                return text
            text += "\r\n" + self.file.read(int(match.group(1))).decode("latin-1") + self.line()

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def tag(self):
        self.count += 1
        return f"c{self.count}"

    def until(self, tag):
        untagged = []
        while True:
            text = self.response()
            if text.startswith(tag + " "):
                return untagged, text[len(tag) + 1:]
            untagged.append(text)

    def run(self, command):
        tag = self.tag()
        self.send(f"{tag} {command}\r\n")
        return self.until(tag)

    def script(self, pieces):
        """pieces: str lines (sent with CRLF) and bytes literals; a line
        ending in a synchronizing literal waits for the continuation."""
        tag = self.tag()
        first = True
        for piece in pieces:
            if isinstance(piece, bytes):
                self.send(piece)
                continue
            self.send((f"{tag} " if first else "") + piece + "\r\n")
            first = False
            if re.search(r"\{\d+\}$", piece):
                answer = self.line()
                if not answer.startswith("+"):
                    return [], answer[len(tag) + 1:]
        return self.until(tag)

    def body(self, mailbox, uid):
        self.run(f"EXAMINE {mailbox}")
        untagged, _ = self.run(f"UID FETCH {uid} BODY.PEEK[]")
        for text in untagged:
            if "BODY[]" in text:
                return text[text.index("}\r\n") + 3:-1]
        return None


def main():
    roost_port, dovecot_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    servers = {"roost": Session(roost_port, user, password), "dovecot": Session(dovecot_port, user, password)}
    message = ("From: Bob <bob@example.org>\r\nSubject: Report\r\nMIME-Version: 1.0\r\n"
               "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npre\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
               "See attached.\r\n--b1\r\nContent-Type: text/csv\r\n\r\nmonth,total\r\n--b1--\r\n").encode()
    setup = {}
    for name, session in servers.items():
        session.run("CREATE Sent")
        session.script([f"APPEND INBOX {{{len(message)}}}", message + b"\r\n"])
        session.run("EXAMINE INBOX")
        untagged, _ = session.run("UID SEARCH ALL")
        uid = int(untagged[0].split()[-1])
        untagged, _ = session.run("STATUS INBOX (UIDVALIDITY)")
        validity = int(re.search(r"UIDVALIDITY (\d+)", untagged[0]).group(1))
        session.run("UNSELECT")
        setup[name] = (uid, validity)

    def cases(uid, validity):
        base = f"/INBOX;UIDVALIDITY={validity}/;UID={uid}"
        return [
            ("whole message", [f'APPEND Sent CATENATE (URL "{base}")']),
            ("no UIDVALIDITY", [f'APPEND Sent CATENATE (URL "/INBOX/;UID={uid}")']),
            ("TEXT + SECTION=TEXT", ["APPEND Sent CATENATE (TEXT {20}", b"Subject: forward\r\n\r\n", f' URL "{base}/;SECTION=TEXT")']),
            ("SECTION=HEADER", [f'APPEND Sent CATENATE (URL "{base}/;SECTION=HEADER")']),
            ("SECTION=2 (MIME part)", ["APPEND Sent CATENATE (TEXT {5}", b"A: b\n", f' URL "{base}/;SECTION=2")']),
            ("SECTION=2.MIME", ["APPEND Sent CATENATE (TEXT {5}", b"A: b\n", f' URL "{base}/;SECTION=2.MIME")']),
            ("PARTIAL", ["APPEND Sent CATENATE (TEXT {5}", b"A: b\n", f' URL "{base}/;SECTION=TEXT/;PARTIAL=5.10")']),
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
            ("empty result", ["APPEND Sent CATENATE (TEXT {0}", b"", ")"]),
            ("URL literal", [f"APPEND Sent CATENATE (URL {{{len(base)}}}", base.encode(), ")"]),
            ("MULTIAPPEND, 2nd bad", [f'APPEND Sent CATENATE (URL "{base}") CATENATE (URL "/INBOX/;UID={uid + 50}")']),
            ("LITERAL+ after BADURL", [f'APPEND Sent CATENATE (URL "/INBOX/;UID={uid + 50}" TEXT {{12+}}', b"c9 LOGOUT\r\n", ")"]),
            ("sync literal after BADURL", [f'APPEND Sent CATENATE (URL "/INBOX/;UID={uid + 50}" TEXT {{12}}', b"c9 LOGOUT\r\n", ")"]),
            ("literal8 TEXT", ["APPEND Sent CATENATE (TEXT ~{5}", b"A: \x00\n", ")"]),
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
                    session.run("SELECT INBOX")
                untagged, tagged = session.script(pieces)
                stored = ""
                match = re.search(r"APPENDUID \d+ (\d+)", tagged)
                if match:
                    stored = repr(session.body("Sent", int(match.group(1))))
                    session.run("UNSELECT")
                noop = session.run("NOOP")[1]
                print(f"  {name:8} {tagged}  {stored}  [then NOOP: {noop}]")
                if untagged:
                    print(f"  {'':8} untagged: {untagged}")
            except (EOFError, OSError) as error:
                print(f"  {name:8} connection: {error}")
                servers[name] = Session(roost_port if name == "roost" else dovecot_port, user, password)


if __name__ == "__main__":
    main()

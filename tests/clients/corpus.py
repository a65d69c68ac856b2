"""Writes the seed messages for tests/clients/run.sh, one .eml file each.

Usage: corpus.py DIR

Files are named MAILBOX-NN.eml (INBOX-01.eml ... Family-06.eml) plus
new-NN.eml for later deliveries; every message has a unique Message-ID
<NAME@clients.roost.test> (NAME = the file name without .eml) so the
checks can find it on the server (SEARCH HEADER) and in a Maildir (grep).
Same bytes every run: no clock, no randomness. CRLF line ends throughout.
"""
import base64
import os
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)

SENDERS = [
    "Grandma <grandma@example.org>",
    "Uncle Bert <bert@example.net>",
    "Sophie <sophie@example.com>",
    "Club Newsletter <news@bowls.example.org>",
]


def header(name, index, subject, extra=()):
    lines = [
        f"From: {SENDERS[index % len(SENDERS)]}",
        "To: Grandpa <grandpa@example.org>",
        f"Subject: {subject}",
        f"Date: Mon, {index + 1:02d} Jan 2024 10:{index:02d}:00 +0100",
        f"Message-ID: <{name}@clients.roost.test>",
        "MIME-Version: 1.0",
    ]
    lines.extend(extra)
    return "\r\n".join(lines) + "\r\n"


def plain(name, index, subject):
    body = "".join(
        f"Line {n} of the letter {name}: the garden is fine, the roses need water.\r\n" for n in range(1, 6)
    )
    return header(name, index, subject, ["Content-Type: text/plain; charset=us-ascii"]) + "\r\n" + body


def alternative(name, index, subject):
    boundary = f"alt-{name}"
    return (
        header(name, index, subject, [f'Content-Type: multipart/alternative; boundary="{boundary}"'])
        + "\r\n"
        + f"--{boundary}\r\n"
        + "Content-Type: text/plain; charset=utf-8\r\n"
        + "Content-Transfer-Encoding: 8bit\r\n\r\n"
        + "Dear Grandpa,\r\nthe photos from M\u00fcnchen are attached \u2013 love, Sophie.\r\n"
        + f"--{boundary}\r\n"
        + "Content-Type: text/html; charset=utf-8\r\n"
        + "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + "<p>Dear Grandpa,<br>the photos from M=C3=BCnchen are attached =E2=80=93 love, Sophie.</p>\r\n"
        + f"--{boundary}--\r\n"
    )


def mixed(name, index, subject):
    boundary = f"mix-{name}"
    attachment = bytes(range(256)) * 8  # binary, so base64 wraps over many lines
    encoded = base64.encodebytes(attachment).decode().replace("\n", "\r\n")
    return (
        header(name, index, subject, [f'Content-Type: multipart/mixed; boundary="{boundary}"'])
        + "\r\n"
        + "This is a multi-part message in MIME format.\r\n"
        + f"--{boundary}\r\n"
        + "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        + "The recipe you asked for is attached.\r\n\r\n"
        + f"--{boundary}\r\n"
        + 'Content-Type: application/octet-stream; name="recipe.bin"\r\n'
        + "Content-Transfer-Encoding: base64\r\n"
        + 'Content-Disposition: attachment; filename="recipe.bin"\r\n\r\n'
        + encoded
        + f"--{boundary}--\r\n"
    )


def write(name, text):
    with open(os.path.join(out, name + ".eml"), "wb") as file:
        file.write(text.encode("utf-8"))


for n in range(1, 15):
    name = f"INBOX-{n:02d}"
    if n == 3:
        # The non-ASCII subject, as real mail carries it: an RFC 2047 encoded word.
        write(name, alternative(name, n, "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen_=E2=98=80?="))
    elif n in (5, 9):
        write(name, mixed(name, n, f"Recipe number {n}"))
    elif n == 12:
        write(name, alternative(name, n, "Photos from the holidays"))
    else:
        write(name, plain(name, n, f"Letter {n} to grandpa"))
for n in range(1, 7):
    name = f"Family-{n:02d}"
    if n == 2:
        write(name, mixed(name, n, "Family tree (attached)"))
    else:
        write(name, plain(name, n, f"Family news {n}"))
for n in range(1, 10):
    name = f"new-{n:02d}"
    write(name, plain(name, 20 + n, f"Fresh news {n}"))

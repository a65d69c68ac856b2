"""Dovecot 2.3 reads what `roost export` writes (issue 16, item 5).

Run by tests/interop/dovecot_export.sh, which starts roost and hands over
its port. This script fills a roost account over IMAP (nested, non-ASCII,
dotted and '&' names; flags, keywords, internal dates in several zones;
a From line in a body; an expunge so UIDs have a gap), runs
`roost export --maildir` through the running server, starts Dovecot's
`imap` binary as a pre-authenticated process on the exported tree
(unprivileged: as `nobody`, no master, no ports, its own config), and
compares, mailbox by mailbox, what both servers answer: LIST and LSUB
names, UIDVALIDITY, UIDNEXT, and per UID its FLAGS (keywords too),
INTERNALDATE (the same instant), RFC822.SIZE and BODY[] byte for byte.
Then it changes mail in roost (flags, an append, an expunge, a rename),
exports again into the same tree Dovecot has used (with Dovecot's own
index and uidlist changes in it), checks that the export only wrote what
changed, and compares again. Last, `roost export --mbox` is read with
Dovecot's mbox driver (INBOX and a top-level mailbox; the mbox tree's
.sbd folders are Thunderbird's layout, not Dovecot's).

Only the standard library and tests/lib/imapwire.py are used.
"""

import argparse
import datetime
import os
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from imapwire import Atom, Connection, Literal, check, fail, quote  # noqa: E402

# Wire (modified UTF-7) names -> what they are.
MAILBOXES = ["Work", "Work/2024", "Entw&APw-rfe", "v1.2", "Tom &- Jerry"]


def message(subject, body, date="Wed, 17 Jul 1996 02:44:25 -0700"):
    return (
        "From: Bob <bob@example.org>\r\nTo: Alice <alice@example.org>\r\nSubject: %s\r\nDate: %s\r\n"
        "Message-ID: <%s@example.org>\r\n\r\n%s\r\n" % (subject, date, subject.replace(" ", "."), body)
    ).encode()


def ok(connection, *parts):
    result = connection.command(*parts)
    if result.status != "OK":
        fail("%s: %s %s" % ("".join(p if isinstance(p, str) else "<literal>" for p in parts), result.status, result.text))
    return result


def append(connection, mailbox, flags, date, data):
    ok(connection, "APPEND ", quote(mailbox), " (%s) " % flags, quote(date), " ", Literal(data))


def fill(roost):
    for name in MAILBOXES:
        if name != "Work":
            ok(roost, "CREATE ", quote(name))
    for name in ["Work/2024", "Entw&APw-rfe", "INBOX"]:
        ok(roost, "SUBSCRIBE ", quote(name))
    append(roost, "INBOX", "\\Seen", "01-Jan-2020 10:00:00 +0000", message("one", "Hello\r\nFrom here on, quoted?\r\n>From me"))
    append(roost, "INBOX", "\\Flagged $Work", "15-Mar-2021 08:30:00 +0100", message("two", "Second"))
    append(roost, "INBOX", "\\Answered \\Seen $Label1 Family", "30-Jun-2022 23:59:59 -0700", message("three", "Third"))
    append(roost, "INBOX", "\\Deleted", "01-Feb-2023 00:00:00 +0000", message("gone", "Expunged"))
    append(roost, "INBOX", "\\Draft", "02-Feb-2023 12:00:00 +0530", message("four", "Draft body"))
    ok(roost, "SELECT INBOX")
    ok(roost, "EXPUNGE")
    ok(roost, "CLOSE")
    append(roost, "Work/2024", "", "05-May-2024 05:05:05 +0200", message("report", "Numbers"))
    append(roost, "Work/2024", "\\Seen $Work", "06-May-2024 06:06:06 +0200", message("minutes", "Words"))
    append(roost, "Entw&APw-rfe", "\\Draft \\Seen", "07-Jul-2024 07:07:07 +0000", message("draft", "Umlaut folder"))
    append(roost, "v1.2", "\\Flagged", "08-Aug-2024 08:08:08 +0000", message("dotted", "A dot in the name"))
    append(roost, "Tom &- Jerry", "", "09-Sep-2024 09:09:09 +0000", message("cartoon", "An ampersand"))


def mailbox_names(connection, command):
    names = set()
    for response in ok(connection, command).untagged:
        if response.name in ("LIST", "LSUB"):
            if response.name == "LSUB":
                # imapwire parses LIST only; LSUB's name is the last word.
                line = response.line()
                name = line.rsplit(" ", 1)[1].strip('"')
            else:
                flags, _, name = response.values
                if any(flag.lower() == "\\noselect" for flag in flags):
                    continue
                name = name.decode() if isinstance(name, bytes) else str(name)
            names.add(name)
    return names


def select_codes(connection, name):
    result = ok(connection, "SELECT ", quote(name))
    codes = {}
    for response in result.untagged:
        if response.code:
            key, _, value = response.code.partition(" ")
            codes[key.upper()] = value
    return codes


def instant(text):
    return datetime.datetime.strptime(text.decode() if isinstance(text, bytes) else text, "%d-%b-%Y %H:%M:%S %z").timestamp()


def messages(connection):
    found = {}
    result = ok(connection, "UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
    for response in result.untagged:
        if response.name != "FETCH":
            continue
        items = response.values[0]
        item = {str(key).upper(): value for key, value in zip(items[0::2], items[1::2])}
        flags = sorted(str(flag) for flag in item["FLAGS"] if str(flag).lower() != "\\recent")
        found[int(item["UID"])] = (flags, instant(item["INTERNALDATE"].strip()), int(item["RFC822.SIZE"]), item["BODY[]"])
    return found


def compare(roost, dovecot, names, what, subscriptions=True):
    got = mailbox_names(dovecot, 'LIST "" "*"')
    want = mailbox_names(roost, 'LIST "" "*"')
    if names is None:
        check(got == want, "%s: Dovecot lists the same mailboxes as roost (%s)" % (what, ", ".join(sorted(want))))
        names = sorted(want)
    else:
        check(set(names) <= got, "%s: Dovecot lists %s" % (what, ", ".join(names)))
    if subscriptions:
        got, want = mailbox_names(dovecot, 'LSUB "" "*"'), mailbox_names(roost, 'LSUB "" "*"')
        check(got == want, "%s: the same subscriptions (%s)" % (what, ", ".join(sorted(want))))
    total = 0
    for name in names:
        theirs, ours = select_codes(dovecot, name), select_codes(roost, name)
        check(theirs.get("UIDVALIDITY") == ours.get("UIDVALIDITY") and theirs.get("UIDNEXT") == ours.get("UIDNEXT"),
              "%s: %s has UIDVALIDITY %s and UIDNEXT %s in both" % (what, name, ours.get("UIDVALIDITY"), ours.get("UIDNEXT")))
        theirs, ours = messages(dovecot), messages(roost)
        check(sorted(theirs) == sorted(ours), "%s: %s holds UIDs %s in both" % (what, name, sorted(ours)))
        for uid, (flags, date, size, body) in ours.items():
            other = theirs[uid]
            if other[0] != flags:
                fail("%s: %s UID %d: Dovecot's FLAGS %s, roost's %s" % (what, name, uid, other[0], flags))
            if other[1] != date:
                fail("%s: %s UID %d: INTERNALDATE differs (%s vs %s)" % (what, name, uid, other[1], date))
            if other[2] != size or other[3] != body:
                fail("%s: %s UID %d: size or bytes differ (%d vs %d)" % (what, name, uid, other[2], size))
            total += 1
        ok(dovecot, "CLOSE")
        ok(roost, "CLOSE")
    check(total > 0, "%s: %d message(s) alike in FLAGS (keywords too), INTERNALDATE, RFC822.SIZE and bytes" % (what, total))


class Dovecot:
    """Dovecot's imap binary, pre-authenticated, over a socket pair."""

    def __init__(self, work, location, plugins=""):
        config = os.path.join(work, "dovecot-%d.conf" % os.getpid())
        with open(config, "w") as out:
            out.write(
                "base_dir = %s/dovecot-run\nstate_dir = %s/dovecot-state\nlog_path = %s/dovecot.log\n"
                "mail_location = %s\nmail_plugins = %s\n"
                "namespace inbox {\n  inbox = yes\n  separator = /\n}\n" % (work, work, work, location, plugins)
            )
        os.chmod(config, 0o644)
        ours, theirs = socket.socketpair()
        command = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                   "env", "-i", "USER=alice", "HOME=" + work, "/usr/lib/dovecot/imap", "-c", config]
        self.process = subprocess.Popen(command, stdin=theirs, stdout=theirs, stderr=open(os.path.join(work, "dovecot.log"), "a"))
        theirs.close()
        connection = Connection.__new__(Connection)
        connection.host, connection.port, connection.timeout = "dovecot", 0, 30.0
        ours.settimeout(30.0)
        connection.sock, connection.buffer, connection.counter = ours, bytearray(), 0
        connection.greeting = connection.read_response()
        if connection.greeting.status != "PREAUTH":
            fail("Dovecot did not start: %r (see %s/dovecot.log)" % (connection.greeting.raw, work))
        self.connection = connection

    def close(self):
        self.connection.command("LOGOUT")
        self.connection.close()
        self.process.wait(timeout=30)


def export(args, format, directory):
    output = subprocess.run([args.binary, "export", "--user", args.user, "--" + format, directory, "--config", args.config],
                            capture_output=True, text=True, timeout=300)
    if output.returncode != 0:
        fail("roost export --%s: %s" % (format, output.stderr.strip()))
    # Dovecot runs as nobody and writes its index files beside the mail.
    subprocess.run(["chown", "-R", "nobody:nogroup", directory], check=True)
    return output.stdout.strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--roost", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    password = open(args.password_file).read().strip()
    roost = Connection("127.0.0.1", args.roost)
    ok(roost, "LOGIN ", quote(args.user), " ", quote(password))
    fill(roost)

    maildir = os.path.join(args.work, "maildir")
    summary = export(args, "maildir", maildir)
    print(summary, flush=True)
    location = "maildir:%s" % maildir
    dovecot = Dovecot(args.work, location, "listescape")
    compare(roost, dovecot.connection, None, "maildir")
    dovecot.close()

    # Changes in roost, then an export into the tree Dovecot has used.
    ok(roost, "SELECT INBOX")
    ok(roost, "UID STORE 2 +FLAGS (\\Seen \\Answered)")
    ok(roost, "UID STORE 3 -FLAGS ($Label1)")
    ok(roost, "UID STORE 1 +FLAGS (\\Deleted)")
    ok(roost, "EXPUNGE")
    ok(roost, "CLOSE")
    append(roost, "INBOX", "$Work", "10-Oct-2024 10:10:10 +1000", message("five", "After the first export"))
    ok(roost, "RENAME ", quote("Tom &- Jerry"), " ", quote("Cartoons"))
    summary = export(args, "maildir", maildir)
    print(summary, flush=True)
    check("1 message(s) written, 2 renamed (flags), 1 removed; 1 mailbox(es) renamed" in summary,
          "the second export wrote, renamed and removed only what changed")
    dovecot = Dovecot(args.work, location, "listescape")
    compare(roost, dovecot.connection, None, "maildir after changes")
    dovecot.close()

    mbox = os.path.join(args.work, "mbox")
    print(export(args, "mbox", mbox), flush=True)
    location = "mbox:%s:INBOX=%s/INBOX" % (mbox, mbox)
    dovecot = Dovecot(args.work, location)
    compare(roost, dovecot.connection, ["INBOX", "v1.2"], "mbox", subscriptions=False)
    dovecot.close()
    roost.command("LOGOUT")
    # Dovecot says when a file disagrees with its name or the uidlist
    # (a wrong S= or W=, an unknown uidlist line, a broken keyword file).
    with open(os.path.join(args.work, "dovecot.log"), errors="replace") as log:
        complaints = [line.strip() for line in log if "Error:" in line or "Warning:" in line or "Panic:" in line]
    check(not complaints, "Dovecot logged no error or warning about the exported files%s" % (
        "" if not complaints else ": " + " | ".join(complaints[:5])))


if __name__ == "__main__":
    main()

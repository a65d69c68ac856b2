"""Compares roost's MIME, SEARCH, SORT and THREAD answers with Dovecot's, message by message.

Usage (compare.sh does all of this for you):
  compare.py --corpus DIR --dovecot PORT --roost PORT --user NAME --password-file FILE
             [--reference DIR] [--report FILE] [--intended FILE] [--examples N]

Both servers get the same APPENDs in the same order (flags and INTERNALDATE
from the corpus manifest), then every message is fetched item by item
(ENVELOPE, BODYSTRUCTURE, BODY, sizes, BODY[] of the message and BODY[n],
BODY[n.HEADER], BODY[n.TEXT], BODY[n.MIME], BODY[n.HEADER.FIELDS (...)],
BODY[n.HEADER.FIELDS.NOT (...)], BINARY[n], BINARY.SIZE[n] of every part
that Dovecot's BODYSTRUCTURE shows, partial fetches on some), then a battery
of SEARCH / ESEARCH / SEARCHRES / SORT / THREAD commands runs on both.

Compared: the status (OK/NO/BAD), the response code's name, and the parsed
data (strings compared as bytes whatever their form: quoted or literal).
UIDs are mapped to corpus messages, so result sets compare even when one
server rejected an APPEND. Not compared: tags, UIDVALIDITY, the human text
after OK/NO/BAD, untagged responses the command did not ask for.

Exit status: 0 when every difference is listed in the intended-differences
file, 1 when some are not, 2 when the comparison could not run.
"""

import argparse
import difflib
import json
import os
import re
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from imapwire import Atom, Connection, Literal, Result, quote  # noqa: E402

# ---------------------------------------------------------------- rendering


def render(value, limit=400):
    """VALUE back in IMAP-like text for humans; long strings are cut to LIMIT bytes (None: never)."""
    if value is None:
        return "NIL"
    if isinstance(value, Atom):
        return str(value)
    if isinstance(value, list):
        return "(" + " ".join(render(item, limit) for item in value) + ")"
    if isinstance(value, bytes):
        shown = value if limit is None or len(value) <= limit else value[:limit]
        text = shown.decode("utf-8", "backslashreplace")
        printable = all(c not in text for c in "\r\n\"\\") and len(value) <= 200
        cut = "" if shown is value else "...[%d bytes in all]" % len(value)
        if printable and not cut:
            return '"%s"' % text
        return "{%d}%r%s" % (len(value), text, cut)
    return repr(value)


def render_raw(raw, limit=16384):
    """Raw response bytes for a reference file: CRLF shown as line ends, long literals shortened."""
    text = raw.decode("utf-8", "backslashreplace")
    if limit is not None and len(raw) > limit:
        head = raw[: limit - 1024].decode("utf-8", "backslashreplace")
        tail = raw[-1024:].decode("utf-8", "backslashreplace")
        text = head + "\n[... %d bytes left out ...]\n" % (len(raw) - limit) + tail
    return text.replace("\r\n", "\n")


def expand_set(text):
    """'1:3,7' -> [1, 2, 3, 7] (ESEARCH ALL values); '*' is not expected from servers."""
    out = []
    for piece in str(text).split(","):
        if ":" in piece:
            low, high = piece.split(":", 1)
            low, high = int(low), int(high)
            if low > high:
                low, high = high, low
            out.extend(range(low, high + 1))
        elif piece:
            out.append(int(piece))
    return out


# ---------------------------------------------------------------- servers


class Server:
    """One logged-in session with INBOX selected; reconnects after a broken connection."""

    def __init__(self, name, host, port, user, password):
        self.name = name
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.conn = None
        self.reconnects = 0
        self.failures = 0

    def connect(self, select=True):
        if self.conn:
            self.conn.close()
        self.conn = Connection(self.host, self.port)
        result = self.conn.login(self.user, self.password)
        if result.status != "OK":
            raise RuntimeError("%s: LOGIN failed: %s %s" % (self.name, result.status, result.text))
        if select:
            result = self.conn.command("SELECT INBOX")
            if result.status != "OK":
                raise RuntimeError("%s: SELECT INBOX failed: %s %s" % (self.name, result.status, result.text))

    def run(self, parts):
        if self.failures >= 3:
            # Three broken connections in a row: the server is gone or hung; stop waiting for it.
            return Result("ERROR", None, "skipped: server unreachable", [], [], 0.0)
        result = self.conn.command(*parts)
        if result.status != "ERROR":
            self.failures = 0
            return result
        # The server dropped us (or timed out): note it, start over, keep going.
        self.failures += 1
        self.reconnects += 1
        try:
            self.connect()
        except Exception as error:  # refused, closed at once, LOGIN refused: all end up here
            result.text += "; reconnect failed: %s" % error
            self.failures += 1
        return result


def run_both(servers, jobs):
    """Runs the same list of command-part lists on each server (one thread per server)."""
    results = {}

    def worker(server, commands):
        out = results[server.name] = []
        for parts in commands:
            try:
                out.append(server.run(parts))
            except Exception as error:  # a bug here must not hide the other differences
                out.append(Result("ERROR", None, "client error: %r" % error, [], [], 0.0))

    threads = [threading.Thread(target=worker, args=(server, jobs[server.name])) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# ---------------------------------------------------------------- corpus and appends


def append_all(servers, corpus_dir, manifest):
    """APPENDs every message to both; returns {server: {uid: index}} and {server: [index per uid order]}."""
    jobs = {}
    for server in servers:
        commands = []
        for entry in manifest:
            with open(os.path.join(corpus_dir, entry["file"]), "rb") as handle:
                data = handle.read()
            flags = " ".join(entry["flags"])
            commands.append(["APPEND INBOX (%s) %s " % (flags, quote(entry["internaldate"])), Literal(data)])
        jobs[server.name] = commands
    results = run_both(servers, jobs)
    uid_maps, problems = {}, []
    for server in servers:
        mapping = {}
        next_guess = 1
        for index, result in enumerate(results[server.name]):
            if result.status != "OK":
                problems.append((index, result, server.name))
                continue
            match = re.match(r"APPENDUID \d+ (\d+)", result.code or "", re.I)
            uid = int(match.group(1)) if match else next_guess
            mapping[uid] = index
            next_guess = uid + 1
        uid_maps[server.name] = mapping
    return uid_maps, results, problems


# ---------------------------------------------------------------- part enumeration


def is_multipart(body):
    return isinstance(body, list) and body and isinstance(body[0], list)


def is_message_rfc822(body):
    return (
        isinstance(body, list)
        and len(body) > 8
        and isinstance(body[0], bytes)
        and isinstance(body[1], bytes)
        and body[0].upper() == b"MESSAGE"
        and body[1].upper() in (b"RFC822", b"GLOBAL")
    )


def children(body):
    """The child bodies of a multipart BODYSTRUCTURE (the leading lists)."""
    out = []
    for item in body:
        if not isinstance(item, list):
            break
        out.append(item)
    return out


def part_numbers(body, limit=2000):
    """Every section number (['1', '1.1', ...]) of a BODYSTRUCTURE, in order; at most LIMIT of them."""
    out = []

    def inner(entity, number):
        # Parts inside ENTITY, whose own section number is NUMBER.
        if len(out) >= limit:
            return
        if is_multipart(entity):
            for position, child in enumerate(children(entity), 1):
                child_number = "%s.%d" % (number, position) if number else str(position)
                out.append(child_number)
                inner(child, child_number)
        elif is_message_rfc822(entity):
            encapsulated = entity[8]
            if is_multipart(encapsulated):
                inner(encapsulated, number)
            elif isinstance(encapsulated, list):
                out.append(number + ".1")
                inner(encapsulated, number + ".1")

    if is_multipart(body):
        inner(body, "")
    else:
        out.append("1")
        inner(body, "1")
    return out[:limit]


# ---------------------------------------------------------------- FETCH items

TOP_ITEMS = [
    "ENVELOPE",
    "BODYSTRUCTURE",
    "BODY",
    "RFC822.SIZE",
    "INTERNALDATE",
    "FLAGS",
    "BODY.PEEK[]",
    "BODY.PEEK[HEADER]",
    "BODY.PEEK[TEXT]",
    "RFC822.HEADER",
    "BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID CONTENT-TYPE)]",
    "BODY.PEEK[HEADER.FIELDS.NOT (RECEIVED SUBJECT CONTENT-TYPE)]",
    "BINARY.PEEK[]",
    "BINARY.SIZE[]",
]
PART_ITEMS = [
    "BODY.PEEK[{n}]",
    "BODY.PEEK[{n}.MIME]",
    "BODY.PEEK[{n}.HEADER]",
    "BODY.PEEK[{n}.TEXT]",
    "BODY.PEEK[{n}.HEADER.FIELDS (SUBJECT FROM CONTENT-TYPE)]",
    "BODY.PEEK[{n}.HEADER.FIELDS.NOT (SUBJECT FROM)]",
    "BINARY.PEEK[{n}]",
    "BINARY.SIZE[{n}]",
]
PARTIAL_ITEMS = [
    "BODY.PEEK[]<0.100>",
    "BODY.PEEK[]<100.57>",
    "BODY.PEEK[]<1000000.10>",
    "BODY.PEEK[TEXT]<5.0>",
    "BODY.PEEK[1]<3.20>",
    "BODY.PEEK[1.MIME]<0.15>",
    "BINARY.PEEK[1]<0.30>",
    "BINARY.PEEK[1]<2.5000000>",
]


def wants_partials(index, file):
    return index % 7 == 0 or any(word in file for word in ("base64", "quoted", "64kib", "rfc2231", "nested-4"))


def item_class(item):
    """The kind of an item for grouping: part numbers become n, partial ranges <partial>."""
    item = re.sub(r"\[\d+(\.\d+)*", "[n", item)
    item = re.sub(r"<\d+\.\d+>", "<partial>", item)
    return item.replace(".PEEK", "")


def fetch_items(result, want_flags, expected_uid):
    """Merges the FETCH data of RESULT into {ITEM NAME: value}; FLAGS only when asked for."""
    items = {}
    for response in result.untagged:
        if response.name != "FETCH":
            continue
        if response.error:
            items["(unparsable FETCH)"] = response.raw
            continue
        values = response.values
        if len(values) != 1 or not isinstance(values[0], list) or len(values[0]) % 2:
            items["(malformed FETCH)"] = response.raw
            continue
        pairs = values[0]
        these = {}
        for position in range(0, len(pairs), 2):
            key = str(pairs[position]).upper() if pairs[position] is not None else "NIL"
            these[key] = pairs[position + 1]
        if "UID" in these and str(these["UID"]) != str(expected_uid):
            continue  # about another message (an unsolicited update)
        if not want_flags and set(these) <= {"UID", "FLAGS"}:
            continue
        for key, value in these.items():
            if key == "UID":
                value = Atom("(this message)") if str(value) == str(expected_uid) else value
            if key == "FLAGS" and not want_flags:
                continue
            if key == "INTERNALDATE" and isinstance(value, bytes):
                value = instant(value)
            if key == "FLAGS" and isinstance(value, list):
                value = sorted((str(flag) for flag in value), key=str.upper)  # order carries no meaning
            items[key] = value
    return items


MONTH_NUMBERS = {m: n for n, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}


def instant(value):
    """An INTERNALDATE as the UTC instant it names: Dovecot's maildir keeps only a
    timestamp and shows it in the server's zone, so the zone the client gave at
    APPEND cannot survive there; the instant must agree."""
    match = re.match(rb"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\Z", value)
    if not match or match.group(2).upper().decode() not in MONTH_NUMBERS:
        return value
    import datetime

    day, month, year = int(match.group(1)), MONTH_NUMBERS[match.group(2).upper().decode()], int(match.group(3))
    try:
        local = datetime.datetime(year, month, day, int(match.group(4)), int(match.group(5)), int(match.group(6)))
    except ValueError:
        return value
    offset = datetime.timedelta(hours=int(match.group(8)), minutes=int(match.group(9)))
    utc = local - offset if match.group(7) == b"+" else local + offset
    return Atom(utc.strftime("%Y-%m-%d %H:%M:%S UTC"))


def fold_case(value):
    if isinstance(value, list):
        return [fold_case(item) for item in value]
    if isinstance(value, bytes):
        return value.lower()
    if isinstance(value, str):
        return value.lower()
    return value


def status_text(result):
    """'OK', 'NO [CANNOT]' ... for the kind; the code's arguments and the human text are left out."""
    name = result.code_name()
    return result.status + (" [%s]" % name if name else "")


# ---------------------------------------------------------------- differences


class Differences:
    def __init__(self):
        self.items = []
        self.no_reference = []

    def note(self, message, item, dovecot, roost):
        """An item Dovecot gave no answer to: shown in the report, not counted."""
        self.no_reference.append({"message": message, "item": item, "dovecot": dovecot, "roost": roost})

    def add(self, kind, message, item, dovecot, roost):
        self.items.append({"kind": kind, "message": message, "item": item, "dovecot": dovecot, "roost": roost})


def describe(result, extra=""):
    text = status_text(result)
    if result.code:
        text = "%s [%s]" % (result.status, result.code)
    if result.status != "OK":
        text += " " + result.text
    return (text + extra)[:600]


def compare_fetch(diffs, file, item, results, uids):
    dovecot, roost = results["dovecot"], results["roost"]
    cls = item_class(item)
    if dovecot.status == "ERROR":
        # Dovecot itself failed (it closes the connection on some broken base64):
        # there is no reference answer to hold roost to.
        diffs.note(file, item, describe(dovecot), describe(roost))
        return
    if dovecot.status != roost.status or (dovecot.status != "OK" and dovecot.code_name() != roost.code_name()):
        got = fetch_items(dovecot, "FLAGS" in item, uids["dovecot"])
        shown = " ".join("%s %s" % (key, render(value)) for key, value in got.items())
        diffs.add(
            "%s: Dovecot %s, roost %s" % (cls, status_text(dovecot), status_text(roost)),
            file,
            item,
            describe(dovecot, " " + shown if shown else ""),
            describe(roost),
        )
        return
    if dovecot.status != "OK":
        return
    left = fetch_items(dovecot, "FLAGS" in item, uids["dovecot"])
    right = fetch_items(roost, "FLAGS" in item, uids["roost"])
    if left == right:
        return
    keys = sorted(set(left) | set(right))
    differing = [key for key in keys if left.get(key, "(absent)") != right.get(key, "(absent)")]
    how = "value differs"
    if fold_case(left) == fold_case(right):
        how = "value differs in letter case only"
    elif set(left) != set(right):
        how = "different items returned"
    diffs.add(
        "%s: %s" % (cls, how),
        file,
        item,
        "; ".join("%s %s" % (key, render(left[key]) if key in left else "(absent)") for key in differing),
        "; ".join("%s %s" % (key, render(right[key]) if key in right else "(absent)") for key in differing),
    )


# ---------------------------------------------------------------- SEARCH battery


def lit(text):
    return Literal(text if isinstance(text, bytes) else text.encode("utf-8"))


def search_battery(manifest):
    """(group, kind, [command parts...]) for every SEARCH / SORT / THREAD test; kind says how to compare."""
    first_day = manifest[0]["internaldate"].split(" ")[0]
    tests = []

    def s(group, *parts, kind="search"):
        tests.append((group, kind, list(parts)))

    for key in [
        "ALL", "ANSWERED", "UNANSWERED", "DELETED", "UNDELETED", "DRAFT", "UNDRAFT", "FLAGGED", "UNFLAGGED",
        "SEEN", "UNSEEN", "RECENT", "NEW", "OLD", "KEYWORD $Forwarded", "UNKEYWORD $Forwarded", "KEYWORD $label1",
        "KEYWORD NonJunk", "KEYWORD nosuchkeyword", "UNKEYWORD nosuchkeyword",
    ]:
        s("flags", "UID SEARCH " + key)
    for key in [
        "FROM alice", 'FROM "example.com"', 'FROM "Doe, John"', "FROM heidi", "FROM Muller", 'FROM ""',
        "TO bob", "TO undisclosed", "TO routed@example.com", "CC carol", 'CC "192.0.2.1"', "CC localonly",
        "BCC noname", "BCC nohost", "FROM second@example.com", 'FROM "<>"', "TO group",
    ]:
        s("address", "UID SEARCH " + key)
    for word in ["Müller", "Jörg", "Günter", "Émile"]:
        s("address", "UID SEARCH CHARSET UTF-8 FROM ", lit(word))
    for key in [
        "SUBJECT holiday", 'SUBJECT "Holiday plans"', 'SUBJECT "re:"', 'SUBJECT "[family]"', 'SUBJECT "folded across"',
        'SUBJECT "is folded"', 'SUBJECT "Second subject"', 'SUBJECT "First subject"', 'SUBJECT "Teil eins und zwei"',
        "SUBJECT mystery", 'SUBJECT ""', 'SUBJECT "fwd"',
    ]:
        s("subject", "UID SEARCH " + key)
    for word in ["Привет", "Новости", "日本語", "中文", "Zürich", "€", "Zażółć", "“Smart”", "Grüße", "brûlée", "東京",
                 "drei\u00e9", "✓", "ГРЮССЕ"]:
        s("subject-charset", "UID SEARCH CHARSET UTF-8 SUBJECT ", lit(word))
    for key in [
        'HEADER Message-ID "<enc-koi8r-b@corpus.example>"', "HEADER X-Search-Only-Header mangosteen",
        "HEADER List-Id family", 'HEADER X-Mailer ""', 'HEADER Message-ID ""', "HEADER References t00",
        'HEADER Content-Type "multipart/mixed"', "HEADER X-Raw bytes", 'HEADER "X-Empty" ""', "HEADER Subject holiday",
        'HEADER In-Reply-To "<t"', "HEADER Keywords inside-word",
    ]:
        s("header", "UID SEARCH " + key)
    for key in [
        "BODY dinner", "BODY zucchini", "BODY pineapple", "BODY durian", "BODY kiwifruit", "BODY needle64k",
        "BODY mangosteen", "TEXT mangosteen", 'TEXT "Holiday plans"', 'BODY "MIME format"', "BODY Epilogue",
        "BODY DINNER", 'TEXT ""', 'BODY "inner html"', "BODY Deepest", 'BODY "the bottom"', "BODY uuencode",
        'BODY "#86)C"', "BODY Hello", 'BODY "soft break in pineapple"', "TEXT alice@example.org", "BODY 5pel5pys6Kqe",
        'BODY "part number 299"', "BODY aGVsbG8g", "BODY hello", 'TEXT "Digest item 1"',
        'BODY "Digest item 1"', 'TEXT "fallback.txt"', 'BODY "fallback.txt"', 'TEXT "list2@example.com"',
        'TEXT "The forwarded one"', 'TEXT "Content-Disposition"',
    ]:
        s("body-text", "UID SEARCH " + key)
    for key, word in [
        ("BODY", "Grüße"), ("BODY", "Привет"), ("BODY", "été"), ("BODY", "ПРИВЕТ"), ("BODY", "привет"),
        ("BODY", "Ünïcödé"), ("TEXT", "東京"), ("BODY", "Příliš"), ("BODY", "œuvre"), ("BODY", "булок"),
        ("BODY", "“quotes”"), ("BODY", "Ganz unten: äöü"), ("BODY", "Körper"), ("TEXT", "Zażółć"), ("BODY", "日本語"),
    ]:
        s("body-charset", "UID SEARCH CHARSET UTF-8 %s " % key, lit(word))
    s("body-charset", "UID SEARCH CHARSET ISO-8859-1 BODY ", lit(b"Gr\xfc\xdfe"))
    s("body-charset", "UID SEARCH CHARSET KOI8-R BODY ", lit("Привет".encode("koi8-r")))
    s("body-charset", "UID SEARCH CHARSET US-ASCII BODY dinner")
    s("body-charset", "UID SEARCH BODY ", lit("äöü"))
    for key in [
        "BEFORE 1-Jun-2023", "ON " + first_day, "SINCE 1-Jan-2024", "SENTBEFORE 1-Jun-2023", "SENTON 15-Jan-2024",
        "SENTSINCE 1-Jan-2024", "SENTBEFORE 1-Jan-2000", "SENTSINCE 1-Jan-2099", "BEFORE 01-Jan-2023",
        "SENTON 20-Jan-2024", "SENTON 21-Jan-2024", 'SINCE "1-Feb-2023" BEFORE "1-Mar-2023"',
    ]:
        s("dates", "UID SEARCH " + key)
    for key in ["LARGER 10000", "SMALLER 500", "LARGER 0", "SMALLER 100000", "LARGER 60000", "SMALLER 1"]:
        s("size", "UID SEARCH " + key)
    for key in [
        "UID 1:10", "UID 5,7,9:12", "UID *", "UID 200:*", "1:5", "*", "2,4,6:8", "UID 1:*", "UID 9999", "UID 3:1",
        "UID 1:3 4:6",
    ]:
        s("sets", "UID SEARCH " + key)
    for key in [
        "OR SEEN FLAGGED", "NOT SEEN", "OR (FROM alice SUBJECT holiday) NOT (TO bob)", "OR OR SEEN FLAGGED DRAFT",
        "(SEEN FLAGGED)", "NOT NOT SEEN", "NOT OR SEEN DELETED", "SEEN NOT FLAGGED LARGER 2000", "((SEEN))",
        "OR NOT SEEN NOT FLAGGED", "UID 1:50 OR ANSWERED (KEYWORD $Forwarded SMALLER 3000)",
        "NOT (OR FROM alice (OR FROM bob FROM carol))",
    ]:
        s("logic", "UID SEARCH " + key)
    for parts in [
        ["UID SEARCH CHARSET X-UNKNOWN TEXT foo"], ["UID SEARCH CHARSET UTF-8 ALL"],
        ['UID SEARCH CHARSET "utf-8" SUBJECT holiday'], ["UID SEARCH FOO"], ["UID SEARCH BEFORE notadate"],
        ["UID SEARCH"], ["UID SEARCH (SEEN"], ["UID SEARCH HEADER"], ["UID SEARCH LARGER -5"],
        ["UID SEARCH CHARSET X-UNKNOWN SUBJECT ", lit("Ü")],
    ]:
        s("errors", *parts)
    s("sequence-numbers", "SEARCH FLAGGED")
    s("sequence-numbers", "SEARCH 1:10 UNSEEN")
    s("sequence-numbers", "SEARCH UID 20:30")

    for key in [
        "RETURN (MIN MAX COUNT ALL) FLAGGED", "RETURN () SEEN", "RETURN (COUNT) ALL",
        "RETURN (MIN MAX) KEYWORD nosuchkeyword", "RETURN (ALL) OR FROM alice FROM bob", "RETURN (MAX) UNSEEN",
    ]:
        s("esearch", "UID SEARCH " + key, kind="esearch")
    s("esearch", "SEARCH RETURN (MIN COUNT) UNSEEN", kind="esearch")
    s("esearch", "UID SEARCH RETURN (MIN MAX COUNT ALL) CHARSET UTF-8 SUBJECT ", lit("Привет"), kind="esearch")

    s("searchres", "UID SEARCH RETURN (SAVE) FLAGGED", kind="esearch")
    s("searchres", "UID FETCH $ (UID)", kind="fetch-uids")
    s("searchres", "UID SEARCH $ UNSEEN")
    s("searchres", "UID SEARCH OR $ DRAFT")
    s("searchres", "UID SEARCH RETURN (SAVE MIN) SEEN", kind="esearch")
    s("searchres", "UID FETCH $ (UID)", kind="fetch-uids")
    s("searchres", "UID SEARCH RETURN (SAVE) KEYWORD nosuchkeyword", kind="esearch")
    s("searchres", "UID FETCH $ (UID)", kind="fetch-uids")
    # ESORT (RFC 5267): MIN/MAX/ALL in sort order.
    s("esort", "UID SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 ALL", kind="esearch")
    s("esort", "SORT RETURN (MIN MAX COUNT) (REVERSE ARRIVAL) UTF-8 UNSEEN", kind="esearch")
    s("esort", "UID SORT RETURN (ALL) (DATE) UTF-8 FLAGGED", kind="esearch")

    for criteria in [
        "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO", "REVERSE DATE",
        "REVERSE SUBJECT", "SUBJECT DATE", "FROM REVERSE SIZE", "REVERSE ARRIVAL", "REVERSE FROM REVERSE TO",
    ]:
        s("sort", "UID SORT (%s) UTF-8 ALL" % criteria, kind="sort")
    s("sort", "UID SORT (SUBJECT) US-ASCII ALL", kind="sort")
    s("sort", "UID SORT (DATE) UTF-8 SEEN", kind="sort")
    s("sort", "UID SORT (SUBJECT ARRIVAL) UTF-8 SUBJECT holiday", kind="sort")
    s("sort", "SORT (DATE) UTF-8 ALL", kind="sort")
    s("sort", "UID SORT (NOSUCH) UTF-8 ALL", kind="sort")
    s("sort", "UID SORT (DATE) X-UNKNOWN ALL", kind="sort")
    s("sort", "UID SORT () UTF-8 ALL", kind="sort")

    for command in [
        "UID THREAD ORDEREDSUBJECT UTF-8 ALL", "UID THREAD REFERENCES UTF-8 ALL",
        "UID THREAD REFERENCES UTF-8 SUBJECT holiday", "UID THREAD ORDEREDSUBJECT UTF-8 UNSEEN",
        "THREAD REFERENCES UTF-8 ALL", "UID THREAD NOSUCH UTF-8 ALL", "UID THREAD REFERENCES X-UNKNOWN ALL",
    ]:
        s("thread", command, kind="thread")
    return tests


def label(parts):
    out = []
    for part in parts:
        if isinstance(part, Literal):
            out.append("{%d}%s" % (len(part.data), part.data.decode("utf-8", "backslashreplace")))
        else:
            out.append(part if isinstance(part, str) else part.decode())
    return "".join(out)


class Mapper:
    """UIDs and sequence numbers of one server -> corpus message numbers (the NNN of NNN-name.eml)."""

    def __init__(self, uid_map):
        self.uid_map = uid_map
        self.by_sequence = [uid_map[uid] for uid in sorted(uid_map)]

    def message(self, number, uid=True):
        number = int(number)
        if uid:
            index = self.uid_map.get(number)
        else:
            index = self.by_sequence[number - 1] if 0 < number <= len(self.by_sequence) else None
        return index + 1 if index is not None else "?%s%d" % ("uid" if uid else "seq", number)


def normalise(kind, result, mapper, uid):
    """The comparable meaning of a SEARCH-family answer."""
    out = {}
    for response in result.untagged:
        if response.error and response.name in ("SEARCH", "SORT", "THREAD", "ESEARCH", "FETCH"):
            out.setdefault("unparsable", []).append(response.raw.decode("utf-8", "backslashreplace"))
            continue
        if response.name == "SEARCH" and kind in ("search", "esearch"):
            out.setdefault("SEARCH", set()).update(mapper.message(v, uid) for v in response.values
                                                   if str(v).isdigit())
        elif response.name == "SORT" and kind == "sort":
            out.setdefault("SORT", []).extend(mapper.message(v, uid) for v in response.values if str(v).isdigit())
        elif response.name == "THREAD" and kind == "thread":
            out.setdefault("THREAD", []).extend(map_thread(response.values, mapper, uid))
        elif response.name == "ESEARCH" and kind == "esearch":
            out["ESEARCH"] = normalise_esearch(response.values, mapper)
        elif response.name == "FETCH" and kind == "fetch-uids":
            pairs = response.values[0] if response.values and isinstance(response.values[0], list) else []
            for position in range(0, len(pairs) - 1, 2):
                if str(pairs[position]).upper() == "UID":
                    out.setdefault("FETCH UID", set()).add(mapper.message(pairs[position + 1], True))
    return out


def map_thread(values, mapper, uid):
    out = []
    for value in values:
        if isinstance(value, list):
            out.append(map_thread(value, mapper, uid))
        elif value is not None and str(value).isdigit():
            out.append(mapper.message(value, uid))
        else:
            out.append(str(value))
    return out


def normalise_esearch(values, mapper):
    result = {}
    position = 0
    if values and isinstance(values[0], list):
        position = 1  # (TAG "...") correlator: tags differ by design
    uid = False
    while position < len(values):
        key = str(values[position]).upper()
        if key == "UID":
            uid = True
            result["UID"] = True
            position += 1
            continue
        value = values[position + 1] if position + 1 < len(values) else None
        position += 2
        if key in ("MIN", "MAX") and value is not None:
            result[key] = mapper.message(value, uid)
        elif key == "ALL" and value is not None:
            result[key] = sorted((mapper.message(n, uid) for n in expand_set(value)), key=str)
        else:
            result[key] = render(value)
    return result


def show(value, limit=60):
    if isinstance(value, set):
        value = sorted(value, key=lambda v: (isinstance(v, str), v if isinstance(v, int) else 0, str(v)))
    text = json.dumps(value, default=list, ensure_ascii=False)
    return text if len(text) <= 600 else text[:600] + "..."


def compare_search(diffs, group, kind, parts, results, mappers):
    dovecot, roost = results["dovecot"], results["roost"]
    item = label(parts)
    uid = item.upper().startswith("UID ")
    cls = "%s %s" % (kind.upper(), group)
    if dovecot.status != roost.status or (dovecot.status != "OK" and dovecot.code_name() != roost.code_name()):
        meaning = normalise(kind, dovecot, mappers["dovecot"], uid)
        diffs.add(
            "%s: Dovecot %s, roost %s" % (cls, status_text(dovecot), status_text(roost)),
            "-",
            item,
            describe(dovecot, " " + show(meaning) if meaning else ""),
            describe(roost),
        )
        return
    left = normalise(kind, dovecot, mappers["dovecot"], uid)
    right = normalise(kind, roost, mappers["roost"], uid)
    if left == right:
        return
    detail_left, detail_right = show(left), show(right)
    for key in ("SEARCH", "FETCH UID"):
        if isinstance(left.get(key), set) and isinstance(right.get(key), set):
            only_left = left[key] - right[key]
            only_right = right[key] - left[key]
            detail_left = "%d results, only Dovecot: %s" % (len(left[key]), show(only_left))
            detail_right = "%d results, only roost: %s" % (len(right[key]), show(only_right))
    for key in ("SORT",):
        if isinstance(left.get(key), list) and isinstance(right.get(key), list):
            # Same messages in another order: name the ones out of place.
            matcher = difflib.SequenceMatcher(a=left[key], b=right[key], autojunk=False)
            kept = sum(block.size for block in matcher.get_matching_blocks())
            moved = [
                (tag, left[key][i1:i2], right[key][j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
            ]
            detail_left = "%s (%d in the same order; elsewhere: %s)" % (detail_left, kept, show([m[1] for m in moved]))
            detail_right = "%s (elsewhere: %s)" % (detail_right, show([m[2] for m in moved]))
            if sorted(left[key]) == sorted(right[key]):
                # The same messages, some elsewhere: the intended-differences
                # file can name exactly which ("- moved 182").
                out_of_place = sorted({n for m in moved for side in m[1:] for n in side}, key=str)
                where = "- moved " + " ".join(str(n) for n in out_of_place)
                diffs.add("%s: order differs" % cls, where, item, detail_left, detail_right)
                return
    diffs.add("%s: results differ" % cls, "-", item, detail_left, detail_right)


# ---------------------------------------------------------------- intended differences


def load_intended(path):
    """Lines 'MESSAGE-GLOB | ITEM-GLOB | RFC reason'; '#' comments and blank lines skipped."""
    entries = []
    if not path or not os.path.exists(path):
        return entries
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = [field.strip() for field in line.split("|", 2)]
            if len(fields) != 3 or not fields[2]:
                raise SystemExit("%s:%d: expected 'MESSAGE-GLOB | ITEM-GLOB | RFC reason'" % (path, number))
            entries.append({"message": fields[0], "item": fields[1], "reason": fields[2], "used": 0})
    return entries


def glob_match(text, pattern):
    """'*' any run of characters, '?' one character; everything else (brackets too) literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.S) is not None


def intended_reason(entries, diff):
    for entry in entries:
        if glob_match(diff["message"], entry["message"]) and glob_match(diff["item"], entry["item"]):
            entry["used"] += 1
            return entry["reason"]
    return None


# ---------------------------------------------------------------- reference files


def write_reference(directory, corpus_dir, manifest, per_message, search_log, uid_maps):
    """Dovecot's raw answers, one readable file per message, plus search.txt and the corpus itself."""
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if name == "corpus" and os.path.isdir(path):
                shutil.rmtree(path)
            elif name.endswith(".txt"):
                os.remove(path)
    os.makedirs(os.path.join(directory, "corpus"), exist_ok=True)
    for entry in manifest:
        shutil.copyfile(os.path.join(corpus_dir, entry["file"]), os.path.join(directory, "corpus", entry["file"]))
    shutil.copyfile(os.path.join(corpus_dir, "manifest.json"), os.path.join(directory, "corpus", "manifest.json"))
    uid_of = {index: uid for uid, index in uid_maps["dovecot"].items()}
    with open(os.path.join(directory, "README.txt"), "w", encoding="utf-8") as handle:
        handle.write(
            "Dovecot's raw answers to tests/mime/compare.py, one file per corpus message\n"
            "(NNN-name.txt for corpus/NNN-name.eml) plus search.txt for SEARCH/SORT/THREAD.\n"
            "C: is the command sent (tags left out), S: what Dovecot answered, CRLF shown as\n"
            "line ends, responses over 16 KiB shortened in the middle. Written by\n"
            "tests/mime/compare.sh --reference DIR; regenerate rather than edit.\n"
        )
    for index, entry in enumerate(manifest):
        name = entry["file"][: -len(".eml")] + ".txt"
        with open(os.path.join(directory, name), "w", encoding="utf-8") as handle:
            handle.write("# %s: %d bytes, APPEND flags (%s), INTERNALDATE %s, Dovecot UID %s\n" % (
                entry["file"], os.path.getsize(os.path.join(corpus_dir, entry["file"])), " ".join(entry["flags"]),
                entry["internaldate"], uid_of.get(index, "(APPEND failed)")))
            for command, result in per_message.get(index, []):
                handle.write("\nC: %s\n" % command)
                for raw in result.raw:
                    handle.write("S: " + render_raw(re.sub(rb"^c\d{4} ", b"", raw)))
                    if not raw.endswith(b"\n"):
                        handle.write("\n")
    with open(os.path.join(directory, "search.txt"), "w", encoding="utf-8") as handle:
        handle.write("# SEARCH / ESEARCH / SEARCHRES / SORT / THREAD as Dovecot answered them.\n"
                     "# UIDs are corpus message numbers (the NNN of NNN-name.eml) when every APPEND worked.\n")
        for command, result in search_log:
            handle.write("\nC: %s\n" % command)
            for raw in result.raw:
                handle.write("S: " + render_raw(re.sub(rb"^c\d{4} ", b"", raw)))


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dovecot", type=int, required=True, help="Dovecot's plain IMAP port")
    parser.add_argument("--roost", type=int, required=True, help="roost's plain IMAP port")
    parser.add_argument("--user", required=True)
    parser.add_argument("--roost-user", help="user on the roost port (default: --user); the self-test points "
                        "--roost at Dovecot with a second user")
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--reference", help="directory for Dovecot's raw answers (replaced)")
    parser.add_argument("--report", help="file for the full report (every difference)")
    parser.add_argument("--intended", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                           "intended-differences.txt"))
    parser.add_argument("--examples", type=int, default=3, help="examples per kind printed on stdout")
    args = parser.parse_args()

    started = time.monotonic()
    with open(args.password_file, encoding="utf-8") as handle:
        password = handle.read().rstrip("\n")
    with open(os.path.join(args.corpus, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    intended = load_intended(args.intended)
    servers = [Server("dovecot", args.host, args.dovecot, args.user, password),
               Server("roost", args.host, args.roost, args.roost_user or args.user, password)]
    for server in servers:
        try:
            server.connect(select=False)
        except Exception as error:
            print("compare.py: cannot log in to %s on port %d: %s" % (server.name, server.port, error), file=sys.stderr)
            return 2
    diffs = Differences()

    uid_maps, append_results, problems = append_all(servers, args.corpus, manifest)
    for index, result, name in problems:
        diffs.add("APPEND: %s refused" % name, manifest[index]["file"], "APPEND",
                  describe(append_results["dovecot"][index]), describe(append_results["roost"][index]))
    for server in servers:
        select = server.conn.command("SELECT INBOX")
        if select.status != "OK":
            print("compare.py: %s: SELECT INBOX failed: %s" % (server.name, select.text), file=sys.stderr)
            return 2
    mappers = {name: Mapper(uid_maps[name]) for name in uid_maps}
    uid_of = {name: {index: uid for uid, index in uid_maps[name].items()} for name in uid_maps}
    print("appended %d messages (Dovecot %d, roost %d) in %.1f s" % (
        len(manifest), len(uid_maps["dovecot"]), len(uid_maps["roost"]), time.monotonic() - started), flush=True)

    # Part numbers come from Dovecot's BODYSTRUCTURE: the reference decides what to ask.
    both = [index for index in range(len(manifest)) if index in uid_of["dovecot"] and index in uid_of["roost"]]
    structure = {}
    dovecot = servers[0]
    for index in both:
        result = dovecot.run(["UID FETCH %d (BODYSTRUCTURE)" % uid_of["dovecot"][index]])
        items = fetch_items(result, False, uid_of["dovecot"][index])
        structure[index] = part_numbers(items.get("BODYSTRUCTURE")) if "BODYSTRUCTURE" in items else ["1"]

    # SEARCH before the FETCHes, and FLAGS before the other items: \Recent
    # belongs to the first session only, and a server that drops the
    # connection during a FETCH (Dovecot does, on BINARY of some broken
    # base64) hands \Recent to no one in the next session, which would turn
    # RECENT/NEW/OLD and every later FLAGS into a difference.
    search_started = time.monotonic()
    battery = search_battery(manifest)
    jobs = {name: [parts for _, _, parts in battery] for name in ("dovecot", "roost")}
    results = run_both(servers, jobs)
    search_log = []
    for position, (group, kind, parts) in enumerate(battery):
        pair = {name: results[name][position] for name in results}
        compare_search(diffs, group, kind, parts, pair, mappers)
        search_log.append((label(parts), pair["dovecot"]))
    print("ran %d SEARCH/SORT/THREAD commands in %.1f s" % (len(battery), time.monotonic() - search_started),
          flush=True)

    plan = [(index, "FLAGS") for index in both]  # (index, item)
    for index in both:
        file = manifest[index]["file"]
        for item in TOP_ITEMS:
            if item != "FLAGS":
                plan.append((index, item))
        for number in structure[index]:
            for template in PART_ITEMS:
                plan.append((index, template.replace("{n}", number)))
        if wants_partials(index, file):
            for item in PARTIAL_ITEMS:
                plan.append((index, item))
    jobs = {name: [["UID FETCH %d (%s)" % (uid_of[name][index], item)] for index, item in plan]
            for name in ("dovecot", "roost")}
    fetch_started = time.monotonic()
    results = run_both(servers, jobs)
    per_message = {}
    for position, (index, item) in enumerate(plan):
        pair = {name: results[name][position] for name in results}
        uids = {name: uid_of[name][index] for name in uid_of}
        compare_fetch(diffs, manifest[index]["file"], item, pair, uids)
        per_message.setdefault(index, []).append(("UID FETCH %d (%s)" % (uids["dovecot"], item), pair["dovecot"]))
    print("fetched %d items per server in %.1f s" % (len(plan), time.monotonic() - fetch_started), flush=True)

    for server in servers:
        server.conn.command("LOGOUT")
        server.conn.close()

    if args.reference:
        write_reference(args.reference, args.corpus, manifest, per_message, search_log, uid_maps)

    # ------------------------------------------------------------ report
    unexpected, expected = [], []
    for diff in diffs.items:
        reason = intended_reason(intended, diff)
        (expected if reason else unexpected).append((diff, reason))
    kinds = {}
    for diff, reason in unexpected:
        kinds.setdefault(diff["kind"], []).append(diff)
    ordered = sorted(kinds.items(), key=lambda pair: (-len(pair[1]), pair[0]))
    lines = ["# roost vs Dovecot: %d differences not listed as intended, %d intended" % (len(unexpected),
                                                                                         len(expected))]
    lines.append("")
    lines.append("## Counts by kind")
    for kind, items in ordered:
        lines.append("%6d  %s" % (len(items), kind))
    full = list(lines)
    printed = list(lines)
    for kind, items in ordered:
        header = ["", "## %s (%d)" % (kind, len(items))]
        full += header
        printed += header
        for number, diff in enumerate(items):
            block = ["  %s  %s" % (diff["message"], diff["item"]),
                     "      Dovecot: %s" % diff["dovecot"],
                     "      roost:   %s" % diff["roost"]]
            full += block
            if number < args.examples:
                printed += block
        if len(items) > args.examples:
            printed.append("  ... and %d more (see the full report)" % (len(items) - args.examples))
    if expected:
        full += ["", "## Intended differences (%d)" % len(expected)]
        for diff, reason in expected:
            full.append("  %s  %s  -- %s" % (diff["message"], diff["item"], reason))
    if diffs.no_reference:
        note = ["", "## Not compared: Dovecot gave no answer (%d)" % len(diffs.no_reference)]
        for diff in diffs.no_reference:
            note += ["  %s  %s" % (diff["message"], diff["item"]), "      Dovecot: %s" % diff["dovecot"],
                     "      roost:   %s" % diff["roost"]]
        full += note
        printed += note
    unused = [entry for entry in intended if not entry["used"]]
    if unused:
        note = ["", "## Intended-difference entries that matched nothing (remove them?)"]
        note += ["  %s | %s" % (entry["message"], entry["item"]) for entry in unused]
        full += note
        printed += note
    reconnects = ", ".join("%s %d" % (server.name, server.reconnects) for server in servers)
    summary = ("SUMMARY: %d messages, %d FETCH items and %d SEARCH-family commands per server; "
               "%d differences (%d kinds) not listed as intended, %d intended; reconnects: %s; %.1f s" % (
                   len(manifest), len(plan), len(battery), len(unexpected), len(kinds), len(expected), reconnects,
                   time.monotonic() - started))
    full += ["", summary]
    printed += ["", summary]
    if args.report:
        with open(args.report, "w", encoding="utf-8") as handle:
            handle.write("\n".join(full) + "\n")
        printed.insert(1, "(full report: %s)" % args.report)
    print("\n".join(printed))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())

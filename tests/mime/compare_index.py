"""Compares roost with its full-text index against roost scanning (issue 18).

Run by compare_index.sh, which starts the two servers. The corpus
(corpus.py) is APPENDed to both, in the same order with the same flags and
INTERNALDATEs; then every command of compare.py's SEARCH/SORT/THREAD
battery, and SEARCH/ESEARCH/SORT/THREAD commands with random needles drawn
from the corpus's own decoded text (re-cased, 1 to 14 characters, under
BODY, TEXT, SUBJECT, FROM and HEADER keys), runs on both: three times,
with the index half built (every message waiting), complete (after
`roost reindex --wait`), and mixed (a third of the corpus appended again
and left waiting). Answers must be identical, byte for byte, apart from
ESEARCH's (TAG ...) correlator. Exit status 1 on any difference, 2 on
setup errors.

Standard library only.
"""

import argparse
import email
import email.header
import email.policy
import json
import os
import random
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "lib"))
sys.path.insert(0, here)
from imapwire import Connection, Literal, quote  # noqa: E402
import compare  # noqa: E402  (its search battery)

TAG = re.compile(rb'\(TAG "[^"]*"\) ?')


def connect(port, user, password):
    conn = Connection("127.0.0.1", port)
    result = conn.login(user, password)
    if result.status != "OK":
        raise SystemExit("LOGIN on %d failed: %s" % (port, result.text))
    return conn


def append(conn, corpus, entries):
    for entry in entries:
        with open(os.path.join(corpus, entry["file"]), "rb") as handle:
            data = handle.read()
        flags = " ".join(entry["flags"])
        result = conn.command("APPEND INBOX (%s) %s " % (flags, quote(entry["internaldate"])), Literal(data, sync=False))
        if result.status != "OK":
            # The same refusal on both sides is not a difference; say it.
            print("compare_index: APPEND of %s: %s %s" % (entry["file"], result.status, result.text), file=sys.stderr)


def answer(result):
    """What is compared: every response, raw, ESEARCH's tag correlator cut,
    and the tagged status with its code and text."""
    untagged = [TAG.sub(b"", raw) for raw in result.raw[:-1]] if result.raw else []
    return untagged, result.status, result.code, result.text


def texts_of(path):
    """The decoded texts of a message: its header values and text parts
    (Python's email package: not roost's decoder, only a source of needles)."""
    with open(path, "rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.compat32)
    out = []
    for part in message.walk():
        for name, value in part.items():
            try:
                out.append(("header", name, str(email.header.make_header(email.header.decode_header(value)))))
            except Exception:
                out.append(("header", name, str(value)))
        if part.get_content_maintype() == "text" and not part.is_multipart():
            payload = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            try:
                text = payload.decode(charset, "replace")
            except LookupError:
                text = payload.decode("utf-8", "replace")
            out.append(("body", None, text))
    return out


def recase(text, rng):
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)


def random_commands(corpus, manifest, rng, count):
    """Commands with needles drawn from the corpus's text."""
    sources = []
    for entry in manifest:
        try:
            sources.extend(texts_of(os.path.join(corpus, entry["file"])))
        except Exception as error:  # an oddity Python cannot read: skip it
            print("compare_index: %s: %r" % (entry["file"], error), file=sys.stderr)
    sources = [source for source in sources if source[2].strip()]
    commands = []
    while len(commands) < count:
        kind, name, text = rng.choice(sources)
        length = rng.choice([1, 2, 3, 3, 4, 5, 6, 8, 10, 14])
        start = rng.randrange(max(1, len(text) - length + 1))
        needle = text[start:start + length]
        needle = re.split(r"[\r\n]", needle)[0]
        if not needle:
            continue
        if rng.random() < 0.7:
            needle = recase(needle, rng)
        if rng.random() < 0.05:
            needle += "qzx"  # absent
        literal = Literal(needle.encode("utf-8"), sync=False)
        if kind == "body":
            key = rng.choice(["BODY", "BODY", "TEXT"])
        elif name.lower() in ("subject", "from", "to", "cc") and rng.random() < 0.5:
            key = name.upper()
        elif rng.random() < 0.5:
            key = "TEXT"
        else:
            key = "HEADER " + quote(name)
        form = rng.random()
        if form < 0.70:
            commands.append(["UID SEARCH CHARSET UTF-8 %s " % key, literal])
        elif form < 0.78:
            commands.append(["SEARCH CHARSET UTF-8 NOT %s " % key, literal])
        elif form < 0.84:
            commands.append(["UID SEARCH RETURN (MIN MAX COUNT ALL) CHARSET UTF-8 %s " % key, literal])
        elif form < 0.90:
            commands.append(["UID SORT (SUBJECT REVERSE DATE) UTF-8 %s " % key, literal])
        elif form < 0.95:
            commands.append(["UID THREAD REFERENCES UTF-8 %s " % key, literal])
        else:
            commands.append(["UID SEARCH CHARSET UTF-8 OR %s " % key, literal, " BODY the"])
    return commands


def label(parts):
    return compare.label(parts)


def run_round(name, commands, indexed, scanned, report):
    differences = 0
    for parts in commands:
        on = indexed.command(*parts)
        off = scanned.command(*parts)
        if on.status == "ERROR" or off.status == "ERROR":
            raise SystemExit("compare_index: connection lost at %s: %s / %s" % (label(parts), on.text, off.text))
        if answer(on) != answer(off):
            differences += 1
            report.write("[%s] %s\n  index: %r\n  scan:  %r\n" % (name, label(parts), answer(on), answer(off)))
    print("compare_index: %s: %d commands, %d different" % (name, len(commands), differences))
    return differences


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--indexed", type=int, required=True, help="port of the roost keeping the index")
    parser.add_argument("--scanned", type=int, required=True, help="port of the roost with search_index = false")
    parser.add_argument("--indexed-config", required=True, help="its configuration (for roost reindex/check)")
    parser.add_argument("--indexed-log", required=True, help="its log (debug level)")
    parser.add_argument("--binary", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--needles", type=int, default=600)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--report", required=True)
    args = parser.parse_args()
    with open(args.password_file) as handle:
        password = handle.read().strip("\n")
    with open(os.path.join(args.corpus, "manifest.json")) as handle:
        manifest = json.load(handle)
    rng = random.Random(args.seed)

    indexed = connect(args.indexed, args.user, password)
    scanned = connect(args.scanned, args.user, password)
    append(indexed, args.corpus, manifest)
    append(scanned, args.corpus, manifest)
    for conn in (indexed, scanned):
        if conn.command("SELECT INBOX").status != "OK":
            raise SystemExit("compare_index: SELECT INBOX failed")

    battery = [parts for _, _, parts in compare.search_battery(manifest)]
    commands = battery + random_commands(args.corpus, manifest, rng, args.needles)

    def roost(*words):
        done = subprocess.run([args.binary, *words, "--config", args.indexed_config], capture_output=True, text=True,
                              timeout=600)
        return done.returncode, done.stdout + done.stderr

    differences = 0
    with open(args.report, "w") as report:
        differences += run_round("half built", commands, indexed, scanned, report)
        status, out = roost("reindex", "--wait")
        if status != 0 or "search index complete" not in out:
            raise SystemExit("compare_index: reindex failed: %s" % out)
        log_start = os.path.getsize(args.indexed_log)
        differences += run_round("complete", commands, indexed, scanned, report)
        with open(args.indexed_log, "rb") as handle:
            handle.seek(log_start)
            log = handle.read().decode("utf-8", "replace")
        narrowed = log.count("candidate message(s)")
        scanned_needles = log.count("cannot narrow, scanning")
        print("compare_index: the index narrowed %d needles, %d scanned" % (narrowed, scanned_needles))
        if narrowed < len(commands) // 4:
            report.write("the index narrowed only %d needles\n" % narrowed)
            differences += 1
        extra = manifest[::3]
        append(indexed, args.corpus, extra)
        append(scanned, args.corpus, extra)
        differences += run_round("mixed", commands, indexed, scanned, report)
        status, out = roost("reindex", "--wait")
        status, out = roost("check")
        print("compare_index: roost check: %s" % " / ".join(line for line in out.splitlines() if "search index" in line))
        if status != 0:
            report.write("roost check failed:\n%s\n" % out)
            differences += 1
    print("compare_index: %d difference(s); report in %s" % (differences, args.report))
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())

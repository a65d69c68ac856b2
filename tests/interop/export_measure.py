"""How long `roost export` takes and what it costs a running server
(issue 16, item 5). Not part of CI: run by hand against a release build.

    source tests/lib/roost.sh; work=$(mktemp -d)
    roost_start target/release/roost "$work" alice "correct horse battery"
    python3 tests/interop/export_measure.py --roost "$roost_port" --user alice \\
        --password "correct horse battery" --binary target/release/roost \\
        --config "$work/roost.toml" --work "$work" --pid "$roost_pid" --messages 20000
    kill -TERM "$roost_pid"

Fills INBOX with MESSAGES messages of about 3 KB (MULTIAPPEND, LITERAL+),
then times, with a bystander session sending NOOP every 10 ms: a full
Maildir export, the same again with nothing changed, one after 10 flag
changes, 5 expunges and 1 append, a full mbox export and the same again.
Prints each time, the bystander's NOOP p50/p99/max (and a 5 s baseline
without an export), and the server's VmHWM/VmRSS after each step.
"""

import argparse
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from imapwire import Connection, Literal, quote  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    for name in ("--user", "--password", "--binary", "--config", "--work", "--pid"):
        parser.add_argument(name, required=True)
    parser.add_argument("--roost", type=int, required=True)
    parser.add_argument("--messages", type=int, default=20000)
    args = parser.parse_args()

    def memory():
        with open("/proc/%s/status" % args.pid) as status:
            return " ".join(line.split()[0] + line.split()[1] + "kB" for line in status if line.startswith(("VmHWM", "VmRSS")))

    client = Connection("127.0.0.1", args.roost)
    assert client.login(args.user, args.password).status == "OK"
    body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n" * 50
    started = time.monotonic()
    for start in range(0, args.messages, 200):
        parts = ["APPEND INBOX"]
        for i in range(start, min(args.messages, start + 200)):
            data = ("From: a@example.org\r\nSubject: message %d\r\nMessage-ID: <%d@x>\r\n\r\n%s" % (i, i, body)).encode()
            flags = "\\Seen" if i % 3 else "\\Flagged $Work"
            parts += [" (%s) " % flags, quote("%02d-Jan-2024 10:00:00 +0000" % (i % 28 + 1)), " ", Literal(data, sync=False)]
        result = client.command(*parts)
        assert result.status == "OK", result.text
    print("filled %d messages in %.1f s; server %s" % (args.messages, time.monotonic() - started, memory()))

    latencies, stop = [], threading.Event()

    def bystander():
        other = Connection("127.0.0.1", args.roost)
        other.login(args.user, args.password)
        while not stop.is_set():
            began = time.monotonic()
            other.command("NOOP")
            latencies.append(time.monotonic() - began)
            time.sleep(0.01)

    def timed(label, work):
        latencies.clear()
        stop.clear()
        thread = threading.Thread(target=bystander)
        thread.start()
        time.sleep(0.2)
        began = time.monotonic()
        said = work()
        elapsed = time.monotonic() - began
        stop.set()
        thread.join()
        ordered = sorted(latencies)
        at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
        print("%s: %.2f s; NOOP n=%d p50 %.2f ms p99 %.2f ms max %.2f ms; server %s" % (
            label, elapsed, len(ordered), at(0.5), at(0.99), ordered[-1] * 1000, memory()))
        if said:
            print("   " + said)

    def export(format, directory):
        return lambda: subprocess.run(
            [args.binary, "export", "--user", args.user, "--" + format, directory, "--config", args.config],
            capture_output=True, text=True).stdout.strip().splitlines()[0]

    maildir, mbox = os.path.join(args.work, "maildir"), os.path.join(args.work, "mbox")
    timed("no export (baseline, 5 s)", lambda: time.sleep(5))
    timed("maildir, full", export("maildir", maildir))
    timed("maildir, nothing changed", export("maildir", maildir))
    client.command("SELECT INBOX")
    client.command("UID STORE 100:109 +FLAGS (\\Answered)")
    client.command("UID STORE 200:204 +FLAGS (\\Deleted)")
    client.command("EXPUNGE")
    client.command("APPEND INBOX ", Literal(b"Subject: new\r\n\r\nnew\r\n"))
    timed("maildir, 10 flag changes, 5 expunges, 1 append", export("maildir", maildir))
    timed("mbox, full", export("mbox", mbox))
    timed("mbox, nothing changed", export("mbox", mbox))


if __name__ == "__main__":
    main()

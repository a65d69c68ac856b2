#!/usr/bin/env python3
"""What a roost build costs at run time, to compare builds (profiles, libc,
allocators), stdlib only.

usage: measure.py [--qemu "qemu-aarch64"] [--idle N] [--logins N]
                  [--appends N] [--board NAME] BINARY

Starts BINARY (under the qemu prefix if given) with a fresh data directory on
loopback ephemeral ports, then measures, one after the other:
- idle TLS connections: N connections over implicit TLS, each logged in with
  INBOX selected; the server's RSS and PSS growth divided by N (KiB per
  connection, after a warm-up connection), and VmHWM at the end;
- logins: N LOGIN+LOGOUT over plain IMAP with the board's real argon2 cost
  (the login cache is off), seconds per login;
- APPEND and FETCH: N APPENDs of a 20 KB message on one connection
  (messages/s), then FETCH 1:* BODY.PEEK[] of them all (MB/s).
Prints one `name value unit` line per figure. Network: loopback only; every
loop is bounded by N and every socket operation by a timeout.
Used for the figures in cross/README.md; not run by CI.
"""

import argparse
import os
import re
import shlex
import signal
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from imapwire import Connection, Literal, tls_context  # noqa: E402

PASSWORD = "measure-password-long-enough"


def memory(pid):
    """(RSS, PSS) in KiB from smaps_rollup, and VmHWM from status."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            words = line.split()
            if words[0] == "Rss:":
                rss += int(words[1])
            elif words[0] == "Pss:":
                pss += int(words[1])
    hwm = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, pss, hwm


def ok(result, what):
    if result.status != "OK":
        sys.exit(f"FAIL: {what}: {result.status} {result.text}")
    return result


def wait_ports(process, seconds, log):
    """The plain and TLS ports from the server's start-up log lines (older
    builds have no --ports-file, and the figures compare old with new)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(log) as lines:
            text = lines.read()
        if process.poll() is not None:
            sys.exit(f"FAIL: the server exited at start:\n{text}")
        ports = dict((kind, int(port)) for kind, port in re.findall(r"(imaps?) listening on 127\.0\.0\.1:(\d+)", text))
        if "imap" in ports and "imaps" in ports:
            return ports
        time.sleep(0.2)
    sys.exit(f"FAIL: no listening ports in the log:\n{text}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--qemu", default="")
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--logins", type=int, default=10)
    parser.add_argument("--appends", type=int, default=300)
    parser.add_argument("--board", default="generic")
    options = parser.parse_args()
    prefix = shlex.split(options.qemu) + [os.path.abspath(options.binary)]

    with tempfile.TemporaryDirectory(prefix="roost-measure.") as work:
        config = os.path.join(work, "roost.toml")
        with open(config, "w") as out:
            out.write(f'data_dir = "{work}/data"\nboard = "{options.board}"\n'
                      '[imap]\nlisten = ["127.0.0.1:0"]\nlisten_tls = ["127.0.0.1:0"]\n'
                      # Every login pays argon2; the connection limits make
                      # room for --idle connections from one address.
                      f'[limits]\nauth_cache_seconds = 0\nmax_connections = {options.idle + 300}\n'
                      f'max_connections_per_ip = {options.idle + 50}\nmax_connections_per_user = {options.idle + 50}\n')
        added = subprocess.run(prefix + ["user", "add", "alice", "--config", config], input=PASSWORD + "\n",
                               text=True, timeout=300, capture_output=True)
        if added.returncode != 0:
            sys.exit(f"FAIL: roost user add: {added.stderr.strip()}")
        log_path = os.path.join(work, "serve.log")
        log = open(log_path, "w")
        server = subprocess.Popen(prefix + ["serve", "--config", config],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            ports = wait_ports(server, 120, log_path)
            measure(options, server.pid, ports, os.path.join(work, "data", "tls", "cert.pem"))
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def measure(options, pid, ports, cert):
    context = tls_context(cert)

    def tls_session():
        imap = Connection("127.0.0.1", ports["imaps"], timeout=120, tls=context, server_name="localhost")
        ok(imap.login("alice", PASSWORD), "LOGIN")
        ok(imap.command("SELECT INBOX"), "SELECT")
        return imap

    # Idle TLS connections; the warm-up one loads what all later ones share.
    tls_session().close()
    time.sleep(1)
    rss0, pss0, _ = memory(pid)
    sessions = [tls_session() for _ in range(options.idle)]
    time.sleep(2)
    rss1, pss1, hwm = memory(pid)
    print(f"idle_tls_rss_per_connection {(rss1 - rss0) / options.idle:.1f} KiB")
    print(f"idle_tls_pss_per_connection {(pss1 - pss0) / options.idle:.1f} KiB")
    print(f"rss_with_{options.idle}_idle_tls {rss1} KiB")
    for imap in sessions:
        imap.close()
    time.sleep(1)

    # Logins: argon2 at the board's cost, every time.
    started = time.monotonic()
    for _ in range(options.logins):
        imap = Connection("127.0.0.1", ports["imap"], timeout=120)
        ok(imap.login("alice", PASSWORD), "LOGIN")
        imap.command("LOGOUT")
        imap.close()
    print(f"login_seconds {(time.monotonic() - started) / options.logins:.4f} s")

    # APPEND then FETCH.
    body = b"".join(b"line %05d of a measured message, some words to fill it\r\n" % n for n in range(340))
    message = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: measure\r\n\r\n" + body
    imap = Connection("127.0.0.1", ports["imap"], timeout=120)
    ok(imap.login("alice", PASSWORD), "LOGIN")
    ok(imap.command("SELECT INBOX"), "SELECT")
    started = time.monotonic()
    for _ in range(options.appends):
        ok(imap.command("APPEND INBOX ", Literal(message)), "APPEND")
    elapsed = time.monotonic() - started
    print(f"append_per_second {options.appends / elapsed:.1f} msg/s")
    started = time.monotonic()
    ok(imap.command("FETCH 1:* BODY.PEEK[]"), "FETCH")
    elapsed = time.monotonic() - started
    print(f"fetch_mb_per_second {options.appends * len(message) / elapsed / 1e6:.2f} MB/s")
    imap.close()
    print(f"vmhwm {memory(pid)[2]} KiB")


if __name__ == "__main__":
    try:
        main()
    except (OSError, ssl.SSLError) as error:
        sys.exit(f"FAIL: {error}")

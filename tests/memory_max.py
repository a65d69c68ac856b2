#!/usr/bin/env python3
"""Peak memory of `roost serve` per board profile, for the unit's MemoryMax=.

Usage: tests/memory_max.py ROOST_BINARY [BOARD ...]   (default: every board)

Per board: a server on loopback with that profile; every connection the
board allows (max_connections), each over TLS, logged in and with INBOX
selected (spread over users and source addresses 127.0.0.2... so that the
per-user and per-address limits admit them), then one message of 20 MiB
appended and fetched back while they stay open. Prints VmHWM (peak resident
memory) at start and at the end, in MiB. Loopback only; bounded in count.
"""
import os, socket, ssl, subprocess, sys, tempfile, time, tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def board_limits(name):
    with open(os.path.join(ROOT, "boards", name + ".toml"), "rb") as f:
        return tomllib.load(f)["limits"]


def vm_hwm_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024


def read_until(sock, tag):
    """Bytes up to and including the tagged reply line."""
    data = b""
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError(f"closed: {data[-200:]!r}")
        data += chunk
        if data.endswith(b"\r\n") and data.split(b"\r\n")[-2].startswith(tag + b" "):
            return data


def command(sock, tag, text):
    sock.sendall(tag + b" " + text + b"\r\n")
    reply = read_until(sock, tag)
    if not reply.rsplit(b"\r\n", 2)[-2].startswith(tag + b" OK"):
        raise RuntimeError(f"{text!r}: {reply[-300:]!r}")
    return reply


def measure(binary, board):
    limits = board_limits(board)
    total = limits["max_connections"]
    per_user = limits["max_connections_per_user"]
    per_ip = limits["max_connections_per_ip"]
    work = tempfile.mkdtemp(prefix=f"roost-memmax-{board}-")
    config = os.path.join(work, "roost.toml")
    with open(config, "w") as f:
        f.write(f'board = "{board}"\ndata_dir = "{work}/data"\nlog_level = "warn"\n'
                '[imap]\nlisten = ["127.0.0.1:0"]\nlisten_tls = ["127.0.0.1:0"]\n'
                '[limits]\nmin_password_length = 1\n')
    users = (total + per_user - 1) // per_user
    for n in range(users):
        subprocess.run([binary, "user", "add", f"u{n}", "--config", config], input=b"pw\n", check=True,
                       stdout=subprocess.DEVNULL)
    ports = os.path.join(work, "ports")
    server = subprocess.Popen([binary, "serve", "--config", config, "--ports-file", ports])
    try:
        while not os.path.exists(ports):
            time.sleep(0.05)
        port = next(int(line.split()[1].rsplit(":", 1)[1]) for line in open(ports) if line.startswith("imaps "))
        start = vm_hwm_mib(server.pid)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        open_sockets = []
        for i in range(total):
            raw = socket.socket()
            raw.bind((f"127.0.0.{2 + i // per_ip}", 0))
            raw.connect(("127.0.0.1", port))
            sock = context.wrap_socket(raw)
            greeting = sock.recv(4096)
            assert greeting.startswith(b"* OK"), greeting
            command(sock, b"a", f"LOGIN u{i // per_user} pw".encode())
            command(sock, b"b", b"SELECT INBOX")
            open_sockets.append(sock)
        idle = vm_hwm_mib(server.pid)
        sock = open_sockets[0]
        body = (b"Subject: big\r\n\r\n" + (b"x" * 76 + b"\r\n") * (20 * 1024 * 1024 // 78))
        sock.sendall(b"c APPEND INBOX {" + str(len(body)).encode() + b"}\r\n")
        assert sock.recv(4096).startswith(b"+")
        sock.sendall(body + b"\r\n")
        read_until(sock, b"c")
        command(sock, b"d", b"NOOP")
        fetched = command(sock, b"e", b"FETCH 1 BODY[]")
        assert len(fetched) > len(body)
        end = vm_hwm_mib(server.pid)
        for sock in open_sockets:
            sock.close()
        return total, start, idle, end
    finally:
        server.terminate()
        server.wait()
        subprocess.run(["rm", "-rf", work])


def main():
    binary = sys.argv[1]
    boards = sys.argv[2:] or ["rpi-zero", "rpi-zero2w", "rpi3", "rpi4", "rpi5", "generic"]
    print("| board | connections | VmHWM at start | after every connection logged in | after a 20 MiB APPEND + FETCH |")
    print("|---|---:|---:|---:|---:|")
    for board in boards:
        total, start, idle, end = measure(binary, board)
        print(f"| {board} | {total} | {start:.1f} MiB | {idle:.1f} MiB | {end:.1f} MiB |", flush=True)


if __name__ == "__main__":
    main()

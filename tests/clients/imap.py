"""The server side of tests/clients/run.sh, through the imapclient library.

Usage: imap.py COMMAND ARGS...   (connection from the environment:
ROOST_HOST, ROOST_PORT, ROOST_CA, ROOST_USER, ROOST_PASSWORD)

  create MAILBOX              CREATE it unless it exists
  append MAILBOX FILE...      APPEND each file (bytes as they are)
  count MAILBOX               print the number of messages
  flags MAILBOX ID            print the flags of the message whose
                              Message-ID is <ID@clients.roost.test>
                              (space-separated), or MISSING
  store MAILBOX ID FLAG...    add FLAGs to that message
  expunge MAILBOX ID          \\Deleted + EXPUNGE that message
  body MAILBOX ID             write its BODY.PEEK[] to stdout
  caps                        print the capabilities (after LOGIN)
  idle MAILBOX READY SECONDS  SELECT, IDLE, create the file READY, then
                              wait at most SECONDS for an EXISTS; exit 0
                              if one came, 1 if not

Every connection verifies the server's certificate against ROOST_CA and
the host name (no verification is switched off).
"""
import os
import sys
import time

from imapclient import IMAPClient

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from imapwire import tls_context  # noqa: E402


def connect():
    client = IMAPClient(
        os.environ["ROOST_HOST"], port=int(os.environ["ROOST_PORT"]), ssl=True,
        ssl_context=tls_context(os.environ["ROOST_CA"]), timeout=30,
    )
    client.login(os.environ["ROOST_USER"], os.environ["ROOST_PASSWORD"])
    return client


def find(client, mailbox, ident):
    client.select_folder(mailbox)
    uids = client.search(["HEADER", "Message-ID", f"<{ident}@clients.roost.test>"])
    if len(uids) > 1:
        sys.exit(f"imap.py: {len(uids)} messages with Message-ID <{ident}@...> in {mailbox}")
    return uids[0] if uids else None


def main():
    command, args = sys.argv[1], sys.argv[2:]
    client = connect()
    if command == "create":
        if not client.folder_exists(args[0]):
            client.create_folder(args[0])
    elif command == "append":
        for path in args[1:]:
            with open(path, "rb") as file:
                client.append(args[0], file.read())
    elif command == "count":
        print(client.folder_status(args[0], ["MESSAGES"])[b"MESSAGES"])
    elif command == "flags":
        uid = find(client, args[0], args[1])
        if uid is None:
            print("MISSING")
        else:
            flags = client.get_flags([uid])[uid]
            print(" ".join(sorted(flag.decode() for flag in flags)))
    elif command == "store":
        uid = find(client, args[0], args[1])
        if uid is None:
            sys.exit(f"imap.py: no message {args[1]} in {args[0]}")
        client.add_flags([uid], [flag.encode() for flag in args[2:]])
    elif command == "expunge":
        uid = find(client, args[0], args[1])
        if uid is None:
            sys.exit(f"imap.py: no message {args[1]} in {args[0]}")
        client.add_flags([uid], [b"\\Deleted"])
        client.expunge()
    elif command == "body":
        uid = find(client, args[0], args[1])
        if uid is None:
            sys.exit(f"imap.py: no message {args[1]} in {args[0]}")
        sys.stdout.buffer.write(client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"])
    elif command == "caps":
        print(" ".join(sorted(cap.decode() for cap in client.capabilities())))
    elif command == "idle":
        mailbox, ready, seconds = args[0], args[1], float(args[2])
        before = client.select_folder(mailbox)[b"EXISTS"]
        client.idle()
        open(ready, "w").close()
        deadline = time.monotonic() + seconds
        got = None
        while got is None and time.monotonic() < deadline:
            for response in client.idle_check(timeout=max(0.1, deadline - time.monotonic())):
                if isinstance(response, tuple) and len(response) >= 2 and response[1] == b"EXISTS":
                    got = response[0]
        client.idle_done()
        if got is None:
            print(f"no EXISTS within {seconds:g} s (had {before} messages)")
            sys.exit(1)
        print(f"EXISTS {got} (had {before}) after IDLE")
    else:
        sys.exit(f"imap.py: unknown command {command}")
    client.logout()


main()

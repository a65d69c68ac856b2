"""The one IMAP wire client of the Python test scripts: raw bytes in, parsed values out.

Used by tests/mime/compare.py (roost and Dovecot answer for answer),
tests/interop/catenate_compare.py (CATENATE sessions side by side),
cross/imap_roundtrip.py (APPEND + FETCH over TLS to an ARM build under qemu),
and, for the verified TLS context and the check lines only,
tests/interop/imaplib_smoke.py (imaplib on purpose: a real client library)
and tests/clients/imap.py (imapclient on purpose). Scripts find it with a path
insert relative to their own file, so they run from any directory (from
cross/ the path is "..", "tests", "lib"):

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

Python's imaplib hands back half-parsed lines; comparing BODYSTRUCTUREs needs
the real grammar (nested lists, quoted strings, literals, literal8, NIL), so
Connection reads whole responses (a line plus every literal it announces) and
parses data responses into plain Python values:

    atom      -> Atom (a str subclass; numbers stay atoms too)
    string    -> bytes (quoted and literal alike: how a server chose to send a
                 string is not a difference)
    NIL       -> None
    list      -> list

Commands are written as pieces (str/bytes sent as they are, Literal for a
literal), so a script can send exactly the bytes it means, odd ones included
(LITERAL+, literal8, a literal that reads like a command).

Only the standard library is used.
"""

import re
import socket
import ssl
import sys
import time


class Atom(str):
    """An IMAP atom (also numbers, flags, and BODY[...]<n> item names)."""

    def __repr__(self):
        return "Atom(%s)" % str.__repr__(self)


class Literal:
    """DATA sent as a literal inside a command: {n} (the client waits for the
    server's continuation request first), {n+} with SYNC=False (LITERAL+, RFC
    7888: no wait), ~{n} with BINARY=True (literal8, RFC 3516)."""

    def __init__(self, data, sync=True, binary=False):
        self.data = data if isinstance(data, bytes) else data.encode("utf-8")
        self.sync = sync
        self.binary = binary

    def header(self):
        return b"%s{%d%s}\r\n" % (b"~" if self.binary else b"", len(self.data), b"" if self.sync else b"+")


class ParseError(Exception):
    pass


class Disconnected(Exception):
    pass


LITERAL_AT_END = re.compile(rb"~?\{(\d+)\}\r\n\Z")
LITERAL_HEADER = re.compile(rb"~?\{(\d+)\}\r\n")

# ---------------------------------------------------------------- parsing


def parse_values(data, pos=0, end=None):
    """Parses a sequence of IMAP values from DATA[pos:end] (stops at ')' or end); returns (values, pos)."""
    end = len(data) if end is None else end
    values = []
    while True:
        while pos < end and data[pos] == 0x20:
            pos += 1
        if pos >= end or data[pos] == 0x29:  # ')'
            return values, pos
        value, pos = parse_value(data, pos, end)
        values.append(value)


def parse_value(data, pos, end):
    ch = data[pos]
    if ch == 0x28:  # '('
        items, pos = parse_values(data, pos + 1, end)
        if pos >= end or data[pos] != 0x29:
            raise ParseError("unclosed list")
        return items, pos + 1
    if ch == 0x22:  # '"'
        out = bytearray()
        pos += 1
        while pos < end:
            c = data[pos]
            if c == 0x5C and pos + 1 < end:  # backslash
                out.append(data[pos + 1])
                pos += 2
                continue
            if c == 0x22:
                return bytes(out), pos + 1
            out.append(c)
            pos += 1
        raise ParseError("unterminated quoted string")
    if ch == 0x7B or (ch == 0x7E and pos + 1 < end and data[pos + 1] == 0x7B):  # '{' or '~{'
        match = LITERAL_HEADER.match(data, pos)
        if not match:
            raise ParseError("bad literal header at %d" % pos)
        size = int(match.group(1))
        start = match.end()
        if start + size > end:
            raise ParseError("literal runs past the response")
        return bytes(data[start : start + size]), start + size
    # Atom; brackets (BODY[1.HEADER.FIELDS (A B)]) may hold spaces and parentheses.
    start = pos
    depth = 0
    while pos < end:
        c = data[pos]
        if c == 0x5B:
            depth += 1
        elif c == 0x5D:
            depth -= 1
        elif depth <= 0 and c in (0x20, 0x28, 0x29, 0x0D, 0x0A):
            break
        pos += 1
    if pos == start:
        raise ParseError("unexpected byte %r at %d" % (chr(data[pos]), pos))
    text = bytes(data[start:pos]).decode("utf-8", "surrogateescape")
    if text.upper() == "NIL":
        return None, pos
    return Atom(text), pos


def strip_crlf(raw):
    return raw[:-2] if raw.endswith(b"\r\n") else raw


class Response:
    """One server response: RAW bytes (line + literals), its KIND and parsed parts.

    kind: 'continuation', 'tagged', or 'untagged'. For status responses
    (OK/NO/BAD/BYE/PREAUTH) status, code (the text inside [...], or None) and
    text are set; for data responses (FETCH, SEARCH, ...) name and values.
    """

    def __init__(self, raw):
        self.raw = raw
        self.tag = None
        self.status = None
        self.code = None
        self.text = ""
        self.name = None
        self.number = None
        self.values = None
        self.error = None
        body = strip_crlf(raw)
        if body.startswith(b"+"):
            self.kind = "continuation"
            return
        space = body.find(b" ")
        first = body[: space if space >= 0 else len(body)]
        rest = body[space + 1 :] if space >= 0 else b""
        self.kind = "untagged" if first == b"*" else "tagged"
        if self.kind == "tagged":
            self.tag = first.decode("ascii", "replace")
        word, _, after = rest.partition(b" ")
        upper = word.upper()
        if upper in (b"OK", b"NO", b"BAD", b"BYE", b"PREAUTH"):
            self.status = upper.decode()
            self.code, self.text = split_code(after)
            return
        if self.kind == "tagged":
            self.error = "tagged response without OK/NO/BAD"
            return
        if word.isdigit():
            self.number = int(word)
            word, _, after = after.partition(b" ")
        self.name = word.upper().decode("ascii", "replace")
        if self.name in ("FETCH", "SEARCH", "SORT", "THREAD", "ESEARCH", "FLAGS", "LIST", "STATUS"):
            try:
                offset = len(raw) - len(after) - (2 if raw.endswith(b"\r\n") else 0)
                self.values, pos = parse_values(raw, offset, len(raw) - (2 if raw.endswith(b"\r\n") else 0))
                if pos != len(raw) - (2 if raw.endswith(b"\r\n") else 0):
                    raise ParseError("unexpected ')' at %d" % pos)
            except ParseError as error:
                self.error = "cannot parse: %s" % error

    def line(self):
        """The response as text (Latin-1, literals in place, final CRLF cut), after the tag when tagged."""
        text = strip_crlf(self.raw).decode("latin-1")
        return text.split(" ", 1)[1] if self.kind == "tagged" and " " in text else text


def split_code(after):
    """'[CODE args] text' -> ('CODE args', 'text'); no code -> (None, text)."""
    if after.startswith(b"["):
        depth = 0
        for index, c in enumerate(after):
            if c == 0x5B:
                depth += 1
            elif c == 0x5D:
                depth -= 1
                if depth == 0:
                    code = after[1:index].decode("utf-8", "replace")
                    return code, after[index + 1 :].strip().decode("utf-8", "replace")
    return None, after.decode("utf-8", "replace")


class Result:
    """What a command got: status (OK/NO/BAD, or ERROR when the connection broke), code, untagged, raw.

    untagged: the Responses before the tagged one (with any tagged one whose
    tag this client did not send); raw: every response's bytes, the tagged one
    last (unless the connection broke); tagged: that Response, or None.
    """

    def __init__(self, status, code, text, untagged, raw, elapsed, tagged=None):
        self.status = status
        self.code = code
        self.text = text
        self.untagged = untagged
        self.raw = raw
        self.elapsed = elapsed
        self.tagged = tagged

    def code_name(self):
        """The response code's atom (BADCHARSET, UNKNOWN-CTE, ...) without its arguments."""
        return self.code.split(" ", 1)[0].upper() if self.code else None

    def fetched(self, item):
        """The value of ITEM (e.g. 'BODY[]', 'FLAGS') in the first FETCH response that has it, else None."""
        for response in self.untagged:
            if response.name != "FETCH" or not response.values or not isinstance(response.values[0], list):
                continue
            items = response.values[0]
            for key, value in zip(items[0::2], items[1::2]):
                if isinstance(key, Atom) and key.upper() == item.upper():
                    return value
        return None


# ---------------------------------------------------------------- connection


def tls_context(cafile):
    """A client TLS context that verifies the server's certificate against
    CAFILE and the name connected to (no verification is switched off)."""
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class Connection:
    """One IMAP connection (plain TCP, or TLS with a context from tls_context);
    commands run one at a time. SERVER_NAME is the name the certificate must
    carry when it is not HOST (roost's self-signed one names "localhost")."""

    def __init__(self, host, port, timeout=30.0, tls=None, server_name=None):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=server_name or host)
        self.buffer = bytearray()
        self.counter = 0
        self.greeting = self.read_response()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise Disconnected("connection closed by the server")
        self.buffer += chunk

    def _read_line(self):
        while True:
            index = self.buffer.find(b"\r\n")
            if index >= 0:
                line = bytes(self.buffer[: index + 2])
                del self.buffer[: index + 2]
                return line
            if len(self.buffer) > 16 * 1024 * 1024:
                raise Disconnected("line longer than 16 MiB")
            self._fill()

    def _read_exact(self, size):
        while len(self.buffer) < size:
            self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_response(self):
        """One whole response: a line plus every literal it announces."""
        raw = bytearray()
        while True:
            line = self._read_line()
            raw += line
            match = LITERAL_AT_END.search(line)
            if not match:
                return Response(bytes(raw))
            raw += self._read_exact(int(match.group(1)))

    def command(self, *parts):
        """Runs one command. PARTS: str/bytes pieces joined by nothing, Literal(...) sent as literals.

        Returns a Result. A broken connection gives status 'ERROR' (the
        caller reconnects); it never raises for what a server says. A server
        that answers the command instead of a literal's continuation request
        ends it there: the rest is not sent.
        """
        self.counter += 1
        tag = "c%04d" % self.counter
        untagged, raw = [], []
        started = time.monotonic()

        def done(response):
            return Result(response.status or "BAD", response.code, response.text, untagged, raw,
                          time.monotonic() - started, response)

        pending = bytearray(tag.encode() + b" ")
        try:
            for part in parts:
                if isinstance(part, Literal):
                    pending += part.header()
                    if part.sync:
                        self.sock.sendall(pending)
                        pending = bytearray()
                        while True:
                            response = self.read_response()
                            raw.append(response.raw)
                            if response.kind == "continuation":
                                break
                            if response.kind == "tagged" and response.tag == tag:
                                return done(response)
                            untagged.append(response)
                    pending += part.data
                else:
                    pending += part if isinstance(part, bytes) else part.encode("utf-8")
            pending += b"\r\n"
            self.sock.sendall(pending)
            while True:
                response = self.read_response()
                raw.append(response.raw)
                if response.kind == "tagged" and response.tag == tag:
                    return done(response)
                # Untagged (a BYE too: a server may still send the tagged
                # reply), or a tag we did not send: kept, and we wait for ours.
                untagged.append(response)
        except (OSError, Disconnected) as error:
            return Result("ERROR", None, "connection: %s" % error, untagged, raw, time.monotonic() - started)

    def login(self, user, password):
        """LOGIN with both as quoted strings; the Result."""
        return self.command("LOGIN ", quote(user), " ", quote(password))


def quote(text):
    """An IMAP quoted string for TEXT (ASCII without CR/LF; callers use Literal for anything else)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------- checks


def check(condition, what):
    """The scripts' one way to report a check: PASS: WHAT, or FAIL: WHAT and exit status 1."""
    if not condition:
        fail(what)
    print("PASS: %s" % what, flush=True)


def fail(what):
    print("FAIL: %s" % what, flush=True)
    sys.exit(1)


def same_bytes(got, want, what):
    """check() that GOT is WANT byte for byte, naming the first difference when not."""
    if got == want:
        check(True, what)
    elif not isinstance(got, bytes):
        fail("%s (got %r, want %d bytes)" % (what, got, len(want)))
    else:
        at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        fail("%s (got %d bytes, want %d; first difference at byte %d: %r vs %r)" % (
            what, len(got), len(want), at, got[at : at + 40], want[at : at + 40]))

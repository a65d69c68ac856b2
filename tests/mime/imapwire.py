"""A small IMAP client for comparing servers: raw bytes in, parsed values out.

Python's imaplib hands back half-parsed lines; comparing BODYSTRUCTUREs needs
the real grammar (nested lists, quoted strings, literals, literal8, NIL), so
this module reads whole responses (a line plus every literal it announces)
and parses them into plain Python values:

    atom      -> Atom (a str subclass; numbers stay atoms too)
    string    -> bytes (quoted and literal alike: how a server chose to send a
                 string is not a difference)
    NIL       -> None
    list      -> list

Only the standard library is used.
"""

import re
import socket
import time


class Atom(str):
    """An IMAP atom (also numbers, flags, and BODY[...]<n> item names)."""

    def __repr__(self):
        return "Atom(%s)" % str.__repr__(self)


class Literal:
    """A string that must be sent as a (synchronizing) literal in a command."""

    def __init__(self, data):
        self.data = data if isinstance(data, bytes) else data.encode("utf-8")


class ParseError(Exception):
    pass


class Disconnected(Exception):
    pass


LITERAL_AT_END = re.compile(rb"~?\{(\d+)\}\r\n\Z")

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
        match = re.compile(rb"~?\{(\d+)\}\r\n").match(data, pos)
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
    """What a command got: status (OK/NO/BAD, or ERROR when the connection broke), code, untagged, raw."""

    def __init__(self, status, code, text, untagged, raw, elapsed):
        self.status = status
        self.code = code
        self.text = text
        self.untagged = untagged
        self.raw = raw
        self.elapsed = elapsed

    def code_name(self):
        """The response code's atom (BADCHARSET, UNKNOWN-CTE, ...) without its arguments."""
        return self.code.split(" ", 1)[0].upper() if self.code else None


# ---------------------------------------------------------------- connection


class Connection:
    """One plain-TCP IMAP connection; commands run one at a time."""

    def __init__(self, host, port, timeout=30.0):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
        """Runs one command. PARTS: str/bytes pieces joined by nothing, Literal(...) sent as {n} literals.

        Returns a Result. A broken connection gives status 'ERROR' (the
        caller reconnects); it never raises for what a server says.
        """
        self.counter += 1
        tag = "c%04d" % self.counter
        untagged, raw = [], []
        started = time.monotonic()
        pending = bytearray(tag.encode() + b" ")
        try:
            for part in parts:
                if isinstance(part, Literal):
                    pending += b"{%d}\r\n" % len(part.data)
                    self.sock.sendall(pending)
                    pending = bytearray()
                    while True:
                        response = self.read_response()
                        raw.append(response.raw)
                        if response.kind == "continuation":
                            break
                        if response.kind == "tagged" and response.tag == tag:
                            return Result(response.status or "BAD", response.code, response.text, untagged, raw,
                                          time.monotonic() - started)
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
                    return Result(response.status or "BAD", response.code, response.text, untagged, raw,
                                  time.monotonic() - started)
                if response.kind == "tagged":
                    continue  # a tag we did not send: ignore it, keep waiting for ours
                untagged.append(response)
                if response.status == "BYE":
                    # Keep reading: a server may still send the tagged reply.
                    continue
        except (OSError, Disconnected) as error:
            return Result("ERROR", None, "connection: %s" % error, untagged, raw, time.monotonic() - started)


def quote(text):
    """An IMAP quoted string for TEXT (ASCII without CR/LF; callers use Literal for anything else)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


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

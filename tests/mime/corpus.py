"""The MIME comparison corpus: built by code, seeded, deterministic.

Usage: corpus.py OUT_DIR [--seed N]

Writes OUT_DIR/NNN-name.eml (the exact bytes to APPEND) and
OUT_DIR/manifest.json: a list, in APPEND order, of
{"file": ..., "flags": [...], "internaldate": "DD-Mon-YYYY HH:MM:SS +ZZZZ"}.

Two halves:
  * oddities: hand-built messages, one per real-world quirk the MIME,
    ENVELOPE and SEARCH code must survive (see the names);
  * ordinary mail: reply chains with Message-ID/References/In-Reply-To (for
    THREAD) and varied dates, senders and Re:/Fwd:/[list] subjects (for
    SORT), interleaved so that children sometimes arrive before parents.

Only the standard library is used. The same seed always gives the same bytes.
"""

import base64
import json
import os
import random
import sys

# ---------------------------------------------------------------- helpers

CRLF = b"\r\n"


def b(text):
    """UTF-8 bytes of a str; bytes pass through unchanged."""
    return text if isinstance(text, bytes) else text.encode("utf-8")


def q_word(data):
    """RFC 2047 'Q' encoding of raw bytes."""
    out = []
    for byte in data:
        ch = chr(byte)
        if byte == 0x20:
            out.append("_")
        elif ch.isascii() and (ch.isalnum() or ch in "!*+-/"):
            out.append(ch)
        else:
            out.append("=%02X" % byte)
    return "".join(out)


def ew(text, charset, encoding="B"):
    """One RFC 2047 encoded-word for TEXT in CHARSET ('B' or 'Q')."""
    data = text.encode(charset)
    if encoding.upper() == "B":
        payload = base64.b64encode(data).decode("ascii")
    else:
        payload = q_word(data)
    return "=?%s?%s?%s?=" % (charset.upper(), encoding, payload)


def entity(headers, body):
    """Header lines (str or bytes, already folded as wanted) + blank line + body, LF line ends."""
    head = b"".join(b(h) + b"\n" for h in headers)
    return head + b"\n" + b(body)


def multipart_body(boundary, parts, preamble=b"", epilogue=b"", close=True, pad=b""):
    """The body of a multipart: PARTS are already-built entities (bytes, LF line ends)."""
    out = b(preamble)
    for part in parts:
        out += b"--" + b(boundary) + pad + b"\n" + part
        if not part.endswith(b"\n"):
            out += b"\n"
    if close:
        out += b"--" + b(boundary) + b"--" + pad + b"\n"
    out += b(epilogue)
    return out


def text_part(text, ctype="text/plain; charset=us-ascii", cte=None, extra=()):
    headers = ["Content-Type: " + ctype]
    if cte:
        headers.append("Content-Transfer-Encoding: " + cte)
    headers.extend(extra)
    return entity(headers, text)


def b64_lines(data, width=76):
    encoded = base64.b64encode(data)
    return b"".join(encoded[i : i + width] + b"\n" for i in range(0, len(encoded), width))


def qp(data):
    """A simple quoted-printable encoder with soft line breaks at 76 columns."""
    out, line = [], b""
    for byte in b(data):
        if byte == 0x0A:
            out.append(line + b"\n")
            line = b""
            continue
        if 33 <= byte <= 126 and byte != 0x3D or byte == 0x20:
            token = bytes([byte])
        else:
            token = b"=%02X" % byte
        if len(line) + len(token) > 75:
            out.append(line + b"=\n")
            line = b""
        line += token
    if line:
        out.append(line)
    return b"".join(out)


def crlf(data):
    """LF line ends -> CRLF (the corpus is written with LF, sent with CRLF unless a message says otherwise)."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


BASE_HEADERS = [
    "From: Alice Example <alice@example.org>",
    "To: Bob Example <bob@example.net>",
    "Date: Mon, 15 Jan 2024 10:00:00 +0100",
]


def std(subject, extra=(), mid=None):
    """Ordinary top-level headers plus EXTRA."""
    headers = list(BASE_HEADERS) + ["Subject: " + subject]
    headers.append("Message-ID: <%s@corpus.example>" % (mid or subject.lower().replace(" ", "-")[:40]))
    headers.append("MIME-Version: 1.0")
    return headers + list(extra)


# ---------------------------------------------------------------- oddities


def oddities(rng):
    """(name, bytes, eol) for every hand-built quirk; eol 'crlf' converts LF -> CRLF, 'raw' leaves bytes alone."""
    out = []

    def add(name, data, eol="crlf"):
        out.append((name, data, eol))

    add("plain-ascii", entity(std("Plain ascii") + ["Content-Type: text/plain"], "Hello Bob,\n\nJust text.\n"))
    add("no-mime-version", entity(BASE_HEADERS + ["Subject: No MIME-Version header"], "Body without MIME headers.\n"))

    # Nested multiparts, 4 levels: mixed > alternative > related > (html, image) + attachments.
    related = entity(
        ['Content-Type: multipart/related; boundary="rel-3"; type="text/html"'],
        multipart_body(
            "rel-3",
            [
                text_part("<p>Hi <img src=\"cid:img1@x\"></p>\n", "text/html; charset=utf-8"),
                entity(
                    ["Content-Type: image/png", "Content-Transfer-Encoding: base64", "Content-ID: <img1@x>"],
                    b64_lines(bytes(range(256)) * 2),
                ),
            ],
        ),
    )
    alternative = entity(
        ['Content-Type: multipart/alternative; boundary="alt-2"'],
        multipart_body("alt-2", [text_part("Hi in plain text.\n"), related]),
    )
    nested = entity(
        std("Nested four levels", ['Content-Type: multipart/mixed; boundary="mix-1"']),
        multipart_body(
            "mix-1",
            [
                alternative,
                entity(
                    [
                        'Content-Type: application/pdf; name="report.pdf"',
                        'Content-Disposition: attachment; filename="report.pdf"; size=300',
                        "Content-Transfer-Encoding: base64",
                    ],
                    b64_lines(b"%PDF-1.4 fake\n" * 20),
                ),
            ],
        ),
    )
    add("nested-multipart-4-levels", nested)

    inner_simple = entity(
        [
            "From: Carol <carol@example.com>",
            "To: Alice <alice@example.org>",
            "Subject: The forwarded one",
            "Date: Sun, 14 Jan 2024 09:00:00 -0500",
            "Message-ID: <inner-simple@example.com>",
        ],
        "Inner body.\n",
    )
    add(
        "rfc822-in-mixed",
        entity(
            std("Fwd: The forwarded one", ['Content-Type: multipart/mixed; boundary="fwd"']),
            multipart_body(
                "fwd",
                [
                    text_part("See below.\n"),
                    entity(["Content-Type: message/rfc822", "Content-Disposition: inline"], inner_simple),
                ],
            ),
        ),
    )

    inner_inner = entity(
        ["From: Dave <dave@example.com>", "Subject: Deepest", "Content-Type: text/plain; charset=utf-8"],
        "Ganz unten: äöü\n",
    )
    inner_multi = entity(
        [
            "From: Carol <carol@example.com>",
            "To: Alice <alice@example.org>, Bob <bob@example.net>",
            "Subject: Inner multipart",
            "Date: Sun, 14 Jan 2024 09:00:00 -0500",
            "MIME-Version: 1.0",
            'Content-Type: multipart/alternative; boundary="inner-alt"',
        ],
        multipart_body(
            "inner-alt",
            [
                text_part("inner plain\n"),
                text_part("<b>inner html</b>\n", "text/html; charset=us-ascii"),
                entity(["Content-Type: message/rfc822"], inner_inner),
            ],
        ),
    )
    add(
        "rfc822-with-multipart-inside",
        entity(
            std("Fwd: Inner multipart", ['Content-Type: multipart/mixed; boundary="outer"']),
            multipart_body(
                "outer",
                [text_part("Forwarding a multipart.\n"), entity(["Content-Type: message/rfc822"], inner_multi)],
            ),
        ),
    )
    add(
        "rfc822-top-level",
        entity(std("Top-level message/rfc822", ["Content-Type: message/rfc822"]), inner_simple),
    )
    add(
        "rfc822-empty",
        entity(
            std("Empty attached message", ['Content-Type: multipart/mixed; boundary="e"']),
            multipart_body("e", [text_part("Nothing attached really.\n"), entity(["Content-Type: message/rfc822"], b"")]),
        ),
    )
    add(
        "rfc822-base64-encoded",
        entity(
            std("message/rfc822 with base64 CTE", ['Content-Type: multipart/mixed; boundary="x"']),
            multipart_body(
                "x",
                [entity(["Content-Type: message/rfc822", "Content-Transfer-Encoding: base64"], b64_lines(crlf(inner_simple)))],
            ),
        ),
    )

    digest_items = []
    for i in range(3):
        digest_items.append(
            entity(
                [],
                entity(
                    ["From: list%d@example.com" % i, "Subject: Digest item %d" % i, "Message-ID: <d%d@list>" % i],
                    "Item %d body.\n" % i,
                ),
            )
        )
    digest_items.append(text_part("An explicit text/plain inside the digest.\n"))
    add(
        "multipart-digest",
        entity(
            std("Digest, Vol 1", ['Content-Type: multipart/digest; boundary="dig"']),
            multipart_body("dig", digest_items, preamble="Digest preamble.\n"),
        ),
    )

    add(
        "missing-end-boundary",
        entity(
            std("Missing end boundary", ['Content-Type: multipart/mixed; boundary="never-closed"']),
            multipart_body("never-closed", [text_part("first\n"), text_part("second, runs to the end\n")], close=False),
        ),
    )
    add(
        "missing-boundary-parameter",
        entity(
            std("Missing boundary parameter", ["Content-Type: multipart/mixed"]),
            multipart_body("lost", [text_part("a part nobody can find\n")]),
        ),
    )
    add(
        "boundary-transport-padding",
        entity(
            std("Boundary with transport padding", ['Content-Type: multipart/mixed; boundary="pad"']),
            multipart_body("pad", [text_part("padded one\n"), text_part("padded two\n")], pad=b" \t  "),
        ),
    )
    add(
        "preamble-and-epilogue",
        entity(
            std("Preamble and epilogue", ['Content-Type: multipart/mixed; boundary="pe"']),
            multipart_body(
                "pe",
                [text_part("the only part\n")],
                preamble="This is a multi-part message in MIME format.\nSecond preamble line.\n\n",
                epilogue="Epilogue line one.\nEpilogue --pe not a boundary\n",
            ),
        ),
    )
    add(
        "boundary-prefix-of-inner",
        entity(
            std("Inner boundary extends outer", ['Content-Type: multipart/mixed; boundary="abc"']),
            multipart_body(
                "abc",
                [
                    entity(
                        ['Content-Type: multipart/alternative; boundary="abcdef"'],
                        multipart_body("abcdef", [text_part("inner one\n"), text_part("inner two\n")]),
                    ),
                    text_part("outer two\n"),
                ],
            ),
        ),
    )
    add(
        "multipart-no-parts",
        entity(
            std("Multipart with no parts", ['Content-Type: multipart/mixed; boundary="none"']),
            b"Only a preamble, no boundary line at all.\n",
        ),
    )
    add(
        "multipart-empty-parts",
        entity(
            std("Multipart with empty parts", ['Content-Type: multipart/mixed; boundary="emp"']),
            b"--emp\n--emp\n\n--emp\nContent-Type: text/plain\n--emp--\n",
        ),
    )

    add(
        "folded-headers",
        entity(
            [
                "From: Alice Example",
                "  <alice@example.org>",
                "To: one@example.net,",
                "\ttwo@example.net,",
                " Three <three@example.net>",
                "Subject: This subject is folded",
                "\tacross three",
                "  physical lines",
                "Date: Mon, 15 Jan 2024",
                " 10:00:00 +0100",
                "Message-ID:",
                " <folded@corpus.example>",
                "MIME-Version: 1.0",
                "Content-Type: text/plain;",
                '\tcharset="utf-8";',
                "\tformat=flowed",
            ],
            "Folded everywhere.\n",
        ),
    )

    charsets = [
        ("utf8-b", "utf-8", "B", "Grüße aus Köln — 東京 ✓"),
        ("utf8-q", "utf-8", "Q", "Crème brûlée für alle"),
        ("latin1-q", "iso-8859-1", "Q", "Café in Zürich"),
        ("latin2-b", "iso-8859-2", "B", "Zażółć gęślą jaźń"),
        ("latin9-q", "iso-8859-15", "Q", "Prix: 5 € net"),
        ("cp1251-b", "windows-1251", "B", "Привет из Москвы"),
        ("cp1252-q", "windows-1252", "Q", "“Smart” quotes – and dashes"),
        ("koi8r-b", "koi8-r", "B", "Новости недели"),
        ("iso2022jp-b", "iso-2022-jp", "B", "日本語の件名"),
        ("gb2312-b", "gb2312", "B", "中文主题测试"),
    ]
    for tag, charset, enc, text in charsets:
        add(
            "encoded-subject-" + tag,
            entity(
                [
                    "From: %s <sender-%s@example.org>" % (ew(text.split()[0], charset, enc), tag),
                    "To: %s <to@example.net>" % ew(text.split()[-1], charset, enc),
                    "Subject: %s" % ew(text, charset, enc),
                    "Date: Tue, 16 Jan 2024 11:00:00 +0000",
                    "Message-ID: <enc-%s@corpus.example>" % tag,
                    "MIME-Version: 1.0",
                    "Content-Type: text/plain; charset=%s" % charset,
                    "Content-Transfer-Encoding: 8bit",
                ],
                text.encode(charset) + b"\n",
            ),
        )
    add(
        "encoded-words-adjacent-and-broken",
        entity(
            [
                "From: =?UTF-8?Q?J=C3=B6rg?= =?UTF-8?Q?_M=C3=BCller?= <joerg@example.de>",
                'Reply-To: "=?UTF-8?B?SW4gcXVvdGVz?=" <quoted@example.de>',
                "To: =?x-unknown?Q?mystery?= <u@example.de>, =?UTF-8*de?Q?Sprach=C3=A9tikett?= <l@example.de>",
                "Cc: =?UTF-8?B?bad base64!?= <bad@example.de>",
                "Subject: =?UTF-8?Q?Teil_eins?=   =?UTF-8?Q?_und_zwei?= plain =?ISO-8859-1?Q?drei=E9?= =?UTF-8?B?4pyT?=",
                "Date: Tue, 16 Jan 2024 12:00:00 +0000",
                "Message-ID: <adjacent@corpus.example>",
                "Comments: =?UTF-8?Q?unterminated",
                "Keywords: =?UTF-8?Q?inside-word?=tail, head=?UTF-8?Q?x?=",
            ],
            "Encoded words, joined and broken.\n",
        ),
    )
    add(
        "raw-8bit-headers",
        entity(
            [
                b"From: J\xc3\xb6rg M\xc3\xbcller <j\xc3\xb6rg@example.de>",
                b"To: Fran\xe7ois <francois@example.fr>",
                b"Subject: Gr\xc3\xbc\xc3\x9fe (raw UTF-8) und Fran\xe7ois (raw Latin-1)",
                b"Date: Tue, 16 Jan 2024 13:00:00 +0000",
                b"Message-ID: <raw8bit@corpus.example>",
                b"X-Raw: \xff\xfe\x80 bytes",
                b'Content-Type: text/plain; charset=utf-8; name="r\xc3\xa9sum\xc3\xa9.txt"',
                b"Content-Transfer-Encoding: 8bit",
            ],
            "Körper in UTF-8.\n",
        ),
    )

    add(
        "rfc2231-parameters",
        entity(
            std("RFC 2231 parameters", ['Content-Type: multipart/mixed; boundary="2231"']),
            multipart_body(
                "2231",
                [
                    text_part("See attachments.\n"),
                    entity(
                        [
                            "Content-Type: application/octet-stream;",
                            "\tname*0*=UTF-8''%E6%97%A5%E6%9C%AC;",
                            "\tname*1*=%E8%AA%9E.txt",
                            "Content-Disposition: attachment;",
                            "\tfilename*0*=UTF-8'ja'%E6%97%A5%E6%9C%AC;",
                            "\tfilename*1*=%E8%AA%9E;",
                            '\tfilename*2=".txt"',
                            "Content-Transfer-Encoding: base64",
                        ],
                        b64_lines("日本語\n".encode("utf-8")),
                    ),
                    entity(
                        [
                            "Content-Type: text/plain; charset*=iso-8859-1'fr'; title*=iso-8859-1'fr'caf%E9",
                            'Content-Disposition: attachment; filename*0="very long name, part one ";'
                            ' filename*1="and part two.txt"',
                        ],
                        "plain continuation\n",
                    ),
                    entity(
                        [
                            "Content-Type: application/x-test; a*0=x; a*2=z; b*=''raw; c*=us-ascii''%41%42",
                            "Content-Disposition: inline; filename=\"fallback.txt\"; filename*=UTF-8''%C3%BC.txt",
                        ],
                        "gaps, empty charset, plain and extended side by side\n",
                    ),
                ],
            ),
        ),
    )
    add(
        "all-content-headers",
        entity(
            std("Every Content-* header", ['Content-Type: multipart/mixed; boundary="all"']),
            multipart_body(
                "all",
                [
                    entity(
                        [
                            "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes",
                            "Content-Transfer-Encoding: quoted-printable",
                            "Content-ID: <part1.123@corpus.example>",
                            "Content-Description: The first part =?UTF-8?Q?=C3=A9t=C3=A9?=",
                            "Content-Disposition: inline; creation-date=\"Mon, 15 Jan 2024 10:00:00 +0100\"",
                            "Content-Language: en-GB, fr",
                            "Content-Location: http://example.org/part1.txt",
                            "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==",
                        ],
                        qp("Caf\u00e9 with all the headers.\n".encode("utf-8")),
                    ),
                    entity(
                        [
                            "Content-Type: text/html",
                            "Content-Language: de",
                            'Content-Location: "relative/part2.html"',
                            "Content-Disposition: ATTACHMENT",
                            "Content-Description: two",
                        ],
                        "<p>zwei</p>\n",
                    ),
                ],
            ),
        ),
    )

    add("empty-body", entity(std("Empty body"), b""))
    add("no-blank-line-after-header", b"".join(b(h) + b"\n" for h in std("No blank line after header")))
    add(
        "header-without-final-newline",
        b"\r\n".join(b(h) for h in std("Header without final newline")),
        eol="raw",
    )
    add("body-only-blank-line", b"\r\n", eol="raw")
    add(
        "lf-only-multipart",
        entity(
            std("LF-only line ends", ['Content-Type: multipart/alternative; boundary="lf"']),
            multipart_body("lf", [text_part("lf plain\nsecond line\n"), text_part("<p>lf html</p>\n", "text/html")]),
        ),
        eol="raw",
    )
    add(
        "mixed-line-ends",
        b"From: a@example.org\r\nSubject: Mixed line ends\nDate: Wed, 17 Jan 2024 08:00:00 +0000\r\n"
        b"Content-Type: text/plain\n\r\nline one\nline two\r\nline three\rstill three\r\n",
        eol="raw",
    )

    long_line = " ".join("word%d" % i for i in range(400))
    add(
        "long-line-over-998",
        entity(std("Long line over 998 bytes"), "start\n" + long_line + "\nend\n"),
    )
    add(
        "long-header-line",
        entity(
            std("x" * 10, ["X-Long: " + "y" * 3000, "References: " + " ".join("<r%d@long>" % i for i in range(200))]),
            "long header lines\n",
        ),
    )
    huge = "".join(rng.choice("abcdefghij ") for _ in range(70000))
    add(
        "line-over-64kib",
        entity(
            std("Line over 64 KiB", ['Content-Type: multipart/mixed; boundary="big"']),
            multipart_body("big", [text_part("before\n"), text_part(huge + " needle64k\n"), text_part("after\n")]),
        ),
    )

    payload = "base64 junk test: zucchini\n".encode() * 3
    clean = base64.b64encode(payload).decode()
    junky = clean[:20] + " !!\t" + clean[20:40] + "*\n" + clean[40:] + "\n"
    add(
        "base64-junk-and-padding",
        entity(
            std("Base64 with junk", ['Content-Type: multipart/mixed; boundary="b64"']),
            multipart_body(
                "b64",
                [
                    text_part(junky, "text/plain; charset=us-ascii", "base64"),
                    text_part(base64.b64encode(b"no padding!").decode().rstrip("=") + "\n", cte="base64"),
                    text_part(base64.b64encode(b"extra pad").decode() + "===\n", cte="base64"),
                    text_part("aGVs\nbG8g\nd29y\nbGQ=\nAAAA after pad\n", cte="base64"),
                    text_part("SGVsbG8=SGVsbG8=\n", cte="BASE64"),
                    text_part(b64_lines(b"lines of 60\n" * 8, 60), cte="base64"),
                ],
            ),
        ),
    )
    add(
        "quoted-printable-odd",
        entity(
            std("Quoted-printable oddities", ['Content-Type: multipart/mixed; boundary="qp"']),
            multipart_body(
                "qp",
                [
                    text_part(
                        "soft break in pine=\napple here\nbad escape =ZZ and =4 and =\nlower =c3=a9 ok\n"
                        "trailing spaces   \ntrailing soft=  \nend=",
                        "text/plain; charset=utf-8",
                        "quoted-printable",
                    ),
                    text_part("=E9t=E9 =E0 Paris\n", "text/plain; charset=iso-8859-1", "Quoted-Printable"),
                    text_part("=" * 5 + "\n=\n", cte="quoted-printable"),
                ],
            ),
        ),
    )
    add(
        "unknown-transfer-encodings",
        entity(
            std("Unknown Content-Transfer-Encoding", ['Content-Type: multipart/mixed; boundary="cte"']),
            multipart_body(
                "cte",
                [
                    text_part("begin 644 x.txt\n#86)C\n`\nend\n", "application/octet-stream", "x-uuencode"),
                    text_part("bogus encoded\n", cte="bogus"),
                    text_part("with a comment\n", cte="7bit (it is)"),
                    text_part("binary declared\n", cte="binary"),
                    text_part("8bit declared \xe9\n", "text/plain; charset=iso-8859-1", "8BIT"),
                    text_part("empty cte value\n", cte=""),
                ],
            ),
        ),
    )
    for charset, text in [
        ("iso-8859-1", "Grüße aus München, schöne Straße"),
        ("iso-8859-2", "Příliš žluťoučký kůň"),
        ("iso-8859-15", "Le prix est de 10 € œuvre"),
        ("windows-1251", "Съешь же ещё этих мягких булок"),
        ("windows-1252", "Naïve “quotes” — em dash"),
        ("koi8-r", "Привет, как дела"),
    ]:
        data = text.encode(charset) + b"\n"
        add(
            "body-" + charset,
            entity(
                std("Body in " + charset, ['Content-Type: multipart/mixed; boundary="cs"']),
                multipart_body(
                    "cs",
                    [
                        text_part(data, "text/plain; charset=" + charset, "8bit"),
                        text_part(qp(data), 'text/plain; charset="%s"' % charset.upper(), "quoted-printable"),
                        text_part(b64_lines(data), "text/html; charset=" + charset, "base64"),
                    ],
                ),
            ),
        )

    add(
        "address-oddities",
        entity(
            [
                "From: \"Doe, John (Jr.)\" <john.doe@example.com> (the boss)",
                "Sender: (comment only) sender@example.com",
                "Reply-To: Friends: anna@example.com, \"B \\\"Q\\\" C\" <bqc@example.com>;, after@example.com",
                "To: undisclosed-recipients:;",
                "Cc: localonly, <@route1,@route2:routed@example.com>, Mary <mary@[192.0.2.1]>, =?UTF-8?Q?G=C3=BCnter?= <g@x.de>",
                "Bcc: Empty Group:;, \"\" <noname@example.com>, odd@, @nohost, \"quoted local\"@example.com",
                "Subject: Address oddities",
                "Date: Thu, 18 Jan 2024 09:30:00 +0000",
                "Message-ID: <addresses@corpus.example>",
                "In-Reply-To: <parent@corpus.example> (comment)",
            ],
            "Addresses.\n",
        ),
    )
    add(
        "address-bounce-and-many-from",
        entity(
            [
                "From: <>",
                "From: second@example.com",
                "To: a@example.com, b@example.com, c@example.com, group: d@example.com, e@example.com;",
                "Subject: Null sender and duplicate From",
                "Date: Thu, 18 Jan 2024 10:30:00 +0000",
            ],
            "Bounce.\n",
        ),
    )
    add(
        "address-multiple-from",
        entity(
            [
                "From: one@example.com, Two <two@example.com>",
                "Sender: secretary@example.com",
                "To: Alice <alice@example.org>",
                "Subject: Two authors",
                "Date: Thu, 18 Jan 2024 11:30:00 +0000",
            ],
            "Two authors.\n",
        ),
    )
    add(
        "duplicate-headers",
        entity(
            [
                "From: first@example.com",
                "From: second@example.com",
                "To: a@example.org",
                "Subject: First subject",
                "Subject: Second subject",
                "Message-ID: <dup1@corpus.example>",
                "Message-ID: <dup2@corpus.example>",
                "Date: Fri, 19 Jan 2024 08:00:00 +0000",
                "Date: Sat, 20 Jan 2024 08:00:00 +0000",
                "MIME-Version: 1.0",
                "Content-Type: text/html",
                "Content-Type: text/plain; charset=utf-8",
            ],
            "Duplicates.\n",
        ),
    )
    add("no-date", entity(["From: a@example.org", "To: b@example.net", "Subject: No Date header"], "no date\n"))
    add("no-from", entity(["To: b@example.net", "Subject: No From header", BASE_HEADERS[2]], "no from\n"))
    add("no-subject", entity(["From: a@example.org", "To: b@example.net", BASE_HEADERS[2]], "no subject\n"))
    add("no-headers-at-all", b"\nOnly a body, no header at all.\n")
    add(
        "header-garbage",
        entity(
            [
                "From a@example.org Thu Jan 18 10:00:00 2024",
                "From: a@example.org",
                "Subject : space before colon",
                "This line is not a header",
                ": empty name",
                "X-Empty:",
                "X-Tab:\tvalue",
                "To: b@example.net",
            ],
            "Garbage in the header.\n",
        ),
    )
    dates = [
        "Sat, 20 Jan 24 10:00:00 EST",
        "20 Jan 2024 10:00:00 GMT",
        "Sat, 20 Jan 1999 23:59:59 +1400",
        "Sat, 20 Jan 2024 10:00 -0000",
        "not a date at all",
        "Sat, 31 Feb 2024 10:00:00 +0000",
        "Sat,   20   Jan   2024   10:00:00   +0000 (UTC)",
        "Fri, 01 Jan 2100 00:00:00 +0000",
    ]
    for i, date in enumerate(dates):
        add(
            "date-variant-%d" % i,
            entity(["From: dates@example.org", "Subject: Date variant %d" % i, "Date: " + date], "date test\n"),
        )
    subjects = [
        "Re: Fwd: [family] Re:  Holiday plans (fwd)",
        "RE: re: Holiday plans",
        "Fw: FWD: [Fwd: Holiday plans]",
        "Re[2]: Holiday plans",
        "   [family]   Holiday plans  ",
        "=?UTF-8?Q?Re=3A_Holiday_plans?=",
        "Re: ",
        "[family] [other] Re: Holiday plans",
    ]
    for i, subject in enumerate(subjects):
        add(
            "subject-variant-%d" % i,
            entity(
                [
                    "From: subj%d@example.org" % i,
                    "Subject: " + subject,
                    "Date: Sun, 21 Jan 2024 %02d:00:00 +0000" % i,
                    "Message-ID: <subj%d@corpus.example>" % i,
                ],
                "subject test\n",
            ),
        )
    add(
        "message-id-variants",
        entity(
            [
                "From: ids@example.org",
                "Subject: Message-ID variants",
                "Message-ID: no-angle-brackets@corpus.example",
                "In-Reply-To: <a@x> <b@x>",
                "References: <r1@x> (comment) <r2@x>\t<r3@x>   garbage <r4@x>",
            ],
            "ids\n",
        ),
    )

    many = [text_part("part number %d\n" % i) for i in range(300)]
    add(
        "three-hundred-parts",
        entity(std("Three hundred parts", ['Content-Type: multipart/mixed; boundary="many"']), multipart_body("many", many)),
    )
    deep = text_part("the bottom\n")
    for level in range(110, 1, -1):
        deep = entity(['Content-Type: multipart/mixed; boundary="d%d"' % level], multipart_body("d%d" % level, [deep]))
    top = std("Nested 110 levels", ['Content-Type: multipart/mixed; boundary="d1"'])
    add("nested-110-levels", entity(top, multipart_body("d1", [deep])))

    add(
        "content-type-oddities",
        entity(
            std("Content-Type oddities", ['Content-Type: MULTIPART/Mixed; BOUNDARY="ct"; (comment) extra=1']),
            multipart_body(
                "ct",
                [
                    text_part("uppercase\n", "TEXT/PLAIN; CHARSET=UTF-8"),
                    text_part("no subtype\n", "text"),
                    text_part("garbage type\n", "garbage"),
                    text_part("comment\n", "text/plain (a comment); charset=\"us-ascii\" (another)"),
                    text_part("semicolon in quotes\n", 'application/x-foo; name="a;b.txt"; name="dup.txt"'),
                    text_part("trailing semicolon\n", "text/plain;"),
                    text_part("spaces\n", "text / plain ; charset = utf-8"),
                    text_part("empty value\n", "text/plain; charset="),
                    entity(["Content-Type:"], "empty content-type\n"),
                    entity(["X-No-Content-Type: yes"], "default type\n"),
                ],
            ),
        ),
    )
    add(
        "html-and-attachment",
        entity(
            std("HTML with attachment", ['Content-Type: multipart/mixed; boundary="h"']),
            multipart_body(
                "h",
                [
                    text_part("<html><body><p>Hello <b>HTML</b> kiwifruit</p></body></html>\n", "text/html; charset=utf-8"),
                    entity(
                        [
                            'Content-Type: application/octet-stream; name="data.bin"',
                            "Content-Transfer-Encoding: base64",
                            'Content-Disposition: attachment; filename="data.bin"',
                        ],
                        b64_lines(bytes(rng.randrange(256) for _ in range(3000))),
                    ),
                ],
            ),
        ),
    )
    add(
        "headers-in-text-and-body-search",
        entity(
            std(
                "Search targets",
                ["X-Search-Only-Header: mangosteen", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64"],
            ),
            b64_lines("Body has durian and Ünïcödé words, and ПРИВЕТ.\n".encode()),
        ),
    )
    return out


# ---------------------------------------------------------------- ordinary mail

PEOPLE = [
    ("Alice Example", "alice@example.org"),
    ("Bob Builder", "bob@example.net"),
    ("Carol Singer", "carol@example.com"),
    ("Dave O'Neil", "dave@example.com"),
    ("Émile Zola", "emile@example.fr"),
    ("Frank", "frank@example.org"),
    ("", "grace@example.net"),
    ("Heidi Müller", "heidi@example.de"),
    ("Ivan Petrov", "ivan@example.ru"),
    ("Judy", "judy@lists.example.org"),
]
TOPICS = [
    "Holiday plans",
    "Dinner on Sunday",
    "Photos from the weekend",
    "Broken dishwasher",
    "School trip",
    "Birthday present for Mum",
    "Garden fence",
    "Car insurance renewal",
    "Recipe for apple pie",
    "Router keeps dropping",
    "Book club",
    "Concert tickets",
]
WORDS = (
    "the a and to of we will see you soon please let me know if that works for everyone dinner garden "
    "tomorrow weekend photos train station bring cake coffee tickets school car fence router book"
).split()
ZONES = ["+0000", "+0100", "+0200", "-0500", "-0800", "+0530", "+0900", "-0330"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def fmt_address(person):
    name, addr = person
    if not name:
        return addr
    if not name.isascii():
        return "%s <%s>" % (ew(name, "utf-8", "Q"), addr)
    if "'" in name:
        return '"%s" <%s>' % (name, addr)
    return "%s <%s>" % (name, addr)


def rfc2822_date(seconds, zone):
    """A Date header value for SECONDS after 2023-01-01 00:00 UTC shown in ZONE (date arithmetic by hand)."""
    import datetime

    sign = 1 if zone[0] == "+" else -1
    offset = datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) * sign
    moment = datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    local = (moment + offset).replace(tzinfo=None)
    return "%s, %02d %s %04d %02d:%02d:%02d %s" % (
        DAYS[local.weekday()],
        local.day,
        MONTHS[local.month - 1],
        local.year,
        local.hour,
        local.minute,
        local.second,
        zone,
    )


def internal_date(seconds, zone):
    """An IMAP date-time for APPEND."""
    value = rfc2822_date(seconds, zone)
    _, day, month, year, clock, zone = value.split()
    return "%s-%s-%s %s %s" % (day, month, year, clock, zone)


def ordinary(rng):
    """Reply chains and singletons: list of (name, bytes, seconds)."""
    messages = []
    serial = 0
    for thread in range(40):
        topic = TOPICS[thread % len(TOPICS)]
        if thread >= len(TOPICS):
            topic += " (part %d)" % (thread // len(TOPICS) + 1)
        listed = thread % 4 == 0
        start = rng.randrange(0, 360 * 86400)
        chain = []  # (message-id, references list)
        length = rng.choice([1, 2, 3, 3, 4, 5, 6, 8])
        for i in range(length):
            serial += 1
            author = rng.choice(PEOPLE)
            others = [p for p in PEOPLE if p != author]
            recipients = rng.sample(others, rng.choice([1, 1, 2, 3]))
            cc = rng.sample(others, rng.choice([0, 0, 1, 2]))
            seconds = start + i * rng.randrange(600, 86400 * 2)
            zone = rng.choice(ZONES)
            mid = "<t%02d.%d.%d@mail.example>" % (thread, i, serial)
            if i == 0:
                subject = ("[family] " if listed else "") + topic
                parent = None
            else:
                parent = chain[rng.randrange(len(chain))] if rng.random() < 0.3 else chain[-1]
                prefix = rng.choice(["Re: ", "Re: ", "RE: ", "Re: Re: ", "Fwd: ", "Re: [family] ", "Fw: ", "re:"])
                subject = prefix + ("[family] " if listed and "[family]" not in prefix else "") + topic
            headers = [
                "From: " + fmt_address(author),
                "To: " + ", ".join(fmt_address(p) for p in recipients),
            ]
            if cc:
                headers.append("Cc: " + ", ".join(fmt_address(p) for p in cc))
            headers += ["Subject: " + subject, "Date: " + rfc2822_date(seconds, zone)]
            style = rng.random()
            if not (i > 0 and style < 0.05):  # a few replies without Message-ID
                headers.append("Message-ID: " + mid)
            refs = []
            if parent is not None:
                refs = parent[1] + [parent[0]]
                if style < 0.15:
                    headers.append("In-Reply-To: " + parent[0])  # In-Reply-To only
                elif style < 0.25:
                    headers.append("References: " + " ".join(refs[-1:]))  # truncated References
                    headers.append("In-Reply-To: " + parent[0])
                else:
                    headers.append("In-Reply-To: " + parent[0])
                    headers.append("References: " + "\n\t".join(refs))
            if listed:
                headers.append("List-Id: Family list <family.lists.example.org>")
            headers.append("MIME-Version: 1.0")
            chain.append((mid, refs))
            paragraphs = rng.randrange(1, 4) * (40 if rng.random() < 0.08 else 1)
            text = "\n\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randrange(8, 60))) for _ in range(paragraphs))
            text += "\n\n-- \n%s\n" % (author[0] or author[1])
            kind = rng.random()
            if kind < 0.55:
                headers += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 7bit"]
                body = text
            elif kind < 0.75:
                headers += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"]
                body = qp(text.encode())
            else:
                headers.append('Content-Type: multipart/alternative; boundary="=_alt_%d"' % serial)
                body = multipart_body(
                    "=_alt_%d" % serial,
                    [
                        text_part(text, "text/plain; charset=utf-8"),
                        text_part(b64_lines(("<p>" + text + "</p>").encode()), "text/html; charset=utf-8", "base64"),
                    ],
                    preamble="This is a multi-part message in MIME format.\n",
                )
            slug = "t%02d-%d" % (thread, i)
            messages.append((slug, entity(headers, body), seconds))
    # Interleave: sort by time with jitter so some replies arrive before their parents.
    messages.sort(key=lambda m: m[2] + rng.randrange(-3 * 86400, 3 * 86400))
    return messages


# ---------------------------------------------------------------- main

FLAG_CHOICES = [[], [], ["\\Seen"], ["\\Seen"], ["\\Seen", "\\Answered"], ["\\Flagged"], ["\\Seen", "\\Flagged"],
                ["\\Draft"], ["\\Deleted", "\\Seen"], ["$Forwarded", "\\Seen"], ["$label1"], ["$Junk", "NonJunk"]]


def build(out_dir, seed=20240115):
    rng = random.Random(seed)
    entries = []
    for name, data, eol in oddities(rng):
        seconds = rng.randrange(0, 400 * 86400)
        entries.append((name, data if eol == "raw" else crlf(data), seconds))
    for name, data, seconds in ordinary(rng):
        entries.append((name, crlf(data), seconds + rng.randrange(0, 7200)))
    # Oddities and ordinary mail interleaved deterministically, so SORT ARRIVAL differs from SORT DATE.
    order = list(range(len(entries)))
    rng.shuffle(order)
    os.makedirs(out_dir, exist_ok=True)
    manifest = []
    for position, index in enumerate(order):
        name, data, seconds = entries[index]
        file = "%03d-%s.eml" % (position + 1, name)
        with open(os.path.join(out_dir, file), "wb") as handle:
            handle.write(data)
        manifest.append(
            {
                "file": file,
                "flags": rng.choice(FLAG_CHOICES),
                "internaldate": internal_date(seconds, rng.choice(ZONES)),
            }
        )
    # Added later: after the shuffled ones, so the numbers (and names in
    # intended-differences.txt) of the messages above stay the same.
    for name, data in later_additions():
        position = len(manifest)
        file = "%03d-%s.eml" % (position + 1, name)
        with open(os.path.join(out_dir, file), "wb") as handle:
            handle.write(crlf(data))
        manifest.append(
            {
                "file": file,
                "flags": rng.choice(FLAG_CHOICES),
                "internaldate": internal_date(rng.randrange(0, 400 * 86400), rng.choice(ZONES)),
            }
        )
    with open(os.path.join(out_dir, "manifest.json"), "w") as handle:
        json.dump(manifest, handle, indent=1)
    return manifest


def later_additions():
    """Quirks found after the corpus was first numbered (issue 13)."""
    out = []
    # Outlook Express / Mac OE: a multipart/alternative inside a
    # multipart/mixed with the same boundary.
    alternative = multipart_body(
        b"same", [text_part(b"plain text\n"), text_part(b"<p>html</p>\n", "text/html; charset=us-ascii")]
    )
    out.append(
        (
            "nested-same-boundary",
            entity(
                std("Nested multipart reusing its parent's boundary", ['Content-Type: multipart/mixed; boundary="same"']),
                multipart_body(
                    b"same",
                    [
                        entity(['Content-Type: multipart/alternative; boundary="same"'], alternative),
                        text_part(b"attached note\n", "text/plain; name=note.txt"),
                    ],
                ),
            ),
        )
    )
    # Two sibling multiparts sharing one boundary.
    sibling = lambda text: entity(
        ['Content-Type: multipart/alternative; boundary="sib"'],
        multipart_body(b"sib", [text_part(text), text_part(b"<b>" + text + b"</b>", "text/html; charset=us-ascii")]),
    )
    out.append(
        (
            "siblings-share-a-boundary",
            entity(
                std("Sibling multiparts sharing a boundary", ['Content-Type: multipart/mixed; boundary="top"']),
                multipart_body(b"top", [sibling(b"first\n"), sibling(b"second\n")]),
            ),
        )
    )
    # RFC 5322 §3.4.1: comments around the @.
    out.append(
        (
            "address-comments-around-at",
            entity(
                [
                    "From: <user-from (comment)@ (comment) domain.org>",
                    "To: Bob <bob@ (home) example.net>, carol (c) @ example.net (Carol)",
                    "Subject: Comments inside addresses",
                    "Date: Fri, 19 Jan 2024 08:00:00 +0000",
                    "Message-ID: <cfws@corpus.example>",
                ],
                "Comments.\n",
            ),
        )
    )
    # Address lists SORT and ENVELOPE must read alike: a phrase without an
    # address, an empty angle address, a lone word, a comment only.
    out.append(
        (
            "address-phrases-without-addresses",
            entity(
                [
                    "From: No Address",
                    "To: Alice <>, nobody",
                    "Cc: (just a comment), bob@example.net",
                    "Subject: Phrases without addresses",
                    "Date: Sat, 20 Jan 2024 08:00:00 +0000",
                    "Message-ID: <phrases@corpus.example>",
                ],
                "Phrases.\n",
            ),
        )
    )
    return out


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    seed = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--seed" else 20240115
    result = build(sys.argv[1], seed)
    print("%d messages in %s" % (len(result), sys.argv[1]))

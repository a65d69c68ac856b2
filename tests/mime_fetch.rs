//! MIME-aware FETCH over a real connection: ENVELOPE, BODYSTRUCTURE, BODY
//! and sections of parts (RFC 3501 §6.4.5, §7.4.2). The expected answers
//! are the ones Debian's Dovecot 2.3 gives for the same message (checked
//! by hand; tests/mime/compare.sh checks a whole corpus).

mod common;

use common::*;

/// multipart/mixed: a quoted-printable text part, then a forwarded
/// message/rfc822 with an HTML body; a group in To, an encoded Subject.
const MESSAGE: &str = "From: \"Alice Example\" <alice@example.org>\r\n\
To: bob@example.org, Friends: carol@example.net, dave@example.net;\r\n\
Subject: =?UTF-8?Q?caf=C3=A9?= menu\r\n\
Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n\
Message-ID: <m1@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
preamble\r\n\
--outer\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
caf=C3=A9\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
Content-Disposition: attachment; filename=\"fwd.eml\"\r\n\
\r\n\
From: carol@example.net\r\n\
Subject: inner\r\n\
Content-Type: text/html; charset=us-ascii\r\n\
\r\n\
<p>x</p>\r\n\
--outer--\r\n";

const INNER: &str = "From: carol@example.net\r\nSubject: inner\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n";

fn fetch_one(client: &mut Client, items: &str) -> String {
    let untagged = client.ok(&format!("FETCH 1 {items}"));
    assert_eq!(untagged.len(), 1, "{items}: {untagged:?}");
    untagged[0].clone()
}

#[test]
fn envelope_bodystructure_and_body() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.append_ok("INBOX", MESSAGE.as_bytes());
    client.ok("SELECT INBOX");

    let envelope = "ENVELOPE (\"Mon, 2 Mar 2026 10:00:00 +0000\" \"=?UTF-8?Q?caf=C3=A9?= menu\" \
((\"Alice Example\" NIL \"alice\" \"example.org\")) ((\"Alice Example\" NIL \"alice\" \"example.org\")) \
((\"Alice Example\" NIL \"alice\" \"example.org\")) ((NIL NIL \"bob\" \"example.org\")(NIL NIL \"Friends\" NIL)\
(NIL NIL \"carol\" \"example.net\")(NIL NIL \"dave\" \"example.net\")(NIL NIL NIL NIL)) NIL NIL NIL \"<m1@example.org>\")";
    assert_eq!(fetch_one(&mut client, "ENVELOPE"), format!("* 1 FETCH ({envelope})"));

    let inner_envelope = "(NIL \"inner\" ((NIL NIL \"carol\" \"example.net\")) ((NIL NIL \"carol\" \"example.net\")) \
((NIL NIL \"carol\" \"example.net\")) NIL NIL NIL NIL NIL)";
    let bodystructure = format!(
        "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 9 0 NIL NIL NIL NIL)\
(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 94 {inner_envelope} \
(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0 NIL NIL NIL NIL) 4 NIL \
(\"attachment\" (\"filename\" \"fwd.eml\")) NIL NIL) \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)"
    );
    assert_eq!(fetch_one(&mut client, "BODYSTRUCTURE"), format!("* 1 FETCH ({bodystructure})"));

    let body = format!(
        "BODY ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 9 0)\
(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 94 {inner_envelope} \
(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 8 0) 4) \"mixed\")"
    );
    assert_eq!(fetch_one(&mut client, "BODY"), format!("* 1 FETCH ({body})"));

    // The macros: ALL has ENVELOPE, FULL also BODY.
    let all = fetch_one(&mut client, "ALL");
    assert!(all.contains(envelope) && all.contains("RFC822.SIZE 605"), "{all}");
    let full = fetch_one(&mut client, "FULL");
    assert!(full.contains(envelope) && full.contains(&body), "{full}");
    // None of this sets \Seen.
    assert_eq!(fetch_one(&mut client, "FLAGS"), "* 1 FETCH (FLAGS (\\Recent))");
}

/// RFC 5322 §3.4.1 lets comments sit around the `@`: the ENVELOPE has
/// the real host, and SEARCH FROM finds the address.
#[test]
fn comments_inside_an_address() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let message = "From: <user-from (comment)@ (comment) domain.org>\r\nTo: Bob <bob@ (home) example.net>\r\n\
Subject: cfws\r\n\r\nbody\r\n";
    client.append_ok("INBOX", message.as_bytes());
    client.ok("SELECT INBOX");
    let envelope = fetch_one(&mut client, "ENVELOPE");
    assert!(envelope.contains("((NIL NIL \"user-from\" \"domain.org\"))"), "{envelope}");
    assert!(envelope.contains("((\"Bob\" NIL \"bob\" \"example.net\"))"), "{envelope}");
    assert!(!envelope.contains("MISSING_DOMAIN"), "{envelope}");
    assert_eq!(client.ok("SEARCH FROM user-from@domain.org"), ["* SEARCH 1"]);
    assert_eq!(client.ok("SEARCH TO bob@example.net"), ["* SEARCH 1"]);
}

#[test]
fn sections_of_parts() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.append_ok("INBOX", MESSAGE.as_bytes());
    client.ok("SELECT INBOX");
    let inner_message = format!("{INNER}<p>x</p>");
    let cases: Vec<(&str, String)> = vec![
        ("BODY.PEEK[1]", "BODY[1] {9}\r\ncaf=C3=A9".into()),
        (
            "BODY.PEEK[1.MIME]",
            "BODY[1.MIME] {88}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                .into(),
        ),
        ("BODY.PEEK[2]", format!("BODY[2] {{94}}\r\n{inner_message}")),
        ("BODY.PEEK[2.HEADER]", format!("BODY[2.HEADER] {{86}}\r\n{INNER}")),
        ("BODY.PEEK[2.TEXT]", "BODY[2.TEXT] {8}\r\n<p>x</p>".into()),
        ("BODY.PEEK[2.1]", "BODY[2.1] {8}\r\n<p>x</p>".into()),
        // The MIME header of the part inside the forwarded message is the
        // forwarded message's header.
        ("BODY.PEEK[2.1.MIME]", format!("BODY[2.1.MIME] {{86}}\r\n{INNER}")),
        (
            "BODY.PEEK[2.MIME]",
            "BODY[2.MIME] {85}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\n\r\n"
                .into(),
        ),
        ("BODY.PEEK[2.HEADER.FIELDS (SUBJECT)]", "BODY[2.HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: inner\r\n\r\n".into()),
        (
            "BODY.PEEK[2.HEADER.FIELDS.NOT (FROM CONTENT-TYPE)]",
            "BODY[2.HEADER.FIELDS.NOT (FROM CONTENT-TYPE)] {18}\r\nSubject: inner\r\n\r\n".into(),
        ),
        ("BODY.PEEK[2]<3.5>", "BODY[2]<3> {5}\r\nm: ca".into()),
        ("BODY.PEEK[2.TEXT]<4.100>", "BODY[2.TEXT]<4> {4}\r\n</p>".into()),
        // Parts that do not exist, and TEXT of a part that is not a
        // message, come back empty (as Dovecot answers).
        ("BODY.PEEK[3]", "BODY[3] {0}\r\n".into()),
        ("BODY.PEEK[1.TEXT]", "BODY[1.TEXT] {0}\r\n".into()),
        ("BODY.PEEK[1.2.3]", "BODY[1.2.3] {0}\r\n".into()),
    ];
    for (item, expected) in cases {
        assert_eq!(fetch_one(&mut client, item), format!("* 1 FETCH ({expected})"), "{item}");
    }
    assert_eq!(fetch_one(&mut client, "FLAGS"), "* 1 FETCH (FLAGS (\\Recent))");
    // Without PEEK, a part section sets \Seen and reports it.
    let answer = fetch_one(&mut client, "BODY[1]");
    assert!(answer.contains("BODY[1] {9}"), "a literal: {answer}");
    assert_eq!(flags_in_fetch(&answer), flags(&["\\Seen", "\\Recent"]), "{answer}");
}

#[test]
fn single_part_and_broken_messages() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    // No MIME headers at all: text/plain us-ascii; part 1 is the body.
    client.append_ok("INBOX", b"Subject: plain\r\n\r\nline one\r\nline two\r\n");
    // No blank line: all header, an empty body.
    client.append_ok("INBOX", b"Subject: only a header\r\nX-A: b\r\n");
    // multipart without its end delimiter, LF line ends, 8-bit text.
    client.append_ok(
        "INBOX",
        b"Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain; charset=iso-8859-1\n\ncaf\xe9\n--b\nContent-Type: text/html\n\n<b>x</b>\n",
    );
    client.ok("SELECT INBOX");
    let first = client.ok("FETCH 1 (BODYSTRUCTURE BODY.PEEK[1])");
    assert_eq!(
        first,
        ["* 1 FETCH (BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2 NIL NIL NIL NIL) BODY[1] {20}\r\nline one\r\nline two\r\n)"]
    );
    let second = client.ok("FETCH 2 (BODYSTRUCTURE ENVELOPE)");
    assert!(second[0].contains("\"7bit\" 0 0"), "{second:?}");
    assert!(second[0].contains("ENVELOPE (NIL \"only a header\" NIL NIL NIL NIL NIL NIL NIL NIL)"), "{second:?}");
    let third = client.ok("FETCH 3 (BODYSTRUCTURE BODY.PEEK[2])");
    assert!(third[0].contains("(\"charset\" \"iso-8859-1\") NIL NIL \"7bit\" 4 0"), "{third:?}");
    assert!(third[0].contains("\"alternative\" (\"boundary\" \"b\")"), "{third:?}");
    assert!(third[0].ends_with("BODY[2] {10}\r\n<b>x</b>\r\n)"), "the last part runs to the end: {third:?}");
    // Bare LFs were stored as CRLF (as Dovecot serves them): the size and
    // every offset count the CRs, and a bare CR stays as it came.
    client.append_ok("INBOX", b"Subject: lf\n\na\nb\r\nc\rd\n");
    let fourth = client.ok("FETCH 4 (RFC822.SIZE BODY.PEEK[])");
    assert_eq!(fourth, ["* 4 FETCH (RFC822.SIZE 26 BODY[] {26}\r\nSubject: lf\r\n\r\na\r\nb\r\nc\rd\r\n)"]);
    // RFC 3516 §4.4: APPEND takes a literal8 with NUL bytes; this message
    // has no MIME part labelled binary to store base64, so BODY[] sends
    // each NUL as 0x80 (RFC 3501 §4.3 forbids NUL in a literal; Dovecot
    // does the same) and BINARY[] gives the bytes as stored.
    assert!(capabilities(&mut client).contains("BINARY"));
    let tag = client.next_tag();
    let binary = b"Subject: nul\r\n\r\na\x00b\r\n";
    client.send_raw(format!("{tag} APPEND INBOX ~{{{}+}}\r\n", binary.len()).as_bytes());
    client.send_raw(binary);
    client.send_raw(b"\r\n");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    let fifth = client.ok("FETCH 5 (RFC822.SIZE BODY.PEEK[])");
    // (The harness reads lines as UTF-8: the lone 0x80 shows as U+FFFD.)
    assert_eq!(fifth, ["* 5 FETCH (RFC822.SIZE 21 BODY[] {21}\r\nSubject: nul\r\n\r\na\u{fffd}b\r\n)"]);
    // BINARY[1] sends them as stored, in a literal8 (RFC 3516 §4.3).
    let binary = client.ok("FETCH 5 (BINARY.PEEK[1])");
    assert_eq!(binary, ["* 5 FETCH (BINARY[1] ~{5}\r\na\0b\r\n)"]);
}

#[test]
fn binary_decodes_parts() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.append_ok("INBOX", MESSAGE.as_bytes());
    // A single-part base64 message.
    client.append_ok(
        "INBOX",
        b"Subject: b\r\nContent-Transfer-Encoding: base64\r\nContent-Type: text/plain\r\n\r\naGVsbG8gd29ybGQ=\r\n",
    );
    client.append_ok(
        "INBOX",
        b"Subject: u\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n",
    );
    client.append_ok(
        "INBOX",
        b"Subject: j\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8*!!\r\n",
    );
    client.ok("SELECT INBOX");
    // The quoted-printable part, decoded, as a literal8 (RFC 3516).
    assert_eq!(
        client.ok("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])"),
        ["* 1 FETCH (BINARY[1] ~{5}\r\ncafé BINARY.SIZE[1] 5)"]
    );
    assert_eq!(client.ok("FETCH 1 BINARY.PEEK[1]<1.2>"), ["* 1 FETCH (BINARY[1]<1> ~{2}\r\naf)"]);
    // The whole message: encoded parts decoded, their headers say binary.
    let whole = client.ok("FETCH 2 (BINARY.PEEK[] BINARY.SIZE[])");
    let expected = "Subject: b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\nhello world";
    assert_eq!(
        whole,
        [format!("* 2 FETCH (BINARY[] ~{{{}}}\r\n{expected} BINARY.SIZE[] {})", expected.len(), expected.len())]
    );
    let whole = client.ok("FETCH 1 BINARY.PEEK[]");
    assert!(
        whole[0].contains(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: binary\r\n\r\ncafé\r\n--outer"
        ),
        "{whole:?}"
    );
    // RFC 3516 §4.3: an encoding we cannot undo, and data that is not base64.
    assert!(client.no("FETCH 3 BINARY.PEEK[1]").starts_with("NO [UNKNOWN-CTE]"));
    assert!(client.no("FETCH 4 BINARY.SIZE[1]").starts_with("NO [PARSE]"));
    // Nothing was marked \Seen by the refused commands; BINARY without PEEK sets it.
    let answer = client.ok("FETCH 2 BINARY[1]");
    assert!(flags_in_fetch(fetch_of(&answer, 2)).contains("\\Seen"), "{answer:?}");
}

#[test]
fn top_level_message_rfc822_nests_the_inner_envelope() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.append_ok(
        "INBOX",
        b"Subject: outer\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n",
    );
    client.ok("SELECT INBOX");
    let answer = client.ok("FETCH 1 (ENVELOPE BODY)");
    assert!(answer[0].contains("ENVELOPE (NIL \"outer\""), "{answer:?}");
    assert!(answer[0].contains("BODY (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 24 (NIL \"inner\""), "{answer:?}");
}

//! APPEND (RFC 3501 §6.3.11) with MULTIAPPEND (RFC 3502), LITERAL+
//! (RFC 7888), APPENDLIMIT (RFC 7889) and UIDPLUS's APPENDUID (RFC 4315):
//! literals, all-or-nothing, limits, byte-exact round trips.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use common::*;

/// A byte-exact client (the harness turns literals into lossy text).
struct Raw {
    reader: BufReader<TcpStream>,
    tag: usize,
}

/// A response line (literals shown by their `{n}` only) with its literals.
type RawResponse = (String, Vec<Vec<u8>>);

impl Raw {
    /// Logged in as alice, INBOX selected.
    fn connect(server: &Server) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", server.imap_port)).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut raw = Raw { reader: BufReader::new(stream), tag: 0 };
        let greeting = raw.line();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        raw.ok("LOGIN alice secret");
        raw.ok("SELECT INBOX");
        raw
    }

    fn send(&mut self, bytes: &[u8]) {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).unwrap();
        stream.flush().unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = Vec::new();
        let count = self.reader.read_until(b'\n', &mut line).expect("read from server");
        assert!(count > 0, "server closed the connection");
        assert!(line.ends_with(b"\r\n"), "response line without CRLF: {line:?}");
        line.truncate(line.len() - 2);
        String::from_utf8(line).expect("a response line outside literals is text")
    }

    fn response(&mut self) -> RawResponse {
        let mut text = String::new();
        let mut literals = Vec::new();
        loop {
            let line = self.line();
            text.push_str(&line);
            match literal_length(&line) {
                Some(length) => {
                    let mut bytes = vec![0u8; length];
                    self.reader.read_exact(&mut bytes).expect("read literal");
                    literals.push(bytes);
                }
                None => return (text, literals),
            }
        }
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("r{}", self.tag)
    }

    fn until_tagged(&mut self, tag: &str) -> (Vec<RawResponse>, String) {
        let mut untagged = Vec::new();
        loop {
            let response = self.response();
            if let Some(rest) = response.0.strip_prefix(&format!("{tag} ")) {
                return (untagged, rest.to_string());
            }
            untagged.push(response);
        }
    }

    fn ok(&mut self, command: &str) -> Vec<RawResponse> {
        let tag = self.next_tag();
        self.send(format!("{tag} {command}\r\n").as_bytes());
        let (untagged, tagged) = self.until_tagged(&tag);
        assert!(tagged.starts_with("OK"), "{command:?} gave {tagged:?}");
        untagged
    }

    /// APPEND to INBOX with a synchronizing literal; returns the tagged reply.
    fn append(&mut self, message: &[u8]) -> String {
        let tag = self.next_tag();
        self.send(format!("{tag} APPEND INBOX {{{}}}\r\n", message.len()).as_bytes());
        let continuation = self.line();
        assert!(continuation.starts_with('+'), "{continuation}");
        self.send(message);
        self.send(b"\r\n");
        self.until_tagged(&tag).1
    }

    /// The one literal of the one FETCH response to `command`.
    fn literal(&mut self, command: &str) -> Vec<u8> {
        let mut untagged = self.ok(command);
        untagged.retain(|(text, _)| matches!(parse_one(text), Reply::Untagged(response) if response.is("FETCH")));
        assert_eq!(untagged.len(), 1, "{command}: {untagged:?}");
        let (text, mut literals) = untagged.pop().unwrap();
        assert_eq!(literals.len(), 1, "{text}");
        literals.pop().unwrap()
    }

    /// RFC822.SIZE of message `sequence`.
    fn size(&mut self, sequence: u32) -> u64 {
        let untagged = self.ok(&format!("FETCH {sequence} RFC822.SIZE"));
        let texts: Vec<String> = untagged.into_iter().map(|(text, _)| text).collect();
        item(fetch_of(&texts, sequence), "RFC822.SIZE").parse().unwrap()
    }
}

// ---------------------------------------------------------------------------
// APPEND
// ---------------------------------------------------------------------------

#[test]
fn append_with_synchronizing_literal_waits_for_continuation() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let body = message("sync", "a synchronizing literal");
    client.send(&format!("a1 APPEND INBOX {{{}}}", body.len()));
    let continuation = client.read_line();
    assert!(continuation.starts_with("+ "), "continue-req: {continuation}");
    client.send_raw(&body);
    client.send_raw(b"\r\n");
    let (untagged, tagged) = client.until_tagged("a1");
    assert!(untagged.is_empty(), "{untagged:?}");
    assert!(tagged.starts_with("OK [APPENDUID "), "{tagged}");
    let (validity, uid) = appenduid(&tagged);
    assert_eq!(status(&mut client, "INBOX", "UIDVALIDITY"), validity);
    assert_eq!(status(&mut client, "INBOX", "UIDNEXT"), uid + 1);
    assert_eq!(status(&mut client, "INBOX", "MESSAGES"), 1);
    let selected = client.ok("SELECT INBOX");
    assert_eq!(uidvalidity(&selected), validity);
    let untagged = client.ok("FETCH 1 (UID BODY.PEEK[])");
    let response = fetch_of(&untagged, 1);
    assert_eq!(item(response, "UID"), uid.to_string());
    assert_eq!(item(response, "BODY[]").as_bytes(), &body[..]);
}

#[test]
fn append_mailbox_name_as_literal_or_quoted() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok(r#"CREATE "My Box""#);
    let body = message("named", "x");
    // The mailbox name itself as a synchronizing literal, then the message.
    client.send("a1 APPEND {6}");
    assert!(client.read_line().starts_with("+ "));
    client.send(&format!("My Box {{{}}}", body.len()));
    assert!(client.read_line().starts_with("+ "));
    client.send_raw(&body);
    client.send_raw(b"\r\n");
    let (_, tagged) = client.until_tagged("a1");
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    let (_, tagged) = client.append(r#""My Box""#, "", &body);
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    // INBOX is case-insensitive.
    client.append_ok("inbox", &body);
    assert_eq!(status(&mut client, r#""My Box""#, "MESSAGES"), 2);
    assert_eq!(status(&mut client, "INBOX", "MESSAGES"), 1);
}

#[test]
fn append_with_literal_plus_needs_no_continuation() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert!(capabilities(&mut client).contains("LITERAL+"));
    let body = message("plus", "a non-synchronizing literal");
    // The whole command, and a NOOP after it, in one write: nothing waits.
    let mut bytes = format!("a1 APPEND INBOX {{{}+}}\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(b"\r\na2 NOOP\r\n");
    client.send_raw(&bytes);
    let (untagged, tagged) = client.until_tagged("a1");
    assert!(untagged.is_empty(), "no continuation request for {{n+}}: {untagged:?}");
    assert!(tagged.starts_with("OK [APPENDUID "), "{tagged}");
    let (_, tagged) = client.until_tagged("a2");
    assert!(tagged.starts_with("OK"), "{tagged}");
    client.ok("SELECT INBOX");
    let untagged = client.ok("FETCH 1 BODY.PEEK[]");
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[]").as_bytes(), &body[..]);
}

#[test]
fn append_flags_and_internal_date() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let (_, tagged) =
        client.append("INBOX", r#"(\Seen $Label) "17-Jul-1996 02:44:25 -0700""#, &message("dated", "flags and a date"));
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    // A one-digit day: date-day-fixed is SP DIGIT in the answer.
    let (_, tagged) =
        client.append("INBOX", r#"(\Flagged \Draft \Answered) " 7-Jul-1996 23:05:00 +0130""#, b"X: y\r\n\r\nz");
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    // A date without flags; flags without a date.
    let (_, tagged) = client.append("INBOX", r#""01-Feb-2000 00:00:00 +0000""#, b"X: y\r\n\r\nz");
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    let (_, tagged) = client.append("INBOX", r"()", b"X: y\r\n\r\nz");
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    let selected = client.ok("EXAMINE INBOX");
    assert!(defined_flags(&selected).contains("$Label"), "{selected:?}");
    let untagged = client.ok("FETCH 1:4 (FLAGS INTERNALDATE)");
    let first = fetch_of(&untagged, 1);
    assert_eq!(item(first, "INTERNALDATE"), "17-Jul-1996 02:44:25 -0700");
    assert_eq!(flag_set(&item(first, "FLAGS")), flags(&[r"\Seen", "$Label", r"\Recent"]));
    let second = fetch_of(&untagged, 2);
    assert_eq!(item(second, "INTERNALDATE"), " 7-Jul-1996 23:05:00 +0130");
    assert_eq!(flag_set(&item(second, "FLAGS")), flags(&[r"\Flagged", r"\Draft", r"\Answered", r"\Recent"]));
    assert_eq!(
        item(fetch_of(&untagged, 3), "INTERNALDATE"),
        " 1-Feb-2000 00:00:00 +0000",
        "date-day-fixed is SP DIGIT"
    );
    assert_eq!(flag_set(&item(fetch_of(&untagged, 4), "FLAGS")), flags(&[r"\Recent"]));
}

#[test]
fn appenduid_uids_ascend_and_match_the_mailbox() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let mut uids = Vec::new();
    let mut validities = BTreeSet::new();
    for number in 0..6 {
        let (_, tagged) = client.append("INBOX", "", &message(&format!("n{number}"), "x"));
        assert!(tagged.starts_with("OK [APPENDUID "), "{tagged}");
        let (validity, uid) = appenduid(&tagged);
        validities.insert(validity);
        uids.push(uid);
    }
    assert_eq!(validities.len(), 1, "one UIDVALIDITY: {validities:?}");
    assert!(uids.windows(2).all(|pair| pair[0] < pair[1]), "strictly ascending: {uids:?}");
    let selected = client.ok("SELECT INBOX");
    assert_eq!(uidvalidity(&selected), *validities.first().unwrap());
    let uidnext = format!("* OK [UIDNEXT {}]", uids[5] + 1);
    assert!(selected.iter().any(|line| line.starts_with(&uidnext)), "{selected:?}");
    assert_eq!(all_uids(&mut client), uids);
    // Into another mailbox: its own UIDVALIDITY and UIDs.
    client.ok("CREATE Other");
    let (_, tagged) = client.append("Other", "", &message("o", "x"));
    let (validity, uid) = appenduid(&tagged);
    assert_eq!(validity, status(&mut client, "Other", "UIDVALIDITY"));
    assert_eq!(uid + 1, status(&mut client, "Other", "UIDNEXT"));
}

#[test]
fn multiappend_with_literal_plus() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert!(capabilities(&mut client).contains("MULTIAPPEND"));
    let bodies = [message("one", "first"), message("two", "second"), message("three", "third")];
    let mut bytes = format!("a1 APPEND INBOX (\\Seen) {{{}+}}\r\n", bodies[0].len()).into_bytes();
    bytes.extend_from_slice(&bodies[0]);
    bytes.extend_from_slice(
        format!(" (\\Flagged $Work) \"02-Mar-2001 10:00:00 +0100\" {{{}+}}\r\n", bodies[1].len()).as_bytes(),
    );
    bytes.extend_from_slice(&bodies[1]);
    bytes.extend_from_slice(format!(" {{{}+}}\r\n", bodies[2].len()).as_bytes());
    bytes.extend_from_slice(&bodies[2]);
    bytes.extend_from_slice(b"\r\n");
    client.send_raw(&bytes);
    let (untagged, tagged) = client.until_tagged("a1");
    assert!(untagged.is_empty(), "{untagged:?}");
    assert!(tagged.starts_with("OK [APPENDUID "), "{tagged}");
    let code = tagged["OK [APPENDUID ".len()..].split(']').next().unwrap().to_string();
    let (validity, first) = appenduid(&tagged);
    assert_eq!(code, format!("{validity} {first}:{}", first + 2), "RFC 4315 uid-range for MULTIAPPEND");
    client.ok("EXAMINE INBOX");
    let untagged = client.ok("FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])");
    assert_eq!(fetches(&untagged).len(), 3);
    for (index, body) in bodies.iter().enumerate() {
        let response = fetch_of(&untagged, index as u32 + 1);
        assert_eq!(item(response, "UID"), (first + index as u32).to_string());
        assert_eq!(item(response, "BODY[]").as_bytes(), &body[..], "messages stay in order");
    }
    assert_eq!(flag_set(&item(fetch_of(&untagged, 1), "FLAGS")), flags(&[r"\Seen", r"\Recent"]));
    let second = fetch_of(&untagged, 2);
    assert_eq!(flag_set(&item(second, "FLAGS")), flags(&[r"\Flagged", "$Work", r"\Recent"]));
    assert_eq!(item(second, "INTERNALDATE"), " 2-Mar-2001 10:00:00 +0100");
    assert_eq!(flag_set(&item(fetch_of(&untagged, 3), "FLAGS")), flags(&[r"\Recent"]));
}

#[test]
fn multiappend_with_synchronizing_literals() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let bodies = [message("s1", "first"), message("s2", "second")];
    client.send(&format!("a1 APPEND INBOX {{{}}}", bodies[0].len()));
    assert!(client.read_line().starts_with("+ "));
    client.send_raw(&bodies[0]);
    client.send(&format!(" (\\Deleted) {{{}}}", bodies[1].len()));
    let continuation = client.read_line();
    assert!(continuation.starts_with("+ "), "a continuation for each message: {continuation}");
    client.send_raw(&bodies[1]);
    client.send_raw(b"\r\n");
    let (_, tagged) = client.until_tagged("a1");
    let (validity, first) = appenduid(&tagged);
    assert!(tagged.starts_with(&format!("OK [APPENDUID {validity} {first}:{}]", first + 1)), "{tagged}");
    assert_eq!(status(&mut client, "INBOX", "MESSAGES"), 2);
    assert_eq!(status(&mut client, "INBOX", "DELETED"), 1);
}

#[test]
fn multiappend_is_all_or_nothing() {
    let server = Server::start_with(Options { extra_limits: "literal_size = 2048".into(), ..Default::default() });
    let mut client = server.login("alice", "secret");
    // The second message is over the limit: RFC 3502 §6.3.11 — none are appended.
    let small = message("small", "fits");
    let big = vec![b'x'; 3000];
    let mut bytes = format!("a1 APPEND INBOX {{{}+}}\r\n", small.len()).into_bytes();
    bytes.extend_from_slice(&small);
    bytes.extend_from_slice(format!(" {{{}+}}\r\n", big.len()).as_bytes());
    bytes.extend_from_slice(&big);
    bytes.extend_from_slice(format!(" {{{}+}}\r\n", small.len()).as_bytes());
    bytes.extend_from_slice(&small);
    bytes.extend_from_slice(b"\r\n");
    client.send_raw(&bytes);
    let (_, tagged) = client.until_tagged("a1");
    assert!(tagged.starts_with("NO [TOOBIG]"), "{tagged}");
    assert_eq!(status(&mut client, "INBOX", "MESSAGES"), 0);
    // The same with synchronizing literals: the command ends at the refusal.
    client.send(&format!("a2 APPEND INBOX {{{}}}", small.len()));
    assert!(client.read_line().starts_with("+ "));
    client.send_raw(&small);
    client.send(&format!(" {{{}}}", big.len()));
    let refusal = client.read_line();
    assert!(refusal.starts_with("a2 NO [TOOBIG]"), "{refusal}");
    assert_eq!(status(&mut client, "INBOX", "MESSAGES"), 0);
    client.ok("NOOP");
}

#[test]
fn append_to_a_missing_mailbox_is_trycreate() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let body = message("lost", "nowhere");
    // Synchronizing: refused at once, no continuation.
    client.send(&format!("a1 APPEND Nowhere {{{}}}", body.len()));
    let line = client.read_line();
    assert!(line.starts_with("a1 NO [TRYCREATE]"), "{line}");
    client.ok("NOOP");
    // Non-synchronizing: the bytes are read and dropped.
    let mut bytes = format!("a2 APPEND Nowhere {{{}+}}\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(b"\r\n");
    client.send_raw(&bytes);
    let (untagged, tagged) = client.until_tagged("a2");
    assert!(untagged.is_empty(), "{untagged:?}");
    assert!(tagged.starts_with("NO [TRYCREATE]"), "{tagged}");
    client.ok("NOOP");
    client.ok("CREATE Nowhere");
    client.append_ok("Nowhere", &body);
    assert_eq!(status(&mut client, "Nowhere", "MESSAGES"), 1);
}

#[test]
fn append_over_appendlimit_is_toobig() {
    let server = Server::start_with(Options { extra_limits: "literal_size = 2048".into(), ..Default::default() });
    let mut client = server.login("alice", "secret");
    let capability = client.ok("CAPABILITY").remove(0);
    assert!(capability.split(' ').any(|word| word == "APPENDLIMIT=2048"), "{capability}");
    let big = vec![b'x'; 3000];
    // Synchronizing: refused before the bytes are invited.
    client.send(&format!("a1 APPEND INBOX {{{}}}", big.len()));
    let line = client.read_line();
    assert!(line.starts_with("a1 NO [TOOBIG]"), "no continuation, NO [TOOBIG]: {line}");
    client.ok("NOOP");
    // Non-synchronizing: the bytes are read and dropped; the next command works.
    let mut bytes = format!("a2 APPEND INBOX {{{}+}}\r\n", big.len()).into_bytes();
    bytes.extend_from_slice(&big);
    bytes.extend_from_slice(b"\r\na3 NOOP\r\n");
    client.send_raw(&bytes);
    let (_, tagged) = client.until_tagged("a2");
    assert!(tagged.starts_with("NO [TOOBIG]"), "{tagged}");
    let (_, tagged) = client.until_tagged("a3");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(status(&mut client, "INBOX", "MESSAGES"), 0);
    // Exactly at the limit is allowed.
    let mut limit = message("edge", "");
    limit.resize(2048, b'y');
    client.append_ok("INBOX", &limit);
    assert_eq!(status(&mut client, "INBOX", "MESSAGES"), 1);
}

#[test]
fn append_of_an_empty_message_is_refused() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.send("a1 APPEND INBOX {0}");
    let line = client.read_line();
    assert!(line.starts_with("a1 NO"), "{line}");
    client.send_raw(b"a2 APPEND INBOX {0+}\r\n\r\n");
    let (_, tagged) = client.until_tagged("a2");
    assert!(tagged.starts_with("NO"), "{tagged}");
    client.ok("NOOP");
    assert_eq!(status(&mut client, "INBOX", "MESSAGES"), 0);
}

#[test]
fn append_with_bad_arguments_is_bad() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let body = message("bad", "x");
    for (index, arguments) in
        [r"(\Bogus)", r"(\*)", r"(\Seen", r#""32-Jul-1996 02:44:25 -0700""#, r#""17-Jul-1996 2:44:25 -0700""#]
            .iter()
            .enumerate()
    {
        let tag = format!("b{index}");
        client.send(&format!("{tag} APPEND INBOX {arguments} {{{}}}", body.len()));
        let line = client.read_line();
        assert!(line.starts_with(&format!("{tag} BAD")), "{arguments}: {line}");
    }
    // With {n+}: the literal is skipped and the session stays in step.
    let mut bytes = format!("c1 APPEND INBOX (\\Bogus) {{{}+}}\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(b"\r\nc2 NOOP\r\n");
    client.send_raw(&bytes);
    let (_, tagged) = client.until_tagged("c1");
    assert!(tagged.starts_with("BAD"), "{tagged}");
    let (_, tagged) = client.until_tagged("c2");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(status(&mut client, "INBOX", "MESSAGES"), 0);
}

#[test]
fn append_to_the_selected_mailbox_reports_exists() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(1));
    let (untagged, tagged) = client.append("INBOX", "", &message("new", "arrives"));
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    assert!(untagged.contains(&"* 2 EXISTS".to_string()), "EXISTS before the tagged OK: {untagged:?}");
    assert!(untagged.contains(&"* 1 RECENT".to_string()), "{untagged:?}");
    let untagged = client.ok("FETCH 2 BODY.PEEK[TEXT]");
    assert_eq!(item(fetch_of(&untagged, 2), "BODY[TEXT]"), "arrives\r\n");
    // A new keyword appended into the selected mailbox is announced too.
    let (untagged, _) = client.append("INBOX", "($Fresh)", &message("kw", "k"));
    assert!(defined_flags(&untagged).contains("$Fresh"), "{untagged:?}");
    assert!(untagged.contains(&"* 3 EXISTS".to_string()), "{untagged:?}");
}

#[test]
fn large_message_round_trips_byte_exact() {
    let server = Server::start();
    let mut raw = Raw::connect(&server);
    let mut big = b"From: big@example.org\r\nSubject: three MiB\r\n\r\n".to_vec();
    let mut counter = 0u32;
    while big.len() < 3 * 1024 * 1024 {
        big.extend_from_slice(format!("line {counter:08} of a large message ........................\r\n").as_bytes());
        counter += 1;
    }
    big.truncate(3 * 1024 * 1024 + 17); // not a whole number of chunks
    let tagged = raw.append(&big);
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    assert_eq!(raw.size(1), big.len() as u64);
    assert!(raw.literal("FETCH 1 BODY.PEEK[]") == big, "BODY[] differs from what was appended");
    let header_length = big.windows(4).position(|window| window == b"\r\n\r\n").unwrap() + 4;
    assert!(raw.literal("FETCH 1 BODY.PEEK[TEXT]") == big[header_length..]);
    let tail = raw.literal("FETCH 1 BODY.PEEK[]<3144000.1000>");
    assert_eq!(tail, big[3_144_000..3_145_000]);
}

#[test]
fn bare_lf_is_stored_as_crlf_and_eight_bit_and_nul_bytes_round_trip() {
    let server = Server::start();
    let mut raw = Raw::connect(&server);
    let bare_lf = b"From: lf@example.org\nSubject: bare LF\n\nline one\nline two\n".to_vec();
    let eight_bit = "From: Jos\u{e9} <j@example.org>\r\nSubject: caf\u{e9} \u{2603}\r\n\r\nna\u{ef}ve \u{1f600}\r\n"
        .as_bytes()
        .iter()
        .copied()
        .chain([0xff, 0xfe, 0x80, b'\r', b'\n'])
        .collect::<Vec<u8>>();
    let nul = b"Subject: nul\r\n\r\nbefore\x00after\x00\r\n\x00".to_vec();
    let mixed = b"Subject: mixed\r\nX: a\n\r\nbody\rwith\r\rbare CR\n".to_vec();
    for message in [&bare_lf, &eight_bit, &nul, &mixed] {
        let tagged = raw.append(message);
        assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    }
    // Bare LFs come back as CRLF (RFC 5322 line ends, as Dovecot serves
    // them); 8-bit bytes and bare CRs come back as sent; a NUL, which a
    // literal may not hold (RFC 3501 §4.3), comes back as 0x80 (as Dovecot
    // sends it; BINARY gives the stored bytes).
    let crlf = |message: &[u8]| {
        let mut out = Vec::new();
        for (at, &byte) in message.iter().enumerate() {
            if byte == b'\n' && (at == 0 || message[at - 1] != b'\r') {
                out.push(b'\r');
            }
            out.push(byte);
        }
        out
    };
    for (sequence, message) in [&bare_lf, &eight_bit, &nul, &mixed].iter().enumerate() {
        let sequence = sequence as u32 + 1;
        let stored = crlf(message);
        assert_eq!(raw.size(sequence), stored.len() as u64, "RFC822.SIZE of {sequence}");
        let sent: Vec<u8> = stored.iter().map(|&byte| if byte == 0 { 0x80 } else { byte }).collect();
        assert_eq!(raw.literal(&format!("FETCH {sequence} BODY.PEEK[]")), sent, "BODY[] of {sequence}");
    }
    assert_eq!(raw.literal("FETCH 4 BODY.PEEK[]"), b"Subject: mixed\r\nX: a\r\n\r\nbody\rwith\r\rbare CR\r\n");
    // The header ends at the first empty line.
    assert_eq!(raw.literal("FETCH 1 BODY.PEEK[HEADER]"), b"From: lf@example.org\r\nSubject: bare LF\r\n\r\n");
    assert_eq!(raw.literal("FETCH 1 BODY.PEEK[TEXT]"), b"line one\r\nline two\r\n");
    assert_eq!(raw.literal("FETCH 3 BODY.PEEK[TEXT]"), b"before\x80after\x80\r\n\x80");
    assert_eq!(raw.literal("FETCH 2 BODY.PEEK[TEXT]"), &eight_bit[eight_bit.len() - 18..]);
}

#[test]
fn header_only_message_sections() {
    let server = Server::start();
    let body = b"Received: from a\r\nReceived: from b\r\nSubject: only a header\r\n".to_vec();
    let (mut client, _) = settled(&server, std::slice::from_ref(&body));
    let untagged = client.ok("FETCH 1 (RFC822.SIZE BODY.PEEK[TEXT] BODY.PEEK[HEADER.FIELDS (Received)])");
    let response = fetch_of(&untagged, 1);
    assert_eq!(item(response, "RFC822.SIZE"), body.len().to_string());
    assert_eq!(item(response, "BODY[TEXT]"), "", "no body");
    // Repeated fields are all returned, in order.
    assert_eq!(item(response, "BODY[HEADER.FIELDS (Received)]"), "Received: from a\r\nReceived: from b\r\n\r\n");
}

//! Message-level commands (RFC 3501 §6.3.11, §6.4): APPEND, FETCH, STORE,
//! EXPUNGE, COPY, SEARCH, with UIDPLUS (RFC 4315), MOVE (RFC 6851),
//! MULTIAPPEND (RFC 3502), LITERAL+ (RFC 7888) and APPENDLIMIT (RFC 7889);
//! UID stability across expunges and restarts. MIME-aware FETCH items
//! (ENVELOPE, BODYSTRUCTURE, part sections, BINARY) are in mime_fetch.rs.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use common::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A message with these header fields, in order, and this body.
fn mail(headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut text = String::new();
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

/// `count` small distinct messages.
fn numbered(count: usize) -> Vec<Vec<u8>> {
    (1..=count).map(|number| message(&format!("m{number}"), &format!("body {number}"))).collect()
}

/// Alice, logged in, with `messages` appended to INBOX and INBOX selected
/// such that none of them is \Recent in this session: another session
/// selects INBOX first, takes the \Recent flags, and still watches the
/// mailbox when this one selects it. Returns the client and the UIDs.
fn settled(server: &Server, messages: &[Vec<u8>]) -> (Client, Vec<u32>) {
    let mut client = server.login("alice", "secret");
    let uids = messages.iter().map(|message| client.append_ok("INBOX", message)).collect();
    let mut first = server.login("alice", "secret");
    let untagged = first.ok("SELECT INBOX");
    assert!(untagged.contains(&format!("* {} RECENT", messages.len())), "{untagged:?}");
    let untagged = client.ok("SELECT INBOX");
    assert!(untagged.contains(&format!("* {} EXISTS", messages.len())), "{untagged:?}");
    assert!(untagged.contains(&"* 0 RECENT".to_string()), "{untagged:?}");
    first.ok("LOGOUT");
    (client, uids)
}

/// One value of a response, starting at byte `start`: a literal's contents,
/// a quoted string unquoted, a parenthesised list as sent, or an atom.
/// Returns the value and the position after it.
fn parse_value(text: &str, start: usize) -> (String, usize) {
    let bytes = text.as_bytes();
    match bytes[start] {
        b'{' => {
            let close = start + text[start..].find('}').expect("literal end");
            let length: usize = text[start + 1..close].trim_end_matches('+').parse().expect("literal length");
            let body = close + 3; // "}\r\n"
            (text[body..body + length].to_string(), body + length)
        }
        b'"' => {
            let mut value = String::new();
            let mut position = start + 1;
            loop {
                match bytes[position] {
                    b'\\' => {
                        value.push(bytes[position + 1] as char);
                        position += 2;
                    }
                    b'"' => return (value, position + 1),
                    byte => {
                        value.push(byte as char);
                        position += 1;
                    }
                }
            }
        }
        b'(' => {
            let mut depth = 0;
            let mut position = start;
            let mut quoted = false;
            loop {
                match bytes[position] {
                    b'\\' if quoted => position += 1,
                    b'"' => quoted = !quoted,
                    b'(' if !quoted => depth += 1,
                    b')' if !quoted => {
                        depth -= 1;
                        if depth == 0 {
                            return (text[start..=position].to_string(), position + 1);
                        }
                    }
                    _ => {}
                }
                position += 1;
            }
        }
        _ => {
            let end = text[start..].find([' ', ')']).map_or(text.len(), |offset| start + offset);
            (text[start..end].to_string(), end)
        }
    }
}

/// The (name, value) pairs of a `* n FETCH (...)` response.
fn fetch_items(response: &str) -> Vec<(String, String)> {
    let open = response.find(" FETCH (").unwrap_or_else(|| panic!("not a FETCH response: {response:?}"));
    let bytes = response.as_bytes();
    let mut position = open + " FETCH (".len();
    let mut items = Vec::new();
    while bytes[position] != b')' {
        let start = position;
        while bytes[position] != b' ' {
            if bytes[position] == b'[' {
                while bytes[position] != b']' {
                    position += 1;
                }
            }
            position += 1;
        }
        let name = response[start..position].to_string();
        let (value, next) = parse_value(response, position + 1);
        items.push((name, value));
        position = next;
        if bytes[position] == b' ' {
            position += 1;
        }
    }
    assert_eq!(position, response.len() - 1, "text after the FETCH list: {response:?}");
    items
}

fn try_item(response: &str, name: &str) -> Option<String> {
    fetch_items(response).into_iter().find(|(found, _)| found.eq_ignore_ascii_case(name)).map(|(_, value)| value)
}

/// The value of FETCH item `name` in `response`.
fn item(response: &str, name: &str) -> String {
    try_item(response, name).unwrap_or_else(|| panic!("no {name} in {response:?}"))
}

/// The names of the items of a FETCH response, upper-cased.
fn item_names(response: &str) -> Vec<String> {
    fetch_items(response).into_iter().map(|(name, _)| name.to_ascii_uppercase()).collect()
}

/// `(\Seen $x)` as a set.
fn flag_set(list: &str) -> BTreeSet<String> {
    let inner = list.strip_prefix('(').and_then(|list| list.strip_suffix(')')).expect("a flag list");
    inner.split_whitespace().map(str::to_string).collect()
}

fn flags(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| name.to_string()).collect()
}

/// The FETCH responses among `untagged`, by sequence number.
fn fetches(untagged: &[Response]) -> Vec<(u32, &Response)> {
    untagged
        .iter()
        .filter(|response| response.starts_with("* ") && response.contains(" FETCH ("))
        .map(|response| (response[2..].split(' ').next().unwrap().parse().unwrap(), response))
        .collect()
}

/// The one FETCH response for sequence number `sequence`.
fn fetch_of(untagged: &[Response], sequence: u32) -> &Response {
    let found: Vec<&Response> =
        fetches(untagged).into_iter().filter(|(number, _)| *number == sequence).map(|(_, found)| found).collect();
    assert_eq!(found.len(), 1, "one FETCH for {sequence} in {untagged:#?}");
    found[0]
}

/// The flags the server reports for message `sequence` (read without side effects).
fn flags_of(client: &mut Client, sequence: u32) -> BTreeSet<String> {
    let untagged = client.ok(&format!("FETCH {sequence} FLAGS"));
    flag_set(&item(fetch_of(&untagged, sequence), "FLAGS"))
}

/// A STATUS item of a mailbox.
fn status(client: &mut Client, mailbox: &str, name: &str) -> u32 {
    let untagged = client.ok(&format!("STATUS {mailbox} ({name})"));
    let line = untagged.iter().find(|line| line.starts_with("* STATUS")).expect("STATUS response");
    let after = line.split(&format!("{name} ")).nth(1).expect("item in STATUS");
    after.trim_end_matches(')').split([' ', ')']).next().unwrap().parse().unwrap()
}

/// The sorted numbers of a SEARCH command's answer.
fn search(client: &mut Client, criteria: &str) -> Vec<u32> {
    let untagged = client.ok(&format!("SEARCH {criteria}"));
    let mut numbers = search_result(&untagged);
    numbers.sort_unstable();
    numbers
}

fn uid_search(client: &mut Client, criteria: &str) -> Vec<u32> {
    let untagged = client.ok(&format!("UID SEARCH {criteria}"));
    let mut numbers = search_result(&untagged);
    numbers.sort_unstable();
    numbers
}

/// `[COPYUID v src dst]` as its three words.
fn copyuid(text: &str) -> (u32, String, String) {
    let code = text.split("[COPYUID ").nth(1).unwrap_or_else(|| panic!("no COPYUID in {text:?}"));
    let code = &code[..code.find(']').unwrap()];
    let words: Vec<&str> = code.split(' ').collect();
    assert_eq!(words.len(), 3, "{text}");
    (words[0].parse().unwrap(), words[1].to_string(), words[2].to_string())
}

/// The UIDVALIDITY a SELECT or EXAMINE reported.
fn uidvalidity(untagged: &[Response]) -> u32 {
    let line = untagged.iter().find(|line| line.starts_with("* OK [UIDVALIDITY ")).expect("UIDVALIDITY");
    line["* OK [UIDVALIDITY ".len()..].split(']').next().unwrap().parse().unwrap()
}

/// The UIDs of all messages, in sequence order.
fn all_uids(client: &mut Client) -> Vec<u32> {
    let untagged = client.ok("FETCH 1:* UID");
    let mut found: Vec<(u32, u32)> = fetches(&untagged)
        .into_iter()
        .map(|(sequence, response)| (sequence, item(response, "UID").parse().unwrap()))
        .collect();
    found.sort_unstable();
    found.into_iter().map(|(_, uid)| uid).collect()
}

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
        untagged.retain(|(text, _)| text.contains(" FETCH ("));
        assert_eq!(untagged.len(), 1, "{command}: {untagged:?}");
        let (text, mut literals) = untagged.pop().unwrap();
        assert_eq!(literals.len(), 1, "{text}");
        literals.pop().unwrap()
    }

    /// RFC822.SIZE of message `sequence`.
    fn size(&mut self, sequence: u32) -> u64 {
        let untagged = self.ok(&format!("FETCH {sequence} RFC822.SIZE"));
        let text = &untagged.iter().find(|(text, _)| text.contains(" FETCH (")).expect("FETCH").0;
        item(text, "RFC822.SIZE").parse().unwrap()
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
    let capability = client.ok("CAPABILITY").remove(0);
    assert!(capability.contains(" LITERAL+"), "{capability}");
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
    let defined = selected.iter().find(|line| line.starts_with("* FLAGS ")).unwrap();
    assert!(flag_set(&defined["* FLAGS ".len()..]).contains("$Label"), "{defined}");
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
    let capability = client.ok("CAPABILITY").remove(0);
    assert!(capability.contains(" MULTIAPPEND"), "{capability}");
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
    let defined = untagged.iter().find(|line| line.starts_with("* FLAGS ")).expect("FLAGS update");
    assert!(flag_set(&defined["* FLAGS ".len()..]).contains("$Fresh"), "{untagged:?}");
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

// ---------------------------------------------------------------------------
// FETCH
// ---------------------------------------------------------------------------

/// A message with a folded Subject and several fields, for section tests.
fn sections_message() -> Vec<u8> {
    b"From: Bob Example <bob@example.org>\r\nTo: Alice <alice@example.org>\r\nSubject: a subject\r\n that is folded\r\nDate: Wed, 17 Jul 1996 02:44:25 -0700\r\nX-Extra: one\r\n\r\nFirst line of the body.\r\nSecond line.\r\n".to_vec()
}

#[test]
fn fetch_flags_uid_internaldate_size() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let body = sections_message();
    let (_, tagged) = client.append("INBOX", r#"(\Flagged) "17-Jul-1996 02:44:25 -0700""#, &body);
    let uid = appenduid(&tagged).1;
    client.ok("SELECT INBOX");
    let untagged = client.ok("FETCH 1 (FLAGS UID INTERNALDATE RFC822.SIZE)");
    assert_eq!(fetches(&untagged).len(), 1);
    let response = fetch_of(&untagged, 1);
    let mut names = item_names(response);
    names.sort();
    assert_eq!(names, ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "UID"]);
    assert_eq!(flag_set(&item(response, "FLAGS")), flags(&[r"\Flagged", r"\Recent"]));
    assert_eq!(item(response, "UID"), uid.to_string());
    assert_eq!(item(response, "INTERNALDATE"), "17-Jul-1996 02:44:25 -0700");
    assert_eq!(item(response, "RFC822.SIZE"), body.len().to_string());
    // Single items need no parentheses; names are case-insensitive.
    let untagged = client.ok("fetch 1 rfc822.size");
    assert_eq!(fetch_of(&untagged, 1), &format!("* 1 FETCH (RFC822.SIZE {})", body.len()));
    // An APPEND without a date gets the time of the append: a well-formed date-time.
    client.append_ok("INBOX", &message("now", "x"));
    let untagged = client.ok("FETCH 2 INTERNALDATE");
    let date = item(fetch_of(&untagged, 2), "INTERNALDATE");
    let bytes = date.as_bytes();
    assert_eq!(bytes.len(), 26, "{date}");
    assert!(bytes[2] == b'-' && bytes[6] == b'-' && bytes[11] == b' ' && bytes[20] == b' ', "{date}");
    assert!(bytes[21] == b'+' || bytes[21] == b'-', "{date}");
}

#[test]
fn fetch_whole_message_and_its_parts() {
    let server = Server::start();
    let body = sections_message();
    let text = String::from_utf8(body.clone()).unwrap();
    let split = text.find("\r\n\r\n").unwrap() + 4;
    let (header, text_part) = (&text[..split], &text[split..]);
    let (mut client, _) = settled(&server, std::slice::from_ref(&body));
    for (request, name, expected) in [
        ("BODY.PEEK[]", "BODY[]", text.as_str()),
        ("BODY.PEEK[HEADER]", "BODY[HEADER]", header),
        ("BODY.PEEK[TEXT]", "BODY[TEXT]", text_part),
        ("RFC822.HEADER", "RFC822.HEADER", header),
        ("RFC822", "RFC822", text.as_str()),
        ("RFC822.TEXT", "RFC822.TEXT", text_part),
    ] {
        let untagged = client.ok(&format!("FETCH 1 ({request})"));
        let response = fetch_of(&untagged, 1);
        assert_eq!(item(response, name), expected, "{request}");
        assert!(item_names(response).iter().all(|found| !found.contains("PEEK")), "{response}");
    }
    // Several sections in one FETCH.
    let untagged = client.ok("FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT] RFC822.SIZE)");
    let response = fetch_of(&untagged, 1);
    assert_eq!(item(response, "BODY[HEADER]"), header);
    assert_eq!(item(response, "BODY[TEXT]"), text_part);
    assert_eq!(item(response, "RFC822.SIZE"), body.len().to_string());
}

#[test]
fn fetch_header_fields() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &[sections_message()]);
    let untagged = client.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (From Subject)]");
    let response = fetch_of(&untagged, 1);
    // RFC 3501 §6.4.5: the fields as sent (folding kept) and the blank line.
    assert_eq!(
        item(response, "BODY[HEADER.FIELDS (From Subject)]"),
        "From: Bob Example <bob@example.org>\r\nSubject: a subject\r\n that is folded\r\n\r\n"
    );
    // Field names match case-insensitively, in the message's order.
    let untagged = client.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (x-extra TO)]");
    assert_eq!(
        item(fetch_of(&untagged, 1), "BODY[HEADER.FIELDS (x-extra TO)]"),
        "To: Alice <alice@example.org>\r\nX-Extra: one\r\n\r\n"
    );
    let untagged = client.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (From Subject Date)]");
    assert_eq!(
        item(fetch_of(&untagged, 1), "BODY[HEADER.FIELDS.NOT (From Subject Date)]"),
        "To: Alice <alice@example.org>\r\nX-Extra: one\r\n\r\n"
    );
    // No such field: just the blank line.
    let untagged = client.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (X-Missing)]");
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[HEADER.FIELDS (X-Missing)]"), "\r\n");
    // Quoted field names are allowed (astring).
    let untagged = client.ok(r#"FETCH 1 BODY.PEEK[HEADER.FIELDS ("Date")]"#);
    let response = fetch_of(&untagged, 1);
    let (_, value) = fetch_items(response).pop().unwrap();
    assert_eq!(value, "Date: Wed, 17 Jul 1996 02:44:25 -0700\r\n\r\n");
    // Partial of a header field selection.
    let untagged = client.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (To)]<4.5>");
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[HEADER.FIELDS (To)]<4>"), "Alice");
    client.bad("FETCH 1 BODY.PEEK[HEADER.FIELDS ()]");
    client.bad("FETCH 1 BODY.PEEK[HEADER.FIELDS (Bad:Name)]");
}

#[test]
fn fetch_partial() {
    let server = Server::start();
    let body = sections_message();
    let text = String::from_utf8(body.clone()).unwrap();
    let (mut client, _) = settled(&server, std::slice::from_ref(&body));
    let untagged = client.ok("FETCH 1 BODY.PEEK[]<0.10>");
    let response = fetch_of(&untagged, 1);
    // RFC 3501 §7.4.2: the answer names the origin only.
    assert_eq!(item_names(response), ["BODY[]<0>"]);
    assert_eq!(item(response, "BODY[]<0>"), &text[..10]);
    let untagged = client.ok("FETCH 1 BODY.PEEK[]<5.7>");
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[]<5>"), &text[5..12]);
    let split = text.find("\r\n\r\n").unwrap() + 4;
    let untagged = client.ok("FETCH 1 BODY.PEEK[TEXT]<6.4>");
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[TEXT]<6>"), &text[split + 6..split + 10]);
    // Count past the end: what there is.
    let untagged = client.ok(&format!("FETCH 1 BODY.PEEK[]<{}.1000>", body.len() - 3));
    assert_eq!(item(fetch_of(&untagged, 1), &format!("BODY[]<{}>", body.len() - 3)), &text[body.len() - 3..]);
    // Origin past the end: an empty string.
    let untagged = client.ok("FETCH 1 BODY.PEEK[]<100000.10>");
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[]<100000>"), "");
    let untagged = client.ok(&format!("FETCH 1 BODY.PEEK[HEADER]<{split}.10>"));
    assert_eq!(item(fetch_of(&untagged, 1), &format!("BODY[HEADER]<{split}>")), "");
    client.bad("FETCH 1 BODY.PEEK[]<0.0>");
    client.bad("FETCH 1 BODY.PEEK[]<10>");
}

#[test]
fn fetch_fast_macro() {
    let server = Server::start();
    let body = message("fast", "macro");
    let (mut client, _) = settled(&server, std::slice::from_ref(&body));
    let untagged = client.ok("FETCH 1 FAST");
    let response = fetch_of(&untagged, 1);
    let mut names = item_names(response);
    names.sort();
    assert_eq!(names, ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]);
    assert_eq!(item(response, "FLAGS"), "()");
    assert_eq!(item(response, "RFC822.SIZE"), body.len().to_string());
}

#[test]
fn fetching_a_body_sets_seen_and_reports_it() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(7));
    // BODY.PEEK, RFC822.HEADER, RFC822.SIZE: no \Seen.
    for (sequence, request) in
        [(1, "BODY.PEEK[]"), (2, "BODY.PEEK[TEXT]"), (3, "RFC822.HEADER"), (4, "BODY.PEEK[HEADER.FIELDS (Subject)]")]
    {
        let untagged = client.ok(&format!("FETCH {sequence} {request}"));
        let response = fetch_of(&untagged, sequence);
        assert!(try_item(response, "FLAGS").is_none(), "{request}: {response}");
        assert_eq!(flags_of(&mut client, sequence), flags(&[]), "{request} must not set \\Seen");
    }
    // BODY[...] without PEEK, RFC822 and RFC822.TEXT set \Seen, and the
    // answer carries the new FLAGS (RFC 3501 §6.4.5, §7.4.2).
    for (sequence, request) in
        [(1, "BODY[]"), (2, "BODY[TEXT]"), (3, "RFC822"), (4, "RFC822.TEXT"), (5, "BODY[HEADER]")]
    {
        let untagged = client.ok(&format!("FETCH {sequence} {request}"));
        let response = fetch_of(&untagged, sequence);
        assert_eq!(flag_set(&item(response, "FLAGS")), flags(&[r"\Seen"]), "{request}: {response}");
        assert_eq!(flags_of(&mut client, sequence), flags(&[r"\Seen"]), "{request} sets \\Seen");
    }
    // With FLAGS requested too, they are reported once, already with \Seen.
    let untagged = client.ok("FETCH 6 (FLAGS BODY[TEXT])");
    let response = fetch_of(&untagged, 6);
    assert_eq!(item_names(response).iter().filter(|name| *name == "FLAGS").count(), 1, "{response}");
    assert_eq!(flag_set(&item(response, "FLAGS")), flags(&[r"\Seen"]));
    // An already-seen message stays seen; other flags are kept.
    client.ok(r"STORE 7 +FLAGS.SILENT (\Flagged)");
    let untagged = client.ok("FETCH 7 BODY[]");
    assert_eq!(flag_set(&item(fetch_of(&untagged, 7), "FLAGS")), flags(&[r"\Seen", r"\Flagged"]));
    assert_eq!(search(&mut client, "UNSEEN"), Vec::<u32>::new());
}

#[test]
fn fetch_in_an_examined_mailbox_changes_nothing() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    for body in numbered(2) {
        client.append_ok("INBOX", &body);
    }
    let untagged = client.ok("EXAMINE INBOX");
    assert!(untagged.iter().any(|line| line.starts_with("* OK [PERMANENTFLAGS ()]")), "{untagged:?}");
    for request in ["BODY[]", "RFC822", "RFC822.TEXT", "BODY[TEXT]"] {
        let untagged = client.ok(&format!("FETCH 1 {request}"));
        let response = fetch_of(&untagged, 1);
        if let Some(found) = try_item(response, "FLAGS") {
            assert!(!flag_set(&found).contains(r"\Seen"), "{response}");
        }
    }
    assert_eq!(flag_set(&item(fetch_of(&client.ok("FETCH 1 FLAGS"), 1), "FLAGS")), flags(&[r"\Recent"]));
    let refused = client.no(r"STORE 1 +FLAGS (\Seen)");
    assert!(refused.starts_with("NO [READ-ONLY]"), "{refused}");
    assert!(client.no("EXPUNGE").starts_with("NO [READ-ONLY]"));
    client.ok("CREATE Target");
    assert!(client.no("MOVE 1 Target").starts_with("NO [READ-ONLY]"));
    // COPY only reads the source: allowed.
    client.ok("COPY 1 Target");
    // Nothing was marked \Seen and \Recent was not taken by EXAMINE.
    let untagged = client.ok("SELECT INBOX");
    assert!(untagged.contains(&"* 2 RECENT".to_string()), "{untagged:?}");
    assert!(untagged.iter().any(|line| line.starts_with("* OK [UNSEEN 1]")), "{untagged:?}");
    assert_eq!(status(&mut client, "INBOX", "UNSEEN"), 2);
}

#[test]
fn fetch_sequence_sets() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(4));
    let numbers = |untagged: &[Response]| {
        let mut found: Vec<u32> = fetches(untagged).into_iter().map(|(number, _)| number).collect();
        found.sort_unstable();
        found
    };
    assert_eq!(numbers(&client.ok("FETCH 1:* FLAGS")), [1, 2, 3, 4]);
    assert_eq!(numbers(&client.ok("FETCH * FLAGS")), [4]);
    assert_eq!(numbers(&client.ok("FETCH 2:1 FLAGS")), [1, 2]);
    assert_eq!(numbers(&client.ok("FETCH *:3 FLAGS")), [3, 4]);
    assert_eq!(numbers(&client.ok("FETCH 4,1,2:3 FLAGS")), [1, 2, 3, 4]);
    assert_eq!(numbers(&client.ok("FETCH 1,1,1 FLAGS")), [1], "a message is answered once");
    assert_eq!(numbers(&client.ok("FETCH 3 FLAGS")), [3]);
    // Sequence numbers beyond EXISTS are an error (RFC 3501 §9 seq-number).
    client.bad("FETCH 5 FLAGS");
    client.bad("FETCH 1:5 FLAGS");
    client.bad("FETCH 0 FLAGS");
    client.bad("FETCH 1 (FLAGS");
    client.bad("FETCH 1 NOSUCHITEM");
    client.bad("FETCH 1");
    client.ok("NOOP");
}

#[test]
fn uid_fetch_includes_uid_and_ignores_missing_uids() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(3));
    // Expunge the middle one so sequence numbers and UIDs differ.
    client.ok(r"STORE 2 +FLAGS.SILENT (\Deleted)");
    client.ok("EXPUNGE");
    let untagged = client.ok(&format!("UID FETCH {} FLAGS", uids[2]));
    let response = fetch_of(&untagged, 2);
    assert_eq!(item(response, "UID"), uids[2].to_string(), "RFC 3501 §6.4.8: UID always included");
    assert_eq!(item(response, "FLAGS"), "()");
    let untagged = client.ok("UID FETCH 1:* (UID RFC822.SIZE)");
    assert_eq!(fetches(&untagged).len(), 2);
    for (sequence, uid) in [(1, uids[0]), (2, uids[2])] {
        let response = fetch_of(&untagged, sequence);
        assert_eq!(item_names(response).iter().filter(|name| *name == "UID").count(), 1, "{response}");
        assert_eq!(item(response, "UID"), uid.to_string());
    }
    // UIDs that do not exist: no data, OK.
    let untagged = client.ok(&format!("UID FETCH {} FLAGS", uids[1]));
    assert!(fetches(&untagged).is_empty(), "{untagged:?}");
    let untagged = client.ok("UID FETCH 1000:2000 FLAGS");
    assert!(fetches(&untagged).is_empty(), "{untagged:?}");
    // `n:*` with n above every UID still names the highest one (RFC 3501 §6.4.8).
    let untagged = client.ok("UID FETCH 1000:* FLAGS");
    assert_eq!(item(fetch_of(&untagged, 2), "UID"), uids[2].to_string());
}

#[test]
fn fetch_in_an_empty_mailbox() {
    let server = Server::start();
    let mut client = server.alice_inbox();
    let untagged = client.ok("FETCH 1:* FLAGS");
    assert!(fetches(&untagged).is_empty(), "{untagged:?}");
    let untagged = client.ok("UID FETCH 1:* FLAGS");
    assert!(fetches(&untagged).is_empty(), "{untagged:?}");
    client.ok("UID FETCH 1 FLAGS");
    client.bad("FETCH 1 FLAGS");
    assert_eq!(search(&mut client, "ALL"), Vec::<u32>::new());
    let untagged = client.ok("SEARCH ALL");
    assert!(untagged.contains(&"* SEARCH".to_string()), "an empty SEARCH response: {untagged:?}");
    client.ok(r"STORE 1:* +FLAGS (\Seen)");
    client.ok("EXPUNGE");
}

// ---------------------------------------------------------------------------
// STORE
// ---------------------------------------------------------------------------

#[test]
fn store_replace_add_remove() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(3));
    let untagged = client.ok(r"STORE 1 FLAGS (\Seen \Flagged)");
    assert_eq!(untagged.len(), 1, "{untagged:?}");
    assert_eq!(flag_set(&item(fetch_of(&untagged, 1), "FLAGS")), flags(&[r"\Seen", r"\Flagged"]));
    let untagged = client.ok(r"STORE 1 +FLAGS (\Answered)");
    assert_eq!(flag_set(&item(fetch_of(&untagged, 1), "FLAGS")), flags(&[r"\Seen", r"\Flagged", r"\Answered"]));
    let untagged = client.ok(r"STORE 1 -FLAGS (\Seen \Draft)");
    assert_eq!(flag_set(&item(fetch_of(&untagged, 1), "FLAGS")), flags(&[r"\Flagged", r"\Answered"]));
    let untagged = client.ok(r"STORE 1 FLAGS (\Draft)");
    assert_eq!(flag_set(&item(fetch_of(&untagged, 1), "FLAGS")), flags(&[r"\Draft"]));
    let untagged = client.ok("STORE 1 FLAGS ()");
    assert_eq!(item(fetch_of(&untagged, 1), "FLAGS"), "()");
    // Ranges, and the flag list without parentheses.
    let untagged = client.ok(r"STORE 2:* +FLAGS \Deleted \Seen");
    assert_eq!(fetches(&untagged).len(), 2);
    for sequence in [2, 3] {
        assert_eq!(flag_set(&item(fetch_of(&untagged, sequence), "FLAGS")), flags(&[r"\Deleted", r"\Seen"]));
    }
    assert_eq!(flags_of(&mut client, 1), flags(&[]));
    assert_eq!(status(&mut client, "INBOX", "DELETED"), 2);
}

#[test]
fn store_silent_sends_no_fetch() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(2));
    for (command, expected) in [
        (r"STORE 1:2 FLAGS.SILENT (\Seen \Flagged)", &[r"\Seen", r"\Flagged"][..]),
        (r"STORE 1:2 +FLAGS.SILENT (\Answered)", &[r"\Seen", r"\Flagged", r"\Answered"][..]),
        (r"STORE 1:2 -FLAGS.SILENT (\Flagged)", &[r"\Seen", r"\Answered"][..]),
        (r"UID STORE 1:* +FLAGS.SILENT ($Silent)", &[r"\Seen", r"\Answered", "$Silent"][..]),
    ] {
        let untagged = client.ok(command);
        assert!(fetches(&untagged).is_empty(), "{command}: {untagged:?}");
        assert_eq!(flags_of(&mut client, 1), flags(expected), "{command}");
        assert_eq!(flags_of(&mut client, 2), flags(expected), "{command}");
    }
}

#[test]
fn store_of_a_new_keyword_announces_it() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(2));
    let untagged = client.ok("STORE 1 +FLAGS ($Label)");
    let system = r"\Answered \Flagged \Deleted \Seen \Draft";
    let flags_line = untagged.iter().position(|line| line.starts_with("* FLAGS ")).expect("* FLAGS");
    assert_eq!(flag_set(&untagged[flags_line]["* FLAGS ".len()..]), flag_set(&format!("({system} $Label)")));
    let permanent = untagged.iter().find(|line| line.starts_with("* OK [PERMANENTFLAGS ")).expect("PERMANENTFLAGS");
    let list = &permanent["* OK [PERMANENTFLAGS ".len()..permanent.find(']').unwrap()];
    assert_eq!(flag_set(list), flag_set(&format!(r"({system} $Label \*)")));
    let fetch = untagged.iter().position(|line| line.starts_with("* 1 FETCH")).expect("FETCH");
    assert!(flags_line < fetch, "the new keyword is defined before it is used: {untagged:?}");
    assert_eq!(flag_set(&item(&untagged[fetch], "FLAGS")), flags(&["$Label"]));
    // Already defined: no second announcement.
    let untagged = client.ok("STORE 2 +FLAGS ($Label)");
    assert!(!untagged.iter().any(|line| line.starts_with("* FLAGS")), "{untagged:?}");
    // Removing it from every message keeps it defined.
    client.ok("STORE 1:2 -FLAGS ($Label)");
    assert_eq!(flags_of(&mut client, 1), flags(&[]));
    let selected = client.ok("SELECT INBOX");
    let defined = selected.iter().find(|line| line.starts_with("* FLAGS ")).unwrap();
    assert!(flag_set(&defined["* FLAGS ".len()..]).contains("$Label"), "{defined}");
    // FLAGS replaces keywords as well as system flags.
    client.ok(r"STORE 2 FLAGS (\Seen $Other)");
    assert_eq!(flags_of(&mut client, 2), flags(&[r"\Seen", "$Other"]));
}

#[test]
fn recent_cannot_be_stored() {
    let server = Server::start();
    let mut first = server.login("alice", "secret");
    for body in numbered(2) {
        first.append_ok("INBOX", &body);
    }
    first.ok("SELECT INBOX");
    assert!(flags_of(&mut first, 1).contains(r"\Recent"));
    // RFC 3501 §2.3.2: \Recent cannot be altered by the client. Whether the
    // attempt is refused (Dovecot: BAD) or ignored, the flag does not change.
    for command in [r"STORE 1 -FLAGS (\Recent)", r"STORE 1 FLAGS (\Seen)", r"STORE 1 FLAGS ()"] {
        let (_, tagged) = first.command(command);
        assert!(tagged.starts_with("OK") || tagged.starts_with("BAD"), "{command}: {tagged}");
        assert!(flags_of(&mut first, 1).contains(r"\Recent"), "{command} must not clear \\Recent");
    }
    // Another session, to which the messages are not recent, cannot set it.
    let mut second = server.login("alice", "secret");
    second.ok("SELECT INBOX");
    assert!(!flags_of(&mut second, 2).contains(r"\Recent"));
    let (_, tagged) = second.command(r"STORE 2 +FLAGS (\Recent)");
    assert!(tagged.starts_with("OK") || tagged.starts_with("BAD"), "{tagged}");
    assert!(!flags_of(&mut second, 2).contains(r"\Recent"), "\\Recent must not be set by STORE");
    assert_eq!(search(&mut second, "RECENT"), Vec::<u32>::new());
}

#[test]

fn recent_is_not_handed_out_twice() {
    // RFC 3501 §2.3.2: "if the session is replaced, subsequent sessions will
    // not see \Recent set for this message". roost persists the new
    // first-recent UID with a fire-and-forget store operation; when the only
    // watcher leaves at once, the next SELECT reloads the stale value.
    let server = Server::start();
    let mut appender = server.login("alice", "secret");
    let mut reader = server.login("alice", "secret");
    for round in 0..20 {
        appender.append_ok("INBOX", &message(&format!("r{round}"), "x"));
        // Re-SELECT in one session (pipelined) ...
        reader.send_raw(b"s1 SELECT INBOX\r\ns2 SELECT INBOX\r\n");
        let (first, _) = reader.until_tagged("s1");
        assert!(first.contains(&"* 1 RECENT".to_string()), "round {round}: {first:?}");
        let (second, _) = reader.until_tagged("s2");
        assert!(second.contains(&"* 0 RECENT".to_string()), "round {round}, same session: {second:?}");
        reader.ok("UNSELECT");
        // ... and another session, once the one that saw the message has left.
        appender.append_ok("INBOX", &message(&format!("q{round}"), "x"));
        let mut next = server.login("alice", "secret");
        let mut session = server.login("alice", "secret");
        session.send_raw(b"s1 SELECT INBOX\r\ns2 LOGOUT\r\n");
        let (first, _) = session.until_tagged("s1");
        assert!(first.contains(&"* 1 RECENT".to_string()), "round {round}: {first:?}");
        session.until_tagged("s2");
        let untagged = next.ok("EXAMINE INBOX");
        assert!(untagged.contains(&"* 0 RECENT".to_string()), "round {round}, next session: {untagged:?}");
    }
}

#[test]
fn uid_store_answers_carry_the_uid() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(3));
    client.ok(r"STORE 1 +FLAGS.SILENT (\Deleted)");
    client.ok("EXPUNGE");
    let untagged = client.ok(&format!(r"UID STORE {},{} +FLAGS (\Flagged)", uids[1], uids[2]));
    assert_eq!(fetches(&untagged).len(), 2);
    for (sequence, uid) in [(1, uids[1]), (2, uids[2])] {
        let response = fetch_of(&untagged, sequence);
        assert_eq!(item(response, "UID"), uid.to_string(), "{response}");
        assert_eq!(flag_set(&item(response, "FLAGS")), flags(&[r"\Flagged"]));
    }
    // Missing UIDs are ignored.
    let untagged = client.ok(&format!(r"UID STORE {},9999 FLAGS (\Seen)", uids[0]));
    assert!(fetches(&untagged).is_empty(), "{untagged:?}");
    assert_eq!(flags_of(&mut client, 1), flags(&[r"\Flagged"]));
}

#[test]
fn store_system_flags_are_case_insensitive() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(2));
    let untagged = client.ok(r"store 1 +flags (\sEEN \FLAGGED \answered \DrAfT \deleted)");
    assert_eq!(
        flag_set(&item(fetch_of(&untagged, 1), "FLAGS")),
        flags(&[r"\Seen", r"\Flagged", r"\Answered", r"\Draft", r"\Deleted"]),
        "reported under their canonical names"
    );
    client.ok(r"STORE 1 -FLAGS (\SEEN \deleted)");
    assert_eq!(flags_of(&mut client, 1), flags(&[r"\Flagged", r"\Answered", r"\Draft"]));
    assert_eq!(search(&mut client, "flagged unseen"), [1]);
    // Errors.
    client.bad(r"STORE 1 +FLAGS (\Bogus)");
    client.bad(r"STORE 1 +FLAGS (\*)");
    client.bad(r"STORE 3 +FLAGS (\Seen)");
    client.bad(r"STORE 1 +FLAGZ (\Seen)");
    client.bad(r"STORE 1 +FLAGS (\Seen");
    assert_eq!(flags_of(&mut client, 2), flags(&[]));
}

// ---------------------------------------------------------------------------
// EXPUNGE
// ---------------------------------------------------------------------------

#[test]
fn expunge_reports_each_message_with_shifting_sequence_numbers() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(7));
    // Nothing deleted: nothing to report.
    let untagged = client.ok("EXPUNGE");
    assert!(untagged.is_empty(), "{untagged:?}");
    client.ok(r"STORE 2,3,5,7 +FLAGS.SILENT (\Deleted)");
    let untagged = client.ok("EXPUNGE");
    // RFC 3501 §7.4.1: each EXPUNGE renumbers the later messages at once.
    assert_eq!(untagged, ["* 2 EXPUNGE", "* 2 EXPUNGE", "* 3 EXPUNGE", "* 4 EXPUNGE"]);
    assert_eq!(all_uids(&mut client), [uids[0], uids[3], uids[5]]);
    let selected = client.ok("SELECT INBOX");
    assert!(selected.contains(&"* 3 EXISTS".to_string()), "{selected:?}");
    client.bad("FETCH 4 FLAGS");
}

#[test]
fn uid_expunge_removes_only_given_deleted_messages() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(5));
    let capability = client.ok("CAPABILITY").remove(0);
    assert!(capability.contains(" UIDPLUS"), "{capability}");
    client.ok(r"STORE 1,2,3,5 +FLAGS.SILENT (\Deleted)");
    let untagged = client.ok(&format!("UID EXPUNGE {}:{}", uids[1], uids[3]));
    assert_eq!(untagged, ["* 2 EXPUNGE", "* 2 EXPUNGE"], "RFC 4315 §2.1");
    assert_eq!(all_uids(&mut client), [uids[0], uids[3], uids[4]]);
    // Non-existent UIDs: OK, nothing happens.
    let untagged = client.ok("UID EXPUNGE 100:200");
    assert!(untagged.is_empty(), "{untagged:?}");
    assert_eq!(search(&mut client, "DELETED"), [1, 3]);
    let untagged = client.ok("EXPUNGE");
    assert_eq!(untagged, ["* 1 EXPUNGE", "* 2 EXPUNGE"]);
    assert_eq!(all_uids(&mut client), [uids[3]]);
}

// ---------------------------------------------------------------------------
// COPY and MOVE
// ---------------------------------------------------------------------------

#[test]
fn copy_answers_copyuid_and_carries_flags() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(3));
    client.ok("CREATE Saved");
    let validity = status(&mut client, "Saved", "UIDVALIDITY");
    client.ok(r"STORE 1 FLAGS.SILENT (\Seen \Flagged $Project)");
    client.ok(r"STORE 3 FLAGS.SILENT (\Answered $Other)");
    let (untagged, tagged) = client.command("COPY 1:2 Saved");
    assert!(tagged.starts_with("OK [COPYUID "), "{tagged}");
    assert!(fetches(&untagged).is_empty() && !untagged.iter().any(|line| line.contains("EXPUNGE")), "{untagged:?}");
    assert_eq!(copyuid(&tagged), (validity, format!("{}:{}", uids[0], uids[1]), "1:2".to_string()));
    let (_, tagged) = client.command(&format!("UID COPY {},{} Saved", uids[2], uids[0]));
    assert_eq!(copyuid(&tagged), (validity, format!("{},{}", uids[0], uids[2]), "3:4".to_string()));
    // The source is unchanged.
    assert_eq!(all_uids(&mut client), uids);
    // The copies have the flags and keywords (\Recent is the target's own).
    client.ok("EXAMINE Saved");
    let untagged = client.ok("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])");
    let expected = [
        (1, &[r"\Seen", r"\Flagged", "$Project"][..], "m1"),
        (2, &[][..], "m2"),
        (3, &[r"\Seen", r"\Flagged", "$Project"][..], "m1"),
        (4, &[r"\Answered", "$Other"][..], "m3"),
    ];
    for (uid, expected_flags, subject) in expected {
        let response = fetch_of(&untagged, uid);
        let mut found = flag_set(&item(response, "FLAGS"));
        found.remove(r"\Recent");
        assert_eq!(found, flags(expected_flags), "{response}");
        assert_eq!(item(response, "UID"), uid.to_string());
        assert_eq!(item(response, "BODY[HEADER.FIELDS (Subject)]"), format!("Subject: {subject}\r\n\r\n"));
    }
    // The copies' header summaries came along: SEARCH reads them.
    assert_eq!(client.ok("SEARCH SUBJECT m1"), vec!["* SEARCH 1 3".to_string()]);
    // Errors.
    client.ok("SELECT INBOX");
    client.bad("COPY 4 Saved");
    client.bad("COPY 1");
    let (_, tagged) = client.command("UID COPY 500:600 Saved");
    assert!(tagged.starts_with("OK"), "nothing to copy is not an error: {tagged}");
    assert_eq!(status(&mut client, "Saved", "MESSAGES"), 4);
}

#[test]
fn copy_to_a_missing_mailbox_is_trycreate() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(2));
    let refused = client.no("COPY 1 Nowhere");
    assert!(refused.starts_with("NO [TRYCREATE]"), "{refused}");
    let refused = client.no("UID COPY 1:* Nowhere");
    assert!(refused.starts_with("NO [TRYCREATE]"), "{refused}");
    let refused = client.no("MOVE 1 Nowhere");
    assert!(refused.starts_with("NO [TRYCREATE]"), "{refused}");
    let refused = client.no("UID MOVE 1 Nowhere");
    assert!(refused.starts_with("NO [TRYCREATE]"), "{refused}");
    assert_eq!(all_uids(&mut client).len(), 2);
}

#[test]
fn copy_into_the_selected_mailbox_reports_exists() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(2));
    let validity = status(&mut client, "INBOX", "UIDVALIDITY");
    let (untagged, tagged) = client.command("COPY 1:2 INBOX");
    assert!(tagged.starts_with("OK [COPYUID"), "{tagged}");
    let next = uids[1] + 1;
    assert_eq!(copyuid(&tagged), (validity, format!("{}:{}", uids[0], uids[1]), format!("{next}:{}", next + 1)));
    assert!(untagged.contains(&"* 4 EXISTS".to_string()), "{untagged:?}");
    assert!(untagged.contains(&"* 2 RECENT".to_string()), "{untagged:?}");
    assert_eq!(all_uids(&mut client), [uids[0], uids[1], next, next + 1]);
    let untagged = client.ok("FETCH 3 BODY.PEEK[TEXT]");
    assert_eq!(item(fetch_of(&untagged, 3), "BODY[TEXT]"), "body 1\r\n");
}

#[test]
fn move_sends_copyuid_before_the_expunges() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(5));
    let capability = client.ok("CAPABILITY").remove(0);
    assert!(capability.contains(" MOVE"), "{capability}");
    client.ok("CREATE Saved");
    let validity = status(&mut client, "Saved", "UIDVALIDITY");
    client.ok(r"STORE 2 FLAGS.SILENT (\Flagged $Keep)");
    client.ok(r"STORE 4 FLAGS.SILENT (\Seen)");
    let (untagged, tagged) = client.command("MOVE 2,4 Saved");
    assert!(tagged.starts_with("OK"), "{tagged}");
    // RFC 6851 §4.3: the COPYUID goes in an untagged OK, before the EXPUNGEs.
    assert_eq!(untagged.len(), 3, "{untagged:?}");
    assert!(untagged[0].starts_with("* OK [COPYUID "), "{untagged:?}");
    assert_eq!(copyuid(&untagged[0]), (validity, format!("{},{}", uids[1], uids[3]), "1:2".to_string()));
    assert_eq!(untagged[1..], ["* 2 EXPUNGE", "* 3 EXPUNGE"]);
    assert!(!tagged.contains("COPYUID"), "{tagged}");
    assert_eq!(all_uids(&mut client), [uids[0], uids[2], uids[4]]);
    client.ok("EXAMINE Saved");
    let untagged = client.ok("FETCH 1:* (FLAGS BODY.PEEK[TEXT])");
    let mut first = flag_set(&item(fetch_of(&untagged, 1), "FLAGS"));
    first.remove(r"\Recent");
    assert_eq!(first, flags(&[r"\Flagged", "$Keep"]));
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[TEXT]"), "body 2\r\n");
    let mut second = flag_set(&item(fetch_of(&untagged, 2), "FLAGS"));
    second.remove(r"\Recent");
    assert_eq!(second, flags(&[r"\Seen"]));
    assert_eq!(item(fetch_of(&untagged, 2), "BODY[TEXT]"), "body 4\r\n");
}

#[test]
fn uid_move() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(4));
    client.ok("CREATE Saved");
    let validity = status(&mut client, "Saved", "UIDVALIDITY");
    let (untagged, tagged) = client.command(&format!("UID MOVE {},{}:{} Saved", uids[3], uids[0], uids[1]));
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert!(untagged[0].starts_with("* OK [COPYUID "), "{untagged:?}");
    // The sets pair up in ascending order (RFC 4315 §3), whatever the request's order.
    let source = format!("{}:{},{}", uids[0], uids[1], uids[3]);
    assert_eq!(copyuid(&untagged[0]), (validity, source, "1:3".to_string()));
    assert_eq!(untagged[1..], ["* 1 EXPUNGE", "* 1 EXPUNGE", "* 2 EXPUNGE"]);
    assert_eq!(all_uids(&mut client), [uids[2]]);
    assert_eq!(status(&mut client, "Saved", "MESSAGES"), 3);
    // Nothing to move: OK, no COPYUID, nothing expunged.
    let (untagged, tagged) = client.command("UID MOVE 900:901 Saved");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert!(untagged.is_empty(), "{untagged:?}");
}

// ---------------------------------------------------------------------------
// SEARCH
// ---------------------------------------------------------------------------

#[test]
fn search_all_sequence_and_uid_sets() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(6));
    client.ok(r"STORE 2 +FLAGS.SILENT (\Deleted)");
    client.ok("EXPUNGE");
    // Now sequence numbers 1..5 are UIDs uids[0], uids[2..6].
    let live = [uids[0], uids[2], uids[3], uids[4], uids[5]];
    assert_eq!(search(&mut client, "ALL"), [1, 2, 3, 4, 5]);
    assert_eq!(uid_search(&mut client, "ALL"), live);
    assert_eq!(search(&mut client, "2:3"), [2, 3]);
    assert_eq!(search(&mut client, "*"), [5]);
    assert_eq!(search(&mut client, "4:*"), [4, 5]);
    assert_eq!(search(&mut client, "1,3,5"), [1, 3, 5]);
    assert_eq!(uid_search(&mut client, "2:3"), [uids[2], uids[3]], "UID SEARCH answers with UIDs");
    assert_eq!(search(&mut client, &format!("UID {}:{}", uids[1], uids[3])), [2, 3]);
    assert_eq!(uid_search(&mut client, &format!("UID {}", uids[1])), Vec::<u32>::new());
    assert_eq!(uid_search(&mut client, "UID 1000:*"), [uids[5]]);
    assert_eq!(search(&mut client, "uid 1:* 1:2"), [1, 2], "keys AND together");
    client.bad("SEARCH");
    client.bad("SEARCH NOSUCHKEY");
    // Sequence numbers past the end match nothing (as in Dovecot).
    assert_eq!(search(&mut client, "6"), Vec::<u32>::new());
    assert_eq!(search(&mut client, "4:10"), [4, 5]);
}

#[test]
fn search_flags() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(6));
    client.ok(r"STORE 1 FLAGS.SILENT (\Seen)");
    client.ok(r"STORE 2 FLAGS.SILENT (\Answered)");
    client.ok(r"STORE 3 FLAGS.SILENT (\Deleted)");
    client.ok(r"STORE 4 FLAGS.SILENT (\Flagged)");
    client.ok(r"STORE 5 FLAGS.SILENT (\Draft)");
    client.ok(r"STORE 6 FLAGS.SILENT (\Seen \Flagged)");
    for (key, expected) in [
        ("SEEN", &[1, 6][..]),
        ("UNSEEN", &[2, 3, 4, 5]),
        ("ANSWERED", &[2]),
        ("UNANSWERED", &[1, 3, 4, 5, 6]),
        ("DELETED", &[3]),
        ("UNDELETED", &[1, 2, 4, 5, 6]),
        ("FLAGGED", &[4, 6]),
        ("UNFLAGGED", &[1, 2, 3, 5]),
        ("DRAFT", &[5]),
        ("UNDRAFT", &[1, 2, 3, 4, 6]),
        ("seen flagged", &[6]),
        ("unseen unflagged undraft", &[2, 3]),
    ] {
        assert_eq!(search(&mut client, key), expected, "SEARCH {key}");
    }
}

#[test]
fn search_new_old_recent() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(2));
    // Two more arrive while the mailbox is selected: \Recent in this session.
    client.append_ok("INBOX", &message("m3", "three"));
    client.append_ok("INBOX", &message("m4", "four"));
    client.ok("NOOP");
    client.ok(r"STORE 1,3 +FLAGS.SILENT (\Seen)");
    assert_eq!(search(&mut client, "RECENT"), [3, 4]);
    assert_eq!(search(&mut client, "OLD"), [1, 2]);
    assert_eq!(search(&mut client, "NEW"), [4], "NEW is RECENT UNSEEN");
    assert_eq!(search(&mut client, "NOT NEW"), [1, 2, 3]);
    assert_eq!(search(&mut client, "OLD UNSEEN"), [2]);
    // Another session sees none of them as recent.
    let mut other = server.login("alice", "secret");
    other.ok("SELECT INBOX");
    assert_eq!(search(&mut other, "RECENT"), Vec::<u32>::new());
    assert_eq!(search(&mut other, "NEW"), Vec::<u32>::new());
    assert_eq!(search(&mut other, "OLD"), [1, 2, 3, 4]);
}

#[test]
fn search_keywords() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(3));
    client.ok("STORE 1 +FLAGS.SILENT ($Work)");
    client.ok("STORE 2 +FLAGS.SILENT ($Work $Home)");
    assert_eq!(search(&mut client, "KEYWORD $Work"), [1, 2]);
    assert_eq!(search(&mut client, "KEYWORD $Home"), [2]);
    assert_eq!(search(&mut client, "UNKEYWORD $Work"), [3]);
    assert_eq!(search(&mut client, "UNKEYWORD $Home"), [1, 3]);
    // A keyword the mailbox has never seen: no message has it.
    assert_eq!(search(&mut client, "KEYWORD $Never"), Vec::<u32>::new());
    assert_eq!(search(&mut client, "UNKEYWORD $Never"), [1, 2, 3]);
    assert_eq!(search(&mut client, "KEYWORD $Work UNKEYWORD $Home"), [1]);
}

#[test]
fn search_internal_dates() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    for date in ["01-Jan-2020 12:00:00 +0000", "15-Jun-2021 12:00:00 +0200", "31-Dec-2022 12:00:00 -0500"] {
        let (_, tagged) = client.append("INBOX", &format!("\"{date}\""), &message("dated", "x"));
        assert!(tagged.starts_with("OK"), "{tagged}");
    }
    // Late in the day at a western offset: the day is the one written (RFC
    // 3501 §6.4.4 "disregarding time and timezone").
    let (_, tagged) = client.append("INBOX", "\"10-Mar-2023 23:30:00 -0800\"", &message("late", "x"));
    assert!(tagged.starts_with("OK"), "{tagged}");
    client.ok("SELECT INBOX");
    for (key, expected) in [
        ("BEFORE 15-Jun-2021", &[1][..]),
        ("ON 15-Jun-2021", &[2]),
        ("SINCE 15-Jun-2021", &[2, 3, 4]),
        ("BEFORE 1-Jan-2020", &[]),
        ("SINCE 1-Jan-2020", &[1, 2, 3, 4]),
        ("ON 31-DEC-2022", &[3]),
        ("SINCE \"16-Jun-2021\"", &[3, 4]),
        ("SINCE 1-Jan-2021 BEFORE 1-Jan-2022", &[2]),
        ("ON 10-Mar-2023", &[4]),
        ("ON 11-Mar-2023", &[]),
    ] {
        assert_eq!(search(&mut client, key), expected, "SEARCH {key}");
    }
    client.bad("SEARCH BEFORE 32-Jan-2020");
    client.bad("SEARCH ON 2020-01-01");
}

#[test]
fn search_sent_dates() {
    let server = Server::start();
    let messages = [
        mail(&[("Subject", "a"), ("Date", "Mon, 3 Feb 2014 08:00:00 +0000")], "x\r\n"),
        mail(&[("Subject", "b"), ("Date", "Tue, 04 Mar 2014 12:00:00 +0100")], "x\r\n"),
        // In UTC this is already 5 Apr; the sender's date is 4 Apr.
        mail(&[("Subject", "c"), ("Date", "Fri, 4 Apr 2014 23:30:00 -0700")], "x\r\n"),
    ];
    let (mut client, _) = settled(&server, &messages);
    for (key, expected) in [
        ("SENTBEFORE 4-Mar-2014", &[1][..]),
        ("SENTON 4-Mar-2014", &[2]),
        ("SENTSINCE 4-Mar-2014", &[2, 3]),
        ("SENTON 4-Apr-2014", &[3]),
        ("SENTON 5-Apr-2014", &[]),
        ("SENTSINCE 1-Jan-2014", &[1, 2, 3]),
        ("SENTBEFORE 3-Feb-2014", &[]),
        // Internal dates are today's, not the Date header's.
        ("BEFORE 1-Jan-2015", &[]),
    ] {
        assert_eq!(search(&mut client, key), expected, "SEARCH {key}");
    }
}

#[test]
fn search_sizes() {
    let server = Server::start();
    let messages = [
        mail(&[("Subject", "s")], "x"),
        mail(&[("Subject", "m")], &"y".repeat(100)),
        mail(&[("Subject", "l")], &"z".repeat(5000)),
    ];
    let sizes: Vec<usize> = messages.iter().map(Vec::len).collect();
    let (mut client, _) = settled(&server, &messages);
    assert_eq!(search(&mut client, &format!("LARGER {}", sizes[1])), [3], "strictly larger");
    assert_eq!(search(&mut client, &format!("LARGER {}", sizes[1] - 1)), [2, 3]);
    assert_eq!(search(&mut client, &format!("SMALLER {}", sizes[1])), [1], "strictly smaller");
    assert_eq!(search(&mut client, &format!("SMALLER {}", sizes[1] + 1)), [1, 2]);
    assert_eq!(search(&mut client, "LARGER 0"), [1, 2, 3]);
    assert_eq!(search(&mut client, "SMALLER 1"), Vec::<u32>::new());
    assert_eq!(search(&mut client, &format!("LARGER {} SMALLER {}", sizes[0], sizes[2])), [2]);
    client.bad("SEARCH LARGER x");
}

/// Messages for the header, body and text searches.
fn header_messages() -> Vec<Vec<u8>> {
    vec![
        mail(
            &[
                ("From", "Bob Example <bob@example.org>"),
                ("To", "Alice <alice@example.org>"),
                ("Cc", "carol@example.net"),
                ("Subject", "Quarterly Report"),
            ],
            "The numbers are in.\r\n",
        ),
        mail(
            &[
                ("From", "dave@example.com"),
                ("To", "Eve <eve@example.com>"),
                ("Bcc", "frank@example.org"),
                ("Subject", "lunch?"),
                ("X-Priority", "1 (Highest)"),
            ],
            "Pizza at noon.\r\n",
        ),
        mail(
            &[
                ("From", "alice@example.org"),
                ("To", "bob@example.org"),
                ("Subject", "Meeting\r\n about the budget"),
                ("X-Priority", ""),
            ],
            "Bring the Budget spreadsheet.\r\n",
        ),
    ]
}

#[test]
fn search_header_keys() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &header_messages());
    for (key, expected) in [
        ("FROM bob", &[1][..]),
        ("FROM \"BOB EXAMPLE\"", &[1]),
        ("FROM example.com", &[2]),
        ("TO eve", &[2]),
        ("TO \"bob@\"", &[3]),
        ("CC CAROL", &[1]),
        ("CC eve", &[]),
        ("BCC Frank", &[2]),
        ("SUBJECT report", &[1]),
        ("SUBJECT \"quarterly report\"", &[1]),
        // A folded field is searched unfolded.
        ("SUBJECT \"Meeting about\"", &[3]),
        ("SUBJECT nothing", &[]),
        ("HEADER X-Priority highest", &[2]),
        ("HEADER x-priority \"\"", &[2, 3]),
        ("HEADER Cc \"\"", &[1]),
        ("HEADER X-Absent \"\"", &[]),
        ("HEADER Subject lunch", &[2]),
    ] {
        assert_eq!(search(&mut client, key), expected, "SEARCH {key}");
    }
    // A search string as a literal (LITERAL+).
    client.send_raw(b"L1 SEARCH FROM {3+}\r\nDAV\r\n");
    let (untagged, tagged) = client.until_tagged("L1");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), [2]);
    // And with a synchronizing literal.
    client.send("L2 SEARCH SUBJECT {6}");
    assert!(client.read_line().starts_with("+ "));
    client.send("BUDGET");
    let (untagged, tagged) = client.until_tagged("L2");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), [3]);
    client.bad("SEARCH HEADER \"Bad:Name\" x");
}

#[test]
fn search_body_and_text() {
    let server = Server::start();
    let mut messages = header_messages();
    // A needle across the 64 KiB boundary where a body is read in pieces.
    let header = "Subject: long\r\n\r\n";
    let mut long = header.to_string();
    long.push_str(&"a".repeat(65536 - 3));
    long.push_str("NEEDLE");
    long.push_str(&"b".repeat(100));
    messages.push(long.into_bytes());
    let (mut client, _) = settled(&server, &messages);
    for (key, expected) in [
        ("BODY budget", &[3][..]),
        ("BODY PIZZA", &[2]),
        ("BODY quarterly", &[]),
        ("BODY \"Subject\"", &[]),
        ("TEXT quarterly", &[1]),
        ("TEXT budget", &[3]),
        ("TEXT example.com", &[2]),
        ("TEXT \"numbers are\"", &[1]),
        ("BODY needle", &[4]),
        ("TEXT needle", &[4]),
        ("BODY \"\"", &[1, 2, 3, 4]),
        ("BODY absent", &[]),
    ] {
        assert_eq!(search(&mut client, key), expected, "SEARCH {key}");
    }
}

#[test]
fn search_or_not_and_parentheses() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(5));
    client.ok(r"STORE 1 FLAGS.SILENT (\Seen)");
    client.ok(r"STORE 2 FLAGS.SILENT (\Flagged)");
    client.ok(r"STORE 3 FLAGS.SILENT (\Seen \Flagged)");
    client.ok(r"STORE 4 FLAGS.SILENT (\Draft)");
    for (key, expected) in [
        ("OR SEEN FLAGGED", &[1, 2, 3][..]),
        ("NOT SEEN", &[2, 4, 5]),
        ("(SEEN FLAGGED)", &[3]),
        ("OR (SEEN FLAGGED) DRAFT", &[3, 4]),
        ("NOT (OR SEEN FLAGGED)", &[4, 5]),
        ("NOT NOT SEEN", &[1, 3]),
        ("OR OR SEEN DRAFT 5", &[1, 3, 4, 5]),
        ("NOT 1:3", &[4, 5]),
        ("((SEEN) (NOT FLAGGED))", &[1]),
        ("OR SUBJECT m2 SUBJECT m5", &[2, 5]),
        ("NOT SUBJECT m", &[]),
    ] {
        assert_eq!(search(&mut client, key), expected, "SEARCH {key}");
    }
    client.bad("SEARCH OR SEEN");
    client.bad("SEARCH (SEEN");
    client.bad("SEARCH NOT");
}

#[test]
fn search_charsets() {
    let server = Server::start();
    let messages =
        [mail(&[("Subject", "caf\u{e9} cr\u{e8}me")], "x\r\n"), mail(&[("Subject", "plain")], "na\u{ef}ve\r\n")];
    let (mut client, _) = settled(&server, &messages);
    assert_eq!(search(&mut client, "CHARSET UTF-8 ALL"), [1, 2]);
    assert_eq!(search(&mut client, "CHARSET US-ASCII SUBJECT plain"), [2]);
    assert_eq!(search(&mut client, "charset utf-8 SUBJECT caf"), [1]);
    let mut command = b"u1 SEARCH CHARSET UTF-8 SUBJECT {6+}\r\n".to_vec();
    command.extend_from_slice("cr\u{e8}me".as_bytes());
    command.extend_from_slice(b" BODY {6+}\r\n");
    command.extend_from_slice("na\u{ef}ve".as_bytes());
    command.extend_from_slice(b"\r\n");
    client.send_raw(&command);
    let (untagged, tagged) = client.until_tagged("u1");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), Vec::<u32>::new(), "the two keys AND");
    let mut command = b"u2 SEARCH CHARSET UTF-8 BODY {6+}\r\n".to_vec();
    command.extend_from_slice("na\u{ef}ve".as_bytes());
    command.extend_from_slice(b"\r\n");
    client.send_raw(&command);
    let (untagged, tagged) = client.until_tagged("u2");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), [2]);
    // RFC 3501 §6.4.4: an unsupported charset is NO [BADCHARSET].
    let refused = client.no("SEARCH CHARSET X-NO-SUCH-CHARSET ALL");
    assert!(refused.starts_with("NO [BADCHARSET"), "{refused}");
    let refused = client.no("UID SEARCH CHARSET KLINGON SUBJECT x");
    assert!(refused.starts_with("NO [BADCHARSET"), "{refused}");
    // Other charsets are known: the search string is decoded from them.
    assert_eq!(search(&mut client, "CHARSET ISO-8859-1 SUBJECT plain"), [2]);
    client.ok("NOOP");
}

#[test]

fn search_is_case_insensitive_beyond_ascii() {
    // RFC 3501 §6.4.4: "In all search keys that use strings, a message
    // matches the key if the string is a substring of the field. The
    // matching is case-insensitive." Dovecot folds with i;unicode-casemap.
    let server = Server::start();
    let messages = [mail(&[("Subject", "Cr\u{e8}me br\u{fb}l\u{e9}e")], "\u{c9}T\u{c9}\r\n")];
    let (mut client, _) = settled(&server, &messages);
    let mut command = b"u1 SEARCH CHARSET UTF-8 SUBJECT {6+}\r\n".to_vec();
    command.extend_from_slice("CR\u{c8}ME".as_bytes());
    command.extend_from_slice(b"\r\n");
    client.send_raw(&command);
    let (untagged, tagged) = client.until_tagged("u1");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), [1], "SUBJECT CR\u{c8}ME matches Cr\u{e8}me");
    let mut command = b"u2 SEARCH CHARSET UTF-8 BODY {5+}\r\n".to_vec();
    command.extend_from_slice("\u{e9}t\u{e9}".as_bytes());
    command.extend_from_slice(b"\r\n");
    client.send_raw(&command);
    let (untagged, tagged) = client.until_tagged("u2");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), [1], "BODY \u{e9}t\u{e9} matches \u{c9}T\u{c9}");
}

// ---------------------------------------------------------------------------
// UIDs over time; persistence
// ---------------------------------------------------------------------------

#[test]
fn uids_are_never_reused() {
    let mut server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(3));
    client.ok(r"STORE 3 +FLAGS.SILENT (\Deleted)");
    client.ok("EXPUNGE");
    let again = client.append_ok("INBOX", &message("again", "x"));
    assert!(again > uids[2], "UID {again} after expunging {}", uids[2]);
    // Expunge everything; still no reuse.
    client.ok(r"STORE 1:* +FLAGS.SILENT (\Deleted)");
    client.ok("EXPUNGE");
    let later = client.append_ok("INBOX", &message("later", "x"));
    assert!(later > again, "{later} > {again}");
    // Nor after a restart.
    server.restart();
    let mut client = server.login("alice", "secret");
    let selected = client.ok("SELECT INBOX");
    let uidnext = format!("* OK [UIDNEXT {}]", later + 1);
    assert!(selected.iter().any(|line| line.starts_with(&uidnext)), "{selected:?}");
    client.ok(r"STORE 1 +FLAGS.SILENT (\Deleted)");
    client.ok("EXPUNGE");
    let after_restart = client.append_ok("INBOX", &message("after", "x"));
    assert!(after_restart > later, "{after_restart} > {later}");
    // COPY into the mailbox continues the sequence too.
    client.ok("CREATE Other");
    let other = client.append_ok("Other", &message("other", "x"));
    client.ok("SELECT Other");
    let (_, tagged) = client.command("COPY 1 INBOX");
    let (_, _, destination) = copyuid(&tagged);
    assert_eq!(destination, (after_restart + 1).to_string());
    assert_eq!(other, 1);
}

#[test]
fn uidvalidity_and_data_survive_a_restart() {
    let mut server = Server::start();
    let mut client = server.login("alice", "secret");
    let first = message("kept", "survives a restart");
    let (_, tagged) = client.append("INBOX", r#"(\Seen $Label) "17-Jul-1996 02:44:25 -0700""#, &first);
    let (validity, uid) = appenduid(&tagged);
    client.append_ok("INBOX", &message("second", "also kept"));
    client.ok("CREATE Saved");
    let archive_validity = status(&mut client, "Saved", "UIDVALIDITY");
    client.ok("SELECT INBOX");
    client.ok(r"STORE 2 +FLAGS.SILENT (\Flagged \Answered)");
    client.ok("COPY 2 Saved");
    let before = client.ok("FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])");
    client.ok("LOGOUT");

    server.restart();
    let mut client = server.login("alice", "secret");
    let selected = client.ok("SELECT INBOX");
    assert_eq!(uidvalidity(&selected), validity);
    assert!(selected.contains(&"* 2 EXISTS".to_string()), "{selected:?}");
    let defined = selected.iter().find(|line| line.starts_with("* FLAGS ")).unwrap();
    assert!(flag_set(&defined["* FLAGS ".len()..]).contains("$Label"), "{defined}");
    let after = client.ok("FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])");
    let strip_recent = |responses: &[Response]| {
        fetches(responses)
            .into_iter()
            .map(|(sequence, response)| {
                let mut found = flag_set(&item(response, "FLAGS"));
                found.remove(r"\Recent");
                (
                    sequence,
                    item(response, "UID"),
                    found,
                    item(response, "INTERNALDATE"),
                    item(response, "RFC822.SIZE"),
                    item(response, "BODY[]"),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip_recent(&after), strip_recent(&before));
    assert_eq!(item(fetch_of(&after, 1), "UID"), uid.to_string());
    assert_eq!(item(fetch_of(&after, 1), "BODY[]").as_bytes(), &first[..]);
    assert_eq!(status(&mut client, "Saved", "UIDVALIDITY"), archive_validity);
    assert_eq!(status(&mut client, "Saved", "MESSAGES"), 1);
    client.ok("EXAMINE Saved");
    let untagged = client.ok("FETCH 1 FLAGS");
    let mut archived = flag_set(&item(fetch_of(&untagged, 1), "FLAGS"));
    archived.remove(r"\Recent");
    assert_eq!(archived, flags(&[r"\Flagged", r"\Answered"]));
    // A clean stop keeps it all as well.
    client.ok("LOGOUT");
    assert!(server.stop().success());
    server.spawn();
    let mut client = server.login("alice", "secret");
    let selected = client.ok("EXAMINE INBOX");
    assert_eq!(uidvalidity(&selected), validity);
    assert!(selected.contains(&"* 2 EXISTS".to_string()), "{selected:?}");
}

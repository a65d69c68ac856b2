//! Helpers of the full-text index tests (tests/search_index_*.rs): two
//! servers fed the same mail, one keeping the index and one scanning
//! (`search_index = false`), the answers of both compared; MIME message
//! builders; `roost reindex` and `roost check`.
#![allow(dead_code)]

use crate::common::*;

/// `[limits]` of the reference server: no index, every search scans.
pub const INDEX_OFF: &str = "search_index = false";

/// Two servers with the same users; a client of each, logged in as alice.
pub struct Twins {
    pub indexed: Server,
    pub scanned: Server,
    pub on: Client,
    pub off: Client,
    /// Messages appended so far (for their INTERNALDATEs).
    pub appended: usize,
}

impl Twins {
    /// alice and bob, and `extra` users, on both.
    pub fn start(extra: &[(&'static str, &'static str)]) -> Twins {
        let mut users = Options::default().users;
        users.extend_from_slice(extra);
        let indexed = Server::start_with(Options { users: users.clone(), ..Default::default() });
        let scanned = Server::start_with(Options { users, extra_limits: INDEX_OFF.into(), ..Default::default() });
        let on = indexed.login("alice", "secret");
        let off = scanned.login("alice", "secret");
        Twins { indexed, scanned, on, off, appended: 0 }
    }

    /// New sessions of `user` on both.
    pub fn login(&mut self, user: &str, password: &str) {
        self.on = self.indexed.login(user, password);
        self.off = self.scanned.login(user, password);
    }

    pub fn logout(&mut self) {
        self.on.ok("LOGOUT");
        self.off.ok("LOGOUT");
    }

    /// APPENDs `messages` to `mailbox` on both, in order.
    /// Each gets an INTERNALDATE of its own (three a minute, so some
    /// tie): the twins must agree on ARRIVAL.
    pub fn append_all(&mut self, mailbox: &str, messages: &[Vec<u8>]) {
        for message in messages {
            self.appended += 1;
            let minutes = self.appended / 3;
            let date = format!("\"07-Dec-2026 {:02}:{:02}:00 +0000\"", minutes / 60 % 24, minutes % 60);
            let mut uids = Vec::new();
            for client in [&mut self.on, &mut self.off] {
                let (untagged, tagged) = client.append(mailbox, &date, message);
                assert!(tagged.starts_with("OK"), "APPEND gave {tagged:?} after {untagged:?}");
                uids.push(appenduid(&tagged).1);
            }
            assert_eq!(uids[0], uids[1], "the twins gave different UIDs");
        }
    }

    pub fn select(&mut self, mailbox: &str) {
        self.run_both(&format!("SELECT \"{mailbox}\""));
    }

    /// Runs `command` on both; it must succeed on both.
    pub fn run_both(&mut self, command: &str) {
        self.on.ok(command);
        self.off.ok(command);
    }

    /// The answer of `command` (untagged responses and the tagged one) on
    /// both; Err with both when they differ.
    pub fn compare(&mut self, command: &str) -> Result<Vec<String>, String> {
        let answer = |client: &mut Client| {
            let (mut untagged, tagged) = client.command(command);
            untagged.push(tagged);
            untagged
        };
        let on = answer(&mut self.on);
        let off = answer(&mut self.off);
        if on == off {
            Ok(on)
        } else {
            Err(format!("{command:?}\n  index: {on:?}\n  scan:  {off:?}"))
        }
    }

    /// [`Twins::compare`] of each command; panics listing every difference.
    pub fn compare_all(&mut self, commands: &[String]) -> Vec<Vec<String>> {
        let mut answers = Vec::new();
        let mut differences = Vec::new();
        for command in commands {
            match self.compare(command) {
                Ok(answer) => answers.push(answer),
                Err(difference) => {
                    differences.push(difference);
                    answers.push(Vec::new());
                }
            }
        }
        assert!(
            differences.is_empty(),
            "{} of {} searches answered differently with the index:\n{}",
            differences.len(),
            commands.len(),
            differences.join("\n")
        );
        answers
    }
}

/// `roost reindex --config C --wait EXTRA...`, which must succeed and end
/// with the index complete; its output.
pub fn reindex(server: &Server, extra: &[&str]) -> String {
    let config = server.config_arg();
    let mut arguments = vec!["reindex", "--config", config.as_str(), "--wait"];
    arguments.extend_from_slice(extra);
    let (ok, out, err) = run_cli(&arguments, None);
    assert!(ok, "reindex failed: {out} {err}");
    assert!(out.contains("search index complete"), "{out}");
    out
}

/// `roost check`'s output (stdout and stderr) and whether it passed.
pub fn check_output(server: &Server) -> (bool, String) {
    let (ok, out, err) = run_cli(&["check", "--config", &server.config_arg()], None);
    (ok, format!("{out}{err}"))
}

/// `roost check`, which must pass and print its search index line.
pub fn check_clean(server: &Server) -> String {
    let (ok, out) = check_output(server);
    assert!(ok, "roost check failed:\n{out}");
    assert!(out.contains("search index: "), "{out}");
    out
}

/// `text` quoted as an IMAP quoted string.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A header (fields in order) and a body, CRLF line ends; the body as is.
pub fn raw(headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A one-part message: Content-Type and Content-Transfer-Encoding given,
/// the body already encoded.
pub fn part_message(subject: &str, content_type: &str, encoding: &str, body: &[u8]) -> Vec<u8> {
    raw(
        &[
            ("Subject", subject),
            ("MIME-Version", "1.0"),
            ("Content-Type", content_type),
            ("Content-Transfer-Encoding", encoding),
        ],
        body,
    )
}

/// A MIME entity (a part): its header fields and its body.
pub fn entity(headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    raw(headers, body)
}

/// A multipart/`subtype` entity of `parts`, boundary `b-LABEL`.
pub fn multipart_entity(subtype: &str, label: &str, parts: &[Vec<u8>]) -> Vec<u8> {
    let boundary = format!("b-{label}");
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(part);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    raw(&[("Content-Type", &format!("multipart/{subtype}; boundary=\"{boundary}\""))], &body)
}

/// A multipart message with a subject.
pub fn multipart(subject: &str, subtype: &str, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("Subject: {subject}\r\nMIME-Version: 1.0\r\n").into_bytes();
    out.extend(multipart_entity(subtype, "outer", parts));
    out
}

/// ISO-8859-1 bytes of `text` (every character must be in it).
pub fn latin1(text: &str) -> Vec<u8> {
    text.chars().map(|character| u8::try_from(u32::from(character)).expect("a Latin-1 character")).collect()
}

/// Whether every character of `text` is in ISO-8859-1.
pub fn is_latin1(text: &str) -> bool {
    text.chars().all(|character| u32::from(character) < 256)
}

/// Base64 text cut into lines of 76 with CRLF.
pub fn wrap76(text: &str) -> String {
    text.as_bytes().chunks(76).map(|line| std::str::from_utf8(line).unwrap()).collect::<Vec<_>>().join("\r\n")
}

/// Quoted-printable of `bytes`, with a soft line break after every
/// `width` encoded characters (`width` ≥ 4; an escape is never split).
pub fn quoted_printable(bytes: &[u8], width: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let next_is_break = bytes.get(index + 1).is_none_or(|&next| next == b'\r');
        let literal = match byte {
            b'\r' | b'\n' => {
                out.push(byte);
                line = 0;
                continue;
            }
            b'=' => false,
            b' ' | b'\t' => !next_is_break,
            33..=126 => true,
            _ => false,
        };
        let piece = if literal { vec![byte] } else { format!("={byte:02X}").into_bytes() };
        if line + piece.len() > width {
            out.extend_from_slice(b"=\r\n");
            line = 0;
        }
        line += piece.len();
        out.extend_from_slice(&piece);
    }
    out
}

/// RFC 2047 encoded word of `text` in `charset` ("UTF-8" or
/// "ISO-8859-1"), B or Q.
pub fn encoded_word(text: &str, charset: &str, b: bool) -> String {
    let bytes = if charset.eq_ignore_ascii_case("ISO-8859-1") { latin1(text) } else { text.as_bytes().to_vec() };
    if b {
        format!("=?{charset}?B?{}?=", base64(&bytes))
    } else {
        let mut encoded = String::new();
        for byte in bytes {
            match byte {
                b' ' => encoded.push('_'),
                b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' => encoded.push(byte as char),
                _ => encoded.push_str(&format!("={byte:02X}")),
            }
        }
        format!("=?{charset}?Q?{encoded}?=")
    }
}

/// Where `needle` first occurs in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

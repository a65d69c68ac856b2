//! APPEND of raw binary content with a literal8 (RFC 3516 §4.4), over a
//! real connection: a `Content-Transfer-Encoding: binary` part is stored
//! base64, so FETCH BODY[] never puts NUL in an ordinary literal (RFC 3501
//! §4.3), its bytes are not touched by line-end mending, and BINARY gives
//! back exactly what was sent (as a literal8, RFC 3516 §4.3).
//!
//! The answers are compared as bytes: the common client reads responses as
//! text, which would hide a NUL or an 0xFF.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

/// The binary part's content: NUL, a control byte, a bare LF, a bare CR,
/// 0xFF, a CRLF and a NUL again.
const PART: &[u8] = b"\x00\x01\nA\rB\xff\r\n\x00";

fn binary_message(part: &[u8]) -> Vec<u8> {
    let mut message = b"From: alice@example.org\r\n\
Subject: binary\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"sep\"\r\n\
\r\n\
--sep\r\n\
Content-Type: text/plain\r\n\
\r\n\
see attached\r\n\
--sep\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: binary\r\n\
\r\n"
        .to_vec();
    message.extend_from_slice(part);
    message.extend_from_slice(b"\r\n--sep--\r\n");
    message
}

/// One response as bytes: lines with their literals inline, and for each
/// literal whether it was a literal8 and its bytes.
struct Answer {
    bytes: Vec<u8>,
    literals: Vec<(bool, Vec<u8>)>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

struct Raw {
    reader: BufReader<TcpStream>,
    tag: u32,
}

impl Raw {
    fn connect(server: &Server) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", server.imap_port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut raw = Raw { reader: BufReader::new(stream), tag: 0 };
        assert!(raw.line().starts_with(b"* OK"));
        raw
    }

    fn send(&mut self, bytes: &[u8]) {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).unwrap();
        stream.flush().unwrap();
    }

    fn line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        assert!(self.reader.read_until(b'\n', &mut line).unwrap() > 0, "connection closed");
        line
    }

    fn response(&mut self) -> Answer {
        let mut answer = Answer { bytes: Vec::new(), literals: Vec::new() };
        loop {
            let line = self.line();
            answer.bytes.extend_from_slice(&line);
            let Some((binary, length)) = announced(&line) else { return answer };
            let mut literal = vec![0; length];
            self.reader.read_exact(&mut literal).unwrap();
            answer.bytes.extend_from_slice(&literal);
            answer.literals.push((binary, literal));
        }
    }

    /// Sends a command; returns the untagged answers and the tagged line.
    fn command(&mut self, command: &[u8]) -> (Vec<Answer>, String) {
        self.tag += 1;
        let tag = format!("b{}", self.tag);
        let mut line = format!("{tag} ").into_bytes();
        line.extend_from_slice(command);
        line.extend_from_slice(b"\r\n");
        self.send(&line);
        self.until_tagged(&tag)
    }

    fn until_tagged(&mut self, tag: &str) -> (Vec<Answer>, String) {
        let mut untagged = Vec::new();
        loop {
            let answer = self.response();
            if answer.bytes.starts_with(format!("{tag} ").as_bytes()) {
                return (untagged, answer.text()[tag.len() + 1..].to_string());
            }
            untagged.push(answer);
        }
    }

    fn ok(&mut self, command: &str) -> Vec<Answer> {
        let (untagged, tagged) = self.command(command.as_bytes());
        assert!(tagged.starts_with("OK"), "{command}: {tagged}");
        untagged
    }

    /// The one FETCH answer's only literal: (literal8?, bytes).
    fn fetch_literal(&mut self, command: &str) -> (bool, Vec<u8>) {
        let mut untagged = self.ok(command);
        assert_eq!(untagged.len(), 1, "{command}");
        let answer = untagged.remove(0);
        assert_eq!(answer.literals.len(), 1, "{command}: {}", answer.text());
        answer.literals.into_iter().next().unwrap()
    }

    /// APPEND with a literal8 (synchronizing or not), then the tagged line.
    fn append8(&mut self, message: &[u8], synchronizing: bool) -> String {
        self.tag += 1;
        let tag = format!("b{}", self.tag);
        let plus = if synchronizing { "" } else { "+" };
        self.send(format!("{tag} APPEND INBOX ~{{{}{plus}}}\r\n", message.len()).as_bytes());
        if synchronizing {
            let line = self.line();
            if !line.starts_with(b"+") {
                // Refused before the literal: the tagged answer.
                return String::from_utf8_lossy(&line[tag.len() + 1..]).into_owned();
            }
        }
        self.send(message);
        self.send(b"\r\n");
        self.until_tagged(&tag).1
    }
}

/// `{n}` or `~{n}` ending a line: (literal8?, n).
fn announced(line: &[u8]) -> Option<(bool, usize)> {
    let line = line.strip_suffix(b"\r\n")?;
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&byte| byte == b'{')?;
    let length = std::str::from_utf8(&body[open + 1..]).ok()?.parse().ok()?;
    Some((open > 0 && body[open - 1] == b'~', length))
}

#[test]
fn a_binary_part_appended_as_literal8_is_stored_base64_and_comes_back_whole() {
    let server = Server::start();
    let mut raw = Raw::connect(&server);
    raw.ok("LOGIN alice secret");
    let original = binary_message(PART);
    let tagged = raw.append8(&original, true);
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    raw.ok("SELECT INBOX");

    // RFC 3501 §4.3: no NUL in an ordinary literal.
    let (literal8, whole) = raw.fetch_literal("FETCH 1 BODY.PEEK[]");
    assert!(!literal8);
    assert!(!whole.contains(&0), "BODY[] holds NUL: {}", String::from_utf8_lossy(&whole));
    assert!(
        String::from_utf8_lossy(&whole)
            .contains("Content-Transfer-Encoding: base64\r\n\r\nAAEKQQ1C/w0KAA==\r\n--sep--"),
        "{}",
        String::from_utf8_lossy(&whole)
    );
    // RFC 3516 §4.3: the decoded part, as a literal8 since it holds NUL.
    let (literal8, part) = raw.fetch_literal("FETCH 1 BINARY.PEEK[2]");
    assert!(literal8);
    assert_eq!(part, PART);
    let size = raw.ok("FETCH 1 BINARY.SIZE[2]");
    assert_eq!(size[0].text(), format!("* 1 FETCH (BINARY.SIZE[2] {})\r\n", PART.len()));
    // BODY[TEXT] is the tail of BODY[], and RFC822.SIZE the stored size.
    let (_, text) = raw.fetch_literal("FETCH 1 BODY.PEEK[TEXT]");
    assert!(whole.ends_with(&text) && text.len() < whole.len());
    let (_, header) = raw.fetch_literal("FETCH 1 BODY.PEEK[HEADER]");
    assert_eq!([header, text].concat(), whole);
    let sizes = raw.ok("FETCH 1 (RFC822.SIZE BODYSTRUCTURE)");
    let sizes = sizes[0].text();
    assert!(sizes.contains(&format!("RFC822.SIZE {}", whole.len())), "{sizes}");
    assert!(sizes.contains("(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 16 NIL NIL NIL NIL)"), "{sizes}");
    // The text part came through unchanged.
    let (_, first) = raw.fetch_literal("FETCH 1 BODY.PEEK[1]");
    assert_eq!(first, b"see attached");
}

#[test]
fn multiappend_converts_only_literal8_messages() {
    let server = Server::start_with(Options::default());
    let mut raw = Raw::connect(&server);
    raw.ok("LOGIN alice secret");
    // RFC 3502: the first message as an ordinary literal (no binary content
    // allowed, nothing converted), the second as a non-synchronizing
    // literal8 with an LF-only header and a part labelled binary.
    let plain = binary_message(b"plain text");
    let lf_only = b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
Content-Transfer-Encoding: BINARY\n\n\x00\n\n--b--\n";
    let mut command = format!("APPEND INBOX {{{}+}}\r\n", plain.len()).into_bytes();
    command.extend_from_slice(&plain);
    command.extend_from_slice(format!(" (\\Seen) ~{{{}+}}\r\n", lf_only.len()).as_bytes());
    command.extend_from_slice(lf_only);
    let (_, tagged) = raw.command(&command);
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    raw.ok("SELECT INBOX");
    let first = raw.ok("FETCH 1 BODYSTRUCTURE");
    assert!(first[0].text().contains("\"binary\" 10 NIL"), "{}", first[0].text());
    assert_eq!(raw.fetch_literal("FETCH 1 BODY.PEEK[2]"), (false, b"plain text".to_vec()));
    let (_, second) = raw.fetch_literal("FETCH 2 BODY.PEEK[]");
    assert_eq!(
        String::from_utf8_lossy(&second),
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAo=\r\n--b--\r\n"
    );
    assert_eq!(raw.fetch_literal("FETCH 2 BINARY.PEEK[1]"), (true, b"\x00\n".to_vec()));
    // A literal8 without binary parts is stored as it came (line ends
    // mended as always).
    let tagged = raw.append8(b"Subject: plain\r\n\r\nno binary here\r\n", false);
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(raw.fetch_literal("FETCH 3 BODY.PEEK[TEXT]"), (false, b"no binary here\r\n".to_vec()));
}

#[test]
fn appendlimit_limits_the_literal_not_the_stored_message() {
    // A part of 3000 bytes grows by a third as base64; a limit just above
    // the literal still takes it.
    let part: Vec<u8> = (0..3000u32).map(|index| (index % 251) as u8).collect();
    let original = binary_message(&part);
    let server = Server::start_with(Options {
        extra_limits: format!("literal_size = {}\n", original.len()),
        ..Options::default()
    });
    let mut raw = Raw::connect(&server);
    raw.ok("LOGIN alice secret");
    let tagged = raw.append8(&original, false);
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    raw.ok("SELECT INBOX");
    let (_, whole) = raw.fetch_literal("FETCH 1 BODY.PEEK[]");
    assert!(whole.len() > original.len() + 900, "stored {} for {}", whole.len(), original.len());
    assert_eq!(raw.fetch_literal("FETCH 1 BINARY.PEEK[2]"), (true, part));
    // One byte over the limit is still refused before it is read.
    let mut longer = original.clone();
    longer.insert(0, b'X');
    let tagged = raw.append8(&longer, true);
    assert!(tagged.starts_with("NO [TOOBIG]"), "{tagged}");
}

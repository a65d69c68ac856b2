//! Fuzzes whole sessions: mutated IMAP commands, literals of wrong lengths,
//! stray CR/LF, NUL and 8-bit bytes, thrown at a running server. Whatever
//! arrives, the server must not panic, must keep answering, and must keep
//! its database intact.
//!
//! Seeded; the seed is printed, and `ROOST_FUZZ_SEED=<n>` replays a run.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

const TEMPLATES: &[&str] = &[
    "NOOP",
    "CAPABILITY",
    "SELECT INBOX",
    "EXAMINE Archive",
    "FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE)",
    "UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])",
    "FETCH 1 BODY[]<0.100>",
    "FETCH 2 (BODY[TEXT] RFC822.HEADER)",
    "UID FETCH 2:4 BODY.PEEK[HEADER.FIELDS.NOT (TO)]",
    "STORE 1 +FLAGS (\\Seen $Fuzz)",
    "UID STORE 1:* -FLAGS.SILENT (\\Flagged)",
    "SEARCH OR FROM bob SUBJECT {5}\r\nhello",
    "UID SEARCH CHARSET UTF-8 TEXT {4+}\r\ntext NOT DELETED",
    "SEARCH SINCE 1-Jan-2000 LARGER 10 (UNSEEN OR KEYWORD $Fuzz UID 1:3)",
    "COPY 1:2 Archive",
    "UID MOVE 3 Trash",
    "EXPUNGE",
    "UID EXPUNGE 1:2",
    "STATUS INBOX (MESSAGES UNSEEN UIDNEXT SIZE)",
    "LIST \"\" *",
    "LSUB \"\" %",
    "CREATE fuzz/one",
    "RENAME fuzz/one fuzz/two",
    "DELETE fuzz/two",
    "SUBSCRIBE {4}\r\nfuzz",
    "APPEND INBOX (\\Flagged) {24+}\r\nSubject: fuzz\r\n\r\nbody\r\n",
    "APPEND Archive \"17-Jul-1996 02:44:25 -0700\" {12+}\r\nA: b\r\n\r\nc\r\n",
    // RFC 3516 §4.4: literal8 with binary parts (converted to base64), one
    // in a MULTIAPPEND with an LF-only message.
    "APPEND INBOX ~{120+}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Transfer-Encoding: binary\r\n\r\n\0\n\r\u{ff}\r\n--z--\r\n",
    "APPEND Archive (\\Seen) ~{89+}\r\nContent-Type: application/x; a=b\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\n\n\0\0\n ~{120+}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Transfer-Encoding: binary\r\n\r\n\0\n\r\u{ff}\r\n--z--\r\n",
    "FETCH 1:* (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[])",
    "ID (\"name\" \"fuzzer\")",
    "REPLACE 1 Drafts (\\Draft) {20+}\r\nSubject: v2\r\n\r\nnew\r\n",
    "UID REPLACE * INBOX ~{20+}\r\nSubject: v3\r\n\r\nnew\r\n",
    "ENABLE UTF8=ACCEPT",
    "APPEND INBOX UTF8 (~{32+}\r\nSubject: Grüße\r\n\r\nHallo Welt\r\n)",
    "CREATE \"Entwürfe\"",
    "ENABLE CONDSTORE",
    "ENABLE QRESYNC",
    "SELECT INBOX (CONDSTORE)",
    "EXAMINE INBOX (QRESYNC (1 1 1:5 (1:2 1:2)))",
    "FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 1)",
    "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 2 VANISHED)",
    "STORE 1:* (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Answered)",
    "UID SEARCH RETURN (MIN COUNT) MODSEQ \"/flags/\\\\seen\" all 1",
    "STATUS INBOX (HIGHESTMODSEQ MESSAGES)",
    "NAMESPACE",
    "NOTIFY SET STATUS (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange)) (PERSONAL (MessageNew MessageExpunge MailboxName SubscriptionChange))",
    "NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge)) (SUBTREE fuzz (MessageNew MessageExpunge FlagChange))",
    "NOTIFY NONE",
    "CHECK",
    "UNSELECT",
    "LOGIN {5}\r\nalice secret",
    "AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==",
    // RFC 8474 OBJECTID and RFC 8514 SAVEDATE.
    "FETCH 1:* (EMAILID THREADID SAVEDATE)",
    "UID FETCH 2:* (SAVEDATE FLAGS) (CHANGEDSINCE 1)",
    "UID SEARCH EMAILID E1",
    "SEARCH OR THREADID T1 NOT EMAILID zz_9",
    "SEARCH SAVEDSINCE 1-Jan-2020 SAVEDBEFORE 1-Jan-2100 SAVEDATESUPPORTED",
    "UID SEARCH RETURN (COUNT) SAVEDON 6-Dec-2026",
    "STATUS INBOX (MAILBOXID UIDNEXT)",
    "LIST \"\" * RETURN (STATUS (MAILBOXID MESSAGES))",
    // RFC 4978: forms that stay uncompressed (a COMPRESS that succeeded
    // would make the fuzzer's plain text garbage and end the session).
    "COMPRESS X-FUZZ",
    "COMPRESS DEFLATE extra",
    // RFC 8970 PREVIEW: an HTML part to preview, LAZY, modifiers after it.
    "APPEND INBOX {95+}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Caf&eacute; &amp; <b>tea</b></p><style>x</style>\r\n",
    "FETCH 1:* (UID PREVIEW)",
    "UID FETCH 1:* (PREVIEW (LAZY) FLAGS)",
    "FETCH 1:* PREVIEW (CHANGEDSINCE 1)",
    // RFC 9586 UIDONLY: after it, sequence numbers anywhere are BAD [UIDREQUIRED].
    "ENABLE UIDONLY",
    "UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE 1)",
    "UID SEARCH OR $ 1:3",
    "UID SORT (SUBJECT) UTF-8 NOT 2",
    // RFC 5267 CONTEXT=SEARCH / CONTEXT=SORT and RFC 9394 PARTIAL: live
    // searches updated by the other templates' changes, paged results.
    "SEARCH RETURN (UPDATE ALL) UNSEEN",
    "UID SEARCH RETURN (UPDATE COUNT PARTIAL -1:-3) OR FLAGGED KEYWORD $Fuzz",
    "UID SORT RETURN (UPDATE MIN PARTIAL 1:2) (REVERSE SUBJECT) UTF-8 NOT DELETED",
    "SORT RETURN (CONTEXT UPDATE) (ARRIVAL) UTF-8 1:3",
    "SEARCH RETURN (SAVE PARTIAL 2:5) ALL",
    "UID FETCH 1:* (FLAGS) (PARTIAL -1:-2 CHANGEDSINCE 1)",
    "CANCELUPDATE \"t1\" \"t2\"",
    // RFC 4469 CATENATE with RFC 5092 URLs: text, whole messages, sections,
    // PARTIAL, a literal URL, a MULTIAPPEND, and URLs that cannot resolve.
    "APPEND Drafts CATENATE (TEXT {16+}\r\nSubject: cat\r\n\r\n URL \"/INBOX/;UID=1/;SECTION=TEXT\")",
    "APPEND INBOX (\\Seen) CATENATE (URL /INBOX/;UID=1 URL \";UID=2/;SECTION=1.MIME\")",
    "APPEND Archive CATENATE (URL \"/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(SUBJECT)/;PARTIAL=0.20\" TEXT ~{5+}\r\n\0x\ny\r)",
    "APPEND INBOX CATENATE (URL {35+}\r\nimap://alice@localhost/INBOX/;UID=1) CATENATE (TEXT {4+}\r\nA: b) {4+}\r\nC: d",
    "APPEND INBOX CATENATE (URL \"imap://bob@elsewhere/INBOX/;UID=1\" TEXT {11+}\r\nt1 LOGOUT\r\n)",
];

const NOISE: &[&[u8]] = &[
    b"\r",
    b"\n",
    b"\r\n",
    b"\0",
    b"\xff",
    b"\xc3\xa9",
    b"{",
    b"}",
    b"{9}",
    b"{3+}\r\nabc",
    b"{99999999999}",
    b"\"",
    b"(",
    b")",
    b"[",
    b"]",
    b"<",
    b">",
    b"*",
    b"%",
    b" ",
    b"\\",
    b"+",
    b"-",
    b".",
    b":",
    b"1",
    b"0",
    b"4294967296",
];

/// The fuzzer's socket, plain or (every other session) after COMPRESS
/// DEFLATE (RFC 4978): the same mutated commands, through the inflater.
struct Wire {
    stream: TcpStream,
    deflate:
        Option<(Box<miniz_oxide::deflate::core::CompressorOxide>, Box<miniz_oxide::inflate::stream::InflateState>)>,
    raw: Vec<u8>,
}

impl Read for Wire {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let Some((_, inflater)) = &mut self.deflate else { return self.stream.read(out) };
        loop {
            let result = miniz_oxide::inflate::stream::inflate(inflater, &self.raw, out, miniz_oxide::MZFlush::None);
            self.raw.drain(..result.bytes_consumed);
            match result.status {
                Ok(_) | Err(miniz_oxide::MZError::Buf) => {}
                Err(error) => panic!("the server sent bad DEFLATE data: {error:?}"),
            }
            if result.bytes_written > 0 {
                return Ok(result.bytes_written);
            }
            let mut chunk = [0u8; 16384];
            let count = self.stream.read(&mut chunk)?;
            if count == 0 {
                return Ok(0);
            }
            self.raw.extend_from_slice(&chunk[..count]);
        }
    }
}

impl Write for Wire {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let Some((compressor, _)) = &mut self.deflate else { return self.stream.write(bytes) };
        let mut rest = bytes;
        loop {
            let mut out = [0u8; 16384];
            let result = miniz_oxide::deflate::stream::deflate(compressor, rest, &mut out, miniz_oxide::MZFlush::Sync);
            rest = &rest[result.bytes_consumed..];
            self.stream.write_all(&out[..result.bytes_written])?;
            if rest.is_empty() && result.bytes_written < out.len() {
                return Ok(bytes.len());
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

fn mutate(rng: &mut Rng, template: &[u8]) -> Vec<u8> {
    let mut bytes = template.to_vec();
    for _ in 0..rng.below(4) {
        let position = if bytes.is_empty() { 0 } else { rng.index(bytes.len() + 1) };
        match rng.below(5) {
            0 => {
                let noise = rng.pick(NOISE);
                bytes.splice(position..position, noise.iter().copied());
            }
            1 if !bytes.is_empty() => {
                let end = (position + 1 + rng.index(6)).min(bytes.len());
                bytes.drain(position.min(end)..end);
            }
            2 => bytes.truncate(position),
            3 if !bytes.is_empty() => {
                let start = rng.index(bytes.len());
                let end = (start + rng.index(12)).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(position..position, copy);
            }
            _ => {
                let byte = (rng.next() & 0xff) as u8;
                bytes.insert(position, byte);
            }
        }
    }
    bytes
}

/// Reads until a line starting with `marker` arrives; false if the server
/// closed the connection first.
fn read_until_marker(stream: &mut impl Read, marker: &[u8], deadline: Instant, seen: &mut Vec<u8>) -> Option<bool> {
    let mut buffer = [0u8; 65536];
    loop {
        if let Some(position) = find_line_start(seen, marker) {
            seen.drain(..position);
            return Some(true);
        }
        if Instant::now() > deadline {
            return None;
        }
        match stream.read(&mut buffer) {
            Ok(0) => return Some(false),
            Ok(count) => {
                seen.extend_from_slice(&buffer[..count]);
                // Only the tail matters for finding the marker.
                if seen.len() > 1 << 20 {
                    seen.drain(..seen.len() - (1 << 16));
                }
            }
            Err(error)
                if error.kind() == std::io::ErrorKind::WouldBlock || error.kind() == std::io::ErrorKind::TimedOut =>
            {
                return None;
            }
            Err(_) => return Some(false),
        }
    }
}

fn find_line_start(haystack: &[u8], marker: &[u8]) -> Option<usize> {
    (0..haystack.len().saturating_sub(marker.len() - 1))
        .find(|&index| (index == 0 || haystack[index - 1] == b'\n') && haystack[index..].starts_with(marker))
}

/// Returns how many commands were answered before the session ended.
fn fuzz_session(server: &Server, rng: &mut Rng, commands: usize, compress: bool) -> usize {
    let tcp = TcpStream::connect(("127.0.0.1", server.imap_port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(400))).unwrap();
    let mut stream = Wire { stream: tcp, deflate: None, raw: Vec::new() };
    let mut seen = Vec::new();
    let deadline = || Instant::now() + Duration::from_secs(10);
    assert_eq!(read_until_marker(&mut stream, b"* OK", deadline(), &mut seen), Some(true));
    stream.write_all(b"l LOGIN alice secret\r\n").unwrap();
    assert_eq!(read_until_marker(&mut stream, b"l OK", deadline(), &mut seen), Some(true));
    if compress {
        stream.write_all(b"c COMPRESS DEFLATE\r\n").unwrap();
        assert_eq!(read_until_marker(&mut stream, b"c OK", deadline(), &mut seen), Some(true));
        // Nothing follows the OK until we speak: `seen` holds no compressed bytes.
        let flags = miniz_oxide::deflate::core::create_comp_flags_from_zip_params(6, -15, 0);
        stream.deflate = Some((
            Box::new(miniz_oxide::deflate::core::CompressorOxide::new(flags)),
            miniz_oxide::inflate::stream::InflateState::new_boxed(miniz_oxide::DataFormat::Raw),
        ));
    }
    stream.write_all(b"s SELECT INBOX\r\n").unwrap();
    assert_eq!(read_until_marker(&mut stream, b"s OK", deadline(), &mut seen), Some(true));
    for number in 0..commands {
        let template = rng.pick(TEMPLATES).as_bytes();
        let tag = format!("f{number} ");
        let mut line = tag.into_bytes();
        line.extend(mutate(rng, template));
        line.extend_from_slice(b"\r\n");
        let marker = format!("z{number} ");
        let sync = format!("z{number} NOOP\r\n");
        if stream.write_all(&line).and_then(|_| stream.write_all(sync.as_bytes())).is_err() {
            return number;
        }
        match read_until_marker(&mut stream, marker.as_bytes(), deadline(), &mut seen) {
            Some(true) => {}
            // The server said BYE (too long, too many failures...) and closed.
            Some(false) => return number,
            None => {
                // Probably inside a literal the mutation announced: feed it
                // filler until the sync answers (the filler then gets BAD).
                let mut filler = vec![b'x'; 70_000];
                filler.extend_from_slice(b"\r\n");
                filler.extend_from_slice(sync.as_bytes());
                if stream.write_all(&filler).is_err() {
                    return number;
                }
                match read_until_marker(&mut stream, marker.as_bytes(), deadline(), &mut seen) {
                    Some(true) => {}
                    Some(false) => return number,
                    None => panic!("server stopped answering after {:?}", String::from_utf8_lossy(&line)),
                }
            }
        }
    }
    commands
}

#[test]
fn random_sessions_never_break_the_server() {
    let seed = std::env::var("ROOST_FUZZ_SEED").ok().and_then(|seed| seed.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    println!("ROOST_FUZZ_SEED={seed}");
    let mut rng = Rng::new(seed);
    let options = Options {
        extra_limits: "line_length = 8192\nliteral_size = 65536\nmax_connections_per_user = 500".into(),
        ..Default::default()
    };
    let server = Server::start_with(options);
    {
        let mut client = server.alice_inbox();
        for index in 0..5 {
            client.append_ok("INBOX", &message(&format!("seed{index}"), "hello text body"));
        }
        client.ok("LOGOUT");
    }
    let mut answered = 0;
    for session in 0..8 {
        answered += fuzz_session(&server, &mut rng, 150, session % 2 == 1);
    }
    println!("{answered} fuzzed commands answered");
    // Sessions may legitimately end early (BYE after a literal too large
    // to skip), but most of the work must have happened.
    assert!(answered > 400, "seed {seed}: only {answered} commands answered");
    let log = server.log_text();
    assert!(!log.contains("panicked"), "seed {seed}: the server panicked:\n{log}");
    // Still serving, and the data is intact.
    let mut client = server.alice_inbox();
    client.ok("FETCH 1:* (FLAGS UID)");
    let (ok, out, err) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok && out.contains("no damage found"), "seed {seed}: check failed: {out}{err}");
}

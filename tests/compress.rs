//! COMPRESS=DEFLATE (RFC 4978) over real sockets, plain and TLS: the
//! client side here is raw DEFLATE from the same crate (miniz_oxide), with
//! a sync flush after each command as RFC 4978 §4 asks of a client.

mod common;

use std::io::{BufReader, Read, Write};

use common::*;
use miniz_oxide::deflate::core::{create_comp_flags_from_zip_params, CompressorOxide};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// A transport that deflates what it writes and inflates what it reads,
/// counting the compressed bytes it received.
struct Deflated {
    inner: Transport,
    inflater: Box<InflateState>,
    compressor: Box<CompressorOxide>,
    raw: Vec<u8>,
    raw_start: usize,
    received: usize,
}

impl Deflated {
    fn new(inner: Transport) -> Deflated {
        Deflated {
            inner,
            inflater: InflateState::new_boxed(DataFormat::Raw),
            compressor: Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(6, -15, 0))),
            raw: Vec::new(),
            raw_start: 0,
            received: 0,
        }
    }
}

impl Read for Deflated {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let input = &self.raw[self.raw_start..];
            let result = miniz_oxide::inflate::stream::inflate(&mut self.inflater, input, out, MZFlush::None);
            self.raw_start += result.bytes_consumed;
            match result.status {
                Ok(MZStatus::Ok) | Err(MZError::Buf) => {}
                other => panic!("server sent bad DEFLATE data: {other:?}"),
            }
            if result.bytes_written > 0 {
                return Ok(result.bytes_written);
            }
            let mut chunk = [0u8; 4096];
            let count = self.inner.read(&mut chunk)?;
            if count == 0 {
                return Ok(0);
            }
            self.received += count;
            self.raw.drain(..self.raw_start);
            self.raw_start = 0;
            self.raw.extend_from_slice(&chunk[..count]);
        }
    }
}

impl Write for Deflated {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut rest = bytes;
        loop {
            let mut out = [0u8; 4096];
            let result = miniz_oxide::deflate::stream::deflate(&mut self.compressor, rest, &mut out, MZFlush::Sync);
            result.status.expect("deflate");
            rest = &rest[result.bytes_consumed..];
            self.inner.write_all(&out[..result.bytes_written])?;
            if rest.is_empty() && result.bytes_written < out.len() {
                return Ok(bytes.len());
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A client speaking compressed IMAP.
struct Compressed {
    reader: BufReader<Deflated>,
    tag: usize,
}

impl Compressed {
    /// Sends COMPRESS DEFLATE on `client` (which must be logged in) and
    /// switches to compressed IMAP after its OK.
    fn start(mut client: Client) -> Compressed {
        let tagged = client.ok("COMPRESS DEFLATE");
        assert!(tagged.is_empty(), "{tagged:?}");
        let transport = std::mem::replace(client.transport(), Transport::None);
        Compressed { reader: BufReader::new(Deflated::new(transport)), tag: 100 }
    }

    fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let writer = self.reader.get_mut();
        writer.write_all(bytes).unwrap();
        writer.flush().unwrap();
    }

    fn read_line(&mut self) -> String {
        read_line_from(&mut self.reader)
    }

    fn read_response(&mut self) -> String {
        read_response_from(&mut self.reader)
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("z{}", self.tag)
    }

    fn until_tagged(&mut self, tag: &str) -> (Vec<String>, String) {
        let mut untagged = Vec::new();
        loop {
            let response = self.read_response();
            if let Some(rest) = response.strip_prefix(&format!("{tag} ")) {
                return (untagged, rest.to_string());
            }
            untagged.push(response);
        }
    }

    fn command(&mut self, command: &str) -> (Vec<String>, String) {
        let tag = self.next_tag();
        self.send(&format!("{tag} {command}"));
        self.until_tagged(&tag)
    }

    fn ok(&mut self, command: &str) -> Vec<String> {
        let (untagged, tagged) = self.command(command);
        assert!(tagged.starts_with("OK"), "{command:?} gave {tagged:?} after {untagged:#?}");
        untagged
    }

    /// Compressed bytes received so far.
    fn received(&self) -> usize {
        self.reader.get_ref().received
    }
}

/// A message of `size` bytes of mail-like text (compresses well, as mail does).
fn long_letter(size: usize) -> Vec<u8> {
    let mut message = b"From: alice@example.org\r\nSubject: big\r\n\r\n".to_vec();
    let mut line = 0;
    while message.len() < size {
        message.extend_from_slice(format!("Line {line} of a long letter, with the usual words in it.\r\n").as_bytes());
        line += 1;
    }
    message
}

#[test]
fn offered_after_login_only_and_refused_before() {
    let server = Server::start();
    let mut client = server.connect();
    let before = capabilities(&mut client);
    assert!(!before.iter().any(|capability| capability.starts_with("COMPRESS")), "{before:?}");
    // RFC 4978 §5: command-auth, so not before login.
    client.bad("COMPRESS DEFLATE");
    client.ok("LOGIN alice secret");
    let after = capabilities(&mut client);
    assert!(after.contains("COMPRESS=DEFLATE"), "{after:?}");
    // RFC 4978 §3: BAD for an unknown mechanism; the session goes on uncompressed.
    let text = client.bad("COMPRESS X-ZSTD");
    assert!(text.contains("mechanism"), "{text}");
    client.bad("COMPRESS");
    client.ok("NOOP");
}

#[test]
fn large_message_round_trips_compressed() {
    let server = Server::start();
    let mut client = Compressed::start(server.login("alice", "secret"));
    client.ok("SELECT INBOX");
    // APPEND through the compressed stream: the literal is inflated too.
    let message = long_letter(300_000);
    let tag = client.next_tag();
    client.send(&format!("{tag} APPEND INBOX {{{}}}", message.len()));
    let continuation = client.read_line();
    assert!(continuation.starts_with('+'), "{continuation}");
    client.send_raw(&message);
    client.send_raw(b"\r\n");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
    client.ok("NOOP");
    let before = client.received();
    let fetched = client.ok("FETCH 1 BODY[]");
    assert_eq!(item(fetch_of(&fetched, 1), "BODY[]").as_bytes(), &message[..]);
    // The answer did travel compressed: far fewer bytes than the message.
    let wire = client.received() - before;
    assert!(wire < message.len() / 4, "{wire} bytes on the wire for a {} byte message", message.len());
    client.ok("LOGOUT");
}

#[test]
fn pipelined_commands_after_compress_are_read_compressed() {
    // RFC 4978 §3: the client compresses from the byte after COMPRESS's CRLF,
    // so a command sent in the same packet is compressed data.
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let mut deflated = Deflated::new(Transport::None);
    let mut compressed = Vec::new();
    let mut compressor = CompressorOxide::new(create_comp_flags_from_zip_params(6, -15, 0));
    let mut out = vec![0u8; 4096];
    let result = miniz_oxide::deflate::stream::deflate(&mut compressor, b"p1 NOOP\r\n", &mut out, MZFlush::Sync);
    compressed.extend_from_slice(&out[..result.bytes_written]);
    let mut bytes = b"c1 COMPRESS DEFLATE\r\n".to_vec();
    bytes.extend_from_slice(&compressed);
    // Byte by byte: compressed bytes right after the OK must not be read
    // into a plain buffer.
    let mut transport = std::mem::replace(client.transport(), Transport::None);
    transport.write_all(&bytes).unwrap();
    let mut ok = Vec::new();
    while !ok.ends_with(b"\n") {
        let mut byte = [0u8];
        assert_eq!(transport.read(&mut byte).unwrap(), 1);
        ok.push(byte[0]);
    }
    assert!(ok.starts_with(b"c1 OK"), "{}", String::from_utf8_lossy(&ok));
    deflated.inner = transport;
    deflated.compressor = Box::new(compressor);
    let mut compressed = Compressed { reader: BufReader::new(deflated), tag: 0 };
    let (_, tagged) = compressed.until_tagged("p1");
    assert!(tagged.starts_with("OK"), "{tagged}");
    compressed.ok("NOOP");
}

#[test]
fn compress_twice_is_compressionactive() {
    let server = Server::start();
    let mut client = Compressed::start(server.login("alice", "secret"));
    let (_, tagged) = client.command("COMPRESS DEFLATE");
    assert!(tagged.starts_with("NO [COMPRESSIONACTIVE]"), "{tagged}");
    // Still compressed, still working, in the selected state too.
    client.ok("SELECT INBOX");
    let (_, tagged) = client.command("COMPRESS DEFLATE");
    assert!(tagged.starts_with("NO [COMPRESSIONACTIVE]"), "{tagged}");
    let capabilities = capability_set(&client.ok("CAPABILITY"));
    assert!(capabilities.contains("IMAP4rev1"), "{capabilities:?}");
}

#[test]
fn compress_inside_tls_both_ways() {
    let server = Server::start();
    let mut implicit = server.connect_tls();
    implicit.ok("LOGIN alice secret");
    let mut implicit = Compressed::start(implicit);
    implicit.ok("SELECT INBOX");
    let message = long_letter(50_000);
    let tag = implicit.next_tag();
    implicit.send(&format!("{tag} APPEND INBOX {{{}+}}", message.len()));
    implicit.send_raw(&message);
    implicit.send_raw(b"\r\n");
    let (_, tagged) = implicit.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");

    let mut upgraded = server.connect();
    upgraded.starttls(&server);
    upgraded.ok("LOGIN alice secret");
    let mut upgraded = Compressed::start(upgraded);
    upgraded.ok("SELECT INBOX");
    let fetched = upgraded.ok("FETCH 1 BODY[]");
    assert_eq!(item(fetch_of(&fetched, 1), "BODY[]").as_bytes(), &message[..], "the message sent the other way");
}

#[test]
fn idle_keepalives_and_changes_arrive_compressed() {
    let server = Server::start_with(Options { extra_limits: "idle_keepalive = 1".into(), ..Options::default() });
    let mut client = Compressed::start(server.login("alice", "secret"));
    client.ok("SELECT INBOX");
    let tag = client.next_tag();
    client.send(&format!("{tag} IDLE"));
    let line = client.read_line();
    assert!(line.starts_with("+ "), "{line}");
    // Each keep-alive must reach the client whole, not sit in the compressor.
    assert_eq!(client.read_line(), "* OK Still here");
    let mut other = server.login("alice", "secret");
    other.append_ok("INBOX", &message("news", "hello"));
    loop {
        let line = client.read_line();
        if line == "* 1 EXISTS" {
            break;
        }
        assert!(line.starts_with("* "), "{line}");
    }
    client.send("DONE");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
}

#[test]
fn the_board_limit_answers_no_limit_and_frees_on_logout() {
    let server =
        Server::start_with(Options { extra_limits: "max_compressed_connections = 1".into(), ..Options::default() });
    let mut first = Compressed::start(server.login("alice", "secret"));
    let mut second = server.login("bob", "hunter2");
    let text = second.no("COMPRESS DEFLATE");
    assert!(text.starts_with("NO [LIMIT]"), "{text}");
    second.ok("NOOP");
    first.send("z1 LOGOUT");
    let (_, tagged) = first.until_tagged("z1");
    assert!(tagged.starts_with("OK"), "{tagged}");
    // The place is given back when the connection goes.
    let mut third = loop {
        let mut client = server.login("bob", "hunter2");
        let (_, tagged) = client.command("COMPRESS DEFLATE");
        if tagged.starts_with("OK") {
            let transport = std::mem::replace(client.transport(), Transport::None);
            break Compressed { reader: BufReader::new(Deflated::new(transport)), tag: 0 };
        }
        assert!(tagged.starts_with("NO [LIMIT]"), "{tagged}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    third.ok("NOOP");
}

#[test]
fn zero_turns_compress_off() {
    let server =
        Server::start_with(Options { extra_limits: "max_compressed_connections = 0".into(), ..Options::default() });
    let mut client = server.login("alice", "secret");
    let capabilities = capabilities(&mut client);
    assert!(!capabilities.iter().any(|capability| capability.starts_with("COMPRESS")), "{capabilities:?}");
    client.bad("COMPRESS DEFLATE");
    client.ok("NOOP");
}

#[test]
fn garbage_compressed_data_ends_only_that_connection() {
    let server = Server::start();
    let mut bystander = Compressed::start(server.login("bob", "hunter2"));
    bystander.ok("SELECT INBOX");
    let mut client = server.login("alice", "secret");
    client.ok("COMPRESS DEFLATE");
    // A reserved block type (RFC 1951 §3.2.3): not DEFLATE.
    client.send_raw(&[0xff; 64]);
    let rest = client.read_to_end();
    // Closed; whatever came before the close is compressed, never plain text.
    assert!(!rest.contains("OK"), "{rest:?}");
    // The log line may trail the close by a moment.
    let mut log = server.log_text();
    for _ in 0..100 {
        if log.contains("invalid compressed data") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        log = server.log_text();
    }
    assert!(log.contains("invalid compressed data"), "{log}");
    bystander.ok("NOOP");
    bystander.ok("FETCH 1:* FLAGS");
}

//! One client must not pin the database or the executor for the others
//! (issue 11, item 2): a client that stops reading mid-FETCH holds no
//! read snapshot while it sits there, is cut off after `write_timeout`,
//! and a message expunged while its literal streams ends that connection
//! cleanly. Functional checks only (sizes, replies, closed sockets), no
//! timing asserts.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

/// A message of about `size` bytes with a recognisable body.
fn big_letter(subject: &str, size: usize) -> Vec<u8> {
    let mut text = format!(
        "From: Bob <bob@example.org>\r\nTo: Alice <alice@example.org>\r\nSubject: {subject}\r\nDate: Wed, 17 Jul 1996 02:44:25 -0700\r\n\r\n"
    )
    .into_bytes();
    let line = format!("{subject} lorem ipsum dolor sit amet consectetur adipiscing elit sed do\r\n");
    while text.len() < size {
        text.extend_from_slice(line.as_bytes());
    }
    text
}

fn redb_size(server: &Server) -> u64 {
    std::fs::metadata(server.data_dir().join("roost.redb")).unwrap().len()
}

/// A raw connection logged in as alice with INBOX selected, not yet reading anything more.
fn raw_inbox(server: &Server) -> TcpStream {
    let mut client = server.alice_inbox();
    let Transport::Plain(stream) = std::mem::replace(client.transport(), Transport::None) else { panic!("plain") };
    stream
}

/// (a) A client stalled mid-FETCH holds no read snapshot: another
/// session's flag changes reuse the pages they free, so the file stays
/// put. Without the fix the file grew by several times its size here.
#[test]
fn stalled_reader_does_not_pin_freed_pages() {
    // A write timeout far beyond the test's length: the stalled client
    // must stay connected (and stalled) through every STORE.
    let server = Server::start_with(Options { extra_limits: "write_timeout = 600".into(), ..Options::default() });
    let count = 150;
    let mut writer = server.alice_inbox();
    for number in 0..count {
        writer.append_ok("INBOX", &big_letter(&format!("m{number}"), 100_000));
    }
    writer.ok("NOOP");
    // 15 MB of FETCH output: far more than the loopback socket buffers hold.
    let mut stalled = raw_inbox(&server);
    stalled.write_all(b"s1 FETCH 1:* BODY.PEEK[]\r\n").unwrap();
    // Let the server fill the socket buffers and block.
    std::thread::sleep(Duration::from_millis(500));
    let before = redb_size(&server);
    let rounds = 600;
    for _ in 0..rounds {
        writer.ok("STORE 1:* +FLAGS.SILENT (\\Flagged)");
        writer.ok("STORE 1:* -FLAGS.SILENT (\\Flagged)");
    }
    let after = redb_size(&server);
    println!(
        "roost.redb: {before} bytes before {} STOREs, {after} after (+{:.1} %)",
        rounds * 2,
        (after as f64 / before as f64 - 1.0) * 100.0
    );
    // The stalled client was served all along: it drains a complete answer.
    stalled.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 1 << 16];
    while !received.ends_with(b"s1 OK FETCH completed\r\n") {
        let read = stalled.read(&mut buffer).expect("the stalled client is still connected");
        assert!(read > 0, "server closed the stalled client's connection");
        received.extend_from_slice(&buffer[..read]);
    }
    assert!(received.len() > count * 100_000, "the FETCH answer is complete");
    assert!(after <= before + before / 10, "roost.redb grew from {before} to {after} bytes");
}

/// Reads until the server closes the connection (or resets it); panics on
/// a read timeout, which would mean the server still holds it open.
fn read_stream_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return received,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return received,
            Err(error) => panic!("the server kept the connection open: {error}"),
        }
    }
}

/// (b) A client that stops reading is disconnected after `write_timeout`
/// (logged with its address); the other sessions are served meanwhile.
#[test]
fn client_that_stops_reading_is_cut_off() {
    let server = Server::start_with(Options { extra_limits: "write_timeout = 2".into(), ..Options::default() });
    let count = 120;
    let mut other = server.alice_inbox();
    for number in 0..count {
        other.append_ok("INBOX", &big_letter(&format!("m{number}"), 100_000));
    }
    // 12 MB of output: more than the socket buffers on both sides hold
    // (loopback here: at most 4 MB sent ahead, a 128 KB receive window).
    let mut stalled = raw_inbox(&server);
    stalled.write_all(b"s1 FETCH 1:* BODY.PEEK[]\r\n").unwrap();
    server.wait_for_log("did not read its output for 2 s; disconnecting");
    let answer = other.ok("FETCH 1:3 (FLAGS)");
    assert_eq!(
        Responses::of(&answer).fetches().iter().map(|fetch| fetch.number.unwrap()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    // The stalled client gets what was in flight, then the end: no tagged reply.
    let received = read_stream_until_closed(&mut stalled);
    assert!(received.len() < count * 100_000, "{} bytes arrived: the whole answer", received.len());
    assert!(!String::from_utf8_lossy(&received).contains("s1 OK"));
    // A new session still works.
    let mut fresh = server.alice_inbox();
    fresh.ok("NOOP");
}

/// (c) A message expunged (its bytes freed) by another session while a
/// FETCH streams it: the promised literal cannot be completed, so that
/// connection ends (with a logged reason); nothing else is disturbed.
#[test]
fn message_expunged_mid_literal_ends_that_connection() {
    let server = Server::start();
    let mut other = server.alice_inbox();
    let huge = big_letter("huge", 12_000_000);
    let size = huge.len();
    other.append_ok("INBOX", &huge);
    other.append_ok("INBOX", &message("small", "still here"));
    let mut reader = raw_inbox(&server);
    reader.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    reader.write_all(b"s1 FETCH 1 BODY.PEEK[]\r\n").unwrap();
    // The literal has begun once its announcement arrives; then stop reading.
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 4096];
    while !received.windows(2).any(|pair| pair == b"}\r") {
        let read = reader.read(&mut buffer).unwrap();
        assert!(read > 0);
        received.extend_from_slice(&buffer[..read]);
    }
    assert!(String::from_utf8_lossy(&received).contains(&format!("BODY[] {{{size}}}")));
    // 12 MB cannot all be in the socket buffers: the server is mid-literal.
    other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    let expunged = other.ok("EXPUNGE");
    assert_eq!(Responses::of(&expunged).numbered("EXPUNGE"), [1], "{expunged:?}");
    received.extend(read_stream_until_closed(&mut reader));
    assert!(received.len() < size, "the literal was completed from freed bytes");
    server.wait_for_log("was expunged while it was being sent");
    // Everyone else goes on.
    let answer = other.ok("FETCH 1 (BODY.PEEK[TEXT])");
    assert_eq!(item(fetch_of(&answer, 1), "BODY[TEXT]"), "still here\r\n", "{answer:?}");
    let mut fresh = server.alice_inbox();
    fresh.ok("FETCH 1 (FLAGS)");
}

/// A mailbox of assorted messages: plain, multipart with an encoded
/// attachment, a nested message, and one larger than any write buffer.
fn mixed_mailbox(client: &mut Client) {
    let multipart = b"From: Carol <carol@example.org>\r\nTo: Alice <alice@example.org>\r\nSubject: =?UTF-8?B?w6l0w6k=?= report\r\nDate: Thu, 18 Jul 1996 10:00:00 +0200\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 au lait=\r\n and more\r\n--b1\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\n\r\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\r\nMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5f\r\n--b1--\r\nepilogue\r\n".to_vec();
    let nested = b"From: Dan <dan@example.org>\r\nSubject: Fwd: hello\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\nFrom: Eve <eve@example.org>\r\nTo: Dan <dan@example.org>\r\nSubject: hello\r\nContent-Type: text/plain\r\n\r\ninner body\r\n".to_vec();
    let messages: Vec<(&str, Vec<u8>)> = vec![
        ("(\\Seen) \"17-Jul-1996 02:44:25 -0700\"", message("plain", "one line")),
        ("(\\Flagged $Work) \"18-Jul-1996 10:00:00 +0200\"", multipart),
        ("() \"19-Jul-1996 11:30:00 +0000\"", nested),
        ("() \"20-Jul-1996 12:00:00 +0100\"", big_letter("large", 300_000)),
        ("(\\Answered) \"21-Jul-1996 08:15:00 -0500\"", message("last", "the end")),
    ];
    for (extra, text) in &messages {
        let (untagged, tagged) = client.append("INBOX", extra, text);
        assert!(tagged.starts_with("OK"), "{tagged} {untagged:?}");
    }
}

/// The whole output of one FETCH of the mixed mailbox, tagged line included.
fn fetch_everything(server: &Server) -> Vec<u8> {
    let mut setup = server.alice_inbox();
    mixed_mailbox(&mut setup);
    let mut stream = raw_inbox(server);
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
        .write_all(b"f FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY MODSEQ BODY.PEEK[] BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY.PEEK[HEADER.FIELDS.NOT (TO)] BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] BODY.PEEK[TEXT]<7.300000> BINARY.PEEK[1] BINARY.SIZE[2] BINARY.PEEK[])\r\n")
        .unwrap();
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 1 << 16];
    while !received.ends_with(b"f OK FETCH completed\r\n") {
        let read = stream.read(&mut buffer).unwrap();
        assert!(read > 0, "closed after {}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&buffer[..read]);
    }
    received
}

/// FNV-1a, to print a short fingerprint of an answer.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ byte as u64).wrapping_mul(0x0100_0000_01b3))
}

/// (d) FETCH answers do not depend on where the snapshot was re-opened:
/// with the smallest write buffer (re-opened every 512 bytes, mid-literal
/// and mid-message) they are byte for byte those of a 1 MiB buffer.
#[test]
fn fetch_output_is_the_same_whatever_the_steps() {
    let small = Server::start_with(Options { extra_limits: "write_buffer = 512".into(), ..Options::default() });
    let large = Server::start_with(Options { extra_limits: "write_buffer = 1048576".into(), ..Options::default() });
    let (stepped, whole) = (fetch_everything(&small), fetch_everything(&large));
    println!("FETCH of the mixed mailbox: {} bytes, fingerprint {:016x}", whole.len(), fingerprint(&whole));
    assert!(
        stepped == whole,
        "answers differ:\n{}\n---\n{}",
        String::from_utf8_lossy(&stepped),
        String::from_utf8_lossy(&whole)
    );
    let text = String::from_utf8_lossy(&whole);
    assert_eq!(text.matches(" FETCH (UID ").count(), 5, "{text}");
    // Recorded from the code before snapshots were re-opened in steps
    // (commit 66c3188): the same bytes. If FETCH's output changes on
    // purpose (a MIME fix), record the new value.
    assert_eq!(fingerprint(&whole), 0xcdfb_ff10_c0b3_d8d9, "FETCH output changed:\n{text}");
}

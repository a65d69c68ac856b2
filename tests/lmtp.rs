//! LMTP delivery (RFC 2033) and `roost deliver`, against the real binary
//! over its Unix socket and loopback TCP.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A raw LMTP client.
struct Lmtp {
    reader: BufReader<Box<dyn Read>>,
    writer: Box<dyn Write>,
}

impl Lmtp {
    fn unix(server: &Server) -> Lmtp {
        let stream = UnixStream::connect(server.lmtp_socket()).expect("connect to the LMTP socket");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Lmtp::greeted(Box::new(stream.try_clone().unwrap()), Box::new(stream))
    }

    fn tcp(port: u16) -> Lmtp {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to LMTP over TCP");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Lmtp::greeted(Box::new(stream.try_clone().unwrap()), Box::new(stream))
    }

    fn greeted(reader: Box<dyn Read>, writer: Box<dyn Write>) -> Lmtp {
        let mut client = Lmtp { reader: BufReader::new(reader), writer };
        let greeting = client.line();
        assert!(greeting.starts_with("220 "), "greeting: {greeting}");
        client
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let count = self.reader.read_line(&mut line).expect("read from the server");
        assert!(count > 0, "the server closed the connection");
        line.trim_end().to_string()
    }

    /// One reply, all its lines.
    fn reply(&mut self) -> Vec<String> {
        let mut lines = vec![self.line()];
        while lines.last().unwrap().as_bytes().get(3) == Some(&b'-') {
            lines.push(self.line());
        }
        lines
    }

    /// Sends a command line; returns the (last line of the) reply.
    fn command(&mut self, line: &str) -> String {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.reply().pop().unwrap()
    }

    fn expect(&mut self, line: &str, start: &str) {
        let reply = self.command(line);
        assert!(reply.starts_with(start), "{line:?} gave {reply:?}, expected {start:?}");
    }

    fn lhlo(&mut self) -> Vec<String> {
        self.send_raw(b"LHLO test.example\r\n");
        self.reply()
    }

    /// A whole transaction; returns the per-recipient replies to DATA.
    fn deliver(&mut self, from: &str, to: &[&str], message: &[u8]) -> Vec<String> {
        self.expect(&format!("MAIL FROM:<{from}>"), "250 2.1.0");
        for recipient in to {
            self.expect(&format!("RCPT TO:<{recipient}>"), "250 2.1.5");
        }
        self.expect("DATA", "354");
        self.send_raw(message);
        self.send_raw(b".\r\n");
        to.iter().map(|_| self.line()).collect()
    }
}

/// The items of message 1's one FETCH response, by upper-cased name.
fn fetch(client: &mut Client, what: &str) -> std::collections::BTreeMap<String, String> {
    let untagged = client.ok(&format!("FETCH 1 ({what})"));
    fetch_items(fetch_of(&untagged, 1)).into_iter().map(|(name, value)| (name.to_ascii_uppercase(), value)).collect()
}

fn check(server: &Server) -> String {
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok && stdout.contains("no damage found"), "roost check: {stdout}{stderr}");
    stdout
}

fn exists(client: &mut Client, mailbox: &str) -> u32 {
    status(client, mailbox, "MESSAGES")
}

#[test]
fn lhlo_advertises_the_extensions_and_bad_sequences_are_refused() {
    let server = Server::start();
    let mut lmtp = Lmtp::unix(&server);
    lmtp.expect("MAIL FROM:<>", "503 5.5.1");
    lmtp.expect("EHLO test.example", "500 5.5.1");
    let lhlo = lmtp.lhlo();
    for capability in ["250-PIPELINING", "250-ENHANCEDSTATUSCODES", "250-8BITMIME"] {
        assert!(lhlo.iter().any(|line| line == capability), "{lhlo:?}");
    }
    assert!(lhlo.last().unwrap().starts_with("250 SIZE "), "{lhlo:?}");
    lmtp.expect("NOOP", "250 2.0.0");
    lmtp.expect("VRFY alice", "252 2.5.0");
    lmtp.expect("STARTTLS", "500 5.5.1");
    lmtp.expect("RCPT TO:<alice>", "503 5.5.1");
    lmtp.expect("DATA", "503 5.5.1");
    lmtp.expect("MAIL FROM:bob@example.org", "501 5.1.7");
    lmtp.expect("MAIL FROM:<> SMTPUTF8", "555 5.5.4");
    lmtp.expect(&format!("NOOP {}", "x".repeat(2000)), "500 5.5.2");
    lmtp.expect("MAIL FROM:<bob@example.org>", "250 2.1.0");
    lmtp.expect("MAIL FROM:<bob@example.org>", "503 5.5.1");
    // No valid recipient: no DATA (RFC 2033 §4.2).
    lmtp.expect("RCPT TO:<nobody@example.org>", "550 5.1.1 <nobody@example.org> User unknown");
    lmtp.expect("DATA", "503 5.5.1");
    lmtp.expect("QUIT", "221 2.0.0");
}

#[test]
fn one_recipient_gets_return_path_delivered_to_and_recent() {
    let server = Server::start();
    // A session already watching INBOX sees the delivery; it is the first,
    // so the message is \Recent to it.
    let mut watcher = server.alice_inbox();
    let mut lmtp = Lmtp::unix(&server);
    lmtp.lhlo();
    let message = b"From: Bob <bob@example.org>\nSubject: stuffed\n\n..leading dot\n..\nbare LF lines\r\n";
    let replies = lmtp.deliver("bob@example.org", &["Alice+Family@Example.org"], message);
    assert_eq!(replies, vec!["250 2.0.0 <Alice+Family@Example.org> Delivered"]);
    let untagged = watcher.ok("NOOP");
    assert!(untagged.iter().any(|line| line == "* 1 EXISTS"), "{untagged:?}");
    assert!(untagged.iter().any(|line| line == "* 1 RECENT"), "{untagged:?}");
    let fetched = fetch(&mut watcher, "FLAGS RFC822.SIZE BODY.PEEK[]");
    assert!(flag_set(&fetched["FLAGS"]).contains("\\Recent"), "{fetched:?}");
    let expected = "Return-Path: <bob@example.org>\r\nDelivered-To: Alice+Family@Example.org\r\n\
                    From: Bob <bob@example.org>\r\nSubject: stuffed\r\n\r\n.leading dot\r\n.\r\nbare LF lines\r\n";
    assert_eq!(fetched["BODY[]"], expected);
    assert_eq!(fetched["RFC822.SIZE"], expected.len().to_string());
    // Shown as recent once only.
    let mut second = server.alice_inbox();
    let fetched = fetch(&mut second, "FLAGS");
    assert!(!flag_set(&fetched["FLAGS"]).contains("\\Recent"), "{fetched:?}");
    check(&server);
}

#[test]
fn several_recipients_one_copy_and_one_reply_each() {
    let server = Server::start();
    let mut lmtp = Lmtp::unix(&server);
    lmtp.lhlo();
    lmtp.expect("MAIL FROM:<carol@example.org> BODY=8BITMIME", "250 2.1.0");
    lmtp.expect("RCPT TO:<alice@example.org>", "250 2.1.5");
    lmtp.expect("RCPT TO:<nobody@example.org>", "550 5.1.1 <nobody@example.org> User unknown");
    lmtp.expect("RCPT TO:<BOB>", "250 2.1.5");
    lmtp.expect("DATA", "354");
    lmtp.send_raw(&message("family", "dinner at eight"));
    lmtp.send_raw(b".\r\n");
    // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
    assert_eq!(lmtp.line(), "250 2.0.0 <alice@example.org> Delivered");
    assert_eq!(lmtp.line(), "250 2.0.0 <BOB> Delivered");
    lmtp.expect("NOOP", "250 2.0.0");
    for (user, password) in [("alice", "secret"), ("bob", "hunter2")] {
        let mut client = server.login(user, password);
        client.ok("SELECT INBOX");
        let header = fetch(&mut client, "BODY.PEEK[HEADER]").remove("BODY[HEADER]").unwrap();
        // The header as stored: the server's Return-Path, then the message's own.
        assert!(header.starts_with("Return-Path: <carol@example.org>\r\n"), "{user}: {header}");
        // Stored once for both: no per-recipient header, and none telling
        // one recipient who else got it.
        assert!(!header.contains("Delivered-To"), "{user}: {header}");
    }
    let report = check(&server);
    assert!(report.contains("2 message(s), 1 blob(s)"), "{report}");
    // One copy expunged: the other stays, still sharing the blob.
    let mut alice = server.alice_inbox();
    alice.ok("STORE 1 +FLAGS (\\Deleted)");
    alice.ok("EXPUNGE");
    let report = check(&server);
    assert!(report.contains("1 message(s), 1 blob(s)"), "{report}");
    let mut bob = server.login("bob", "hunter2");
    bob.ok("SELECT INBOX");
    bob.ok("STORE 1 +FLAGS (\\Deleted)");
    bob.ok("EXPUNGE");
    let report = check(&server);
    assert!(report.contains("0 message(s), 0 blob(s)"), "{report}");
}

#[test]
fn pipelined_commands_in_one_write() {
    let server = Server::start();
    let mut lmtp = Lmtp::unix(&server);
    let mut batch = b"LHLO test.example\r\nMAIL FROM:<bob@example.org>\r\nRCPT TO:<alice>\r\nRCPT TO:<nobody>\r\n\
                      RCPT TO:<bob>\r\nDATA\r\n"
        .to_vec();
    batch.extend_from_slice(&message("pipelined", "all at once"));
    batch.extend_from_slice(b".\r\nRSET\r\nQUIT\r\n");
    lmtp.send_raw(&batch);
    assert!(lmtp.reply().last().unwrap().starts_with("250 SIZE"));
    let expected = [
        "250 2.1.0",
        "250 2.1.5",
        "550 5.1.1",
        "250 2.1.5",
        "354",
        "250 2.0.0 <alice>",
        "250 2.0.0 <bob>",
        "250 2.0.0",
        "221 2.0.0",
    ];
    for start in expected {
        let line = lmtp.line();
        assert!(line.starts_with(start), "{line:?}, expected {start:?}");
    }
    let mut alice = server.alice_inbox();
    assert_eq!(
        fetch(&mut alice, "BODY.PEEK[HEADER.FIELDS (SUBJECT)]")["BODY[HEADER.FIELDS (SUBJECT)]"],
        "Subject: pipelined\r\n\r\n"
    );
}

#[test]
fn rset_ends_the_transaction() {
    let server = Server::start();
    let mut lmtp = Lmtp::unix(&server);
    lmtp.lhlo();
    lmtp.expect("MAIL FROM:<bob@example.org>", "250");
    lmtp.expect("RCPT TO:<alice>", "250");
    lmtp.expect("RSET", "250 2.0.0");
    lmtp.expect("DATA", "503 5.5.1");
    let replies = lmtp.deliver("", &["alice"], &message("after rset", "x"));
    assert_eq!(replies, vec!["250 2.0.0 <alice> Delivered"]);
    let mut alice = server.alice_inbox();
    assert!(fetch(&mut alice, "BODY.PEEK[HEADER]")["BODY[HEADER]"].starts_with("Return-Path: <>\r\n"));
}

#[test]
fn too_big_is_refused_by_size_parameter_and_while_streaming() {
    let options = Options { extra_limits: "literal_size = 4096".into(), ..Default::default() };
    let server = Server::start_with(options);
    let mut lmtp = Lmtp::unix(&server);
    assert_eq!(lmtp.lhlo().last().unwrap(), "250 SIZE 4096");
    lmtp.expect("MAIL FROM:<bob@example.org> SIZE=5000", "552 5.3.4");
    lmtp.expect("RCPT TO:<alice>", "503 5.5.1");
    // No SIZE given: found while streaming, read to the end, nothing stored.
    lmtp.expect("MAIL FROM:<bob@example.org> SIZE=100", "250");
    lmtp.expect("RCPT TO:<alice>", "250");
    lmtp.expect("RCPT TO:<bob>", "250");
    lmtp.expect("DATA", "354");
    let body = "0123456789abcdef\r\n".repeat(400);
    lmtp.send_raw(&message("big", &body));
    lmtp.send_raw(b".\r\n");
    assert!(lmtp.line().starts_with("552 5.3.4 <alice>"));
    assert!(lmtp.line().starts_with("552 5.3.4 <bob>"));
    lmtp.expect("NOOP", "250 2.0.0");
    let mut alice = server.login("alice", "secret");
    assert_eq!(exists(&mut alice, "INBOX"), 0);
    let report = check(&server);
    assert!(report.contains("0 message(s), 0 blob(s)"), "{report}");
}

#[test]
fn a_connection_dropped_mid_data_stores_nothing() {
    // Small store writes, so part of the message reaches the store first.
    let options = Options { extra_limits: "append_chunk = 16000".into(), ..Default::default() };
    let server = Server::start_with(options);
    let mut lmtp = Lmtp::unix(&server);
    lmtp.lhlo();
    lmtp.expect("MAIL FROM:<bob@example.org>", "250");
    lmtp.expect("RCPT TO:<alice>", "250");
    lmtp.expect("DATA", "354");
    lmtp.send_raw(&message("cut", &"a long line of text\r\n".repeat(10_000)));
    drop(lmtp);
    // The pending upload is discarded as soon as the session notices.
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let report = check(&server);
        if !report.contains("unfinished") {
            assert!(report.contains("0 message(s), 0 blob(s)"), "{report}");
            break;
        }
        assert!(Instant::now() < deadline, "the upload was never discarded: {report}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut alice = server.login("alice", "secret");
    assert_eq!(exists(&mut alice, "INBOX"), 0);
}

#[test]
fn long_data_lines_stream_through() {
    let server = Server::start();
    let mut lmtp = Lmtp::unix(&server);
    lmtp.lhlo();
    let long = "y".repeat(200_000);
    let replies = lmtp.deliver("", &["alice"], &message("long", &long));
    assert_eq!(replies, vec!["250 2.0.0 <alice> Delivered"]);
    let mut alice = server.alice_inbox();
    assert_eq!(fetch(&mut alice, "BODY.PEEK[TEXT]")["BODY[TEXT]"], format!("{long}\r\n"));
}

#[test]
fn an_acknowledged_delivery_survives_sigkill() {
    let mut server = Server::start();
    let mut lmtp = Lmtp::unix(&server);
    lmtp.lhlo();
    let replies = lmtp.deliver("bob@example.org", &["alice", "bob"], &message("durable", "kill -9 me"));
    assert!(replies.iter().all(|reply| reply.starts_with("250 ")), "{replies:?}");
    server.kill();
    server.spawn();
    for (user, password) in [("alice", "secret"), ("bob", "hunter2")] {
        let mut client = server.login(user, password);
        client.ok("SELECT INBOX");
        assert_eq!(fetch(&mut client, "BODY.PEEK[TEXT]")["BODY[TEXT]"], "kill -9 me\r\n", "{user}");
    }
    check(&server);
}

#[test]
fn no_disk_space_is_a_temporary_failure() {
    let mut server = Server::start();
    server.stop();
    // Users exist; now a reserve no disk can meet.
    let text = std::fs::read_to_string(&server.config).unwrap();
    std::fs::write(&server.config, text.replace("[limits]", "[limits]\nmin_free_disk = 1000000000000000000")).unwrap();
    server.spawn();
    let mut lmtp = Lmtp::unix(&server);
    lmtp.lhlo();
    let replies = lmtp.deliver("", &["alice", "bob"], &message("full", "disk"));
    assert_eq!(
        replies,
        vec![
            "452 4.3.1 <alice> Insufficient system storage; try again later",
            "452 4.3.1 <bob> Insufficient system storage; try again later"
        ]
    );
    let (code, _, stderr) = roost_deliver(&server, &["--user", "alice"], b"Subject: x\n\nbody\n");
    assert_eq!(code, 75, "{stderr}");
}

#[test]
fn tcp_listener_when_configured() {
    let plain = Server::start();
    assert_eq!(plain.lmtp_port, None, "TCP must be off by default");
    drop(plain);
    let options = Options { extra_tables: "[lmtp]\nlisten = [\"127.0.0.1:0\"]".into(), ..Default::default() };
    let server = Server::start_with(options);
    let port = server.lmtp_port.expect("LMTP TCP port logged");
    let mut lmtp = Lmtp::tcp(port);
    lmtp.lhlo();
    let replies = lmtp.deliver("bob@example.org", &["alice"], &message("over tcp", "hello"));
    assert_eq!(replies, vec!["250 2.0.0 <alice> Delivered"]);
    let mut alice = server.alice_inbox();
    let header = fetch(&mut alice, "BODY.PEEK[HEADER]").remove("BODY[HEADER]").unwrap();
    assert!(header.contains("\r\nSubject: over tcp\r\n"), "{header}");
}

/// Runs `roost deliver` with `arguments` and `stdin`; (exit code, stdout, stderr).
fn roost_deliver(server: &Server, arguments: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(BINARY)
        .arg("deliver")
        .args(arguments)
        .args(["--config", &server.config_arg()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refused delivery may end before reading stdin.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn roost_deliver_exit_codes() {
    let options = Options { extra_limits: "literal_size = 4096".into(), ..Default::default() };
    let mut server = Server::start_with(options);
    let input = b"From: bob@example.org\nSubject: piped\n\n.dot first\n.\nend\n";
    let (code, _, stderr) = roost_deliver(&server, &["--user", "alice", "-f", "bob@example.org"], input);
    assert_eq!(code, 0, "{stderr}");
    let mut alice = server.alice_inbox();
    let text = fetch(&mut alice, "BODY.PEEK[]").remove("BODY[]").unwrap();
    let expected = "Return-Path: <bob@example.org>\r\nDelivered-To: alice\r\nFrom: bob@example.org\r\n\
                    Subject: piped\r\n\r\n.dot first\r\n.\r\nend\r\n";
    assert_eq!(text, expected);
    drop(alice);

    let (code, _, stderr) = roost_deliver(&server, &["--user", "nobody"], input);
    assert_eq!(code, 67, "{stderr}");
    assert!(stderr.contains("User unknown"), "{stderr}");
    let (code, _, stderr) = roost_deliver(&server, &[], input);
    assert_eq!(code, 64, "{stderr}");

    let big = format!("Subject: big\n\n{}\n", "z".repeat(100_000));
    let (code, _, stderr) = roost_deliver(&server, &["--user", "alice"], big.as_bytes());
    assert_eq!(code, 73, "{stderr}");

    server.stop();
    let (code, _, stderr) = roost_deliver(&server, &["--user", "alice"], input);
    assert_eq!(code, 75, "{stderr}");
    assert!(stderr.contains("is `roost serve` running?"), "{stderr}");
}

#[test]
fn sigterm_says_421_and_stops_cleanly() {
    let mut server = Server::start();
    let mut lmtp = Lmtp::unix(&server);
    lmtp.lhlo();
    let status = server.stop();
    assert!(status.success(), "{status:?}");
    assert_eq!(lmtp.line(), "421 4.3.2 Server shutting down");
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok && stdout.contains("no damage found"), "offline check: {stdout}{stderr}");
}

/// A delivery wakes every idling session of each recipient at once.
#[test]
fn a_delivery_wakes_idling_sessions() {
    let server = Server::start();
    let mut idlers: Vec<(Client, String)> = ["alice", "bob", "alice"]
        .iter()
        .map(|user| {
            let password = if *user == "alice" { "secret" } else { "hunter2" };
            let mut client = server.login(user, password);
            client.ok("SELECT INBOX");
            let tag = client.next_tag();
            client.send(&format!("{tag} IDLE"));
            assert!(client.read_line().starts_with("+ "));
            (client, tag)
        })
        .collect();
    let mut lmtp = Lmtp::unix(&server);
    lmtp.lhlo();
    let replies = lmtp.deliver("mum@example.org", &["alice", "bob"], b"Subject: dinner\r\n\r\nat seven\r\n");
    assert!(replies.iter().all(|reply| reply.starts_with("250 2.0.0")), "{replies:?}");
    for (client, tag) in &mut idlers {
        assert_eq!(client.read_line(), "* 1 EXISTS");
        client.send("DONE");
        let (_, tagged) = client.until_tagged(tag);
        assert!(tagged.starts_with("OK"), "{tagged}");
    }
}

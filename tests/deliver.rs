//! `roost deliver` as MTAs run it (issue 17): Postfix's `mailbox_command`
//! input (an mbox `From ` line and a Return-Path of its own), a socket the
//! command may not open, and the server's log line for each refused
//! delivery. tests/lmtp.rs has the exit codes and the LMTP protocol.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use common::*;

/// Runs `roost deliver ARGUMENTS --config ...` with `stdin`, through
/// `wrapper` (e.g. setpriv) if given; (exit code, stderr).
fn deliver_as(wrapper: &[&str], server: &Server, arguments: &[&str], stdin: &[u8]) -> (i32, String) {
    let config = server.config_arg();
    let mut words: Vec<&str> = wrapper.to_vec();
    words.extend_from_slice(&[BINARY, "deliver"]);
    words.extend_from_slice(arguments);
    words.extend_from_slice(&["--config", &config]);
    let mut child = Command::new(words[0])
        .args(&words[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refused delivery may end before reading stdin.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let output = child.wait_with_output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn deliver(server: &Server, arguments: &[&str], stdin: &[u8]) -> (i32, String) {
    deliver_as(&[], server, arguments, stdin)
}

/// Message `sequence` of alice's INBOX, whole.
fn stored(server: &Server, sequence: u32) -> String {
    let mut alice = server.alice_inbox();
    let untagged = alice.ok(&format!("FETCH {sequence} BODY.PEEK[]"));
    item(fetch_of(&untagged, sequence), "BODY[]")
}

/// What Postfix's local(8) pipes to a `mailbox_command`: the mbox
/// separator, then Return-Path, X-Original-To and Delivered-To.
const FROM_POSTFIX: &[u8] = b"From bob@example.org  Sun Dec  6 20:42:36 2026\n\
Return-Path: <bob@example.org>\n\
X-Original-To: alice@home.example\n\
Delivered-To: alice@home.example\n\
From: Bob <bob@example.org>\n\
Subject: from postfix\n\
\n\
From the body, kept.\n\
Return-Path: <body@example.org> (not a header: kept)\n";

#[test]
fn the_mbox_line_goes_and_one_return_path_stays() {
    let server = Server::start();
    let (code, stderr) = deliver(&server, &["--user", "alice"], FROM_POSTFIX);
    assert_eq!(code, 0, "{stderr}");
    // The message's Return-Path named the sender: the server's one says it.
    let expected = "Return-Path: <bob@example.org>\r\nDelivered-To: alice\r\n\
                    X-Original-To: alice@home.example\r\nDelivered-To: alice@home.example\r\n\
                    From: Bob <bob@example.org>\r\nSubject: from postfix\r\n\r\n\
                    From the body, kept.\r\nReturn-Path: <body@example.org> (not a header: kept)\r\n";
    assert_eq!(stored(&server, 1), expected);
    server.wait_for_log("bytes from <bob@example.org> to alice");

    // -f names the envelope sender: it wins over the message's field,
    // which still goes.
    let (code, stderr) = deliver(&server, &["--user", "alice", "-f", "<bounce@example.org>"], FROM_POSTFIX);
    assert_eq!(code, 0, "{stderr}");
    let text = stored(&server, 2);
    assert!(text.starts_with("Return-Path: <bounce@example.org>\r\nDelivered-To: alice\r\nX-Original-To:"), "{text}");
    assert_eq!(text.matches("\nReturn-Path:").count(), 1, "only the body's line: {text}");

    // Only the mbox line: nothing to deliver.
    let (code, stderr) = deliver(&server, &["--user", "alice"], b"From bob@example.org Sun Dec  6 20:42:36 2026\n");
    assert_eq!(code, 65, "{stderr}");
}

#[test]
fn a_socket_it_may_not_open_is_a_permission_problem() {
    let server = Server::start();
    let input = b"Subject: x\n\nbody\n";
    let root = rustix::process::getuid().is_root();
    let (code, stderr) = if root {
        // Root opens any socket: run the command as nobody, which the
        // data directory (0700, root's) keeps out, as it keeps out a
        // mailbox_command running as the recipient.
        let wrapper = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];
        deliver_as(&wrapper, &server, &["--user", "alice"], input)
    } else {
        use std::os::unix::fs::PermissionsExt;
        let socket = server.lmtp_socket();
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o000)).unwrap();
        deliver(&server, &["--user", "alice"], input)
    };
    assert_eq!(code, 75, "{stderr}");
    assert!(
        stderr.contains(&format!("permission denied on the LMTP socket {}", server.lmtp_socket().display())),
        "{stderr}"
    );
    assert!(stderr.contains("group roost"), "{stderr}");
    assert!(!stderr.contains("running?"), "{stderr}");
}

#[test]
fn refused_deliveries_are_logged_with_recipient_and_reason() {
    let options = Options { extra_limits: "literal_size = 4096".into(), ..Default::default() };
    let server = Server::start_with(options);
    // Unknown user, through roost deliver.
    let (code, _) = deliver(&server, &["--user", "nobody", "-f", "spam@example.org"], b"Subject: x\n\nx\n");
    assert_eq!(code, 67);
    server.wait_for_log("lmtp local: refused mail from <spam@example.org> to <nobody>: 550 5.1.1 User unknown");
    // Too big while streaming.
    let big = format!("Subject: big\n\n{}\n", "z".repeat(10_000));
    let (code, _) = deliver(&server, &["--user", "alice", "-f", "big@example.org"], big.as_bytes());
    assert_eq!(code, 73);
    server.wait_for_log("refused mail from <big@example.org> to <alice>: 552 5.3.4 over the limit of 4096 bytes");
    // A mailbox that does not exist (roost deliver's X-MAILBOX).
    let (code, _) =
        deliver(&server, &["--user", "alice", "--mailbox", "Nope", "-f", "x@example.org"], b"Subject: x\n\nx\n");
    assert_eq!(code, 67);
    server.wait_for_log("refused mail from <x@example.org> to <alice>: 550 5.1.1 No such mailbox");
    // Too big by its declared SIZE: refused at MAIL, before any recipient.
    let mut stream = UnixStream::connect(server.lmtp_socket()).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.write_all(b"LHLO test.example\r\nMAIL FROM:<huge@example.org> SIZE=999999\r\nQUIT\r\n").unwrap();
    let mut replies = String::new();
    stream.read_to_string(&mut replies).unwrap();
    assert!(replies.contains("\r\n552 5.3.4 "), "{replies}");
    server.wait_for_log(
        "refused mail from <huge@example.org>: 552 5.3.4 declared size 999999 over the limit of 4096 bytes",
    );
}

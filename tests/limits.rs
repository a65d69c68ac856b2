//! The board's limits as a client meets them: line and literal sizes
//! (RFC 7888 §4, RFC 7889, RFC 4469 TOOBIG), connection counts, login and
//! idle timeouts; and input no server should choke on.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// A plain connection whose greeting has not been read.
fn raw_connect(port: u16) -> Client {
    Client::new(Transport::Plain(TcpStream::connect(("127.0.0.1", port)).unwrap()))
}

/// Connects until the server greets with OK again (slots are given back
/// when a session's task ends, a moment after its socket closes).
fn connect_when_allowed(server: &Server) -> Client {
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        let mut client = raw_connect(server.imap_port);
        let greeting = client.read_line();
        if greeting.starts_with("* OK") {
            return client;
        }
        assert!(greeting.starts_with("* BYE"), "{greeting}");
        assert!(Instant::now() < deadline, "the server never took a connection again");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What arrives until the server closes the connection (after any
/// buffered lines were read); Err if it is still open after `seconds`.
fn read_until_closed(client: &mut Client, seconds: u64) -> Result<String, String> {
    if let Transport::Plain(stream) = client.transport() {
        stream.set_read_timeout(Some(Duration::from_secs(seconds))).unwrap();
    }
    let mut rest = Vec::new();
    match std::io::Read::read_to_end(client.transport(), &mut rest) {
        Ok(_) => Ok(String::from_utf8_lossy(&rest).into_owned()),
        Err(error) => Err(format!("{error} after {:?}", String::from_utf8_lossy(&rest))),
    }
}

fn messages_in_inbox(client: &mut Client) -> u32 {
    status(client, "INBOX", "MESSAGES")
}

fn assert_running(server: &mut Server) {
    let child = server.child.as_mut().expect("started");
    assert!(child.try_wait().unwrap().is_none(), "roost exited; log:\n{}", server.log_text());
}

/// Logs in, appends, fetches: the server still does its job.
fn still_serves(server: &Server) {
    let mut client = server.alice_inbox();
    let uid = client.append_ok("INBOX", &message("alive", "still here"));
    let untagged = client.ok(&format!("UID FETCH {uid} BODY.PEEK[TEXT]"));
    let fetched = fetches(&untagged);
    assert_eq!(fetched.len(), 1, "{untagged:?}");
    assert_eq!(item(fetched[0].1, "BODY[TEXT]"), "still here\r\n", "{untagged:?}");
    client.ok("LOGOUT");
}

#[test]
fn an_overlong_command_line_gets_toobig_and_the_session_goes_on() {
    let server = with_limits("line_length = 8192");
    let mut client = server.connect();
    let (_, tagged) = client.command(&format!("NOOP {}", "x".repeat(10_000)));
    assert!(tagged.starts_with("BAD [TOOBIG]"), "{tagged}");
    client.ok("NOOP");
    client.ok("LOGIN alice secret");
    client.ok("SELECT INBOX");
    let (_, tagged) = client.command(&format!("SEARCH SUBJECT \"{}\"", "y".repeat(1 << 20)));
    assert!(tagged.starts_with("BAD [TOOBIG]"), "{tagged}");
    // Just under the limit is an ordinary command.
    let untagged = client.ok(&format!("SEARCH SUBJECT \"{}\"", "z".repeat(8000)));
    assert_eq!(search_result(&untagged), Vec::<u32>::new());
    client.ok("NOOP");
    // A line too long that ends in a synchronizing literal: the client
    // waits for a continuation that does not come; nothing is lost.
    client.send(&format!("t90 SEARCH SUBJECT {} {{5}}", "w".repeat(10_000)));
    let line = client.read_line();
    assert!(line.starts_with("t90 BAD [TOOBIG]"), "{line}");
    client.ok("NOOP");
}

#[test]
fn a_synchronizing_literal_over_the_line_limit_is_refused_without_continuation() {
    let server = with_limits("line_length = 8192");
    let mut client = server.connect();
    client.send("t1 LOGIN {100000}");
    let line = client.read_line();
    assert!(line.starts_with("t1 BAD [TOOBIG]"), "no '+' for a literal that cannot fit: {line}");
    client.ok("NOOP");
    client.ok("LOGIN alice secret");
    client.ok("SELECT INBOX");

    // The first literal fits, the second would not: refused before it is sent.
    client.send("t2 SEARCH SUBJECT {5000}");
    assert!(client.read_line().starts_with('+'));
    client.send_raw(&vec![b'a'; 5000]);
    client.send_raw(b" SUBJECT {5000}\r\n");
    let line = client.read_line();
    assert!(line.starts_with("t2 BAD [TOOBIG]"), "{line}");
    client.ok("NOOP");
    // Literals that fit still work.
    client.send("t3 SEARCH SUBJECT {3}");
    assert!(client.read_line().starts_with('+'));
    client.send_raw(b"abc\r\n");
    let (_, tagged) = client.until_tagged("t3");
    assert!(tagged.starts_with("OK"), "{tagged}");
}

#[test]
fn a_non_synchronizing_literal_over_the_line_limit_ends_the_connection() {
    let server = with_limits("line_length = 8192");
    let mut client = server.connect();
    client.send("t1 LOGIN {100000+}");
    let rest = client.read_to_end();
    let replies = Responses::transcript(&rest);
    assert!(replies.tagged("t1").is("BAD") && replies.tagged("t1").code().is("TOOBIG"), "{rest:?}");
    let bad = replies.0.iter().position(|reply| matches!(reply, Reply::Tagged { tag, .. } if tag == "t1"));
    let bye = replies.0.iter().position(|reply| matches!(reply, Reply::Untagged(untagged) if untagged.is("BYE")));
    assert!(bye.is_some() && bad < bye, "BAD, then BYE: {rest:?}");

    // So does a line too long whose end announces a LITERAL+ literal.
    let mut client = server.connect();
    client.send(&format!("t2 NOOP {} {{5+}}", "x".repeat(10_000)));
    let rest = client.read_to_end();
    let replies = Responses::transcript(&rest);
    let first = matches!(&replies.0[0], Reply::Tagged { tag, status } if tag == "t2" && status.is("BAD") && status.code().is("TOOBIG"));
    assert!(first && !replies.untagged("BYE").is_empty(), "{rest:?}");
    still_serves(&server);
}

#[test]
fn append_is_bounded_by_literal_size_not_by_line_length() {
    let server = with_limits("line_length = 8192\nliteral_size = 16384");
    let mut client = server.alice_inbox();
    let capabilities = capabilities(&mut client);
    assert!(capabilities.contains("APPENDLIMIT=16384"), "{capabilities:?}");
    // Larger than a command line may be, within the message limit.
    let mut big = message("big", &"b".repeat(12_000));
    client.append_ok("INBOX", &big);
    // Over the message limit: refused before the continuation.
    big.extend_from_slice(&vec![b'c'; 8000]);
    let (_, tagged) = client.append("INBOX", "", &big);
    assert!(tagged.starts_with("NO [TOOBIG]"), "{tagged}");
    client.ok("NOOP");
    // With LITERAL+ the bytes come anyway; they are read and dropped.
    client.send_raw(format!("t50 APPEND INBOX {{{}+}}\r\n", big.len()).as_bytes());
    client.send_raw(&big);
    client.send_raw(b"\r\n");
    let (_, tagged) = client.until_tagged("t50");
    assert!(tagged.starts_with("NO [TOOBIG]"), "{tagged}");
    client.ok("NOOP");
    assert_eq!(messages_in_inbox(&mut client), 1);
}

#[test]
fn connections_over_the_per_ip_limit_get_bye_at_once() {
    // 127.0.0.1 is in the default never_limit list: limit it here.
    let server = with_limits("max_connections_per_ip = 3\nnever_limit = []");
    let mut first = server.connect();
    let _second = server.login("alice", "secret");
    let _third = server.connect();
    let mut fourth = raw_connect(server.imap_port);
    let line = fourth.read_line();
    assert!(line.starts_with("* BYE"), "{line}");
    assert_eq!(fourth.read_to_end(), "", "and the connection closes");
    // The implicit-TLS port counts too: closed without a word.
    let mut tls = raw_connect(server.imaps_port);
    assert_eq!(tls.read_to_end(), "");

    first.ok("LOGOUT");
    let mut again = connect_when_allowed(&server);
    again.ok("LOGIN bob hunter2");
}

#[test]
fn connections_over_the_total_limit_get_bye_at_once() {
    // 127.0.0.1 (never_limit) counts in the total but never as pre-auth, so
    // its connections are not closed to make room: the newcomer is refused.
    // (Closing the oldest pre-auth connection instead: tests/preauth.rs.)
    let server = with_limits("max_connections = 2\nmax_preauth_connections = 2");
    let _first = server.connect();
    let mut second = server.connect();
    let mut third = raw_connect(server.imap_port);
    let line = third.read_line();
    assert!(line.starts_with("* BYE"), "{line}");
    assert_eq!(third.read_to_end(), "");
    second.shutdown();
    drop(second);
    connect_when_allowed(&server).ok("LOGIN alice secret");
}

#[test]
fn logins_over_the_per_user_limit_get_no_limit() {
    let server = with_limits("max_connections_per_user = 2");
    let mut first = server.login("alice", "secret");
    let _second = server.login("Alice", "secret");
    let mut third = server.connect();
    let tagged = third.no("LOGIN alice secret");
    assert!(tagged.starts_with("NO [LIMIT]"), "{tagged}");
    let (_, tagged) = third.command("AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==");
    assert!(tagged.starts_with("NO [LIMIT]"), "{tagged}");
    // Not a failed login: other users may log in on the same connection.
    third.ok("LOGIN bob hunter2");

    first.ok("LOGOUT");
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut fourth = server.connect();
    loop {
        let (_, tagged) = fourth.command("LOGIN alice secret");
        if tagged.starts_with("OK") {
            break;
        }
        assert!(tagged.starts_with("NO [LIMIT]") && Instant::now() < deadline, "{tagged}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_idle_unauthenticated_connection_gets_bye_after_login_timeout() {
    let server = with_limits("login_timeout = 1");
    // Logged in: login_timeout no longer applies.
    let mut logged_in = server.login("alice", "secret");
    let mut idle = server.connect();
    let line = idle.read_line();
    assert!(line.starts_with("* BYE"), "{line}");
    assert_eq!(idle.read_to_end(), "", "and the connection closes");
    // A TLS connection that never starts its handshake is dropped too.
    let mut tls = raw_connect(server.imaps_port);
    assert_eq!(tls.read_to_end(), "");
    // So is one that asks for STARTTLS and then says nothing.
    let mut starttls = server.connect();
    starttls.ok("STARTTLS");
    assert_eq!(starttls.read_to_end(), "");
    std::thread::sleep(Duration::from_millis(500));
    logged_in.ok("NOOP");
    logged_in.ok("SELECT INBOX");
}

#[test]

fn login_timeout_is_a_deadline_not_an_idle_timer() {
    let server = with_limits("login_timeout = 1");
    let mut client = server.connect();
    // Busy but never logging in; the board says "seconds to log in".
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(300));
        client.send("k NOOP");
        let line = client.read_line();
        if line.starts_with("* BYE") {
            assert_eq!(client.read_to_end().lines().filter(|line| line.starts_with("k OK")).count(), 0);
            return;
        }
        assert!(line.starts_with("k OK"), "{line}");
    }
    panic!("still not logged out after 20 NOOPs over 6 s with login_timeout = 1");
}

#[test]

fn a_client_silent_during_authenticate_gets_bye() {
    let server = with_limits("login_timeout = 1");
    let mut client = server.connect();
    client.send("a1 AUTHENTICATE PLAIN");
    assert!(client.read_line().starts_with('+'));
    let rest = client.read_to_end();
    assert!(rest.starts_with("* BYE"), "{rest:?}");
}

#[test]
fn an_idle_authenticated_connection_gets_bye_after_idle_timeout() {
    let server = with_limits("idle_timeout = 1");
    let mut client = server.alice_inbox();
    let line = client.read_line();
    assert!(line.starts_with("* BYE"), "{line}");
    assert_eq!(client.read_to_end(), "");
    still_serves(&server);
}

#[test]

fn a_client_stalled_in_the_middle_of_append_is_logged_out() {
    let server = with_limits("idle_timeout = 1");
    let mut client = server.login("alice", "secret");
    client.send("t1 APPEND INBOX {100}");
    assert!(client.read_line().starts_with('+'));
    client.send_raw(b"Subject: stalled\r\n");
    let rest = read_until_closed(&mut client, 6).expect("still open after 6 s with idle_timeout = 1");
    assert!(rest.starts_with("* BYE"), "{rest:?}");
    let mut client = server.login("alice", "secret");
    assert_eq!(messages_in_inbox(&mut client), 0);
}

#[test]

fn an_unauthenticated_client_stalled_in_a_refused_append_literal_is_dropped() {
    let server = with_limits("login_timeout = 1");
    let mut client = server.connect();
    client.send_raw(b"t1 APPEND INBOX {1000+}\r\nSubject: stalled\r\n");
    read_until_closed(&mut client, 6).expect("still open after 6 s with login_timeout = 1");
}

#[test]
fn a_client_gone_in_the_middle_of_append_leaves_nothing_behind() {
    let server = Server::start();
    let mut observer = server.alice_inbox();
    observer.append_ok("INBOX", &message("kept", "the one message"));
    observer.ok("NOOP");

    let mut client = server.login("alice", "secret");
    client.send("t1 APPEND INBOX (\\Seen) {1000000}");
    assert!(client.read_line().starts_with('+'));
    let partial = message("lost", &"l".repeat(300_000));
    client.send_raw(&partial);
    client.shutdown();
    drop(client);

    // MULTIAPPEND is all or nothing: the first message, complete, goes too.
    let mut client = server.login("alice", "secret");
    let first = message("first-of-two", "complete");
    client.send(&format!("t2 APPEND INBOX {{{}}}", first.len()));
    assert!(client.read_line().starts_with('+'));
    client.send_raw(&first);
    client.send_raw(b" {50000}\r\n");
    assert!(client.read_line().starts_with('+'));
    client.send_raw(&vec![b'm'; 20_000]);
    client.shutdown();
    drop(client);

    let mut again = server.login("alice", "secret");
    assert_eq!(messages_in_inbox(&mut again), 1);
    let untagged = observer.ok("NOOP");
    assert!(Responses::of(&untagged).untagged("EXISTS").is_empty(), "{untagged:?}");
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("no damage found"), "{stdout}{stderr}");
    // And appending still works.
    again.append_ok("INBOX", &message("after", "the aborted ones"));
    assert_eq!(messages_in_inbox(&mut again), 2);
}

#[test]
fn garbage_never_takes_the_server_down() {
    let mut server = Server::start();
    // Random binary without a newline, then gone.
    let mut client = server.connect();
    let mut bytes = Rng::new(1).bytes(100 * 1024);
    bytes.retain(|&byte| byte != b'\n');
    client.send_raw(&bytes);
    client.shutdown();
    drop(client);

    // The same, then a line end: one BAD, and the session goes on.
    let mut client = server.connect();
    client.send_raw(&bytes);
    client.send_raw(b"\r\n");
    let line = client.read_line();
    // Tagged, or untagged where the tag could not be read (RFC 9051 §7.1.3).
    let bad = match parse_one(&line) {
        Reply::Tagged { status, .. } => status.is("BAD"),
        Reply::Untagged(untagged) => untagged.is("BAD"),
        Reply::Continuation(_) => false,
    };
    assert!(bad, "{line}");
    client.ok("NOOP");

    // Random binary with newlines, before and after login.
    for (seed, login) in [(2, false), (3, true)] {
        let mut client = if login { server.alice_inbox() } else { server.connect() };
        let mut stream = match client.transport() {
            Transport::Plain(stream) => stream.try_clone().unwrap(),
            _ => unreachable!(),
        };
        let bytes = Rng::new(seed).bytes(100 * 1024);
        // Read the answers while writing, so neither side blocks the other.
        let reader = std::thread::spawn(move || client.read_to_end());
        // The server may hang up first (a stray literal announcement).
        let _ = stream.write_all(&bytes);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let answers = reader.join().unwrap();
        assert!(answers.contains("BAD"), "{seed}: {:?}", &answers[..answers.len().min(500)]);
    }

    // Odd literal announcements.
    let mut client = server.connect();
    for line in [
        "t1 LOGIN {99999999999999999999999}",
        "t2 LOGIN {18446744073709551615}",
        "t3 LOGIN {9999999999999999999}",
        "t4 APPEND INBOX {-1}",
        "t5 APPEND INBOX {9999999999999999999}",
    ] {
        client.send(line);
        let answer = client.read_line();
        let tag = line.split(' ').next().unwrap();
        let bad = matches!(parse_one(&answer), Reply::Tagged { tag: answered, status } if answered == tag && status.is("BAD"));
        assert!(bad, "{line}: {answer}");
    }
    client.ok("NOOP");
    let mut client = server.login("alice", "secret");
    client.send("t6 APPEND INBOX {9999999999999999999+}");
    let rest = client.read_to_end();
    assert!(!Responses::transcript(&rest).untagged("BYE").is_empty(), "{rest:?}");
    let mut client = server.connect();
    client.send("t7 LOGIN {9999999999999999999+}");
    let rest = client.read_to_end();
    let replies = Responses::transcript(&rest);
    assert!(replies.tagged("t7").is("BAD") && !replies.untagged("BYE").is_empty(), "{rest:?}");

    // Garbage where TLS is expected.
    let mut tls = TcpStream::connect(("127.0.0.1", server.imaps_port)).unwrap();
    let _ = tls.write_all(&Rng::new(4).bytes(64 * 1024));
    let _ = tls.shutdown(std::net::Shutdown::Both);

    assert_running(&mut server);
    still_serves(&server);
    assert!(!server.log_text().contains("panicked"), "{}", server.log_text());
}

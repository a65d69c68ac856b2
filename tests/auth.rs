//! Logging in: LOGIN (RFC 3501 §6.2.3), AUTHENTICATE PLAIN (RFC 4616) with
//! and without SASL-IR (RFC 4959), LOGINDISABLED and STARTTLS, failure
//! limits, and what the log says.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// The RFC 4616 PLAIN response: authzid NUL authcid NUL password, in base64.
fn plain(authorization: &str, user: &str, password: &str) -> String {
    base64(format!("{authorization}\0{user}\0{password}").as_bytes())
}

fn is_authenticated(client: &mut Client) -> bool {
    let (_, tagged) = client.command("LIST \"\" INBOX");
    tagged.starts_with("OK")
}

#[test]
fn base64_helper_matches_rfc_4616_example() {
    assert_eq!(plain("", "alice", "secret"), "AGFsaWNlAHNlY3JldA==");
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(base64(b"abc"), "YWJj");
}

#[test]
fn login_succeeds_and_a_wrong_password_gets_authenticationfailed() {
    let server = Server::start();
    let mut client = server.connect();
    let tagged = client.no("LOGIN alice wrong");
    assert!(tagged.starts_with("NO [AUTHENTICATIONFAILED]"), "{tagged}");
    assert!(!is_authenticated(&mut client), "still not authenticated");
    client.bad("SELECT INBOX");
    let tagged = client.no("LOGIN alice \"\"");
    assert!(tagged.starts_with("NO [AUTHENTICATIONFAILED]"), "{tagged}");
    // A failure does not spoil the connection.
    let (_, tagged) = client.command("LOGIN alice secret");
    assert!(tagged.starts_with("OK [CAPABILITY IMAP4rev1"), "{tagged}");
    assert!(is_authenticated(&mut client));
    client.ok("SELECT INBOX");

    let mut bob = server.connect();
    bob.ok("LOGIN bob hunter2");
    // Each user sees their own mailboxes.
    client.append_ok("INBOX", &message("for-alice", "x"));
    assert_eq!(status(&mut bob, "INBOX", "MESSAGES"), 0);
}

#[test]
fn user_names_are_case_insensitive_passwords_are_not() {
    let server = Server::start();
    let mut lower = server.login("alice", "secret");
    lower.append_ok("INBOX", &message("mine", "x"));
    for name in ["Alice", "ALICE", "aLiCe", "\"Alice\""] {
        let mut client = server.connect();
        client.ok(&format!("LOGIN {name} secret"));
        assert_eq!(status(&mut client, "INBOX", "MESSAGES"), 1, "{name} is alice");
    }
    let mut client = server.connect();
    for password in ["Secret", "SECRET", "secret ", "secre"] {
        let tagged = client.no(&format!("LOGIN alice \"{password}\""));
        assert!(tagged.starts_with("NO [AUTHENTICATIONFAILED]"), "{password:?}: {tagged}");
    }
    let mut client = server.connect();
    client.ok(&format!("AUTHENTICATE PLAIN {}", plain("", "ALICE", "secret")));
    assert_eq!(status(&mut client, "INBOX", "MESSAGES"), 1);
}

#[test]
fn an_unknown_user_fails_exactly_like_a_wrong_password() {
    let server = Server::start();
    let mut client = server.connect();
    let wrong_password = client.no("LOGIN alice wrong");
    let unknown = client.no("LOGIN mallory secret");
    let invalid_name = client.no("LOGIN \"not a user name!\" secret");
    assert_eq!(unknown, wrong_password, "no hint whether the user exists");
    assert_eq!(invalid_name, wrong_password);
    let mut client = server.connect();
    let (_, unknown) = client.command(&format!("AUTHENTICATE PLAIN {}", plain("", "mallory", "secret")));
    let (_, wrong) = client.command(&format!("AUTHENTICATE PLAIN {}", plain("", "alice", "wrong")));
    assert!(unknown.starts_with("NO [AUTHENTICATIONFAILED]"), "{unknown}");
    assert_eq!(unknown, wrong);
}

#[test]
fn quoted_and_literal_arguments() {
    let options = Options { users: vec![("alice", "secret"), ("carol", "o\"k \\pa{3}ss")], ..Default::default() };
    let server = Server::start_with(options);

    let mut client = server.connect();
    client.ok("LOGIN \"alice\" \"secret\"");

    // Synchronizing literals: each waits for the server's continuation.
    let mut client = server.connect();
    client.send("l1 LOGIN {5}");
    assert!(client.read_line().starts_with("+"), "continuation for the user name");
    client.send_raw(b"alice {6}\r\n");
    assert!(client.read_line().starts_with("+"), "continuation for the password");
    client.send_raw(b"secret\r\n");
    let line = client.read_line();
    assert!(line.starts_with("l1 OK"), "{line}");
    assert!(is_authenticated(&mut client));

    // LITERAL+: no continuations, all in one go.
    let mut client = server.connect();
    client.send_raw(b"l2 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n");
    let line = client.read_line();
    assert!(line.starts_with("l2 OK"), "{line}");

    // A password with a quote, a backslash, a space and braces.
    let mut client = server.connect();
    client.ok("LOGIN carol \"o\\\"k \\\\pa{3}ss\"");
    let mut client = server.connect();
    let password = b"o\"k \\pa{3}ss";
    client.send(&format!("l3 LOGIN carol {{{}}}", password.len()));
    assert!(client.read_line().starts_with("+"));
    client.send_raw(password);
    client.send_raw(b"\r\n");
    let line = client.read_line();
    assert!(line.starts_with("l3 OK"), "{line}");
    let mut client = server.connect();
    client.ok(&format!("AUTHENTICATE PLAIN {}", plain("", "carol", "o\"k \\pa{3}ss")));
    let mut client = server.connect();
    assert!(client.no("LOGIN carol \"o\\\"k \\\\pa{3}s\"").starts_with("NO [AUTHENTICATIONFAILED]"));
}

#[test]
fn authenticate_plain_with_an_initial_response() {
    let server = Server::start();
    let mut client = server.connect();
    let capability = capabilities(&mut client);
    assert!(capability.contains("AUTH=PLAIN") && capability.contains("SASL-IR"), "{capability:?}");
    let (untagged, tagged) = client.command(&format!("AUTHENTICATE PLAIN {}", plain("", "alice", "secret")));
    assert!(untagged.iter().all(|line| !line.starts_with('+')), "no continuation with SASL-IR: {untagged:?}");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert!(is_authenticated(&mut client));
    client.ok("SELECT INBOX");
    // The mechanism name is case-insensitive.
    let mut client = server.connect();
    client.ok(&format!("authenticate plain {}", plain("", "bob", "hunter2")));
    // An authorization identity equal to the user is fine.
    let mut client = server.connect();
    client.ok(&format!("AUTHENTICATE PLAIN {}", plain("alice", "alice", "secret")));
}

#[test]
fn authenticate_plain_with_a_continuation() {
    let server = Server::start();
    let mut client = server.connect();
    client.send("a1 AUTHENTICATE PLAIN");
    let line = client.read_line();
    assert!(line == "+" || line.starts_with("+ "), "{line:?}");
    client.send(&plain("", "alice", "secret"));
    let (_, tagged) = client.until_tagged("a1");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert!(is_authenticated(&mut client));

    let mut client = server.connect();
    client.send("a2 AUTHENTICATE PLAIN");
    assert!(client.read_line().starts_with('+'));
    client.send(&plain("", "alice", "wrong"));
    let (_, tagged) = client.until_tagged("a2");
    assert!(tagged.starts_with("NO [AUTHENTICATIONFAILED]"), "{tagged}");
}

#[test]
fn a_star_cancels_authenticate_with_bad() {
    let server = Server::start();
    let mut client = server.connect();
    client.send("a1 AUTHENTICATE PLAIN");
    assert!(client.read_line().starts_with('+'));
    client.send("*");
    let (_, tagged) = client.until_tagged("a1");
    assert!(tagged.starts_with("BAD"), "{tagged}");
    assert!(!is_authenticated(&mut client));
    client.ok("NOOP");
    client.ok("LOGIN alice secret");
}

#[test]
fn invalid_base64_gets_bad() {
    let server = Server::start();
    let mut client = server.connect();
    client.bad("AUTHENTICATE PLAIN YWxp@2U=");
    client.send("a1 AUTHENTICATE PLAIN");
    assert!(client.read_line().starts_with('+'));
    client.send("%%%%");
    let (_, tagged) = client.until_tagged("a1");
    assert!(tagged.starts_with("BAD"), "{tagged}");
    // Valid base64 that is not a PLAIN message.
    let (_, tagged) = client.command(&format!("AUTHENTICATE PLAIN {}", base64(b"alice secret")));
    assert!(tagged.starts_with("BAD") || tagged.starts_with("NO"), "{tagged}");
    assert!(!is_authenticated(&mut client));
    client.ok(&format!("AUTHENTICATE PLAIN {}", plain("", "alice", "secret")));
}

#[test]
fn another_authorization_identity_is_refused() {
    let server = Server::start();
    let mut client = server.connect();
    let (_, tagged) = client.command(&format!("AUTHENTICATE PLAIN {}", plain("bob", "alice", "secret")));
    assert!(tagged.starts_with("NO"), "{tagged}");
    assert!(!is_authenticated(&mut client));
    let (_, tagged) = client.command(&format!("AUTHENTICATE PLAIN {}", plain("alice", "bob", "hunter2")));
    assert!(tagged.starts_with("NO"), "{tagged}");
    assert!(!is_authenticated(&mut client));
}

#[test]
fn an_unsupported_mechanism_gets_no() {
    let server = Server::start();
    let mut client = server.connect();
    for mechanism in ["CRAM-MD5", "LOGIN", "GSSAPI", "XOAUTH2 dGVzdA=="] {
        let (untagged, tagged) = client.command(&format!("AUTHENTICATE {mechanism}"));
        assert!(tagged.starts_with("NO"), "{mechanism}: {tagged}");
        assert!(untagged.iter().all(|line| !line.starts_with('+')), "{mechanism}: {untagged:?}");
    }
    client.ok("LOGIN alice secret");
}

#[test]
fn without_tls_passwords_are_refused_when_plaintext_auth_is_never() {
    let options = Options { extra_imap: "plaintext_auth = \"never\"".into(), ..Default::default() };
    let server = Server::start_with(options);
    let mut client = server.connect();
    let capability = capabilities(&mut client);
    assert!(capability.contains("LOGINDISABLED"), "{capability:?}");
    assert!(capability.contains("STARTTLS"), "{capability:?}");
    assert!(!capability.contains("AUTH=PLAIN"), "{capability:?}");

    let tagged = client.no("LOGIN alice secret");
    assert!(tagged.starts_with("NO [PRIVACYREQUIRED]"), "{tagged}");
    let tagged = client.no(&format!("AUTHENTICATE PLAIN {}", plain("", "alice", "secret")));
    assert!(tagged.starts_with("NO [PRIVACYREQUIRED]"), "{tagged}");
    // Refused before any continuation invites the password.
    let (untagged, tagged) = client.command("AUTHENTICATE PLAIN");
    assert!(tagged.starts_with("NO [PRIVACYREQUIRED]"), "{tagged} after {untagged:?}");
    assert!(!is_authenticated(&mut client));

    // After STARTTLS the same connection may log in.
    client.starttls(&server);
    let capability = capabilities(&mut client);
    assert!(capability.contains("AUTH=PLAIN"), "{capability:?}");
    assert!(!capability.contains("LOGINDISABLED") && !capability.contains("STARTTLS"), "{capability:?}");
    client.ok("LOGIN alice secret");
    client.ok("SELECT INBOX");

    let mut client = server.connect();
    client.starttls(&server);
    client.ok(&format!("AUTHENTICATE PLAIN {}", plain("", "bob", "hunter2")));
    let mut client = server.connect_tls();
    client.ok("LOGIN alice secret");
}

#[test]
fn five_failed_logins_end_the_connection_with_bye() {
    let server = Server::start();
    let mut client = server.connect();
    for attempt in 1..=4 {
        let tagged = client.no(&format!("LOGIN alice wrong{attempt}"));
        assert!(tagged.starts_with("NO [AUTHENTICATIONFAILED]"), "{tagged}");
    }
    client.send("t5 LOGIN alice wrong5");
    let rest = client.read_to_end();
    assert!(rest.lines().any(|line| line.starts_with("* BYE")), "{rest:?}");
    assert!(!rest.contains("t5 OK"), "{rest:?}");

    // The limit is per connection: a new one starts afresh and may log in.
    let mut client = server.connect();
    client.no("LOGIN alice wrong");
    client.ok("LOGIN alice secret");
}

#[test]
fn failed_authenticate_attempts_count_too() {
    let server = Server::start();
    let mut client = server.connect();
    client.no("LOGIN alice wrong");
    client.no("LOGIN mallory wrong");
    client.no(&format!("AUTHENTICATE PLAIN {}", plain("", "alice", "wrong")));
    client.send("a4 AUTHENTICATE PLAIN");
    assert!(client.read_line().starts_with('+'));
    client.send(&plain("", "alice", "wrong"));
    let (_, tagged) = client.until_tagged("a4");
    assert!(tagged.starts_with("NO"), "{tagged}");
    client.send(&format!("a5 AUTHENTICATE PLAIN {}", plain("", "alice", "wrong")));
    let rest = client.read_to_end();
    assert!(rest.lines().any(|line| line.starts_with("* BYE")), "{rest:?}");
}

#[test]
fn four_failures_still_allow_a_login() {
    let server = Server::start();
    let mut client = server.connect();
    for _ in 0..4 {
        client.no("LOGIN alice wrong");
    }
    client.ok("LOGIN alice secret");
    client.ok("SELECT INBOX");
}

#[test]
fn logins_and_failures_are_logged_without_passwords() {
    let options = Options { users: vec![("alice", "Xyzzy-Pa55word")], ..Default::default() };
    let server = Server::start_with(options);
    let mut client = server.connect();
    client.no("LOGIN alice Wr0ng-Guess-42");
    let log = server.wait_for_log("login failed");
    assert!(log.contains("login failed"), "{log}");
    let initial = plain("", "alice", "Plain-Wr0ng-77");
    client.no(&format!("AUTHENTICATE PLAIN {initial}"));
    client.ok("LOGIN ALICE Xyzzy-Pa55word");
    let log = server.wait_for_log("login: user alice");
    assert!(log.contains("login: user alice"), "{log}");

    let mut client = server.connect();
    let initial_ok = plain("", "alice", "Xyzzy-Pa55word");
    client.ok(&format!("AUTHENTICATE PLAIN {initial_ok}"));
    client.ok("LOGOUT");
    let mut unknown = server.connect();
    unknown.no("LOGIN mallory Unkn0wn-Secret-9");
    // The last attempts' lines: wait for both before looking for leaks.
    let deadline = Instant::now() + IO_TIMEOUT;
    while server.log_text().matches("login: user alice").count() < 2
        || server.log_text().matches("login failed").count() < 3
    {
        assert!(Instant::now() < deadline, "{}", server.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log_text();
    for secret in ["Xyzzy-Pa55word", "Wr0ng-Guess-42", "Plain-Wr0ng-77", "Unkn0wn-Secret-9", &initial, &initial_ok] {
        assert!(!log.contains(secret), "{secret:?} in the log:\n{log}");
    }
}

/// A client that logs in again for every action (webmail) skips argon2 once
/// its password verified; a wrong password never does, and a changed
/// password is checked afresh.
#[test]
fn a_verified_login_is_remembered_until_the_password_changes() {
    let server = Server::start();
    let config = server.config.to_str().unwrap().to_string();
    for _ in 0..3 {
        let mut client = server.login("alice", "secret");
        client.ok("LOGOUT");
    }
    let log = wait_for_count(&server, "remembered: no hash", 2);
    let fresh = log.matches("login: user alice from 127.0.0.1 (LOGIN, plaintext)").count();
    let remembered = log.matches("login: user alice from 127.0.0.1 (LOGIN, plaintext, remembered: no hash)").count();
    assert_eq!((fresh, remembered), (1, 2), "{log}");
    // A wrong password is hashed and refused as ever.
    let mut client = server.connect();
    assert!(Status::parse(&client.no("LOGIN alice wrong")).code().is("AUTHENTICATIONFAILED"));
    // A new password: the old one, though remembered, no longer opens.
    let (ok, _, stderr) = run_cli(&["user", "passwd", "alice", "--config", &config], Some("renewed\n"));
    assert!(ok, "{stderr}");
    let mut client = server.connect();
    assert!(Status::parse(&client.no("LOGIN alice secret")).code().is("AUTHENTICATIONFAILED"));
    let mut client = server.login("alice", "renewed");
    client.ok("LOGOUT");
    let log = wait_for_count(&server, "(LOGIN, plaintext)", 2);
    assert_eq!(log.matches("(LOGIN, plaintext)").count(), 2, "{log}");
}

/// Waits (bounded) until the log holds `needle` `count` times: it is read
/// from the server's stderr as it comes.
fn wait_for_count(server: &Server, needle: &str, count: usize) -> String {
    let deadline = Instant::now() + IO_TIMEOUT;
    while server.log_text().matches(needle).count() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.log_text()
}

//! RFC 3501 §6.1 (any state), the greeting, TLS (implicit and STARTTLS),
//! and malformed input.

mod common;

use common::*;

#[test]
fn greeting_capability_noop_logout() {
    let server = Server::start();
    let mut client = server.connect();
    let capability = capabilities(&mut client);
    for expected in ["IMAP4rev1", "STARTTLS", "AUTH=PLAIN", "SASL-IR", "LITERAL+", "ID", "ENABLE"] {
        assert!(capability.contains(expected), "{expected}: {capability:?}");
    }
    assert!(!capability.contains("LOGINDISABLED"), "loopback may log in without TLS: {capability:?}");
    client.ok("NOOP");
    client.ok("nOoP");
    let untagged = client.ok("LOGOUT");
    assert!(untagged[0].starts_with("* BYE"));
    assert_eq!(client.read_to_end(), "", "connection closes after LOGOUT");
}

#[test]
fn capabilities_after_login() {
    let server = Server::start();
    let mut client = server.connect();
    let (_, tagged) = client.command("LOGIN alice secret");
    assert!(tagged.starts_with("OK [CAPABILITY IMAP4rev1"), "{tagged}");
    // RFC 9051 §7.1: the code lists what the CAPABILITY command would.
    let in_code: std::collections::BTreeSet<String> = Status::parse(&tagged).code().values().into_iter().collect();
    let capability = capabilities(&mut client);
    assert_eq!(in_code, capability, "{tagged}");
    for expected in ["UIDPLUS", "MOVE", "NAMESPACE", "UNSELECT", "CHILDREN", "SPECIAL-USE", "MULTIAPPEND"] {
        assert!(capability.contains(expected), "{expected}: {capability:?}");
    }
    assert!(capability
        .iter()
        .any(|word| word.strip_prefix("APPENDLIMIT=").is_some_and(|limit| limit.parse::<u64>().is_ok())));
    assert!(!capability.contains("STARTTLS"), "{capability:?}");
    assert!(!capability.contains("AUTH=PLAIN"), "{capability:?}");
}

#[test]
fn id_exchange() {
    let server = Server::start();
    let mut client = server.connect();
    let untagged = client.ok(r#"ID ("name" "test-client" "version" "1.0")"#);
    assert!(untagged[0].starts_with(r#"* ID ("name" "roost""#), "{untagged:?}");
    client.ok("ID NIL");
    client.bad("ID (\"name\")");
}

#[test]
fn malformed_commands_get_bad_and_the_session_goes_on() {
    let server = Server::start();
    let mut client = server.connect();
    client.bad("FROBNICATE");
    client.bad("NOOP extra-arguments");
    client.send("");
    assert!(client.read_line().starts_with("* BAD"));
    client.send("+ NOOP");
    assert!(client.read_line().starts_with("* BAD"));
    client.send_raw(b"t9 NOOP\x00\r\n");
    assert!(client.read_line().starts_with("t9 BAD"));
    client.bad("LOGIN \"unterminated");
    client.bad("SELECT INBOX");
    client.ok("NOOP");
}

#[test]
fn commands_in_the_wrong_state() {
    let server = Server::start();
    let mut client = server.connect();
    assert!(client.bad("SELECT INBOX").contains("log in"));
    assert!(client.bad("FETCH 1 FLAGS").contains("log in"));
    client.ok("LOGIN alice secret");
    assert!(client.bad("FETCH 1 FLAGS").contains("No mailbox selected"));
    assert!(client.bad("LOGIN alice secret").contains("Already"));
    client.bad("STARTTLS");
}

#[test]
fn implicit_tls_login_and_fetch() {
    let server = Server::start();
    let mut client = server.connect_tls();
    let capability = capabilities(&mut client);
    assert!(!capability.contains("STARTTLS"), "{capability:?}");
    assert!(capability.contains("AUTH=PLAIN"), "{capability:?}");
    client.ok("LOGIN alice secret");
    client.ok("SELECT INBOX");
    let uid = client.append_ok("INBOX", &message("tls", "over TLS"));
    let untagged = client.ok(&format!("UID FETCH {uid} BODY.PEEK[TEXT]"));
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[TEXT]"), "over TLS\r\n", "{untagged:?}");
    client.ok("LOGOUT");
}

#[test]
fn starttls_upgrades_and_discards_pipelined_plaintext() {
    let server = Server::start();
    let mut client = server.connect();
    // CVE-2011-0411: commands sent after STARTTLS in the same packet must
    // not run inside the TLS session.
    client.send_raw(b"s1 STARTTLS\r\ns2 LOGIN alice secret\r\n");
    let line = client.read_line();
    assert!(line.starts_with("s1 OK"), "{line}");
    let transport = std::mem::replace(client_reader(&mut client), Transport::None);
    let Transport::Plain(stream) = transport else { panic!() };
    let tls = rustls::StreamOwned::new(server.tls_client(), stream);
    *client_reader(&mut client) = Transport::Tls(Box::new(tls));
    // The injected LOGIN never ran: we are still not authenticated.
    let capability = capabilities(&mut client);
    assert!(capability.contains("AUTH=PLAIN") && !capability.contains("STARTTLS"), "{capability:?}");
    client.bad("SELECT INBOX");
    client.bad("STARTTLS");
    client.ok("LOGIN alice secret");
    client.ok("SELECT INBOX");
}

fn client_reader(client: &mut Client) -> &mut Transport {
    client.transport()
}

#[test]
fn starttls_helper_round_trip() {
    let server = Server::start();
    let mut client = server.connect();
    client.starttls(&server);
    client.ok("LOGIN bob hunter2");
    client.ok("LIST \"\" %");
}

/// RFC 4314 (issue 15): the ACL commands need a login (§3: valid in the
/// authenticated and selected states), work in both, answer BAD for what
/// the grammar refuses, and `ACL RIGHTS=texk` is advertised only after
/// login (§2: RIGHTS= must list t e x k and none of RFC 2086's rights).
#[test]
fn acl_commands_need_a_login_and_work_in_both_logged_in_states() {
    let server = Server::start();
    let mut client = server.connect();
    for line in
        ["SETACL INBOX bob lr", "DELETEACL INBOX bob", "GETACL INBOX", "LISTRIGHTS INBOX anyone", "MYRIGHTS INBOX"]
    {
        let name = line.split(' ').next().unwrap();
        assert_eq!(client.bad(line), format!("BAD {name} not allowed now: Please log in first"), "{line:?}");
    }
    let before = capabilities(&mut client);
    assert!(!before.iter().any(|name| name == "ACL" || name.starts_with("RIGHTS=")), "{before:?}");
    client.ok("LOGIN alice secret");
    let after = capabilities(&mut client);
    assert!(after.contains("ACL") && after.contains("RIGHTS=texk"), "{after:?}");
    let check = |client: &mut Client| {
        assert_eq!(client.ok("MYRIGHTS INBOX"), ["* MYRIGHTS \"INBOX\" lrswipkxteacd"]);
        assert_eq!(client.ok("GETACL INBOX"), ["* ACL \"INBOX\" alice lrswipkxteacd"]);
        client.ok("SETACL INBOX bob lr");
        assert_eq!(client.ok("GETACL INBOX"), ["* ACL \"INBOX\" alice lrswipkxteacd bob lr"]);
        client.ok("DELETEACL INBOX bob");
        assert!(client.bad("SetAcl INBOX bob lrQ").contains("uppercase rights are not allowed: Q"));
        assert!(client.bad("getacl").starts_with("BAD Error in IMAP command"));
        assert!(client.bad("MyRights \"unterminated").starts_with("BAD Error in IMAP command"));
        assert_eq!(client.bad("FROBNICATE INBOX"), "BAD Error in IMAP command: unknown command FROBNICATE");
    };
    check(&mut client);
    client.ok("SELECT INBOX");
    check(&mut client);
    client.ok("NOOP");
}

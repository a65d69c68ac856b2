//! IMAP4rev2 (RFC 9051) beside IMAP4rev1: what `ENABLE IMAP4rev2` changes
//! in a session (no \Recent, ESEARCH answers, STATUS items, UTF-8 mailbox
//! names), what it leaves alone for old clients, and STATUS SIZE/DELETED
//! (RFC 8438, RFC 9051 §6.3.11) kept right through APPEND, STORE, EXPUNGE,
//! COPY and MOVE.

mod common;

use common::*;

/// A logged-in session with IMAP4rev2 enabled.
fn rev2(server: &Server) -> Client {
    let mut client = server.login("alice", "secret");
    assert_eq!(client.ok("ENABLE IMAP4rev2"), ["* ENABLED IMAP4rev2"]);
    client
}

/// Runs a command that must succeed; returns its tag and untagged responses.
fn tagged_ok(client: &mut Client, command: &str) -> (String, Vec<String>) {
    let tag = client.next_tag();
    client.send(&format!("{tag} {command}"));
    let (untagged, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{command}: {tagged}");
    (tag, untagged)
}

/// The `* STATUS` line of a STATUS command.
fn status_line(client: &mut Client, command: &str) -> String {
    client.run_ok(command).one("STATUS").text.clone()
}

#[test]
fn imap4rev2_is_advertised_beside_imap4rev1() {
    let server = Server::start();
    let stream = std::net::TcpStream::connect(("127.0.0.1", server.imap_port)).unwrap();
    let greeting = Client::new(Transport::Plain(stream)).read_line();
    let greeting = status_part(&greeting).expect("a status response");
    let capabilities = greeting.code_named("CAPABILITY").expect("CAPABILITY in the greeting").values();
    assert!(
        greeting.is("OK") && ["IMAP4rev1", "IMAP4rev2"].iter().all(|word| capabilities.contains(&word.to_string()))
    );
    let mut client = server.login("alice", "secret");
    let capabilities = client.ok("CAPABILITY").remove(0);
    for word in ["IMAP4rev1", "IMAP4rev2", "ENABLE", "LIST-EXTENDED", "LIST-STATUS", "STATUS=SIZE", "ESEARCH"] {
        assert!(capabilities.split_whitespace().any(|capability| capability == word), "{word}: {capabilities}");
    }
    // RFC 9051 leaves UNAUTHENTICATE optional; roost does not offer it.
    assert!(!capabilities.contains("UNAUTHENTICATE"));
    client.bad("UNAUTHENTICATE");
}

#[test]
fn enable_names_imap4rev2_once() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert_eq!(client.ok("ENABLE FOO imap4rev2"), ["* ENABLED IMAP4rev2"]);
    // Already on: RFC 5161 §3.2 lists only what this command enabled.
    assert_eq!(client.ok("ENABLE IMAP4rev2"), ["* ENABLED"]);
    assert_eq!(client.ok("ENABLE FOO"), ["* ENABLED"]);
    // Before login, ENABLE is not allowed at all.
    let mut fresh = server.connect();
    fresh.bad("ENABLE IMAP4rev2");
}

#[test]
fn select_and_updates_carry_no_recent() {
    let server = Server::start();
    let mut other = server.login("alice", "secret");
    other.append_ok("INBOX", &message("one", "1"));
    other.append_ok("INBOX", &message("two", "2"));
    let mut client = rev2(&server);
    let untagged = client.ok("SELECT INBOX");
    let responses = Responses::of(&untagged);
    assert_eq!(responses.numbered("EXISTS"), [2], "{untagged:?}");
    assert!(responses.untagged("RECENT").is_empty(), "{untagged:?}");
    assert_eq!(responses.code("UNSEEN"), None, "{untagged:?}");
    assert_eq!(responses.code("UIDNEXT").map(|code| code.number()), Some(3), "{untagged:?}");
    assert!(responses.code("UIDVALIDITY").is_some(), "{untagged:?}");
    let permanent = responses.code("PERMANENTFLAGS").expect("PERMANENTFLAGS");
    for list in [&responses.one("FLAGS").data, &permanent.data] {
        assert!(!flag_set(list).contains("\\Recent"), "{untagged:?}");
    }
    // RFC 9051 §6.3.2: the mailbox's LIST response.
    assert_eq!(responses.one("LIST").text, "* LIST (\\HasNoChildren) \"/\" \"INBOX\"");
    client.ok("CREATE Sent/2024");
    let responses = client.run_ok("EXAMINE Sent");
    assert_eq!(responses.one("LIST").text, "* LIST (\\HasChildren \\Sent) \"/\" \"Sent\"");
    client.ok("SELECT INBOX");
    let fetched = client.ok("FETCH 1:* FLAGS");
    assert_eq!(fetched, ["* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS ())"]);
    // A new message arrives: EXISTS without RECENT.
    other.append_ok("INBOX", &message("three", "3"));
    let untagged = client.ok("NOOP");
    assert_eq!(untagged, ["* 3 EXISTS"]);
    // The rev2 session took no \Recent: an IMAP4rev1 session still sees it.
    let mut old = server.login("alice", "secret");
    let untagged = old.ok("SELECT INBOX");
    let responses = Responses::of(&untagged);
    assert_eq!(responses.numbered("RECENT"), [3], "{untagged:?}");
    assert!(responses.untagged("LIST").is_empty(), "{untagged:?}");
    assert_eq!(
        responses.status_with("UNSEEN").map(|status| (status.status, status.code.unwrap().number())),
        Some(("OK".into(), 1))
    );
    assert_eq!(old.ok("FETCH 3 FLAGS"), ["* 3 FETCH (FLAGS (\\Recent))"]);
    assert!(client.run_ok("EXAMINE INBOX").untagged("RECENT").is_empty());
}

#[test]
fn search_answers_with_esearch() {
    let server = Server::start();
    let mut client = rev2(&server);
    for subject in ["alpha", "beta", "gamma"] {
        client.append_ok("INBOX", &message(subject, "body"));
    }
    client.ok("SELECT INBOX");
    client.ok("STORE 2 +FLAGS (\\Seen)");
    let (tag, untagged) = tagged_ok(&mut client, "SEARCH UNSEEN");
    assert_eq!(untagged, [format!("* ESEARCH (TAG \"{tag}\") ALL 1,3")]);
    let (tag, untagged) = tagged_ok(&mut client, "UID SEARCH ALL");
    assert_eq!(untagged, [format!("* ESEARCH (TAG \"{tag}\") UID ALL 1:3")]);
    // Nothing found: no ALL (RFC 9051 §7.3.4).
    let (tag, untagged) = tagged_ok(&mut client, "SEARCH SUBJECT nowhere");
    assert_eq!(untagged, [format!("* ESEARCH (TAG \"{tag}\")")]);
    let (tag, untagged) = tagged_ok(&mut client, "SEARCH RETURN (COUNT MIN) SEEN");
    assert_eq!(untagged, [format!("* ESEARCH (TAG \"{tag}\") MIN 2 COUNT 1")]);
    // RECENT, NEW and OLD are gone from RFC 9051's search keys.
    for key in ["RECENT", "NEW", "OLD", "NOT (OR SEEN RECENT)", "KEYWORD \\Recent", "UNKEYWORD \\Recent"] {
        client.bad(&format!("SEARCH {key}"));
    }
    client.bad("UID SEARCH RETURN (COUNT) NEW");
    // The saved result still works after an ESEARCH.
    client.ok("SEARCH RETURN (SAVE) SUBJECT gamma");
    assert_eq!(client.ok("FETCH $ UID"), ["* 3 FETCH (UID 3)"]);
}

#[test]
fn status_refuses_recent_and_gives_size_and_deleted() {
    let server = Server::start();
    let mut client = rev2(&server);
    let first = message("one", "first body");
    client.append_ok("INBOX", &first);
    let text = client.bad("STATUS INBOX (MESSAGES RECENT)");
    assert!(text.contains("IMAP4rev2"), "{text}");
    client.bad("LIST \"\" INBOX RETURN (STATUS (RECENT))");
    let line = status_line(&mut client, "STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE)");
    assert!(line.starts_with("* STATUS \"INBOX\" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY "), "{line}");
    assert!(line.ends_with(&format!(" UNSEEN 1 DELETED 0 SIZE {})", first.len())), "{line}");
    let line = status_line(&mut client, "STATUS INBOX (SIZE DELETED)");
    assert_eq!(line, format!("* STATUS \"INBOX\" (SIZE {} DELETED 0)", first.len()));
    // IMAP4rev1 sessions may still ask for RECENT.
    let mut old = server.login("alice", "secret");
    assert_eq!(status_line(&mut old, "STATUS INBOX (RECENT)"), "* STATUS \"INBOX\" (RECENT 1)");
}

#[test]
fn status_size_follows_append_store_expunge_copy_and_move() {
    let server = Server::start();
    let mut client = rev2(&server);
    let (a, b, c) = (message("a", "short"), message("b", &"long ".repeat(200)), message("c", "x"));
    for text in [&a, &b, &c] {
        client.append_ok("INBOX", text);
    }
    let total = a.len() + b.len() + c.len();
    let check = |client: &mut Client, mailbox: &str, messages: usize, size: usize, deleted: usize| {
        let line = status_line(client, &format!("STATUS {mailbox} (MESSAGES SIZE DELETED)"));
        assert_eq!(line, format!("* STATUS \"{mailbox}\" (MESSAGES {messages} SIZE {size} DELETED {deleted})"));
    };
    check(&mut client, "INBOX", 3, total, 0);
    client.ok("SELECT INBOX");
    client.ok("STORE 1 +FLAGS (\\Deleted)");
    check(&mut client, "INBOX", 3, total, 1);
    client.ok("EXPUNGE");
    check(&mut client, "INBOX", 2, b.len() + c.len(), 0);
    client.ok("COPY 1:2 Archive");
    check(&mut client, "Archive", 2, b.len() + c.len(), 0);
    check(&mut client, "INBOX", 2, b.len() + c.len(), 0);
    client.ok("MOVE 2 Trash");
    check(&mut client, "INBOX", 1, b.len(), 0);
    check(&mut client, "Trash", 1, c.len(), 0);
    client.ok("STORE 1 +FLAGS (\\Deleted)");
    client.ok("UID MOVE 2 Trash");
    check(&mut client, "INBOX", 0, 0, 0);
    check(&mut client, "Trash", 2, b.len() + c.len(), 1);
    // The counters the store keeps are what `roost check` recomputes.
    drop(client);
    let mut server = server;
    server.stop();
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok && stdout.contains("no damage found"), "{stdout}{stderr}");
}

#[test]
fn mailbox_names_are_utf8_after_enable() {
    let server = Server::start();
    let mut old = server.login("alice", "secret");
    old.ok("CREATE &ZeVnLIqe-");
    let mut client = rev2(&server);
    client.ok("CREATE \"Entwürfe\"");
    client.ok("CREATE A&B");
    assert_eq!(client.ok("LIST \"\" \"日本語\""), ["* LIST (\\HasNoChildren) \"/\" \"日本語\""]);
    assert_eq!(client.ok("LIST \"\" \"Entw*\""), ["* LIST (\\HasNoChildren) \"/\" \"Entwürfe\""]);
    assert_eq!(client.ok("LIST \"\" \"A&B\""), ["* LIST (\\HasNoChildren) \"/\" \"A&B\""]);
    let line = status_line(&mut client, "STATUS \"Entwürfe\" (MESSAGES)");
    assert_eq!(line, "* STATUS \"Entwürfe\" (MESSAGES 0)");
    client.append_ok("\"Entwürfe\"", &message("draft", "x"));
    client.ok("SELECT \"Entwürfe\"");
    // IMAP4rev1 sessions keep modified UTF-7 for the same mailboxes.
    assert_eq!(old.ok("LIST \"\" \"Entw*\""), ["* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\""]);
    assert_eq!(old.ok("LIST \"\" \"A&-B\""), ["* LIST (\\HasNoChildren) \"/\" \"A&-B\""]);
    assert_eq!(status_line(&mut old, "STATUS Entw&APw-rfe (MESSAGES)"), "* STATUS \"Entw&APw-rfe\" (MESSAGES 1)");
    // Invalid UTF-8 is refused.
    let tag = client.next_tag();
    client.send_raw(format!("{tag} CREATE \"bad\u{0}\"\r\n").as_bytes());
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("BAD"), "{tagged}");
    let tag = client.next_tag();
    client.send_raw(&[tag.as_bytes(), b" CREATE \"caf\xe9\"\r\n"].concat());
    let (_, tagged) = client.until_tagged(&tag);
    // A name, not a syntax error: NO (see the modified UTF-7 case).
    assert!(tagged.starts_with("NO [CANNOT]"), "{tagged}");
}

#[test]
fn decomposed_names_are_stored_in_nfc_and_name_one_mailbox() {
    let server = Server::start();
    let mut mac = rev2(&server);
    let mut phone = rev2(&server);
    // "Café" with a combining acute (as macOS sends it), then precomposed.
    mac.ok("CREATE \"Cafe\u{301}\"");
    let tagged = phone.no("CREATE \"Caf\u{e9}\"");
    assert!(Status::parse(&tagged).code().is("ALREADYEXISTS"), "{tagged}");
    assert_eq!(phone.ok("LIST \"\" \"Caf*\""), ["* LIST (\\HasNoChildren) \"/\" \"Caf\u{e9}\""]);
    assert_eq!(mac.ok("LIST \"\" \"Cafe\u{301}\""), ["* LIST (\\HasNoChildren) \"/\" \"Caf\u{e9}\""]);
    mac.append_ok("\"Cafe\u{301}\"", &message("menu", "x"));
    assert_eq!(status_line(&mut phone, "STATUS \"Caf\u{e9}\" (MESSAGES)"), "* STATUS \"Caf\u{e9}\" (MESSAGES 1)");
    // An IMAP4rev1 client sending the decomposed form in modified UTF-7 too.
    let mut old = server.login("alice", "secret");
    assert_eq!(old.ok("LIST \"\" Cafe&AwE-"), ["* LIST (\\HasNoChildren) \"/\" \"Caf&AOk-\""]);
    // Line and paragraph separators are not Net-Unicode.
    let tag = mac.next_tag();
    mac.send_raw(format!("{tag} CREATE \"a\u{2028}b\"\r\n").as_bytes());
    let (_, tagged) = mac.until_tagged(&tag);
    assert!(tagged.starts_with("NO [CANNOT]"), "{tagged}");
}

#[test]
fn imap4rev1_sessions_are_unchanged() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.append_ok("INBOX", &message("one", "1"));
    let untagged = client.ok("SELECT INBOX");
    assert!(untagged.contains(&"* 1 RECENT".to_string()), "{untagged:?}");
    assert_eq!(client.ok("SEARCH RECENT"), ["* SEARCH 1"]);
    assert_eq!(client.ok("UID SEARCH NEW"), ["* SEARCH 1"]);
    assert_eq!(search_result(&client.ok("SEARCH ALL")), [1]);
    assert_eq!(status_line(&mut client, "STATUS INBOX (RECENT)"), "* STATUS \"INBOX\" (RECENT 1)");
    // LSUB is not in RFC 9051, but kept (it MAY be): also after ENABLE.
    client.ok("ENABLE IMAP4rev2");
    assert_eq!(client.ok("LSUB \"\" INBOX"), ["* LSUB () \"/\" \"INBOX\""]);
    // Enabling while selected drops \Recent from then on.
    assert_eq!(client.ok("FETCH 1 FLAGS"), ["* 1 FETCH (FLAGS ())"]);
}

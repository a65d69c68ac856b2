//! PREVIEW (RFC 8970) over a real socket: previews computed at delivery
//! (APPEND and LMTP), kept through COPY, LAZY, the modifiers' errors, and
//! a database made before roost kept previews.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use common::*;

/// The PREVIEW value of the FETCH response for message `sequence`: Some
/// text (quoted or literal), or None for NIL.
fn preview(client: &mut Client, sequence: u32, item: &str) -> Option<String> {
    client.run_ok(&format!("FETCH {sequence} ({item})")).fetch(sequence).fetch_nstring("PREVIEW")
}

const ALTERNATIVE: &[u8] = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: menu\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n\
Content-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p{}</style></head><body><p>HTML version</p></body></html>\r\n\
--alt\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Caf=E9 menu:  soup,=\r\n bread\r\n\r\nand   wine.\r\n--alt--\r\n";
const ALTERNATIVE_PREVIEW: &str = "Café menu: soup, bread and wine.";

#[test]
fn capability_is_advertised() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert!(capabilities(&mut client).contains("PREVIEW"));
}

#[test]
fn append_then_fetch_preview() {
    let server = Server::start();
    let mut client = server.alice_inbox();
    client.append_ok("INBOX", ALTERNATIVE);
    client.append_ok("INBOX", &message("plain", "Hello there, \"friend\" \\o/\r\n\r\n  see you"));
    client.append_ok(
        "INBOX",
        b"Subject: picture\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n",
    );
    client.append_ok("INBOX", b"Subject: html only\r\nContent-Type: text/html\r\n\r\n<p>Tom &amp; Jerry&nbsp;&#x263A;</p><script>x()</script>\r\n");
    client.ok("NOOP");
    // 8-bit text goes as a literal (RFC 3501 quoted strings are 7-bit).
    assert_eq!(preview(&mut client, 1, "PREVIEW").as_deref(), Some(ALTERNATIVE_PREVIEW));
    assert_eq!(preview(&mut client, 2, "PREVIEW").as_deref(), Some("Hello there, \"friend\" \\o/ see you"));
    assert_eq!(preview(&mut client, 3, "PREVIEW").as_deref(), Some(""));
    assert_eq!(preview(&mut client, 4, "PREVIEW").as_deref(), Some("Tom & Jerry ☺"));
    // Stored at delivery: LAZY has it too.
    for sequence in 1..=4 {
        assert_eq!(preview(&mut client, sequence, "PREVIEW (LAZY)"), preview(&mut client, sequence, "PREVIEW"));
    }
    // Every message at once, beside other items, and with a FETCH modifier.
    let untagged = client.ok("UID FETCH 1:* (FLAGS PREVIEW (LAZY))");
    assert_eq!(untagged.len(), 4, "{untagged:#?}");
    for (_, response) in fetches(&untagged) {
        let mut names = item_names(response);
        names.sort();
        assert_eq!(names, ["FLAGS", "PREVIEW", "UID"], "{response}");
    }
    let untagged = client.ok("FETCH 1:* PREVIEW (CHANGEDSINCE 1)");
    let with_modseq = fetches(&untagged).into_iter().filter(|(_, response)| {
        let names = item_names(response);
        names.contains(&"MODSEQ".to_string()) && names.contains(&"PREVIEW".to_string())
    });
    assert!(with_modseq.count() > 0, "{untagged:#?}");
    // PREVIEW does not set \Seen (RFC 8970 §4: it is not a body fetch).
    assert!(!flags_of(&mut client, 1).contains("\\Seen"));
}

#[test]
fn long_text_is_cut_at_256_characters() {
    let server = Server::start();
    let mut client = server.alice_inbox();
    let body = "ü".repeat(200) + " " + &"x".repeat(200);
    client.append_ok(
        "INBOX",
        format!("Subject: long\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").as_bytes(),
    );
    let text = preview(&mut client, 1, "PREVIEW").unwrap();
    assert_eq!(text.chars().count(), 256);
    assert_eq!(text, "ü".repeat(200) + " " + &"x".repeat(55));
}

#[test]
fn unknown_modifiers_are_bad() {
    let server = Server::start();
    let mut client = server.alice_inbox();
    client.append_ok("INBOX", &message("x", "y"));
    for command in
        ["FETCH 1 (PREVIEW (FUZZY))", "FETCH 1 PREVIEW (LAZY LAZY)", "FETCH 1 (PREVIEW ())", "FETCH 1 PREVIEWS"]
    {
        let text = client.bad(command);
        assert!(!text.is_empty(), "{command}");
    }
    assert!(client.bad("FETCH 1 (PREVIEW (FUZZY))").contains("PREVIEW modifier"));
    // The session goes on.
    assert_eq!(preview(&mut client, 1, "PREVIEW").as_deref(), Some("y"));
}

/// Sends `message` to `recipients` over the LMTP socket.
fn lmtp_deliver(server: &Server, recipients: &[&str], message: &[u8]) {
    let stream = UnixStream::connect(server.lmtp_socket()).expect("connect to the LMTP socket");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = || {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        line
    };
    assert!(line().starts_with("220"));
    writer.write_all(b"LHLO test.example\r\n").unwrap();
    while !line().starts_with("250 ") {}
    writer.write_all(b"MAIL FROM:<sender@example.org>\r\n").unwrap();
    assert!(line().starts_with("250"));
    for recipient in recipients {
        writer.write_all(format!("RCPT TO:<{recipient}>\r\n").as_bytes()).unwrap();
        assert!(line().starts_with("250"));
    }
    writer.write_all(b"DATA\r\n").unwrap();
    assert!(line().starts_with("354"));
    writer.write_all(message).unwrap();
    writer.write_all(b".\r\n").unwrap();
    for _ in recipients {
        let reply = line();
        assert!(reply.starts_with("250"), "{reply}");
    }
}

#[test]
fn lmtp_delivery_to_two_users_then_preview() {
    let server = Server::start();
    lmtp_deliver(&server, &["alice", "bob"], ALTERNATIVE);
    for (user, password) in [("alice", "secret"), ("bob", "hunter2")] {
        let mut client = server.login(user, password);
        client.ok("SELECT INBOX");
        assert_eq!(preview(&mut client, 1, "PREVIEW (LAZY)").as_deref(), Some(ALTERNATIVE_PREVIEW), "{user}");
    }
}

#[test]
fn copy_keeps_the_preview() {
    let server = Server::start();
    let mut client = server.alice_inbox();
    client.append_ok("INBOX", ALTERNATIVE);
    client.ok("CREATE Kept");
    client.ok("COPY 1 Kept");
    // The original goes; the copy holds the blob, and its preview.
    client.ok("STORE 1 +FLAGS (\\Deleted)");
    client.ok("EXPUNGE");
    client.ok("SELECT Kept");
    assert_eq!(preview(&mut client, 1, "PREVIEW (LAZY)").as_deref(), Some(ALTERNATIVE_PREVIEW));
    client.ok("MOVE 1 INBOX");
    client.ok("SELECT INBOX");
    assert_eq!(preview(&mut client, 1, "PREVIEW (LAZY)").as_deref(), Some(ALTERNATIVE_PREVIEW));
}

/// A database written by a roost without previews: the table is missing.
#[test]
fn messages_stored_before_previews() {
    let mut server = Server::start();
    let mut client = server.alice_inbox();
    client.append_ok("INBOX", ALTERNATIVE);
    client.append_ok("INBOX", b"Subject: nothing\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n");
    client.shutdown();
    assert!(server.stop().success());
    {
        let database = redb::Database::create(server.data_dir().join("roost.redb")).unwrap();
        let transaction = database.begin_write().unwrap();
        let table: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("previews");
        assert!(transaction.delete_table(table).unwrap(), "no previews table to delete");
        transaction.commit().unwrap();
    }
    server.spawn();
    let mut client = server.alice_inbox();
    // RFC 8970 §4: LAZY may answer NIL when the preview is not at hand.
    assert_eq!(preview(&mut client, 1, "PREVIEW (LAZY)"), None);
    // Without LAZY it is computed now, the same text delivery gives.
    assert_eq!(preview(&mut client, 1, "PREVIEW").as_deref(), Some(ALTERNATIVE_PREVIEW));
    assert_eq!(preview(&mut client, 2, "PREVIEW").as_deref(), Some(""));
    // LAZY beside PREVIEW in one FETCH: the text is at hand then.
    let untagged = client.ok("FETCH 1 (PREVIEW (LAZY) PREVIEW)");
    assert_eq!(untagged[0].matches(ALTERNATIVE_PREVIEW).count(), 2, "{untagged:?}");
    // Not stored by the FETCH (a read does not write).
    assert_eq!(preview(&mut client, 1, "PREVIEW (LAZY)"), None);
    // New mail has its preview at once.
    client.append_ok("INBOX", &message("new", "fresh words"));
    client.ok("NOOP");
    assert_eq!(preview(&mut client, 3, "PREVIEW (LAZY)").as_deref(), Some("fresh words"));
}

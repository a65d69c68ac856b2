//! UTF8=ACCEPT (RFC 6855, RFC 9755): an IMAP4rev1 client that enables it
//! gets UTF-8 mailbox names, may APPEND messages with UTF-8 header fields
//! (`UTF8 (~{n})`), and SEARCH without a CHARSET label.

mod common;

use common::*;

/// A session of alice with UTF8=ACCEPT enabled.
fn enabled(server: &Server) -> Client {
    let mut client = server.login("alice", "secret");
    assert_eq!(client.ok("ENABLE UTF8=ACCEPT"), ["* ENABLED UTF8=ACCEPT"]);
    client
}

#[test]
fn it_is_advertised_and_enabled_once() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert!(capabilities(&mut client).contains("UTF8=ACCEPT"));
    assert_eq!(client.ok("ENABLE UTF8=ACCEPT"), ["* ENABLED UTF8=ACCEPT"]);
    // RFC 5161 §3.2: ENABLED lists only what this command newly enabled.
    assert_eq!(client.ok("ENABLE UTF8=ACCEPT"), ["* ENABLED"]);
}

#[test]
fn mailbox_names_are_utf8_once_enabled() {
    let server = Server::start();
    let mut utf8 = enabled(&server);
    utf8.ok("CREATE \"Entwürfe/Größe\"");
    assert_eq!(
        utf8.ok("LIST \"\" \"Entw*\""),
        ["* LIST (\\HasChildren) \"/\" \"Entwürfe\"", "* LIST (\\HasNoChildren) \"/\" \"Entwürfe/Größe\""]
    );
    let status = utf8.ok("STATUS \"Entwürfe/Größe\" (MESSAGES)");
    assert_eq!(status, ["* STATUS \"Entwürfe/Größe\" (MESSAGES 0)"]);
    // A session that did not enable it keeps modified UTF-7 for the same names.
    let mut old = server.login("alice", "secret");
    assert_eq!(old.ok("LIST \"\" Entw&APw-rfe"), ["* LIST (\\HasChildren) \"/\" \"Entw&APw-rfe\""]);
}

#[test]
fn a_charset_label_is_refused_once_enabled() {
    let server = Server::start();
    let mut client = enabled(&server);
    client.append_ok("INBOX", &message("café", "crème brûlée"));
    client.ok("SELECT INBOX");
    // RFC 6855 erratum 4029: no CHARSET for SEARCH; SORT and THREAD: UTF-8 only.
    client.bad("SEARCH CHARSET UTF-8 BODY \"crème\"");
    assert_eq!(client.ok("SEARCH BODY \"crème\""), ["* SEARCH 1"]);
    client.bad("SORT (SUBJECT) US-ASCII ALL");
    assert_eq!(client.ok("SORT (SUBJECT) UTF-8 ALL"), ["* SORT 1"]);
    client.bad("THREAD REFERENCES ISO-8859-1 ALL");
    client.ok("THREAD REFERENCES UTF-8 ALL");
    // Without UTF8=ACCEPT the label is fine.
    let mut other = server.login("alice", "secret");
    other.ok("SELECT INBOX");
    assert_eq!(other.ok("SEARCH CHARSET UTF-8 BODY \"crème\""), ["* SEARCH 1"]);
}

#[test]
fn append_takes_utf8_messages_once_enabled() {
    let server = Server::start();
    let headers = "From: Jörg <jörg@bücher.example>\r\nSubject: Grüße aus Zürich\r\n\r\nHallo\r\n";
    let message = headers.as_bytes();
    // Not enabled: BAD, and the non-synchronizing bytes are read and dropped.
    let mut client = server.login("alice", "secret");
    let tag = client.next_tag();
    client.send_raw(format!("{tag} APPEND INBOX UTF8 (~{{{}+}}\r\n", message.len()).as_bytes());
    client.send_raw(message);
    client.send_raw(b")\r\n");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("BAD") && tagged.contains("UTF8=ACCEPT"), "{tagged}");
    client.ok("NOOP");
    // Enabled: one message, then two in one MULTIAPPEND (RFC 3502).
    let mut client = enabled(&server);
    let tag = client.next_tag();
    client.send_raw(format!("{tag} APPEND INBOX (\\Seen) UTF8 (~{{{}+}}\r\n", message.len()).as_bytes());
    client.send_raw(message);
    client.send_raw(b")\r\n");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK [APPENDUID"), "{tagged}");
    let tag = client.next_tag();
    client.send_raw(format!("{tag} APPEND INBOX UTF8 (~{{{}+}}\r\n", message.len()).as_bytes());
    client.send_raw(message);
    client.send_raw(format!(") UTF8 (~{{{}+}}\r\n", message.len()).as_bytes());
    client.send_raw(message);
    client.send_raw(b")\r\n");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK [APPENDUID") && tagged.contains(":"), "{tagged}");
    client.ok("SELECT INBOX");
    let fetched = client.ok("FETCH 1:3 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])").join("\n");
    assert_eq!(fetched.matches("Subject: Grüße aus Zürich").count(), 3, "{fetched}");
    assert_eq!(client.ok("SEARCH SUBJECT \"Zürich\""), ["* SEARCH 1 2 3"]);
    // A missing `)` after the literal is a syntax error.
    let tag = client.next_tag();
    client.send_raw(format!("{tag} APPEND INBOX UTF8 (~{{{}+}}\r\n", message.len()).as_bytes());
    client.send_raw(message);
    client.send_raw(b"\r\n");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("BAD"), "{tagged}");
    client.ok("NOOP");
}

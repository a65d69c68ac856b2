//! CATENATE (RFC 4469) with IMAP URLs (RFC 5092) and URL-PARTIAL (RFC
//! 5550): a message made on the server from the client's text and parts
//! of messages already there, as a phone forwards mail without
//! downloading it. Every check goes over a real socket.

mod common;

use common::*;

/// One part of a CATENATE.
enum Part<'a> {
    Text(&'a [u8]),
    Url(&'a str),
}

/// `APPEND mailbox CATENATE (parts...)`: each TEXT literal ends a line;
/// synchronizing ones wait for the continuation (and give up, with the
/// tagged answer, when none comes). `plus`: LITERAL+ throughout.
fn catenate(client: &mut Client, mailbox: &str, parts: &[Part], plus: bool) -> (Vec<Response>, Response) {
    let tag = client.next_tag();
    let mut line = format!("{tag} APPEND {mailbox} CATENATE (");
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            line.push(' ');
        }
        match part {
            Part::Url(url) => line.push_str(&format!("URL \"{url}\"")),
            Part::Text(bytes) => {
                line.push_str(&format!("TEXT {{{}{}}}", bytes.len(), if plus { "+" } else { "" }));
                client.send(&line);
                line.clear();
                if !plus {
                    let continuation = client.read_line();
                    if let Some(tagged) = continuation.strip_prefix(&format!("{tag} ")) {
                        return (Vec::new(), tagged.to_string());
                    }
                    assert!(continuation.starts_with('+'), "{continuation}");
                }
                client.send_raw(bytes);
            }
        }
    }
    line.push(')');
    client.send(&line);
    client.until_tagged(&tag)
}

/// The bytes of `item` (e.g. `BODY.PEEK[]`) of UID `uid` in the selected
/// mailbox: the one FETCH response's one item besides UID.
fn fetch(client: &mut Client, uid: u32, item: &str) -> String {
    let responses = client.run_ok(&format!("UID FETCH {uid} ({item})"));
    let fetches = responses.fetches();
    assert_eq!(fetches.len(), 1, "{responses:?}");
    let mut items = fetches[0].fetch_items();
    assert!(items.iter().any(|(name, value)| name == "UID" && *value == uid.to_string()), "{responses:?}");
    items.retain(|(name, _)| name != "UID");
    assert_eq!(items.len(), 1, "{responses:?}");
    items.remove(0).1
}

/// The value of FETCH item `name` for UID `uid` (the one FETCH response).
fn uid_item(client: &mut Client, uid: u32, name: &str) -> String {
    let untagged = client.ok(&format!("UID FETCH {uid} ({name})"));
    assert_eq!(fetches(&untagged).len(), 1, "{untagged:?}");
    item(fetches(&untagged)[0].1, name)
}

/// A message with a text part and an attachment.
fn multipart() -> Vec<u8> {
    b"From: Bob <bob@example.org>\r\nTo: Alice <alice@example.org>\r\nSubject: Report\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
preamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee the numbers attached.\r\n\
--b1\r\nContent-Type: text/csv; name=\"q3.csv\"\r\nContent-Disposition: attachment\r\n\r\nmonth,total\r\njuly,17\r\n\
--b1--\r\n"
        .to_vec()
}

#[test]
fn text_parts_make_a_message() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let capabilities = capabilities(&mut client);
    assert!(capabilities.contains("CATENATE") && capabilities.contains("URL-PARTIAL"), "{capabilities:?}");
    let (untagged, tagged) = catenate(
        &mut client,
        "INBOX",
        &[Part::Text(b"Subject: pieces\r\n\r\n"), Part::Text(b"first, "), Part::Text(b"second\r\n")],
        false,
    );
    assert!(tagged.starts_with("OK [APPENDUID "), "{tagged} after {untagged:?}");
    let (_, uid) = appenduid(&tagged);
    client.ok("SELECT INBOX");
    assert_eq!(fetch(&mut client, uid, "BODY.PEEK[]"), "Subject: pieces\r\n\r\nfirst, second\r\n");
    // The structure and the header summary are made as for APPEND.
    assert_eq!(uid_item(&mut client, uid, "RFC822.SIZE"), "34");
    let envelope = uid_item(&mut client, uid, "ENVELOPE");
    // RFC 9051 §7.5.2: the envelope's second field is the subject.
    assert_eq!(values(&envelope[1..envelope.len() - 1])[1], "pieces", "{envelope}");
}

#[test]
fn a_url_copies_a_whole_message_without_setting_seen() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let original = message("original", "the body\r\nsecond line");
    let uid = client.append_ok("INBOX", &original);
    let validity = status(&mut client, "INBOX", "UIDVALIDITY");
    let url = format!("/INBOX;UIDVALIDITY={validity}/;UID={uid}");
    let (_, tagged) = catenate(&mut client, "Sent", &[Part::Url(&url)], false);
    assert!(tagged.starts_with("OK [APPENDUID "), "{tagged}");
    let (_, copy) = appenduid(&tagged);
    client.ok("SELECT Sent");
    assert_eq!(fetch(&mut client, copy, "BODY.PEEK[]").as_bytes(), original);
    // RFC 4469 §3: read as BODY.PEEK, the original stays unseen.
    client.ok("SELECT INBOX");
    let flags = flag_set(&uid_item(&mut client, uid, "FLAGS"));
    assert!(!flags.contains("\\Seen"), "{flags:?}");
    // Without UIDVALIDITY, and as an absolute URL naming alice on this server.
    let (_, tagged) = catenate(&mut client, "INBOX", &[Part::Url(&format!("/INBOX/;UID={uid}"))], true);
    assert!(tagged.starts_with("OK"), "{tagged}");
    let absolute = format!("imap://alice@localhost/INBOX;UIDVALIDITY={validity}/;UID={uid}");
    let (_, tagged) = catenate(&mut client, "INBOX", &[Part::Url(&absolute)], true);
    assert!(tagged.starts_with("OK"), "{tagged}");
    let absolute = format!("imap://alice;AUTH=*@127.0.0.1/INBOX/;UID={uid}");
    let (_, tagged) = catenate(&mut client, "INBOX", &[Part::Url(&absolute)], true);
    assert!(tagged.starts_with("OK"), "{tagged}");
    // The whole command on one line, no literal at all.
    let (_, tagged) = client.command(&format!("APPEND INBOX (\\Flagged) CATENATE (URL /INBOX/;UID={uid})"));
    assert!(tagged.starts_with("OK [APPENDUID "), "{tagged}");
    let (_, last) = appenduid(&tagged);
    assert_eq!(fetch(&mut client, last, "BODY.PEEK[]").as_bytes(), original);
    assert!(flag_set(&uid_item(&mut client, last, "FLAGS")).contains("\\Flagged"));
}

#[test]
fn sections_header_text_and_mime_parts() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let uid = client.append_ok("INBOX", &multipart());
    client.ok("SELECT INBOX");
    let base = format!("/INBOX;UIDVALIDITY={}/;UID={uid}", status(&mut client, "INBOX", "UIDVALIDITY"));
    for section in
        ["HEADER", "TEXT", "1", "2", "2.MIME", "1.MIME", "HEADER.FIELDS%20(Subject%20To)", "HEADER.FIELDS.NOT%20(X)"]
    {
        let url = format!("{base}/;SECTION={section}");
        // A prefix keeps every result a non-empty message.
        let (_, tagged) = catenate(&mut client, "Drafts", &[Part::Text(b"X: 1\r\n"), Part::Url(&url)], false);
        assert!(tagged.starts_with("OK"), "{section}: {tagged}");
        let (_, made) = appenduid(&tagged);
        let expected = fetch(&mut client, uid, &format!("BODY.PEEK[{}]", section.replace("%20", " ")));
        client.ok("SELECT Drafts");
        assert_eq!(fetch(&mut client, made, "BODY.PEEK[]"), format!("X: 1\r\n{expected}"), "{section}");
        client.ok("SELECT INBOX");
    }
    // A forward: new header, the original's attachment part with its MIME header.
    let header = b"From: Alice <alice@example.org>\r\nTo: carol@example.org\r\nSubject: Fwd: Report\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"fw\"\r\n\r\n--fw\r\n";
    let parts = [
        Part::Text(header),
        Part::Url(&format!("{base}/;SECTION=2.MIME")),
        Part::Url(&format!("{base}/;SECTION=2")),
        Part::Text(b"\r\n--fw--\r\n"),
    ];
    let (_, tagged) = catenate(&mut client, "Sent", &parts, true);
    assert!(tagged.starts_with("OK"), "{tagged}");
    let (_, made) = appenduid(&tagged);
    client.ok("SELECT Sent");
    let structure = client.ok(&format!("UID FETCH {made} BODYSTRUCTURE")).join(" ");
    assert!(structure.contains("\"text\" \"csv\""), "{structure}");
    assert_eq!(fetch(&mut client, made, "BODY.PEEK[1]"), "month,total\r\njuly,17");
}

#[test]
fn partial_ranges() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let uid = client.append_ok("INBOX", &message("partial", "0123456789abcdef"));
    let base = format!("/INBOX/;UID={uid}");
    let cases = [
        ("/;SECTION=TEXT/;PARTIAL=4.6", "456789"),
        ("/;SECTION=TEXT/;PARTIAL=10", "abcdef\r\n"),
        ("/;SECTION=TEXT/;PARTIAL=16.100", "\r\n"),
        ("/;PARTIAL=0.8", "From: Bo"),
        ("/;SECTION=HEADER.FIELDS%20(SUBJECT)/;PARTIAL=9.7", "partial"),
    ];
    for (suffix, expected) in cases {
        let url = format!("{base}{suffix}");
        let (_, tagged) = catenate(&mut client, "Drafts", &[Part::Text(b"A: b\r\n\r\n"), Part::Url(&url)], false);
        assert!(tagged.starts_with("OK"), "{suffix}: {tagged}");
        let (_, made) = appenduid(&tagged);
        client.ok("SELECT Drafts");
        assert_eq!(fetch(&mut client, made, "BODY.PEEK[TEXT]"), expected, "{suffix}");
        client.ok("UNSELECT");
    }
}

#[test]
fn multiappend_with_catenate_stores_every_message_at_once() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let uid = client.append_ok("INBOX", &message("source", "body"));
    let url = format!("/INBOX/;UID={uid}");
    let tag = client.next_tag();
    // A catenated message, a plain one, and another catenated one, mixing
    // synchronizing and non-synchronizing literals across the lines.
    client.send(&format!("{tag} APPEND Sent (\\Seen) CATENATE (URL \"{url}\" TEXT {{4+}}"));
    client.send_raw(b"tail");
    let plain = message("plain", "x");
    client.send(&format!(") {{{}}}", plain.len()));
    assert!(client.read_line().starts_with('+'));
    client.send_raw(&plain);
    let third = b"Subject: third\r\n\r\n";
    client.send(&format!(" CATENATE (TEXT {{{}}}", third.len()));
    assert!(client.read_line().starts_with('+'));
    client.send_raw(third);
    client.send(&format!(" URL {{{}}}", url.len()));
    assert!(client.read_line().starts_with('+'));
    client.send_raw(url.as_bytes());
    client.send(")");
    let (_, tagged) = client.until_tagged(&tag);
    let status = Status::parse(&tagged);
    assert!(status.is("OK") && status.code().is("APPENDUID"), "{tagged}");
    assert_eq!(status.code().values()[1], "1:3", "{tagged}");
    client.ok("SELECT Sent");
    let source = String::from_utf8(message("source", "body")).unwrap();
    assert_eq!(fetch(&mut client, 1, "BODY.PEEK[]"), format!("{source}tail"));
    assert!(flag_set(&uid_item(&mut client, 1, "FLAGS")).contains("\\Seen"));
    assert_eq!(fetch(&mut client, 2, "BODY.PEEK[]").as_bytes(), plain);
    assert_eq!(fetch(&mut client, 3, "BODY.PEEK[]"), format!("Subject: third\r\n\r\n{source}"));
}

#[test]
fn unresolvable_urls_are_badurl_and_store_nothing() {
    let server = Server::start();
    let mut bob = server.login("bob", "hunter2");
    let bobs = bob.append_ok("INBOX", &message("bob's", "private"));
    let mut client = server.login("alice", "secret");
    let uid = client.append_ok("INBOX", &message("mine", "x"));
    let gone = client.append_ok("INBOX", &message("gone", "x"));
    client.ok("SELECT INBOX");
    client.ok(&format!("UID STORE {gone} +FLAGS (\\Deleted)"));
    client.ok("EXPUNGE");
    let validity = status(&mut client, "INBOX", "UIDVALIDITY");
    let cases = [
        format!("imap://bob@localhost/INBOX/;UID={bobs}"),
        format!("imap://localhost/INBOX/;UID={uid}"),
        format!("imap://alice@mail.elsewhere.example/INBOX/;UID={uid}"),
        format!("imap://alice@localhost:1/INBOX/;UID={uid}"),
        format!("/INBOX;UIDVALIDITY={}/;UID={uid}", validity.wrapping_add(1)),
        format!("/INBOX/;UID={gone}"),
        format!("/INBOX/;UID={}", gone + 100),
        format!("/Nowhere/;UID={uid}"),
        format!("/INBOX/;UID={uid}/;SECTION=3"),
        format!("/INBOX/;UID={uid}/;SECTION=1.2"),
        format!("/INBOX/;UID={uid}/;SECTION=1.HEADER"),
        format!("/INBOX/;UID={uid}/;SECTION=BOGUS"),
        format!("/INBOX/;UID={uid};URLAUTH=anonymous:internal:0123"),
        format!("/;UID={uid}"),
        format!(";UID={gone}"),
    ];
    let before = status(&mut client, "Drafts", "MESSAGES");
    for url in &cases {
        let (_, tagged) = catenate(&mut client, "Drafts", &[Part::Text(b"A: b\r\n\r\n"), Part::Url(url)], false);
        assert!(tagged.starts_with(&format!("NO [BADURL {url}]")), "{url}: {tagged}");
    }
    // RFC 4469 §3: `;UID=` is relative to the selected mailbox (INBOX here).
    let (_, tagged) = catenate(&mut client, "Drafts", &[Part::Url(&format!(";UID={uid}/;SECTION=TEXT"))], false);
    assert!(tagged.starts_with("OK"), "{tagged}");
    client.ok("UNSELECT");
    let (_, tagged) = catenate(&mut client, "Drafts", &[Part::Url(&format!(";UID={uid}"))], false);
    assert!(tagged.starts_with(&format!("NO [BADURL ;UID={uid}]")), "{tagged}");
    assert_eq!(status(&mut client, "Drafts", "MESSAGES"), before + 1);
    // Bob's message is untouched and alice's session goes on.
    client.ok("NOOP");
    assert_eq!(status(&mut bob, "INBOX", "MESSAGES"), 1);
}

#[test]
fn a_failure_anywhere_in_a_multiappend_stores_nothing() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let uid = client.append_ok("INBOX", &message("source", "body"));
    let before = status(&mut client, "Sent", "MESSAGES");
    let tag = client.next_tag();
    // First message good, second names a UID that does not exist.
    client.send(&format!("{tag} APPEND Sent CATENATE (URL /INBOX/;UID={uid}) CATENATE (URL /INBOX/;UID=999)"));
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("NO [BADURL /INBOX/;UID=999]"), "{tagged}");
    assert_eq!(status(&mut client, "Sent", "MESSAGES"), before);
    let next = status(&mut client, "Sent", "UIDNEXT");
    // A later APPEND gets the first UID: nothing was half stored.
    let appended = client.append_ok("Sent", &message("after", "x"));
    assert_eq!(next, appended);
}

#[test]
fn literals_after_a_refusal_are_read_and_the_connection_goes_on() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let before = status(&mut client, "INBOX", "MESSAGES");
    let tag = client.next_tag();
    // RFC 7888: the client sent everything with LITERAL+; the bytes
    // after the bad URL look like commands and must not be run as such.
    let trap = b"t99 LOGOUT\r\n";
    client.send(&format!("{tag} APPEND INBOX CATENATE (URL \"/INBOX/;UID=77\" TEXT {{{}+}}", trap.len()));
    client.send_raw(trap);
    client.send(" URL {13+}");
    client.send_raw(b"/INBOX/;UID=1");
    client.send(&format!(" TEXT ~{{{}+}}", trap.len()));
    client.send_raw(trap);
    client.send(&format!(") CATENATE (TEXT {{{}+}}", trap.len()));
    client.send_raw(trap);
    client.send(&format!(") {{{}+}}", trap.len()));
    client.send_raw(trap);
    client.send("");
    let (untagged, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("NO [BADURL /INBOX/;UID=77]"), "{tagged} after {untagged:?}");
    assert!(untagged.is_empty(), "{untagged:?}");
    client.ok("NOOP");
    assert_eq!(status(&mut client, "INBOX", "MESSAGES"), before);
    // A synchronizing literal after a refusal is not invited: the command ends there.
    let tag = client.next_tag();
    client.send(&format!("{tag} APPEND INBOX CATENATE (URL \"/INBOX/;UID=77\" TEXT {{5}}"));
    let line = client.read_line();
    assert!(line.starts_with(&format!("{tag} NO [BADURL")), "{line}");
    client.ok("NOOP");
}

#[test]
fn appendlimit_covers_the_whole_catenated_message() {
    let options = Options { extra_limits: "literal_size = 2000".into(), ..Default::default() };
    let server = Server::start_with(options);
    let mut client = server.login("alice", "secret");
    let big = message("big", &"y".repeat(1000));
    let uid = client.append_ok("INBOX", &big);
    let url = format!("/INBOX/;UID={uid}");
    let before = status(&mut client, "INBOX", "MESSAGES");
    // Two copies of a 1,200-byte message: over 2000.
    let (_, tagged) = catenate(&mut client, "INBOX", &[Part::Url(&url), Part::Url(&url)], false);
    assert!(tagged.starts_with("NO [TOOBIG]"), "{tagged}");
    // A TEXT literal that would pass the limit is refused before it is sent.
    let text = vec![b'z'; 900];
    let (_, tagged) = catenate(&mut client, "INBOX", &[Part::Url(&url), Part::Text(&text)], false);
    assert!(tagged.starts_with("NO [TOOBIG]"), "{tagged}");
    // With LITERAL+ the bytes come anyway and are read past.
    let (_, tagged) = catenate(&mut client, "INBOX", &[Part::Url(&url), Part::Text(&text)], true);
    assert!(tagged.starts_with("NO [TOOBIG]"), "{tagged}");
    assert_eq!(status(&mut client, "INBOX", "MESSAGES"), before);
    // Within the limit, fine.
    let (_, tagged) = catenate(&mut client, "INBOX", &[Part::Url(&url), Part::Text(&text[..200])], false);
    assert!(tagged.starts_with("OK"), "{tagged}");
}

#[test]
fn syntax_errors_and_empty_results() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let uid = client.append_ok("INBOX", &message("m", "x"));
    assert!(client.bad("APPEND INBOX CATENATE ()").contains("CATENATE"));
    client.bad(&format!("APPEND INBOX CATENATE (URL /INBOX/;UID={uid}"));
    client.bad(&format!("APPEND INBOX CATENATE (BODY /INBOX/;UID={uid})"));
    client.bad("APPEND INBOX CATENATE (TEXT \"quoted\")");
    // An empty result is no message.
    let (_, tagged) = catenate(&mut client, "INBOX", &[Part::Text(b"")], false);
    assert!(tagged.starts_with("NO"), "{tagged}");
    // A missing target mailbox: TRYCREATE, the URL not even looked at.
    let (_, tagged) = catenate(&mut client, "Nowhere", &[Part::Url(&format!("/INBOX/;UID={uid}"))], true);
    assert!(tagged.starts_with("NO [TRYCREATE]"), "{tagged}");
    client.ok("NOOP");
}

#[test]
fn a_literal8_text_part_keeps_binary_content() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let header =
        b"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n";
    let data = b"\x00\x01raw\nbytes\xff";
    let tag = client.next_tag();
    client.send(&format!("{tag} APPEND INBOX CATENATE (TEXT {{{}}}", header.len()));
    assert!(client.read_line().starts_with('+'));
    client.send_raw(header);
    client.send(&format!(" TEXT ~{{{}}}", data.len()));
    assert!(client.read_line().starts_with('+'));
    client.send_raw(data);
    client.send(")");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
    let (_, uid) = appenduid(&tagged);
    client.ok("SELECT INBOX");
    // Stored base64 (RFC 3516 §4.4), given back as it came by BINARY.
    assert_eq!(uid_item(&mut client, uid, "BINARY.SIZE[1]"), data.len().to_string());
    let body = fetch(&mut client, uid, "BODY.PEEK[TEXT]");
    assert!(!body.contains('\0') && body.starts_with("AAFyYXcKYnl0ZXP/"), "{body:?}");
}

#[test]
fn replace_with_catenate_and_a_url_into_another_mailbox() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let source = client.append_ok("INBOX", &message("attachment", "the data"));
    client.append_ok("Drafts", &message("draft 1", "x"));
    client.ok("SELECT Drafts");
    // RFC 8508 with RFC 4469: the new draft is made of text and a part of
    // a message in INBOX (not the selected mailbox); the old one goes.
    let tag = client.next_tag();
    let header = b"Subject: draft 2\r\n\r\n";
    client.send(&format!("{tag} REPLACE 1 Drafts (\\Draft) CATENATE (TEXT {{{}}}", header.len()));
    assert!(client.read_line().starts_with('+'));
    client.send_raw(header);
    client.send(&format!(" URL \"/INBOX/;UID={source}/;SECTION=TEXT\")"));
    let (untagged, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged} after {untagged:?}");
    assert!(untagged.iter().any(|line| line.starts_with("* OK [APPENDUID ")), "{untagged:?}");
    assert!(untagged.iter().any(|line| line == "* 1 EXPUNGE"), "{untagged:?}");
    let uids = client.ok("UID SEARCH ALL").join(" ");
    let uid: u32 = uids.split_whitespace().last().unwrap().parse().unwrap();
    assert_eq!(fetch(&mut client, uid, "BODY.PEEK[]"), "Subject: draft 2\r\n\r\nthe data\r\n");
    // REPLACE takes one message, CATENATE or not.
    let tag = client.next_tag();
    client.send(&format!(
        "{tag} REPLACE 1 Drafts CATENATE (URL /INBOX/;UID={source}) CATENATE (URL /INBOX/;UID={source})"
    ));
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("BAD"), "{tagged}");
    assert_eq!(status(&mut client, "Drafts", "MESSAGES"), 1);
}

/// The server process's peak resident memory (VmHWM), in KiB.
#[test]
fn a_large_url_streams_through_without_being_held_whole() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let line = [&[b'x'; 76][..], b"\r\n"].concat();
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    while big.len() < 24 << 20 {
        big.extend_from_slice(&line);
    }
    let tag = client.next_tag();
    client.send_raw(format!("{tag} APPEND INBOX {{{}+}}\r\n", big.len()).as_bytes());
    client.send_raw(&big);
    client.send_raw(b"\r\n");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
    let (_, uid) = appenduid(&tagged);
    let before = server.peak_memory_kib();
    let (_, tagged) = catenate(
        &mut client,
        "Sent",
        &[Part::Text(b"Subject: fwd\r\n\r\n"), Part::Url(&format!("/INBOX/;UID={uid}/;SECTION=TEXT"))],
        true,
    );
    assert!(tagged.starts_with("OK"), "{tagged}");
    let grown = server.peak_memory_kib().saturating_sub(before);
    // Held whole, the 24 MiB would show; streamed, a few board-sized pieces do.
    assert!(grown < 12 * 1024, "peak memory grew by {grown} KiB");
    let size = client.ok("STATUS Sent (SIZE)").join(" ");
    let expected = big.len() - b"Subject: big\r\n\r\n".len() + b"Subject: fwd\r\n\r\n".len();
    assert!(size.contains(&format!("SIZE {expected}")), "{size}");
}

#[test]
fn a_url_names_a_mailbox_in_percent_encoded_utf8() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    // Created by an IMAP4rev1 client in modified UTF-7 (RFC 3501 §5.1.3);
    // the URL carries the same name as UTF-8, percent-encoded (RFC 5092).
    client.ok("CREATE Entw&APw-rfe");
    let uid = client.append_ok("Entw&APw-rfe", &message("umlaut", "x"));
    let url = format!("/Entw%C3%BCrfe/;UID={uid}/;SECTION=HEADER.FIELDS%20(SUBJECT)");
    let (_, tagged) = catenate(&mut client, "INBOX", &[Part::Url(&url), Part::Text(b"body\r\n")], false);
    assert!(tagged.starts_with("OK"), "{tagged}");
    let (_, made) = appenduid(&tagged);
    client.ok("SELECT INBOX");
    assert_eq!(fetch(&mut client, made, "BODY.PEEK[]"), "Subject: umlaut\r\n\r\nbody\r\n");
    // The modified UTF-7 spelling is not the URL's: no such mailbox.
    let (_, tagged) = catenate(&mut client, "INBOX", &[Part::Url(&format!("/Entw&APw-rfe/;UID={uid}"))], false);
    assert!(tagged.starts_with("NO [BADURL"), "{tagged}");
}

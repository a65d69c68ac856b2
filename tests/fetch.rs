//! FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8): items, sections,
//! partials, macros, \Seen side effects, sequence sets. MIME-aware items
//! (ENVELOPE, BODYSTRUCTURE, part sections, BINARY) are in mime_fetch.rs.

mod common;

use common::*;

// ---------------------------------------------------------------------------
// FETCH
// ---------------------------------------------------------------------------

/// A message with a folded Subject and several fields, for section tests.
fn sections_message() -> Vec<u8> {
    b"From: Bob Example <bob@example.org>\r\nTo: Alice <alice@example.org>\r\nSubject: a subject\r\n that is folded\r\nDate: Wed, 17 Jul 1996 02:44:25 -0700\r\nX-Extra: one\r\n\r\nFirst line of the body.\r\nSecond line.\r\n".to_vec()
}

#[test]
fn fetch_flags_uid_internaldate_size() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let body = sections_message();
    let (_, tagged) = client.append("INBOX", r#"(\Flagged) "17-Jul-1996 02:44:25 -0700""#, &body);
    let uid = appenduid(&tagged).1;
    client.ok("SELECT INBOX");
    let untagged = client.ok("FETCH 1 (FLAGS UID INTERNALDATE RFC822.SIZE)");
    assert_eq!(fetches(&untagged).len(), 1);
    let response = fetch_of(&untagged, 1);
    let mut names = item_names(response);
    names.sort();
    assert_eq!(names, ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "UID"]);
    assert_eq!(flag_set(&item(response, "FLAGS")), flags(&[r"\Flagged", r"\Recent"]));
    assert_eq!(item(response, "UID"), uid.to_string());
    assert_eq!(item(response, "INTERNALDATE"), "17-Jul-1996 02:44:25 -0700");
    assert_eq!(item(response, "RFC822.SIZE"), body.len().to_string());
    // Single items need no parentheses; names are case-insensitive.
    let untagged = client.ok("fetch 1 rfc822.size");
    assert_eq!(fetch_of(&untagged, 1), &format!("* 1 FETCH (RFC822.SIZE {})", body.len()));
    // An APPEND without a date gets the time of the append: a well-formed date-time.
    client.append_ok("INBOX", &message("now", "x"));
    let untagged = client.ok("FETCH 2 INTERNALDATE");
    let date = item(fetch_of(&untagged, 2), "INTERNALDATE");
    let bytes = date.as_bytes();
    assert_eq!(bytes.len(), 26, "{date}");
    assert!(bytes[2] == b'-' && bytes[6] == b'-' && bytes[11] == b' ' && bytes[20] == b' ', "{date}");
    assert!(bytes[21] == b'+' || bytes[21] == b'-', "{date}");
}

#[test]
fn fetch_whole_message_and_its_parts() {
    let server = Server::start();
    let body = sections_message();
    let text = String::from_utf8(body.clone()).unwrap();
    let split = text.find("\r\n\r\n").unwrap() + 4;
    let (header, text_part) = (&text[..split], &text[split..]);
    let (mut client, _) = settled(&server, std::slice::from_ref(&body));
    for (request, name, expected) in [
        ("BODY.PEEK[]", "BODY[]", text.as_str()),
        ("BODY.PEEK[HEADER]", "BODY[HEADER]", header),
        ("BODY.PEEK[TEXT]", "BODY[TEXT]", text_part),
        ("RFC822.HEADER", "RFC822.HEADER", header),
        ("RFC822", "RFC822", text.as_str()),
        ("RFC822.TEXT", "RFC822.TEXT", text_part),
    ] {
        let untagged = client.ok(&format!("FETCH 1 ({request})"));
        let response = fetch_of(&untagged, 1);
        assert_eq!(item(response, name), expected, "{request}");
        assert!(item_names(response).iter().all(|found| !found.contains("PEEK")), "{response}");
    }
    // Several sections in one FETCH.
    let untagged = client.ok("FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT] RFC822.SIZE)");
    let response = fetch_of(&untagged, 1);
    assert_eq!(item(response, "BODY[HEADER]"), header);
    assert_eq!(item(response, "BODY[TEXT]"), text_part);
    assert_eq!(item(response, "RFC822.SIZE"), body.len().to_string());
}

#[test]
fn fetch_header_fields() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &[sections_message()]);
    let untagged = client.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (From Subject)]");
    let response = fetch_of(&untagged, 1);
    // RFC 3501 §6.4.5: the fields as sent (folding kept) and the blank line.
    assert_eq!(
        item(response, "BODY[HEADER.FIELDS (From Subject)]"),
        "From: Bob Example <bob@example.org>\r\nSubject: a subject\r\n that is folded\r\n\r\n"
    );
    // Field names match case-insensitively, in the message's order.
    let untagged = client.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (x-extra TO)]");
    assert_eq!(
        item(fetch_of(&untagged, 1), "BODY[HEADER.FIELDS (x-extra TO)]"),
        "To: Alice <alice@example.org>\r\nX-Extra: one\r\n\r\n"
    );
    let untagged = client.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (From Subject Date)]");
    assert_eq!(
        item(fetch_of(&untagged, 1), "BODY[HEADER.FIELDS.NOT (From Subject Date)]"),
        "To: Alice <alice@example.org>\r\nX-Extra: one\r\n\r\n"
    );
    // No such field: just the blank line.
    let untagged = client.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (X-Missing)]");
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[HEADER.FIELDS (X-Missing)]"), "\r\n");
    // Quoted field names are allowed (astring).
    let untagged = client.ok(r#"FETCH 1 BODY.PEEK[HEADER.FIELDS ("Date")]"#);
    let response = fetch_of(&untagged, 1);
    let (_, value) = fetch_items(response).pop().unwrap();
    assert_eq!(value, "Date: Wed, 17 Jul 1996 02:44:25 -0700\r\n\r\n");
    // Partial of a header field selection.
    let untagged = client.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (To)]<4.5>");
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[HEADER.FIELDS (To)]<4>"), "Alice");
    client.bad("FETCH 1 BODY.PEEK[HEADER.FIELDS ()]");
    client.bad("FETCH 1 BODY.PEEK[HEADER.FIELDS (Bad:Name)]");
}

#[test]
fn fetch_partial() {
    let server = Server::start();
    let body = sections_message();
    let text = String::from_utf8(body.clone()).unwrap();
    let (mut client, _) = settled(&server, std::slice::from_ref(&body));
    let untagged = client.ok("FETCH 1 BODY.PEEK[]<0.10>");
    let response = fetch_of(&untagged, 1);
    // RFC 3501 §7.4.2: the answer names the origin only.
    assert_eq!(item_names(response), ["BODY[]<0>"]);
    assert_eq!(item(response, "BODY[]<0>"), &text[..10]);
    let untagged = client.ok("FETCH 1 BODY.PEEK[]<5.7>");
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[]<5>"), &text[5..12]);
    let split = text.find("\r\n\r\n").unwrap() + 4;
    let untagged = client.ok("FETCH 1 BODY.PEEK[TEXT]<6.4>");
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[TEXT]<6>"), &text[split + 6..split + 10]);
    // Count past the end: what there is.
    let untagged = client.ok(&format!("FETCH 1 BODY.PEEK[]<{}.1000>", body.len() - 3));
    assert_eq!(item(fetch_of(&untagged, 1), &format!("BODY[]<{}>", body.len() - 3)), &text[body.len() - 3..]);
    // Origin past the end: an empty string.
    let untagged = client.ok("FETCH 1 BODY.PEEK[]<100000.10>");
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[]<100000>"), "");
    let untagged = client.ok(&format!("FETCH 1 BODY.PEEK[HEADER]<{split}.10>"));
    assert_eq!(item(fetch_of(&untagged, 1), &format!("BODY[HEADER]<{split}>")), "");
    client.bad("FETCH 1 BODY.PEEK[]<0.0>");
    client.bad("FETCH 1 BODY.PEEK[]<10>");
}

#[test]
fn fetch_fast_macro() {
    let server = Server::start();
    let body = message("fast", "macro");
    let (mut client, _) = settled(&server, std::slice::from_ref(&body));
    let untagged = client.ok("FETCH 1 FAST");
    let response = fetch_of(&untagged, 1);
    let mut names = item_names(response);
    names.sort();
    assert_eq!(names, ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]);
    assert_eq!(item(response, "FLAGS"), "()");
    assert_eq!(item(response, "RFC822.SIZE"), body.len().to_string());
}

#[test]
fn fetching_a_body_sets_seen_and_reports_it() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(7));
    // BODY.PEEK, RFC822.HEADER, RFC822.SIZE: no \Seen.
    for (sequence, request) in
        [(1, "BODY.PEEK[]"), (2, "BODY.PEEK[TEXT]"), (3, "RFC822.HEADER"), (4, "BODY.PEEK[HEADER.FIELDS (Subject)]")]
    {
        let untagged = client.ok(&format!("FETCH {sequence} {request}"));
        let response = fetch_of(&untagged, sequence);
        assert!(try_item(response, "FLAGS").is_none(), "{request}: {response}");
        assert_eq!(flags_of(&mut client, sequence), flags(&[]), "{request} must not set \\Seen");
    }
    // BODY[...] without PEEK, RFC822 and RFC822.TEXT set \Seen, and the
    // answer carries the new FLAGS (RFC 3501 §6.4.5, §7.4.2).
    for (sequence, request) in
        [(1, "BODY[]"), (2, "BODY[TEXT]"), (3, "RFC822"), (4, "RFC822.TEXT"), (5, "BODY[HEADER]")]
    {
        let untagged = client.ok(&format!("FETCH {sequence} {request}"));
        let response = fetch_of(&untagged, sequence);
        assert_eq!(flag_set(&item(response, "FLAGS")), flags(&[r"\Seen"]), "{request}: {response}");
        assert_eq!(flags_of(&mut client, sequence), flags(&[r"\Seen"]), "{request} sets \\Seen");
    }
    // With FLAGS requested too, they are reported once, already with \Seen.
    let untagged = client.ok("FETCH 6 (FLAGS BODY[TEXT])");
    let response = fetch_of(&untagged, 6);
    assert_eq!(item_names(response).iter().filter(|name| *name == "FLAGS").count(), 1, "{response}");
    assert_eq!(flag_set(&item(response, "FLAGS")), flags(&[r"\Seen"]));
    // An already-seen message stays seen; other flags are kept.
    client.ok(r"STORE 7 +FLAGS.SILENT (\Flagged)");
    let untagged = client.ok("FETCH 7 BODY[]");
    assert_eq!(flag_set(&item(fetch_of(&untagged, 7), "FLAGS")), flags(&[r"\Seen", r"\Flagged"]));
    assert_eq!(search(&mut client, "UNSEEN"), Vec::<u32>::new());
}

#[test]
fn fetch_in_an_examined_mailbox_changes_nothing() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    for body in numbered(2) {
        client.append_ok("INBOX", &body);
    }
    let untagged = client.ok("EXAMINE INBOX");
    assert!(untagged.iter().any(|line| line.starts_with("* OK [PERMANENTFLAGS ()]")), "{untagged:?}");
    for request in ["BODY[]", "RFC822", "RFC822.TEXT", "BODY[TEXT]"] {
        let untagged = client.ok(&format!("FETCH 1 {request}"));
        let response = fetch_of(&untagged, 1);
        if let Some(found) = try_item(response, "FLAGS") {
            assert!(!flag_set(&found).contains(r"\Seen"), "{response}");
        }
    }
    assert_eq!(flag_set(&item(fetch_of(&client.ok("FETCH 1 FLAGS"), 1), "FLAGS")), flags(&[r"\Recent"]));
    let refused = client.no(r"STORE 1 +FLAGS (\Seen)");
    assert!(refused.starts_with("NO [READ-ONLY]"), "{refused}");
    assert!(client.no("EXPUNGE").starts_with("NO [READ-ONLY]"));
    client.ok("CREATE Target");
    assert!(client.no("MOVE 1 Target").starts_with("NO [READ-ONLY]"));
    // COPY only reads the source: allowed.
    client.ok("COPY 1 Target");
    // Nothing was marked \Seen and \Recent was not taken by EXAMINE.
    let untagged = client.ok("SELECT INBOX");
    assert!(untagged.contains(&"* 2 RECENT".to_string()), "{untagged:?}");
    assert!(untagged.iter().any(|line| line.starts_with("* OK [UNSEEN 1]")), "{untagged:?}");
    assert_eq!(status(&mut client, "INBOX", "UNSEEN"), 2);
}

#[test]
fn fetch_sequence_sets() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(4));
    let numbers = |untagged: &[Response]| {
        let mut found: Vec<u32> = fetches(untagged).into_iter().map(|(number, _)| number).collect();
        found.sort_unstable();
        found
    };
    assert_eq!(numbers(&client.ok("FETCH 1:* FLAGS")), [1, 2, 3, 4]);
    assert_eq!(numbers(&client.ok("FETCH * FLAGS")), [4]);
    assert_eq!(numbers(&client.ok("FETCH 2:1 FLAGS")), [1, 2]);
    assert_eq!(numbers(&client.ok("FETCH *:3 FLAGS")), [3, 4]);
    assert_eq!(numbers(&client.ok("FETCH 4,1,2:3 FLAGS")), [1, 2, 3, 4]);
    assert_eq!(numbers(&client.ok("FETCH 1,1,1 FLAGS")), [1], "a message is answered once");
    assert_eq!(numbers(&client.ok("FETCH 3 FLAGS")), [3]);
    // Sequence numbers beyond EXISTS are an error (RFC 3501 §9 seq-number).
    client.bad("FETCH 5 FLAGS");
    client.bad("FETCH 1:5 FLAGS");
    client.bad("FETCH 0 FLAGS");
    client.bad("FETCH 1 (FLAGS");
    client.bad("FETCH 1 NOSUCHITEM");
    client.bad("FETCH 1");
    client.ok("NOOP");
}

#[test]
fn uid_fetch_includes_uid_and_ignores_missing_uids() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(3));
    // Expunge the middle one so sequence numbers and UIDs differ.
    client.ok(r"STORE 2 +FLAGS.SILENT (\Deleted)");
    client.ok("EXPUNGE");
    let untagged = client.ok(&format!("UID FETCH {} FLAGS", uids[2]));
    let response = fetch_of(&untagged, 2);
    assert_eq!(item(response, "UID"), uids[2].to_string(), "RFC 3501 §6.4.8: UID always included");
    assert_eq!(item(response, "FLAGS"), "()");
    let untagged = client.ok("UID FETCH 1:* (UID RFC822.SIZE)");
    assert_eq!(fetches(&untagged).len(), 2);
    for (sequence, uid) in [(1, uids[0]), (2, uids[2])] {
        let response = fetch_of(&untagged, sequence);
        assert_eq!(item_names(response).iter().filter(|name| *name == "UID").count(), 1, "{response}");
        assert_eq!(item(response, "UID"), uid.to_string());
    }
    // UIDs that do not exist: no data, OK.
    let untagged = client.ok(&format!("UID FETCH {} FLAGS", uids[1]));
    assert!(fetches(&untagged).is_empty(), "{untagged:?}");
    let untagged = client.ok("UID FETCH 1000:2000 FLAGS");
    assert!(fetches(&untagged).is_empty(), "{untagged:?}");
    // `n:*` with n above every UID still names the highest one (RFC 3501 §6.4.8).
    let untagged = client.ok("UID FETCH 1000:* FLAGS");
    assert_eq!(item(fetch_of(&untagged, 2), "UID"), uids[2].to_string());
}

#[test]
fn fetch_in_an_empty_mailbox() {
    let server = Server::start();
    let mut client = server.alice_inbox();
    let untagged = client.ok("FETCH 1:* FLAGS");
    assert!(fetches(&untagged).is_empty(), "{untagged:?}");
    let untagged = client.ok("UID FETCH 1:* FLAGS");
    assert!(fetches(&untagged).is_empty(), "{untagged:?}");
    client.ok("UID FETCH 1 FLAGS");
    client.bad("FETCH 1 FLAGS");
    assert_eq!(search(&mut client, "ALL"), Vec::<u32>::new());
    let untagged = client.ok("SEARCH ALL");
    assert!(untagged.contains(&"* SEARCH".to_string()), "an empty SEARCH response: {untagged:?}");
    client.ok(r"STORE 1:* +FLAGS (\Seen)");
    client.ok("EXPUNGE");
}

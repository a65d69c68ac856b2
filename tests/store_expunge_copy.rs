//! STORE (RFC 3501 §6.4.6), EXPUNGE (§6.4.3), COPY (§6.4.7) and MOVE
//! (RFC 6851), with UIDPLUS (RFC 4315): flags, keywords, \Recent, COPYUID,
//! shifting sequence numbers.

mod common;

use common::*;

// ---------------------------------------------------------------------------
// STORE
// ---------------------------------------------------------------------------

#[test]
fn store_replace_add_remove() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(3));
    let untagged = client.ok(r"STORE 1 FLAGS (\Seen \Flagged)");
    assert_eq!(untagged.len(), 1, "{untagged:?}");
    assert_eq!(flag_set(&item(fetch_of(&untagged, 1), "FLAGS")), flags(&[r"\Seen", r"\Flagged"]));
    let untagged = client.ok(r"STORE 1 +FLAGS (\Answered)");
    assert_eq!(flag_set(&item(fetch_of(&untagged, 1), "FLAGS")), flags(&[r"\Seen", r"\Flagged", r"\Answered"]));
    let untagged = client.ok(r"STORE 1 -FLAGS (\Seen \Draft)");
    assert_eq!(flag_set(&item(fetch_of(&untagged, 1), "FLAGS")), flags(&[r"\Flagged", r"\Answered"]));
    let untagged = client.ok(r"STORE 1 FLAGS (\Draft)");
    assert_eq!(flag_set(&item(fetch_of(&untagged, 1), "FLAGS")), flags(&[r"\Draft"]));
    let untagged = client.ok("STORE 1 FLAGS ()");
    assert_eq!(item(fetch_of(&untagged, 1), "FLAGS"), "()");
    // Ranges, and the flag list without parentheses.
    let untagged = client.ok(r"STORE 2:* +FLAGS \Deleted \Seen");
    assert_eq!(fetches(&untagged).len(), 2);
    for sequence in [2, 3] {
        assert_eq!(flag_set(&item(fetch_of(&untagged, sequence), "FLAGS")), flags(&[r"\Deleted", r"\Seen"]));
    }
    assert_eq!(flags_of(&mut client, 1), flags(&[]));
    assert_eq!(status(&mut client, "INBOX", "DELETED"), 2);
}

#[test]
fn store_silent_sends_no_fetch() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(2));
    for (command, expected) in [
        (r"STORE 1:2 FLAGS.SILENT (\Seen \Flagged)", &[r"\Seen", r"\Flagged"][..]),
        (r"STORE 1:2 +FLAGS.SILENT (\Answered)", &[r"\Seen", r"\Flagged", r"\Answered"][..]),
        (r"STORE 1:2 -FLAGS.SILENT (\Flagged)", &[r"\Seen", r"\Answered"][..]),
        (r"UID STORE 1:* +FLAGS.SILENT ($Silent)", &[r"\Seen", r"\Answered", "$Silent"][..]),
    ] {
        let untagged = client.ok(command);
        assert!(fetches(&untagged).is_empty(), "{command}: {untagged:?}");
        assert_eq!(flags_of(&mut client, 1), flags(expected), "{command}");
        assert_eq!(flags_of(&mut client, 2), flags(expected), "{command}");
    }
}

#[test]
fn store_of_a_new_keyword_announces_it() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(2));
    let untagged = client.ok("STORE 1 +FLAGS ($Label)");
    let system = r"\Answered \Flagged \Deleted \Seen \Draft";
    let responses = Responses::of(&untagged);
    let at = |name: &str, number: Option<u32>| {
        let found = responses.0.iter().position(
            |reply| matches!(reply, Reply::Untagged(response) if response.is(name) && response.number == number),
        );
        found.unwrap_or_else(|| panic!("no {name} in {untagged:?}"))
    };
    let flags_line = at("FLAGS", None);
    assert_eq!(defined_flags(&untagged), flag_set(&format!("({system} $Label)")));
    let permanent = responses.status_with("PERMANENTFLAGS").expect("PERMANENTFLAGS");
    assert!(permanent.is("OK"), "{untagged:?}");
    assert_eq!(flag_set(&permanent.code().data), flag_set(&format!(r"({system} $Label \*)")));
    let fetch = at("FETCH", Some(1));
    assert!(flags_line < fetch, "the new keyword is defined before it is used: {untagged:?}");
    assert_eq!(flag_set(&item(&untagged[fetch], "FLAGS")), flags(&["$Label"]));
    // Already defined: no second announcement.
    let untagged = client.ok("STORE 2 +FLAGS ($Label)");
    assert!(Responses::of(&untagged).untagged("FLAGS").is_empty(), "{untagged:?}");
    // Removing it from every message keeps it defined.
    client.ok("STORE 1:2 -FLAGS ($Label)");
    assert_eq!(flags_of(&mut client, 1), flags(&[]));
    let selected = client.ok("SELECT INBOX");
    assert!(defined_flags(&selected).contains("$Label"), "{selected:?}");
    // FLAGS replaces keywords as well as system flags.
    client.ok(r"STORE 2 FLAGS (\Seen $Other)");
    assert_eq!(flags_of(&mut client, 2), flags(&[r"\Seen", "$Other"]));
}

#[test]
fn recent_cannot_be_stored() {
    let server = Server::start();
    let mut first = server.login("alice", "secret");
    for body in numbered(2) {
        first.append_ok("INBOX", &body);
    }
    first.ok("SELECT INBOX");
    assert!(flags_of(&mut first, 1).contains(r"\Recent"));
    // RFC 3501 §2.3.2: \Recent cannot be altered by the client. Whether the
    // attempt is refused (Dovecot: BAD) or ignored, the flag does not change.
    for command in [r"STORE 1 -FLAGS (\Recent)", r"STORE 1 FLAGS (\Seen)", r"STORE 1 FLAGS ()"] {
        let (_, tagged) = first.command(command);
        assert!(tagged.starts_with("OK") || tagged.starts_with("BAD"), "{command}: {tagged}");
        assert!(flags_of(&mut first, 1).contains(r"\Recent"), "{command} must not clear \\Recent");
    }
    // Another session, to which the messages are not recent, cannot set it.
    let mut second = server.login("alice", "secret");
    second.ok("SELECT INBOX");
    assert!(!flags_of(&mut second, 2).contains(r"\Recent"));
    let (_, tagged) = second.command(r"STORE 2 +FLAGS (\Recent)");
    assert!(tagged.starts_with("OK") || tagged.starts_with("BAD"), "{tagged}");
    assert!(!flags_of(&mut second, 2).contains(r"\Recent"), "\\Recent must not be set by STORE");
    assert_eq!(search(&mut second, "RECENT"), Vec::<u32>::new());
}

#[test]

fn recent_is_not_handed_out_twice() {
    // RFC 3501 §2.3.2: "if the session is replaced, subsequent sessions will
    // not see \Recent set for this message". roost persists the new
    // first-recent UID with a fire-and-forget store operation; when the only
    // watcher leaves at once, the next SELECT reloads the stale value.
    let server = Server::start();
    let mut appender = server.login("alice", "secret");
    let mut reader = server.login("alice", "secret");
    for round in 0..20 {
        appender.append_ok("INBOX", &message(&format!("r{round}"), "x"));
        // Re-SELECT in one session (pipelined) ...
        reader.send_raw(b"s1 SELECT INBOX\r\ns2 SELECT INBOX\r\n");
        let (first, _) = reader.until_tagged("s1");
        assert!(first.contains(&"* 1 RECENT".to_string()), "round {round}: {first:?}");
        let (second, _) = reader.until_tagged("s2");
        assert!(second.contains(&"* 0 RECENT".to_string()), "round {round}, same session: {second:?}");
        reader.ok("UNSELECT");
        // ... and another session, once the one that saw the message has left.
        appender.append_ok("INBOX", &message(&format!("q{round}"), "x"));
        let mut next = server.login("alice", "secret");
        let mut session = server.login("alice", "secret");
        session.send_raw(b"s1 SELECT INBOX\r\ns2 LOGOUT\r\n");
        let (first, _) = session.until_tagged("s1");
        assert!(first.contains(&"* 1 RECENT".to_string()), "round {round}: {first:?}");
        session.until_tagged("s2");
        let untagged = next.ok("EXAMINE INBOX");
        assert!(untagged.contains(&"* 0 RECENT".to_string()), "round {round}, next session: {untagged:?}");
    }
}

#[test]
fn uid_store_answers_carry_the_uid() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(3));
    client.ok(r"STORE 1 +FLAGS.SILENT (\Deleted)");
    client.ok("EXPUNGE");
    let untagged = client.ok(&format!(r"UID STORE {},{} +FLAGS (\Flagged)", uids[1], uids[2]));
    assert_eq!(fetches(&untagged).len(), 2);
    for (sequence, uid) in [(1, uids[1]), (2, uids[2])] {
        let response = fetch_of(&untagged, sequence);
        assert_eq!(item(response, "UID"), uid.to_string(), "{response}");
        assert_eq!(flag_set(&item(response, "FLAGS")), flags(&[r"\Flagged"]));
    }
    // Missing UIDs are ignored.
    let untagged = client.ok(&format!(r"UID STORE {},9999 FLAGS (\Seen)", uids[0]));
    assert!(fetches(&untagged).is_empty(), "{untagged:?}");
    assert_eq!(flags_of(&mut client, 1), flags(&[r"\Flagged"]));
}

#[test]
fn store_system_flags_are_case_insensitive() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(2));
    let untagged = client.ok(r"store 1 +flags (\sEEN \FLAGGED \answered \DrAfT \deleted)");
    assert_eq!(
        flag_set(&item(fetch_of(&untagged, 1), "FLAGS")),
        flags(&[r"\Seen", r"\Flagged", r"\Answered", r"\Draft", r"\Deleted"]),
        "reported under their canonical names"
    );
    client.ok(r"STORE 1 -FLAGS (\SEEN \deleted)");
    assert_eq!(flags_of(&mut client, 1), flags(&[r"\Flagged", r"\Answered", r"\Draft"]));
    assert_eq!(search(&mut client, "flagged unseen"), [1]);
    // Errors.
    client.bad(r"STORE 1 +FLAGS (\Bogus)");
    client.bad(r"STORE 1 +FLAGS (\*)");
    client.bad(r"STORE 3 +FLAGS (\Seen)");
    client.bad(r"STORE 1 +FLAGZ (\Seen)");
    client.bad(r"STORE 1 +FLAGS (\Seen");
    assert_eq!(flags_of(&mut client, 2), flags(&[]));
}

// ---------------------------------------------------------------------------
// EXPUNGE
// ---------------------------------------------------------------------------

#[test]
fn expunge_reports_each_message_with_shifting_sequence_numbers() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(7));
    // Nothing deleted: nothing to report.
    let untagged = client.ok("EXPUNGE");
    assert!(untagged.is_empty(), "{untagged:?}");
    client.ok(r"STORE 2,3,5,7 +FLAGS.SILENT (\Deleted)");
    let untagged = client.ok("EXPUNGE");
    // RFC 3501 §7.4.1: each EXPUNGE renumbers the later messages at once.
    assert_eq!(untagged, ["* 2 EXPUNGE", "* 2 EXPUNGE", "* 3 EXPUNGE", "* 4 EXPUNGE"]);
    assert_eq!(all_uids(&mut client), [uids[0], uids[3], uids[5]]);
    let selected = client.ok("SELECT INBOX");
    assert!(selected.contains(&"* 3 EXISTS".to_string()), "{selected:?}");
    client.bad("FETCH 4 FLAGS");
}

#[test]
fn uid_expunge_removes_only_given_deleted_messages() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(5));
    assert!(capabilities(&mut client).contains("UIDPLUS"));
    client.ok(r"STORE 1,2,3,5 +FLAGS.SILENT (\Deleted)");
    let untagged = client.ok(&format!("UID EXPUNGE {}:{}", uids[1], uids[3]));
    assert_eq!(untagged, ["* 2 EXPUNGE", "* 2 EXPUNGE"], "RFC 4315 §2.1");
    assert_eq!(all_uids(&mut client), [uids[0], uids[3], uids[4]]);
    // Non-existent UIDs: OK, nothing happens.
    let untagged = client.ok("UID EXPUNGE 100:200");
    assert!(untagged.is_empty(), "{untagged:?}");
    assert_eq!(search(&mut client, "DELETED"), [1, 3]);
    let untagged = client.ok("EXPUNGE");
    assert_eq!(untagged, ["* 1 EXPUNGE", "* 2 EXPUNGE"]);
    assert_eq!(all_uids(&mut client), [uids[3]]);
}

// ---------------------------------------------------------------------------
// COPY and MOVE
// ---------------------------------------------------------------------------

#[test]
fn copy_answers_copyuid_and_carries_flags() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(3));
    client.ok("CREATE Saved");
    let validity = status(&mut client, "Saved", "UIDVALIDITY");
    client.ok(r"STORE 1 FLAGS.SILENT (\Seen \Flagged $Project)");
    client.ok(r"STORE 3 FLAGS.SILENT (\Answered $Other)");
    let (untagged, tagged) = client.command("COPY 1:2 Saved");
    assert!(tagged.starts_with("OK [COPYUID "), "{tagged}");
    let responses = Responses::of(&untagged);
    assert!(responses.fetches().is_empty() && responses.untagged("EXPUNGE").is_empty(), "{untagged:?}");
    assert_eq!(copyuid(&tagged), (validity, format!("{}:{}", uids[0], uids[1]), "1:2".to_string()));
    let (_, tagged) = client.command(&format!("UID COPY {},{} Saved", uids[2], uids[0]));
    assert_eq!(copyuid(&tagged), (validity, format!("{},{}", uids[0], uids[2]), "3:4".to_string()));
    // The source is unchanged.
    assert_eq!(all_uids(&mut client), uids);
    // The copies have the flags and keywords (\Recent is the target's own).
    client.ok("EXAMINE Saved");
    let untagged = client.ok("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])");
    let expected = [
        (1, &[r"\Seen", r"\Flagged", "$Project"][..], "m1"),
        (2, &[][..], "m2"),
        (3, &[r"\Seen", r"\Flagged", "$Project"][..], "m1"),
        (4, &[r"\Answered", "$Other"][..], "m3"),
    ];
    for (uid, expected_flags, subject) in expected {
        let response = fetch_of(&untagged, uid);
        let mut found = flag_set(&item(response, "FLAGS"));
        found.remove(r"\Recent");
        assert_eq!(found, flags(expected_flags), "{response}");
        assert_eq!(item(response, "UID"), uid.to_string());
        assert_eq!(item(response, "BODY[HEADER.FIELDS (Subject)]"), format!("Subject: {subject}\r\n\r\n"));
    }
    // The copies' header summaries came along: SEARCH reads them.
    assert_eq!(client.ok("SEARCH SUBJECT m1"), vec!["* SEARCH 1 3".to_string()]);
    // Errors.
    client.ok("SELECT INBOX");
    client.bad("COPY 4 Saved");
    client.bad("COPY 1");
    let (_, tagged) = client.command("UID COPY 500:600 Saved");
    assert!(tagged.starts_with("OK"), "nothing to copy is not an error: {tagged}");
    assert_eq!(status(&mut client, "Saved", "MESSAGES"), 4);
}

#[test]
fn copy_to_a_missing_mailbox_is_trycreate() {
    let server = Server::start();
    let (mut client, _) = settled(&server, &numbered(2));
    let refused = client.no("COPY 1 Nowhere");
    assert!(refused.starts_with("NO [TRYCREATE]"), "{refused}");
    let refused = client.no("UID COPY 1:* Nowhere");
    assert!(refused.starts_with("NO [TRYCREATE]"), "{refused}");
    let refused = client.no("MOVE 1 Nowhere");
    assert!(refused.starts_with("NO [TRYCREATE]"), "{refused}");
    let refused = client.no("UID MOVE 1 Nowhere");
    assert!(refused.starts_with("NO [TRYCREATE]"), "{refused}");
    assert_eq!(all_uids(&mut client).len(), 2);
}

#[test]
fn copy_into_the_selected_mailbox_reports_exists() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(2));
    let validity = status(&mut client, "INBOX", "UIDVALIDITY");
    let (untagged, tagged) = client.command("COPY 1:2 INBOX");
    assert!(tagged.starts_with("OK [COPYUID"), "{tagged}");
    let next = uids[1] + 1;
    assert_eq!(copyuid(&tagged), (validity, format!("{}:{}", uids[0], uids[1]), format!("{next}:{}", next + 1)));
    assert!(untagged.contains(&"* 4 EXISTS".to_string()), "{untagged:?}");
    assert!(untagged.contains(&"* 2 RECENT".to_string()), "{untagged:?}");
    assert_eq!(all_uids(&mut client), [uids[0], uids[1], next, next + 1]);
    let untagged = client.ok("FETCH 3 BODY.PEEK[TEXT]");
    assert_eq!(item(fetch_of(&untagged, 3), "BODY[TEXT]"), "body 1\r\n");
}

#[test]
fn move_sends_copyuid_before_the_expunges() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(5));
    assert!(capabilities(&mut client).contains("MOVE"));
    client.ok("CREATE Saved");
    let validity = status(&mut client, "Saved", "UIDVALIDITY");
    client.ok(r"STORE 2 FLAGS.SILENT (\Flagged $Keep)");
    client.ok(r"STORE 4 FLAGS.SILENT (\Seen)");
    let (untagged, tagged) = client.command("MOVE 2,4 Saved");
    assert!(tagged.starts_with("OK"), "{tagged}");
    // RFC 6851 §4.3: the COPYUID goes in an untagged OK, before the EXPUNGEs.
    assert_eq!(untagged.len(), 3, "{untagged:?}");
    assert!(untagged[0].starts_with("* OK [COPYUID "), "{untagged:?}");
    assert_eq!(copyuid(&untagged[0]), (validity, format!("{},{}", uids[1], uids[3]), "1:2".to_string()));
    assert_eq!(untagged[1..], ["* 2 EXPUNGE", "* 3 EXPUNGE"]);
    assert_eq!(Status::parse(&tagged).code, None, "COPYUID went untagged: {tagged}");
    assert_eq!(all_uids(&mut client), [uids[0], uids[2], uids[4]]);
    client.ok("EXAMINE Saved");
    let untagged = client.ok("FETCH 1:* (FLAGS BODY.PEEK[TEXT])");
    let mut first = flag_set(&item(fetch_of(&untagged, 1), "FLAGS"));
    first.remove(r"\Recent");
    assert_eq!(first, flags(&[r"\Flagged", "$Keep"]));
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[TEXT]"), "body 2\r\n");
    let mut second = flag_set(&item(fetch_of(&untagged, 2), "FLAGS"));
    second.remove(r"\Recent");
    assert_eq!(second, flags(&[r"\Seen"]));
    assert_eq!(item(fetch_of(&untagged, 2), "BODY[TEXT]"), "body 4\r\n");
}

#[test]
fn uid_move() {
    let server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(4));
    client.ok("CREATE Saved");
    let validity = status(&mut client, "Saved", "UIDVALIDITY");
    let (untagged, tagged) = client.command(&format!("UID MOVE {},{}:{} Saved", uids[3], uids[0], uids[1]));
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert!(untagged[0].starts_with("* OK [COPYUID "), "{untagged:?}");
    // The sets pair up in ascending order (RFC 4315 §3), whatever the request's order.
    let source = format!("{}:{},{}", uids[0], uids[1], uids[3]);
    assert_eq!(copyuid(&untagged[0]), (validity, source, "1:3".to_string()));
    assert_eq!(untagged[1..], ["* 1 EXPUNGE", "* 1 EXPUNGE", "* 2 EXPUNGE"]);
    assert_eq!(all_uids(&mut client), [uids[2]]);
    assert_eq!(status(&mut client, "Saved", "MESSAGES"), 3);
    // Nothing to move: OK, no COPYUID, nothing expunged.
    let (untagged, tagged) = client.command("UID MOVE 900:901 Saved");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert!(untagged.is_empty(), "{untagged:?}");
}

//! UIDONLY (RFC 9586) over real connections: `ENABLE UIDONLY`, every
//! command that names messages by sequence number refused with
//! `BAD [UIDREQUIRED]` (the session goes on), FETCH responses as
//! `* uid UIDFETCH (...)`, expunges as VANISHED with or without QRESYNC
//! (at commands, in IDLE and under NOTIFY), `$` still usable; and a
//! session that did not enable it sees none of this.

mod common;

use common::*;

/// Logged in as alice; INBOX holds UIDs 2, 3 and 4 (UID 1 expunged, so
/// UIDs and sequence numbers differ) and is selected after `ENABLE UIDONLY`.
fn uidonly_inbox(server: &Server) -> Client {
    let mut setup = server.login("alice", "secret");
    for subject in ["gone", "two", "three", "four"] {
        setup.append_ok("INBOX", &message(subject, "body"));
    }
    setup.ok("SELECT INBOX");
    setup.ok("UID STORE 1 +FLAGS.SILENT (\\Deleted)");
    setup.ok("UID EXPUNGE 1");
    setup.ok("LOGOUT");
    let mut client = server.login("alice", "secret");
    assert_eq!(client.ok("ENABLE UIDONLY"), ["* ENABLED UIDONLY"]);
    client.ok("SELECT INBOX");
    client
}

fn has(responses: &[Response], line: &str) -> bool {
    responses.iter().any(|response| response == line)
}

fn no_sequence_numbers(responses: &[Response]) {
    for response in Responses::of(responses).all_untagged() {
        assert!(
            !response.is("FETCH") && !response.is("EXPUNGE"),
            "a message number went out: {response:?} in {responses:#?}"
        );
    }
}

/// The items of a `* uid UIDFETCH (...)` response, in order, after
/// checking it is one for `uid`.
fn uidfetch_items(response: &str, uid: u32) -> Vec<(String, String)> {
    let Reply::Untagged(untagged) = parse_one(response) else { panic!("not untagged: {response}") };
    assert!(untagged.is("UIDFETCH") && untagged.number == Some(uid), "{response}");
    untagged.fetch_items()
}

#[test]
fn enable_uidonly_is_advertised_and_answered() {
    let server = Server::start();
    let mut client = server.connect();
    let before = client.ok("CAPABILITY").join(" ");
    assert!(!before.contains("UIDONLY"), "advertised before login: {before}");
    client.ok("LOGIN alice secret");
    let capabilities = client.ok("CAPABILITY").join(" ");
    assert!(capabilities.contains(" UIDONLY"), "{capabilities}");
    // RFC 5161 §3.2: ENABLED lists what this command newly enabled.
    assert_eq!(client.ok("ENABLE UIDONLY"), ["* ENABLED UIDONLY"]);
    assert_eq!(client.ok("ENABLE uidonly"), ["* ENABLED"]);
    assert_eq!(client.ok("ENABLE QRESYNC UIDONLY"), ["* ENABLED QRESYNC"]);
}

#[test]
fn sequence_number_commands_are_refused_and_the_session_goes_on() {
    let server = Server::start();
    let mut client = uidonly_inbox(&server);
    client.ok("CREATE Kept");
    for command in [
        "FETCH 1 (FLAGS)",
        "FETCH 1:* (UID)",
        "STORE 1 +FLAGS (\\Flagged)",
        "SEARCH ALL",
        "SEARCH RETURN (COUNT) ALL",
        "SORT (SUBJECT) UTF-8 ALL",
        "THREAD REFERENCES UTF-8 ALL",
        "COPY 1 Kept",
        "MOVE 1 Kept",
        // RFC 9586 §3: not as a search key inside UID SEARCH either.
        "UID SEARCH 1:2",
        "UID SEARCH NOT 1",
        "UID SEARCH OR UID 2 *",
        "UID SORT (SUBJECT) UTF-8 1:*",
        "UID THREAD ORDEREDSUBJECT UTF-8 (SEEN 1)",
    ] {
        let tagged = client.bad(command);
        assert!(tagged.starts_with("BAD [UIDREQUIRED] "), "{command}: {tagged}");
        // The session goes on, the mailbox still selected.
        client.ok("NOOP");
    }
    // QRESYNC's message sequence match data pairs numbers with UIDs.
    client.ok("ENABLE QRESYNC");
    let tagged = client.bad("EXAMINE INBOX (QRESYNC (1 1 2:4 (1:2 2:3)))");
    assert!(tagged.starts_with("BAD [UIDREQUIRED] "), "{tagged}");
    // REPLACE by number: refused before the literal is invited.
    let tag = client.next_tag();
    client.send(&format!("{tag} REPLACE 1 INBOX {{10}}"));
    let line = client.read_line();
    assert!(line.starts_with(&format!("{tag} BAD [UIDREQUIRED] ")), "{line}");
    // Nothing was changed, copied or moved, and the UID forms work.
    let status = client.ok("STATUS Kept (MESSAGES)");
    assert_eq!(status, ["* STATUS \"Kept\" (MESSAGES 0)"]);
    let flags = client.ok("UID FETCH 1:* (FLAGS)");
    assert_eq!(flags.len(), 3, "{flags:#?}");
    assert!(flags.iter().all(|line| !flag_set(&item(line, "FLAGS")).contains("\\Flagged")), "{flags:#?}");
    client.ok("UID COPY 2 Kept");
    client.ok("UID SEARCH UID 2:3 NOT DELETED");
}

#[test]
fn uid_fetch_and_uid_store_answer_uidfetch() {
    let server = Server::start();
    let mut client = uidonly_inbox(&server);
    // RFC 9586 §3.3: the UID leads the response; asked by name it is there too.
    let flags = client.ok("UID FETCH 1:* (FLAGS)");
    assert_eq!(flags, ["* 2 UIDFETCH (FLAGS ())", "* 3 UIDFETCH (FLAGS ())", "* 4 UIDFETCH (FLAGS ())"]);
    let named = client.ok("UID FETCH 3 (UID RFC822.SIZE)");
    assert_eq!(named.len(), 1);
    assert!(named[0].starts_with("* 3 UIDFETCH (UID 3 RFC822.SIZE "), "{named:?}");
    // A body literal inside a UIDFETCH; \Seen set by it reported in the same response.
    let body = client.ok("UID FETCH 4 (BODY[HEADER.FIELDS (SUBJECT)])");
    assert_eq!(body.len(), 1, "{body:#?}");
    assert!(body[0].starts_with("* 4 UIDFETCH (BODY[HEADER.FIELDS (SUBJECT)] {"), "{body:?}");
    let items = uidfetch_items(&body[0], 4);
    let expected = [("BODY[HEADER.FIELDS (SUBJECT)]", "Subject: four\r\n\r\n"), ("FLAGS", "(\\Seen)")];
    assert_eq!(items, expected.map(|(name, value)| (name.to_string(), value.to_string())), "{body:?}");
    // UID STORE answers.
    let stored = client.ok("UID STORE 2 +FLAGS (\\Flagged)");
    assert_eq!(stored, ["* 2 UIDFETCH (FLAGS (\\Flagged))"]);
    // With CONDSTORE: MODSEQ, and for .SILENT the modseq alone.
    let stored = client.ok("UID STORE 3 (UNCHANGEDSINCE 1000) +FLAGS (\\Answered)");
    let items = uidfetch_items(&Responses::of(&stored).one("UIDFETCH").text, 3);
    assert_eq!(items.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["FLAGS", "MODSEQ"], "{stored:#?}");
    assert_eq!(items[0].1, "(\\Answered)", "{stored:#?}");
    let silent = client.ok("UID STORE 3 -FLAGS.SILENT (\\Answered)");
    assert_eq!(silent.len(), 1, "{silent:#?}");
    assert!(silent[0].starts_with("* 3 UIDFETCH (MODSEQ ("), "{silent:?}");
    let changed = client.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)");
    assert!(!changed.is_empty(), "{changed:#?}");
    assert!(
        changed.iter().all(|line| line.starts_with("* ")
            && line.contains(" UIDFETCH (FLAGS (")
            && item_names(line) == ["FLAGS", "MODSEQ"]),
        "{changed:#?}"
    );
    no_sequence_numbers(&[flags, named, body, stored, silent, changed].concat());
}

#[test]
fn changes_by_another_session_arrive_as_uidfetch_and_vanished() {
    let server = Server::start();
    let mut client = uidonly_inbox(&server);
    let mut other = server.alice_inbox();
    // Flag changes: UIDFETCH (without QRESYNC or CONDSTORE).
    other.ok("UID STORE 3 +FLAGS.SILENT (\\Seen)");
    let untagged = client.ok("NOOP");
    assert_eq!(untagged, ["* 3 UIDFETCH (FLAGS (\\Seen))"]);
    // RFC 9586 §3.4: expunges as VANISHED, QRESYNC not enabled.
    other.ok("UID STORE 2:3 +FLAGS.SILENT (\\Deleted)");
    other.ok("EXPUNGE");
    let untagged = client.ok("NOOP");
    assert!(has(&untagged, "* VANISHED 2:3"), "{untagged:#?}");
    no_sequence_numbers(&untagged);
    // New mail: EXISTS (a count) stays.
    other.append_ok("INBOX", &message("five", "5"));
    let untagged = client.ok("NOOP");
    assert!(has(&untagged, "* 2 EXISTS"), "{untagged:#?}");
    // A move out of the mailbox: VANISHED too.
    other.ok("CREATE Old");
    other.ok("UID MOVE 4 Old");
    let untagged = client.ok("UID FETCH 1:* (FLAGS)");
    assert!(has(&untagged, "* VANISHED 4"), "{untagged:#?}");
    assert!(untagged.iter().any(|line| line.starts_with("* 5 UIDFETCH (FLAGS (")), "{untagged:#?}");
    no_sequence_numbers(&untagged);
}

#[test]
fn idle_reports_uidfetch_and_vanished() {
    let server = Server::start();
    let mut client = uidonly_inbox(&server);
    let mut other = server.alice_inbox();
    let tag = client.next_tag();
    client.send(&format!("{tag} IDLE"));
    assert!(client.read_line().starts_with("+ "));
    other.ok("UID STORE 4 +FLAGS.SILENT (\\Flagged)");
    assert_eq!(client.read_line(), "* 4 UIDFETCH (FLAGS (\\Flagged))");
    other.ok("UID STORE 2 +FLAGS.SILENT (\\Deleted)");
    assert_eq!(client.read_line(), "* 2 UIDFETCH (FLAGS (\\Deleted))");
    other.ok("EXPUNGE");
    assert_eq!(client.read_line(), "* VANISHED 2");
    client.send("DONE");
    let (untagged, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert!(untagged.is_empty(), "{untagged:#?}");
}

#[test]
fn notify_reports_uidfetch_and_vanished() {
    let server = Server::start();
    let mut client = uidonly_inbox(&server);
    let mut other = server.alice_inbox();
    client.ok("NOTIFY SET (SELECTED (MessageNew (FLAGS) MessageExpunge FlagChange))");
    other.append_ok("INBOX", &message("five", "5"));
    let mut lines = Vec::new();
    while !lines.last().is_some_and(|line: &String| line.contains("UIDFETCH")) {
        lines.push(client.read_line());
    }
    assert_eq!(lines[0], "* 4 EXISTS", "{lines:#?}");
    assert!(lines.last().unwrap().starts_with("* 5 UIDFETCH (FLAGS ("), "{lines:#?}");
    no_sequence_numbers(&lines);
    other.ok("UID STORE 3 +FLAGS (\\Deleted)");
    let line = client.read_line();
    assert!(line.starts_with("* 3 UIDFETCH (FLAGS (\\Deleted"), "{line}");
    other.ok("EXPUNGE");
    assert_eq!(client.read_line(), "* VANISHED 3");
    client.ok("NOTIFY NONE");
}

#[test]
fn expunge_and_uid_expunge_answer_vanished() {
    let server = Server::start();
    let mut client = uidonly_inbox(&server);
    client.ok("UID STORE 2:4 +FLAGS.SILENT (\\Deleted)");
    let untagged = client.ok("UID EXPUNGE 3");
    assert_eq!(untagged, ["* VANISHED 3"]);
    let untagged = client.ok("EXPUNGE");
    assert_eq!(untagged, ["* VANISHED 2,4"]);
    // With QRESYNC as well: VANISHED, and the new HIGHESTMODSEQ (RFC 7162 §3.2.10).
    client.ok("ENABLE QRESYNC");
    client.append_ok("INBOX", &message("five", "5"));
    client.ok("NOOP");
    client.ok("CREATE Old");
    let (untagged, tagged) = client.command("UID MOVE 5 Old");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert!(has(&untagged, "* VANISHED 5"), "{untagged:#?}");
    no_sequence_numbers(&untagged);
}

#[test]
fn uid_search_sort_and_saved_results() {
    let server = Server::start();
    let mut client = uidonly_inbox(&server);
    // UIDs already: `* SEARCH` as before (ESEARCH where RETURN asks for it).
    assert_eq!(client.ok("UID SEARCH ALL"), ["* SEARCH 2 3 4"]);
    assert_eq!(client.ok("UID SEARCH DELETED"), ["* SEARCH"]);
    let tag = client.next_tag();
    client.send(&format!("{tag} UID SEARCH RETURN () ALL"));
    let (untagged, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(untagged, [format!("* ESEARCH (TAG \"{tag}\") UID ALL 2:4")]);
    // `$` (RFC 5182) is the saved UIDs, usable.
    let tag = client.next_tag();
    client.send(&format!("{tag} UID SEARCH RETURN (SAVE COUNT) UID 3:*"));
    let (untagged, _) = client.until_tagged(&tag);
    assert_eq!(untagged, [format!("* ESEARCH (TAG \"{tag}\") UID COUNT 2")]);
    let fetched = client.ok("UID FETCH $ (FLAGS)");
    assert_eq!(fetched.len(), 2, "{fetched:#?}");
    assert!(fetched[0].starts_with("* 3 UIDFETCH ") && fetched[1].starts_with("* 4 UIDFETCH "), "{fetched:#?}");
    assert_eq!(client.ok("UID SEARCH $ NOT UID 4"), ["* SEARCH 3"]);
    // UID SORT lists UIDs already: unchanged.
    let sorted = client.ok("UID SORT (SUBJECT) UTF-8 ALL");
    assert_eq!(sorted, ["* SORT 4 3 2"]);
}

#[test]
fn select_leaves_out_the_unseen_sequence_number() {
    let server = Server::start();
    let mut client = uidonly_inbox(&server);
    let untagged = client.ok("EXAMINE INBOX");
    assert_eq!(Responses::of(&untagged).code("UNSEEN"), None, "{untagged:#?}");
    assert!(has(&untagged, "* 3 EXISTS"), "{untagged:#?}");
    // The same mailbox for a session without UIDONLY still says it.
    let mut plain = server.login("alice", "secret");
    let untagged = plain.ok("EXAMINE INBOX");
    assert!(has(&untagged, "* OK [UNSEEN 1] First unseen"), "{untagged:#?}");
}

#[test]
fn enabling_with_a_mailbox_selected_applies_at_once() {
    let server = Server::start();
    let mut client = server.alice_inbox();
    client.append_ok("INBOX", &message("one", "1"));
    client.ok("NOOP");
    assert_eq!(client.ok("FETCH 1 (FLAGS)"), ["* 1 FETCH (FLAGS (\\Recent))"]);
    assert_eq!(client.ok("ENABLE UIDONLY"), ["* ENABLED UIDONLY"]);
    assert!(client.bad("FETCH 1 (FLAGS)").starts_with("BAD [UIDREQUIRED]"));
    assert_eq!(client.ok("UID FETCH 1 (FLAGS)"), ["* 1 UIDFETCH (FLAGS (\\Recent))"]);
}

#[test]
fn sessions_without_uidonly_see_no_change() {
    let server = Server::start();
    let mut client = uidonly_inbox(&server);
    let mut plain = server.alice_inbox();
    // The other session's own answers keep sequence numbers.
    assert_eq!(plain.ok("FETCH 1 (FLAGS)"), ["* 1 FETCH (FLAGS ())"]);
    assert_eq!(plain.ok("UID FETCH 2 (FLAGS)"), ["* 1 FETCH (UID 2 FLAGS ())"]);
    assert_eq!(plain.ok("SEARCH ALL"), ["* SEARCH 1 2 3"]);
    // Changes made under UIDONLY reach it as FETCH and EXPUNGE.
    client.ok("UID STORE 3 +FLAGS.SILENT (\\Flagged)");
    assert_eq!(plain.ok("NOOP"), ["* 2 FETCH (FLAGS (\\Flagged))"]);
    client.ok("UID STORE 3 +FLAGS.SILENT (\\Deleted)");
    client.ok("UID EXPUNGE 3");
    let untagged = plain.ok("NOOP");
    assert_eq!(untagged, ["* 2 EXPUNGE"]);
}

#[test]
fn qresync_select_reports_changes_as_uidfetch() {
    let server = Server::start();
    let mut client = uidonly_inbox(&server);
    client.ok("ENABLE QRESYNC");
    let selected = client.ok("SELECT INBOX");
    let responses = Responses::of(&selected);
    let [validity, modseq] = ["UIDVALIDITY", "HIGHESTMODSEQ"].map(|code| responses.code(code).expect(code).number());
    client.ok("UNSELECT");
    let mut other = server.alice_inbox();
    other.ok("UID STORE 3 +FLAGS.SILENT (\\Flagged)");
    other.ok("UID STORE 2 +FLAGS.SILENT (\\Deleted)");
    other.ok("EXPUNGE");
    // RFC 7162 §3.2.5.1: what changed since `modseq`, by UID only.
    let selected = client.ok(&format!("SELECT INBOX (QRESYNC ({validity} {modseq}))"));
    assert!(has(&selected, "* VANISHED (EARLIER) 2"), "{selected:#?}");
    let responses = Responses::of(&selected);
    let changed = responses.untagged("UIDFETCH");
    assert_eq!(changed.len(), 1, "{selected:#?}");
    let items = uidfetch_items(&changed[0].text, 3);
    assert_eq!(items.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["FLAGS", "MODSEQ"], "{selected:#?}");
    assert_eq!(items[0].1, "(\\Flagged)", "{selected:#?}");
    no_sequence_numbers(&selected);
}

//! CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267: live searches with
//! RETURN (UPDATE), ADDTO / REMOVEFROM, CANCELUPDATE, NOUPDATE) and
//! PARTIAL (RFC 9394: paged SEARCH, SORT and UID FETCH) over a real
//! connection.

mod common;

use common::*;

/// Alice with `count` messages "m1".."mN" in INBOX, selected; every third
/// one (m3, m6, ...) flagged, all seen. Returns the client and the UIDs.
fn mailbox(server: &Server, count: usize) -> (Client, Vec<u32>) {
    let mut client = server.login("alice", "secret");
    let uids: Vec<u32> = (1..=count)
        .map(|number| client.append_ok("INBOX", &message(&format!("m{number}"), &format!("body {number}"))))
        .collect();
    client.ok("SELECT INBOX");
    client.ok("STORE 1:* +FLAGS.SILENT (\\Seen)");
    let flagged: Vec<String> = (3..=count).step_by(3).map(|number| number.to_string()).collect();
    if !flagged.is_empty() {
        client.ok(&format!("STORE {} +FLAGS.SILENT (\\Flagged)", flagged.join(",")));
    }
    (client, uids)
}

/// The `* ESEARCH` responses among `responses`, whole.
fn updates(responses: &[Response]) -> Vec<String> {
    Responses::of(responses).untagged("ESEARCH").into_iter().map(|esearch| esearch.text.clone()).collect()
}

/// Where the untagged response `name` (with `number`, if given) stands among `responses`.
fn index_of(responses: &[Response], name: &str, number: Option<u32>) -> usize {
    let parsed = Responses::of(responses);
    let found = parsed.0.iter().position(|reply| {
        matches!(reply, Reply::Untagged(untagged) if untagged.is(name) && (number.is_none() || untagged.number == number))
    });
    found.unwrap_or_else(|| panic!("{name} {number:?} in {responses:?}"))
}

/// The sequence numbers of the FETCH responses among `responses`, in order.
fn fetched_numbers(responses: &[Response]) -> Vec<u32> {
    Responses::of(responses).fetches().iter().map(|fetch| fetch.number.unwrap()).collect()
}

#[test]
fn capabilities_are_advertised() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let capabilities = capabilities(&mut client);
    for name in ["ESORT", "CONTEXT=SEARCH", "CONTEXT=SORT", "PARTIAL"] {
        assert!(capabilities.contains(name), "{name} in {capabilities:?}");
    }
}

#[test]
fn partial_pages_forward_and_backward() {
    let server = Server::start();
    let (mut client, uids) = mailbox(&server, 9);
    assert_eq!(esearch(&mut client, "SEARCH RETURN (PARTIAL 1:4) ALL").data(), "PARTIAL (1:4 1:4)");
    assert_eq!(esearch(&mut client, "SEARCH RETURN (PARTIAL 5:8) ALL").data(), "PARTIAL (5:8 5:8)");
    // The last page is short; past the end is NIL (RFC 9394 §3.1).
    assert_eq!(esearch(&mut client, "SEARCH RETURN (PARTIAL 9:12) ALL").data(), "PARTIAL (9:12 9)");
    assert_eq!(esearch(&mut client, "SEARCH RETURN (PARTIAL 10:20) ALL").data(), "PARTIAL (10:20 NIL)");
    // From the end: -1 is the last result.
    assert_eq!(esearch(&mut client, "SEARCH RETURN (PARTIAL -1:-4) ALL").data(), "PARTIAL (-1:-4 6:9)");
    assert_eq!(esearch(&mut client, "SEARCH RETURN (PARTIAL -5:-8) ALL").data(), "PARTIAL (-5:-8 2:5)");
    assert_eq!(esearch(&mut client, "SEARCH RETURN (PARTIAL -9:-12) ALL").data(), "PARTIAL (-9:-12 1)");
    assert_eq!(esearch(&mut client, "SEARCH RETURN (PARTIAL -10:-20) ALL").data(), "PARTIAL (-10:-20 NIL)");
    // Ends in either order mean the same range.
    assert_eq!(esearch(&mut client, "SEARCH RETURN (PARTIAL 4:1) ALL").data(), "PARTIAL (1:4 1:4)");
    // A page of matches, by UID.
    let line = esearch(&mut client, "UID SEARCH RETURN (PARTIAL -1:-2) FLAGGED");
    assert_eq!(line.data(), format!("UID PARTIAL (-1:-2 {},{})", uids[5], uids[8]));
    // CONTEXT is a hint: alone it is ALL (RFC 5267 §4.2, as Dovecot).
    assert_eq!(esearch(&mut client, "SEARCH RETURN (CONTEXT) FLAGGED").data(), "ALL 3,6,9");
    // MIN, MAX and COUNT are of every match, not of the page.
    let line = esearch(&mut client, "SEARCH RETURN (MIN MAX COUNT PARTIAL 2:2) FLAGGED");
    assert_eq!(line.data(), "MIN 3 MAX 9 COUNT 3 PARTIAL (2:2 6)");
}

#[test]
fn partial_of_empty_results_and_saved_results() {
    let server = Server::start();
    let (mut client, _) = mailbox(&server, 9);
    assert_eq!(esearch(&mut client, "SEARCH RETURN (PARTIAL 1:10) SUBJECT nowhere").data(), "PARTIAL (1:10 NIL)");
    assert_eq!(
        esearch(&mut client, "SEARCH RETURN (COUNT PARTIAL -1:-10) SUBJECT nowhere").data(),
        "COUNT 0 PARTIAL (-1:-10 NIL)"
    );
    // RFC 9394 §3.2: SAVE with PARTIAL keeps the page; with COUNT, every match.
    client.ok("SEARCH RETURN (SAVE PARTIAL 1:2) FLAGGED");
    let fetched = client.ok("FETCH $ (FLAGS)");
    assert_eq!(fetched_numbers(&fetched), [3, 6], "{fetched:?}");
    client.ok("SEARCH RETURN (SAVE COUNT PARTIAL 1:1) FLAGGED");
    assert_eq!(fetched_numbers(&client.ok("FETCH $ (FLAGS)")), [3, 6, 9]);
    client.ok("SEARCH RETURN (SAVE MAX PARTIAL 1:1) FLAGGED");
    let fetched = client.ok("FETCH $ (FLAGS)");
    assert_eq!(fetched_numbers(&fetched), [3, 9], "the page and MAX: {fetched:?}");
}

#[test]
fn partial_with_sort_and_uid_fetch() {
    let server = Server::start();
    let (mut client, uids) = mailbox(&server, 6);
    // Sort order m6, m5, ... m1: the page keeps it.
    let line = esearch(&mut client, "UID SORT RETURN (PARTIAL 1:3) (REVERSE SUBJECT) UTF-8 ALL");
    assert_eq!(line.data(), format!("UID PARTIAL (1:3 {},{},{})", uids[5], uids[4], uids[3]));
    let line = esearch(&mut client, "SORT RETURN (PARTIAL -1:-2 COUNT) (REVERSE SUBJECT) UTF-8 ALL");
    assert_eq!(line.data(), "COUNT 6 PARTIAL (-1:-2 2,1)");
    let line = esearch(&mut client, "SORT RETURN (PARTIAL 7:9) (SUBJECT) UTF-8 ALL");
    assert_eq!(line.data(), "PARTIAL (7:9 NIL)");

    // RFC 9394 §3.3: UID FETCH answers only a window of the set's messages.
    let fetched = client.ok("UID FETCH 1:* (FLAGS) (PARTIAL -1:-2)");
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    assert_eq!(fetched_numbers(&fetched), [5, 6], "{fetched:?}");
    let fetched = client.ok(&format!("UID FETCH {}:* (FLAGS) (PARTIAL 1:2)", uids[2]));
    assert_eq!(fetched_numbers(&fetched), [3, 4], "{fetched:?}");
    assert_eq!(fetched.len(), 2);
    assert!(client.ok("UID FETCH 1:* (FLAGS) (PARTIAL 7:100)").is_empty());
    let untagged = client.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 PARTIAL -1:-1)");
    assert_eq!(fetched_numbers(&untagged), [6], "{untagged:?}");
    assert!(try_item(fetch_of(&untagged, 6), "MODSEQ").is_some(), "{untagged:?}");
}

#[test]
fn malformed_partial_and_context_commands_are_bad() {
    let server = Server::start();
    let (mut client, _) = mailbox(&server, 3);
    for command in [
        "SEARCH RETURN (PARTIAL) ALL",
        "SEARCH RETURN (PARTIAL 0:5) ALL",
        "SEARCH RETURN (PARTIAL 1:*) ALL",
        "SEARCH RETURN (PARTIAL -1:5) ALL",
        "SEARCH RETURN (PARTIAL 1:-5) ALL",
        "SEARCH RETURN (PARTIAL 5) ALL",
        "SEARCH RETURN (PARTIAL 1:99999999999) ALL",
        // RFC 9394 §3.1: one PARTIAL or one ALL.
        "SEARCH RETURN (PARTIAL 1:5 ALL) ALL",
        "SEARCH RETURN (PARTIAL 1:5 PARTIAL 6:9) ALL",
        "SORT RETURN (ALL PARTIAL 1:2) (DATE) UTF-8 ALL",
        // RFC 9394 §3.3: a UID FETCH modifier.
        "FETCH 1:* (FLAGS) (PARTIAL 1:2)",
        "UID FETCH 1:* (FLAGS) (PARTIAL 0:1)",
        "UID FETCH 1:* (FLAGS) (PARTIAL 1:2 PARTIAL 3:4)",
        "CANCELUPDATE",
        "CANCELUPDATE t1",
    ] {
        client.bad(command);
    }
    // The session goes on.
    assert_eq!(search_result(&client.ok("SEARCH ALL")), [1, 2, 3]);
}

#[test]
fn update_reports_appends_from_another_session() {
    let server = Server::start();
    let (mut client, _) = mailbox(&server, 3);
    client.ok("STORE 2 -FLAGS.SILENT (\\Seen)");
    let tag = client.next_tag();
    client.send(&format!("{tag} UID SEARCH RETURN (UPDATE ALL) UNSEEN"));
    let (untagged, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(updates(&untagged).len(), 1, "{untagged:?}");

    let mut other = server.login("alice", "secret");
    let new = other.append_ok("INBOX", &message("new", "arrives"));
    let untagged = client.ok("NOOP");
    // RFC 5267 §4.3.3: after the EXISTS that makes the number valid.
    assert!(index_of(&untagged, "EXISTS", Some(4)) < index_of(&untagged, "ESEARCH", None), "{untagged:?}");
    assert_eq!(updates(&untagged), [format!("* ESEARCH (TAG \"{tag}\") UID ADDTO (0 {new})")]);
    // A message that does not match is not reported.
    let seen = other.append("INBOX", "(\\Seen)", &message("read", "already")).1;
    assert!(seen.starts_with("OK"), "{seen}");
    let untagged = client.ok("NOOP");
    assert!(updates(&untagged).is_empty(), "{untagged:?}");
    // Sequence numbers for SEARCH without UID.
    let tag2 = client.next_tag();
    client.send(&format!("{tag2} SEARCH RETURN (UPDATE) UNSEEN"));
    let (untagged, tagged) = client.until_tagged(&tag2);
    assert!(tagged.starts_with("OK"));
    assert_eq!(updates(&untagged), [format!("* ESEARCH (TAG \"{tag2}\")")], "UPDATE alone: an empty ESEARCH");
    other.append_ok("INBOX", &message("newer", "arrives"));
    let untagged = client.ok("NOOP");
    assert_eq!(
        updates(&untagged),
        [
            format!("* ESEARCH (TAG \"{tag}\") UID ADDTO (0 {})", new + 2),
            format!("* ESEARCH (TAG \"{tag2}\") ADDTO (0 6)")
        ]
    );
}

#[test]
fn update_reports_expunges_and_flag_changes() {
    let server = Server::start();
    let (mut client, uids) = mailbox(&server, 5);
    client.ok("STORE 1:5 -FLAGS.SILENT (\\Seen)");
    let tag = client.next_tag();
    client.send(&format!("{tag} SEARCH RETURN (UPDATE COUNT) UNSEEN"));
    let (untagged, _) = client.until_tagged(&tag);
    assert_eq!(Responses::of(&untagged).one("ESEARCH").esearch().data(), "COUNT 5");
    let mut other = server.login("alice", "secret");
    other.ok("SELECT INBOX");

    // Another session's flag change: the message stops matching.
    other.ok("STORE 2 +FLAGS (\\Seen)");
    let untagged = client.ok("NOOP");
    assert_eq!(updates(&untagged), [format!("* ESEARCH (TAG \"{tag}\") REMOVEFROM (0 2)")]);
    // And starts again.
    other.ok("STORE 2 -FLAGS (\\Seen)");
    assert_eq!(updates(&client.ok("NOOP")), [format!("* ESEARCH (TAG \"{tag}\") ADDTO (0 2)")]);
    // The session's own STORE counts too.
    let untagged = client.ok("STORE 4:5 +FLAGS (\\Seen)");
    assert_eq!(updates(&untagged), [format!("* ESEARCH (TAG \"{tag}\") REMOVEFROM (0 4:5)")]);
    // A flag that the search does not test changes nothing.
    other.ok("STORE 1 +FLAGS (\\Flagged)");
    assert!(updates(&client.ok("NOOP")).is_empty());
    // Both ways at once: one line, removals first.
    other.ok("STORE 1 +FLAGS (\\Seen)");
    other.ok("STORE 4 -FLAGS (\\Seen)");
    assert_eq!(updates(&client.ok("NOOP")), [format!("* ESEARCH (TAG \"{tag}\") REMOVEFROM (0 1) ADDTO (0 4)")]);

    // An expunge elsewhere: REMOVEFROM before the EXPUNGE (RFC 5267 §4.3.4).
    other.ok(&format!("UID STORE {} +FLAGS.SILENT (\\Deleted)", uids[2]));
    other.ok("EXPUNGE");
    // Not during a FETCH, which may not report the expunge (RFC 3501 §7.4.1).
    let untagged = client.ok("FETCH 1 (FLAGS)");
    assert!(updates(&untagged).is_empty() && Responses::of(&untagged).untagged("EXPUNGE").is_empty(), "{untagged:?}");
    let untagged = client.ok("NOOP");
    assert!(index_of(&untagged, "ESEARCH", None) < index_of(&untagged, "EXPUNGE", Some(3)), "{untagged:?}");
    assert_eq!(updates(&untagged), [format!("* ESEARCH (TAG \"{tag}\") REMOVEFROM (0 3)")]);
    // An expunged message that did not match is not reported.
    other.ok(&format!("UID STORE {} +FLAGS.SILENT (\\Deleted)", uids[4]));
    other.ok("EXPUNGE");
    let untagged = client.ok("NOOP");
    assert!(updates(&untagged).is_empty(), "{untagged:?}");
    assert_eq!(Responses::of(&untagged).numbered("EXPUNGE"), [4], "{untagged:?}");
    // What is left matches: m2 and m4 (now 2 and 3).
    assert_eq!(search_result(&client.ok("SEARCH UNSEEN")), [2, 3]);
}

#[test]
fn sort_updates_give_positions() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let mut uids = Vec::new();
    for subject in ["b", "d", "f"] {
        uids.push(client.append_ok("INBOX", &message(subject, "x")));
    }
    client.ok("SELECT INBOX");
    let tag = client.next_tag();
    client.send(&format!("{tag} UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 UNDELETED"));
    let (untagged, _) = client.until_tagged(&tag);
    assert_eq!(Responses::of(&untagged).one("ESEARCH").esearch().data(), format!("UID ALL {}:{}", uids[0], uids[2]));
    let mut other = server.login("alice", "secret");
    other.ok("SELECT INBOX");
    // "e" sorts between d and f: position 3.
    let e = other.append_ok("INBOX", &message("e", "x"));
    assert_eq!(updates(&client.ok("NOOP")), [format!("* ESEARCH (TAG \"{tag}\") UID ADDTO (3 {e})")]);
    let a = other.append_ok("INBOX", &message("a", "x"));
    let g = other.append_ok("INBOX", &message("g", "x"));
    // Pairs apply in order: a goes first, g last (6 after a's insertion).
    assert_eq!(updates(&client.ok("NOOP")), [format!("* ESEARCH (TAG \"{tag}\") UID ADDTO (1 {a} 6 {g})")]);
    // Order now a b d e f g; d and e go (positions 3 and 4, one run).
    other.ok(&format!("UID STORE {},{e} +FLAGS (\\Deleted)", uids[1]));
    assert_eq!(updates(&client.ok("NOOP")), [format!("* ESEARCH (TAG \"{tag}\") UID REMOVEFROM (3 {},{e})", uids[1])]);
    // Expunging a and g: two runs, the second counted after the first,
    // before the EXPUNGEs (RFC 5267 §4.3.4).
    other.ok(&format!("UID STORE {a},{g} +FLAGS.SILENT (\\Deleted)"));
    other.ok(&format!("UID EXPUNGE {a},{g}"));
    let untagged = client.ok("NOOP");
    assert_eq!(updates(&untagged), [format!("* ESEARCH (TAG \"{tag}\") UID REMOVEFROM (1 {a} 3 {g})")]);
    assert!(index_of(&untagged, "ESEARCH", None) < index_of(&untagged, "EXPUNGE", None), "{untagged:?}");
}

#[test]
fn updates_arrive_during_idle() {
    let server = Server::start();
    let (mut client, _) = mailbox(&server, 2);
    client.ok("UID SEARCH RETURN (UPDATE) UNSEEN");
    client.send("i1 IDLE");
    assert!(client.read_line().starts_with('+'));
    let mut other = server.login("alice", "secret");
    let new = other.append_ok("INBOX", &message("while idle", "x"));
    let mut lines = Vec::new();
    while !lines.iter().any(|line: &String| line.starts_with("* ESEARCH")) {
        lines.push(client.read_line());
    }
    assert!(lines.iter().any(|line| line == "* 3 EXISTS"), "{lines:?}");
    assert!(lines.last().unwrap().ends_with(&format!("UID ADDTO (0 {new})")), "{lines:?}");
    client.send("DONE");
    client.until_tagged("i1");
}

#[test]
fn cancelupdate_limits_and_the_end_of_selection() {
    let server = Server::start_with(Options { extra_limits: "search_updates = 2".into(), ..Options::default() });
    let (mut client, _) = mailbox(&server, 3);
    let mut other = server.login("alice", "secret");
    client.ok("STORE 1 -FLAGS.SILENT (\\Seen)");
    let first = "live1";
    client.send(&format!("{first} UID SEARCH RETURN (UPDATE) UNSEEN"));
    assert!(client.until_tagged(first).1.starts_with("OK"));
    client.ok("SORT RETURN (UPDATE) (DATE) UTF-8 UNSEEN");
    // RFC 5267 §4.3.1: beyond the limit, NOUPDATE and the other options.
    let tag = client.next_tag();
    client.send(&format!("{tag} SEARCH RETURN (UPDATE COUNT) UNSEEN"));
    let (untagged, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert!(untagged[0].starts_with(&format!("* NO [NOUPDATE \"{tag}\"]")), "{untagged:?}");
    assert_eq!(Responses::of(&untagged).one("ESEARCH").esearch().data(), "COUNT 1");
    // A tag that names a live search cannot name another (RFC 5267 §4.3).
    client.send(&format!("{first} SEARCH RETURN (UPDATE) ALL"));
    let (_, tagged) = client.until_tagged(first);
    assert!(tagged.starts_with("BAD"), "{tagged}");
    // An unknown tag: NO, and nothing is cancelled.
    client.no("CANCELUPDATE \"nosuchtag\"");
    client.no(&format!("CANCELUPDATE \"{first}\" \"nosuchtag\""));
    other.append_ok("INBOX", &message("new", "x"));
    assert_eq!(updates(&client.ok("NOOP")).len(), 2);
    // CANCELUPDATE ends one; a new live search fits again.
    client.ok(&format!("CANCELUPDATE \"{first}\""));
    other.append_ok("INBOX", &message("new", "x"));
    assert_eq!(updates(&client.ok("NOOP")).len(), 1);
    let untagged = client.ok("SEARCH RETURN (UPDATE) UNSEEN");
    assert_eq!(Responses::of(&untagged).code("NOUPDATE"), None, "{untagged:?}");
    // Leaving the mailbox ends them all (RFC 5267 §4.3).
    client.ok("UNSELECT");
    client.ok("SELECT INBOX");
    other.append_ok("INBOX", &message("new", "x"));
    let untagged = client.ok("NOOP");
    assert!(updates(&untagged).is_empty(), "{untagged:?}");
    assert_eq!(Responses::of(&untagged).numbered("EXISTS"), [6], "the third new message: {untagged:?}");
    client.no(&format!("CANCELUPDATE \"{first}\""));
    // CANCELUPDATE needs a selected mailbox.
    client.ok("UNSELECT");
    client.bad("CANCELUPDATE \"x\"");
}

#[test]
fn updates_arrive_with_notify() {
    let server = Server::start();
    let (mut client, _) = mailbox(&server, 2);
    let tag = client.next_tag();
    client.send(&format!("{tag} UID SEARCH RETURN (UPDATE) UNSEEN"));
    client.until_tagged(&tag);
    client.ok("NOTIFY SET (SELECTED (MessageNew (UID) MessageExpunge FlagChange))");
    let mut other = server.login("alice", "secret");
    other.ok("SELECT INBOX");
    let new = other.append_ok("INBOX", &message("pushed", "x"));
    // RFC 5465 with RFC 5267 §4.3.2: updates come unasked, between commands.
    let mut lines = Vec::new();
    while !lines.iter().any(|line: &String| line.starts_with("* ESEARCH")) {
        lines.push(client.read_line());
    }
    assert!(index_of(&lines, "EXISTS", Some(3)) < index_of(&lines, "ESEARCH", None), "{lines:?}");
    assert_eq!(updates(&lines), [format!("* ESEARCH (TAG \"{tag}\") UID ADDTO (0 {new})")]);
    other.ok(&format!("UID STORE {new} +FLAGS (\\Seen)"));
    let mut line = client.read_line();
    while !line.starts_with("* ESEARCH") {
        line = client.read_line();
    }
    assert_eq!(line, format!("* ESEARCH (TAG \"{tag}\") UID REMOVEFROM (0 {new})"));
    client.ok("NOTIFY NONE");
}

#[test]
fn a_big_change_is_one_line() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    // 300 messages in one MULTIAPPEND: more than one batch of the change index.
    let parts: Vec<String> = (0..300)
        .map(|number| {
            let text = format!("Subject: m{number}\r\n\r\nbody\r\n");
            format!("(\\Seen) {{{}+}}\r\n{text}", text.len())
        })
        .collect();
    client.ok(&format!("APPEND INBOX {}", parts.join(" ")));
    client.ok("SELECT INBOX");
    let tag = client.next_tag();
    client.send(&format!("{tag} SEARCH RETURN (UPDATE COUNT) UNSEEN"));
    let (untagged, _) = client.until_tagged(&tag);
    assert_eq!(Responses::of(&untagged).one("ESEARCH").esearch().data(), "COUNT 0");
    let mut other = server.login("alice", "secret");
    other.ok("SELECT INBOX");
    other.ok("STORE 1:* -FLAGS.SILENT (\\Seen)");
    assert_eq!(updates(&client.ok("NOOP")), [format!("* ESEARCH (TAG \"{tag}\") ADDTO (0 1:300)")]);
    other.ok("STORE 2:299 +FLAGS.SILENT (\\Seen)");
    assert_eq!(updates(&client.ok("NOOP")), [format!("* ESEARCH (TAG \"{tag}\") REMOVEFROM (0 2:299)")]);
}

#[test]
fn sets_in_a_live_search_are_fixed_when_it_runs() {
    let server = Server::start();
    let (mut client, _) = mailbox(&server, 3);
    // `*` is the highest UID when the search ran; sequence numbers are the
    // messages they named then; explicit UIDs stay as written.
    client.send("star SEARCH RETURN (UPDATE) UID 2:*");
    client.until_tagged("star");
    client.send("numbers SEARCH RETURN (UPDATE) NOT 1:2 UNDELETED");
    client.until_tagged("numbers");
    client.send("explicit UID SEARCH RETURN (UPDATE) UID 2:1000");
    client.until_tagged("explicit");
    let mut other = server.login("alice", "secret");
    other.ok("SELECT INBOX");
    let new = other.append_ok("INBOX", &message("new", "x"));
    let untagged = client.ok("NOOP");
    assert_eq!(
        updates(&untagged),
        [
            "* ESEARCH (TAG \"numbers\") ADDTO (0 4)".to_string(),
            format!("* ESEARCH (TAG \"explicit\") UID ADDTO (0 {new})")
        ]
    );
    // Expunging message 1 shifts the numbers, not the search: m3, now
    // message 2, tested again after a flag change, still matches.
    other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    other.ok("EXPUNGE");
    let untagged = client.ok("NOOP");
    assert!(updates(&untagged).is_empty(), "{untagged:?}");
    assert_eq!(Responses::of(&untagged).numbered("EXPUNGE"), [1], "{untagged:?}");
    other.ok("STORE 2 +FLAGS.SILENT (\\Answered)");
    assert!(updates(&client.ok("NOOP")).is_empty());
    other.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    assert_eq!(updates(&client.ok("NOOP")), ["* ESEARCH (TAG \"numbers\") REMOVEFROM (0 2)".to_string()]);
}

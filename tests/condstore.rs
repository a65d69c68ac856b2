//! CONDSTORE and QRESYNC (RFC 7162) against the real server: modseqs in
//! SELECT, STATUS, FETCH, STORE and SEARCH; VANISHED instead of EXPUNGE once
//! QRESYNC is on; resynchronising with SELECT (QRESYNC ...), including past
//! the end of the bounded expunge history.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;

fn highest_modseq(responses: &[Response]) -> u64 {
    code_number(responses, "HIGHESTMODSEQ").unwrap_or_else(|| panic!("no HIGHESTMODSEQ in {responses:#?}"))
}

/// The value of item `NAME n` or `NAME (n)` of a FETCH or STATUS response.
fn numeric_item(line: &str, name: &str) -> Option<u64> {
    let Reply::Untagged(response) = parse_one(line) else { panic!("not untagged: {line}") };
    let value = if response.is("STATUS") { response.status_values().remove(name) } else { response.fetch_item(name) }?;
    let number = value.strip_prefix('(').and_then(|value| value.strip_suffix(')')).unwrap_or(&value);
    Some(number.parse().unwrap_or_else(|_| panic!("{name} is not a number in {line}")))
}

/// Nothing among `responses` speaks of modseqs: no MODSEQ item in a FETCH,
/// no HIGHESTMODSEQ or NOMODSEQ code, no VANISHED (RFC 7162 §3.1: only
/// for clients that enabled CONDSTORE).
fn no_modseqs(responses: &[Response]) {
    for response in Responses::of(responses).all_untagged() {
        assert!(!response.is("VANISHED"), "{responses:?}");
        if response.is("FETCH") {
            assert!(!item_names(&response.text).contains(&"MODSEQ".to_string()), "{responses:?}");
        }
        if let Some(code) = status_part(&response.text).and_then(|status| status.code) {
            assert!(!code.name.to_ascii_uppercase().contains("MODSEQ"), "{responses:?}");
        }
    }
}

/// UID → MODSEQ of the FETCH lines (each must carry both).
fn fetched_modseqs(responses: &[Response]) -> BTreeMap<u32, u64> {
    fetch_lines(responses)
        .into_iter()
        .map(|line| {
            let uid = numeric_item(line, "UID").unwrap_or_else(|| panic!("no UID in {line}")) as u32;
            (uid, numeric_item(line, "MODSEQ").unwrap_or_else(|| panic!("no MODSEQ in {line}")))
        })
        .collect()
}

/// The UIDs of `* VANISHED (EARLIER) set` (or, with `earlier` false, of
/// `* VANISHED set`) lines.
fn vanished(responses: &[Response], earlier: bool) -> BTreeSet<u32> {
    let prefix = if earlier { "* VANISHED (EARLIER) " } else { "* VANISHED " };
    let mut uids = BTreeSet::new();
    for line in responses {
        let Some(set) = line.strip_prefix(prefix) else { continue };
        if !earlier && set.starts_with('(') {
            continue;
        }
        for range in set.split(',') {
            let (low, high) = range.split_once(':').unwrap_or((range, range));
            let (low, high): (u32, u32) = (low.parse().unwrap(), high.parse().unwrap());
            uids.extend(low.min(high)..=low.max(high));
        }
    }
    uids
}

fn uids(list: &[u32]) -> BTreeSet<u32> {
    list.iter().copied().collect()
}

/// Logged in as alice, INBOX holding `count` new messages, selected.
fn inbox_with(server: &Server, count: usize) -> Client {
    let mut client = server.login("alice", "secret");
    for index in 0..count {
        client.append_ok("INBOX", &message(&format!("m{index}"), "body"));
    }
    client.ok("SELECT INBOX");
    client
}

#[test]
fn capabilities_and_enable() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let capabilities = capabilities(&mut client);
    assert!(capabilities.contains("CONDSTORE") && capabilities.contains("QRESYNC"), "{capabilities:?}");
    assert_eq!(client.ok("ENABLE CONDSTORE"), vec!["* ENABLED CONDSTORE"]);
    // RFC 5161 §3.2: only what this command enabled.
    assert_eq!(client.ok("ENABLE CONDSTORE X-UNKNOWN"), vec!["* ENABLED"]);
    assert_eq!(client.ok("ENABLE QRESYNC"), vec!["* ENABLED QRESYNC"]);
    let mut other = server.login("alice", "secret");
    assert_eq!(other.ok("ENABLE QRESYNC CONDSTORE"), vec!["* ENABLED QRESYNC"]);
}

fn status_modseq(client: &mut Client) -> u64 {
    let items = client.run_ok("STATUS INBOX (MESSAGES HIGHESTMODSEQ)").status_items("INBOX");
    *items.get("HIGHESTMODSEQ").unwrap_or_else(|| panic!("STATUS HIGHESTMODSEQ in {items:?}"))
}

/// Checks that HIGHESTMODSEQ grew past `last`, in STATUS and in SELECT.
fn grew(client: &mut Client, watcher: &mut Client, last: &mut u64, what: &str) {
    let now = status_modseq(watcher);
    assert!(now > *last, "{what}: {now} after {last}");
    assert_eq!(highest_modseq(&client.ok("EXAMINE INBOX")), now, "{what}: SELECT");
    *last = now;
}

#[test]
fn highestmodseq_grows_with_every_change() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let mut watcher = server.login("alice", "secret");
    let mut last = status_modseq(&mut watcher);
    assert_eq!(highest_modseq(&client.ok("EXAMINE INBOX")), last, "SELECT and STATUS agree");
    client.append_ok("INBOX", &message("one", "x"));
    grew(&mut client, &mut watcher, &mut last, "APPEND");
    client.append_ok("INBOX", &message("two", "x"));
    grew(&mut client, &mut watcher, &mut last, "second APPEND");
    client.ok("SELECT INBOX");
    client.ok("STORE 1 +FLAGS (\\Seen)");
    grew(&mut client, &mut watcher, &mut last, "STORE");
    client.ok("SELECT INBOX");
    client.ok("STORE 1 +FLAGS (\\Deleted)");
    grew(&mut client, &mut watcher, &mut last, "STORE \\Deleted");
    client.ok("SELECT INBOX");
    client.ok("EXPUNGE");
    grew(&mut client, &mut watcher, &mut last, "EXPUNGE");
    client.ok("SELECT INBOX");
    client.ok("COPY 1 Archive");
    assert_eq!(status_modseq(&mut watcher), last, "COPY leaves the source alone");
    client.ok("MOVE 1 Archive");
    grew(&mut client, &mut watcher, &mut last, "MOVE");
    client.append_ok("INBOX", &message("three", "x"));
    grew(&mut client, &mut watcher, &mut last, "third APPEND");
    // A STORE that changes nothing changes no modseq.
    client.ok("SELECT INBOX");
    client.ok("STORE 1 -FLAGS (\\Flagged)");
    assert_eq!(status_modseq(&mut watcher), last);
}

#[test]
fn clients_that_never_enable_see_no_modseqs() {
    let server = Server::start();
    let mut client = inbox_with(&server, 2);
    let mut other = server.alice_inbox();
    for responses in [client.ok("STORE 1 +FLAGS (\\Seen)"), client.ok("FETCH 1:* (FLAGS UID)")] {
        no_modseqs(&responses);
    }
    other.ok("STORE 2 +FLAGS (\\Deleted)");
    other.ok("EXPUNGE");
    let responses = client.ok("NOOP");
    assert!(responses.contains(&"* 2 EXPUNGE".to_string()), "{responses:?}");
    no_modseqs(&responses);
    no_modseqs(&client.ok("FETCH 1 (BODY[TEXT])"));
}

#[test]
fn fetch_modseq_and_changedsince() {
    let server = Server::start();
    let mut client = inbox_with(&server, 3);
    // RFC 7162 §3.1: the first enabling command with a mailbox selected
    // reports HIGHESTMODSEQ.
    let responses = client.ok("FETCH 1:* (MODSEQ)");
    let highest = highest_modseq(&responses);
    let lines = fetch_lines(&responses);
    assert_eq!(lines.len(), 3);
    let first = numeric_item(lines[0], "MODSEQ").unwrap();
    assert!(lines.iter().all(|line| numeric_item(line, "MODSEQ").unwrap() <= highest));
    let responses = client.ok("STORE 2 +FLAGS (\\Flagged)");
    // CONDSTORE is on now: the STORE answer carries UID and MODSEQ.
    let changed = fetched_modseqs(&responses);
    assert_eq!(changed.keys().copied().collect::<Vec<_>>(), vec![2]);
    assert!(changed[&2] > highest);
    let responses = client.ok(&format!("FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})"));
    let lines = fetch_lines(&responses);
    assert_eq!(lines.len(), 1, "{responses:?}");
    assert!(lines[0].starts_with("* 2 FETCH") && flags_in_fetch(lines[0]).contains("\\Flagged"), "{lines:?}");
    assert_eq!(numeric_item(lines[0], "MODSEQ"), Some(changed[&2]), "CHANGEDSINCE implies MODSEQ");
    let responses = client.ok(&format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {first})"));
    assert_eq!(fetch_lines(&responses).len(), 2, "message 2 changed, 3 came later: {responses:?}");
    assert_eq!(fetch_lines(&client.ok("FETCH 1:* (UID) (CHANGEDSINCE 0)")).len(), 3);
    // A FETCH that sets \Seen reports the new modseq with the flags.
    let responses = client.ok("FETCH 3 (BODY[TEXT])");
    let lines = fetch_lines(&responses);
    assert!(
        flags_in_fetch(lines[0]).contains("\\Seen") && numeric_item(lines[0], "MODSEQ").unwrap() > changed[&2],
        "{lines:?}"
    );
    assert_eq!(numeric_item(lines[0], "UID"), Some(3));
    // VANISHED needs QRESYNC, UID FETCH and CHANGEDSINCE.
    client.bad("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)");
    client.ok("ENABLE QRESYNC");
    client.bad("FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)");
    client.bad("UID FETCH 1:* (FLAGS) (VANISHED)");
}

#[test]
fn unsolicited_flag_changes_carry_modseq_once_enabled() {
    let server = Server::start();
    let mut plain = inbox_with(&server, 2);
    let mut condstore = server.login("alice", "secret");
    let responses = condstore.ok("SELECT INBOX (CONDSTORE)");
    let highest = highest_modseq(&responses);
    let mut changer = server.alice_inbox();
    changer.ok("STORE 2 +FLAGS (\\Answered)");
    let seen = condstore.ok("NOOP");
    let lines = fetch_lines(&seen);
    assert_eq!(lines.len(), 1, "{seen:?}");
    assert!(lines[0].starts_with("* 2 FETCH (UID 2 FLAGS (\\Answered) MODSEQ ("), "{lines:?}");
    assert!(numeric_item(lines[0], "MODSEQ").unwrap() > highest);
    let seen = plain.ok("NOOP");
    let lines = fetch_lines(&seen);
    assert_eq!(lines.len(), 1, "{seen:?}");
    assert!(lines[0].starts_with("* 2 FETCH (FLAGS (\\Answered"), "no UID, no MODSEQ without CONDSTORE: {lines:?}");
    no_modseqs(&seen);
}

/// A keyword another session just added reaches a CONDSTORE client in
/// FLAGS before any FETCH that shows it, and the FETCH carries it: a
/// client that drops a FETCH whose MODSEQ it already has would otherwise
/// keep the message without the keyword.
#[test]
fn a_new_keyword_is_announced_before_the_fetch_that_shows_it() {
    let server = Server::start();
    let mut reader = inbox_with(&server, 2);
    reader.ok("ENABLE CONDSTORE");
    let mut other = server.alice_inbox();
    other.ok("STORE 1 +FLAGS ($Family)");
    for command in ["FETCH 1 (FLAGS MODSEQ)", "UID FETCH 1:* (FLAGS)"] {
        let responses = reader.ok(command);
        let parsed = Responses::of(&responses);
        let at = |wanted: &str, number: Option<u32>| {
            parsed
                .0
                .iter()
                .position(|reply| matches!(reply, Reply::Untagged(found) if found.is(wanted) && found.number == number))
        };
        let flags = at("FLAGS", None).unwrap_or(usize::MAX);
        let fetch = at("FETCH", Some(1)).expect("a FETCH of message 1");
        assert!(flags_in_fetch(&responses[fetch]).contains("$Family"), "{responses:#?}");
        if command.starts_with("FETCH") {
            assert!(flags < fetch, "FLAGS must come first: {responses:#?}");
            assert!(flag_set(&parsed.one("FLAGS").data).contains("$Family"), "{responses:#?}");
        }
    }
}

/// After an unsolicited VANISHED, HIGHESTMODSEQ says how far the client
/// is in step (RFC 7162 §3.2.10, RFC 5162 erratum 1810): expunges carry
/// no modseq, and a client that resyncs from an older value loses nothing.
#[test]
fn unsolicited_vanished_is_followed_by_highestmodseq() {
    let server = Server::start();
    let mut watcher = inbox_with(&server, 3);
    watcher.ok("ENABLE QRESYNC");
    let before = status_modseq(&mut watcher);
    let mut other = server.alice_inbox();
    other.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    other.ok("EXPUNGE");
    let after = status_modseq(&mut other);
    assert!(after > before);
    let responses = watcher.ok("NOOP");
    let gone = responses.iter().position(|line| line.starts_with("* VANISHED 2")).expect("VANISHED");
    let highest = responses
        .iter()
        .position(|line| line.starts_with(&format!("* OK [HIGHESTMODSEQ {after}]")))
        .unwrap_or_else(|| panic!("no HIGHESTMODSEQ {after}: {responses:#?}"));
    assert!(gone < highest, "{responses:#?}");
    // Without a change, nothing more.
    assert!(watcher.ok("NOOP").is_empty());
}

#[test]
fn store_unchangedsince_reports_modified() {
    let server = Server::start();
    let mut client = inbox_with(&server, 4);
    let responses = client.ok("FETCH 1:4 (MODSEQ)");
    let before: Vec<u64> = fetch_lines(&responses).iter().map(|line| numeric_item(line, "MODSEQ").unwrap()).collect();
    let limit = *before.iter().max().unwrap();
    let mut other = server.alice_inbox();
    other.ok("STORE 2,4 +FLAGS (\\Seen)");
    // Messages 2 and 4 changed since `limit`: they are left alone.
    let (untagged, tagged) = client.command(&format!("STORE 1:4 (UNCHANGEDSINCE {limit}) +FLAGS (\\Flagged)"));
    assert!(tagged.starts_with("OK [MODIFIED 2,4]"), "{tagged}");
    let stored: BTreeSet<u32> = fetch_lines(&untagged)
        .iter()
        .filter(|line| flags_in_fetch(line).contains("\\Flagged"))
        .map(|line| numeric_item(line, "UID").unwrap() as u32)
        .collect();
    assert_eq!(stored, uids(&[1, 3]), "{untagged:?}");
    let flags = client.ok("FETCH 1:4 (FLAGS)");
    let flagged: Vec<bool> =
        fetch_lines(&flags).iter().map(|line| flags_in_fetch(line).contains("\\Flagged")).collect();
    assert_eq!(flagged, vec![true, false, true, false]);
    // UID STORE answers MODIFIED with UIDs; .SILENT still reports modseqs.
    let (untagged, tagged) = client.command("UID STORE 1:4 (UNCHANGEDSINCE 0) +FLAGS.SILENT (\\Draft)");
    assert!(tagged.starts_with("OK [MODIFIED 1:4]"), "UNCHANGEDSINCE 0 always fails: {tagged}");
    assert!(fetch_lines(&untagged).is_empty(), "{untagged:?}");
    let current = fetched_modseqs(&client.ok("UID FETCH 1:4 (MODSEQ)"));
    let (untagged, tagged) =
        client.command(&format!("UID STORE 3 (UNCHANGEDSINCE {}) +FLAGS.SILENT (\\Draft)", current[&3]));
    assert!(tagged.starts_with("OK STORE"), "{tagged}");
    let silent = fetch_lines(&untagged);
    assert_eq!(silent.len(), 1, "{untagged:?}");
    assert!(
        silent[0].starts_with("* 3 FETCH (UID 3 MODSEQ (") && item_names(silent[0]) == ["UID", "MODSEQ"],
        "{silent:?}"
    );
    assert!(numeric_item(silent[0], "MODSEQ").unwrap() > current[&3]);
}

#[test]
fn search_and_sort_by_modseq() {
    let server = Server::start();
    let mut client = inbox_with(&server, 5);
    let responses = client.ok("FETCH 1:* (MODSEQ)");
    let highest = highest_modseq(&responses);
    client.ok("STORE 2 +FLAGS (\\Seen)");
    client.ok("STORE 4 +FLAGS (\\Seen)");
    let latest = fetched_modseqs(&client.ok("UID FETCH 4 (MODSEQ)"))[&4];
    let after = highest + 1;
    let responses = client.ok(&format!("SEARCH MODSEQ {after}"));
    assert_eq!(responses, vec![format!("* SEARCH 2 4 (MODSEQ {latest})")]);
    let responses = client.ok(&format!("UID SEARCH MODSEQ \"/flags/\\\\seen\" all {after} UNSEEN"));
    assert_eq!(responses, vec!["* SEARCH".to_string()], "no match: no MODSEQ");
    let responses = client.ok(&format!("SEARCH RETURN (ALL COUNT) MODSEQ {after}"));
    assert_eq!(responses.len(), 1);
    assert!(responses[0].ends_with(&format!(") COUNT 2 ALL 2,4 MODSEQ {latest}")), "{responses:?}");
    let earlier = fetched_modseqs(&client.ok("UID FETCH 2 (MODSEQ)"))[&2];
    let responses = client.ok(&format!("SEARCH RETURN (MIN) MODSEQ {after}"));
    assert!(responses[0].ends_with(&format!(") MIN 2 MODSEQ {earlier}")), "MIN only: its modseq: {responses:?}");
    let responses = client.ok(&format!("SORT (REVERSE SUBJECT) UTF-8 MODSEQ {after}"));
    assert_eq!(responses, vec![format!("* SORT 4 2 (MODSEQ {latest})")]);
    let responses = client.ok("SEARCH UNSEEN");
    assert_eq!(responses, vec!["* SEARCH 1 3 5".to_string()], "no MODSEQ without a MODSEQ key");
}

#[test]
fn search_modseq_enables_condstore() {
    let server = Server::start();
    let mut client = inbox_with(&server, 1);
    let responses = client.ok("SEARCH MODSEQ 1");
    assert!(code_number(&responses, "HIGHESTMODSEQ").is_some(), "{responses:?}");
    let responses = client.ok("STORE 1 +FLAGS (\\Seen)");
    assert!(numeric_item(fetch_lines(&responses)[0], "MODSEQ").is_some(), "{responses:?}");
}

#[test]
fn qresync_reports_expunges_as_vanished() {
    let server = Server::start();
    let mut client = inbox_with(&server, 6);
    let mut other = server.alice_inbox();
    client.ok("ENABLE QRESYNC");
    other.ok("STORE 2:3 +FLAGS (\\Deleted)");
    other.ok("EXPUNGE");
    let responses = client.ok("NOOP");
    assert_eq!(vanished(&responses, false), uids(&[2, 3]), "{responses:?}");
    assert!(responses.iter().all(|line| !line.ends_with(" EXPUNGE")), "{responses:?}");
    // Its own EXPUNGE too, and the tagged OK says the new HIGHESTMODSEQ.
    client.ok("STORE 1 +FLAGS (\\Deleted)");
    let (untagged, tagged) = client.command("EXPUNGE");
    assert_eq!(vanished(&untagged, false), uids(&[1]), "{untagged:?}");
    let after = code_number(std::slice::from_ref(&tagged), "HIGHESTMODSEQ").expect("HIGHESTMODSEQ in tagged OK");
    assert_eq!(status_modseq(&mut other), after);
    // MOVE and UID EXPUNGE.
    let (untagged, tagged) = client.command("UID MOVE 4 Archive");
    assert_eq!(vanished(&untagged, false), uids(&[4]), "{untagged:?}");
    let moved = code_number(std::slice::from_ref(&tagged), "HIGHESTMODSEQ").expect("HIGHESTMODSEQ in MOVE's OK");
    assert!(moved > after, "{tagged}");
    assert_eq!(status_modseq(&mut other), moved);
    client.ok("UID STORE 5:6 +FLAGS (\\Deleted)");
    let (untagged, _) = client.command("UID EXPUNGE 6");
    assert_eq!(vanished(&untagged, false), uids(&[6]), "{untagged:?}");
    // A non-UID FETCH may not report expunges; the next command does.
    other.ok("EXPUNGE");
    let (untagged, _) = client.command("FETCH 1 (FLAGS)");
    assert!(vanished(&untagged, false).is_empty(), "{untagged:?}");
    assert_eq!(vanished(&client.ok("NOOP"), false), uids(&[5]));
    // The plain session saw the same as EXPUNGEs.
    let plain = other.ok("NOOP");
    assert!(Responses::of(&plain).untagged("VANISHED").is_empty(), "{plain:?}");
}

#[test]
fn select_qresync_needs_enable_and_closes_the_previous_mailbox() {
    let server = Server::start();
    let mut client = inbox_with(&server, 1);
    let responses = client.ok("STATUS INBOX (UIDVALIDITY)");
    let validity = numeric_item(&responses[0], "UIDVALIDITY").unwrap();
    client.bad(&format!("SELECT INBOX (QRESYNC ({validity} 1))"));
    client.ok("FETCH 1 (FLAGS)"); // still selected after the BAD
    let responses = client.ok("EXAMINE Archive");
    assert!(responses.iter().any(|line| line.starts_with("* OK [CLOSED]")), "{responses:?}");
    let closed = responses.iter().position(|line| line.starts_with("* OK [CLOSED]")).unwrap();
    assert_eq!(closed, 0, "CLOSED comes before the new mailbox's responses: {responses:?}");
    client.ok("ENABLE QRESYNC");
    client.ok(&format!("SELECT INBOX (QRESYNC ({validity} 1))"));
    client.bad("SELECT INBOX (BOGUS)");
}

/// Messages 1..=10, a client that knows them at `known_modseq`, then a
/// second session changes flags, expunges and adds mail.
struct Resync {
    server: Server,
    validity: u64,
    known_modseq: u64,
}

fn prepare_resync() -> Resync {
    let server = Server::start();
    let mut setup = inbox_with(&server, 10);
    let responses = setup.ok("SELECT INBOX");
    let validity = code_number(&responses, "UIDVALIDITY").unwrap();
    let known_modseq = highest_modseq(&responses);
    setup.ok("STORE 3 +FLAGS (\\Flagged)");
    setup.ok("STORE 5 +FLAGS ($Work)");
    setup.ok("STORE 2,7 +FLAGS (\\Deleted)");
    setup.ok("EXPUNGE");
    setup.ok("UID STORE 4 +FLAGS (\\Seen)");
    setup.ok("UID STORE 4 -FLAGS (\\Seen)"); // changed back: still a change
    setup.append_ok("INBOX", &message("new1", "x"));
    setup.append_ok("INBOX", &message("new2", "x"));
    Resync { server, validity, known_modseq }
}

#[test]
fn select_qresync_reports_exactly_what_changed() {
    let Resync { server, validity, known_modseq } = prepare_resync();
    let mut client = server.login("alice", "secret");
    client.ok("ENABLE QRESYNC");
    let responses = client.ok(&format!("SELECT INBOX (QRESYNC ({validity} {known_modseq} 1:10))"));
    assert_eq!(vanished(&responses, true), uids(&[2, 7]), "{responses:#?}");
    let changed = fetched_modseqs(&responses);
    assert_eq!(changed.keys().copied().collect::<BTreeSet<_>>(), uids(&[3, 4, 5]), "{responses:#?}");
    let highest = highest_modseq(&responses);
    assert!(changed.values().all(|&modseq| modseq > known_modseq && modseq <= highest));
    for line in fetch_lines(&responses) {
        assert!(try_item(line, "FLAGS").is_some_and(|flags| flags.starts_with('(')), "{line}");
    }
    let line = fetch_lines(&responses).into_iter().find(|line| numeric_item(line, "UID") == Some(5)).unwrap();
    assert!(
        line.starts_with("* 4 FETCH") && flags_in_fetch(line).contains("$Work"),
        "sequence numbers are current: {line}"
    );
    // The VANISHED and FETCHes follow the SELECT responses.
    let exists = responses.iter().position(|line| line.ends_with(" EXISTS")).unwrap();
    let first_vanished = responses.iter().position(|line| line.starts_with("* VANISHED")).unwrap();
    assert!(exists < first_vanished);
    // Without known UIDs: the new messages count as changed too.
    let responses = client.ok(&format!("EXAMINE INBOX (QRESYNC ({validity} {known_modseq}))"));
    assert_eq!(vanished(&responses, true), uids(&[2, 7]));
    let changed = fetched_modseqs(&responses);
    assert_eq!(changed.keys().copied().collect::<BTreeSet<_>>(), uids(&[3, 4, 5, 11, 12]), "{responses:#?}");
    // Known UIDs narrow both parts.
    let responses = client.ok(&format!("EXAMINE INBOX (QRESYNC ({validity} {known_modseq} 1:4))"));
    assert_eq!(vanished(&responses, true), uids(&[2]));
    assert_eq!(fetched_modseqs(&responses).keys().copied().collect::<BTreeSet<_>>(), uids(&[3, 4]));
    // Up to date: nothing at all.
    let highest = highest_modseq(&responses);
    let responses = client.ok(&format!("EXAMINE INBOX (QRESYNC ({validity} {highest} 1:12))"));
    assert!(vanished(&responses, true).is_empty() && fetch_lines(&responses).is_empty(), "{responses:#?}");
    // UID FETCH ... (CHANGEDSINCE n VANISHED) answers the same way.
    client.ok("SELECT INBOX");
    let responses = client.ok(&format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {known_modseq} VANISHED)"));
    assert_eq!(vanished(&responses, true), uids(&[2, 7]), "{responses:#?}");
    assert_eq!(fetched_modseqs(&responses).keys().copied().collect::<BTreeSet<_>>(), uids(&[3, 4, 5, 11, 12]));
    let responses = client.ok(&format!("UID FETCH 5:9 (FLAGS) (CHANGEDSINCE {known_modseq} VANISHED)"));
    assert_eq!(vanished(&responses, true), uids(&[7]));
    assert_eq!(fetched_modseqs(&responses).keys().copied().collect::<BTreeSet<_>>(), uids(&[5]));
}

#[test]
fn select_qresync_with_another_uidvalidity_is_a_plain_select() {
    let Resync { server, validity, known_modseq } = prepare_resync();
    let mut client = server.login("alice", "secret");
    client.ok("ENABLE QRESYNC");
    let responses = client.ok(&format!("SELECT INBOX (QRESYNC ({} {known_modseq} 1:10))", validity + 1));
    assert!(vanished(&responses, true).is_empty() && fetch_lines(&responses).is_empty(), "{responses:#?}");
    assert!(code_number(&responses, "HIGHESTMODSEQ").is_some());
    assert_eq!(code_number(&responses, "UIDVALIDITY"), Some(validity));
}

#[test]
fn expunge_history_overflow_answers_a_superset() {
    let server = Server::start_with(Options { extra_limits: "expunge_history = 2".into(), ..Options::default() });
    let mut setup = inbox_with(&server, 10);
    setup.ok("STORE 1 +FLAGS (\\Deleted)");
    setup.ok("EXPUNGE");
    // The client knows UIDs 2..=10 as of now.
    let responses = setup.ok("SELECT INBOX");
    let validity = code_number(&responses, "UIDVALIDITY").unwrap();
    let known_modseq = highest_modseq(&responses);
    setup.ok("UID STORE 6 +FLAGS (\\Deleted)");
    setup.ok("EXPUNGE");
    setup.ok("UID STORE 3 +FLAGS (\\Flagged)");
    setup.ok("UID STORE 8:9 +FLAGS (\\Deleted)");
    // Three more expunges: UID 1's and 6's fall out of the history.
    setup.ok("EXPUNGE");
    let mut client = server.login("alice", "secret");
    client.ok("ENABLE QRESYNC");
    let responses = client.ok(&format!("SELECT INBOX (QRESYNC ({validity} {known_modseq} 1:10))"));
    let reported = vanished(&responses, true);
    assert!(reported.is_superset(&uids(&[6, 8, 9])), "never miss an expunge: {responses:#?}");
    assert_eq!(reported, uids(&[1, 6, 8, 9]), "every known UID that is gone");
    assert_eq!(fetched_modseqs(&responses).keys().copied().collect::<BTreeSet<_>>(), uids(&[3]));
    // Sequence numbers the client still has right narrow it: its message
    // 1..=3 were UIDs 2..=4, and still are.
    let responses = client.ok(&format!("EXAMINE INBOX (QRESYNC ({validity} {known_modseq} 1:10 (1:3 2:4)))"));
    assert_eq!(vanished(&responses, true), uids(&[6, 8, 9]), "{responses:#?}");
    // A mismatch stops the narrowing there.
    let responses = client.ok(&format!("EXAMINE INBOX (QRESYNC ({validity} {known_modseq} 1:10 (1,5 2,6)))"));
    assert_eq!(vanished(&responses, true), uids(&[6, 8, 9]), "{responses:#?}");
    let responses = client.ok(&format!("EXAMINE INBOX (QRESYNC ({validity} {known_modseq} 1:10 (5 6)))"));
    assert_eq!(vanished(&responses, true), uids(&[1, 6, 8, 9]), "{responses:#?}");
    // UID FETCH VANISHED from before the history: the same superset.
    client.ok("SELECT INBOX");
    let responses = client.ok(&format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {known_modseq} VANISHED)"));
    assert_eq!(vanished(&responses, true), uids(&[1, 6, 8, 9]), "{responses:#?}");
    // From within the history: exact.
    let recent = highest_modseq(&client.ok("EXAMINE INBOX")) - 1;
    let responses = client.ok(&format!("EXAMINE INBOX (QRESYNC ({validity} {recent}))"));
    assert_eq!(vanished(&responses, true), uids(&[8, 9]), "{responses:#?}");
}

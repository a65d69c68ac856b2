//! Several sessions of one user on one mailbox (RFC 3501 §5.2, §5.5,
//! §7.4.1, RFC 2180 §4): what one session changes, the others learn at
//! their next command that allows it, each in its own numbering.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;

/// `* n WORD ...` → (n, WORD).
fn numbered_line(line: &str) -> Option<(usize, &str)> {
    let mut words = line.split(' ');
    if words.next()? != "*" {
        return None;
    }
    let number = words.next()?.parse().ok()?;
    Some((number, words.next()?))
}

fn count_of(responses: &[Response], word: &str) -> Option<usize> {
    responses
        .iter()
        .filter_map(|line| numbered_line(line))
        .filter(|(_, what)| *what == word)
        .map(|(n, _)| n)
        .next_back()
}

fn expunges(responses: &[Response]) -> Vec<usize> {
    responses
        .iter()
        .filter_map(|line| numbered_line(line))
        .filter(|(_, what)| *what == "EXPUNGE")
        .map(|(n, _)| n)
        .collect()
}

fn without_recent(mut flags: BTreeSet<String>) -> BTreeSet<String> {
    flags.remove("\\Recent");
    flags
}

fn set(flags: &[&str]) -> BTreeSet<String> {
    flags.iter().map(|flag| flag.to_string()).collect()
}

/// What a client knows of its selected mailbox: the UID at each sequence
/// number (0 while not yet learnt). Feeding it every untagged response in
/// order checks that the server's numbering stays consistent.
#[derive(Default, Debug)]
struct Mirror {
    uids: Vec<u32>,
}

impl Mirror {
    fn with_uids(uids: &[u32]) -> Mirror {
        Mirror { uids: uids.to_vec() }
    }

    /// Applies responses in order; returns (UID, FLAGS) of each FETCH that
    /// carries FLAGS, resolving its sequence number in the numbering of
    /// that moment.
    fn apply(&mut self, responses: &[Response]) -> Vec<(u32, BTreeSet<String>)> {
        let mut flags = Vec::new();
        for line in responses {
            let Some((number, what)) = numbered_line(line) else { continue };
            match what {
                "EXISTS" => {
                    assert!(number >= self.uids.len(), "EXISTS shrank the mailbox: {line} (knew {:?})", self.uids);
                    self.uids.resize(number, 0);
                }
                "EXPUNGE" => {
                    assert!((1..=self.uids.len()).contains(&number), "{line} beyond {:?}", self.uids);
                    self.uids.remove(number - 1);
                }
                "FETCH" => {
                    assert!((1..=self.uids.len()).contains(&number), "{line} beyond {:?}", self.uids);
                    if let Some(uid) = fetch_uid(line) {
                        let known = self.uids[number - 1];
                        assert!(known == 0 || known == uid, "{line}: sequence {number} is UID {known} here");
                        self.uids[number - 1] = uid;
                    }
                    if let Some(found) = fetch_flags(line) {
                        flags.push((self.uids[number - 1], found));
                    }
                }
                _ => {}
            }
        }
        let known: Vec<u32> = self.uids.iter().copied().filter(|&uid| uid != 0).collect();
        assert!(known.windows(2).all(|pair| pair[0] < pair[1]), "UIDs out of order: {:?}", self.uids);
        flags
    }

    /// Runs a command that must succeed and applies its responses.
    fn ok(&mut self, client: &mut Client, command: &str) -> Vec<Response> {
        let untagged = client.ok(command);
        self.apply(&untagged);
        untagged
    }
}

/// Logs in as alice, appends `count` messages to INBOX without selecting it, logs out.
fn fill_inbox(server: &Server, count: usize) {
    let mut client = server.login("alice", "secret");
    for index in 1..=count {
        client.append_ok("INBOX", &message(&format!("m{index}"), &format!("body {index}")));
    }
    client.ok("LOGOUT");
}

/// SELECT with its untagged responses.
fn select(server: &Server, mailbox: &str) -> (Client, Vec<Response>) {
    let mut client = server.login("alice", "secret");
    let untagged = client.ok(&format!("SELECT {mailbox}"));
    (client, untagged)
}

/// `* STATUS name (ITEM n ...)` → n for ITEM (the one STATUS response).
fn status_item(responses: &[Response], item: &str) -> u32 {
    let status = Responses::of(responses).one("STATUS").status_items();
    status.get(item).copied().unwrap_or_else(|| panic!("{item} in {responses:?}")).try_into().unwrap()
}

/// UID → FLAGS (without \Recent) from `UID FETCH 1:* FLAGS`, checked against the mirror.
fn uid_flags(client: &mut Client, mirror: &mut Mirror) -> BTreeMap<u32, BTreeSet<String>> {
    let untagged = mirror.ok(client, "UID FETCH 1:* FLAGS");
    let listed: BTreeMap<u32, BTreeSet<String>> = fetch_flags_by_uid(&untagged).into_iter().collect();
    assert_eq!(mirror.uids, listed.keys().copied().collect::<Vec<_>>(), "the session's numbering after {untagged:?}");
    listed
}

fn fetch_flags_by_uid(responses: &[Response]) -> Vec<(u32, BTreeSet<String>)> {
    fetch_lines(responses)
        .into_iter()
        .map(|line| (fetch_uid(line).expect("UID"), without_recent(fetch_flags(line).expect("FLAGS"))))
        .collect()
}

/// LIST "" "*" → mailbox names.
fn list_names(client: &mut Client) -> BTreeSet<String> {
    client
        .ok("LIST \"\" \"*\"")
        .iter()
        .filter(|line| line.starts_with("* LIST "))
        .map(|line| line.rsplit_once(" \"/\" ").expect("delimiter").1.trim_matches('"').to_string())
        .collect()
}

#[test]
fn appends_show_up_as_exists_at_the_others_next_noop() {
    let server = Server::start();
    let (mut a, _) = select(&server, "INBOX");
    let (mut b, _) = select(&server, "INBOX");
    // RFC 3501 §6.3.11: the appending session learns of its own message at once.
    let (untagged, tagged) = a.append("INBOX", "", &message("one", "first"));
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(count_of(&untagged, "EXISTS"), Some(1), "{untagged:?}");
    a.append_ok("INBOX", &message("two", "second"));

    let untagged = b.ok("NOOP");
    assert_eq!(count_of(&untagged, "EXISTS"), Some(2), "{untagged:?}");
    assert!(expunges(&untagged).is_empty(), "{untagged:?}");
    let mut mirror = Mirror::default();
    mirror.apply(&untagged);
    mirror.ok(&mut b, "FETCH 1:2 (UID)");
    assert_eq!(mirror.uids, vec![1, 2]);
    assert_eq!(b.ok("NOOP"), Vec::<Response>::new(), "told once only");
    assert!(count_of(&a.ok("NOOP"), "EXISTS").is_none());
}

#[test]
fn new_mail_is_announced_during_fetch_store_and_search_while_expunges_wait() {
    let server = Server::start();
    fill_inbox(&server, 3);
    let (mut a, _) = select(&server, "INBOX");
    let (mut b, _) = select(&server, "INBOX");
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    a.ok("EXPUNGE");
    a.append_ok("INBOX", &message("m4", "body 4"));

    // B still numbers UID 1 as 1 (no EXPUNGE during STORE) but learns of UID 4 as 4.
    let mut mirror = Mirror::with_uids(&[1, 2, 3]);
    let untagged = mirror.ok(&mut b, "STORE 3 +FLAGS.SILENT (\\Seen)");
    assert!(expunges(&untagged).is_empty(), "{untagged:?}");
    assert_eq!(count_of(&untagged, "EXISTS"), Some(4), "{untagged:?}");
    assert_eq!(fetch_lines(&b.ok("FETCH 4 (UID)")), ["* 4 FETCH (UID 4)"]);
    a.append_ok("INBOX", &message("m5", "body 5"));
    // The search answers for what B knew when it began; EXISTS follows it.
    let untagged = mirror.ok(&mut b, "SEARCH UID 4:*");
    assert_eq!(search_result(&untagged), vec![4]);
    assert_eq!(count_of(&untagged, "EXISTS"), Some(5), "{untagged:?}");
    assert_eq!(fetch_lines(&b.ok("FETCH 5 (UID)")), ["* 5 FETCH (UID 5)"]);
    // The expunge comes at NOOP, once; no second EXISTS.
    let untagged = mirror.ok(&mut b, "NOOP");
    assert_eq!(expunges(&untagged), vec![1], "{untagged:?}");
    assert_eq!(count_of(&untagged, "EXISTS"), None, "{untagged:?}");
    mirror.ok(&mut b, "FETCH 1:* (UID)");
    assert_eq!(mirror.uids, vec![2, 3, 4, 5]);
}

#[test]
fn expunge_waits_for_noop_and_is_never_sent_during_fetch_store_or_search() {
    let server = Server::start();
    fill_inbox(&server, 5);
    let (mut a, _) = select(&server, "INBOX");
    let (mut b, _) = select(&server, "INBOX");
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    let untagged = a.ok("EXPUNGE");
    assert_eq!(expunges(&untagged), vec![2], "{untagged:?}");

    // B has not been told: it still uses the old numbering, and RFC 3501
    // §7.4.1 forbids EXPUNGE during FETCH, STORE and SEARCH.
    let untagged = b.ok("FETCH 5 (UID)");
    assert!(expunges(&untagged).is_empty(), "{untagged:?}");
    assert_eq!(fetch_lines(&untagged).iter().map(|line| line.as_str()).collect::<Vec<_>>(), ["* 5 FETCH (UID 5)"]);
    let untagged = b.ok("STORE 4 +FLAGS (\\Flagged)");
    assert!(expunges(&untagged).is_empty(), "{untagged:?}");
    let fetches = fetch_lines(&untagged);
    assert_eq!(fetches.len(), 1, "{untagged:?}");
    assert!(fetches[0].starts_with("* 4 FETCH (FLAGS (\\Flagged"), "{untagged:?}");
    let untagged = b.ok("SEARCH UID 5");
    assert!(expunges(&untagged).is_empty(), "{untagged:?}");
    assert_eq!(search_result(&untagged), vec![5], "old numbering until told");
    let untagged = b.ok("SEARCH FLAGGED");
    assert!(expunges(&untagged).is_empty(), "{untagged:?}");
    assert_eq!(search_result(&untagged), vec![4]);

    // Now it is told, once, and the numbering moves on.
    let untagged = b.ok("NOOP");
    assert_eq!(expunges(&untagged), vec![2], "{untagged:?}");
    assert!(fetch_lines(&untagged).is_empty(), "its own STORE is not echoed: {untagged:?}");
    let mut mirror = Mirror::with_uids(&[1, 3, 4, 5]);
    mirror.ok(&mut b, "FETCH 1:* (UID)");
    assert_eq!(mirror.uids, vec![1, 3, 4, 5]);
    assert_eq!(search_result(&b.ok("SEARCH FLAGGED")), vec![3]);
    assert!(b.ok("NOOP").is_empty());

    // A learns of B's flag change under its own numbering: UID 4 is A's 3.
    let untagged = a.ok("NOOP");
    let fetches = fetch_lines(&untagged);
    assert_eq!(fetches.len(), 1, "{untagged:?}");
    assert!(fetches[0].starts_with("* 3 FETCH (FLAGS (\\Flagged"), "{untagged:?}");
}

/// INBOX with 3 messages, selected by a session that has not been told
/// yet that another session expunged message 2: that session.
fn second_expunged_elsewhere(server: &Server) -> Client {
    fill_inbox(server, 3);
    let (mut a, _) = select(server, "INBOX");
    let (b, _) = select(server, "INBOX");
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    a.ok("EXPUNGE");
    b
}

#[test]
fn fetching_a_message_expunged_elsewhere_gives_expungeissued_and_the_rest() {
    let server = Server::start();
    let mut b = second_expunged_elsewhere(&server);

    let (untagged, tagged) = b.command("FETCH 1:3 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(tagged.starts_with("NO [EXPUNGEISSUED]"), "{tagged} after {untagged:?}");
    assert!(expunges(&untagged).is_empty(), "{untagged:?}");
    let fetches = fetch_lines(&untagged);
    assert_eq!(fetches.len(), 2, "{untagged:?}");
    let subject = "BODY[HEADER.FIELDS (SUBJECT)]";
    assert!(
        fetches[0].starts_with("* 1 FETCH (UID 1 ") && item(fetches[0], subject) == "Subject: m1\r\n\r\n",
        "{untagged:?}"
    );
    assert!(
        fetches[1].starts_with("* 3 FETCH (UID 3 ") && item(fetches[1], subject) == "Subject: m3\r\n\r\n",
        "{untagged:?}"
    );

    assert_eq!(expunges(&b.ok("NOOP")), vec![2]);
    let mut mirror = Mirror::with_uids(&[1, 3]);
    mirror.ok(&mut b, "FETCH 1:2 (UID)");
    b.bad("FETCH 3 (UID)");
}

/// A SEARCH that passes over messages expunged elsewhere, which still
/// have sequence numbers here, says so with OK [EXPUNGEISSUED] (RFC 5530);
/// UID SEARCH reports the expunges themselves and says plain OK.
#[test]
fn search_that_skips_expunged_messages_says_expungeissued() {
    let server = Server::start();
    let mut b = second_expunged_elsewhere(&server);
    for command in ["SEARCH BODY body", "SORT (SUBJECT) UTF-8 ALL", "THREAD ORDEREDSUBJECT UTF-8 ALL"] {
        let (untagged, tagged) = b.command(command);
        assert!(tagged.starts_with("OK [EXPUNGEISSUED]"), "{command}: {tagged} after {untagged:?}");
        assert!(expunges(&untagged).is_empty(), "{untagged:?}");
    }
    let (untagged, tagged) = b.command("UID SEARCH BODY body");
    let status = Status::parse(&tagged);
    assert!(status.is("OK") && status.code_named("EXPUNGEISSUED").is_none(), "{tagged} after {untagged:?}");
    assert_eq!(expunges(&untagged), vec![2], "{untagged:?}");
    // Nothing skipped now.
    let (_, tagged) = b.command("SEARCH BODY body");
    assert!(Status::parse(&tagged).code_named("EXPUNGEISSUED").is_none(), "{tagged}");
}

#[test]
fn uid_commands_may_report_expunges_and_keep_the_numbering_consistent() {
    let server = Server::start();
    fill_inbox(&server, 4);
    let (mut a, _) = select(&server, "INBOX");
    let (mut b, _) = select(&server, "INBOX");
    let mut mirror = Mirror::with_uids(&[1, 2, 3, 4]);
    a.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)");
    a.ok("EXPUNGE");

    // UID FETCH may carry the EXPUNGEs; whatever it sends must fit together.
    let (untagged, tagged) = b.command("UID FETCH 1:* (FLAGS)");
    // RFC 3501 §6.4.8: UIDs that no longer exist are ignored, and the
    // EXPUNGEs went out before the answer: plain OK, as Dovecot says.
    assert!(tagged.starts_with("OK"), "{tagged} after {untagged:?}");
    assert_eq!(expunges(&untagged).len(), 2, "{untagged:?}");
    let flags = mirror.apply(&untagged);
    let uids: BTreeSet<u32> = flags.iter().map(|(uid, _)| *uid).collect();
    assert!(uids.contains(&2) && uids.contains(&4), "{untagged:?}");
    mirror.apply(&b.ok("NOOP"));
    assert_eq!(mirror.uids, vec![2, 4], "after UID FETCH and NOOP");

    a.ok("UID STORE 4 +FLAGS.SILENT (\\Deleted)");
    a.ok("UID EXPUNGE 4");
    let untagged = b.ok("UID SEARCH ALL");
    mirror.apply(&untagged);
    let found = search_result(&untagged);
    assert!(found == vec![2] || found == vec![2, 4], "{untagged:?}");
    mirror.apply(&b.ok("NOOP"));
    assert_eq!(mirror.uids, vec![2]);
    assert_eq!(search_result(&b.ok("UID SEARCH ALL")), vec![2]);
}

#[test]
fn flag_changes_reach_the_other_session_with_its_numbers_and_are_not_echoed() {
    let server = Server::start();
    fill_inbox(&server, 4);
    let (mut a, _) = select(&server, "INBOX");
    let (mut b, _) = select(&server, "INBOX");

    // A's non-silent STORE: exactly one FETCH, now and never again.
    let untagged = a.ok("STORE 3 +FLAGS (\\Flagged)");
    let fetches = fetch_lines(&untagged);
    assert_eq!(fetches.len(), 1, "{untagged:?}");
    assert!(fetches[0].starts_with("* 3 FETCH ("), "{untagged:?}");
    assert_eq!(without_recent(fetch_flags(fetches[0]).unwrap()), set(&["\\Flagged"]));
    assert!(fetch_lines(&a.ok("NOOP")).is_empty(), "no duplicate FETCH for A's own STORE");

    let untagged = b.ok("NOOP");
    let fetches = fetch_lines(&untagged);
    assert_eq!(fetches.len(), 1, "{untagged:?}");
    assert!(fetches[0].starts_with("* 3 FETCH ("), "{untagged:?}");
    assert_eq!(fetch_flags(fetches[0]).unwrap(), set(&["\\Flagged"]), "\\Recent belongs to A");

    // Silent changes are reported to the others all the same.
    let untagged = a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    assert!(fetch_lines(&untagged).is_empty(), "{untagged:?}");
    assert_eq!(expunges(&a.ok("EXPUNGE")), vec![1]);
    let untagged = a.ok("STORE 3 +FLAGS (\\Seen)");
    let fetches = fetch_lines(&untagged);
    assert_eq!(fetches.len(), 1, "{untagged:?}");
    assert!(fetches[0].starts_with("* 3 FETCH ("), "UID 4 is A's third message now: {untagged:?}");
    assert!(fetch_lines(&a.ok("NOOP")).is_empty());

    // B hears of the expunge and of UID 4's \Seen, each in the numbering
    // of its moment.
    let mut mirror = Mirror::with_uids(&[1, 2, 3, 4]);
    let untagged = b.ok("NOOP");
    let flags = mirror.apply(&untagged);
    assert_eq!(expunges(&untagged), vec![1], "{untagged:?}");
    assert_eq!(mirror.uids, vec![2, 3, 4]);
    let seen: Vec<_> = flags.iter().filter(|(uid, _)| *uid != 1).collect();
    assert_eq!(seen, vec![&(4, set(&["\\Seen"]))], "{untagged:?}");

    // An implicit \Seen from FETCH BODY[] is reported to the other
    // session, not again to the fetching one.
    let untagged = a.ok("FETCH 1 BODY[TEXT]");
    assert_eq!(fetch_lines(&untagged).len(), 1, "{untagged:?}");
    assert!(fetch_lines(&a.ok("NOOP")).is_empty());
    let flags = mirror.apply(&b.ok("NOOP"));
    assert_eq!(flags, vec![(2, set(&["\\Seen"]))]);

    // A keyword: both sessions get the new FLAGS list, B the FETCH.
    let untagged = a.ok("STORE 2 +FLAGS ($Important)");
    assert!(defined_flags(&untagged).contains("$Important"), "{untagged:?}");
    let untagged = b.ok("NOOP");
    assert!(defined_flags(&untagged).contains("$Important"), "{untagged:?}");
    let flags = mirror.apply(&untagged);
    assert_eq!(flags, vec![(3, set(&["\\Flagged", "$Important"]))]);
}

#[test]

fn uid_store_after_an_expunge_the_session_was_not_told_of() {
    let server = Server::start();
    fill_inbox(&server, 3);
    let (mut a, _) = select(&server, "INBOX");
    let (mut b, _) = select(&server, "INBOX");
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    b.ok("EXPUNGE");

    // UID STORE may report the EXPUNGE; its FETCH must name UID 3 by the
    // sequence number valid where it stands.
    let mut mirror = Mirror::with_uids(&[1, 2, 3]);
    let untagged = mirror.ok(&mut a, "UID STORE 3 +FLAGS (\\Flagged)");
    let fetches = fetch_lines(&untagged);
    assert_eq!(fetches.len(), 1, "{untagged:?}");
    assert_eq!(fetch_uid(fetches[0]), Some(3), "{untagged:?}");
    mirror.ok(&mut a, "NOOP");
    assert_eq!(mirror.uids, vec![2, 3]);
    let listed = uid_flags(&mut a, &mut mirror);
    assert_eq!(listed[&3], set(&["\\Flagged"]));
    assert_eq!(listed[&2], set(&[]));
}

#[test]

fn uid_store_after_an_unseen_expunge_answers_for_the_stored_message() {
    let server = Server::start();
    fill_inbox(&server, 3);
    let (mut a, _) = select(&server, "INBOX");
    let (mut b, _) = select(&server, "INBOX");
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    b.ok("EXPUNGE");

    let mut mirror = Mirror::with_uids(&[1, 2, 3]);
    let untagged = a.ok("UID STORE 2 +FLAGS (\\Flagged)");
    let flags = mirror.apply(&untagged);
    assert_eq!(
        flags.iter().map(|(uid, flags)| (*uid, without_recent(flags.clone()))).collect::<Vec<_>>(),
        vec![(2, set(&["\\Flagged"]))],
        "{untagged:?}"
    );
    assert_eq!(fetch_uid(fetch_lines(&untagged)[0]), Some(2), "{untagged:?}");
}

#[test]
fn store_after_an_expunge_the_session_was_not_told_of_keeps_old_numbers() {
    let server = Server::start();
    fill_inbox(&server, 3);
    let (mut a, _) = select(&server, "INBOX");
    let (mut b, _) = select(&server, "INBOX");
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    b.ok("EXPUNGE");

    let untagged = a.ok("STORE 3 +FLAGS (\\Flagged)");
    assert!(expunges(&untagged).is_empty(), "{untagged:?}");
    let fetches = fetch_lines(&untagged);
    assert_eq!(fetches.len(), 1, "{untagged:?}");
    assert!(fetches[0].starts_with("* 3 FETCH (FLAGS (\\Flagged"), "{untagged:?}");
    let mut mirror = Mirror::with_uids(&[1, 2, 3]);
    mirror.ok(&mut a, "NOOP");
    assert_eq!(mirror.uids, vec![2, 3]);
    assert_eq!(uid_flags(&mut a, &mut mirror)[&3], set(&["\\Flagged"]));
}

#[test]
fn move_shows_as_expunge_in_the_source_and_exists_in_the_target() {
    let server = Server::start();
    fill_inbox(&server, 3);
    let mut setup = server.login("alice", "secret");
    setup.ok("CREATE Saved");
    let (mut a, _) = select(&server, "INBOX");
    let (mut b, _) = select(&server, "INBOX");
    let (mut c, _) = select(&server, "Saved");

    let untagged = a.ok("MOVE 2 Saved");
    assert!(untagged.iter().any(|line| line.starts_with("* OK [COPYUID ")), "{untagged:?}");
    assert_eq!(expunges(&untagged), vec![2]);
    let untagged = b.ok("NOOP");
    assert_eq!(expunges(&untagged), vec![2], "{untagged:?}");
    let untagged = c.ok("NOOP");
    assert_eq!(count_of(&untagged, "EXISTS"), Some(1), "{untagged:?}");
    let untagged = c.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert_eq!(item(fetch_of(&untagged, 1), "BODY[HEADER.FIELDS (SUBJECT)]"), "Subject: m2\r\n\r\n", "{untagged:?}");

    // COPY leaves the source alone and grows the target.
    a.ok("COPY 1 Saved");
    assert!(b.ok("NOOP").is_empty());
    assert_eq!(count_of(&c.ok("NOOP"), "EXISTS"), Some(2));
}

#[test]
fn recent_belongs_to_exactly_one_session() {
    let server = Server::start();
    let mut other = server.login("alice", "secret");
    other.append_ok("INBOX", &message("first", "one"));
    assert_eq!(status_item(&other.ok("STATUS INBOX (RECENT MESSAGES)"), "RECENT"), 1);

    // EXAMINE shows \Recent but does not take it (RFC 3501 §6.3.2).
    let mut examiner = server.login("alice", "secret");
    let untagged = examiner.ok("EXAMINE INBOX");
    assert_eq!(count_of(&untagged, "RECENT"), Some(1), "{untagged:?}");
    assert_eq!(status_item(&other.ok("STATUS INBOX (RECENT)"), "RECENT"), 1);

    // The first SELECT takes it; the next session does not see it.
    let (mut a, untagged) = select(&server, "INBOX");
    assert_eq!(count_of(&untagged, "RECENT"), Some(1), "{untagged:?}");
    let (mut b, untagged) = select(&server, "INBOX");
    assert_eq!(count_of(&untagged, "RECENT"), Some(0), "{untagged:?}");
    assert_eq!(search_result(&a.ok("SEARCH RECENT")), vec![1]);
    assert_eq!(search_result(&b.ok("SEARCH RECENT")), Vec::<u32>::new());
    assert!(fetch_flags(&a.ok("FETCH 1 FLAGS")[0]).unwrap().contains("\\Recent"));
    assert!(!fetch_flags(&b.ok("FETCH 1 FLAGS")[0]).unwrap().contains("\\Recent"));
    assert_eq!(status_item(&other.ok("STATUS INBOX (RECENT)"), "RECENT"), 0);

    // A new message is recent in the first session told of it: here B.
    other.append_ok("INBOX", &message("second", "two"));
    let untagged = b.ok("NOOP");
    assert_eq!((count_of(&untagged, "EXISTS"), count_of(&untagged, "RECENT")), (Some(2), Some(1)), "{untagged:?}");
    let untagged = a.ok("NOOP");
    assert_eq!((count_of(&untagged, "EXISTS"), count_of(&untagged, "RECENT")), (Some(2), Some(1)), "{untagged:?}");
    assert_eq!(search_result(&b.ok("SEARCH RECENT")), vec![2]);
    assert_eq!(search_result(&a.ok("SEARCH RECENT")), vec![1]);
    assert_eq!(status_item(&other.ok("STATUS INBOX (RECENT MESSAGES)"), "RECENT"), 0);

    // Selecting again: nothing is new to this session any more.
    let untagged = a.ok("SELECT INBOX");
    assert_eq!(count_of(&untagged, "RECENT"), Some(0), "{untagged:?}");
    assert_eq!(search_result(&a.ok("SEARCH RECENT")), Vec::<u32>::new());
    examiner.ok("LOGOUT");
}

#[test]
fn uidvalidity_is_stable_and_a_recreated_mailbox_never_reuses_uids() {
    let mut server = Server::start();
    fill_inbox(&server, 2);
    let (mut a, untagged) = select(&server, "INBOX");
    let validity = uidvalidity(&untagged);
    let (mut b, untagged) = select(&server, "INBOX");
    assert_eq!(uidvalidity(&untagged), validity);
    let mut other = server.login("alice", "secret");
    assert_eq!(status_item(&other.ok("STATUS INBOX (UIDVALIDITY)"), "UIDVALIDITY"), validity);
    let (_, tagged) = other.append("INBOX", "", &message("third", "3"));
    assert_eq!(appenduid(&tagged), (validity, 3));
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    a.ok("EXPUNGE");
    b.ok("NOOP");
    assert_eq!(uidvalidity(&b.ok("SELECT INBOX")), validity);
    drop((a, b, other));
    server.stop();
    server.spawn();
    let (_, untagged) = select(&server, "INBOX");
    assert_eq!(uidvalidity(&untagged), validity, "after a restart");

    // RFC 3501 §2.3.1.1: a new mailbox of an old name must not give old
    // UIDs new meanings.
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Work");
    let (_, tagged) = client.append("Work", "", &message("w1", "work"));
    let (old_validity, old_uid) = appenduid(&tagged);
    client.ok("DELETE Work");
    client.ok("CREATE Work");
    let (_, tagged) = client.append("Work", "", &message("w2", "work"));
    let (new_validity, new_uid) = appenduid(&tagged);
    assert!(new_validity != old_validity || new_uid > old_uid, "UID {new_uid} reused under {new_validity}");
    assert_eq!(uidvalidity(&client.ok("SELECT Work")), new_validity);
}

#[test]
fn deleting_a_mailbox_selected_elsewhere_ends_that_session_with_bye() {
    let server = Server::start();
    let mut a = server.login("alice", "secret");
    a.ok("CREATE Work");
    a.append_ok("Work", &message("w", "work"));
    let (mut b, _) = select(&server, "Work");
    a.ok("DELETE Work");
    b.send("t99 NOOP");
    let rest = b.read_to_end();
    assert!(rest.starts_with("* BYE"), "{rest:?}");
    // The deleting session goes on.
    a.ok("NOOP");
    assert!(!list_names(&mut a).contains("Work"));
}

#[test]
fn a_deleted_and_recreated_mailbox_still_ends_the_old_selection() {
    let server = Server::start();
    let mut a = server.login("alice", "secret");
    a.ok("CREATE Work");
    a.append_ok("Work", &message("w", "work"));
    let (mut b, _) = select(&server, "Work");
    a.ok("DELETE Work");
    a.ok("CREATE Work");
    b.send("t99 NOOP");
    let rest = b.read_to_end();
    assert!(rest.starts_with("* BYE"), "{rest:?}");
    let (_, untagged) = select(&server, "Work");
    assert_eq!(count_of(&untagged, "EXISTS"), Some(0));
}

#[test]
fn close_expunges_silently_and_the_other_session_hears_of_it() {
    let server = Server::start();
    fill_inbox(&server, 3);
    let (mut a, _) = select(&server, "INBOX");
    let (mut b, _) = select(&server, "INBOX");
    a.ok("STORE 2:3 +FLAGS.SILENT (\\Deleted)");
    let untagged = a.ok("CLOSE");
    assert!(expunges(&untagged).is_empty(), "CLOSE sends no EXPUNGE: {untagged:?}");
    let mut mirror = Mirror::with_uids(&[1, 2, 3]);
    let untagged = mirror.ok(&mut b, "NOOP");
    assert_eq!(expunges(&untagged).len(), 2, "{untagged:?}");
    assert_eq!(mirror.uids, vec![1]);
}

#[test]
fn rename_inbox_empties_it_for_the_session_that_has_it_selected() {
    let server = Server::start();
    fill_inbox(&server, 2);
    let (mut a, _) = select(&server, "INBOX");
    let mut b = server.login("alice", "secret");
    // RFC 3501 §6.3.5: the messages move to the new mailbox, INBOX stays, empty.
    b.ok("RENAME INBOX Old");
    let mut mirror = Mirror::with_uids(&[1, 2]);
    let untagged = mirror.ok(&mut a, "NOOP");
    assert_eq!(expunges(&untagged), vec![1, 1], "{untagged:?}");
    assert!(mirror.uids.is_empty());
    assert_eq!(status_item(&b.ok("STATUS Old (MESSAGES)"), "MESSAGES"), 2);
    assert_eq!(status_item(&b.ok("STATUS INBOX (MESSAGES)"), "MESSAGES"), 0);
    // New mail goes to the INBOX A still has selected.
    b.append_ok("INBOX", &message("new", "after the rename"));
    let untagged = a.ok("NOOP");
    assert_eq!(count_of(&untagged, "EXISTS"), Some(1), "{untagged:?}");
}

#[test]
fn create_rename_and_delete_are_seen_in_list_from_the_other_session() {
    let server = Server::start();
    let mut a = server.login("alice", "secret");
    let mut b = server.login("alice", "secret");
    a.ok("CREATE Projects/Q1");
    let names = list_names(&mut b);
    assert!(names.contains("Projects") && names.contains("Projects/Q1"), "{names:?}");

    a.ok("RENAME Projects Done");
    let names = list_names(&mut b);
    assert!(names.contains("Done") && names.contains("Done/Q1"), "{names:?}");
    assert!(!names.contains("Projects") && !names.contains("Projects/Q1"), "{names:?}");
    b.ok("SELECT Done/Q1");
    assert!(Status::parse(&b.no("SELECT Projects/Q1")).code().is("NONEXISTENT"));

    a.ok("DELETE Done/Q1");
    let names = list_names(&mut b);
    assert!(names.contains("Done") && !names.contains("Done/Q1"), "{names:?}");
    assert!(Status::parse(&b.no("STATUS Done/Q1 (MESSAGES)")).code().is("NONEXISTENT"));
}

#[test]
fn three_devices_making_interleaved_changes_converge() {
    let server = Server::start();
    let (mut phone, _) = select(&server, "INBOX");
    let (mut laptop, _) = select(&server, "INBOX");
    let (mut tablet, _) = select(&server, "INBOX");
    let (mut p, mut l, mut t) = (Mirror::default(), Mirror::default(), Mirror::default());
    // A fourth session only looks (EXAMINE): it must follow all the same.
    let mut watch = server.login("alice", "secret");
    let mut w = Mirror::default();
    w.ok(&mut watch, "EXAMINE INBOX");

    l.ok(&mut laptop, "CREATE Saved");
    for index in 1..=4 {
        let (untagged, tagged) = laptop.append("INBOX", "", &message(&format!("m{index}"), "x"));
        assert!(tagged.starts_with("OK"), "{tagged}");
        l.apply(&untagged);
    }
    l.ok(&mut laptop, "UID FETCH 1:* (UID)");
    p.ok(&mut phone, "NOOP");
    p.ok(&mut phone, "STORE 1 +FLAGS (\\Seen)");
    t.ok(&mut tablet, "NOOP");
    t.ok(&mut tablet, "STORE 2 +FLAGS (\\Flagged)");
    l.ok(&mut laptop, "STORE 3 +FLAGS.SILENT (\\Deleted)");
    l.ok(&mut laptop, "EXPUNGE");
    // The phone has not heard of the expunge: 4 is still UID 4 to it.
    p.ok(&mut phone, "STORE 4 +FLAGS (\\Answered)");
    t.ok(&mut tablet, "UID STORE 1 +FLAGS ($Label1)");
    w.ok(&mut watch, "NOOP");
    w.ok(&mut watch, "FETCH 1:* (UID FLAGS)");
    p.ok(&mut phone, "MOVE 2 Saved");
    let (untagged, tagged) = tablet.append("INBOX", "(\\Draft)", &message("m5", "from the tablet"));
    assert!(tagged.starts_with("OK"), "{tagged}");
    t.apply(&untagged);
    l.ok(&mut laptop, "NOOP");
    l.ok(&mut laptop, "STORE 1 -FLAGS (\\Seen)");
    p.ok(&mut phone, "UID STORE 4 +FLAGS.SILENT (\\Seen)");
    t.ok(&mut tablet, "FETCH 1:* (FLAGS)");
    l.ok(&mut laptop, "SEARCH ALL");

    let views: Vec<_> = [(&mut phone, &mut p), (&mut laptop, &mut l), (&mut tablet, &mut t), (&mut watch, &mut w)]
        .into_iter()
        .map(|(client, mirror)| {
            mirror.ok(client, "NOOP");
            uid_flags(client, mirror)
        })
        .collect();
    let expected: BTreeMap<u32, BTreeSet<String>> =
        [(1, set(&["$Label1"])), (4, set(&["\\Answered", "\\Seen"])), (5, set(&["\\Draft"]))].into_iter().collect();
    for view in &views {
        assert_eq!(view, &expected, "phone, laptop, tablet and the watcher: {views:#?}");
    }
    let mut fresh = Mirror::default();
    let (mut late, untagged) = select(&server, "INBOX");
    fresh.apply(&untagged);
    assert_eq!(uid_flags(&mut late, &mut fresh), expected, "a fourth device");
    for client in [&mut phone, &mut laptop, &mut tablet, &mut late] {
        assert_eq!(status_item(&client.ok("STATUS Saved (MESSAGES)"), "MESSAGES"), 1);
    }
}

//! Issue 11 over real sockets: LIST with many long patterns over many
//! mailboxes answers correctly while other sessions are served, LIST and
//! LIST-STATUS output larger than the write buffer arrives whole, and
//! \Recent stays right when a session sees deliveries one by one (its
//! ranges are merged as they come).
//!
//! Functional checks only: how long anything takes is measured by hand
//! (see `src/imap/command/list.rs`), never asserted here.

mod common;

use std::collections::BTreeSet;

use common::*;

const MAILBOXES: usize = 300;

/// The name of mailbox `index`: about 100 bytes, ten under each `AreaN`.
fn long_name(index: usize) -> String {
    format!("Area{}/Item{index:03}-{}", index % 10, "q".repeat(90))
}

/// alice with `MAILBOXES` long-named mailboxes (the CREATEs pipelined, so
/// that the store commits them in a few groups).
fn server_with_mailboxes(extra_limits: &str) -> (Server, Client) {
    let server = Server::start_with(Options { extra_limits: extra_limits.into(), ..Options::default() });
    let mut alice = server.login("alice", "secret");
    let mut tags = Vec::new();
    let mut batch = Vec::new();
    for index in 0..MAILBOXES {
        let tag = alice.next_tag();
        batch.extend_from_slice(format!("{tag} CREATE \"{}\"\r\n", long_name(index)).as_bytes());
        tags.push(tag);
    }
    alice.send_raw(&batch);
    for tag in tags {
        let (_, tagged) = alice.until_tagged(&tag);
        assert!(tagged.starts_with("OK"), "CREATE: {tagged}");
    }
    (server, alice)
}

/// The mailbox name of a LIST response.
fn listed_name(line: &str) -> String {
    let Reply::Untagged(listed) = parse_one(line) else { panic!("not untagged: {line}") };
    assert!(listed.is("LIST"), "{line}");
    listed.list().name
}

/// Patterns of about 900 characters that match none of the mailboxes:
/// some with more literals than any name has characters, some whose
/// wildcards keep the matcher's states live over the whole name.
fn hostile_patterns(count: usize) -> Vec<String> {
    (0..count)
        .map(|index| match index % 3 {
            0 => format!("*Item{}", "%z".repeat(448)),
            1 => format!("{}*z{}", "*q".repeat(40), "*%".repeat(400)),
            _ => format!("Area{}/{}", index % 10, "%q*".repeat(298)),
        })
        .collect()
}

#[test]
fn many_long_patterns_list_the_right_names_while_others_are_served() {
    let (server, mut alice) = server_with_mailboxes("");
    let mut bob = server.login("bob", "hunter2");
    let mut patterns = hostile_patterns(40);
    patterns.extend(["Area3/%".to_string(), "inbox".to_string(), format!("*Item007-{}", "q".repeat(90))]);
    let quoted: Vec<String> = patterns.iter().map(|pattern| format!("\"{pattern}\"")).collect();
    let tag = alice.next_tag();
    alice.send(&format!("{tag} LIST \"\" ({})", quoted.join(" ")));
    // Another user's command, sent while the LIST runs, is answered.
    bob.ok("NOOP");
    bob.ok("LIST \"\" INBOX");
    let (untagged, tagged) = alice.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
    let names: Vec<String> = untagged.iter().map(|line| listed_name(line)).collect();
    let mut expected = vec!["INBOX".to_string()];
    let mut others: Vec<String> =
        (0..MAILBOXES).filter(|index| index % 10 == 3 || *index == 7).map(long_name).collect();
    others.sort();
    expected.extend(others);
    assert_eq!(names, expected);
    assert!(untagged.iter().all(|line| line.starts_with("* LIST (\\HasNoChildren) \"/\" ")), "{untagged:?}");

    // One long pattern in plain LIST and in LSUB too.
    for (index, pattern) in hostile_patterns(3).iter().enumerate() {
        assert!(alice.ok(&format!("LIST \"\" \"{pattern}\"")).is_empty(), "pattern {index}");
        assert!(alice.ok(&format!("LSUB \"\" \"{pattern}\"")).is_empty(), "pattern {index}");
    }
    // Over the limit: refused with a reason.
    assert!(alice.bad(&format!("LIST \"\" \"{}\"", "%".repeat(1025))).contains("too long"));
}

#[test]
fn output_larger_than_the_write_buffer_arrives_whole() {
    // The smallest write buffer a board may set: the listing is ~70 times it.
    let (_server, mut alice) = server_with_mailboxes("write_buffer = 512");
    let expected: BTreeSet<String> = (0..MAILBOXES).map(long_name).collect();

    let untagged = alice.ok("LIST \"\" \"Area%/*\"");
    let names: Vec<String> = untagged.iter().map(|line| listed_name(line)).collect();
    assert_eq!(names.len(), MAILBOXES, "{untagged:?}");
    assert_eq!(names.iter().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(names.windows(2).all(|pair| pair[0] < pair[1]), "sorted by name");

    // LIST-STATUS: each STATUS right after its LIST line, none lost.
    alice.append_ok(&format!("\"{}\"", long_name(5)), &message("hello", "there"));
    let untagged = alice.ok("LIST \"\" \"Area%/*\" RETURN (STATUS (MESSAGES UIDNEXT))");
    assert_eq!(untagged.len(), 2 * MAILBOXES);
    for pair in untagged.chunks(2) {
        let name = listed_name(&pair[0]);
        let messages = if name == long_name(5) { 1 } else { 0 };
        assert_eq!(pair[1], format!("* STATUS \"{name}\" (MESSAGES {messages} UIDNEXT {})", messages + 1));
    }

    // LSUB over subscriptions, and STATUS alone.
    for index in (0..MAILBOXES).step_by(3) {
        alice.ok(&format!("SUBSCRIBE \"{}\"", long_name(index)));
    }
    let untagged = alice.ok("LSUB \"\" \"Area%/*\"");
    assert_eq!(untagged.len(), MAILBOXES / 3);
    let status = alice.ok(&format!("STATUS \"{}\" (MESSAGES)", long_name(5)));
    assert_eq!(status, [format!("* STATUS \"{}\" (MESSAGES 1)", long_name(5))]);
}

/// The sequence numbers a `* FETCH (FLAGS ...)` set shows as \Recent.
fn recent_in_fetch(responses: &[Response]) -> Vec<u32> {
    let fetched = Responses::of(responses);
    let recent = fetched.fetches().into_iter().filter(|fetch| flags_in_fetch(&fetch.text).contains("\\Recent"));
    recent.map(|fetch| fetch.number.unwrap()).collect()
}

#[test]
fn recent_is_right_after_many_single_deliveries() {
    let server = Server::start();
    let mut writer = server.login("bob", "hunter2");
    let mut earlier = server.login("alice", "secret");
    let mut watcher = server.login("alice", "secret");
    let mut sender = server.login("alice", "secret");
    for index in 0..5 {
        sender.append_ok("INBOX", &message(&format!("old{index}"), "x"));
    }
    // `earlier` takes the first five as \Recent; `watcher` then sees none.
    earlier.ok("SELECT INBOX");
    let selected = watcher.ok("SELECT INBOX");
    assert!(selected.contains(&"* 0 RECENT".to_string()), "{selected:?}");
    // Sixty deliveries, each seen by `watcher` on its own: sixty claims.
    for index in 0..60 {
        sender.append_ok("INBOX", &message(&format!("new{index}"), "y"));
        let untagged = watcher.ok("NOOP");
        assert!(untagged.contains(&format!("* {} RECENT", index + 1)), "{untagged:?}");
    }
    let expected: Vec<u32> = (6..=65).collect();
    let (untagged, tagged) = watcher.command("SEARCH RECENT");
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert_eq!(search_result(&untagged), expected);
    assert_eq!(recent_in_fetch(&watcher.ok("FETCH 1:* FLAGS")), expected);
    let (untagged, _) = watcher.command("SEARCH NEW");
    assert_eq!(search_result(&untagged), expected);
    // `earlier` has the first five only; STATUS counts the watcher's too.
    assert_eq!(recent_in_fetch(&earlier.ok("FETCH 1:* FLAGS")), vec![1, 2, 3, 4, 5]);
    let status = watcher.ok("STATUS INBOX (RECENT)");
    assert_eq!(status, ["* STATUS \"INBOX\" (RECENT 60)"]);
    // Expunging in the middle keeps the rest \Recent.
    watcher.ok("STORE 10:20 +FLAGS.SILENT (\\Deleted)");
    watcher.ok("EXPUNGE");
    let expected: Vec<u32> = (6..=54).collect();
    assert_eq!(recent_in_fetch(&watcher.ok("FETCH 1:* FLAGS")), expected);
    // A delivery nobody has seen yet is \Recent for STATUS and LIST-STATUS
    // (counted from the shared state of the watched mailbox).
    sender.append_ok("INBOX", &message("unseen", "z"));
    assert_eq!(sender.ok("STATUS INBOX (RECENT MESSAGES)"), ["* STATUS \"INBOX\" (RECENT 1 MESSAGES 55)"]);
    let listed = sender.ok("LIST \"\" INBOX RETURN (STATUS (RECENT))");
    assert_eq!(listed[1], "* STATUS \"INBOX\" (RECENT 1)");
    assert!(watcher.ok("NOOP").contains(&"* 50 RECENT".to_string()));
    assert_eq!(sender.ok("STATUS INBOX (RECENT)"), ["* STATUS \"INBOX\" (RECENT 0)"]);
    writer.ok("NOOP");
}

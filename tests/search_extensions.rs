//! SEARCH extensions over a real connection: ESEARCH result options
//! (RFC 4731) and the saved search result `$` (RFC 5182).

mod common;

use common::*;

/// Alice with `count` messages "m1".."mN" in INBOX, selected; every third
/// one (m3, m6, ...) flagged. Returns the client and the UIDs.
fn mailbox(server: &Server, count: usize) -> (Client, Vec<u32>) {
    let mut client = server.login("alice", "secret");
    let uids: Vec<u32> = (1..=count)
        .map(|number| client.append_ok("INBOX", &message(&format!("m{number}"), &format!("body {number}"))))
        .collect();
    client.ok("SELECT INBOX");
    client.ok("STORE 3:* +FLAGS.SILENT (\\Flagged)");
    client.ok("STORE 1:2,4:5,7:8 -FLAGS.SILENT (\\Flagged)");
    (client, uids)
}

/// The single `* ESEARCH` line of a command's answer.
fn esearch(client: &mut Client, command: &str) -> String {
    let untagged = client.ok(command);
    let lines = find(&untagged, "* ESEARCH");
    assert_eq!(lines.len(), 1, "{command}: {untagged:?}");
    assert!(find(&untagged, "* SEARCH").is_empty(), "{command}: no SEARCH response with RETURN: {untagged:?}");
    lines[0].clone()
}

#[test]
fn esearch_result_options() {
    let server = Server::start();
    let (mut client, uids) = mailbox(&server, 9);
    let capabilities = client.ok("CAPABILITY").join(" ");
    assert!(capabilities.contains(" ESEARCH") && capabilities.contains(" SEARCHRES"), "{capabilities}");

    let tag_of = |line: &str| line.split('"').nth(1).map(str::to_string);
    let line = esearch(&mut client, "SEARCH RETURN (MIN MAX COUNT) FLAGGED");
    assert!(line.ends_with(") MIN 3 MAX 9 COUNT 3"), "{line}");
    assert!(tag_of(&line).is_some_and(|tag| tag.starts_with('t')), "ESEARCH names the command's tag: {line}");
    // RETURN () is ALL; ranges come compressed.
    let line = esearch(&mut client, "SEARCH RETURN () NOT 4:5");
    assert!(line.ends_with(") ALL 1:3,6:9"), "{line}");
    // UID SEARCH answers with UIDs and says UID.
    let line = esearch(&mut client, "UID SEARCH RETURN (ALL COUNT) FLAGGED");
    let expected = format!(") UID COUNT 3 ALL {},{},{}", uids[2], uids[5], uids[8]);
    assert!(line.ends_with(&expected), "{line} vs {expected}");
    // Nothing matched: only COUNT 0 (RFC 4731 §3.1 leaves MIN, MAX, ALL out).
    let line = esearch(&mut client, "SEARCH RETURN (MIN MAX ALL COUNT) SUBJECT nowhere");
    assert!(line.ends_with(") COUNT 0"), "{line}");
    let line = esearch(&mut client, "SEARCH RETURN (MIN) SUBJECT nowhere");
    assert!(line.ends_with(')'), "no data at all: {line}");
    // Plain SEARCH is unchanged.
    assert_eq!(search_result(&client.ok("SEARCH FLAGGED")), [3, 6, 9]);
    client.bad("SEARCH RETURN (FIRST) ALL");
    client.bad("SEARCH RETURN MIN ALL");
}

#[test]
fn saved_search_result() {
    let server = Server::start();
    let (mut client, uids) = mailbox(&server, 9);
    // Nothing saved yet: $ is empty.
    assert!(client.ok("FETCH $ FLAGS").is_empty());
    // SAVE alone: no ESEARCH answer (RFC 5182 §2.4).
    let untagged = client.ok("SEARCH RETURN (SAVE) FLAGGED");
    assert!(find(&untagged, "SEARCH").is_empty(), "{untagged:?}");
    let fetched = client.ok("FETCH $ (UID)");
    assert_eq!(fetched.len(), 3, "{fetched:?}");
    assert!(fetched[0].starts_with("* 3 FETCH") && fetched[2].starts_with("* 9 FETCH"), "{fetched:?}");
    // $ inside SEARCH, and with other set elements.
    assert_eq!(search_result(&client.ok("SEARCH $ SUBJECT m6")), [6]);
    assert_eq!(search_result(&client.ok("SEARCH 1,$")), [1, 3, 6, 9]);
    assert_eq!(search_result(&client.ok("UID SEARCH UID $")), [uids[2], uids[5], uids[8]]);
    // STORE and COPY take it too.
    client.ok("STORE $ +FLAGS.SILENT (\\Seen)");
    assert_eq!(search_result(&client.ok("SEARCH SEEN")), [3, 6, 9]);
    client.ok("CREATE Saved");
    client.ok("UID COPY $ Saved");
    let status = client.ok("STATUS Saved (MESSAGES)");
    assert!(status[0].contains("MESSAGES 3"), "{status:?}");

    // SAVE with MIN and MAX keeps just those two (RFC 5182 §2.4).
    client.ok("SEARCH RETURN (SAVE MIN MAX) ALL");
    assert_eq!(search_result(&client.ok("SEARCH $")), [1, 9]);
    // With COUNT as well, every match is kept, and ESEARCH is sent.
    let line = esearch(&mut client, "SEARCH RETURN (SAVE MIN COUNT) 2:4");
    assert!(line.ends_with(") MIN 2 COUNT 3"), "{line}");
    assert_eq!(search_result(&client.ok("SEARCH $")), [2, 3, 4]);

    // An expunged message leaves $; the others renumber.
    client.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    client.ok("EXPUNGE");
    assert_eq!(search_result(&client.ok("SEARCH $")), [2, 3]);
    // A failed SAVE empties $ (RFC 5182 §2.1).
    client.no("SEARCH RETURN (SAVE) CHARSET KOI8-NOPE SUBJECT x");
    assert!(search_result(&client.ok("SEARCH $")).is_empty());
    // A new SELECT starts with $ empty.
    client.ok("SEARCH RETURN (SAVE) ALL");
    client.ok("SELECT INBOX");
    assert!(search_result(&client.ok("SEARCH $")).is_empty());
}

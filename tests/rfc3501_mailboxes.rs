//! RFC 3501 mailbox-level commands (§6.3: SELECT, EXAMINE, CREATE, DELETE,
//! RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, STATUS; §6.4.1-2: CHECK,
//! CLOSE), with UNSELECT (RFC 3691), NAMESPACE (RFC 2342), ENABLE
//! (RFC 5161), CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154), STATUS=SIZE
//! (RFC 8438) and the response codes of RFC 5530.

mod common;

use std::collections::BTreeMap;

use common::*;

const SYSTEM_FLAGS: &str = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
const DEFAULT_MAILBOXES: [&str; 6] = ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"];

/// Runs a LIST or LSUB command; returns (name, attributes) in server order,
/// checking every line is of that command and uses `/`.
fn listing(client: &mut Client, command: &str) -> Vec<(String, Vec<String>)> {
    let untagged = client.ok(command);
    let kind = if command.starts_with("LSUB") { "LSUB" } else { "LIST" };
    Responses::of(&untagged)
        .all_untagged()
        .map(|response| {
            assert!(response.is(kind), "{command}: unexpected {response:?}");
            let listed = response.list();
            assert!(listed.delimiter == "/" && listed.extended.is_empty(), "{response:?}");
            (listed.name, listed.attributes)
        })
        .collect()
}

/// The names a LIST or LSUB command returns, in server order.
fn names(client: &mut Client, command: &str) -> Vec<String> {
    listing(client, command).into_iter().map(|(name, _)| name).collect()
}

/// The attributes a LIST or LSUB command gives `name`, if it lists it.
fn attributes_of(client: &mut Client, command: &str, name: &str) -> Option<Vec<String>> {
    listing(client, command).into_iter().find(|(listed, _)| listed == name).map(|(_, attributes)| attributes)
}

/// STATUS items as a map, after checking the one response names `mailbox`
/// and holds just the items asked for.
fn status_of(client: &mut Client, mailbox: &str, items: &str) -> BTreeMap<String, u64> {
    let untagged = client.ok(&format!("STATUS {mailbox} ({items})"));
    assert_eq!(untagged.len(), 1, "{untagged:?}");
    let map = Responses::of(&untagged).status_items(mailbox);
    let asked: Vec<String> = items.split_whitespace().map(str::to_ascii_uppercase).collect();
    assert!(map.len() == asked.len() && asked.iter().all(|item| map.contains_key(item)), "{untagged:?}");
    map
}

fn status_value(client: &mut Client, mailbox: &str, item: &str) -> u64 {
    status_of(client, mailbox, item)[item]
}

/// `* n WORD` among untagged responses (at most one).
fn counted(untagged: &[Response], word: &str) -> Option<u64> {
    let found = Responses::of(untagged).numbered(word);
    assert!(found.len() <= 1, "{word} came {} times in {untagged:#?}", found.len());
    found.first().map(|&number| number.into())
}

/// The one untagged OK with the response code `name`.
fn ok_code(untagged: &[Response], name: &str) -> Code {
    let status = Responses::of(untagged).status_with(name).unwrap_or_else(|| panic!("no {name} in {untagged:#?}"));
    assert!(status.is("OK"), "{status:?}");
    status.code.unwrap()
}

/// The subjects of `FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]`, in sequence order.
fn subjects(client: &mut Client) -> Vec<String> {
    let responses = client.run_ok("FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]");
    let fetches = responses.fetches();
    let numbers: Vec<u32> = fetches.iter().map(|fetch| fetch.number.unwrap()).collect();
    assert_eq!(numbers, (1..=fetches.len() as u32).collect::<Vec<_>>(), "{responses:#?}");
    fetches.iter().map(|fetch| fetch.fetch_item("BODY[HEADER.FIELDS (SUBJECT)]").expect("the header")).collect()
}

/// SELECT or EXAMINE that must succeed: (untagged, tagged).
fn open(client: &mut Client, command: &str) -> (Vec<Response>, Response) {
    let (untagged, tagged) = client.command(command);
    assert!(tagged.starts_with("OK"), "{command}: {tagged} after {untagged:#?}");
    (untagged, tagged)
}

fn append_with_flags(client: &mut Client, mailbox: &str, flags: &str, message: &[u8]) -> u32 {
    let (untagged, tagged) = client.append(mailbox, flags, message);
    assert!(tagged.starts_with("OK"), "APPEND gave {tagged:?} after {untagged:?}");
    appenduid(&tagged).1
}

fn assert_no_code(tagged: &str, code: &str) {
    assert!(tagged.starts_with(&format!("NO [{code}]")), "expected NO [{code}], got {tagged:?}");
}

// ---------------------------------------------------------------- SELECT

#[test]
fn select_empty_mailbox_reports_every_required_response() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let (untagged, tagged) = open(&mut client, "SELECT INBOX");
    assert!(tagged.starts_with("OK [READ-WRITE] "), "{tagged}");
    assert!(untagged.contains(&format!("* FLAGS ({SYSTEM_FLAGS})")), "{untagged:#?}");
    assert_eq!(ok_code(&untagged, "PERMANENTFLAGS").data, format!("({SYSTEM_FLAGS} \\*)"), "{untagged:#?}");
    assert!(untagged.contains(&"* 0 EXISTS".to_string()), "{untagged:#?}");
    assert!(untagged.contains(&"* 0 RECENT".to_string()), "{untagged:#?}");
    assert_eq!(code_number(&untagged, "UIDNEXT"), Some(1), "{untagged:#?}");
    let validity = code_number(&untagged, "UIDVALIDITY").expect("UIDVALIDITY");
    assert!(validity > 0);
    // No unseen message: no UNSEEN code (it names a message).
    assert_eq!(code_number(&untagged, "UNSEEN"), None, "{untagged:#?}");
    assert_eq!(status_value(&mut client, "INBOX", "UIDVALIDITY"), validity);
}

#[test]
fn select_reports_exists_recent_unseen_uidnext() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let first = append_with_flags(&mut client, "INBOX", "(\\Seen)", &message("one", "1"));
    let (validity, _) = {
        let (_, tagged) = client.append("INBOX", "", &message("two", "2"));
        appenduid(&tagged)
    };
    append_with_flags(&mut client, "INBOX", "(\\Seen)", &message("three", "3"));
    assert_eq!(first, 1);

    let (untagged, tagged) = open(&mut client, "SELECT INBOX");
    assert!(tagged.starts_with("OK [READ-WRITE]"), "{tagged}");
    assert_eq!(counted(&untagged, "EXISTS"), Some(3), "{untagged:#?}");
    assert_eq!(counted(&untagged, "RECENT"), Some(3), "{untagged:#?}");
    assert_eq!(code_number(&untagged, "UNSEEN"), Some(2), "first unseen is message 2: {untagged:#?}");
    assert_eq!(code_number(&untagged, "UIDNEXT"), Some(4), "{untagged:#?}");
    assert_eq!(code_number(&untagged, "UIDVALIDITY"), Some(validity.into()), "{untagged:#?}");

    // \Recent went to the first session: a second SELECT sees none.
    let mut other = server.login("alice", "secret");
    let (untagged, _) = open(&mut other, "SELECT INBOX");
    assert_eq!(counted(&untagged, "EXISTS"), Some(3), "{untagged:#?}");
    assert_eq!(counted(&untagged, "RECENT"), Some(0), "{untagged:#?}");
}

#[test]
fn select_flags_list_keywords_in_use() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    append_with_flags(&mut client, "INBOX", "(Work $Important)", &message("k", "keywords"));
    let (untagged, _) = open(&mut client, "SELECT INBOX");
    let defined = flag_set(&Responses::of(&untagged).one("FLAGS").data);
    let keywords = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "Work", "$Important"];
    assert_eq!(defined, flags(&keywords), "{untagged:#?}");
    let permanent = flag_set(&ok_code(&untagged, "PERMANENTFLAGS").data);
    assert_eq!(permanent, flags(&[&keywords[..], &["\\*"]].concat()), "{untagged:#?}");
}

#[test]
fn examine_is_read_only() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    append_with_flags(&mut client, "INBOX", "", &message("a", "1"));
    append_with_flags(&mut client, "INBOX", "", &message("b", "2"));

    let (untagged, tagged) = open(&mut client, "EXAMINE INBOX");
    assert!(tagged.starts_with("OK [READ-ONLY] "), "{tagged}");
    assert!(untagged.contains(&format!("* FLAGS ({SYSTEM_FLAGS})")), "{untagged:#?}");
    assert_eq!(ok_code(&untagged, "PERMANENTFLAGS").data, "()", "{untagged:#?}");
    assert_eq!(counted(&untagged, "EXISTS"), Some(2), "{untagged:#?}");
    assert_eq!(counted(&untagged, "RECENT"), Some(2), "{untagged:#?}");
    assert_eq!(code_number(&untagged, "UIDNEXT"), Some(3), "{untagged:#?}");
    assert_eq!(code_number(&untagged, "UNSEEN"), Some(1), "{untagged:#?}");
    assert!(code_number(&untagged, "UIDVALIDITY").is_some(), "{untagged:#?}");

    assert_no_code(&client.no("STORE 1 +FLAGS (\\Deleted)"), "READ-ONLY");
    assert_no_code(&client.no("UID STORE 1 +FLAGS (\\Seen)"), "READ-ONLY");
    assert_no_code(&client.no("EXPUNGE"), "READ-ONLY");
    assert_no_code(&client.no("UID EXPUNGE 1:*"), "READ-ONLY");
    // Reading the body in an EXAMINEd mailbox does not set \Seen.
    client.ok("FETCH 1 BODY[TEXT]");
    assert!(!flags_of(&mut client, 1).contains("\\Seen"));
    assert_eq!(status_value(&mut client, "INBOX", "UNSEEN"), 2);

    // RFC 3501 §6.3.2: EXAMINE does not take \Recent away.
    let mut other = server.login("alice", "secret");
    let (untagged, _) = open(&mut other, "SELECT INBOX");
    assert_eq!(counted(&untagged, "RECENT"), Some(2), "{untagged:#?}");
}

#[test]
fn select_after_examine_is_read_write_again() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    append_with_flags(&mut client, "INBOX", "", &message("a", "1"));
    open(&mut client, "EXAMINE INBOX");
    let (_, tagged) = open(&mut client, "SELECT INBOX");
    assert!(tagged.starts_with("OK [READ-WRITE]"), "{tagged}");
    client.ok("STORE 1 +FLAGS (\\Flagged)");
    let (_, tagged) = open(&mut client, "EXAMINE INBOX");
    assert!(tagged.starts_with("OK [READ-ONLY]"), "{tagged}");
    assert_no_code(&client.no("STORE 1 -FLAGS (\\Flagged)"), "READ-ONLY");
}

#[test]
fn failing_select_deselects_without_expunging() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    append_with_flags(&mut client, "INBOX", "", &message("a", "1"));
    open(&mut client, "SELECT INBOX");
    client.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");

    let tagged = client.no("SELECT Nowhere");
    assert_no_code(&tagged, "NONEXISTENT");
    // RFC 3501 §6.3.1: the failed SELECT left the session authenticated.
    assert!(client.bad("FETCH 1 FLAGS").contains("No mailbox selected"));
    client.bad("CLOSE");
    // ... and did not expunge the \Deleted message, as CLOSE would.
    let (untagged, _) = open(&mut client, "SELECT INBOX");
    assert_eq!(counted(&untagged, "EXISTS"), Some(1), "{untagged:#?}");

    // Same for a failing EXAMINE.
    assert_no_code(&client.no("EXAMINE Nowhere"), "NONEXISTENT");
    client.bad("FETCH 1 FLAGS");
    assert_eq!(status_value(&mut client, "INBOX", "MESSAGES"), 1);
}

#[test]
fn inbox_is_case_insensitive_other_names_are_not() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let validity = status_value(&mut client, "INBOX", "UIDVALIDITY");
    for command in ["SELECT inbox", "SELECT InBoX", "EXAMINE \"iNbOx\"", "SELECT {5+}\r\nInbox"] {
        let (untagged, _) = open(&mut client, command);
        assert_eq!(code_number(&untagged, "UIDVALIDITY"), Some(validity), "{command}: {untagged:#?}");
    }
    assert_eq!(status_value(&mut client, "inbox", "UIDVALIDITY"), validity);
    // Only INBOX folds case (RFC 3501 §5.1).
    assert_no_code(&client.no("SELECT archive"), "NONEXISTENT");
    assert_no_code(&client.no("SELECT ARCHIVE"), "NONEXISTENT");
    open(&mut client, "SELECT Archive");
    assert_no_code(&client.no("SELECT INBOXES"), "NONEXISTENT");
}

#[test]
fn select_bad_names_are_bad() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.bad("SELECT");
    client.bad("SELECT INBOX extra");
    // Valid syntax naming no mailbox: NO (RFC 3501 §7.1), not BAD.
    assert!(client.no("SELECT \"\"").starts_with("NO [NONEXISTENT]"));
    assert!(client.no("SELECT &Jjo").starts_with("NO [NONEXISTENT]"));
    client.ok("NOOP");
}

// ---------------------------------------------------------------- CREATE

#[test]
fn create_and_already_exists() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Work");
    assert_eq!(names(&mut client, "LIST \"\" Work"), ["Work"]);
    let (untagged, _) = open(&mut client, "SELECT Work");
    assert_eq!(counted(&untagged, "EXISTS"), Some(0));
    assert_eq!(code_number(&untagged, "UIDNEXT"), Some(1));

    assert_no_code(&client.no("CREATE Work"), "ALREADYEXISTS");
    assert_no_code(&client.no("CREATE INBOX"), "ALREADYEXISTS");
    assert_no_code(&client.no("CREATE inbox"), "ALREADYEXISTS");
    assert_no_code(&client.no("CREATE Archive"), "ALREADYEXISTS");
    // Case matters for names other than INBOX.
    client.ok("CREATE work");
    assert_eq!(names(&mut client, "LIST \"\" *ork"), ["Work", "work"]);
    // Quoted and literal forms name the same mailbox.
    client.ok("CREATE \"With Space\"");
    assert_no_code(&client.no("CREATE {10+}\r\nWith Space"), "ALREADYEXISTS");
    assert_eq!(names(&mut client, "LIST \"\" \"With*\""), ["With Space"]);
}

#[test]
fn create_makes_missing_parents() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE a/b/c");
    let listed = listing(&mut client, "LIST \"\" a*");
    assert_eq!(listed.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["a", "a/b", "a/b/c"], "{listed:?}");
    assert!(listed[0].1.contains(&"\\HasChildren".to_string()), "{listed:?}");
    assert!(listed[1].1.contains(&"\\HasChildren".to_string()), "{listed:?}");
    assert_eq!(listed[2].1, ["\\HasNoChildren"], "{listed:?}");
    open(&mut client, "SELECT a/b/c");
    assert_no_code(&client.no("CREATE a/b"), "ALREADYEXISTS");
    assert_no_code(&client.no("CREATE a/b/c"), "ALREADYEXISTS");
    client.ok("CREATE a/b/d");
    assert_eq!(names(&mut client, "LIST \"\" a/b/%"), ["a/b/c", "a/b/d"]);
    // A child of INBOX, named in any case, lives under INBOX.
    client.ok("CREATE inbox/Projects");
    assert_eq!(names(&mut client, "LIST \"\" INBOX/*"), ["INBOX/Projects"]);
    assert_no_code(&client.no("CREATE INBOX/Projects"), "ALREADYEXISTS");
    assert_eq!(attributes_of(&mut client, "LIST \"\" INBOX", "INBOX").unwrap(), ["\\HasChildren"]);
}

#[test]
fn create_with_trailing_delimiter() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    // RFC 3501 §6.3.3: the trailing separator declares the intent to create
    // names under it; the mailbox is created without it.
    client.ok("CREATE Projects/");
    assert_eq!(names(&mut client, "LIST \"\" Proj*"), ["Projects"]);
    assert_no_code(&client.no("CREATE Projects"), "ALREADYEXISTS");
    assert_no_code(&client.no("CREATE Projects/"), "ALREADYEXISTS");
    client.ok("CREATE Projects/2024");
    assert_eq!(names(&mut client, "LIST \"\" Proj*"), ["Projects", "Projects/2024"]);
}

#[test]
fn create_non_ascii_names_in_modified_utf7() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Entw&APw-rfe");
    client.ok("CREATE \"&ZeVnLIqe-/&MMYwuTDI-\"");
    client.ok("CREATE \"Tom &- Jerry\"");
    let listed = names(&mut client, "LIST \"\" *");
    for expected in ["Entw&APw-rfe", "&ZeVnLIqe-", "&ZeVnLIqe-/&MMYwuTDI-", "Tom &- Jerry"] {
        assert!(listed.iter().any(|name| name == expected), "{expected} missing from {listed:?}");
    }
    let untagged = client.ok("LIST \"\" Entw*");
    assert_eq!(untagged, ["* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\""]);
    let (untagged, _) = open(&mut client, "SELECT Entw&APw-rfe");
    assert_eq!(counted(&untagged, "EXISTS"), Some(0));
    append_with_flags(&mut client, "Entw&APw-rfe", "", &message("u", "umlaut"));
    let untagged = client.ok("STATUS Entw&APw-rfe (MESSAGES)");
    assert_eq!(untagged, ["* STATUS \"Entw&APw-rfe\" (MESSAGES 1)"]);
    assert_no_code(&client.no("CREATE Entw&APw-rfe"), "ALREADYEXISTS");
    // "&-" is a literal "&".
    assert_eq!(names(&mut client, "LIST \"\" \"Tom*\""), ["Tom &- Jerry"]);
}

#[test]
fn create_rejects_malformed_names() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    for name in [
        "&Jjo",           // unterminated shift
        "&Jjo-&Jjo-",     // adjacent shifts
        "&AGE-",          // printable ASCII encoded
        "&2D0-",          // a lone surrogate
        "a//b",           // empty level
        "/a",             // empty first level
        "\"\"",           // empty name
        "\"a/\\\"b//c\"", // empty level inside a quoted string
    ] {
        // A valid astring that cannot be a mailbox name: NO, not BAD.
        assert!(client.no(&format!("CREATE {name}")).starts_with("NO [CANNOT]"), "{name}");
    }
    // 8-bit bytes are not modified UTF-7.
    client.send_raw(b"r1 CREATE \"Entw\xc3\xbcrfe\"\r\n");
    let (_, tagged) = client.until_tagged("r1");
    assert!(tagged.starts_with("NO [CANNOT]"), "{tagged}");
    client.send_raw(b"r2 CREATE {9+}\r\nEntw\xc3\xbcrfe\r\n");
    let (_, tagged) = client.until_tagged("r2");
    assert!(tagged.starts_with("NO [CANNOT]"), "{tagged}");
    // Nothing was created.
    assert_eq!(names(&mut client, "LIST \"\" *"), DEFAULT_MAILBOXES);
}

// ---------------------------------------------------------------- DELETE

#[test]
fn delete_inbox_and_missing_mailboxes_fail() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert!(client.no("DELETE INBOX").starts_with("NO"));
    assert!(client.no("DELETE inbox").starts_with("NO"));
    assert_no_code(&client.no("DELETE Nowhere"), "NONEXISTENT");
    assert_no_code(&client.no("DELETE archive"), "NONEXISTENT");
    client.no("DELETE a//b");
    assert_eq!(names(&mut client, "LIST \"\" *"), DEFAULT_MAILBOXES);
}

#[test]
fn delete_leaf_mailbox_removes_it_and_its_messages() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Old");
    append_with_flags(&mut client, "Old", "", &message("a", "1"));
    client.ok("DELETE Old");
    assert!(names(&mut client, "LIST \"\" *").iter().all(|name| name != "Old"));
    assert_no_code(&client.no("SELECT Old"), "NONEXISTENT");
    assert_no_code(&client.no("STATUS Old (MESSAGES)"), "NONEXISTENT");
    assert_no_code(&client.no("DELETE Old"), "NONEXISTENT");
    let (_, tagged) = client.append("Old", "", &message("b", "2"));
    assert_no_code(&tagged, "TRYCREATE");
    // A default mailbox can be deleted too; only INBOX cannot.
    client.ok("DELETE Junk");
    assert_eq!(names(&mut client, "LIST \"\" *"), ["INBOX", "Archive", "Drafts", "Sent", "Trash"]);
}

#[test]
fn delete_then_create_gets_new_uidvalidity() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Box");
    append_with_flags(&mut client, "Box", "", &message("a", "1"));
    let before = status_of(&mut client, "Box", "UIDVALIDITY UIDNEXT");
    client.ok("DELETE Box");
    client.ok("CREATE Box");
    let after = status_of(&mut client, "Box", "UIDVALIDITY UIDNEXT MESSAGES");
    assert_ne!(before["UIDVALIDITY"], after["UIDVALIDITY"], "RFC 3501 §2.3.1.1");
    assert_eq!(after["MESSAGES"], 0);
    assert_eq!(after["UIDNEXT"], 1);
}

#[test]
fn delete_with_children_keeps_a_noselect_name() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Parent/Child");
    append_with_flags(&mut client, "Parent", "", &message("p1", "1"));
    append_with_flags(&mut client, "Parent", "", &message("p2", "2"));
    append_with_flags(&mut client, "Parent/Child", "", &message("c", "3"));
    let before = status_of(&mut client, "Parent", "UIDVALIDITY UIDNEXT");

    // RFC 3501 §6.3.4: the messages go, the name stays as \Noselect.
    client.ok("DELETE Parent");
    let listed = listing(&mut client, "LIST \"\" Parent*");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[0].0, "Parent");
    assert!(listed[0].1.contains(&"\\Noselect".to_string()), "{listed:?}");
    assert!(listed[0].1.contains(&"\\HasChildren".to_string()), "{listed:?}");
    assert_eq!(listed[1].0, "Parent/Child");
    assert_eq!(status_value(&mut client, "Parent/Child", "MESSAGES"), 1, "children keep their messages");
    assert!(client.no("SELECT Parent").starts_with("NO"));
    assert!(client.no("EXAMINE Parent").starts_with("NO"));
    assert!(client.no("STATUS Parent (MESSAGES)").starts_with("NO"));
    let (_, tagged) = client.append("Parent", "", &message("x", "x"));
    assert!(tagged.starts_with("NO"), "{tagged}");

    // Deleting the \Noselect name while it has children fails.
    assert_no_code(&client.no("DELETE Parent"), "HASCHILDREN");

    // CREATE turns the name back into a real, empty mailbox whose UIDs do
    // not repeat the old ones (RFC 3501 §2.3.1.1).
    client.ok("CREATE Parent");
    let (untagged, _) = open(&mut client, "SELECT Parent");
    assert_eq!(counted(&untagged, "EXISTS"), Some(0), "{untagged:#?}");
    let validity = code_number(&untagged, "UIDVALIDITY").unwrap();
    let uid_next = code_number(&untagged, "UIDNEXT").unwrap();
    assert!(
        validity != before["UIDVALIDITY"] || uid_next >= before["UIDNEXT"],
        "UIDs would be reused: before {before:?}, now UIDVALIDITY {validity} UIDNEXT {uid_next}"
    );
    assert!(!attributes_of(&mut client, "LIST \"\" Parent", "Parent").unwrap().contains(&"\\Noselect".to_string()));
    client.ok("UNSELECT");

    // Delete it again, then its last child: the placeholder goes too.
    client.ok("DELETE Parent");
    client.ok("DELETE Parent/Child");
    assert_eq!(names(&mut client, "LIST \"\" Parent*"), Vec::<String>::new());
    assert_no_code(&client.no("DELETE Parent"), "NONEXISTENT");
}

#[test]
fn delete_the_selected_mailbox_deselects_it() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Doomed");
    append_with_flags(&mut client, "Doomed", "", &message("a", "1"));
    let mut watcher = server.login("alice", "secret");
    open(&mut watcher, "EXAMINE Doomed");

    open(&mut client, "SELECT Doomed");
    let untagged = client.ok("DELETE Doomed");
    assert!(untagged.iter().all(|line| !line.starts_with("* BYE")), "{untagged:?}");
    assert!(client.bad("FETCH 1 FLAGS").contains("No mailbox selected"));
    client.ok("NOOP");
    open(&mut client, "SELECT INBOX");

    // Another session that had it open cannot go on with it.
    watcher.send("w1 NOOP");
    let line = watcher.read_line();
    assert!(line.starts_with("* BYE"), "{line}");
}

#[test]
fn delete_keeps_the_subscription() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Kept");
    client.ok("SUBSCRIBE Kept");
    client.ok("DELETE Kept");
    // RFC 3501 §6.3.9: the server MUST NOT unilaterally remove a name from
    // the subscription list even if the mailbox no longer exists.
    assert_eq!(names(&mut client, "LSUB \"\" Kept"), ["Kept"]);
}

// ---------------------------------------------------------------- RENAME

#[test]
fn rename_keeps_messages_uids_and_uidvalidity() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Old");
    let first = append_with_flags(&mut client, "Old", "(\\Flagged)", &message("a", "1"));
    let second = append_with_flags(&mut client, "Old", "", &message("b", "2"));
    let before = status_of(&mut client, "Old", "MESSAGES UIDNEXT UIDVALIDITY");
    client.ok("RENAME Old New");
    assert_no_code(&client.no("STATUS Old (MESSAGES)"), "NONEXISTENT");
    let after = status_of(&mut client, "New", "MESSAGES UIDNEXT UIDVALIDITY");
    assert_eq!(before, after);
    open(&mut client, "SELECT New");
    let untagged = client.ok("UID FETCH 1:* (UID FLAGS)");
    assert_eq!(untagged.len(), 2, "{untagged:?}");
    assert_eq!(item(fetch_of(&untagged, 1), "UID"), first.to_string());
    assert!(flag_set(&item(fetch_of(&untagged, 1), "FLAGS")).contains("\\Flagged"), "{untagged:?}");
    assert_eq!(item(fetch_of(&untagged, 2), "UID"), second.to_string());
    let listed = names(&mut client, "LIST \"\" *");
    assert!(listed.contains(&"New".to_string()) && !listed.contains(&"Old".to_string()), "{listed:?}");
}

#[test]
fn rename_errors() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE A/B");
    client.ok("CREATE C");
    assert_no_code(&client.no("RENAME A C"), "ALREADYEXISTS");
    assert_no_code(&client.no("RENAME C A/B"), "ALREADYEXISTS");
    assert_no_code(&client.no("RENAME C INBOX"), "ALREADYEXISTS");
    assert_no_code(&client.no("RENAME C inbox"), "ALREADYEXISTS");
    assert_no_code(&client.no("RENAME C C"), "ALREADYEXISTS");
    assert_no_code(&client.no("RENAME Missing D"), "NONEXISTENT");
    assert_no_code(&client.no("RENAME A A/B/Deeper"), "CANNOT");
    assert_no_code(&client.no("RENAME A A/X"), "CANNOT");
    client.no("RENAME C a//b");
    client.no("RENAME &Jjo D");
    client.bad("RENAME C");
    assert_eq!(
        names(&mut client, "LIST \"\" *"),
        ["INBOX", "A", "A/B", "Archive", "C", "Drafts", "Junk", "Sent", "Trash"]
    );
    // A name that merely starts with the old one is not a child.
    client.ok("RENAME A AB");
    assert_eq!(names(&mut client, "LIST \"\" A*"), ["AB", "AB/B", "Archive"]);
}

#[test]
fn rename_moves_children_along() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE a/b/c");
    client.ok("CREATE a/d");
    append_with_flags(&mut client, "a/b/c", "", &message("deep", "deep"));
    let validity = status_value(&mut client, "a/b/c", "UIDVALIDITY");
    client.ok("RENAME a z");
    assert_eq!(names(&mut client, "LIST \"\" a*"), Vec::<String>::new());
    assert_eq!(names(&mut client, "LIST \"\" z*"), ["z", "z/b", "z/b/c", "z/d"]);
    let status = status_of(&mut client, "z/b/c", "MESSAGES UIDVALIDITY");
    assert_eq!(status["MESSAGES"], 1);
    assert_eq!(status["UIDVALIDITY"], validity);
    // Renaming a child leaves its parent.
    client.ok("RENAME z/b/c top");
    assert_eq!(names(&mut client, "LIST \"\" z*"), ["z", "z/b", "z/d"]);
    assert_eq!(attributes_of(&mut client, "LIST \"\" z/b", "z/b").unwrap(), ["\\HasNoChildren"]);
    assert_eq!(status_value(&mut client, "top", "MESSAGES"), 1);
}

#[test]
fn rename_creates_missing_parents_of_the_new_name() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE m");
    client.ok("RENAME m x/y/m");
    let listed = listing(&mut client, "LIST \"\" x*");
    assert_eq!(listed.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["x", "x/y", "x/y/m"]);
    assert!(listed[0].1.contains(&"\\HasChildren".to_string()), "{listed:?}");
    assert_eq!(listed[2].1, ["\\HasNoChildren"]);
    open(&mut client, "SELECT x/y/m");
    // Into an existing hierarchy, and with a non-ASCII name.
    client.ok("RENAME x/y/m Archive/&ZeVnLIqe-");
    assert_eq!(names(&mut client, "LIST \"\" Archive/*"), ["Archive/&ZeVnLIqe-"]);
    assert_eq!(attributes_of(&mut client, "LIST \"\" Archive", "Archive").unwrap(), ["\\HasChildren", "\\Archive"]);
}

#[test]
fn rename_inbox_moves_its_messages_and_leaves_it_empty() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    append_with_flags(&mut client, "INBOX", "(\\Seen)", &message("one", "1"));
    let last = append_with_flags(&mut client, "INBOX", "", &message("two", "2"));
    client.ok("CREATE INBOX/Keep");
    append_with_flags(&mut client, "INBOX/Keep", "", &message("kept", "3"));
    let inbox_validity = status_value(&mut client, "INBOX", "UIDVALIDITY");

    client.ok("RENAME INBOX Old-Mail");
    // RFC 3501 §6.3.5: INBOX's messages move to the new mailbox; INBOX
    // stays, empty; INBOX's children do not move.
    let old = status_of(&mut client, "Old-Mail", "MESSAGES UNSEEN");
    assert_eq!(old["MESSAGES"], 2);
    assert_eq!(old["UNSEEN"], 1, "flags move with the messages");
    assert_eq!(status_value(&mut client, "INBOX", "MESSAGES"), 0);
    let listed = names(&mut client, "LIST \"\" *");
    assert!(listed.contains(&"INBOX".to_string()), "{listed:?}");
    assert!(listed.contains(&"INBOX/Keep".to_string()), "{listed:?}");
    assert!(listed.contains(&"Old-Mail".to_string()), "{listed:?}");
    assert!(!listed.iter().any(|name| name.starts_with("Old-Mail/")), "{listed:?}");
    assert_eq!(status_value(&mut client, "INBOX/Keep", "MESSAGES"), 1);
    let (untagged, _) = open(&mut client, "SELECT Old-Mail");
    assert_eq!(counted(&untagged, "EXISTS"), Some(2));
    assert_eq!(subjects(&mut client), ["Subject: one\r\n\r\n", "Subject: two\r\n\r\n"]);

    // INBOX still works, and its UIDs are not reused under the old UIDVALIDITY.
    let (untagged, _) = open(&mut client, "SELECT INBOX");
    assert_eq!(counted(&untagged, "EXISTS"), Some(0));
    let (validity, uid) = {
        let (_, tagged) = client.append("INBOX", "", &message("three", "3"));
        assert!(tagged.starts_with("OK"), "{tagged}");
        appenduid(&tagged)
    };
    assert!(u64::from(validity) != inbox_validity || uid > last, "UID {uid} reused in INBOX");
    // INBOX stays subscribed; the renamed-to name is a new mailbox.
    assert!(names(&mut client, "LSUB \"\" *").contains(&"INBOX".to_string()));
}

#[test]
fn rename_inbox_to_an_existing_name_fails() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    append_with_flags(&mut client, "INBOX", "", &message("one", "1"));
    assert_no_code(&client.no("RENAME INBOX Archive"), "ALREADYEXISTS");
    assert_eq!(status_value(&mut client, "INBOX", "MESSAGES"), 1);
    assert_eq!(status_value(&mut client, "Archive", "MESSAGES"), 0);
}

#[test]
fn rename_carries_subscriptions() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE a/b");
    client.ok("CREATE a/c");
    client.ok("SUBSCRIBE a");
    client.ok("SUBSCRIBE a/b");
    client.ok("RENAME a z");
    let subscribed = names(&mut client, "LSUB \"\" *");
    assert!(subscribed.contains(&"z".to_string()) && subscribed.contains(&"z/b".to_string()), "{subscribed:?}");
    assert!(!subscribed.contains(&"z/c".to_string()), "z/c never was subscribed: {subscribed:?}");
    assert!(!subscribed.iter().any(|name| name == "a" || name.starts_with("a/")), "{subscribed:?}");
    // The default subscriptions are untouched.
    for name in DEFAULT_MAILBOXES {
        assert!(subscribed.contains(&name.to_string()), "{name}: {subscribed:?}");
    }
}

#[test]
fn rename_special_use_mailbox_keeps_working() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    append_with_flags(&mut client, "Sent", "(\\Seen)", &message("s", "sent"));
    client.ok("RENAME Sent \"Sent Items\"");
    assert_eq!(status_value(&mut client, "\"Sent Items\"", "MESSAGES"), 1);
    assert_no_code(&client.no("SELECT Sent"), "NONEXISTENT");
    client.ok("CREATE Sent");
    assert_eq!(status_value(&mut client, "Sent", "MESSAGES"), 0);
}

// ------------------------------------------------ SUBSCRIBE / UNSUBSCRIBE / LSUB

#[test]
fn new_users_are_subscribed_to_the_default_mailboxes() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let untagged = client.ok("LSUB \"\" *");
    assert_eq!(
        untagged,
        [
            "* LSUB () \"/\" \"INBOX\"",
            "* LSUB () \"/\" \"Archive\"",
            "* LSUB () \"/\" \"Drafts\"",
            "* LSUB () \"/\" \"Junk\"",
            "* LSUB () \"/\" \"Sent\"",
            "* LSUB () \"/\" \"Trash\"",
        ]
    );
    assert_eq!(names(&mut client, "LSUB \"\" %"), DEFAULT_MAILBOXES);
    assert_eq!(names(&mut client, "LSUB \"\" inbox"), ["INBOX"]);
    assert_eq!(names(&mut client, "LSUB \"\" T*"), ["Trash"]);
    assert_eq!(names(&mut client, "LSUB \"\" Nothing*"), Vec::<String>::new());
}

#[test]
fn subscribe_and_unsubscribe() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Work");
    assert_eq!(names(&mut client, "LSUB \"\" Work"), Vec::<String>::new());
    client.ok("SUBSCRIBE Work");
    assert_eq!(client.ok("LSUB \"\" Work"), ["* LSUB () \"/\" \"Work\""]);
    // Subscribing twice is harmless.
    client.ok("SUBSCRIBE Work");
    assert_eq!(names(&mut client, "LSUB \"\" Work"), ["Work"]);
    client.ok("UNSUBSCRIBE Work");
    assert_eq!(names(&mut client, "LSUB \"\" Work"), Vec::<String>::new());
    // Unsubscribing does not touch the mailbox.
    assert_eq!(names(&mut client, "LIST \"\" Work"), ["Work"]);
    // Default mailboxes can be unsubscribed too.
    client.ok("UNSUBSCRIBE Junk");
    assert_eq!(names(&mut client, "LSUB \"\" *"), ["INBOX", "Archive", "Drafts", "Sent", "Trash"]);
    // INBOX in any case.
    client.ok("UNSUBSCRIBE inbox");
    assert_eq!(names(&mut client, "LSUB \"\" *"), ["Archive", "Drafts", "Sent", "Trash"]);
    client.ok("SUBSCRIBE InBox");
    assert_eq!(names(&mut client, "LSUB \"\" *"), ["INBOX", "Archive", "Drafts", "Sent", "Trash"]);
    client.no("SUBSCRIBE a//b");
    client.no("UNSUBSCRIBE &Jjo");
}

#[test]
fn subscribing_a_nonexistent_name_is_allowed() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("SUBSCRIBE Ghost");
    client.ok("SUBSCRIBE \"Future/&ZeVnLIqe-\"");
    let subscribed = names(&mut client, "LSUB \"\" *");
    assert!(subscribed.contains(&"Ghost".to_string()), "{subscribed:?}");
    assert!(subscribed.contains(&"Future/&ZeVnLIqe-".to_string()), "{subscribed:?}");
    // Subscribing does not create the mailbox.
    assert_no_code(&client.no("SELECT Ghost"), "NONEXISTENT");
    assert!(!names(&mut client, "LIST \"\" *").contains(&"Ghost".to_string()));
    client.ok("UNSUBSCRIBE Ghost");
    assert!(!names(&mut client, "LSUB \"\" *").contains(&"Ghost".to_string()));
}

#[test]
fn lsub_percent_shows_unsubscribed_parent_as_noselect() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE foo/bar/baz");
    client.ok("SUBSCRIBE foo/bar/baz");
    // RFC 3501 §6.3.9: "%" must return foo, flagged \Noselect, not foo/bar/baz.
    let listed = listing(&mut client, "LSUB \"\" %");
    let foo = listed.iter().find(|(name, _)| name == "foo").expect("foo listed");
    assert!(foo.1.contains(&"\\Noselect".to_string()), "{listed:?}");
    assert!(!listed.iter().any(|(name, _)| name.starts_with("foo/")), "{listed:?}");
    let listed = listing(&mut client, "LSUB \"\" foo/%");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].0, "foo/bar");
    assert!(listed[0].1.contains(&"\\Noselect".to_string()), "{listed:?}");
    assert_eq!(client.ok("LSUB \"\" foo/bar/%"), ["* LSUB () \"/\" \"foo/bar/baz\""]);
    // Once foo itself is subscribed it is listed without \Noselect.
    client.ok("SUBSCRIBE foo");
    let listed = listing(&mut client, "LSUB \"\" f%");
    assert_eq!(listed, [("foo".to_string(), Vec::<String>::new())]);
}

#[test]

fn lsub_star_lists_only_subscribed_names() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE foo/bar");
    client.ok("SUBSCRIBE foo/bar");
    // RFC 3501 §6.3.9: LSUB returns names from the subscription list; the
    // \Noselect parent is a special case of the `%` wildcard only, since a
    // `%` cannot reach foo/bar itself. `*` reaches it, so foo is not listed.
    assert_eq!(names(&mut client, "LSUB \"\" foo*"), ["foo/bar"]);
}

// ---------------------------------------------------------------- LIST

#[test]
fn list_empty_pattern_returns_the_delimiter() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert_eq!(client.ok("LIST \"\" \"\""), ["* LIST (\\Noselect) \"/\" \"\""]);
}

#[test]
fn list_default_mailboxes_with_special_use_inbox_first() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let expected = [
        "* LIST (\\HasNoChildren) \"/\" \"INBOX\"",
        "* LIST (\\HasNoChildren \\Archive) \"/\" \"Archive\"",
        "* LIST (\\HasNoChildren \\Drafts) \"/\" \"Drafts\"",
        "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"",
        "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"",
        "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\"",
    ];
    assert_eq!(client.ok("LIST \"\" *"), expected);
    assert_eq!(client.ok("LIST \"\" %"), expected);
    assert_eq!(client.ok("LIST \"\" Sent"), ["* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\""]);
    // INBOX comes first even when names sort before it.
    client.ok("CREATE AAA");
    client.ok("CREATE \"0 first\"");
    let listed = names(&mut client, "LIST \"\" *");
    assert_eq!(listed[0], "INBOX", "{listed:?}");
    assert_eq!(listed.len(), 8);
}

#[test]
fn list_star_and_percent_wildcards() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE a/b/c");
    client.ok("CREATE a/x");
    let top = names(&mut client, "LIST \"\" %");
    assert_eq!(top, ["INBOX", "Archive", "Drafts", "Junk", "Sent", "a", "Trash"].map(String::from).to_vec().tap_sort());
    let all = names(&mut client, "LIST \"\" *");
    for name in ["a", "a/b", "a/b/c", "a/x"] {
        assert!(all.contains(&name.to_string()), "{name}: {all:?}");
    }
    assert_eq!(all.len(), 10, "{all:?}");
    assert_eq!(names(&mut client, "LIST \"\" a/%"), ["a/b", "a/x"]);
    assert_eq!(names(&mut client, "LIST \"\" a/*"), ["a/b", "a/b/c", "a/x"]);
    assert_eq!(names(&mut client, "LIST \"\" %/%"), ["a/b", "a/x"]);
    assert_eq!(names(&mut client, "LIST \"\" %/%/%"), ["a/b/c"]);
    assert_eq!(names(&mut client, "LIST \"\" *c"), ["a/b/c"]);
    assert_eq!(names(&mut client, "LIST \"\" %c"), Vec::<String>::new());
    // Only INBOX matches without regard to case.
    assert_eq!(names(&mut client, "LIST \"\" a%"), ["a"]);
    assert_eq!(names(&mut client, "LIST \"\" A%"), ["Archive"]);
    assert_eq!(names(&mut client, "LIST \"\" a"), ["a"]);
    assert_eq!(names(&mut client, "LIST \"\" Nothing"), Vec::<String>::new());
    // Quoted and literal patterns.
    assert_eq!(names(&mut client, "LIST \"\" \"a/%\""), ["a/b", "a/x"]);
    assert_eq!(names(&mut client, "LIST \"\" {3+}\r\na/%"), ["a/b", "a/x"]);
}

/// `sort` that returns the vector, to write expectations in one expression.
trait TapSort {
    fn tap_sort(self) -> Self;
}

impl TapSort for Vec<String> {
    fn tap_sort(mut self) -> Self {
        // INBOX first, then byte order, as the server sorts.
        self.sort_by(|left, right| (left != "INBOX", left).cmp(&(right != "INBOX", right)));
        self
    }
}

#[test]
fn list_with_a_reference() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE a/b/c");
    client.ok("CREATE a/d");
    // RFC 3501 §6.3.8: the reference is prepended to the pattern.
    assert_eq!(names(&mut client, "LIST a/ %"), ["a/b", "a/d"]);
    assert_eq!(names(&mut client, "LIST a/ *"), ["a/b", "a/b/c", "a/d"]);
    assert_eq!(names(&mut client, "LIST \"a/b/\" *"), ["a/b/c"]);
    assert_eq!(names(&mut client, "LIST a/ b"), ["a/b"]);
    assert_eq!(names(&mut client, "LIST a/ nothing"), Vec::<String>::new());
}

#[test]
fn list_children_attributes() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Trash/Old");
    client.ok("CREATE Work");
    let listed = listing(&mut client, "LIST \"\" *");
    let attributes = |name: &str| listed.iter().find(|(listed, _)| listed == name).unwrap().1.clone();
    assert_eq!(attributes("Trash"), ["\\HasChildren", "\\Trash"]);
    assert_eq!(attributes("Trash/Old"), ["\\HasNoChildren"]);
    assert_eq!(attributes("Work"), ["\\HasNoChildren"]);
    client.ok("DELETE Trash/Old");
    assert_eq!(client.ok("LIST \"\" Trash"), ["* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\""]);
}

#[test]
fn list_matches_inbox_in_any_case() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    for pattern in ["inbox", "InBox", "\"INBOX\"", "inb*", "i%"] {
        assert_eq!(
            client.ok(&format!("LIST \"\" {pattern}")),
            ["* LIST (\\HasNoChildren) \"/\" \"INBOX\""],
            "pattern {pattern}"
        );
    }
    client.ok("CREATE INBOX/Work");
    assert_eq!(names(&mut client, "LIST \"\" inbox/%"), ["INBOX/Work"]);
    assert_eq!(names(&mut client, "LIST inbox/ %"), ["INBOX/Work"]);
    assert_eq!(client.ok("LIST \"\" inbox"), ["* LIST (\\HasChildren) \"/\" \"INBOX\""]);
    // Other names keep their case.
    assert_eq!(names(&mut client, "LIST \"\" archive"), Vec::<String>::new());
    assert_eq!(names(&mut client, "LIST \"\" inbox/work"), Vec::<String>::new());
}

#[test]
fn list_returns_non_ascii_names_in_modified_utf7() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE \"&ZeVnLIqe-/Entw&APw-rfe\"");
    assert_eq!(client.ok("LIST \"\" &ZeVnLIqe-/*"), ["* LIST (\\HasNoChildren) \"/\" \"&ZeVnLIqe-/Entw&APw-rfe\""]);
    assert_eq!(client.ok("LIST \"\" &ZeVnLIqe-"), ["* LIST (\\HasChildren) \"/\" \"&ZeVnLIqe-\""]);
    // The pattern is modified UTF-7 too; a broken one is a valid command
    // that no mailbox matches: OK with nothing (RFC 3501 §7.1 keeps BAD
    // for syntax errors), as Dovecot answers.
    assert_eq!(names(&mut client, "LIST \"\" *&APw-rfe"), ["&ZeVnLIqe-/Entw&APw-rfe"]);
    assert_eq!(client.ok("LIST \"\" &Jjo"), Vec::<String>::new());
    assert_eq!(client.ok("LIST &Jjo %"), Vec::<String>::new());
    assert_eq!(client.ok("LSUB \"\" &Jjo"), Vec::<String>::new());
    // With several patterns, the good ones still match.
    assert_eq!(client.ok("LIST \"\" (&Jjo INBOX)"), ["* LIST (\\HasNoChildren) \"/\" \"INBOX\""]);
}

/// A name that is not valid modified UTF-7 names no mailbox: NO, not BAD
/// (the syntax is valid), with the code a client acts on.
#[test]
fn invalid_modified_utf7_names_are_no_not_bad() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    for command in ["SELECT &Jjo", "EXAMINE &Jjo", "STATUS &Jjo (MESSAGES)", "DELETE &Jjo", "UNSUBSCRIBE &Jjo"] {
        let (_, tagged) = client.command(command);
        assert!(tagged.starts_with("NO [NONEXISTENT]"), "{command}: {tagged}");
    }
    for command in ["CREATE &Jjo", "RENAME INBOX &Jjo", "SUBSCRIBE &Jjo"] {
        let (_, tagged) = client.command(command);
        assert!(tagged.starts_with("NO [CANNOT]"), "{command}: {tagged}");
    }
    let (_, tagged) = client.command("RENAME &Jjo Other");
    assert!(tagged.starts_with("NO [NONEXISTENT]"), "{tagged}");
    client.ok("SELECT INBOX");
    let (_, tagged) = client.command("COPY 1:* &Jjo");
    assert!(tagged.starts_with("NO"), "{tagged}");
    let (_, tagged) = client.command("APPEND &Jjo {1+}\r\nx");
    assert!(tagged.starts_with("NO [NONEXISTENT]"), "{tagged}");
}

#[test]
fn list_syntax_errors() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.bad("LIST");
    client.bad("LIST \"\"");
    client.bad("LSUB \"\"");
    client.ok("NOOP");
}

// ---------------------------------------------------------------- STATUS

#[test]
fn status_items_follow_appends_flags_and_expunges() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Box");
    let all = "MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE DELETED";
    let untagged = client.ok(&format!("STATUS Box ({all})"));
    let validity = status_value(&mut client, "Box", "UIDVALIDITY");
    assert_eq!(
        untagged,
        [format!("* STATUS \"Box\" (MESSAGES 0 RECENT 0 UIDNEXT 1 UIDVALIDITY {validity} UNSEEN 0 SIZE 0 DELETED 0)")]
    );

    let first = message("first", "one");
    let second = message("second", "two two");
    let third = message("third", "three three three");
    append_with_flags(&mut client, "Box", "(\\Seen)", &first);
    append_with_flags(&mut client, "Box", "", &second);
    append_with_flags(&mut client, "Box", "(\\Deleted \\Seen)", &third);
    let size = (first.len() + second.len() + third.len()) as u64;
    let status = status_of(&mut client, "Box", all);
    let expected: BTreeMap<String, u64> = [
        ("MESSAGES", 3),
        ("RECENT", 3),
        ("UIDNEXT", 4),
        ("UIDVALIDITY", validity),
        ("UNSEEN", 1),
        ("SIZE", size),
        ("DELETED", 1),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    assert_eq!(status, expected);

    // Another session selects it: it takes \Recent and changes flags.
    let mut other = server.login("alice", "secret");
    open(&mut other, "SELECT Box");
    other.ok("STORE 2 +FLAGS.SILENT (\\Seen \\Deleted)");
    let status = status_of(&mut client, "Box", all);
    assert_eq!((status["RECENT"], status["UNSEEN"], status["DELETED"]), (0, 0, 2), "{status:?}");
    other.ok("STORE 2 -FLAGS.SILENT (\\Seen)");
    assert_eq!(status_value(&mut client, "Box", "UNSEEN"), 1);
    other.ok("EXPUNGE");
    let status = status_of(&mut client, "Box", all);
    assert_eq!(status["MESSAGES"], 1, "{status:?}");
    assert_eq!(status["DELETED"], 0, "{status:?}");
    assert_eq!(status["UNSEEN"], 0, "{status:?}");
    assert_eq!(status["SIZE"], first.len() as u64, "{status:?}");
    assert_eq!(status["UIDNEXT"], 4, "UIDNEXT never goes back: {status:?}");
    assert_eq!(status["UIDVALIDITY"], validity);
}

#[test]
fn status_errors() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert_no_code(&client.no("STATUS Nowhere (MESSAGES)"), "NONEXISTENT");
    assert_no_code(&client.no("STATUS archive (MESSAGES)"), "NONEXISTENT");
    client.bad("STATUS INBOX ()");
    client.bad("STATUS INBOX (BOGUS)");
    client.bad("STATUS INBOX");
    client.bad("STATUS INBOX MESSAGES");
    client.no("STATUS &Jjo (MESSAGES)");
    // Item names are case-insensitive.
    assert_eq!(status_value(&mut client, "INBOX", "MESSAGES"), 0);
    let untagged = client.ok("STATUS INBOX (messages uidNext)");
    let items = Responses::of(&untagged).status_items("INBOX");
    assert_eq!(items, BTreeMap::from([("MESSAGES".to_string(), 0), ("UIDNEXT".to_string(), 1)]), "{untagged:?}");
}

#[test]
fn status_of_the_selected_mailbox() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    append_with_flags(&mut client, "INBOX", "", &message("a", "1"));
    append_with_flags(&mut client, "INBOX", "(\\Seen)", &message("b", "2"));
    open(&mut client, "SELECT INBOX");
    let status = status_of(&mut client, "INBOX", "MESSAGES UIDNEXT UNSEEN DELETED");
    assert_eq!((status["MESSAGES"], status["UIDNEXT"], status["UNSEEN"], status["DELETED"]), (2, 3, 1, 0));
    client.ok("STORE 1 +FLAGS.SILENT (\\Seen \\Deleted)");
    let status = status_of(&mut client, "INBOX", "UNSEEN DELETED");
    assert_eq!((status["UNSEEN"], status["DELETED"]), (0, 1));
    // Still selected afterwards.
    client.ok("FETCH 1 FLAGS");
    // Another session's append shows up in STATUS, and the selected session
    // is told about it (EXISTS) no later than its next command.
    let mut other = server.login("alice", "secret");
    append_with_flags(&mut other, "INBOX", "", &message("c", "3"));
    let untagged = client.ok("STATUS INBOX (MESSAGES)");
    assert!(untagged.contains(&"* STATUS \"INBOX\" (MESSAGES 3)".to_string()), "{untagged:?}");
}

#[test]

fn status_recent_of_the_selected_mailbox_counts_this_sessions_recent() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    append_with_flags(&mut client, "INBOX", "", &message("a", "1"));
    append_with_flags(&mut client, "INBOX", "", &message("b", "2"));
    let (untagged, _) = open(&mut client, "SELECT INBOX");
    assert_eq!(counted(&untagged, "RECENT"), Some(2));
    assert!((1..=2).all(|sequence| flags_of(&mut client, sequence).contains("\\Recent")));
    // RFC 3501 §6.3.10: RECENT is "the number of messages with the \Recent
    // flag set"; in this session both have it.
    assert_eq!(status_value(&mut client, "INBOX", "RECENT"), 2);
}

// -------------------------------------- NAMESPACE, ENABLE, CHECK, CLOSE, UNSELECT

#[test]
fn namespace_is_personal_only() {
    let server = Server::start();
    let mut client = server.connect();
    client.bad("NAMESPACE");
    client.ok("LOGIN alice secret");
    assert_eq!(client.ok("NAMESPACE"), ["* NAMESPACE ((\"\" \"/\")) ((\"Shared/\" \"/\")) ((\"Family/\" \"/\"))"]);
    open(&mut client, "SELECT INBOX");
    assert_eq!(client.ok("NAMESPACE"), ["* NAMESPACE ((\"\" \"/\")) ((\"Shared/\" \"/\")) ((\"Family/\" \"/\"))"]);
    client.bad("NAMESPACE extra");
}

#[test]
fn enable_answers_enabled() {
    let server = Server::start();
    let mut client = server.connect();
    client.bad("ENABLE CONDSTORE");
    client.ok("LOGIN alice secret");
    // RFC 5161 §3: unknown or unsupported capabilities are ignored.
    assert_eq!(client.ok("ENABLE X-UNKNOWN"), ["* ENABLED"]);
    assert_eq!(client.ok("ENABLE X-OTHER X-UNKNOWN"), ["* ENABLED"]);
    client.bad("ENABLE");
}

#[test]
fn check_needs_a_selected_mailbox() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert!(client.bad("CHECK").contains("No mailbox selected"));
    open(&mut client, "SELECT INBOX");
    assert_eq!(client.ok("CHECK"), Vec::<String>::new());
    open(&mut client, "EXAMINE INBOX");
    client.ok("CHECK");
}

/// Alice's INBOX with three messages, the second \Deleted, selected in
/// `client`; `watcher` has it selected too.
fn three_with_second_deleted(server: &Server) -> (Client, Client) {
    let mut client = server.login("alice", "secret");
    for subject in ["one", "two", "three"] {
        append_with_flags(&mut client, "INBOX", "", &message(subject, subject));
    }
    let mut watcher = server.login("alice", "secret");
    open(&mut watcher, "SELECT INBOX");
    open(&mut client, "SELECT INBOX");
    client.ok("STORE 2 +FLAGS.SILENT (\\Deleted)");
    (client, watcher)
}

#[test]
fn close_expunges_silently_and_deselects() {
    let server = Server::start();
    let (mut client, mut watcher) = three_with_second_deleted(&server);
    // RFC 3501 §6.4.2: no untagged EXPUNGE responses.
    assert_eq!(client.ok("CLOSE"), Vec::<String>::new());
    assert!(client.bad("FETCH 1 FLAGS").contains("No mailbox selected"));
    client.bad("CLOSE");
    client.bad("UNSELECT");
    assert_eq!(status_value(&mut client, "INBOX", "MESSAGES"), 2);
    // Other sessions do hear of it.
    let untagged = watcher.ok("NOOP");
    assert!(untagged.contains(&"* 2 EXPUNGE".to_string()), "{untagged:?}");
    // The remaining messages are the first and the third.
    let (untagged, _) = open(&mut client, "SELECT INBOX");
    assert_eq!(counted(&untagged, "EXISTS"), Some(2));
    assert_eq!(subjects(&mut client), ["Subject: one\r\n\r\n", "Subject: three\r\n\r\n"]);
}

#[test]
fn unselect_expunges_nothing() {
    let server = Server::start();
    let (mut client, mut watcher) = three_with_second_deleted(&server);
    assert_eq!(client.ok("UNSELECT"), Vec::<String>::new());
    assert!(client.bad("FETCH 1 FLAGS").contains("No mailbox selected"));
    let status = status_of(&mut client, "INBOX", "MESSAGES DELETED");
    assert_eq!((status["MESSAGES"], status["DELETED"]), (3, 1));
    let untagged = watcher.ok("NOOP");
    assert!(Responses::of(&untagged).untagged("EXPUNGE").is_empty(), "{untagged:?}");
}

#[test]
fn close_of_an_examined_mailbox_expunges_nothing() {
    let server = Server::start();
    let (mut client, _watcher) = three_with_second_deleted(&server);
    open(&mut client, "EXAMINE INBOX");
    assert_eq!(client.ok("CLOSE"), Vec::<String>::new());
    client.bad("FETCH 1 FLAGS");
    assert_eq!(status_value(&mut client, "INBOX", "MESSAGES"), 3);
}

#[test]
fn select_while_selected_does_not_expunge() {
    let server = Server::start();
    let (mut client, _watcher) = three_with_second_deleted(&server);
    client.ok("CREATE Other");
    let (untagged, _) = open(&mut client, "SELECT Other");
    assert_eq!(counted(&untagged, "EXISTS"), Some(0));
    assert!(Responses::of(&untagged).untagged("EXPUNGE").is_empty(), "{untagged:?}");
    assert_eq!(status_value(&mut client, "INBOX", "MESSAGES"), 3);
}

// ---------------------------------------------------------------- state and users

#[test]
fn mailbox_commands_need_authentication() {
    let server = Server::start();
    let mut client = server.connect();
    for command in [
        "SELECT INBOX",
        "EXAMINE INBOX",
        "CREATE x",
        "DELETE x",
        "RENAME x y",
        "SUBSCRIBE x",
        "UNSUBSCRIBE x",
        "LIST \"\" *",
        "LSUB \"\" *",
        "STATUS INBOX (MESSAGES)",
        "CHECK",
        "CLOSE",
        "UNSELECT",
    ] {
        assert!(client.bad(command).contains("log in"), "{command}");
    }
}

#[test]
fn users_cannot_see_each_others_mailboxes() {
    let server = Server::start();
    let mut alice = server.login("alice", "secret");
    alice.ok("CREATE Secret");
    alice.ok("SUBSCRIBE Secret");
    append_with_flags(&mut alice, "Secret", "", &message("private", "for alice"));
    append_with_flags(&mut alice, "INBOX", "", &message("private", "for alice"));

    let mut bob = server.login("bob", "hunter2");
    assert_eq!(names(&mut bob, "LIST \"\" *"), DEFAULT_MAILBOXES);
    assert_eq!(names(&mut bob, "LSUB \"\" *"), DEFAULT_MAILBOXES);
    assert_no_code(&bob.no("SELECT Secret"), "NONEXISTENT");
    assert_no_code(&bob.no("EXAMINE Secret"), "NONEXISTENT");
    assert_no_code(&bob.no("STATUS Secret (MESSAGES)"), "NONEXISTENT");
    assert_no_code(&bob.no("DELETE Secret"), "NONEXISTENT");
    assert_no_code(&bob.no("RENAME Secret Mine"), "NONEXISTENT");
    assert_eq!(status_value(&mut bob, "INBOX", "MESSAGES"), 0);
    let (untagged, _) = open(&mut bob, "SELECT INBOX");
    assert_eq!(counted(&untagged, "EXISTS"), Some(0));

    // Bob's own "Secret" is a different mailbox.
    bob.ok("CREATE Secret");
    assert_eq!(status_value(&mut bob, "Secret", "MESSAGES"), 0);
    bob.ok("DELETE Secret");
    bob.ok("RENAME Trash Bin");
    assert_eq!(status_value(&mut alice, "Secret", "MESSAGES"), 1);
    assert_eq!(status_value(&mut alice, "INBOX", "MESSAGES"), 1);
    assert_eq!(names(&mut alice, "LIST \"\" *"), ["INBOX", "Archive", "Drafts", "Junk", "Secret", "Sent", "Trash"]);
    assert!(names(&mut alice, "LSUB \"\" *").contains(&"Secret".to_string()));
}

#[test]
fn rename_a_noselect_name_moves_its_children() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.ok("CREATE p/c");
    client.ok("DELETE p");
    client.ok("RENAME p q");
    let listed = listing(&mut client, "LIST \"\" *");
    assert!(!listed.iter().any(|(name, _)| name == "p" || name.starts_with("p/")), "{listed:?}");
    let q = &listed.iter().find(|(name, _)| name == "q").expect("q").1;
    assert!(q.contains(&"\\Noselect".to_string()) && q.contains(&"\\HasChildren".to_string()), "{listed:?}");
    assert!(listed.iter().any(|(name, _)| name == "q/c"), "{listed:?}");
    open(&mut client, "SELECT q/c");
}

#[test]
fn inbox_children_in_any_case() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert_no_code(&client.no("CREATE INBOX/"), "ALREADYEXISTS");
    assert_no_code(&client.no("CREATE inbox/"), "ALREADYEXISTS");
    client.ok("CREATE Work");
    client.ok("RENAME Work inbox/Work");
    assert_eq!(names(&mut client, "LIST \"\" *Work"), ["INBOX/Work"]);
    open(&mut client, "SELECT Inbox/Work");
    assert_eq!(status_value(&mut client, "INBOX/Work", "MESSAGES"), 0);
    client.ok("DELETE iNbOx/Work");
    assert_eq!(names(&mut client, "LIST \"\" INBOX*"), ["INBOX"]);
}

#[test]
fn rename_inbox_tells_sessions_that_have_it_selected() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    append_with_flags(&mut client, "INBOX", "", &message("one", "1"));
    append_with_flags(&mut client, "INBOX", "", &message("two", "2"));
    let mut watcher = server.login("alice", "secret");
    open(&mut watcher, "SELECT INBOX");
    client.ok("RENAME INBOX Moved");
    let untagged = watcher.ok("NOOP");
    assert_eq!(Responses::of(&untagged).numbered("EXPUNGE"), [1, 1], "{untagged:?}");
    let (untagged, _) = open(&mut watcher, "SELECT INBOX");
    assert_eq!(counted(&untagged, "EXISTS"), Some(0));
}

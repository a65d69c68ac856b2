//! NOTIFY (RFC 5465) over real connections: the command's syntax and
//! rules, and the unsolicited responses other sessions' changes cause while
//! the client sends nothing.

mod common;

use common::*;

/// Reads unsolicited lines until one starts with `prefix`; returns them all.
/// The untagged response `line`, read.
fn untagged_of(line: &str) -> Untagged {
    let Reply::Untagged(untagged) = parse_one(line) else { panic!("not untagged: {line}") };
    untagged
}

/// The item names of the STATUS response `line`, upper-cased.
fn status_names(line: &str) -> Vec<String> {
    untagged_of(line).status_items().into_keys().collect()
}

fn read_until_prefix(client: &mut Client, prefix: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let line = client.read_response();
        let done = line.starts_with(prefix);
        lines.push(line);
        if done {
            return lines;
        }
    }
}

#[test]
fn syntax_and_rules() {
    let server = Server::start();
    let mut anonymous = server.connect();
    assert!(anonymous.bad("NOTIFY NONE").contains("not allowed"));
    let mut client = server.login("alice", "secret");
    for command in [
        "NOTIFY",
        "NOTIFY SET",
        "NOTIFY ALL",
        "NOTIFY SET ()",
        "NOTIFY SET (PERSONAL ())",
        "NOTIFY SET (PERSONAL)",
        "NOTIFY SET (EVERYWHERE (MessageNew MessageExpunge))",
        "NOTIFY SET (SUBTREE (MessageNew MessageExpunge))",
        "NOTIFY SET (MAILBOXES () (MessageNew MessageExpunge))",
        // RFC 5465 §5: MessageNew and MessageExpunge together; FlagChange with both.
        "NOTIFY SET (PERSONAL (MessageNew))",
        "NOTIFY SET (PERSONAL (MessageExpunge))",
        "NOTIFY SET (PERSONAL (FlagChange))",
        "NOTIFY SET (PERSONAL (MessageNew FlagChange))",
        "NOTIFY SET (PERSONAL (AnnotationChange MessageExpunge))",
        // Fetch attributes only for the selected mailbox.
        "NOTIFY SET (PERSONAL (MessageNew (UID) MessageExpunge))",
        // §6.1: one selected filter, and only message events with it.
        "NOTIFY SET (SELECTED (MessageNew MessageExpunge)) (SELECTED-DELAYED (MessageNew MessageExpunge))",
        "NOTIFY SET (SELECTED (MailboxName))",
        "NOTIFY SET (SELECTED-DELAYED (SubscriptionChange))",
        "NOTIFY SET (SELECTED (MessageNew MessageExpunge ServerMetadataChange))",
        "NOTIFY SET (SELECTED (MessageNew (BODY[]) MessageExpunge))",
        "NOTIFY SET (SELECTED (MessageNew (UID NOSUCHITEM) MessageExpunge))",
        "NOTIFY NONE extra",
    ] {
        client.bad(command);
    }
    // Unsupported events: NO with BADEVENT listing what is supported.
    for command in [
        "NOTIFY SET (PERSONAL (MailboxMetadataChange))",
        "NOTIFY SET (PERSONAL (ServerMetadataChange))",
        "NOTIFY SET (SELECTED (MessageNew MessageExpunge AnnotationChange))",
        "NOTIFY SET (PERSONAL (SomethingNew))",
    ] {
        let text = client.no(command);
        let code = Status::parse(&text).code_named("BADEVENT").cloned().unwrap_or_else(|| panic!("{text}"));
        assert_eq!(code.data, "(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)", "{text}");
    }
    // Well-formed ones, any case.
    client.ok("NOTIFY NONE");
    client.ok("notify set (personal none)");
    client.ok("NOTIFY SET (SELECTED NONE) (INBOXES (MessageNew MessageExpunge))");
    client.ok("NOTIFY SET (selected-delayed (messagenew (uid body.peek[header.fields (subject)]) messageexpunge flagchange)) (subscribed (MailboxName SubscriptionChange)) (subtree (INBOX \"Sent\") (MessageNew MessageExpunge)) (MAILBOXES Trash (MessageNew MessageExpunge FlagChange))");
    client.ok("NOTIFY NONE");
}

#[test]
fn notify_is_advertised() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert!(capabilities(&mut client).contains("NOTIFY"));
}

#[test]
fn set_status_reports_the_watched_mailboxes() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.append_ok("INBOX", &message("one", "1"));
    let untagged = client.ok("NOTIFY SET STATUS (INBOXES (MessageNew MessageExpunge))");
    assert_eq!(untagged.len(), 1, "{untagged:?}");
    assert!(untagged[0].starts_with("* STATUS \"INBOX\" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY "), "{untagged:?}");
    assert!(untagged[0].ends_with(" UNSEEN 1)"), "{untagged:?}");
    // Without STATUS: none. With CONDSTORE: HIGHESTMODSEQ too.
    assert!(client.ok("NOTIFY SET (INBOXES (MessageNew MessageExpunge))").is_empty());
    client.ok("ENABLE CONDSTORE");
    let untagged = client.ok("NOTIFY SET STATUS (PERSONAL (MessageNew MessageExpunge FlagChange))");
    assert_eq!(untagged.len(), 6, "{untagged:?}");
    let with_modseq =
        |line: &String| untagged_of(line).is("STATUS") && status_names(line).contains(&"HIGHESTMODSEQ".into());
    assert!(untagged.iter().all(with_modseq), "{untagged:?}");
    // The selected mailbox is reported as such, not by STATUS.
    client.ok("SELECT INBOX");
    let untagged = client.ok("NOTIFY SET STATUS (PERSONAL (MessageNew MessageExpunge))");
    assert_eq!(untagged.len(), 5, "{untagged:?}");
    let mailboxes: Vec<String> = untagged.iter().map(|line| untagged_of(line).values().remove(0)).collect();
    assert!(!mailboxes.contains(&"INBOX".to_string()), "{untagged:?}");
}

#[test]
fn selected_mailbox_changes_arrive_unasked() {
    let server = Server::start();
    let mut other = server.login("alice", "secret");
    other.append_ok("INBOX", &message("one", "1"));
    let mut client = server.login("alice", "secret");
    client.ok("SELECT INBOX");
    client.ok("NOTIFY SET (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange))");
    other.append_ok("INBOX", &message("two", "2"));
    let lines = read_until_prefix(&mut client, "* 2 FETCH");
    assert_eq!(lines[0], "* 2 EXISTS");
    assert!(lines.last().unwrap().starts_with("* 2 FETCH (UID 2 FLAGS ("), "{lines:?}");
    // Flag changes: FETCH with UID and FLAGS.
    other.ok("SELECT INBOX");
    other.ok("UID STORE 1 +FLAGS (\\Flagged)");
    let line = client.read_line();
    assert!(line.starts_with("* 1 FETCH (UID 1 FLAGS (") && flags_in_fetch(&line).contains("\\Flagged"), "{line}");
    // Expunges at once.
    other.ok("UID STORE 1 +FLAGS (\\Deleted)");
    let line = client.read_line();
    assert!(flags_in_fetch(&line).contains("\\Deleted"), "{line}");
    other.ok("EXPUNGE");
    assert_eq!(client.read_line(), "* 1 EXPUNGE");
    assert_silent(&mut client);
    client.ok("NOOP");
    // NOTIFY NONE: back to answers at commands only.
    client.ok("NOTIFY NONE");
    other.append_ok("INBOX", &message("three", "3"));
    assert_silent(&mut client);
    let untagged = client.ok("NOOP");
    assert!(untagged.contains(&"* 2 EXISTS".to_string()), "{untagged:?}");
}

#[test]
fn own_appends_and_copies_get_no_message_new_fetch() {
    let server = Server::start();
    let mut other = server.login("alice", "secret");
    let mut client = server.login("alice", "secret");
    client.ok("CREATE Old");
    client.append_ok("Old", &message("old", "0"));
    client.ok("SELECT INBOX");
    client.ok("NOTIFY SET (SELECTED (MessageNew (UID) MessageExpunge))");
    // RFC 5465 §5.2: its own APPEND and COPY are answered as usual (EXISTS)
    // but get no MessageNew FETCH.
    let (untagged, tagged) = client.append("INBOX", "", &message("mine", "1"));
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert!(untagged.contains(&"* 1 EXISTS".to_string()), "{untagged:?}");
    client.ok("SELECT Old");
    client.ok("COPY 1 INBOX");
    client.ok("SELECT INBOX");
    assert_silent(&mut client);
    // Another session's message still gets it, after the session's own.
    other.append_ok("INBOX", &message("theirs", "3"));
    let lines = read_until_prefix(&mut client, "* 3 FETCH");
    assert_eq!(lines.first().map(String::as_str), Some("* 3 EXISTS"), "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some("* 3 FETCH (UID 3)"), "{lines:?}");
    assert_eq!(Responses::of(&lines).fetches().len(), 1, "{lines:?}");
    client.append("INBOX", "", &message("mine again", "4"));
    other.append_ok("INBOX", &message("theirs again", "5"));
    let lines = read_until_prefix(&mut client, "* 5 FETCH");
    assert_eq!(lines.last().map(String::as_str), Some("* 5 FETCH (UID 5)"), "{lines:?}");
    assert!(!lines.iter().any(|line| line.starts_with("* 4 FETCH")), "{lines:?}");
}

#[test]
fn without_flag_change_flags_wait_for_a_command() {
    let server = Server::start();
    let mut other = server.alice_inbox();
    other.append_ok("INBOX", &message("one", "1"));
    let mut client = server.alice_inbox();
    client.ok("NOTIFY SET (SELECTED (MessageNew MessageExpunge))");
    other.ok("STORE 1 +FLAGS (\\Flagged)");
    assert_silent(&mut client);
    let untagged = client.ok("NOOP");
    assert!(flags_in_fetch(fetch_of(&untagged, 1)).contains("\\Flagged"), "{untagged:?}");
    // MessageNew without attributes: EXISTS alone.
    other.append_ok("INBOX", &message("two", "2"));
    assert_eq!(client.read_line(), "* 2 EXISTS");
    assert_silent(&mut client);
}

#[test]
fn selected_delayed_holds_expunges_back() {
    let server = Server::start();
    let mut other = server.alice_inbox();
    other.append_ok("INBOX", &message("one", "1"));
    other.append_ok("INBOX", &message("two", "2"));
    let mut client = server.alice_inbox();
    client.ok("NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge FlagChange))");
    other.ok("STORE 1 +FLAGS (\\Deleted)");
    let line = client.read_line();
    assert!(line.starts_with("* 1 FETCH (UID 1 FLAGS (") && flags_in_fetch(&line).contains("\\Deleted"), "{line}");
    other.ok("EXPUNGE");
    // New mail still comes at once; the expunge waits.
    other.append_ok("INBOX", &message("three", "3"));
    let lines = read_until_prefix(&mut client, "* 3 EXISTS");
    assert!(Responses::of(&lines).untagged("EXPUNGE").is_empty(), "{lines:?}");
    assert_silent(&mut client);
    // FETCH may not report it either; NOOP does.
    assert_eq!(client.read_line(), "* 0 RECENT");
    let untagged = client.ok("FETCH 2:3 (UID)");
    assert!(Responses::of(&untagged).untagged("EXPUNGE").is_empty(), "{untagged:?}");
    let untagged = client.ok("NOOP");
    assert_eq!(untagged, vec!["* 1 EXPUNGE".to_string()]);
}

#[test]
fn status_for_other_mailboxes() {
    let server = Server::start();
    let mut other = server.login("alice", "secret");
    let mut client = server.login("alice", "secret");
    client.ok("NOTIFY SET (INBOXES (MessageNew MessageExpunge FlagChange))");
    other.append_ok("INBOX", &message("one", "1"));
    assert_eq!(client.read_line(), "* STATUS \"INBOX\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)");
    other.ok("SELECT INBOX");
    other.ok("STORE 1 +FLAGS (\\Seen)");
    assert_eq!(client.read_line(), "* STATUS \"INBOX\" (UNSEEN 0)");
    // Without CONDSTORE, a change that leaves UNSEEN alone says nothing.
    other.ok("STORE 1 +FLAGS (\\Deleted)");
    assert_silent(&mut client);
    other.ok("EXPUNGE");
    assert_eq!(client.read_line(), "* STATUS \"INBOX\" (MESSAGES 0 UIDNEXT 2)");
    // Other mailboxes are not watched by INBOXES.
    other.append_ok("Sent", &message("sent", "s"));
    assert_silent(&mut client);
    // With CONDSTORE: HIGHESTMODSEQ, and UIDVALIDITY for flag changes.
    client.ok("ENABLE CONDSTORE");
    other.append_ok("INBOX", &message("two", "2"));
    let line = client.read_line();
    assert!(line.starts_with("* STATUS \"INBOX\" (MESSAGES 1 UIDNEXT 3 UIDVALIDITY "), "{line}");
    assert_eq!(status_names(&line), ["HIGHESTMODSEQ", "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN"], "{line}");
    assert_eq!(untagged_of(&line).status_items()["UNSEEN"], 1, "{line}");
    other.ok("UID STORE 2 +FLAGS (\\Flagged)");
    let line = client.read_line();
    assert!(line.starts_with("* STATUS \"INBOX\" (UIDVALIDITY "), "{line}");
    assert_eq!(status_names(&line), ["HIGHESTMODSEQ", "UIDVALIDITY"], "{line}");
    // Its own changes are reported too.
    client.append_ok("INBOX", &message("mine", "m"));
    let line = client.read_line();
    assert!(line.starts_with("* STATUS \"INBOX\" (MESSAGES 2 UIDNEXT 4 UIDVALIDITY "), "{line}");
}

#[test]
fn mailbox_filters() {
    let server = Server::start();
    let mut other = server.login("alice", "secret");
    for name in ["Work", "Work/Plans", "Workshop", "Other"] {
        other.ok(&format!("CREATE {name}"));
    }
    let mut client = server.login("alice", "secret");
    client.ok("NOTIFY SET (SUBTREE Work (MessageNew MessageExpunge)) (MAILBOXES Junk (MessageNew MessageExpunge))");
    for name in ["Other", "Workshop", "Work/Plans", "Work", "Junk"] {
        other.append_ok(name, &message("x", "y"));
    }
    assert_eq!(client.read_line(), "* STATUS \"Work/Plans\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)");
    assert_eq!(client.read_line(), "* STATUS \"Work\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)");
    assert_eq!(client.read_line(), "* STATUS \"Junk\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)");
    assert_silent(&mut client);
    // SUBSCRIBED follows the subscriptions as they change.
    client.ok("NOTIFY SET (SUBSCRIBED (MessageNew MessageExpunge))");
    other.append_ok("Other", &message("x", "y"));
    assert_silent(&mut client);
    other.ok("SUBSCRIBE Other");
    other.append_ok("Other", &message("x", "y"));
    assert_eq!(client.read_line(), "* STATUS \"Other\" (MESSAGES 3 UIDNEXT 4 UNSEEN 3)");
    // PERSONAL: all of them.
    client.ok("NOTIFY SET (PERSONAL (MessageNew MessageExpunge))");
    other.append_ok("Workshop", &message("x", "y"));
    assert_eq!(client.read_line(), "* STATUS \"Workshop\" (MESSAGES 2 UIDNEXT 3 UNSEEN 2)");
}

#[test]
fn mailbox_names_and_subscriptions() {
    let server = Server::start();
    let mut other = server.login("alice", "secret");
    let mut client = server.login("alice", "secret");
    client.ok("NOTIFY SET (PERSONAL (MailboxName SubscriptionChange))");
    other.ok("CREATE Projects");
    assert_eq!(client.read_line(), "* LIST (\\HasNoChildren) \"/\" \"Projects\"");
    other.ok("RENAME Projects Done");
    assert_eq!(client.read_line(), "* LIST (\\HasNoChildren) \"/\" \"Done\" (\"OLDNAME\" (\"Projects\"))");
    other.ok("SUBSCRIBE Done");
    assert_eq!(client.read_line(), "* LIST (\\Subscribed \\HasNoChildren) \"/\" \"Done\"");
    other.ok("UNSUBSCRIBE Done");
    assert_eq!(client.read_line(), "* LIST (\\HasNoChildren) \"/\" \"Done\"");
    other.ok("DELETE Done");
    assert_eq!(client.read_line(), "* LIST (\\NonExistent) \"/\" \"Done\"");
    // A rename moves the children with it: one LIST each.
    other.ok("CREATE A/B");
    let mut lines = vec![client.read_line(), client.read_line()];
    lines.sort();
    assert_eq!(lines, ["* LIST (\\HasChildren) \"/\" \"A\"", "* LIST (\\HasNoChildren) \"/\" \"A/B\""]);
    other.ok("RENAME A C");
    let mut lines = vec![client.read_line(), client.read_line()];
    lines.sort();
    assert_eq!(
        lines,
        [
            "* LIST (\\HasChildren) \"/\" \"C\" (\"OLDNAME\" (\"A\"))",
            "* LIST (\\HasNoChildren) \"/\" \"C/B\" (\"OLDNAME\" (\"A/B\"))"
        ]
    );
    assert_silent(&mut client);
    // Only names the filters match.
    client.ok("NOTIFY SET (SUBTREE C (MailboxName))");
    other.ok("CREATE Elsewhere");
    other.ok("SUBSCRIBE C");
    assert_silent(&mut client);
    other.ok("CREATE C/D");
    assert_eq!(client.read_line(), "* LIST (\\HasNoChildren) \"/\" \"C/D\"");
}

#[test]
fn notify_during_idle() {
    let server = Server::start();
    let mut other = server.login("alice", "secret");
    let mut client = server.alice_inbox();
    client.ok("NOTIFY SET (SELECTED (MessageNew MessageExpunge)) (PERSONAL (MessageNew MessageExpunge MailboxName))");
    let tag = client.next_tag();
    client.send(&format!("{tag} IDLE"));
    assert!(client.read_line().starts_with("+ "));
    other.append_ok("Sent", &message("x", "y"));
    assert_eq!(client.read_line(), "* STATUS \"Sent\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)");
    other.ok("CREATE New");
    assert_eq!(client.read_line(), "* LIST (\\HasNoChildren) \"/\" \"New\"");
    // A mailbox that appears gets a STATUS with its UIDVALIDITY.
    let line = client.read_line();
    assert!(line.starts_with("* STATUS \"New\" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY "), "{line}");
    other.append_ok("INBOX", &message("x", "y"));
    let lines = read_until_prefix(&mut client, "* 1 EXISTS");
    assert_eq!(lines.len(), 1, "{lines:?}");
    client.send("DONE");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("OK"), "{tagged}");
}

#[test]
fn qresync_gets_vanished() {
    let server = Server::start();
    let mut other = server.alice_inbox();
    other.append_ok("INBOX", &message("one", "1"));
    other.append_ok("INBOX", &message("two", "2"));
    let mut client = server.login("alice", "secret");
    client.ok("ENABLE QRESYNC");
    client.ok("SELECT INBOX");
    client.ok("NOTIFY SET (SELECTED (MessageNew MessageExpunge FlagChange))");
    other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    let line = client.read_line();
    assert!(line.starts_with("* 1 FETCH (UID 1 FLAGS (\\Deleted) MODSEQ ("), "{line}");
    other.ok("EXPUNGE");
    assert_eq!(client.read_line(), "* VANISHED 1");
}

#[test]
fn imap4rev2_gets_utf8_names() {
    let server = Server::start();
    let mut other = server.login("alice", "secret");
    let mut client = server.login("alice", "secret");
    client.ok("ENABLE IMAP4rev2");
    client.ok("NOTIFY SET (SUBTREE \"Été\" (MailboxName MessageNew MessageExpunge))");
    other.ok("CREATE &AMk-t&AOk-");
    assert_eq!(client.read_line(), "* LIST (\\HasNoChildren) \"/\" \"Été\"");
    let line = client.read_line();
    assert!(line.starts_with("* STATUS \"Été\" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY "), "{line}");
    other.append_ok("&AMk-t&AOk-", &message("x", "y"));
    assert_eq!(client.read_line(), "* STATUS \"Été\" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)");
}

#[test]
fn sessions_without_notify_are_told_at_commands_only() {
    let server = Server::start();
    let mut other = server.login("alice", "secret");
    let mut client = server.alice_inbox();
    other.append_ok("INBOX", &message("one", "1"));
    other.ok("CREATE Quiet");
    other.append_ok("Sent", &message("x", "y"));
    assert_silent(&mut client);
    let untagged = client.ok("NOOP");
    assert_eq!(untagged, vec!["* 1 EXISTS".to_string(), "* 1 RECENT".to_string()]);
}

//! REPLACE and UID REPLACE (RFC 8508): a client saving a draft again
//! replaces the old version in one step: the new message is stored and the
//! old one expunged together, never one without the other.

mod common;

use common::*;

/// The tagged answer and the untagged lines of a REPLACE sent with a
/// non-synchronizing literal.
fn replace(client: &mut Client, command: &str, message: &[u8]) -> (Vec<Response>, Response) {
    let tag = client.next_tag();
    client.send_raw(format!("{tag} {command} {{{}+}}\r\n", message.len()).as_bytes());
    client.send_raw(message);
    client.send_raw(b"\r\n");
    client.until_tagged(&tag)
}

fn subjects(client: &mut Client) -> Vec<String> {
    client
        .ok("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .iter()
        .filter_map(|line| {
            line.split("Subject: ").nth(1).map(|rest| rest.lines().next().unwrap_or("").trim().to_string())
        })
        .collect()
}

#[test]
fn a_draft_is_replaced_in_one_step() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    assert!(capabilities(&mut client).contains("REPLACE"));
    client.append_ok("Drafts", &message("draft 1", "first words"));
    client.append_ok("Drafts", &message("other", "unrelated"));
    let mut watcher = server.login("alice", "secret");
    watcher.ok("SELECT Drafts");
    client.ok("SELECT Drafts");
    let (untagged, tagged) = replace(&mut client, "REPLACE 1 Drafts (\\Draft)", &message("draft 2", "more words"));
    assert!(tagged.starts_with("OK"), "{tagged}");
    // RFC 8508 §4.3: APPENDUID in an untagged OK, before the EXPUNGE.
    let saved = untagged.iter().position(|line| line.starts_with("* OK [APPENDUID ")).expect("APPENDUID");
    let gone = untagged.iter().position(|line| line == "* 1 EXPUNGE").expect("EXPUNGE");
    assert!(saved < gone, "{untagged:?}");
    assert!(untagged.iter().any(|line| line == "* 2 EXISTS"), "{untagged:?}");
    assert_eq!(subjects(&mut client), ["other", "draft 2"]);
    assert!(flags_of(&mut client, 2).contains("\\Draft"));
    // Another device sees the old draft go and the new one come.
    let seen = watcher.ok("NOOP");
    assert!(seen.iter().any(|line| line == "* 1 EXPUNGE") && seen.iter().any(|line| line == "* 2 EXISTS"), "{seen:?}");
}

#[test]
fn uid_replace_can_file_the_new_version_elsewhere() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.append_ok("Drafts", &message("draft 1", "x"));
    client.append_ok("Drafts", &message("draft 2", "y"));
    client.ok("SELECT Drafts");
    let (untagged, tagged) = replace(&mut client, "UID REPLACE 2 Sent", &message("sent at last", "y"));
    assert!(tagged.starts_with("OK"), "{tagged}");
    assert!(untagged.iter().any(|line| line.starts_with("* OK [APPENDUID ")), "{untagged:?}");
    // UID REPLACE may report the expunge by UID or by number; either way draft 2 is gone.
    assert_eq!(subjects(&mut client), ["draft 1"]);
    client.ok("SELECT Sent");
    assert_eq!(subjects(&mut client), ["sent at last"]);
}

#[test]
fn refusals_change_nothing_and_keep_the_connection_in_step() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    // Not selected: BAD (RFC 8508 §3.5), the literal's bytes read and dropped.
    let (_, tagged) = replace(&mut client, "REPLACE 1 Drafts", &message("x", "x"));
    assert!(tagged.starts_with("BAD"), "{tagged}");
    client.append_ok("Drafts", &message("keep me", "x"));
    client.ok("SELECT Drafts");
    // A sequence number past the last message: BAD; a UID that is not there: NO.
    let (_, tagged) = replace(&mut client, "REPLACE 5 Drafts", &message("x", "x"));
    assert!(tagged.starts_with("BAD"), "{tagged}");
    let (_, tagged) = replace(&mut client, "UID REPLACE 99 Drafts", &message("x", "x"));
    assert!(tagged.starts_with("NO"), "{tagged}");
    // A target mailbox that does not exist: NO [TRYCREATE], and the old message stays.
    let (_, tagged) = replace(&mut client, "REPLACE 1 Nowhere", &message("x", "x"));
    assert!(tagged.starts_with("NO [TRYCREATE]"), "{tagged}");
    // Two messages (MULTIAPPEND form): BAD, nothing stored or removed.
    let tag = client.next_tag();
    let body = message("one", "1");
    client.send_raw(format!("{tag} REPLACE 1 Drafts {{{}+}}\r\n", body.len()).as_bytes());
    client.send_raw(&body);
    client.send_raw(format!(" {{{}+}}\r\n", body.len()).as_bytes());
    client.send_raw(&body);
    client.send_raw(b"\r\n");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("BAD"), "{tagged}");
    assert_eq!(subjects(&mut client), ["keep me"]);
    // After EXAMINE nothing may be expunged.
    client.ok("EXAMINE Drafts");
    let (_, tagged) = replace(&mut client, "REPLACE 1 Drafts", &message("x", "x"));
    assert!(tagged.starts_with("NO"), "{tagged}");
    client.ok("SELECT Drafts");
    assert_eq!(subjects(&mut client), ["keep me"]);
    client.ok("NOOP");
}

//! UIDs over time (RFC 3501 §2.3.1.1): never reused, UIDVALIDITY and
//! data kept across a restart.

mod common;

use common::*;

// ---------------------------------------------------------------------------
// UIDs over time; persistence
// ---------------------------------------------------------------------------

#[test]
fn uids_are_never_reused() {
    let mut server = Server::start();
    let (mut client, uids) = settled(&server, &numbered(3));
    client.ok(r"STORE 3 +FLAGS.SILENT (\Deleted)");
    client.ok("EXPUNGE");
    let again = client.append_ok("INBOX", &message("again", "x"));
    assert!(again > uids[2], "UID {again} after expunging {}", uids[2]);
    // Expunge everything; still no reuse.
    client.ok(r"STORE 1:* +FLAGS.SILENT (\Deleted)");
    client.ok("EXPUNGE");
    let later = client.append_ok("INBOX", &message("later", "x"));
    assert!(later > again, "{later} > {again}");
    // Nor after a restart.
    server.restart();
    let mut client = server.login("alice", "secret");
    let selected = client.ok("SELECT INBOX");
    let uidnext = format!("* OK [UIDNEXT {}]", later + 1);
    assert!(selected.iter().any(|line| line.starts_with(&uidnext)), "{selected:?}");
    client.ok(r"STORE 1 +FLAGS.SILENT (\Deleted)");
    client.ok("EXPUNGE");
    let after_restart = client.append_ok("INBOX", &message("after", "x"));
    assert!(after_restart > later, "{after_restart} > {later}");
    // COPY into the mailbox continues the sequence too.
    client.ok("CREATE Other");
    let other = client.append_ok("Other", &message("other", "x"));
    client.ok("SELECT Other");
    let (_, tagged) = client.command("COPY 1 INBOX");
    let (_, _, destination) = copyuid(&tagged);
    assert_eq!(destination, (after_restart + 1).to_string());
    assert_eq!(other, 1);
}

#[test]
fn uidvalidity_and_data_survive_a_restart() {
    let mut server = Server::start();
    let mut client = server.login("alice", "secret");
    let first = message("kept", "survives a restart");
    let (_, tagged) = client.append("INBOX", r#"(\Seen $Label) "17-Jul-1996 02:44:25 -0700""#, &first);
    let (validity, uid) = appenduid(&tagged);
    client.append_ok("INBOX", &message("second", "also kept"));
    client.ok("CREATE Saved");
    let archive_validity = status(&mut client, "Saved", "UIDVALIDITY");
    client.ok("SELECT INBOX");
    client.ok(r"STORE 2 +FLAGS.SILENT (\Flagged \Answered)");
    client.ok("COPY 2 Saved");
    let before = client.ok("FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])");
    client.ok("LOGOUT");

    server.restart();
    let mut client = server.login("alice", "secret");
    let selected = client.ok("SELECT INBOX");
    assert_eq!(uidvalidity(&selected), validity);
    assert!(selected.contains(&"* 2 EXISTS".to_string()), "{selected:?}");
    assert!(defined_flags(&selected).contains("$Label"), "{selected:?}");
    let after = client.ok("FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])");
    let strip_recent = |responses: &[Response]| {
        fetches(responses)
            .into_iter()
            .map(|(sequence, response)| {
                let mut found = flag_set(&item(response, "FLAGS"));
                found.remove(r"\Recent");
                (
                    sequence,
                    item(response, "UID"),
                    found,
                    item(response, "INTERNALDATE"),
                    item(response, "RFC822.SIZE"),
                    item(response, "BODY[]"),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip_recent(&after), strip_recent(&before));
    assert_eq!(item(fetch_of(&after, 1), "UID"), uid.to_string());
    assert_eq!(item(fetch_of(&after, 1), "BODY[]").as_bytes(), &first[..]);
    assert_eq!(status(&mut client, "Saved", "UIDVALIDITY"), archive_validity);
    assert_eq!(status(&mut client, "Saved", "MESSAGES"), 1);
    client.ok("EXAMINE Saved");
    let untagged = client.ok("FETCH 1 FLAGS");
    let mut archived = flag_set(&item(fetch_of(&untagged, 1), "FLAGS"));
    archived.remove(r"\Recent");
    assert_eq!(archived, flags(&[r"\Flagged", r"\Answered"]));
    // A clean stop keeps it all as well.
    client.ok("LOGOUT");
    assert!(server.stop().success());
    server.spawn();
    let mut client = server.login("alice", "secret");
    let selected = client.ok("EXAMINE INBOX");
    assert_eq!(uidvalidity(&selected), validity);
    assert!(selected.contains(&"* 2 EXISTS".to_string()), "{selected:?}");
}

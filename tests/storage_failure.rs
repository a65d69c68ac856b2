//! A FETCH that cannot read the message it was asked for (issue 13,
//! fault 10): the session ends with `* BYE [CORRUPTION]`, as Dovecot ends
//! it, instead of a NO the client would retry at once in a loop. Other
//! sessions and the other messages are not affected.
//!
//! The damage is made by hand: the server is stopped, one chunk of a
//! message's stored bytes (and its stored preview) is deleted from the
//! database with redb, and the server is started again.

mod common;

use common::*;
use redb::ReadableTable;

const DAMAGED: &[u8] = b"From: a@example.org\r\nSubject: damaged\r\n\r\nthe text of the damaged message\r\n";

/// Alice's INBOX holds DAMAGED (UID 1, its first chunk and its preview
/// gone) and an intact message (UID 2).
fn damaged_server() -> Server {
    let mut server = Server::start();
    let mut client = server.alice_inbox();
    client.append_ok("INBOX", DAMAGED);
    client.append_ok("INBOX", &message("intact", "still readable"));
    client.shutdown();
    assert!(server.stop().success());
    {
        let database = redb::Database::create(server.data_dir().join("roost.redb")).unwrap();
        let transaction = database.begin_write().unwrap();
        {
            let chunks: redb::TableDefinition<(u64, u32), &[u8]> = redb::TableDefinition::new("blob_chunks");
            let mut table = transaction.open_table(chunks).unwrap();
            // Blob ids grow with delivery: the first key is DAMAGED's first chunk.
            let first = table.iter().unwrap().next().unwrap().unwrap().0.value();
            assert_eq!(first.1, 0);
            table.remove(first).unwrap();
            let previews: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("previews");
            let mut table = transaction.open_table(previews).unwrap();
            assert!(table.remove(first.0).unwrap().is_some(), "DAMAGED had a stored preview");
        }
        transaction.commit().unwrap();
    }
    server.spawn();
    server
}

/// Reads until the server closes the connection; returns the last line.
fn last_line_before_close(client: &mut Client) -> String {
    let rest = client.read_to_end();
    rest.lines().last().unwrap_or_default().to_string()
}

#[test]
fn unreadable_message_ends_the_session_with_bye() {
    let server = damaged_server();
    let mut bystander = server.login("alice", "secret");
    bystander.ok("SELECT INBOX");

    // Mid-literal: BODY[]'s literal is announced before the bytes are
    // read; the promise cannot be kept, so BYE and close.
    let mut client = server.alice_inbox();
    let tag = client.next_tag();
    client.send(&format!("{tag} FETCH 1 BODY.PEEK[]"));
    let last = last_line_before_close(&mut client);
    assert!(last.starts_with("* BYE [CORRUPTION]"), "{last:?}");

    // Before any response: the preview must be made from the missing
    // bytes. Before the fix: `NO [CORRUPTION]`, and the session went on.
    let mut client = server.alice_inbox();
    let tag = client.next_tag();
    client.send(&format!("{tag} FETCH 1 PREVIEW"));
    let last = last_line_before_close(&mut client);
    assert!(last.starts_with("* BYE [CORRUPTION]"), "{last:?}");
    assert!(!last.contains(&tag), "{last:?}");

    // The intact message and the other session are fine.
    let mut client = server.alice_inbox();
    let untagged = client.ok("FETCH 2 (PREVIEW BODY.PEEK[TEXT])");
    assert!(untagged[0].contains("still readable"), "{untagged:?}");
    // Flags and sizes of the damaged one come from its record, not its bytes.
    client.ok("FETCH 1 (FLAGS RFC822.SIZE UID)");
    bystander.ok("NOOP");
    // The log reaches the test through a reader thread: wait for it.
    server.wait_for_log("FETCH could not read message data");
}

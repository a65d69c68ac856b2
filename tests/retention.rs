//! Retention (issue 16): old messages in Trash and Junk are expunged by
//! themselves; young ones, and other mailboxes, are kept; a user's own
//! setting wins; a session with the mailbox selected is told at once.
//!
//! Messages are made old by hand: the server is stopped, and the save
//! dates (when each message was put into its mailbox) of UIDs 1 and 2 of
//! every mailbox are moved 40 days back with redb, before it starts again.

mod common;

use common::*;
use redb::ReadableTable;

const SWEEP_EVERY_SECOND: &str = "[retention]\nevery = \"1s\"\n";

/// Moves the save dates of UIDs 1 and 2 of every mailbox 40 days back.
fn age_first_two(server: &mut Server) {
    assert!(server.stop().success());
    {
        let database = redb::Database::create(server.data_dir().join("roost.redb")).unwrap();
        let transaction = database.begin_write().unwrap();
        {
            // The table's rows are bytes (`store::rows`): the key is the
            // mailbox id and the UID, the value unix seconds, big endian.
            let definition: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("save_dates");
            let mut table = transaction.open_table(definition).unwrap();
            let rows: Vec<(Vec<u8>, i64)> = table
                .iter()
                .unwrap()
                .map(|entry| entry.unwrap())
                .map(|(key, value)| (key.value().to_vec(), i64::from_be_bytes(value.value().try_into().unwrap())))
                .collect();
            let mut aged = 0;
            for (key, saved) in rows {
                let uid = u32::from_be_bytes(key[8..12].try_into().unwrap());
                if uid <= 2 {
                    table.insert(key.as_slice(), (saved - 40 * 86_400).to_be_bytes().as_slice()).unwrap();
                    aged += 1;
                }
            }
            assert!(aged >= 12, "every message has a save date: {aged}");
        }
        transaction.commit().unwrap();
    }
    server.spawn();
}

fn messages_in(client: &mut Client, mailbox: &str) -> u32 {
    let untagged = client.ok(&format!("STATUS {mailbox} (MESSAGES)"));
    let line = untagged.iter().find(|line| line.starts_with("* STATUS")).expect("a STATUS response");
    let count = line.rsplit("MESSAGES ").next().unwrap().trim_end_matches(')');
    count.parse().unwrap_or_else(|_| panic!("{line:?}"))
}

#[test]
fn old_trash_and_junk_go_young_messages_and_other_mailboxes_stay() {
    let tables =
        format!("{SWEEP_EVERY_SECOND}[retention.user.bob]\ntrash = \"off\"\n[retention.user.alice]\nsent = \"10d\"\n");
    let mut server = Server::start_with(Options { extra_tables: tables, ..Default::default() });
    for (user, password) in [("alice", "secret"), ("bob", "hunter2")] {
        let mut client = server.login(user, password);
        for mailbox in ["INBOX", "Trash", "Junk", "Sent", "Drafts"] {
            for index in 1..=3 {
                client.append_ok(mailbox, &message(&format!("{user}-{mailbox}-{index}"), "text"));
            }
        }
        client.shutdown();
    }
    // Nothing is old yet: a sweep after the appends expunges nothing.
    let swept = server.log_text().matches("retention: looked at").count();
    server.wait_for_log_count("retention: looked at", swept + 2);
    let mut alice = server.login("alice", "secret");
    assert_eq!(messages_in(&mut alice, "Trash"), 3);
    alice.shutdown();
    assert!(!server.log_text().contains("retention: expunged"), "{}", server.log_text());

    age_first_two(&mut server);
    server.wait_for_log("retention: expunged 2 messages from alice/Trash (older than 30 days)");
    server.wait_for_log("retention: expunged 2 messages from alice/Junk (older than 30 days)");
    server.wait_for_log("retention: expunged 2 messages from alice/Sent (older than 10 days)");
    server.wait_for_log("retention: expunged 2 messages from bob/Junk (older than 30 days)");

    let mut alice = server.login("alice", "secret");
    for (mailbox, left) in [("Trash", 1), ("Junk", 1), ("Sent", 1), ("INBOX", 3), ("Drafts", 3)] {
        assert_eq!(messages_in(&mut alice, mailbox), left, "alice's {mailbox}");
    }
    // The young one is the one left.
    alice.ok("SELECT Trash");
    let untagged = alice.ok("FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(untagged.iter().any(|line| line.contains("UID 3 ")), "{untagged:?}");
    let mut bob = server.login("bob", "hunter2");
    for (mailbox, left) in [("Trash", 3), ("Junk", 1), ("Sent", 3)] {
        assert_eq!(messages_in(&mut bob, mailbox), left, "bob's {mailbox}");
    }
    let log = server.log_text();
    assert!(!log.contains("from bob/Trash") && !log.contains("from alice/INBOX"), "{log}");
    assert!(run_cli(&["check", "--config", &server.config_arg()], None).0, "roost check is clean");
}

#[test]
fn a_session_with_trash_selected_sees_the_expunge() {
    // Alice's Trash keeps messages three seconds.
    let tables = format!("{SWEEP_EVERY_SECOND}[retention.user.alice]\ntrash = \"3s\"\n");
    let server = Server::start_with(Options { extra_tables: tables, ..Default::default() });
    let mut alice = server.login("alice", "secret");
    alice.append_ok("Trash", &message("doomed", "soon gone"));
    alice.ok("SELECT Trash");
    let mut watcher = server.login("alice", "secret");
    watcher.ok("ENABLE QRESYNC");
    watcher.ok("SELECT Trash");
    // Bounded: a sweep a second, the message 3 s old.
    let mut told = false;
    for _ in 0..100 {
        let untagged = alice.ok("NOOP");
        if untagged.iter().any(|line| line == "* 1 EXPUNGE") {
            told = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(told, "no EXPUNGE came:\n{}", server.log_text());
    let untagged = watcher.ok("NOOP");
    assert!(untagged.iter().any(|line| line == "* VANISHED 1"), "QRESYNC: VANISHED (RFC 7162 §3.2.10): {untagged:?}");
    server.wait_for_log("retention: expunged 1 message from alice/Trash (older than 3 seconds)");
    assert_eq!(messages_in(&mut alice, "Trash"), 0);
}

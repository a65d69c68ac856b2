//! RFC 9208 QUOTA and the quota limits (issue 16): every command that
//! adds mail refused over the limit (`NO [OVERQUOTA]`), LMTP per
//! recipient in both modes, warnings once per crossing, single-instance
//! messages counted for each mailbox, GETQUOTA/GETQUOTAROOT/SETQUOTA,
//! and `roost user quota` with the server running and stopped.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;

/// A server with these `[quota]` settings and no warnings (they are
/// messages too, and would change what the tests count), unless given.
fn with_quota(quota: &str) -> Server {
    let warn = if quota.contains("warn") { "" } else { "warn = []\n" };
    Server::start_with(Options { extra_tables: format!("[quota]\n{warn}{quota}\n"), ..Default::default() })
}

/// A message of exactly `size` bytes.
fn sized(size: usize) -> Vec<u8> {
    let mut text = b"Subject: filler\r\n\r\n".to_vec();
    text.resize(size, b'x');
    text
}

/// The `* QUOTA root (...)` resources of an answer: (name, usage, limit).
fn quota_of(untagged: &[Response], root: &str) -> Vec<(String, u64, u64)> {
    let line = untagged
        .iter()
        .find(|line| line.starts_with(&format!("* QUOTA {root} ")))
        .unwrap_or_else(|| panic!("no QUOTA {root} in {untagged:?}"));
    let list = line.split_once('(').unwrap().1.trim_end_matches(')');
    let words: Vec<&str> = list.split_whitespace().collect();
    words
        .chunks(3)
        .map(|triple| (triple[0].to_string(), triple[1].parse().unwrap(), triple[2].parse().unwrap()))
        .collect()
}

/// One LMTP transaction over the Unix socket: the reply to DATA for each
/// recipient, in order.
fn lmtp(server: &Server, recipients: &[&str], message: &[u8]) -> Vec<String> {
    let stream = UnixStream::connect(server.lmtp_socket()).expect("the LMTP socket");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut replies = Vec::new();
    let read_reply = |reader: &mut BufReader<UnixStream>| loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "LMTP closed");
        if line.as_bytes().get(3) != Some(&b'-') {
            return line.trim_end().to_string();
        }
    };
    read_reply(&mut reader);
    let mut script = vec!["LHLO test".to_string(), "MAIL FROM:<sender@example.org>".to_string()];
    script.extend(recipients.iter().map(|to| format!("RCPT TO:<{to}>")));
    script.push("DATA".into());
    for line in script {
        writer.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let reply = read_reply(&mut reader);
        assert!(reply.starts_with('2') || reply.starts_with('3'), "{line}: {reply}");
    }
    writer.write_all(message).unwrap();
    writer.write_all(b"\r\n.\r\n").unwrap();
    for _ in recipients {
        replies.push(read_reply(&mut reader));
    }
    replies
}

/// How many messages of `user`'s INBOX have `subject` in their Subject,
/// waiting (bounded) until there are at least `at_least`.
fn count_subject(server: &Server, user: &str, password: &str, subject: &str, at_least: usize) -> usize {
    let mut client = server.login(user, password);
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        client.ok("SELECT INBOX");
        let found = search_result(&client.ok(&format!("SEARCH SUBJECT \"{subject}\""))).len();
        if found >= at_least || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn capabilities_and_roots_without_limits() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let capability = client.ok("CAPABILITY").join(" ");
    for name in ["QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "QUOTASET"] {
        assert!(capability.split_whitespace().any(|word| word == name), "{name} missing: {capability}");
    }
    // No limit anywhere: no root, and GETQUOTA says so.
    let untagged = client.ok("GETQUOTAROOT INBOX");
    assert_eq!(untagged, vec!["* QUOTAROOT \"INBOX\"".to_string()]);
    assert!(client.no("GETQUOTA \"\"").contains("[NONEXISTENT]"));
    assert!(client.no("GETQUOTA nothing").contains("[NONEXISTENT]"));
    assert!(client.no("GETQUOTAROOT Missing").contains("[NONEXISTENT]"));
    // Nobody is an admin: SETQUOTA is refused.
    assert!(client.no("SETQUOTA \"\" (STORAGE 100)").contains("[NOPERM]"));
    client.bad("SETQUOTA \"\" (STORAGE)");
}

#[test]
fn each_command_that_adds_mail_is_refused_over_the_limit_and_deleting_frees_room() {
    let server = with_quota("storage = 4096");
    let mut client = server.alice_inbox();
    client.append_ok("INBOX", &sized(2500));
    let untagged = client.ok("GETQUOTAROOT INBOX");
    assert!(untagged.contains(&"* QUOTAROOT \"INBOX\" \"\"".to_string()), "{untagged:?}");
    assert_eq!(quota_of(&untagged, "\"\""), vec![("STORAGE".to_string(), 3, 4)]);

    // APPEND.
    let (_, tagged) = client.append("INBOX", "", &sized(2500));
    assert!(tagged.starts_with("NO [OVERQUOTA]"), "{tagged}");
    assert!(tagged.contains("storage limit"), "{tagged}");
    // MULTIAPPEND: 1500 + 1500 goes over, so neither is stored.
    let tag = client.next_tag();
    let first = sized(1500);
    client.send(&format!("{tag} APPEND INBOX {{{}+}}", first.len()));
    client.send_raw(&first);
    client.send_raw(format!(" {{{}+}}\r\n", first.len()).as_bytes());
    client.send_raw(&first);
    client.send_raw(b"\r\n");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("NO [OVERQUOTA]"), "{tagged}");
    // CATENATE: a message built from a literal over the limit.
    let tag = client.next_tag();
    let big = sized(3000);
    client.send(&format!("{tag} APPEND INBOX CATENATE (TEXT {{{}+}}", big.len()));
    client.send_raw(&big);
    client.send_raw(b")\r\n");
    let (_, tagged) = client.until_tagged(&tag);
    assert!(tagged.starts_with("NO [OVERQUOTA]"), "{tagged}");
    // COPY doubles the 2500 bytes: over.
    assert!(client.no("COPY 1 Archive").starts_with("NO [OVERQUOTA]"));
    client.append_ok("INBOX", &sized(1500));
    // Exactly at the limit: a MOVE within alice's mailboxes changes nothing.
    client.ok("MOVE 1 Archive");
    assert!(client.no("COPY 1 Archive").starts_with("NO [OVERQUOTA]"));
    // Deleting always works, and frees room.
    client.ok("STORE 1 +FLAGS (\\Deleted)");
    client.ok("EXPUNGE");
    client.append_ok("INBOX", &sized(1500));
    let untagged = client.ok("GETQUOTA \"\"");
    assert_eq!(quota_of(&untagged, "\"\""), vec![("STORAGE".to_string(), 4, 4)]);
}

#[test]
fn lmtp_refuses_only_the_recipient_over_quota_permanently_by_default() {
    let server = with_quota("messages = 1");
    let mut alice = server.alice_inbox();
    alice.append_ok("INBOX", &sized(100));
    let replies = lmtp(&server, &["alice", "bob"], &sized(200));
    assert!(replies[0].starts_with("552 5.2.2 <alice> Mailbox full:"), "{replies:?}");
    assert!(replies[0].contains("message limit of 1"), "{replies:?}");
    assert!(replies[1].starts_with("250 "), "{replies:?}");
    server.wait_for_log("refused mail from <sender@example.org> to <alice>: over quota");
    let mut bob = server.login("bob", "hunter2");
    let status = bob.ok("STATUS INBOX (MESSAGES)").join(" ");
    assert!(status.contains("MESSAGES 1"), "{status}");
    // Only alice: the whole delivery is refused, with her reason.
    let replies = lmtp(&server, &["alice"], &sized(200));
    assert!(replies[0].starts_with("552 5.2.2"), "{replies:?}");
}

#[test]
fn lmtp_over_quota_can_be_a_temporary_failure() {
    let server = with_quota("messages = 1\nlmtp_over_quota = \"temporary\"");
    server.alice_inbox().append_ok("INBOX", &sized(100));
    let replies = lmtp(&server, &["bob", "alice"], &sized(200));
    assert!(replies[0].starts_with("250 "), "{replies:?}");
    assert!(replies[1].starts_with("452 4.2.2 <alice> Mailbox full:"), "{replies:?}");
}

#[test]
fn a_message_delivered_to_several_users_counts_fully_for_each() {
    let server = with_quota("storage = \"1M\"");
    let replies = lmtp(&server, &["alice", "bob"], &sized(5000));
    assert!(replies.iter().all(|reply| reply.starts_with("250 ")), "{replies:?}");
    for (user, password) in [("alice", "secret"), ("bob", "hunter2")] {
        let mut client = server.login(user, password);
        let untagged = client.ok("GETQUOTA \"\"");
        let storage = &quota_of(&untagged, "\"\"")[0];
        // 5000 bytes plus the Return-Path line LMTP adds: 5 KiB rounded up.
        assert_eq!((storage.0.as_str(), storage.1, storage.2), ("STORAGE", 5, 1024), "{user}: {untagged:?}");
    }
}

#[test]
fn warnings_arrive_once_per_upward_crossing_and_again_after_falling_below() {
    let mut server = Server::start_with(Options {
        extra_tables: "[alerts]\nadmin = \"bob\"\n[quota]\nstorage = 10000\nwarn = [50, 90]\n".into(),
        ..Default::default()
    });
    let mut client = server.alice_inbox();
    client.append_ok("INBOX", &sized(5500));
    assert_eq!(count_subject(&server, "alice", "secret", "50% full", 1), 1);
    // Still above 50% (the warning itself, about 760 bytes, counts too):
    // no second warning, not even after a restart. The 90% one arriving
    // proves the task had its chance to send a wrong one first.
    client.append_ok("INBOX", &sized(500));
    server.restart();
    let mut client = server.alice_inbox();
    client.append_ok("INBOX", &sized(2300));
    assert_eq!(count_subject(&server, "alice", "secret", "90% full", 1), 1);
    assert_eq!(count_subject(&server, "alice", "secret", "50% full", 1), 1);
    // The highest level goes to the admin too; the warning itself was
    // stored past the limit.
    assert_eq!(count_subject(&server, "bob", "hunter2", "90% full", 1), 1);
    assert_eq!(count_subject(&server, "bob", "hunter2", "50% full", 0), 0);
    // Falling below both levels re-arms them.
    client.ok("SELECT INBOX");
    client.ok("STORE 1:* +FLAGS (\\Deleted)");
    client.ok("EXPUNGE");
    client.append_ok("INBOX", &sized(6000));
    assert_eq!(count_subject(&server, "alice", "secret", "50% full", 1), 1);
    let log = server.wait_for_log_count("quota: warned alice at 50%", 2);
    assert!(log.contains("quota: warned alice at 90%"), "{log}");
}

#[test]
fn setquota_is_for_admins_and_sets_exactly_the_listed_limits() {
    let server = with_quota("admins = [\"bob\"]\nhousehold_storage = \"10M\"");
    let mut alice = server.login("alice", "secret");
    assert!(alice.no("SETQUOTA \"\" (STORAGE 100)").contains("[NOPERM]"));
    // bob's root is not alice's to read: nothing of bob's is shared with her.
    assert!(alice.no("GETQUOTA Shared/bob").contains("[NONEXISTENT]"));
    let untagged = alice.ok("GETQUOTAROOT INBOX");
    assert!(untagged.contains(&"* QUOTAROOT \"INBOX\" household".to_string()), "{untagged:?}");
    assert_eq!(quota_of(&untagged, "household")[0].2, 10 * 1024);

    let mut bob = server.login("bob", "hunter2");
    let untagged = bob.ok("SETQUOTA Shared/alice (STORAGE 100 MESSAGE 5)");
    assert_eq!(
        quota_of(&untagged, "Shared/alice"),
        vec![("STORAGE".to_string(), 0, 100), ("MESSAGE".to_string(), 0, 5)]
    );
    assert!(bob.no("SETQUOTA Shared/alice (MAILBOX 3)").contains("not supported"));
    assert!(bob.no("SETQUOTA household (STORAGE 3)").contains("config file"));
    assert!(bob.no("SETQUOTA Shared/nobody (STORAGE 3)").contains("[NONEXISTENT]"));
    let untagged = alice.ok("GETQUOTA \"\"");
    assert_eq!(quota_of(&untagged, "\"\"").len(), 2, "{untagged:?}");
    let (_, tagged) = alice.append("INBOX", "", &sized(200 * 1024));
    assert!(tagged.starts_with("NO [OVERQUOTA]"), "{tagged}");
    // Only STORAGE listed: the message limit is gone.
    bob.ok("SETQUOTA Shared/alice (STORAGE 100)");
    let untagged = alice.ok("GETQUOTA \"\"");
    assert_eq!(quota_of(&untagged, "\"\""), vec![("STORAGE".to_string(), 0, 100)]);
}

#[test]
fn the_household_total_counts_every_owner() {
    let server = with_quota("household_storage = 3000");
    server.alice_inbox().append_ok("INBOX", &sized(2000));
    let mut bob = server.login("bob", "hunter2");
    let (_, tagged) = bob.append("INBOX", "", &sized(1500));
    assert!(tagged.starts_with("NO [OVERQUOTA]") && tagged.contains("household"), "{tagged}");
    bob.append_ok("INBOX", &sized(900));
}

#[test]
fn user_quota_works_with_the_server_running_and_stopped() {
    let mut server = Server::start();
    let config = server.config_arg();
    let cli = |words: &[&str]| {
        let mut all = vec!["user", "quota"];
        all.extend_from_slice(words);
        all.extend_from_slice(&["--config", &config]);
        let (ok, stdout, stderr) = run_cli(&all, None);
        assert!(ok, "roost user quota {words:?}: {stderr}");
        stdout
    };
    server.alice_inbox().append_ok("INBOX", &sized(2048));
    let shown = cli(&["alice"]);
    assert!(shown.contains("alice: 2.0 KiB in 1 message(s)"), "{shown}");
    assert!(shown.contains("storage limit: none, the [quota] default"), "{shown}");
    let shown = cli(&["alice", "--storage", "1M", "--messages", "10"]);
    assert!(shown.contains("storage limit: 1.0 MiB (0% used), set for this user"), "{shown}");
    let mut client = server.login("alice", "secret");
    let untagged = client.ok("GETQUOTA \"\"");
    assert_eq!(quota_of(&untagged, "\"\""), vec![("STORAGE".into(), 2, 1024), ("MESSAGE".into(), 1, 10)]);
    drop(client);
    server.stop();
    let shown = cli(&["alice"]);
    assert!(shown.contains("message limit: 10 (10% used), set for this user"), "{shown}");
    let shown = cli(&["alice", "--messages", "20"]);
    assert!(shown.contains("message limit: 20 (5% used)"), "{shown}");
    assert!(shown.contains("storage limit: 1.0 MiB"), "{shown}");
    let shown = cli(&["alice", "--default"]);
    assert!(shown.contains("storage limit: none, the [quota] default"), "{shown}");
    let (ok, _, stderr) = run_cli(&["user", "quota", "nobody", "--config", &config], None);
    assert!(!ok && stderr.contains("no user"), "{stderr}");
    let (ok, _, stderr) = run_cli(&["user", "quota", "alice", "--storage", "5X", "--config", &config], None);
    assert!(!ok && stderr.contains("unknown unit"), "{stderr}");
    server.spawn();
    let mut client = server.login("alice", "secret");
    assert!(client.no("GETQUOTA \"\"").contains("[NONEXISTENT]"));
    // `roost check` agrees with the usage kept.
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &config], None);
    assert!(ok && stdout.contains("no damage found"), "{stdout}{stderr}");
}

#[test]
fn status_and_list_status_tell_the_size_of_the_deleted_messages() {
    let server = Server::start();
    let mut client = server.alice_inbox();
    client.append_ok("INBOX", &sized(700));
    client.append_ok("INBOX", &sized(300));
    let status = client.ok("STATUS INBOX (DELETED DELETED-STORAGE)");
    assert_eq!(status, vec!["* STATUS \"INBOX\" (DELETED 0 DELETED-STORAGE 0)".to_string()]);
    client.ok("STORE 1 +FLAGS (\\Deleted)");
    let status = client.ok("STATUS INBOX (DELETED-STORAGE DELETED)");
    assert_eq!(status, vec!["* STATUS \"INBOX\" (DELETED-STORAGE 700 DELETED 1)".to_string()]);
    let listed = client.ok("LIST \"\" INBOX RETURN (STATUS (DELETED-STORAGE))");
    assert!(listed.contains(&"* STATUS \"INBOX\" (DELETED-STORAGE 700)".to_string()), "{listed:?}");
    client.ok("STORE 1 -FLAGS (\\Deleted)");
    client.ok("STORE 2 +FLAGS (\\Deleted)");
    client.ok("COPY 2 Archive");
    client.ok("EXPUNGE");
    let status = client.ok("STATUS INBOX (DELETED-STORAGE)");
    assert_eq!(status, vec!["* STATUS \"INBOX\" (DELETED-STORAGE 0)".to_string()]);
    let status = client.ok("STATUS Archive (DELETED-STORAGE)");
    assert_eq!(status, vec!["* STATUS \"Archive\" (DELETED-STORAGE 300)".to_string()]);
}

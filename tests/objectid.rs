//! OBJECTID (RFC 8474) and SAVEDATE (RFC 8514) over a real connection:
//! MAILBOXID through RENAME, DELETE and CREATE; EMAILID through COPY, MOVE
//! and a delivery to two users; THREADID NIL; save dates of APPEND and COPY,
//! and of a database from before save dates.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use common::*;

/// The one objectid inside `(id)` (RFC 8474 §4, §5).
fn parenthesised(list: &str) -> String {
    let inner = values(list.strip_prefix('(').and_then(|list| list.strip_suffix(')')).expect("a list"));
    assert_eq!(inner.len(), 1, "one objectid in {list:?}");
    inner[0].clone()
}

/// The MAILBOXID STATUS gives for `mailbox`.
fn status_id(client: &mut Client, mailbox: &str) -> String {
    let items = client.run_ok(&format!("STATUS {mailbox} (MESSAGES MAILBOXID)")).status_values(mailbox);
    parenthesised(items.get("MAILBOXID").unwrap_or_else(|| panic!("no MAILBOXID in {items:?}")))
}

/// The MAILBOXID in CREATE's tagged OK.
fn create(client: &mut Client, mailbox: &str) -> String {
    let (_, tagged) = client.command(&format!("CREATE {mailbox}"));
    let status = Status::parse(&tagged);
    assert!(status.is("OK") && status.code().is("MAILBOXID"), "CREATE {mailbox}: {tagged}");
    parenthesised(&status.code().data)
}

/// The MAILBOXID a SELECT (or EXAMINE) names, on an untagged OK.
fn selected_id(client: &mut Client, command: &str) -> String {
    let responses = client.run_ok(command);
    let status =
        responses.status_with("MAILBOXID").unwrap_or_else(|| panic!("{command}: no MAILBOXID in {responses:?}"));
    assert!(status.is("OK"), "{status:?}");
    parenthesised(&status.code().data)
}

/// (sequence number, EMAILID) of every message of the selected mailbox.
fn email_ids(client: &mut Client) -> Vec<String> {
    let responses = client.run_ok("FETCH 1:* (EMAILID THREADID)");
    let fetches = responses.fetches();
    let numbers: Vec<u32> = fetches.iter().map(|fetch| fetch.number.unwrap()).collect();
    assert_eq!(numbers, (1..=fetches.len() as u32).collect::<Vec<_>>(), "in sequence order: {responses:?}");
    fetches
        .iter()
        .map(|line| {
            assert_eq!(line.fetch_item("THREADID").as_deref(), Some("NIL"), "no threads, so THREADID NIL: {line:?}");
            let id = parenthesised(&line.fetch_item("EMAILID").unwrap_or_else(|| panic!("no EMAILID: {line:?}")));
            assert!(
                (1..=255).contains(&id.len())
                    && id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'),
                "RFC 8474 §3 objectid: {id}"
            );
            id
        })
        .collect()
}

#[test]
fn mailbox_ids_survive_rename_and_change_with_delete() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    let capabilities = capabilities(&mut client);
    assert!(capabilities.contains("OBJECTID") && capabilities.contains("SAVEDATE"), "{capabilities:?}");

    let created = create(&mut client, "Projects");
    assert_eq!(status_id(&mut client, "Projects"), created);
    assert_eq!(selected_id(&mut client, "SELECT Projects"), created);
    assert_eq!(selected_id(&mut client, "EXAMINE Projects"), created);
    client.ok("UNSELECT");
    // Every mailbox has its own.
    let inbox = status_id(&mut client, "INBOX");
    let archive = status_id(&mut client, "Archive");
    assert!(inbox != archive && inbox != created && archive != created);

    // RFC 8474 §4.2: RENAME keeps the id.
    client.ok("RENAME Projects Work");
    assert_eq!(status_id(&mut client, "Work"), created);
    // LIST-STATUS (RFC 5819) carries it too.
    let listed = client.run_ok("LIST \"\" \"*\" RETURN (STATUS (MAILBOXID))");
    let items = listed.status_values("Work");
    assert_eq!(items.keys().collect::<Vec<_>>(), ["MAILBOXID"], "{listed:?}");
    assert_eq!(parenthesised(&items["MAILBOXID"]), created, "{listed:?}");

    // DELETE then CREATE of the same name: a new mailbox, a new id.
    client.ok("DELETE Work");
    let again = create(&mut client, "Work");
    assert_ne!(again, created);
    assert_eq!(status_id(&mut client, "Work"), again);

    // A name with children: DELETE leaves a \Noselect placeholder, and
    // CREATE of it makes a new mailbox, with a new id.
    create(&mut client, "Trips/2024");
    let parent = status_id(&mut client, "Trips");
    client.ok("DELETE Trips");
    client.no("STATUS Trips (MAILBOXID)");
    let remade = create(&mut client, "Trips");
    assert_ne!(remade, parent);
    assert_eq!(status_id(&mut client, "Trips"), remade);

    // RENAME INBOX moves the messages to a new mailbox; INBOX stays itself.
    client.append_ok("INBOX", &message("old", "kept"));
    client.ok("RENAME INBOX Saved");
    assert_eq!(status_id(&mut client, "INBOX"), inbox);
    let saved = status_id(&mut client, "Saved");
    assert!(saved != inbox && saved != created && saved != again);

    // Ids outlive the session.
    let mut other = server.login("alice", "secret");
    assert_eq!(status_id(&mut other, "Trips"), remade);
    assert_eq!(status_id(&mut other, "Archive"), archive);

    // Errors: an unknown status item is BAD, a missing mailbox NO.
    client.bad("STATUS INBOX (MAILBOXID BOGUS)");
    client.no("STATUS Nowhere (MAILBOXID)");
}

#[test]
fn email_ids_follow_copies_and_moves() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    client.append_ok("INBOX", &message("one", "first"));
    client.append_ok("INBOX", &message("two", "second"));
    // The same bytes uploaded twice: two messages, two ids (a decision:
    // see imap::object_id).
    client.append_ok("INBOX", &message("one", "first"));
    client.ok("SELECT INBOX");
    let ids = email_ids(&mut client);
    assert_eq!(ids.len(), 3);
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2], "{ids:?}");

    // COPY and MOVE keep the id (RFC 8474 §5.1).
    client.ok("COPY 1 Archive");
    client.ok("MOVE 2 Archive");
    assert_eq!(email_ids(&mut client), [ids[0].clone(), ids[2].clone()]);
    client.ok("SELECT Archive");
    assert_eq!(email_ids(&mut client), [ids[0].clone(), ids[1].clone()]);
    // UID FETCH says it too, and a copy of a copy keeps it.
    let untagged = client.ok("UID FETCH 1:* (EMAILID)");
    let found: Vec<String> =
        fetches(&untagged).into_iter().map(|(_, line)| parenthesised(&item(line, "EMAILID"))).collect();
    assert_eq!(found, [ids[0].clone(), ids[1].clone()], "{untagged:?}");
    client.ok("COPY 1:2 Junk");
    client.ok("SELECT Junk");
    assert_eq!(email_ids(&mut client), [ids[0].clone(), ids[1].clone()]);

    // SEARCH EMAILID finds every copy in the selected mailbox, and only it.
    client.ok("SELECT INBOX");
    assert_eq!(search_result(&client.ok(&format!("SEARCH EMAILID {}", ids[0]))), [1]);
    assert_eq!(search_result(&client.ok(&format!("SEARCH EMAILID {}", ids[2]))), [2]);
    assert_eq!(search_result(&client.ok(&format!("SEARCH EMAILID {}", ids[1]))), Vec::<u32>::new());
    assert_eq!(search_result(&client.ok(&format!("SEARCH NOT EMAILID {}", ids[0]))), [2]);
    assert_eq!(search_result(&client.ok(&format!("SEARCH OR EMAILID {} EMAILID {}", ids[0], ids[2]))), [1, 2]);
    // Not one of ours, but a valid objectid: nothing.
    assert_eq!(search_result(&client.ok("SEARCH EMAILID zz-9_Q")), Vec::<u32>::new());
    // RFC 8474 §5.2: no threads, so THREADID finds nothing.
    assert_eq!(search_result(&client.ok("SEARCH THREADID T1")), Vec::<u32>::new());
    assert_eq!(search_result(&client.ok("SEARCH NOT THREADID T1")), [1, 2]);
    // Bad objectids are syntax errors.
    client.bad("SEARCH EMAILID");
    client.bad("SEARCH EMAILID a.b");
    client.bad(&format!("SEARCH EMAILID {}", "x".repeat(256)));
    client.bad("SEARCH THREADID \"\"");
    client.bad("FETCH 1 (EMAILIDS)");

    // One LMTP delivery to two users is one stored message: the same EMAILID
    // in both accounts.
    let stream = UnixStream::connect(server.lmtp_socket()).expect("connect to LMTP");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut exchange = |send: &[u8], expect: &str, replies: usize| {
        writer.write_all(send).unwrap();
        for _ in 0..replies {
            loop {
                line.clear();
                assert!(reader.read_line(&mut line).unwrap() > 0, "LMTP closed");
                if line.as_bytes().get(3) != Some(&b'-') {
                    break;
                }
            }
            assert!(line.starts_with(expect), "{:?} gave {line:?}", String::from_utf8_lossy(send));
        }
    };
    exchange(b"", "220", 1);
    exchange(b"LHLO test.example\r\n", "250", 1);
    exchange(b"MAIL FROM:<carol@example.org>\r\n", "250", 1);
    exchange(b"RCPT TO:<alice>\r\n", "250", 1);
    exchange(b"RCPT TO:<bob>\r\n", "250", 1);
    exchange(b"DATA\r\n", "354", 1);
    let mut data = message("family", "to both");
    data.extend_from_slice(b".\r\n");
    exchange(&data, "250", 2);
    client.ok("SELECT INBOX");
    let alice = email_ids(&mut client);
    let mut bob = server.login("bob", "hunter2");
    bob.ok("SELECT INBOX");
    let bobs = email_ids(&mut bob);
    assert_eq!(alice.len(), 3);
    assert_eq!(bobs, [alice[2].clone()], "one delivery, one EMAILID");
    assert!(!ids.contains(&alice[2]));
}

/// (day-month-year, hh:mm:ss) of the SAVEDATE of the one FETCH response
/// among `untagged`, as a sortable key.
fn save_date(untagged: &[Response]) -> (i32, u32, u32, String) {
    let text = item(fetch_of(untagged, 1), "SAVEDATE");
    assert_eq!(text.len(), 26, "a date-time: {untagged:?}");
    assert!(text.ends_with(" +0000"), "saved in UTC: {text}");
    let (date, time) = text.trim_start().split_once(' ').unwrap();
    let mut parts = date.split('-');
    let day: u32 = parts.next().unwrap().parse().unwrap();
    let name = parts.next().unwrap();
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|known| *known == name)
        .unwrap() as u32
        + 1;
    let year: i32 = parts.next().unwrap().parse().unwrap();
    (year, month, day, time[..8].to_string())
}

/// An IMAP date (`6-Dec-2026`) of a save date key.
fn imap_day((year, month, day, _): &(i32, u32, u32, String)) -> String {
    let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!("{day}-{}-{year}", names[*month as usize - 1])
}

#[test]
fn save_dates_of_append_and_copy() {
    let server = Server::start();
    let mut client = server.login("alice", "secret");
    // An INTERNALDATE long ago: the save date is now all the same.
    let (_, tagged) = client.append("INBOX", "\"01-Jan-2001 10:00:00 +0100\"", &message("old", "body"));
    assert!(tagged.starts_with("OK"), "{tagged}");
    client.ok("SELECT INBOX");
    let untagged = client.ok("FETCH 1 (INTERNALDATE SAVEDATE)");
    assert_eq!(item(fetch_of(&untagged, 1), "INTERNALDATE"), " 1-Jan-2001 10:00:00 +0100", "{untagged:?}");
    let appended = save_date(&untagged);
    assert!(appended.0 >= 2025, "saved now, not in 2001: {untagged:?}");

    // A copy is saved anew (RFC 8514 §3), later than the original was: the
    // store keeps seconds, so wait for the next one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    client.ok("COPY 1 Archive");
    client.ok("SELECT Archive");
    let untagged = client.ok("UID FETCH 1:* (SAVEDATE INTERNALDATE)");
    let internal = item(fetch_of(&untagged, 1), "INTERNALDATE");
    assert_eq!(internal, " 1-Jan-2001 10:00:00 +0100", "COPY keeps INTERNALDATE: {untagged:?}");
    let copied = save_date(&untagged);
    assert!(copied > appended, "{copied:?} after {appended:?}");
    // MOVE too.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    client.ok("MOVE 1 Junk");
    client.ok("SELECT Junk");
    let untagged = client.ok("FETCH 1 (SAVEDATE)");
    let moved = save_date(&untagged);
    assert!(moved > copied, "{moved:?} after {copied:?}");

    // SEARCH by save date, by the day (RFC 8514 §4.3); INTERNALDATE is
    // another thing.
    client.ok("SELECT INBOX");
    client.append_ok("INBOX", &message("new", "body"));
    let today = imap_day(&appended);
    assert_eq!(search_result(&client.ok(&format!("SEARCH SAVEDSINCE {today}"))), [1, 2]);
    assert_eq!(search_result(&client.ok(&format!("SEARCH SAVEDON {today}"))), [1, 2]);
    // Two save date keys on one message read its date twice.
    let both = format!("SEARCH SAVEDSINCE {today} SAVEDON {today} NOT SAVEDBEFORE {today}");
    assert_eq!(search_result(&client.ok(&both)), [1, 2]);
    assert_eq!(search_result(&client.ok(&format!("SEARCH SAVEDBEFORE {today}"))), Vec::<u32>::new());
    assert_eq!(search_result(&client.ok("SEARCH SAVEDBEFORE 1-Jan-2002")), Vec::<u32>::new());
    assert_eq!(search_result(&client.ok("SEARCH BEFORE 1-Jan-2002")), [1]);
    assert_eq!(search_result(&client.ok("SEARCH SAVEDSINCE 1-Jan-2100")), Vec::<u32>::new());
    assert_eq!(search_result(&client.ok("SEARCH SAVEDATESUPPORTED")), [1, 2]);
    assert_eq!(search_result(&client.ok("SEARCH NOT SAVEDATESUPPORTED")), Vec::<u32>::new());
    client.bad("SEARCH SAVEDSINCE yesterday");
    client.bad("SEARCH SAVEDON");
    client.bad("FETCH 1 (SAVEDATE[])");
}

#[test]
fn messages_from_before_save_dates() {
    let mut server = Server::start();
    let mut client = server.login("alice", "secret");
    let (_, tagged) = client.append("INBOX", "\"01-Jan-2001 10:00:00 +0100\"", &message("old", "body"));
    assert!(tagged.starts_with("OK"), "{tagged}");
    client.ok("LOGOUT");
    assert!(server.stop().success());
    // A database an older roost wrote has no save dates at all.
    {
        let database = redb::Database::open(server.data_dir().join("roost.redb")).expect("open the database");
        let transaction = database.begin_write().unwrap();
        let table: redb::TableDefinition<(u64, u32), i64> = redb::TableDefinition::new("save_dates");
        assert!(transaction.delete_table(table).unwrap(), "the save dates table exists");
        transaction.commit().unwrap();
    }
    server.spawn();
    let mut client = server.login("alice", "secret");
    client.ok("SELECT INBOX");
    let untagged = client.ok("FETCH 1 (SAVEDATE EMAILID)");
    assert_eq!(item(fetch_of(&untagged, 1), "SAVEDATE"), "NIL", "RFC 8514 §3: not known, NIL: {untagged:?}");
    // SEARCH goes by INTERNALDATE for it (so SAVEDBEFORE still finds old mail).
    assert_eq!(search_result(&client.ok("SEARCH SAVEDBEFORE 1-Jan-2002")), [1]);
    assert_eq!(search_result(&client.ok("SEARCH SAVEDON 1-Jan-2001")), [1]);
    // New messages get one; copies of the old one too.
    client.append_ok("INBOX", &message("new", "body"));
    client.ok("COPY 1 INBOX");
    let untagged = client.ok("FETCH 2:3 (SAVEDATE)");
    for sequence in [2, 3] {
        let date = item(fetch_of(&untagged, sequence), "SAVEDATE");
        assert!(date != "NIL" && date.ends_with(" +0000"), "a save date for {sequence}: {untagged:?}");
    }
    assert_eq!(search_result(&client.ok("SEARCH SAVEDSINCE 1-Jan-2002")), [2, 3]);
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok && stdout.contains("no damage found"), "roost check: {stdout}{stderr}");
}

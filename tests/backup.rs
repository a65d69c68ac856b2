//! Backups (issue 16): `roost backup` while APPENDs run (the copy passes
//! `roost check` and holds every message byte for byte, as a server
//! started on it shows), with the server stopped, `roost restore` (refused
//! while the server runs), scheduled backups with `keep`, and the admin's
//! notice when a scheduled backup fails.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;

/// `roost WORDS... --config` of `server`: (success, stdout, stderr).
fn cli(server: &Server, words: &[&str]) -> (bool, String, String) {
    let config = server.config_arg();
    let mut all = words.to_vec();
    all.extend_from_slice(&["--config", &config]);
    run_cli(&all, None)
}

/// A message of about `size` bytes, distinct by `n`.
fn sized_message(n: usize, size: usize) -> Vec<u8> {
    let line = format!("line {n} of a message that spans many blob chunks when long enough\r\n");
    let body = line.repeat(size / line.len() + 1);
    message(&format!("message {n}"), &body)
}

/// A server with no users started on `database` (a copy of it).
fn server_on(database: &Path) -> Server {
    let mut server = Server::start_with(Options { users: Vec::new(), ..Options::default() });
    server.stop();
    let live = server.data_dir().join("roost.redb");
    std::fs::copy(database, &live).unwrap();
    server.spawn();
    server
}

/// `roost check` of the database file `path` (in a data directory of its
/// own): its output, which must say the check passed.
fn check_copy(path: &Path) -> String {
    let dir = TempDir::new("check-copy");
    std::fs::create_dir_all(dir.0.join("data")).unwrap();
    std::fs::copy(path, dir.0.join("data").join("roost.redb")).unwrap();
    let config = dir.0.join("roost.toml");
    std::fs::write(&config, config_text(&dir.0, &Options::default())).unwrap();
    let (ok, stdout, stderr) = run_cli(&["check", "--config", config.to_str().unwrap()], None);
    assert!(ok && stdout.contains("no damage found"), "roost check of {}: {stdout}{stderr}", path.display());
    stdout
}

/// UID FETCH of every message of `mailbox`, up to `last` (all: `*`).
fn bodies(client: &mut Client, mailbox: &str, last: &str) -> Vec<Response> {
    client.ok(&format!("SELECT {mailbox}"));
    client.ok(&format!("UID FETCH 1:{last} (UID INTERNALDATE BODY.PEEK[])"))
}

fn uid_of(response: &str) -> u32 {
    let rest = &response[response.find("UID ").expect("a UID") + 4..];
    rest[..rest.find([' ', ')']).unwrap()].parse().unwrap()
}

/// Alice's INBOX holds `messages` messages.
fn assert_inbox_holds(server: &Server, messages: u32) {
    let mut alice = server.login("alice", "secret");
    let (untagged, _) = alice.command("STATUS INBOX (MESSAGES)");
    assert!(untagged.iter().any(|line| line.contains(&format!("MESSAGES {messages})"))), "{untagged:?}");
}

/// The dated backups in `dir`, sorted.
fn dated_backups(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("roost-") && name.ends_with(".redb"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_backup_while_appends_run_is_a_consistent_byte_identical_copy() {
    let server = Server::start();
    let mut alice = server.login("alice", "secret");
    // Enough data for the copy to take a while (several batches, blobs
    // of many chunks), so appends land while it runs.
    for n in 0..120 {
        alice.append_ok("INBOX", &sized_message(n, if n % 10 == 0 { 200_000 } else { 20_000 }));
    }
    let mut bob = server.login("bob", "hunter2");
    bob.append_ok("INBOX", &sized_message(1000, 5_000));

    // Another client appends for as long as the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let port = server.imap_port;
    let appender = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let mut client = Client::new(Transport::Plain(stream));
            client.read_line();
            client.ok("LOGIN alice secret");
            let mut appended = 0;
            while !stop.load(Ordering::Relaxed) || appended < 5 {
                client.append_ok("INBOX", &sized_message(2000 + appended, 30_000));
                appended += 1;
            }
            appended
        })
    };
    let dest = server.dir.0.join("backup.redb");
    let (ok, stdout, stderr) = cli(&server, &["backup", dest.to_str().unwrap()]);
    stop.store(true, Ordering::Relaxed);
    let appended = appender.join().unwrap();
    assert!(ok, "roost backup: {stdout}{stderr}");
    assert!(stdout.contains("written and verified"), "{stdout}");
    assert!(appended >= 5);
    server.wait_for_log("written and verified");
    assert!(!server.dir.0.join("backup.redb.tmp").exists());
    check_copy(&dest);

    // A server on the copy: every message it holds is the original's,
    // byte for byte, and it holds a prefix of the INBOX's UIDs (one
    // snapshot: no message appended later without one before it).
    let copy = server_on(&dest);
    let mut copied = copy.login("alice", "secret");
    let in_copy = bodies(&mut copied, "INBOX", "*");
    assert!(in_copy.len() >= 120, "{} messages in the copy", in_copy.len());
    let uids: Vec<u32> = in_copy.iter().map(|response| uid_of(response)).collect();
    assert_eq!(uids, (1..=uids.len() as u32).collect::<Vec<_>>());
    let mut original = server.login("alice", "secret");
    let last = uids.len().to_string();
    assert_eq!(in_copy, bodies(&mut original, "INBOX", &last));
    let mut bob_copy = copy.login("bob", "hunter2");
    assert_eq!(bodies(&mut bob_copy, "INBOX", "*"), bodies(&mut bob, "INBOX", "*"));
    // The copy is a working database: it takes new mail.
    copied.append_ok("INBOX", &sized_message(5000, 100));
}

#[test]
fn a_backup_with_the_server_stopped_opens_the_file_itself() {
    let mut server = Server::start();
    let mut alice = server.login("alice", "secret");
    alice.append_ok("INBOX", &sized_message(1, 50_000));
    alice.ok("LOGOUT");
    server.stop();
    let dir = server.dir.0.join("backups");
    std::fs::create_dir(&dir).unwrap();
    // A directory: the backup gets a dated name in it.
    let (ok, stdout, stderr) = cli(&server, &["backup", dir.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("1 message(s) of 2 user(s)"), "{stdout}");
    let names = dated_backups(&dir);
    assert_eq!(names.len(), 1, "{names:?}");
    check_copy(&dir.join(&names[0]));
    // A backup never overwrites.
    let (ok, _, stderr) = cli(&server, &["backup", dir.join(&names[0]).to_str().unwrap()]);
    assert!(!ok && stderr.contains("never overwrites"), "{stderr}");
    // No destination and no [backup] dir: said so.
    let (ok, _, stderr) = cli(&server, &["backup"]);
    assert!(!ok && stderr.contains("[backup] dir"), "{stderr}");
    // A directory that is not there is not made into a file.
    let missing = format!("{}/", server.dir.0.join("usb").display());
    let (ok, _, stderr) = cli(&server, &["backup", &missing]);
    assert!(!ok && stderr.contains("does not exist"), "{stderr}");
    assert!(!server.dir.0.join("usb").exists());
    // The source was only read: the server starts on it as before.
    server.spawn();
    assert_inbox_holds(&server, 1);
}

#[test]
fn restore_puts_a_backup_back_only_with_the_server_stopped() {
    let mut server = Server::start();
    let mut alice = server.login("alice", "secret");
    alice.append_ok("INBOX", &sized_message(1, 10_000));
    let backup = server.dir.0.join("before.redb");
    let (ok, stdout, stderr) = cli(&server, &["backup", backup.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    alice.append_ok("INBOX", &sized_message(2, 10_000));
    alice.ok("LOGOUT");

    let (ok, _, stderr) = cli(&server, &["restore", backup.to_str().unwrap()]);
    assert!(!ok && stderr.contains("server is running"), "{stderr}");
    server.stop();

    // Not a backup: refused, and the database is left as it is.
    let garbage = server.dir.0.join("garbage.redb");
    std::fs::write(&garbage, vec![7u8; 100_000]).unwrap();
    let (ok, _, stderr) = cli(&server, &["restore", garbage.to_str().unwrap()]);
    assert!(!ok && stderr.contains("garbage.redb"), "{stderr}");
    let live = server.data_dir().join("roost.redb");
    assert!(live.exists());

    let (ok, stdout, stderr) = cli(&server, &["restore", backup.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    let kept: Vec<PathBuf> = std::fs::read_dir(server.data_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().contains("roost.redb.before-restore-"))
        .collect();
    assert_eq!(kept.len(), 1, "{stdout}");
    assert!(stdout.contains(&kept[0].display().to_string()), "{stdout}");
    // The database it replaced is whole: two messages.
    assert!(check_copy(&kept[0]).contains("2 message(s)"));

    server.spawn();
    assert_inbox_holds(&server, 1);
}

#[test]
fn scheduled_backups_keep_the_newest() {
    let dir = TempDir::new("scheduled");
    let tables = format!("[backup]\ndir = \"{}\"\nevery = \"1s\"\nkeep = 2\n", dir.0.display());
    let mut server = Server::start_with(Options { extra_tables: tables, ..Options::default() });
    // Something not a backup, which pruning must leave alone.
    std::fs::write(dir.0.join("notes.txt"), b"mine").unwrap();
    server.wait_for_log_count("(keep = 2)", 2);
    server.stop();
    let log = server.log_text();
    let written = log.matches("written and verified").count();
    let removed: Vec<&str> =
        log.lines().filter_map(|line| line.split("old backup ").nth(1)?.split(" removed").next()).collect();
    let left = dated_backups(&dir.0);
    assert_eq!(left.len(), written - removed.len(), "{left:?}\n{log}");
    assert!((2..=3).contains(&left.len()), "{left:?}");
    for path in &removed {
        let name = Path::new(path).file_name().unwrap().to_str().unwrap();
        assert!(!Path::new(path).exists() && left.iter().all(|kept| name < kept.as_str()), "{name} vs {left:?}");
    }
    assert!(dir.0.join("notes.txt").exists());
    check_copy(&dir.0.join(left.last().unwrap()));
}

#[test]
fn a_failed_scheduled_backup_is_told_to_the_admin() {
    let dir = TempDir::new("unmounted");
    let usb = dir.0.join("usb");
    let tables = format!("[backup]\ndir = \"{}\"\nevery = \"1s\"\n[alerts]\nadmin = \"bob\"\n", usb.display());
    let server = Server::start_with(Options { extra_tables: tables, ..Options::default() });
    server.wait_for_log("the failed backup was told to bob");
    assert!(!usb.exists(), "the missing directory was created");
    let mut bob = server.login("bob", "hunter2");
    bob.ok("SELECT INBOX");
    let found = search_result(&bob.ok("UID SEARCH SUBJECT \"backup failed\""));
    assert!(!found.is_empty());
    let text = bob.ok(&format!("UID FETCH {} BODY.PEEK[TEXT]", found[0])).join(" ");
    // The letter is wrapped at 72 columns.
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("does not exist") && text.contains("mounted"), "{text}");
    assert!(text.contains(&usb.display().to_string()), "{text}");
}

//! A database written by an older roost opens in this one with nothing
//! lost: `tests/data/before-rows.redb.zz` is the file roost f4b3c7f left
//! (each table with its own redb types, before `store::rows`), made by
//! [`populate`] below, and `tests/data/before-rows.transcript` is what that
//! roost answered to [`queries`] on it. This roost opens the file (moving
//! its tables to the new layout), must answer the same queries with the
//! same bytes, must keep counting UIDs, modseqs and user ids where the old
//! one left off, and `roost check` must pass.
//!
//! To make the files again (only when the old layout changes, which it
//! should not): check out the old commit, copy this file and
//! `tests/common` into it, and run
//! `ROOST_RECORD_UPGRADE=$PWD/tests/data cargo test --test upgrade -- --nocapture`
//! there; then copy the two files here.

mod common;

use std::path::Path;

use common::{run_cli, Client, Options, Server, TempDir};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/before-rows.redb.zz");
const TRANSCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/before-rows.transcript");
/// The device password [`populate`] made is not random in the transcript:
/// it is kept beside it.
const DEVICE_PASSWORD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/before-rows.device");

fn message(subject: &str, body: &str) -> String {
    format!("From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n\r\n{body}\r\n")
}

fn cli(server: &Server, arguments: &[&str]) -> String {
    let config = server.config_arg();
    let mut all = arguments.to_vec();
    all.extend(["--config", &config]);
    let (ok, stdout, stderr) = run_cli(&all, None);
    assert!(ok, "roost {arguments:?}: {stdout} {stderr}");
    stdout
}

/// Fills an old roost's database: every kind of row a household's file
/// has (mailboxes, subscriptions, flags and keywords, an expunge, a copy
/// and a move, an ACL and another user's private \Seen, a quota, a device
/// password, an import), returning the device password.
fn populate(server: &Server) -> String {
    let mut alice = server.login("alice", "secret");
    for name in ["Work", "Work/Sub"] {
        alice.ok(&format!("CREATE \"{name}\""));
    }
    alice.ok("SUBSCRIBE Work");
    let messages = [
        ("(\\Seen)", "17-Jul-1996 02:44:25 -0700", message("one", "first")),
        ("(\\Flagged $Important)", " 7-Jul-2020 23:05:00 +0130", message("two", "keywords")),
        ("()", "01-Jan-2025 00:00:00 +0000", message("three", "to be expunged")),
        ("(\\Answered \\Draft)", "29-Feb-2024 12:00:00 +0000", message("four", "answered draft")),
        ("()", "02-Jan-2025 00:00:00 +0000", message("five", "unread")),
        ("(\\Deleted)", "03-Jan-2025 00:00:00 +0000", message("six", "deleted, not expunged")),
    ];
    for (flags, date, text) in &messages {
        let (_, tagged) = alice.append("INBOX", &format!("{flags} \"{date}\""), text.as_bytes());
        assert!(tagged.contains("OK"), "{tagged}");
    }
    alice.ok("ENABLE QRESYNC");
    alice.ok("SELECT INBOX");
    alice.ok("UID STORE 5 +FLAGS.SILENT (\\Seen $Later)");
    alice.ok("UID STORE 3 +FLAGS.SILENT (\\Deleted)");
    alice.ok("UID EXPUNGE 3");
    alice.ok("UID COPY 1 Work");
    alice.ok("UID MOVE 2 Work");
    alice.ok("SETACL Work bob lrsw");
    alice.shutdown();

    let mut bob = server.login("bob", "hunter2");
    bob.ok("SELECT \"Shared/alice/Work\"");
    bob.ok("UID STORE 2 +FLAGS.SILENT (\\Seen)");
    bob.shutdown();

    cli(server, &["user", "quota", "alice", "--storage", "10M", "--messages", "100"]);
    let output = cli(server, &["user", "device", "add", "alice", "phone"]);
    let password = output
        .split_whitespace()
        .find(|word| word.len() == 19 && word.matches('-').count() == 3)
        .unwrap_or_else(|| panic!("no password in {output}"))
        .to_string();
    let mut phone = server.connect();
    let (_, tagged) = phone.command(&format!("LOGIN alice \"{password}\""));
    assert!(tagged.contains("OK"), "{tagged}");
    phone.shutdown();

    let dir = TempDir::new("mbox");
    let mbox = dir.0.join("old.mbox");
    std::fs::write(
        &mbox,
        format!(
            "From alice@example.org Mon Jan  6 10:00:00 2025\n{}\nFrom alice@example.org Tue Jan  7 10:00:00 2025\n{}\n",
            message("imported-1", "from an mbox").replace("\r\n", "\n"),
            message("imported-2", "and another").replace("\r\n", "\n")
        ),
    )
    .unwrap();
    cli(server, &["import", "--user", "bob", "--mbox", mbox.to_str().unwrap()]);
    password
}

/// Sends `command`, appending it and every line of the answer to `out`.
fn record(client: &mut Client, out: &mut String, command: &str) -> Vec<String> {
    let (mut lines, tagged) = client.command(command);
    out.push_str(&format!("C: {command}\n"));
    lines.push(tagged);
    for line in &lines {
        out.push_str(&format!("S: {line}\n"));
    }
    lines
}

/// What the transcript holds: everything a client can see of each table.
fn queries(server: &Server, device_password: &str) -> String {
    let mut out = String::new();
    let mut alice = server.login("alice", "secret");
    record(&mut alice, &mut out, "LIST \"\" \"*\"");
    record(&mut alice, &mut out, "LSUB \"\" \"*\"");
    for mailbox in ["INBOX", "Work", "Work/Sub"] {
        record(
            &mut alice,
            &mut out,
            &format!("STATUS {mailbox} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE DELETED-STORAGE)"),
        );
    }
    let status = record(&mut alice, &mut out, "STATUS INBOX (UIDVALIDITY)");
    let validity: String =
        status[0].split("UIDVALIDITY ").nth(1).unwrap().chars().take_while(char::is_ascii_digit).collect();
    for mailbox in ["INBOX", "Work"] {
        record(&mut alice, &mut out, &format!("SELECT {mailbox} (CONDSTORE)"));
        record(&mut alice, &mut out, "UID FETCH 1:* (FLAGS MODSEQ INTERNALDATE RFC822.SIZE SAVEDATE BODY.PEEK[])");
        record(&mut alice, &mut out, "UID SEARCH UNSEEN");
        record(&mut alice, &mut out, "UID SEARCH DELETED");
        record(&mut alice, &mut out, "UID SEARCH FLAGGED");
        record(&mut alice, &mut out, "UID SEARCH ANSWERED");
        record(&mut alice, &mut out, "UID SEARCH DRAFT");
        record(&mut alice, &mut out, "UID SEARCH KEYWORD $Later");
        record(&mut alice, &mut out, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 3)");
    }
    record(&mut alice, &mut out, "ENABLE QRESYNC");
    record(&mut alice, &mut out, &format!("SELECT INBOX (QRESYNC ({validity} 1))"));
    record(&mut alice, &mut out, "GETACL Work");
    record(&mut alice, &mut out, "MYRIGHTS Work");
    record(&mut alice, &mut out, "GETQUOTAROOT INBOX");
    alice.shutdown();

    let mut bob = server.login("bob", "hunter2");
    record(&mut bob, &mut out, "LIST \"\" \"*\"");
    record(&mut bob, &mut out, "STATUS INBOX (MESSAGES UIDNEXT UNSEEN HIGHESTMODSEQ)");
    record(&mut bob, &mut out, "SELECT INBOX");
    record(&mut bob, &mut out, "UID FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])");
    record(&mut bob, &mut out, "SELECT \"Shared/alice/Work\" (CONDSTORE)");
    record(&mut bob, &mut out, "UID FETCH 1:* (FLAGS MODSEQ)");
    record(&mut bob, &mut out, "UID SEARCH UNSEEN");
    record(&mut bob, &mut out, "MYRIGHTS \"Shared/alice/Work\"");
    bob.shutdown();

    let mut phone = server.connect();
    record(&mut phone, &mut out, &format!("LOGIN alice \"{device_password}\""));
    phone.shutdown();
    out
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("roost.toml");
    std::fs::write(&config, common::config_text(dir, &Options::default())).unwrap();
    config
}

/// The record mode (see the module docs), run with the old roost.
fn record_fixture(into: &Path) {
    let mut server = Server::start_with(Options::default());
    let password = populate(&server);
    server.stop();
    let database = std::fs::read(server.data_dir().join("roost.redb")).unwrap();
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&database, 9);
    std::fs::write(into.join("before-rows.redb.zz"), compressed).unwrap();
    std::fs::write(into.join("before-rows.device"), &password).unwrap();
    server.spawn();
    std::fs::write(into.join("before-rows.transcript"), queries(&server, &password)).unwrap();
}

/// A server (not started) on a copy of the old roost's file.
fn old_file() -> Server {
    let dir = TempDir::new("upgrade");
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let compressed = std::fs::read(FIXTURE).unwrap();
    let database = miniz_oxide::inflate::decompress_to_vec_zlib(&compressed).unwrap();
    std::fs::write(data.join("roost.redb"), database).unwrap();
    let config = write_config(&dir.0);
    Server::unstarted(dir, config)
}

/// `roost serve` on `server`'s config, stderr as given.
fn spawn_quietly(server: &Server, stderr: std::process::Stdio) -> std::process::Child {
    std::process::Command::new(common::BINARY)
        .args(["serve", "--config", &server.config_arg()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// This roost answers [`queries`] on the moved file as the old one did.
fn answers_as_before(server: &Server) {
    let password = std::fs::read_to_string(DEVICE_PASSWORD).unwrap();
    let expected = std::fs::read_to_string(TRANSCRIPT).unwrap();
    let answered = queries(server, password.trim());
    for (line, (want, got)) in expected.lines().zip(answered.lines()).enumerate() {
        assert_eq!(want, got, "line {} of the transcript differs", line + 1);
    }
    assert_eq!(expected.lines().count(), answered.lines().count());
}

#[test]
fn an_older_roosts_database_opens_with_nothing_lost() {
    if let Some(into) = std::env::var_os("ROOST_RECORD_UPGRADE") {
        record_fixture(Path::new(&into));
        return;
    }
    let mut server = old_file();
    // `roost check` reads without writing: it cannot read the old layout,
    // and says what to do.
    let (ok, _, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(!ok && stderr.contains("written by an older roost") && stderr.contains("--repair"), "{stderr}");
    server.spawn();
    let log = server.wait_for_log("to this roost's layout");
    // The old roost made every table at its first start: all of them move.
    assert!(log.contains("moved 28 table(s)"), "{log}");

    answers_as_before(&server);

    let expected = std::fs::read_to_string(TRANSCRIPT).unwrap();
    // Counters go on where the old roost left them.
    let mut alice = server.login("alice", "secret");
    let (_, tagged) = alice.append("INBOX", "", message("seven", "after the upgrade").as_bytes());
    let uidnext = expected
        .lines()
        .find(|line| line.starts_with("S: * STATUS \"INBOX\" (MESSAGES"))
        .and_then(|line| line.split("UIDNEXT ").nth(1))
        .map(|rest| rest.split([' ', ')']).next().unwrap().to_string())
        .unwrap();
    assert!(tagged.contains(&format!(" {uidnext}]")), "APPENDUID continues at UIDNEXT {uidnext}: {tagged}");
    alice.shutdown();
    let (ok, _, stderr) = run_cli(&["user", "add", "carol", "--config", &server.config_arg()], Some("carolpass\n"));
    assert!(ok, "{stderr}");
    let mut carol = server.login("carol", "carolpass");
    carol.ok("SELECT INBOX");
    carol.shutdown();

    // Opened again: nothing left to move, and the file checks clean.
    server.stop();
    server.spawn();
    let mut alice = server.login("alice", "secret");
    alice.ok("SELECT INBOX");
    alice.shutdown();
    assert_eq!(server.log_text().matches("to this roost's layout").count(), 1, "{}", server.log_text());
    server.stop();
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok, "roost check: {stdout} {stderr}");
}

#[test]
fn check_repair_moves_an_older_file() {
    let server = old_file();
    let config = server.config_arg();
    let (ok, stdout, stderr) = run_cli(&["check", "--repair", "--config", &config], None);
    assert!(ok && stdout.contains("no damage found"), "{stdout} {stderr}");
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &config], None);
    assert!(ok && stdout.contains("no damage found"), "{stdout} {stderr}");
}

/// The move is one transaction: a server killed (SIGKILL) at any moment of
/// its first start leaves either the old file or the moved one, and the
/// next start serves it all.
#[test]
fn a_kill_during_the_move_loses_nothing() {
    // How long a start takes to finish the move, here and now (a scratch
    // copy): the kills below land before, around and after that moment.
    let scratch = old_file();
    let started = std::time::Instant::now();
    let mut child = spawn_quietly(&scratch, std::process::Stdio::piped());
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let moved = std::io::BufRead::lines(stderr)
        .map_while(Result::ok)
        .find(|line| line.contains("to this roost's layout"))
        .map(|_| started.elapsed())
        .expect("the first start moves the file");
    child.kill().unwrap();
    child.wait().unwrap();

    let mut server = old_file();
    for eighths in 2..=12u32 {
        let mut child = spawn_quietly(&server, std::process::Stdio::null());
        std::thread::sleep(moved * eighths / 8);
        child.kill().unwrap();
        child.wait().unwrap();
    }
    server.spawn();
    answers_as_before(&server);
    server.stop();
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok, "roost check: {stdout} {stderr}");
}

/// A backup made before the upgrade (the nightly ones a household keeps)
/// restores: the copy put in place is moved to this layout, the backup
/// file itself is left as it was, and the server answers as before.
#[test]
fn a_backup_from_before_the_upgrade_restores() {
    let mut server = old_file();
    let backup = server.dir.0.join("old-backup.redb");
    std::fs::rename(server.data_dir().join("roost.redb"), &backup).unwrap();
    let before = std::fs::read(&backup).unwrap();
    let (ok, stdout, stderr) = run_cli(&["restore", backup.to_str().unwrap(), "--config", &server.config_arg()], None);
    assert!(ok, "roost restore: {stdout} {stderr}");
    assert_eq!(std::fs::read(&backup).unwrap(), before, "the backup file is not written to");
    server.spawn();
    answers_as_before(&server);
}

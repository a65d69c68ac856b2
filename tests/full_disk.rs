//! Recovery from a full disk (issue 16), on a real small file system: the
//! server's data directory is a 40 MiB tmpfs, and another program (this
//! test) fills it to the last byte. Deleting mail must still work (STORE
//! \Deleted, EXPUNGE, DELETE, `roost user del`), new mail is refused with
//! `NO [OVERQUOTA]` without damage, and once the other program's file is
//! gone everything works again and `roost check` is clean.
//!
//! Mounting needs root: as root, or through `sudo -n` (the tmpfs then
//! belongs to the test's user), as `.ci/run` does. Without either the
//! test fails and says so (a test that skips itself quietly could never
//! fail); set `ROOST_TEST_NO_MOUNT=1` to skip it knowingly.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A tmpfs mounted over a directory, unmounted when dropped.
struct Mount(Option<PathBuf>);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Mount {
        use std::os::unix::fs::MetadataExt;
        // Owned by whoever owns the directory (the test's user).
        let owner = std::fs::metadata(at).unwrap();
        let options = format!("size={size},uid={},gid={},mode=0700", owner.uid(), owner.gid());
        let status = privileged("mount")
            .args(["-t", "tmpfs", "-o", &options, "roost-full-disk-test"])
            .arg(at)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs failed");
        Mount(Some(at.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = privileged("umount").arg("-l").arg(&path).status();
        }
    }
}

/// `program`, through `sudo -n` unless the test runs as root.
fn privileged(program: &str) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut command = Command::new("sudo");
        command.args(["-n", program]);
        command
    }
}

/// Whether mounting can work: root, or a password-less sudo.
fn can_mount() -> bool {
    is_root() || Command::new("sudo").args(["-n", "true"]).status().is_ok_and(|status| status.success())
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    std::fs::metadata("/proc/self").map(|metadata| metadata.uid() == 0).unwrap_or(false)
}

/// Writes into `path` until the file system is full; answers the bytes.
fn fill_disk(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let mut written = 0u64;
    for piece in [1 << 20, 64 << 10, 4 << 10, 512] {
        let block = vec![0x5a_u8; piece];
        while file.write_all(&block).is_ok() {
            written += piece as u64;
        }
    }
    let _ = file.sync_all();
    written
}

fn tagged(client: &mut Client, command: &str) -> (Vec<Response>, Response) {
    client.command(command)
}

#[test]
fn deleting_works_on_a_full_disk_and_new_mail_waits_for_room() {
    if std::env::var_os("ROOST_TEST_NO_MOUNT").is_some() {
        eprintln!("SKIPPED by ROOST_TEST_NO_MOUNT: the full-disk test was not run");
        return;
    }
    assert!(
        can_mount(),
        "this test mounts a tmpfs and needs root or `sudo -n` (or set ROOST_TEST_NO_MOUNT=1 to skip it knowingly)"
    );
    let limits = "min_free_disk = 8388608\ndisk_ballast = 4194304\n";
    let users = vec![("alice", "secret"), ("bob", "hunter2"), ("carol", "pw")];
    let mut server = Server::start_with(Options { extra_limits: limits.into(), users, ..Default::default() });
    // Move the data directory onto a small tmpfs of its own.
    assert!(server.stop().success());
    let data = server.data_dir();
    let saved = server.dir.0.join("saved");
    copy_tree(&data, &saved);
    // Lazily unmounted when dropped, so also if the test fails while the
    // server still runs.
    let mount = Mount::tmpfs(&data, "40m");
    copy_tree(&saved, &data);
    server.spawn();
    // The start-up log says how full the disk is.
    server.wait_for_log("disk: ");

    let mut alice = server.login("alice", "secret");
    alice.ok("CREATE Old");
    let body = "x".repeat(100_000);
    for index in 0..20 {
        let mailbox = if index % 4 == 0 { "Old" } else { "INBOX" };
        alice.append_ok(mailbox, &message(&format!("m{index}"), &body));
    }
    for (user, password) in [("bob", "hunter2"), ("carol", "pw")] {
        let mut client = server.login(user, password);
        for index in 0..5 {
            client.append_ok("INBOX", &message(&format!("{user}{index}"), &body));
        }
        client.shutdown();
    }
    assert!(data.join("roost.ballast").metadata().unwrap().len() >= 4 << 20, "the ballast was made");

    // Another program fills the disk.
    let filler = data.join("filler");
    let filled = fill_disk(&filler);
    assert!(filled > 0);
    alice.ok("SELECT INBOX");

    // New mail is refused cleanly.
    let (_, reply) = alice.append("INBOX", "", &message("refused", "no room"));
    assert!(reply.contains("NO [OVERQUOTA]"), "{reply}");
    // LMTP (through `roost deliver`, which pipes into the LMTP socket):
    // a temporary failure, so the sender tries again later.
    let piped = String::from_utf8(message("over lmtp", "no room?")).unwrap();
    let (ok, stdout, stderr) = run_cli(&["deliver", "--user", "alice", "--config", &server.config_arg()], Some(&piped));
    assert!(!ok && stderr.contains("452"), "LMTP at 0 bytes free: {stdout}{stderr}");
    eprintln!("roost deliver at 0 bytes free said: {}", stderr.trim());

    // Deleting works: STORE \Deleted, EXPUNGE, DELETE, user del.
    let (_, reply) = tagged(&mut alice, "STORE 1:3 +FLAGS.SILENT (\\Deleted)");
    assert!(reply.contains("OK"), "STORE \\Deleted at 0 bytes free: {reply}\n{}", server.log_text());
    let (untagged, reply) = tagged(&mut alice, "EXPUNGE");
    assert!(reply.contains("OK"), "EXPUNGE at 0 bytes free: {reply}");
    assert_eq!(untagged.iter().filter(|line| line.ends_with(" EXPUNGE")).count(), 3, "{untagged:?}");
    let (_, reply) = tagged(&mut alice, "DELETE Old");
    assert!(reply.contains("OK"), "DELETE at 0 bytes free: {reply}");
    let (ok, stdout, stderr) = run_cli(&["user", "del", "bob", "--yes", "--config", &server.config_arg()], None);
    assert!(ok, "roost user del at 0 bytes free: {stdout}{stderr}");
    server.wait_for_log("disk full: released the 4.0 MiB ballast");
    // A figure, not a check: how much of the ballast's room the deletes took.
    let df = Command::new("df").args(["-B1", "--output=avail"]).arg(&data).output().unwrap();
    eprintln!(
        "free after the deletes: {} bytes of the 4 MiB released",
        String::from_utf8_lossy(&df.stdout).trim().replace("Avail\n", "")
    );

    // Still no room for new mail, and nothing broke.
    let (_, reply) = alice.append("INBOX", "", &message("refused", "no room"));
    assert!(reply.contains("NO [OVERQUOTA]"), "{reply}");
    let untagged = alice.ok("FETCH 1:* (BODY.PEEK[TEXT])");
    assert_eq!(untagged.iter().filter(|line| line.contains("BODY[TEXT]")).count(), 12, "{untagged:?}");
    let log = server.log_text();
    assert!(!log.contains("storage failure"), "the store never failed:\n{log}");

    // The other program's file goes: everything works again.
    std::fs::remove_file(&filler).unwrap();
    alice.append_ok("INBOX", &message("welcome back", "room again"));
    server.wait_for_log("disk: the 4.0 MiB ballast is made again");
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok, "roost check: {stdout}{stderr}");
    alice.shutdown();

    // The disk fills again while the server is stopped: `roost user del`
    // (on the database directly) works, and so does starting the server.
    assert!(server.stop().success());
    fill_disk(&filler);
    let (ok, stdout, stderr) = run_cli(&["user", "del", "carol", "--yes", "--config", &server.config_arg()], None);
    assert!(ok, "offline roost user del at 0 bytes free: {stdout}{stderr}");
    server.spawn();
    let mut alice = server.login("alice", "secret");
    let (untagged, _) = alice.command("STATUS INBOX (MESSAGES)");
    assert!(untagged.iter().any(|line| line.contains("MESSAGES 13")), "{untagged:?}");
    let (_, reply) = alice.append("INBOX", "", &message("refused", "no room"));
    assert!(reply.contains("NO [OVERQUOTA]"), "{reply}");
    alice.shutdown();
    assert!(server.stop().success());
    std::fs::remove_file(&filler).unwrap();
    let (ok, stdout, stderr) = run_cli(&["check", "--config", &server.config_arg()], None);
    assert!(ok, "roost check, server stopped: {stdout}{stderr}");
    let (_, users, _) = run_cli(&["user", "list", "--config", &server.config_arg()], None);
    assert_eq!(users.trim(), "alice");
    drop(server);
    drop(mount);
}

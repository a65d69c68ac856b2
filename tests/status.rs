//! `roost status` against a running server (every line there; the
//! delivered count going up after an LMTP delivery through `roost
//! deliver`; a failed login and a ban showing) and a stopped one (exit
//! code 3, "not running", what the files tell).

mod common;

use std::process::{Command, Stdio};

use common::*;

/// `roost status --config ...`: (exit code, stdout).
fn status(server: &Server) -> (i32, String) {
    let output = Command::new(BINARY)
        .args(["status", "--config", &server.config_arg()])
        .stdin(Stdio::null())
        .output()
        .expect("run roost status");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The value of the first line starting with `key: `.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    let prefix = format!("{key}: ");
    text.lines().find_map(|line| line.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no {key:?} line in:\n{text}"))
}

fn deliver(server: &Server, user: &str) {
    let (ok, _, stderr) =
        run_cli(&["deliver", "--config", &server.config_arg(), "--user", user], Some("Subject: hi\r\n\r\nhello\r\n"));
    assert!(ok, "roost deliver: {stderr}");
}

#[test]
fn a_running_server_tells_everything() {
    let options = Options { extra_limits: "ban_failures = 2\nnever_ban = []".into(), ..Options::default() };
    let server = Server::start_with(options);
    let (code, text) = status(&server);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with(&format!("roost {}: running since ", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(field(&text, "board").starts_with("generic ("), "{text}");
    let listening: Vec<&str> = text.lines().filter_map(|line| line.strip_prefix("listening: ")).collect();
    assert!(listening.contains(&format!("imaps 127.0.0.1:{} (IMAP over TLS)", server.imaps_port).as_str()), "{text}");
    assert!(listening.contains(&format!("imap 127.0.0.1:{} (IMAP, STARTTLS)", server.imap_port).as_str()), "{text}");
    assert!(field(&text, "certificate").contains("signed by roost's own authority"), "{text}");
    assert!(field(&text, "certificate").contains("localhost"), "{text}");
    assert!(field(&text, "certificate expires").ends_with("days left)"), "{text}");
    let (ok, fingerprint, _) = run_cli(&["fingerprint", "--config", &server.config_arg()], None);
    assert!(ok);
    assert_eq!(field(&text, "certificate SHA-256"), fingerprint.split_whitespace().next().unwrap());
    assert_eq!(field(&text, "users"), "2 (alice, bob)");
    assert!(field(&text, "storage").starts_with("database "), "{text}");
    assert!(field(&text, "storage").contains(" free"), "{text}");
    assert!(field(&text, "delivered today").starts_with("0 ("), "{text}");
    assert!(field(&text, "login failures").starts_with("0 "), "{text}");
    assert_eq!(field(&text, "bans"), "0 in force");

    // Two deliveries (one through `roost deliver`, so LMTP): counted.
    deliver(&server, "alice");
    deliver(&server, "bob");
    let (_, text) = status(&server);
    assert!(field(&text, "delivered today").starts_with("2 ("), "{text}");

    // A wrong password from 127.0.0.2 shows, with the name tried.
    let tagged = server.login_from(2, "alice", "wrong");
    assert!(tagged.starts_with("NO"), "{tagged}");
    let (_, text) = status(&server);
    assert!(field(&text, "login failures").starts_with("1 "), "{text}");
    let failure = text.lines().find(|line| line.contains(" from 127.0.0.2: ")).expect("the failure's line");
    assert!(failure.ends_with("user \"alice\""), "{failure}");
    // A second one bans the address (ban_failures = 2).
    server.login_from(2, "nobody-here", "wrong");
    let (_, text) = status(&server);
    assert_eq!(field(&text, "bans"), "1 in force", "{text}");
    assert!(text.lines().any(|line| line.starts_with("  127.0.0.2 until ")), "{text}");
    assert!(text.contains("user \"nobody-here\""), "{text}");
}

#[test]
fn a_stopped_server_says_not_running_and_exits_3() {
    let mut server = Server::start();
    deliver(&server, "alice");
    server.stop();
    let (code, text) = status(&server);
    assert_eq!(code, 3, "LSB: 3 is 'not running'\n{text}");
    assert!(text.starts_with(&format!("roost {}: not running", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(text.contains("listening: imaps 127.0.0.1:0 (IMAP over TLS) (configured)"), "{text}");
    assert_eq!(field(&text, "users"), "2 (alice, bob)");
    assert!(field(&text, "certificate expires").ends_with("days left)"), "{text}");
    assert!(field(&text, "delivered today").starts_with("unknown"), "{text}");
    assert!(text.contains("no answer on "), "{text}");

    // A broken configuration: the status cannot be told (LSB 4).
    let dir = TempDir::new("status");
    let config = dir.0.join("roost.toml");
    std::fs::write(&config, "board = \"rpi9\"\n").unwrap();
    let output = Command::new(BINARY).args(["status", "--config", config.to_str().unwrap()]).output().unwrap();
    assert_eq!(output.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown board"));
}

/// Someone who may not enter the data directory (0700, the service
/// user's) is told so, not "not running". Runs `roost status` as user
/// nobody through setpriv; skipped when not root.
#[test]
fn a_user_who_cannot_reach_the_server_is_not_told_it_is_stopped() {
    let root = Command::new("id").arg("-u").output().map(|output| output.stdout == b"0\n").unwrap_or(false);
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok_and(|output| output.status.success());
    if !root || !setpriv {
        eprintln!("skipped: needs root and setpriv");
        return;
    }
    let server = Server::start();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", BINARY, "status", "--config"])
        .arg(server.config_arg())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("Permission denied") && stderr.contains("sudo roost status"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("not running"));
}

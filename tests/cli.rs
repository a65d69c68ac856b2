//! The command line: `roost user ...` with and without a running server,
//! `roost boards`, `roost serve` refusing bad settings or a busy data
//! directory, and `roost check` on a missing or misconfigured data directory.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// Runs `roost` with `stdin` (closed after it) and returns (success,
/// stdout, stderr); fails the test if it runs for long (a `serve` that should
/// have refused to start would run forever). Unlike the harness's `run_cli`,
/// a command that exits before reading its stdin is not an error.
fn run_bounded_with(arguments: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(BINARY)
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run roost");
    let pid = child.id();
    let mut input = child.stdin.take().unwrap();
    let text = stdin.unwrap_or("").to_string();
    let writer = std::thread::spawn(move || {
        // EPIPE when roost refuses before reading: fine.
        let _ = input.write_all(text.as_bytes());
    });
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = match receiver.recv_timeout(IO_TIMEOUT) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("roost {arguments:?} did not exit within {IO_TIMEOUT:?}");
        }
    };
    writer.join().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn run_bounded(arguments: &[&str]) -> (bool, String, String) {
    run_bounded_with(arguments, None)
}

/// A temporary directory holding a config file with `text`.
fn config_file(text: &str) -> (TempDir, String) {
    let dir = TempDir::new("cli");
    let path = dir.0.join("roost.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap().to_string();
    (dir, path)
}

/// The harness's test config (loopback, ephemeral ports, cheap argon2) with `extra` appended.
fn test_config(dir: &TempDir, extra: &str) -> String {
    format!("{}{extra}", config_text(&dir.0, &Options { users: Vec::new(), ..Options::default() }))
}

/// Whether LOGIN with these credentials succeeds.
fn can_log_in(server: &Server, user: &str, password: &str) -> bool {
    let mut client = server.connect();
    let (_, tagged) = client.command(&format!("LOGIN {user} {password}"));
    assert!(tagged.starts_with("OK") || tagged.starts_with("NO"), "LOGIN {user}: {tagged}");
    tagged.starts_with("OK")
}

/// A data directory used either directly by the CLI (no server between
/// steps) or through a server that runs throughout.
struct Setup {
    server: Server,
    running: bool,
}

impl Setup {
    fn direct() -> Setup {
        let dir = TempDir::new("cli-direct");
        let config = dir.0.join("roost.toml");
        std::fs::write(&config, test_config(&dir, "")).unwrap();
        let server = Server {
            dir,
            config,
            child: None,
            imap_port: 0,
            imaps_port: 0,
            lmtp_port: None,
            log: Arc::new(Mutex::new(String::new())),
        };
        Setup { server, running: false }
    }

    fn running() -> Setup {
        let server = Server::start_with(Options { users: Vec::new(), ..Options::default() });
        Setup { server, running: true }
    }

    fn mode(&self) -> &'static str {
        if self.running {
            "through the control socket"
        } else {
            "directly"
        }
    }

    fn cli(&self, arguments: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        let config = self.server.config_arg();
        let mut arguments = arguments.to_vec();
        arguments.extend(["--config", &config]);
        run_bounded_with(&arguments, stdin)
    }

    /// A command that must succeed; returns its stdout.
    fn cli_ok(&self, arguments: &[&str], stdin: Option<&str>) -> String {
        let (ok, stdout, stderr) = self.cli(arguments, stdin);
        assert!(ok, "{} roost {arguments:?}: {stdout}{stderr}", self.mode());
        stdout
    }

    /// A command that must fail; returns its stderr.
    fn cli_fails(&self, arguments: &[&str], stdin: Option<&str>) -> String {
        let (ok, stdout, stderr) = self.cli(arguments, stdin);
        assert!(!ok, "{} roost {arguments:?} should fail: {stdout}{stderr}", self.mode());
        assert!(stderr.starts_with("roost: "), "{stderr}");
        stderr
    }

    /// Runs `work` against a live server: the running one, or one started
    /// for the occasion and stopped cleanly afterwards.
    fn online<T>(&mut self, work: impl FnOnce(&Server) -> T) -> T {
        if !self.running {
            self.server.spawn();
        }
        let result = work(&self.server);
        if !self.running {
            assert!(self.server.stop().success(), "clean stop");
        }
        result
    }

    fn expect_log(&self, needle: &str) {
        if self.running {
            self.server.wait_for_log(needle);
        }
    }
}

fn user_lifecycle(mut setup: Setup) {
    let data = setup.server.data_dir();
    let mode = setup.mode();
    assert_eq!(setup.cli_ok(&["user", "list"], None), "", "{mode}: no users yet");
    if !setup.running {
        assert!(!data.exists(), "listing users must not create the data directory");
    }

    // Adding users; the first one creates the data directory and database.
    let stdout = setup.cli_ok(&["user", "add", "zed"], Some("zpass\n"));
    assert!(stdout.starts_with("user zed added"), "{stdout}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the data directory must be private");
        assert!(data.join("roost.redb").is_file());
    }
    // Names are case-folded.
    let stdout = setup.cli_ok(&["user", "add", "Carol"], Some("first\n"));
    assert!(stdout.starts_with("user carol added, with INBOX"), "{stdout}");
    setup.expect_log("user carol added");
    setup.cli_ok(&["user", "add", "mallory-1.x@home+tag"], Some("mpass\n"));

    // Duplicates, bad names and empty passwords are refused, changing nothing.
    for name in ["carol", "CAROL", " carol "] {
        let stderr = setup.cli_fails(&["user", "add", name], Some("other\n"));
        assert!(stderr.contains("user already exists"), "{mode}: {name:?}: {stderr}");
    }
    let too_long = "a".repeat(65);
    for name in ["bad name", "a/b", "x:y", "üser", "quote\"d", "", "   ", too_long.as_str(), "anyone", "Authenticated"]
    {
        let stderr = setup.cli_fails(&["user", "add", name], Some("pass\n"));
        assert!(stderr.contains("user name"), "{mode}: {name:?}: {stderr}");
    }
    for stdin in [Some("\n"), Some(""), None] {
        let stderr = setup.cli_fails(&["user", "add", "erin"], stdin);
        assert!(stderr.contains("the password is empty"), "{mode}: {stdin:?}: {stderr}");
    }
    assert_eq!(
        setup.cli_ok(&["user", "list"], None),
        "carol\nmallory-1.x@home+tag\nzed\n",
        "{mode}: sorted, one per line"
    );

    // New users can log in (with a running server: at once, no restart).
    setup.online(|server| {
        assert!(can_log_in(server, "carol", "first"), "{mode}: new user carol cannot log in");
        assert!(can_log_in(server, "zed", "zpass"));
        assert!(can_log_in(server, "\"mallory-1.x@home+tag\"", "mpass"));
        assert!(!can_log_in(server, "carol", "zpass"));
        assert!(!can_log_in(server, "erin", "pass"));
        let mut client = server.login("carol", "first");
        client.ok("SELECT INBOX");
        client.append_ok("INBOX", &message("carols-mail", "to be deleted with her"));
        client.append_ok("INBOX", &message("carols-mail-2", "this too"));
        client.ok("LOGOUT");
    });

    // passwd: the new password works, the old one no longer does.
    let stdout = setup.cli_ok(&["user", "passwd", "carol"], Some("second\n"));
    assert!(stdout.starts_with("password of carol changed"), "{stdout}");
    setup.expect_log("password of user carol changed");
    let stderr = setup.cli_fails(&["user", "passwd", "nobody"], Some("x\n"));
    assert!(stderr.contains("no such user"), "{stderr}");
    let stderr = setup.cli_fails(&["user", "passwd", "carol"], Some("\n"));
    assert!(stderr.contains("the password is empty"), "{stderr}");
    setup.online(|server| {
        assert!(can_log_in(server, "carol", "second"), "{mode}: new password refused");
        assert!(!can_log_in(server, "carol", "first"), "{mode}: old password still accepted");
    });

    // del asks first: nothing happens without the name typed or --yes.
    let stderr = setup.cli_fails(&["user", "del", "carol"], None);
    assert!(stderr.contains("not deleted"), "{stderr}");
    let stderr = setup.cli_fails(&["user", "del", "carol"], Some("zed\n"));
    assert!(stderr.contains("not deleted"), "{stderr}");
    setup.online(|server| {
        assert!(can_log_in(server, "carol", "second"), "{mode}: carol deleted without confirmation");
    });
    // del: the user and their mail are gone.
    let stdout = setup.cli_ok(&["user", "del", "carol"], Some("carol\n"));
    assert!(stdout.starts_with("user carol deleted"), "{stdout}");
    setup.expect_log("user carol deleted");
    let stderr = setup.cli_fails(&["user", "del", "carol", "--yes"], None);
    assert!(stderr.contains("no such user"), "{stderr}");
    let stderr = setup.cli_fails(&["user", "del", "bad name", "--yes"], None);
    assert!(stderr.contains("user name"), "{stderr}");
    assert_eq!(setup.cli_ok(&["user", "list"], None), "mallory-1.x@home+tag\nzed\n");
    let report = setup.cli_ok(&["check"], None);
    assert!(report.contains(" 0 message(s), 0 blob(s), 0 byte(s)"), "{mode}: carol's mail remains: {report}");
    assert!(report.contains("no damage found"), "{report}");
    setup.online(|server| {
        assert!(!can_log_in(server, "carol", "second"), "{mode}: deleted user can still log in");
    });

    // A new carol starts with an empty INBOX.
    setup.cli_ok(&["user", "add", "carol"], Some("third\n"));
    setup.online(|server| {
        let mut client = server.login("carol", "third");
        let untagged = client.ok("SELECT INBOX");
        assert!(untagged.iter().any(|line| line == "* 0 EXISTS"), "{mode}: {untagged:?}");
    });
}

#[test]
fn users_without_a_server() {
    user_lifecycle(Setup::direct());
}

#[test]
fn users_through_a_running_server() {
    user_lifecycle(Setup::running());
}

#[test]
fn boards_lists_every_profile() {
    let (ok, stdout, stderr) = run_bounded(&["boards"]);
    assert!(ok, "{stderr}");
    let names: Vec<&str> = stdout.lines().map(|line| line.split_whitespace().next().unwrap_or("")).collect();
    assert_eq!(names, ["generic", "rpi-zero", "rpi-zero2w", "rpi3", "rpi4", "rpi5"], "{stdout}");
    for line in stdout.lines() {
        assert!(line.split_whitespace().count() > 1, "board without a description: {line:?}");
        assert!(!line.contains("(broken"), "{line}");
    }
}

#[test]
fn serve_refuses_an_unknown_board() {
    let dir = TempDir::new("cli-board");
    let (_config_dir, config) = config_file(&test_config(&dir, ""));
    let (ok, _, stderr) = run_bounded(&["serve", "--config", &config, "--board", "toaster"]);
    assert!(!ok);
    assert!(stderr.contains("unknown board \"toaster\""), "{stderr}");
    assert!(stderr.contains("rpi-zero2w"), "the message should list the known boards: {stderr}");

    let (_config_dir, config) = config_file(&format!("board = \"rpi9\"\n{}", test_config(&dir, "")));
    let (ok, _, stderr) = run_bounded(&["serve", "--config", &config]);
    assert!(!ok);
    assert!(stderr.contains("unknown board \"rpi9\""), "{stderr}");
    assert!(!dir.0.join("data").exists(), "a refused start must not create the data directory");
}

#[test]
fn serve_refuses_unknown_keys() {
    let dir = TempDir::new("cli-keys");
    let (_config_dir, config) = config_file(&format!("colour = \"blue\"\n{}", test_config(&dir, "")));
    let (ok, _, stderr) = run_bounded(&["serve", "--config", &config]);
    assert!(!ok);
    assert!(stderr.contains("colour: unknown setting"), "{stderr}");
    assert!(stderr.contains(&config), "the message should name the file: {stderr}");

    let text = test_config(&dir, "").replace("[imap]\n", "[imap]\nlisten_tsl = []\n");
    let (_config_dir, config) = config_file(&text);
    let (ok, _, stderr) = run_bounded(&["serve", "--config", &config]);
    assert!(!ok);
    assert!(stderr.contains("[imap] listen_tsl: unknown setting"), "{stderr}");

    let (_config_dir, config) = config_file(&test_config(&dir, "max_conections = 5\n"));
    let (ok, _, stderr) = run_bounded(&["serve", "--config", &config]);
    assert!(!ok);
    assert!(stderr.contains("[limits] max_conections: unknown setting"), "{stderr}");
}

#[test]
fn serve_refuses_bad_addresses() {
    let dir = TempDir::new("cli-address");
    let text = test_config(&dir, "").replace("listen = [\"127.0.0.1:0\"]", "listen = [\"nowhere\"]");
    let (_config_dir, config) = config_file(&text);
    let (ok, _, stderr) = run_bounded(&["serve", "--config", &config]);
    assert!(!ok);
    assert!(stderr.contains("[imap] listen: \"nowhere\" is not an address"), "{stderr}");

    // A well-formed address that cannot be bound: the port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let text = test_config(&dir, "").replace("listen = [\"127.0.0.1:0\"]", &format!("listen = [\"{address}\"]"));
    let (_config_dir, config) = config_file(&text);
    let (ok, _, stderr) = run_bounded(&["serve", "--config", &config]);
    assert!(!ok);
    assert!(stderr.contains(&format!("cannot listen on {address}")), "{stderr}");
    // The refused start left the database closed cleanly.
    let (ok, stdout, stderr) = run_bounded(&["check", "--config", &config]);
    assert!(ok && stdout.contains("no damage found"), "{stdout}{stderr}");
}

#[test]
fn second_server_on_the_same_data_refuses() {
    let server = Server::start();
    let (ok, _, stderr) = run_bounded(&["serve", "--config", &server.config_arg()]);
    assert!(!ok, "a second server started on the same data directory");
    assert!(stderr.contains("in use"), "{stderr}");
    assert!(stderr.contains("roost.redb"), "the message should name the database: {stderr}");
    // The first one is unharmed: IMAP and its control socket still answer.
    assert!(can_log_in(&server, "alice", "secret"));
    let (ok, stdout, stderr) = run_bounded(&["user", "list", "--config", &server.config_arg()]);
    assert!(ok && stdout == "alice\nbob\n", "{stdout}{stderr}");
    let (ok, stdout, stderr) = run_bounded(&["check", "--config", &server.config_arg()]);
    assert!(ok && stdout.contains("no damage found"), "{stdout}{stderr}");
}

#[test]
fn check_on_a_missing_data_directory_fails() {
    let dir = TempDir::new("cli-missing");
    let (_config_dir, config) = config_file(&test_config(&dir, ""));
    let data = dir.0.join("data");
    let (ok, stdout, stderr) = run_bounded(&["check", "--config", &config]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("no database at") && stderr.contains(data.to_str().unwrap()), "{stderr}");
    assert!(!data.exists(), "check must not create the data directory");

    let elsewhere = dir.0.join("elsewhere");
    let (ok, _, stderr) = run_bounded(&["check", "--data", elsewhere.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("no database at"), "{stderr}");
    assert!(!elsewhere.exists());
}

/// Every command that reads the config, against a broken one.
fn every_command_reports(config: &str, expected: &[&str]) {
    let commands: [&[&str]; 5] =
        [&["serve"], &["check"], &["user", "list"], &["user", "add", "someone"], &["user", "del", "someone"]];
    for command in commands {
        let mut arguments = command.to_vec();
        arguments.extend(["--config", config]);
        let (ok, _, stderr) = run_bounded(&arguments);
        assert!(!ok, "roost {arguments:?} accepted a broken config");
        for needle in expected {
            assert!(stderr.contains(needle), "roost {arguments:?}: expected {needle:?} in {stderr:?}");
        }
    }
}

#[test]
fn malformed_config_is_reported_with_its_line() {
    let dir = TempDir::new("cli-syntax");
    // Line 4 holds an unterminated table header.
    let text = format!("data_dir = \"{}\"\n\n# comment\n[imap\nlisten = []\n", dir.0.join("data").display());
    let (_config_dir, config) = config_file(&text);
    every_command_reports(&config, &[&config, "line 4"]);
    assert!(!dir.0.join("data").exists());
}

#[test]
fn unknown_table_is_reported_with_its_line() {
    let dir = TempDir::new("cli-table");
    // Line 6 opens a table roost does not know.
    let text = format!(
        "data_dir = \"{}\"\n[imap]\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = [\"127.0.0.1:0\"]\n\n[smtp]\nport = 25\n",
        dir.0.join("data").display()
    );
    let (_config_dir, config) = config_file(&text);
    every_command_reports(&config, &[&config, "unknown table [smtp]", "line 6"]);
    assert!(!dir.0.join("data").exists());
}

#[test]
fn the_data_directory_is_made_private_whatever_existed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("private");
    let config = dir.0.join("roost.toml");
    std::fs::write(&config, test_config(&dir, "")).unwrap();
    // A data directory made by hand with ordinary permissions, holding a
    // file anyone may read, and a tls/ folder open to all.
    let data = dir.0.join("data");
    std::fs::create_dir_all(data.join("tls")).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("tls"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(data.join("notes.txt"), "x").unwrap();
    std::fs::set_permissions(data.join("notes.txt"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = config.to_str().unwrap();
    let (ok, _, stderr) = run_bounded_with(&["user", "add", "dora", "--config", config], Some("a long password\n"));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("could be read by other users"), "{stderr}");
    let mode = |path: std::path::PathBuf| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(data.clone()), 0o700);
    assert_eq!(mode(data.join("tls")), 0o700);
    assert_eq!(mode(data.join("notes.txt")), 0o600);
    // The database roost created is private from the start.
    assert_eq!(mode(data.join("roost.redb")), 0o600);
    // A file loosened later is closed again at the next start.
    std::fs::set_permissions(data.join("roost.redb"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, _, stderr) = run_bounded_with(&["user", "list", "--config", config], None);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run_bounded_with(&["user", "passwd", "dora", "--config", config], Some("another password\n"));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("roost.redb could be read by other users"), "{stderr}");
    assert_eq!(mode(data.join("roost.redb")), 0o600);
}

#[test]
fn short_passwords_need_force() {
    // The boards' minimum (12), not the harness's test value.
    let dir = TempDir::new("minimum");
    let text = format!(
        "data_dir = \"{}\"\n[limits]\nargon2_memory_kib = 64\nargon2_iterations = 1\n",
        dir.0.join("data").display()
    );
    let config = dir.0.join("roost.toml");
    std::fs::write(&config, text).unwrap();
    let config = config.to_str().unwrap();
    let (ok, _, stderr) = run_bounded_with(&["user", "add", "kid", "--config", config], Some("hunter2\n"));
    assert!(!ok && stderr.contains("at least 12 characters"), "{stderr}");
    let (ok, stdout, _) = run_bounded_with(&["user", "list", "--config", config], None);
    assert!(ok && !stdout.contains("kid"), "{stdout}");
    let (ok, _, stderr) = run_bounded_with(&["user", "add", "kid", "--config", config], Some("twelve chars\n"));
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run_bounded_with(&["user", "passwd", "kid", "--config", config], Some("short\n"));
    assert!(!ok && stderr.contains("--force"), "{stderr}");
    let (ok, _, stderr) = run_bounded_with(&["user", "passwd", "kid", "--force", "--config", config], Some("short\n"));
    assert!(ok, "{stderr}");
}

#[test]
fn the_certificate_fingerprint_is_shown_and_logged() {
    let dir = TempDir::new("fingerprint");
    let config = dir.0.join("roost.toml");
    std::fs::write(&config, test_config(&dir, "")).unwrap();
    let config = config.to_str().unwrap();
    let (ok, stdout, stderr) = run_bounded_with(&["fingerprint", "--config", config], None);
    assert!(ok, "{stderr}");
    let shown = stdout.split_whitespace().next().unwrap_or_default().to_string();
    // The SHA-256 of the certificate's DER, computed here from the file.
    let pem = std::fs::read_to_string(dir.0.join("data/tls/cert.pem")).unwrap();
    // The first certificate: the server's own (its authority's follows).
    let body: String = pem.lines().skip(1).take_while(|line| !line.starts_with("-----END")).collect();
    let der = decode_base64(&body);
    let digest = ring::digest::digest(&ring::digest::SHA256, &der);
    let expected: Vec<String> = digest.as_ref().iter().map(|byte| format!("{byte:02X}")).collect();
    assert_eq!(shown, expected.join(":"), "{stdout}");
    // The server names it at start, so a phone's prompt can be compared.
    let server = Server::start();
    server.wait_for_log("SHA-256 fingerprint ");
    let log = server.log_text();
    assert!(log.contains("SHA-256 fingerprint "), "{log}");
}

/// A phone set up with the Pi's LAN address checks it against the
/// certificate's IP address entries: `[tls] addresses` (by default the
/// machine's own) are put there, next to the names.
#[test]
fn the_self_signed_certificate_carries_the_lan_addresses() {
    let dir = TempDir::new("cert-addresses");
    let config = dir.0.join("roost.toml");
    let tls = "[tls]\nhostnames = [\"pi.example\"]\naddresses = [\"192.0.2.77\", \"fd00::5\"]\n";
    std::fs::write(&config, test_config(&dir, tls)).unwrap();
    let (ok, _, stderr) = run_bounded_with(&["fingerprint", "--config", config.to_str().unwrap()], None);
    assert!(ok, "{stderr}");
    let pem = std::fs::read_to_string(dir.0.join("data/tls/cert.pem")).unwrap();
    // The first certificate: the server's own (its authority's follows).
    let body: String = pem.lines().skip(1).take_while(|line| !line.starts_with("-----END")).collect();
    let der = decode_base64(&body);
    let contains = |needle: &[u8]| der.windows(needle.len()).any(|window| window == needle);
    // GeneralName iPAddress is [7] IMPLICIT OCTET STRING (RFC 5280 §4.2.1.6): tag 0x87.
    assert!(contains(&[0x87, 4, 192, 0, 2, 77]), "no IP entry for 192.0.2.77");
    let mut v6 = vec![0x87, 16, 0xfd];
    v6.extend([0; 14]);
    v6.push(5);
    assert!(contains(&v6), "no IP entry for fd00::5");
    // dNSName is [2]: tag 0x82.
    assert!(contains(b"\x82\x0api.example"), "no DNS entry for pi.example");
    // Not an address: a clear error, not a silently smaller certificate.
    let other = TempDir::new("cert-bad-address");
    let config = other.0.join("roost.toml");
    std::fs::write(&config, test_config(&other, "[tls]\naddresses = [\"pi.local\"]\n")).unwrap();
    let (ok, _, stderr) = run_bounded_with(&["fingerprint", "--config", config.to_str().unwrap()], None);
    assert!(!ok && stderr.contains("is not an IP address"), "{stderr}");
}

fn decode_base64(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes().filter(|byte| *byte != b'=') {
        let Some(value) = alphabet.iter().position(|&symbol| symbol == byte) else { continue };
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// systemd's LoadCredential= hands the certificate and key over in
/// `$CREDENTIALS_DIRECTORY`: roost serves them when `[tls]` names none.
#[test]
fn tls_files_come_from_systemd_credentials() {
    let dir = TempDir::new("credentials");
    let config = dir.0.join("roost.toml");
    std::fs::write(&config, test_config(&dir, "")).unwrap();
    let config = config.to_str().unwrap();
    // A pair made by roost elsewhere, copied where systemd would put it.
    let other = TempDir::new("credentials-source");
    let (ok, stdout, stderr) = run_bounded_with(&["fingerprint", "--data", other.0.to_str().unwrap()], None);
    assert!(ok, "{stderr}");
    let fingerprint = stdout.split_whitespace().next().unwrap().to_string();
    let credentials = dir.0.join("credentials");
    std::fs::create_dir_all(&credentials).unwrap();
    std::fs::copy(other.0.join("tls/cert.pem"), credentials.join("tls-cert")).unwrap();
    std::fs::copy(other.0.join("tls/key.pem"), credentials.join("tls-key")).unwrap();
    let mut child = Command::new(BINARY)
        .args(["serve", "--config", config])
        .env("CREDENTIALS_DIRECTORY", &credentials)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut seen = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("TLS certificate") {
                break;
            }
        }
        seen
    });
    let deadline = Instant::now() + IO_TIMEOUT;
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = reader.join().unwrap();
    let line = log.lines().find(|line| line.contains("TLS certificate")).unwrap_or_default().to_string();
    assert!(line.contains("tls-cert") && line.contains(&fingerprint), "{log}");
    // Nothing was generated in the data directory meanwhile.
    assert!(!dir.0.join("data/tls/cert.pem").exists());
}

/// `roost boards | head -1`: a reader that goes away ends the command
/// quietly, not with a panic about a broken pipe.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let mut child = std::process::Command::new(BINARY)
        .arg("boards")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Nobody reads: the pipe is closed before roost writes its lines.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && !stderr.contains("panicked"), "{:?}: {stderr}", output.status);
}

/// `roost --version` answers the package's version; `--help` describes
/// each command in its own words (serve's once borrowed a stray comment);
/// no command at all is an error that says what to type.
#[test]
fn version_help_and_no_command() {
    let (ok, stdout, _) = run_bounded(&["--version"]);
    assert!(ok);
    assert_eq!(stdout.trim(), format!("roost {}", env!("CARGO_PKG_VERSION")));
    let (ok, stdout, _) = run_bounded(&["--help"]);
    assert!(ok);
    let serve = stdout.lines().find(|line| line.trim_start().starts_with("serve")).unwrap();
    assert_eq!(serve.split_whitespace().collect::<Vec<_>>().join(" "), "serve Run the IMAP server.", "{stdout}");
    for command in ["backup", "restore", "import", "export", "user", "check"] {
        assert!(stdout.lines().any(|line| line.trim_start().starts_with(command)), "{command} missing: {stdout}");
    }
    let (ok, _, stderr) = run_bounded(&[]);
    assert!(!ok);
    assert!(stderr.contains("roost --help"), "{stderr}");
}

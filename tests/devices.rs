//! Device passwords, device-only mode, per-user address rules and the
//! login history (issue 12, items 3 per user, 4 and 5), over real sockets
//! and the real CLI talking to the running server.
//!
//! Clients from 127.0.0.2 and up bind their socket to that source address
//! (every address of 127/8 reaches the loopback listener).

mod common;

use std::time::{Duration, Instant};

use common::*;

fn cli(server: &Server, arguments: &[&str]) -> String {
    let config = server.config_arg();
    let mut all: Vec<&str> = arguments.to_vec();
    all.extend(["--config", &config]);
    let (ok, stdout, stderr) = run_cli(&all, None);
    assert!(ok, "roost {arguments:?}: {stderr}");
    stdout
}

/// `roost user device add`, returning the password it showed.
fn add_device(server: &Server, user: &str, device: &str) -> String {
    let output = cli(server, &["user", "device", "add", user, device]);
    let password = output
        .split_whitespace()
        .find(|word| word.len() == 19 && word.matches('-').count() == 3)
        .unwrap_or_else(|| panic!("no password in {output}"))
        .to_string();
    assert!(output.contains("password"), "{output}");
    password
}

/// The tagged answer to LOGIN (quoted, so any password goes).
fn login(client: &mut Client, user: &str, password: &str) -> String {
    client.command(&format!("LOGIN \"{user}\" \"{password}\"")).1
}

fn authenticate_plain(client: &mut Client, user: &str, password: &str) -> String {
    client.command(&format!("AUTHENTICATE PLAIN {}", base64(format!("\0{user}\0{password}").as_bytes()))).1
}

/// `roost user log` until it shows `needle` (history writes are not
/// durable before the answer: they land with the next commit).
fn history_showing(server: &Server, user: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let history = cli(server, &["user", "log", user]);
        if history.contains(needle) {
            return history;
        }
        assert!(Instant::now() < deadline, "no {needle:?} in the history:\n{history}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_device_password_logs_in_and_is_listed() {
    let server = Server::start();
    let password = add_device(&server, "alice", "Alice's iPhone");
    let listed = cli(&server, &["user", "device", "list", "alice"]);
    assert!(listed.contains("\"Alice's iPhone\"") && listed.contains("never"), "{listed}");

    let mut client = server.connect();
    assert!(login(&mut client, "alice", &password).contains("OK"));
    client.ok("SELECT INBOX");
    server.wait_for_log("(LOGIN, plaintext; device \"Alice's iPhone\")");
    // As typed on a phone that capitalises: the same password.
    let mut client = server.connect();
    assert!(authenticate_plain(&mut client, "alice", &password.to_uppercase()).contains("OK"));
    server.wait_for_log("(AUTHENTICATE PLAIN, plaintext; device \"Alice's iPhone\")");
    // The main password still works (no device-only mode), and bob's
    // password is not alice's device.
    assert!(login(&mut server.connect(), "alice", "secret").contains("OK"));
    assert!(login(&mut server.connect(), "bob", &password).contains("NO"));

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = cli(&server, &["user", "device", "list", "alice"]);
        if listed.contains("127.0.0.1") {
            assert!(!listed.contains("never"), "{listed}");
            break;
        }
        assert!(Instant::now() < deadline, "last use never shown: {listed}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A name is unique per user; bob may have his own of the same name.
    let (ok, _, stderr) =
        run_cli(&["user", "device", "add", "alice", "Alice's iPhone", "--config", &server.config_arg()], None);
    assert!(!ok && stderr.contains("already has a device password"), "{stderr}");
    add_device(&server, "bob", "Alice's iPhone");

    // Deleting the user deletes the devices and the history.
    cli(&server, &["user", "del", "alice", "--yes"]);
    run_cli(&["user", "add", "alice", "--config", &server.config_arg()], Some("secret\n"));
    let listed = cli(&server, &["user", "device", "list", "alice"]);
    assert!(listed.contains("no device passwords"), "{listed}");
    assert!(cli(&server, &["user", "log", "alice"]).contains("no logins recorded"));
    assert!(login(&mut server.connect(), "alice", &password).contains("NO"));
}

/// The first line that is not an untagged EXISTS/RECENT/FETCH: what a
/// session says after any mail that arrived meanwhile.
fn bye_after_untagged(client: &mut Client) -> String {
    for _ in 0..20 {
        let line = client.read_line();
        let mail = ["EXISTS", "RECENT", "FETCH"].iter().any(|word| line.starts_with("* ") && line.contains(word));
        if !mail {
            return line;
        }
    }
    panic!("no BYE after 20 lines")
}

#[test]
fn a_deleted_device_password_is_refused_at_the_next_login() {
    let server = Server::start();
    let password = add_device(&server, "alice", "Old phone");
    let other = add_device(&server, "alice", "New phone");
    let mut open = server.connect();
    assert!(login(&mut open, "alice", &password).contains("OK"));
    // Twice quickly: if device logins were cached, this would be a hit.
    let mut idling = server.connect();
    assert!(login(&mut idling, "alice", &password).contains("OK"));
    idling.ok("SELECT INBOX");
    idling.send("i1 IDLE");
    assert!(idling.read_line().starts_with("+ "));
    // Sessions of the main password and of another device are left alone.
    let mut main = server.login("alice", "secret");
    let mut new = server.connect();
    assert!(login(&mut new, "alice", &other).contains("OK"));

    cli(&server, &["user", "device", "del", "alice", "Old phone"]);
    let answer = login(&mut server.connect(), "alice", &password);
    assert!(answer.contains("NO [AUTHENTICATIONFAILED]"), "{answer}");
    // The sessions logged in with it are closed, IDLE or not (a stolen
    // phone must not keep receiving mail).
    // (The IDLE session may first see the "new device" notice arrive.)
    let bye = bye_after_untagged(&mut idling);
    assert!(bye.starts_with("* BYE") && bye.contains("revoked"), "{bye}");
    let bye = open.read_line();
    assert!(bye.starts_with("* BYE") && bye.contains("revoked"), "{bye}");
    server.wait_for_log("device password \"Old phone\" of user alice deleted (2 session(s) closed)");
    main.ok("NOOP");
    new.ok("NOOP");
    let (ok, _, stderr) =
        run_cli(&["user", "device", "del", "alice", "Old phone", "--config", &server.config_arg()], None);
    assert!(!ok && stderr.contains("no device password of that name"), "{stderr}");
}

#[test]
fn device_only_refuses_the_main_password_even_when_remembered() {
    let server = Server::start();
    let password = add_device(&server, "alice", "Laptop");
    // The main password is verified and remembered by the login cache...
    assert!(login(&mut server.connect(), "alice", "secret").contains("OK"));
    assert!(login(&mut server.connect(), "alice", "secret").contains("OK"));
    server.wait_for_log("remembered: no hash");
    cli(&server, &["user", "device-only", "alice", "on"]);
    // ... but device-only mode refuses it, like a wrong password.
    let answer = login(&mut server.connect(), "alice", "secret");
    assert!(answer.contains("NO [AUTHENTICATIONFAILED] Authentication failed"), "{answer}");
    server.wait_for_log(
        "login failed from 127.0.0.1: user \"alice\" (LOGIN; main password refused: device passwords only)",
    );
    assert!(login(&mut server.connect(), "alice", &password).contains("OK"));
    // Others are not affected; and off again lets the main password in.
    assert!(login(&mut server.connect(), "bob", "hunter2").contains("OK"));
    assert!(cli(&server, &["user", "device", "list", "alice"]).contains("device passwords only"));
    cli(&server, &["user", "device-only", "alice", "off"]);
    assert!(login(&mut server.connect(), "alice", "secret").contains("OK"));
}

#[test]
fn the_history_records_success_and_each_kind_of_failure() {
    let server = Server::start_with(Options {
        extra_tables: "[access.user.alice]\nallow = [\"127.0.0.1\", \"127.0.0.2\"]\n".into(),
        ..Default::default()
    });
    let password = add_device(&server, "alice", "Alice's iPhone");
    // Success, with the name the client gave in ID before logging in.
    let mut client = server.connect();
    client.ok("ID (\"name\" \"Thunderbird\" \"version\" \"128\")");
    assert!(login(&mut client, "alice", "secret").contains("OK"));
    // Wrong password.
    assert!(login(&mut server.connect(), "alice", "wrong").contains("NO"));
    // Right password, from an address alice's rules refuse.
    assert!(server.login_from(3, "alice", "secret").contains("NO [AUTHENTICATIONFAILED]"));
    server.wait_for_log("login failed from 127.0.0.3: user \"alice\" (LOGIN; right password, address not allowed)");
    // Device-only.
    cli(&server, &["user", "device-only", "alice", "on"]);
    assert!(login(&mut server.connect(), "alice", "secret").contains("NO"));
    assert!(server.login_from(2, "alice", &password).contains("OK"));
    // An unknown user gets no history anywhere (and the same answer).
    assert!(
        login(&mut server.connect(), "nobody", "secret").contains("NO [AUTHENTICATIONFAILED] Authentication failed")
    );

    let history = history_showing(&server, "alice", "\"Alice's iPhone\"");
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 6, "a header and five entries:\n{history}");
    // Newest first.
    assert!(
        lines[1].contains("127.0.0.2") && lines[1].contains("\"Alice's iPhone\"") && lines[1].ends_with("ok"),
        "{history}"
    );
    assert!(lines[2].contains("refused: main password refused: device passwords only"), "{history}");
    assert!(
        lines[3].contains("127.0.0.3") && lines[3].contains("refused: right password, address not allowed"),
        "{history}"
    );
    assert!(lines[4].contains("refused: wrong password"), "{history}");
    assert!(lines[5].contains("client \"Thunderbird\"") && lines[5].ends_with("ok"), "{history}");
    assert!(history.contains("UTC"), "{history}");
}

#[test]
fn repeated_logins_share_one_history_line() {
    // Webmail logs in per click: twenty logins alike make one line, counted.
    let server = Server::start_with(Options { extra_limits: "login_history = 3".into(), ..Default::default() });
    for _ in 0..20 {
        let mut client = server.connect();
        assert!(login(&mut client, "alice", "secret").contains("OK"));
        client.ok("LOGOUT");
    }
    let history = history_showing(&server, "alice", "20 since");
    assert_eq!(history.lines().count(), 2, "{history}");
    // And the history is bounded by login_history.
    for last in 2..8 {
        server.login_from(last, "alice", "secret");
    }
    let history = history_showing(&server, "alice", "127.0.0.7");
    assert_eq!(history.lines().count(), 4, "a header and three entries:\n{history}");
    assert!(!history.contains("127.0.0.1 "), "{history}");
}

#[test]
fn per_user_allow_and_deny() {
    let server = Server::start_with(Options {
        extra_tables: "[access.user.alice]\nallow = [\"127.0.0.0/30\"]\n[access.user.bob]\ndeny = [\"127.0.0.5\"]\n"
            .into(),
        ..Default::default()
    });
    assert!(server.login_from(2, "alice", "secret").contains("OK"));
    assert!(server.login_from(9, "alice", "secret").contains("NO [AUTHENTICATIONFAILED] Authentication failed"));
    assert!(server.login_from(5, "bob", "hunter2").contains("NO [AUTHENTICATIONFAILED] Authentication failed"));
    assert!(server.login_from(6, "bob", "hunter2").contains("OK"));
    // A device password obeys the same rules.
    let password = add_device(&server, "alice", "Tablet");
    assert!(server.login_from(9, "alice", &password).contains("NO"));
    assert!(server.login_from(3, "alice", &password).contains("OK"));
}

#[test]
fn the_commands_work_without_a_running_server() {
    let dir = TempDir::new("devices-offline");
    let config = dir.0.join("roost.toml");
    std::fs::write(&config, config_text(&dir.0, &Options::default())).unwrap();
    let config = config.to_str().unwrap();
    let run = |arguments: &[&str]| {
        let mut all = arguments.to_vec();
        all.extend(["--config", config]);
        let (ok, stdout, stderr) = run_cli(&all, None);
        assert!(ok, "roost {arguments:?}: {stderr}");
        stdout
    };
    let (ok, _, stderr) = run_cli(&["user", "add", "alice", "--config", config], Some("secret\n"));
    assert!(ok, "{stderr}");
    assert!(run(&["user", "device", "add", "alice", "Phone"]).contains("shown only this once"));
    assert!(run(&["user", "device-only", "alice", "on"]).contains("device passwords only"));
    let listed = run(&["user", "device", "list", "alice"]);
    assert!(listed.contains("\"Phone\"") && listed.contains("device passwords only"), "{listed}");
    assert!(run(&["user", "log", "alice"]).contains("no logins recorded"));
    assert!(run(&["user", "device", "del", "alice", "Phone"]).contains("deleted"));
    let (ok, _, stderr) = run_cli(&["user", "log", "nobody", "--config", config], None);
    assert!(!ok && stderr.contains("no such user"), "{stderr}");
    let (ok, _, stderr) = run_cli(&["user", "device-only", "alice", "maybe", "--config", config], None);
    assert!(!ok && stderr.contains("on or off"), "{stderr}");
    let (ok, _, stderr) = run_cli(&["user", "device", "add", "alice", "", "--config", config], None);
    assert!(!ok && stderr.contains("needs a name"), "{stderr}");
}

//! Automatic bans and the global address rules: an address that keeps
//! failing to log in is banned (and the ban outlives a restart); a banned
//! address is closed at connect, before TLS, and an open connection of it
//! is refused at LOGIN without a password check; `roost ban list|add|del`;
//! never_ban; repeat bans twice as long; `[access] allow/deny`.
//!
//! Attack traffic comes from 127.0.0.2 and up (every address of 127/8
//! reaches the loopback listener); 127.0.0.1 is in the default never_ban.

mod common;

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::*;

/// What the server says to a connection from `source` before it closes
/// it (everything, up to the end): a refused one gets only a BYE.
fn turned_away_from(source: Ipv4Addr, port: u16) -> String {
    let mut stream = tcp_from(source, port);
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("closed by the server, not timed out");
    text
}

fn with(limits: &str, tables: &str) -> Server {
    Server::start_with(Options { extra_limits: limits.into(), extra_tables: tables.into(), ..Default::default() })
}

/// `roost ban ...` against `server`; its output.
fn ban(server: &Server, arguments: &[&str]) -> String {
    let config = server.config_arg();
    let mut all = vec!["ban"];
    all.extend_from_slice(arguments);
    all.extend_from_slice(&["--config", &config]);
    let (ok, stdout, stderr) = run_cli(&all, None);
    assert!(ok, "roost {}: {stderr}", all.join(" "));
    stdout
}

/// Wrong passwords for alice from `source`, at most `guesses`, until the
/// server closes the connection; every line it sent after the greeting.
fn guess_until_closed(source: Ipv4Addr, port: u16, guesses: usize) -> Vec<String> {
    use std::io::BufRead;
    let stream = tcp_from(source, port);
    let mut writer = stream.try_clone().unwrap();
    let mut reader = std::io::BufReader::new(stream);
    let mut read_line = || {
        let mut line = String::new();
        // A reset (the next guess sent after the server closed) ends it too.
        let _ = reader.read_line(&mut line);
        (!line.is_empty()).then(|| line.trim_end().to_string())
    };
    let greeting = read_line().unwrap_or_default();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    let mut lines = Vec::new();
    for index in 0..guesses {
        if writer.write_all(format!("g{index} LOGIN alice wrong{index}\r\n").as_bytes()).is_err() {
            return lines;
        }
        loop {
            let Some(line) = read_line() else { return lines };
            let tagged = line.starts_with(&format!("g{index} "));
            lines.push(line);
            if tagged {
                break;
            }
        }
    }
    lines
}

const BYE_BANNED: &str = "* BYE Too many failed logins from your address";

#[test]
fn the_threshold_bans_and_the_banned_address_is_closed_at_connect() {
    let server = with("ban_failures = 4", "");
    let port = server.imap_port;
    // Two failures on a connection, then AUTHENTICATE PLAIN failures on
    // another: all count for the address.
    let mut first = greeted_from(loopback(2), port);
    first.no("LOGIN alice wrong1");
    first.no("LOGIN nosuchuser wrong2");
    drop(first);
    let mut second = greeted_from(loopback(2), port);
    // "\0alice\0wrong3" and "\0alice\0wrong4"
    second.no("AUTHENTICATE PLAIN AGFsaWNlAHdyb25nMw==");
    second.send("a4 AUTHENTICATE PLAIN AGFsaWNlAHdyb25nNA==");
    // The fourth failure bans: BYE, the tagged NO, then the end.
    let rest = second.read_to_end();
    assert!(rest.contains(BYE_BANNED) && rest.contains("a4 NO [AUTHENTICATIONFAILED]"), "{rest:?}");

    // From now on 127.0.0.2 is closed at once, on both ports.
    for _ in 0..5 {
        let said = turned_away_from(loopback(2), port);
        assert!(said.starts_with(BYE_BANNED) && !said.contains("* OK"), "{said:?}");
    }
    assert_eq!(turned_away_from(loopback(2), server.imaps_port), "", "no TLS handshake, nothing said");
    // Other addresses are not affected.
    let mut other = greeted_from(loopback(3), port);
    other.ok("LOGIN alice secret");

    // The log comes through a pipe: wait for the lines, then count them.
    server.wait_for_log("(3600 s, ban 1): 4 failed logins within 900 s");
    let log = server.wait_for_log_count("login failed from 127.0.0.2:", 4);
    assert_eq!(log.matches("login failed from 127.0.0.2:").count(), 4, "exactly the threshold was checked:\n{log}");
    assert!(log.contains("banned 127.0.0.2 until "), "{log}");
    assert!(log.contains("(3600 s, ban 1): 4 failed logins within 900 s"), "{log}");
    // Summarised: one line for the refused connections, then a count.
    assert_eq!(log.matches("refused connection from 127.0.0.2: banned until").count(), 1, "{log}");
    let list = ban(&server, &["list"]);
    assert!(list.contains("127.0.0.2") && list.contains("bans: 1") && list.contains("4 failed logins"), "{list}");
}

#[test]
fn a_ban_survives_a_restart() {
    let mut server = with("ban_failures = 3", "");
    let answers = guess_until_closed(loopback(4), server.imap_port, 5);
    assert!(answers.iter().any(|line| line.starts_with(BYE_BANNED)), "{answers:?}");
    // A clean stop, then a start on the same data directory.
    assert!(server.stop().success());
    server.spawn();
    let said = turned_away_from(loopback(4), server.imap_port);
    assert!(said.starts_with(BYE_BANNED), "{said:?}");
    // The log reaches the test through a reader thread: wait for it.
    server.wait_for_log("1 ban(s) kept from before");
    // And after a kill -9 too (the ban was committed durably).
    server.restart();
    assert!(turned_away_from(loopback(4), server.imap_port).starts_with(BYE_BANNED));
    greeted_from(loopback(5), server.imap_port);
}

#[test]
fn a_banned_address_gets_no_password_check() {
    let server = with("", "");
    let port = server.imap_port;
    // alice logs in from 127.0.0.5 (the verified-login cache now knows
    // her password) and keeps a second connection open, not logged in.
    let mut logged_in = greeted_from(loopback(5), port);
    logged_in.ok("LOGIN alice secret");
    let mut waiting = greeted_from(loopback(5), port);
    let out = ban(&server, &["add", "127.0.0.5", "--for", "1h"]);
    assert!(out.contains("127.0.0.5 banned until"), "{out}");
    // The right password is refused: it was not checked at all (a check,
    // or the cache, would have let her in).
    waiting.send("w1 LOGIN alice secret");
    let rest = waiting.read_to_end();
    assert!(rest.contains(BYE_BANNED) && rest.contains("w1 NO [AUTHENTICATIONFAILED]"), "{rest:?}");
    // Fifty connects, all closed at once before a greeting.
    for _ in 0..50 {
        let said = turned_away_from(loopback(5), port);
        assert!(said.starts_with(BYE_BANNED), "{said:?}");
    }
    // A session already logged in is left alone (a ban stops guessing).
    logged_in.ok("NOOP");
    let log = server.wait_for_log("login refused from 127.0.0.5: banned until");
    assert!(!log.contains("login failed from 127.0.0.5"), "{log}");
    assert_eq!(log.matches("login refused from 127.0.0.5: banned until").count(), 1, "{log}");
    assert!(log.contains("(no password checked)"), "{log}");
    assert_eq!(log.matches("refused connection from 127.0.0.5").count(), 1, "summarised:\n{log}");
}

#[test]
fn ban_del_lifts_a_ban_at_once_and_forgets_its_repeats() {
    let server = with("ban_failures = 2", "");
    let port = server.imap_port;
    guess_until_closed(loopback(6), port, 3);
    assert!(turned_away_from(loopback(6), port).starts_with(BYE_BANNED));
    let out = ban(&server, &["del", "127.0.0.6"]);
    assert!(out.contains("ban of 127.0.0.6 lifted"), "{out}");
    let mut client = greeted_from(loopback(6), port);
    client.ok("LOGIN alice secret");
    // Banned again: a first ban (1 h), not a repeat (2 h).
    guess_until_closed(loopback(6), port, 3);
    let list = ban(&server, &["list"]);
    assert!(list.contains("127.0.0.6") && list.contains("bans: 1"), "{list}");
    let log = server.wait_for_log_count("(3600 s, ban 1)", 2);
    assert_eq!(log.matches("(3600 s, ban 1)").count(), 2, "{log}");
    // Lifting what is not banned says so.
    let (ok, _, stderr) = run_cli(&["ban", "del", "127.0.0.99", "--config", &server.config_arg()], None);
    assert!(!ok && stderr.contains("127.0.0.99 is not banned"), "{stderr}");
}

#[test]
fn ban_add_bans_addresses_and_ranges_and_list_lists_them() {
    let server = with("", "");
    let port = server.imap_port;
    assert!(ban(&server, &["list"]).contains("no bans"));
    ban(&server, &["add", "127.0.0.7", "--for", "2h"]);
    ban(&server, &["add", "127.0.0.64/26"]);
    assert!(turned_away_from(loopback(7), port).starts_with(BYE_BANNED));
    assert!(turned_away_from(loopback(70), port).starts_with(BYE_BANNED));
    assert!(turned_away_from(loopback(127), port).starts_with(BYE_BANNED));
    greeted_from(loopback(128), port);
    greeted_from(loopback(8), port);
    let list = ban(&server, &["list"]);
    let lines: Vec<&str> = list.lines().filter(|line| !line.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{list}");
    // The soonest to end first: the range (1 h, the board's first ban)
    // before the address (2 h).
    // The listing rounds down to whole seconds and a second may tick
    // between the ban and the list: allow a few seconds' slack.
    let left = |line: &str| -> u64 {
        let start = line.find('(').expect("a '(N s left)' part") + 1;
        line[start..].split(' ').next().and_then(|n| n.parse().ok()).expect("a number of seconds")
    };
    assert!(lines[0].starts_with("127.0.0.64/26 ") && (3590..=3600).contains(&left(lines[0])), "{list}");
    assert!(lines[1].starts_with("127.0.0.7 ") && (7190..=7200).contains(&left(lines[1])), "{list}");
    assert!(lines.iter().all(|line| line.contains("bans: 1") && line.contains("reason: roost ban add")), "{list}");
    // Bad input is refused clearly.
    let config = server.config_arg();
    for arguments in [["add", "localhost"], ["add", "10.0.0.0/40"]] {
        let mut all = vec!["ban"];
        all.extend_from_slice(&arguments);
        all.extend_from_slice(&["--config", &config]);
        let (ok, _, stderr) = run_cli(&all, None);
        assert!(!ok && (stderr.contains("not an address") || stderr.contains("prefix length")), "{stderr}");
    }
    let (ok, _, stderr) = run_cli(&["ban", "add", "127.0.0.9", "--for", "soon", "--config", &config], None);
    assert!(!ok && stderr.contains("\"soon\""), "{stderr}");
}

#[test]
fn never_ban_is_exempt() {
    let server = with("ban_failures = 2\nnever_ban = [\"127.0.0.1\", \"127.0.0.10/31\"]", "");
    let port = server.imap_port;
    for last in [10, 11] {
        for _ in 0..3 {
            let answers = guess_until_closed(loopback(last), port, 2);
            assert!(!answers.iter().any(|line| line.contains(BYE_BANNED)), "{answers:?}");
        }
        greeted_from(loopback(last), port).ok("LOGIN alice secret");
    }
    // 127.0.0.12 is outside the range.
    guess_until_closed(loopback(12), port, 2);
    assert!(turned_away_from(loopback(12), port).starts_with(BYE_BANNED));
    // So is the machine itself, by the harness's own connections.
    for index in 0..4 {
        server.connect().no(&format!("LOGIN alice wrong{index}"));
    }
    server.login("alice", "secret");
    assert!(!server.log_text().contains("banned 127.0.0.1 "), "{}", server.log_text());
}

#[test]
fn a_repeat_ban_lasts_twice_as_long() {
    let server = with("ban_failures = 2\nban_seconds = 2\nban_max_seconds = 100", "");
    let port = server.imap_port;
    guess_until_closed(loopback(13), port, 2);
    assert!(turned_away_from(loopback(13), port).starts_with(BYE_BANNED));
    // Wait (bounded) for the 2 s ban to end.
    let deadline = Instant::now() + IO_TIMEOUT;
    while turned_away_from_or_greeted(loopback(13), port) {
        assert!(Instant::now() < deadline, "the ban never ended");
        std::thread::sleep(Duration::from_millis(200));
    }
    guess_until_closed(loopback(13), port, 2);
    let log = server.wait_for_log("(4 s, ban 2)");
    assert!(log.contains("banned 127.0.0.13 until") && log.contains("(2 s, ban 1)"), "{log}");
    assert!(log.contains("(4 s, ban 2)"), "twice as long:\n{log}");
    let list = ban(&server, &["list"]);
    assert!(list.contains("bans: 2"), "{list}");
}

/// True if a connection from `source` is turned away (banned), false if greeted.
fn turned_away_from_or_greeted(source: Ipv4Addr, port: u16) -> bool {
    let mut client = Client::new(Transport::Plain(tcp_from(source, port)));
    let line = client.read_line();
    !line.starts_with("* OK")
}

#[test]
fn access_rules_allow_and_deny_at_connect() {
    let tables = "[access]\nallow = [\"127.0.0.1\", \"127.0.0.16/28\"]\ndeny = [\"127.0.0.20\"]";
    let server = with("", tables);
    let port = server.imap_port;
    greeted_from(loopback(17), port).ok("LOGIN alice secret");
    server.login("alice", "secret");
    let not_allowed = "* BYE Connections from your address are not allowed";
    for last in [20, 40, 2] {
        let said = turned_away_from(loopback(last), port);
        assert!(said.starts_with(not_allowed), "127.0.0.{last}: {said:?}");
    }
    assert_eq!(turned_away_from(loopback(40), server.imaps_port), "", "no TLS handshake");
    for _ in 0..20 {
        turned_away_from(loopback(40), port);
    }
    server.wait_for_log("refused connection from 127.0.0.20: not allowed by the [access] rules");
    let log = server.wait_for_log("refused connection from 127.0.0.40");
    assert!(log.contains("refused connection from 127.0.0.20: not allowed by the [access] rules"), "{log}");
    assert_eq!(log.matches("refused connection from 127.0.0.40").count(), 1, "summarised:\n{log}");
}

#[test]
fn a_bad_access_rule_stops_the_start_with_a_clear_message() {
    let dir = TempDir::new("access");
    let config = dir.0.join("roost.toml");
    let text = config_text(&dir.0, &Options::default()) + "[access]\ndeny = [\"192.168.1.0/33\"]\n";
    std::fs::write(&config, text).unwrap();
    let (ok, _, stderr) = run_cli(&["serve", "--config", config.to_str().unwrap()], None);
    assert!(!ok && stderr.contains("[access] deny: \"192.168.1.0/33\""), "{stderr}");
}

#[test]
fn concurrent_guesses_learn_no_more_than_the_threshold() {
    let mut server = with("ban_failures = 2\nauth_threads = 1\nmax_preauth_per_ip = 20", "");
    server.stop();
    // A cost that takes a while, so that the guesses queue behind each other.
    let text = std::fs::read_to_string(&server.config).unwrap();
    let text = text.replace(
        "argon2_memory_kib = 64\nargon2_iterations = 1\n",
        "argon2_memory_kib = 8192\nargon2_iterations = 4\n",
    );
    std::fs::write(&server.config, text).unwrap();
    server.spawn();
    let port = server.imap_port;
    let count = 4;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(count));
    let guesses: Vec<_> = (0..count)
        .map(|index| {
            let barrier = barrier.clone();
            let mut client = greeted_from(loopback(14), port);
            std::thread::spawn(move || {
                barrier.wait();
                client.send(&format!("c{index} LOGIN alice wrong{index}"));
                let (untagged, tagged) = client.until_tagged(&format!("c{index}"));
                let mut answer = format!("{} c{index} {tagged}", untagged.join("\n"));
                if !answer.contains("* BYE") {
                    // Not closed: the guess before the ban.
                    client.send("z LOGOUT");
                }
                answer.push_str(&client.read_to_end());
                answer
            })
        })
        .collect();
    let answers: Vec<String> = guesses.into_iter().map(|thread| thread.join().unwrap()).collect();
    // Every guess is answered NO, every connection ends with a BYE (the
    // ban), and only two were answered from a password check.
    for answer in &answers {
        assert!(answer.contains(" NO [AUTHENTICATIONFAILED]"), "{answers:#?}");
    }
    assert_eq!(answers.iter().filter(|answer| answer.contains(BYE_BANNED)).count(), count - 1, "{answers:#?}");
    server.wait_for_log("login refused from 127.0.0.14: banned until");
    let log = server.wait_for_log_count("login failed from 127.0.0.14:", 2);
    assert_eq!(log.matches("login failed from 127.0.0.14:").count(), 2, "{log}");
    assert!(log.contains("login refused from 127.0.0.14: banned until"), "{log}");
}

//! Account protection against guessing from many addresses, and the
//! alerts delivered into the INBOX (issue 12, items 2 and 6).
//!
//! Logins come from 127.0.0.2 and up (every address of 127/8 reaches the
//! loopback listener; 127.0.0.1 is in the default never_limit). Whether a
//! password was hashed is read from the server's debug line, one per hash
//! ("password check: hashing").

mod common;

use std::time::Duration;

use common::*;

/// Three failures from unknown addresses lock a name for ten minutes.
const LOCK: &str = "lock_failures = 3\nlock_window = 600\nlock_seconds = 600\n";
const HASHED: &str = "password check: hashing";
const WRONG_PASSWORD: &str = "NO [AUTHENTICATIONFAILED] Authentication failed";

fn hashes(server: &Server) -> usize {
    server.log_text().matches(HASHED).count()
}

/// Every message in `user`'s INBOX, read from 127.0.0.1 (never_limit: a
/// known address, so reading raises no alert).
fn inbox(server: &Server, user: &str, password: &str) -> Vec<String> {
    let mut client = server.login(user, password);
    let untagged = client.ok("SELECT INBOX");
    let exists: usize = untagged
        .iter()
        .find_map(|line| line.strip_prefix("* ")?.strip_suffix(" EXISTS")?.parse().ok())
        .expect("EXISTS");
    if exists == 0 {
        return Vec::new();
    }
    client.ok("FETCH 1:* BODY.PEEK[]").into_iter().filter(|line| line.contains(" FETCH ")).collect()
}

#[test]
fn a_locked_account_lets_known_addresses_in_and_refuses_the_others_unchecked() {
    // No verified-login cache: every checked login is hashed.
    let limits = format!("{LOCK}auth_cache_seconds = 0\n");
    let server = Server::start_with(Options { extra_limits: limits, ..Default::default() });
    // Alice's laptop at 127.0.0.2: a known address from now on.
    assert!(server.login_from(2, "alice", "secret").starts_with("OK"));
    // She mistypes there three times: no attack, no lock.
    for attempt in 0..3 {
        assert_eq!(server.login_from(2, "alice", &format!("typo{attempt}")), WRONG_PASSWORD);
    }
    assert!(!server.log_text().contains("locked"));
    // Three guesses from three unknown addresses lock her name against unknown ones.
    for last in 3..=5 {
        assert_eq!(server.login_from(last, "alice", &format!("guess{last}")), WRONG_PASSWORD);
    }
    server.wait_for_log_count("account \"alice\" locked", 1);
    let before = hashes(&server);
    // The right password from an unknown address is refused, word for
    // word like a wrong one, and not checked: the guesser learns nothing.
    assert_eq!(server.login_from(6, "alice", "secret"), WRONG_PASSWORD);
    assert_eq!(server.login_from(7, "alice", "guess7"), WRONG_PASSWORD);
    server.wait_for_log_count("(LOGIN, account locked)", 2);
    let log = server.log_text();
    assert!(log.contains("login failed from 127.0.0.6: user \"alice\" (LOGIN, account locked)"), "{log}");
    // Her laptop still gets in (checked as usual), and so does 127.0.0.1
    // (never_limit); other accounts are not affected.
    assert!(server.login_from(2, "alice", "secret").starts_with("OK"));
    server.wait_for_log_count("login: user alice from 127.0.0.2", 2);
    assert_eq!(hashes(&server), before + 1, "only the known address's login was hashed:\n{}", server.log_text());
    assert!(server.login_from(1, "alice", "secret").starts_with("OK"));
    assert!(server.login_from(6, "bob", "hunter2").starts_with("OK"));
    // One warning per lock, however many refusals follow.
    assert_eq!(server.log_text().matches("account \"alice\" locked").count(), 1);
}

#[test]
fn an_unknown_name_locks_and_answers_exactly_like_a_real_one() {
    let server = Server::start_with(Options { extra_limits: LOCK.into(), ..Default::default() });
    let mut answers = Vec::new();
    for name in ["alice", "nosuchuser"] {
        for last in 3..=5 {
            answers.push(server.login_from(last, name, "guess"));
        }
        server.wait_for_log_count(&format!("account \"{name}\" locked"), 1);
        let before = hashes(&server);
        answers.push(server.login_from(6, name, "guess"));
        server.wait_for_log_count(&format!("user \"{name}\" (LOGIN, account locked)"), 1);
        assert_eq!(hashes(&server), before, "{name}: refused without hashing");
    }
    assert!(answers.iter().all(|answer| answer == WRONG_PASSWORD), "{answers:#?}");
}

#[test]
fn a_lock_runs_out_and_its_alert_is_sent_once_even_across_a_restart() {
    let limits = "lock_failures = 3\nlock_window = 600\nlock_seconds = 2\n";
    let mut server = Server::start_with(Options { extra_limits: limits.into(), ..Default::default() });
    assert!(server.login_from(2, "alice", "secret").starts_with("OK"));
    for _ in 0..3 {
        assert_eq!(server.login_from(3, "alice", "guess"), WRONG_PASSWORD);
    }
    server.wait_for_log_count("account \"alice\" locked", 1);
    assert_eq!(server.login_from(4, "alice", "secret"), WRONG_PASSWORD);
    server.wait_for_log_count("alert: told alice (account locked", 1);
    // Two seconds later the lock is over: the right password gets in.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(server.login_from(4, "alice", "secret").starts_with("OK"));
    // A second lock within the hour: no second alert, not even after a
    // restart (the time of the last one is in the store).
    server.restart();
    for last in 5..=7 {
        assert_eq!(server.login_from(last, "alice", "guess"), WRONG_PASSWORD);
    }
    server.wait_for_log_count("account \"alice\" locked", 2);
    server.wait_for_log_count("alert for alice not sent (account locked", 1);
    let messages = inbox(&server, "alice", "secret");
    let locks: Vec<&String> =
        messages.iter().filter(|message| message.contains("Someone is trying to guess")).collect();
    assert_eq!(locks.len(), 1, "{messages:#?}");
    let message = locks[0].split_whitespace().collect::<Vec<_>>().join(" ");
    for words in [
        "Subject: Someone is trying to guess your mail password",
        "Content-Type: text/plain; charset=utf-8",
        "Hello alice,",
        "3 wrong guesses",
        "from 127.0.0.3",
        "Phones and computers that logged in to your account before are not affected",
        "If this was you",
    ] {
        assert!(message.contains(words), "{words:?} not in {message}");
    }
}

#[test]
fn a_new_address_is_told_once_an_hour_but_not_at_the_first_login_ever() {
    let options = Options { extra_tables: "[alerts]\nadmin = \"bob\"\n".into(), ..Default::default() };
    let mut server = Server::start_with(options);
    // Bob (the admin) waits in IDLE for the copies.
    let mut bob = server.login("bob", "hunter2");
    bob.ok("SELECT INBOX");
    bob.send("i IDLE");
    assert!(bob.read_line().starts_with("+ "));
    // Alice's very first login: nothing to compare with, no alert.
    assert!(server.login_from(2, "alice", "secret").starts_with("OK"));
    // A new address: an alert. More new addresses within the hour: none.
    assert!(server.login_from(3, "alice", "secret").starts_with("OK"));
    assert!(server.login_from(4, "alice", "secret").starts_with("OK"));
    assert!(server.login_from(3, "alice", "secret").starts_with("OK"));
    assert_eq!(bob.read_line(), "* 1 EXISTS", "the admin's IDLE sees the copy arrive");
    bob.send("DONE");
    bob.until_tagged("i");
    server.wait_for_log_count("alert: told alice (login from a new address, 127.0.0.3)", 1);
    server.restart();
    assert!(server.login_from(5, "alice", "secret").starts_with("OK"));
    server.wait_for_log_count("alert for alice not sent (login from a new address)", 1);
    assert_eq!(server.log_text().matches("alert: told").count(), 1, "{}", server.log_text());

    let messages = inbox(&server, "alice", "secret");
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let message = &messages[0];
    for field in [
        "Subject: New login to your mail from 127.0.0.3",
        "To: alice@",
        "Cc: bob@",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Auto-Submitted: auto-generated",
    ] {
        assert!(message.contains(&format!("\r\n{field}")), "{field:?} not in {message}");
    }
    assert!(message.contains("\r\nFrom: roost <postmaster@"), "{message}");
    assert!(message.contains("\r\nMessage-ID: <alert."), "{message}");
    assert!(message.contains("\r\nDate: "), "{message}");
    let text = message.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("from the internet address 127.0.0.3, which it had not been used from before"), "{text}");
    assert!(text.contains("If this was you"), "{text}");
    assert!(text.contains("roost user passwd alice"), "{text}");
    let copies = inbox(&server, "bob", "hunter2");
    assert_eq!(copies.len(), 1, "{copies:#?}");
    assert!(copies[0].contains("A copy of this notice went to bob"), "{}", copies[0]);
}

#[test]
fn alerts_can_be_turned_off() {
    let options =
        Options { extra_limits: LOCK.into(), extra_tables: "[alerts]\nenabled = false\n".into(), ..Default::default() };
    let server = Server::start_with(options);
    assert!(server.login_from(2, "alice", "secret").starts_with("OK"));
    assert!(server.login_from(3, "alice", "secret").starts_with("OK"));
    for last in 4..=6 {
        assert_eq!(server.login_from(last, "alice", "guess"), WRONG_PASSWORD);
    }
    server.wait_for_log_count("account \"alice\" locked", 1);
    // The lock still works; nothing was queued.
    assert_eq!(server.login_from(7, "alice", "secret"), WRONG_PASSWORD);
    assert!(inbox(&server, "alice", "secret").is_empty());
    let log = server.log_text();
    assert!(!log.contains("alert: told") && !log.contains("alert for"), "{log}");
}

/// An address banned for guessing at an account (auth::ban) is reported
/// to that account once, in plain words; an account it never tried, and a
/// name that does not exist, hear nothing.
#[test]
fn a_ban_tells_the_accounts_the_address_tried() {
    let limits = "ban_failures = 4\nlock_failures = 0\n".to_string();
    let server = Server::start_with(Options { extra_limits: limits, ..Default::default() });
    // Alice has logged in before (her first login is never alerted about).
    assert!(server.login_from(2, "alice", "secret").starts_with("OK"));
    // 127.0.0.9 guesses at alice and at a name that does not exist.
    for (attempt, user) in ["alice", "nobody", "alice", "nobody"].iter().enumerate() {
        let answer = server.login_from(9, user, &format!("guess{attempt}"));
        assert_eq!(answer, WRONG_PASSWORD);
    }
    server.wait_for_log_count("banned 127.0.0.9 until", 1);
    server.wait_for_log_count("alert: told alice (address banned", 1);
    let messages = inbox(&server, "alice", "secret");
    let banned: Vec<&String> = messages.iter().filter(|message| message.contains("Blocked 127.0.0.9")).collect();
    assert_eq!(banned.len(), 1, "{messages:#?}");
    let text = banned[0].split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("tried wrong passwords for your mail account \"alice\""), "{text}");
    // Bob was never tried: nothing for him.
    assert!(inbox(&server, "bob", "hunter2").iter().all(|message| !message.contains("Blocked")));
}

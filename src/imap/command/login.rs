//! LOGIN (RFC 3501 §6.2.3) and AUTHENTICATE PLAIN (RFC 4616, with the
//! SASL-IR initial response of RFC 4959).

use std::io;
use std::time::Duration;

use crate::auth::protect::{self, Gate};
use crate::auth::{device, history, normalize_user_name, Verdict};
use crate::imap::code::Code;
use crate::imap::session::{with_timeout, Session, State, Status, User};
use crate::net::LineStatus;
use crate::store::{FailureReason, LoginOutcome};
use crate::util::base64;

/// Failed attempts one connection may make before it is dropped.
const MAX_FAILURES: u32 = 5;

pub async fn login(session: &mut Session, tag: &str, user: Vec<u8>, password: Vec<u8>) -> io::Result<()> {
    if !session.may_send_password() {
        return refuse_plaintext(session, tag);
    }
    verify(session, tag, &user, password, "LOGIN").await
}

pub async fn authenticate(
    session: &mut Session,
    tag: &str,
    mechanism: &str,
    initial: Option<Vec<u8>>,
) -> io::Result<()> {
    if mechanism != "PLAIN" {
        session.tagged(tag, Status::No, Some(Code::Cannot), "Unsupported authentication mechanism (use PLAIN)");
        return Ok(());
    }
    if !session.may_send_password() {
        return refuse_plaintext(session, tag);
    }
    let response = if let Some(response) = initial {
        response
    } else {
        session.conn.write(b"+ \r\n");
        session.conn.flush().await?;
        let mut line = Vec::new();
        // Not logged in yet: the pre-auth cap on what we buffer applies.
        let max = session.server.config.limits.preauth_line_length;
        let timeout = Duration::from_secs(session.server.config.limits.login_timeout);
        match with_timeout(timeout, session.conn.read_line(&mut line, max)).await {
            None => return Err(io::Error::new(io::ErrorKind::TimedOut, "no SASL response")),
            Some(Err(error)) => return Err(error),
            Some(Ok(LineStatus::TooLong { .. })) => {
                session.tagged(tag, Status::Bad, Some(Code::TooBig), "SASL response too long");
                return Ok(());
            }
            Some(Ok(LineStatus::Complete)) => {}
        }
        // RFC 3501 §6.2.2: "*" cancels.
        if line == b"*" {
            session.tagged(tag, Status::Bad, None, "Authentication cancelled");
            return Ok(());
        }
        line
    };
    let Some(decoded) = base64::decode(&response) else {
        session.tagged(tag, Status::Bad, None, "Invalid base64 in SASL response");
        return Ok(());
    };
    // RFC 4616: [authzid] NUL authcid NUL passwd
    let mut parts = decoded.splitn(3, |&byte| byte == 0);
    let (Some(authorization), Some(user), Some(password)) = (parts.next(), parts.next(), parts.next()) else {
        session.tagged(tag, Status::Bad, None, "Invalid PLAIN response");
        return Ok(());
    };
    if !authorization.is_empty() && authorization != user {
        session.tagged(tag, Status::No, Some(Code::AuthorizationFailed), "Logging in as another user is not supported");
        return Ok(());
    }
    let (user, password) = (user.to_vec(), password.to_vec());
    verify(session, tag, &user, password, "AUTHENTICATE PLAIN").await
}

/// A login from a banned address: the same answer as a wrong password,
/// then the connection closes (see `crate::auth::ban`).
fn refuse_banned(session: &mut Session, tag: &str, until: u64, what: &str) {
    let ip = session.peer.ip();
    session.server.log_repeated("logins from banned addresses refused", ip, || {
        format!("login refused from {ip}: banned until {} ({what})", crate::auth::ban::date(until))
    });
    session.conn.write(b"* BYE Too many failed logins from your address; try again later\r\n");
    session.state = State::Logout;
    session.tagged(tag, Status::No, Some(Code::AuthenticationFailed), "Authentication failed");
}

fn refuse_plaintext(session: &mut Session, tag: &str) -> io::Result<()> {
    session.tagged(
        tag,
        Status::No,
        Some(Code::PrivacyRequired),
        "Passwords are not accepted without TLS: use STARTTLS or port 993",
    );
    Ok(())
}

async fn verify(session: &mut Session, tag: &str, user: &[u8], password: Vec<u8>, how: &str) -> io::Result<()> {
    let server = session.server.clone();
    let ip = session.peer.ip();
    // Bans (auth::ban): a connection opened before its address was banned
    // is refused without a lookup or a hash, and closed.
    if let Some(until) = server.banned_until(ip) {
        refuse_banned(session, tag, until, "no password checked");
        return Ok(());
    }
    let name = std::str::from_utf8(user).ok().and_then(|name| normalize_user_name(name).ok());
    let record = match &name {
        Some(name) => match server.store.read().and_then(|reader| reader.user(name)) {
            Ok(record) => record,
            Err(error) => {
                log::error!("login lookup failed: {error}");
                session.tagged(tag, Status::No, Some(Code::Unavailable), "Login temporarily unavailable");
                return Ok(());
            }
        },
        None => None,
    };
    // Device passwords (auth::device): checked first, cheaply; a miss goes
    // on to argon2 as before, so a wrong password costs the same.
    let account = match server.store.read().and_then(|reader| device::Account::load(&reader, record.as_ref())) {
        Ok(account) => account,
        Err(error) => {
            log::error!("login lookup failed: {error}");
            session.tagged(tag, Status::No, Some(Code::Unavailable), "Login temporarily unavailable");
            return Ok(());
        }
    };
    let device = account.device(&password);
    // Account protection (auth::protect): a name locked after a burst of
    // failures refuses unknown addresses without a check, answered below
    // as a wrong password. A device password still gets in: it is 80
    // random bits no botnet guesses, and it is what a family phone on a
    // new (mobile) address uses.
    let user_id = record.as_ref().map(|record| record.id);
    let locked = device.is_none()
        && name.as_deref().is_some_and(|name| protect::check(&server, name, user_id, ip) == Gate::Locked);
    // A login verified lately is remembered by a keyed hash (auth::LoginCache).
    let remembered = record
        .as_ref()
        .filter(|_| {
            name.as_ref().is_some_and(|name| account.may_use_cache(&server.config, name, ip, device.as_deref()))
        })
        .map(|record| server.login_cache.borrow().tag(record.id, &password, &record.password_hash));
    let cached = remembered.is_some_and(|login| server.login_cache.borrow().hit(&login));
    let verdict = if device.is_some() {
        Verdict::Verified
    } else if locked {
        Verdict::Failed
    } else if cached {
        Verdict::Verified
    } else {
        // While its check waits and runs, the connection is not closed to
        // make room for newcomers (see Server::imap_slot).
        session.slot.set_checking(true);
        let phc = record.as_ref().map(|record| record.password_hash.clone());
        let exempt = server.config.limits.never_limit.contains(ip);
        let verdict = server.verifier.verify(ip, exempt, password, phc).await;
        session.slot.set_checking(false);
        verdict
    };
    // Bans: another connection of this address got it banned while this
    // check waited or ran: its answer is withheld, whatever it was, so an
    // address learns the outcome of ban_failures guesses per window, no more.
    if let Some(until) = server.banned_until(ip) {
        refuse_banned(session, tag, until, "answer withheld");
        return Ok(());
    }
    if verdict == Verdict::Busy {
        // Answered at once, without hashing (no failure delay, not logged
        // as a failed login): the same answer for known and unknown users,
        // so nothing can be enumerated.
        server.log_repeated("password checks refused (queue full)", ip, || {
            format!("password check queue full: refused a login from {ip}")
        });
        // Free to answer, so a guesser could loop on it as fast as the
        // socket goes: it counts towards the connection's attempts, and a
        // connection that keeps hitting a full queue is closed like one
        // that keeps guessing wrong (it must then pay a reconnect).
        session.failed_logins += 1;
        if session.failed_logins >= MAX_FAILURES {
            session.conn.write(b"* BYE Too many login attempts\r\n");
            session.state = State::Logout;
        }
        session.tagged(
            tag,
            Status::No,
            Some(Code::Unavailable),
            "Too many logins are being checked; please retry shortly",
        );
        return Ok(());
    }
    let verified = verdict == Verdict::Verified;
    let account_id = record.as_ref().map(|record| record.id);
    let tls = session.conn.stream.is_tls();
    // The outcome for an existing user (device-only, address rules), and
    // its line in that user's history; unknown names get no history.
    let outcome = match (&name, &record) {
        (Some(name), Some(record)) => {
            let outcome = match account.judge(&server.config, name, ip, verified, device.as_deref()) {
                LoginOutcome::Failure(_) if locked => LoginOutcome::Failure(FailureReason::Locked),
                outcome => outcome,
            };
            let entry = history::entry(outcome, ip, device.as_deref(), session.client_name.as_deref(), tls);
            let keep = server.config.limits.login_history;
            server.login_history.borrow_mut().record(&server.store, record.id, entry, keep);
            outcome
        }
        _ => LoginOutcome::Failure(FailureReason::WrongPassword),
    };
    let shown = name.clone().unwrap_or_else(|| String::from_utf8_lossy(user).chars().take(64).collect());
    let mut banned_now = false;
    if let (false, Some(name)) = (verified, &name) {
        protect::failed(&server, name, user_id, ip);
    }
    let (Some(name), Some(record), LoginOutcome::Success) = (name, record, outcome) else {
        // Never summarised: every failed login has its own line, in a
        // stable form for tools (systemd/fail2ban): the address first, so a
        // user name cannot put a fake one before it, and the name quoted
        // with its control characters and quotes escaped, at most 64
        // characters. A refusal other than a wrong password says why
        // inside the parentheses (the client is told nothing more).
        let why = match outcome {
            _ if locked => ", account locked".to_string(),
            LoginOutcome::Failure(reason) if reason != FailureReason::WrongPassword => {
                format!("; {}", reason.describe())
            }
            _ => String::new(),
        };
        log::warn!("login failed from {ip}: user {shown:?} ({how}{why})");
        server.activity.login_failed(ip, &shown);
        // Bans (auth::ban): counted per address; the failure that bans it
        // also ends this connection, and the accounts it tried are told.
        if let Some(banned) = server.login_failed(ip, account_id) {
            crate::alert::banned(&server, &banned.accounts, banned.address.network(), banned.until);
            banned_now = true;
        }
        smol::Timer::after(Duration::from_millis(server.config.limits.auth_failure_delay)).await;
        session.failed_logins += 1;
        if banned_now {
            session.conn.write(b"* BYE Too many failed logins from your address; try again later\r\n");
            session.state = State::Logout;
        } else if session.failed_logins >= MAX_FAILURES {
            session.conn.write(b"* BYE Too many failed logins\r\n");
            session.state = State::Logout;
        }
        session.tagged(tag, Status::No, Some(Code::AuthenticationFailed), "Authentication failed");
        return Ok(());
    };
    if let (false, Some(login)) = (cached, remembered) {
        server.login_cache.borrow_mut().remember(login);
    }
    if let Some(device) = &device {
        server.login_history.borrow_mut().device_used(&server.store, record.id, device, ip);
        session.revoked = Some(server.device_sessions.borrow_mut().watch(record.id, device));
    }
    let Some(slot) = server.user_slot(record.id) else {
        log::warn!("login refused: user {name} from {ip} has too many connections");
        session.tagged(tag, Status::No, Some(Code::Limit), "Too many connections for this user");
        return Ok(());
    };
    let tls = if tls { "TLS" } else { "plaintext" };
    let checked = if cached { ", remembered: no hash" } else { "" };
    let used = device.as_ref().map(|device| format!("; device {device:?}")).unwrap_or_default();
    log::info!("login: user {name} from {ip} ({how}, {tls}{checked}{used})");
    protect::succeeded(&server, record.id, &name, ip, device.as_deref());
    session.slot.logged_in();
    session.state = State::Authenticated(User::new(record.id, name, slot));
    let code = format!("CAPABILITY {}", session.capabilities());
    session.tagged(tag, Status::Ok, Some(Code::Data(code)), "Logged in");
    Ok(())
}

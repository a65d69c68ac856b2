//! LOGIN (RFC 3501 §6.2.3) and AUTHENTICATE PLAIN (RFC 4616, with the
//! SASL-IR initial response of RFC 4959).

use std::io;
use std::time::Duration;

use crate::auth::protect::{self, Gate};
use crate::auth::{normalize_user_name, Verdict};
use crate::imap::session::{with_timeout, Session, State, Status, User};
use crate::net::LineStatus;
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
        session.tagged(tag, Status::No, Some("CANNOT"), "Unsupported authentication mechanism (use PLAIN)");
        return Ok(());
    }
    if !session.may_send_password() {
        return refuse_plaintext(session, tag);
    }
    let response = match initial {
        Some(response) => response,
        None => {
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
                    session.tagged(tag, Status::Bad, Some("TOOBIG"), "SASL response too long");
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
        }
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
        session.tagged(tag, Status::No, Some("AUTHORIZATIONFAILED"), "Logging in as another user is not supported");
        return Ok(());
    }
    let (user, password) = (user.to_vec(), password.to_vec());
    verify(session, tag, &user, password, "AUTHENTICATE PLAIN").await
}

fn refuse_plaintext(session: &mut Session, tag: &str) -> io::Result<()> {
    session.tagged(
        tag,
        Status::No,
        Some("PRIVACYREQUIRED"),
        "Passwords are not accepted without TLS: use STARTTLS or port 993",
    );
    Ok(())
}

async fn verify(session: &mut Session, tag: &str, user: &[u8], password: Vec<u8>, how: &str) -> io::Result<()> {
    let server = session.server.clone();
    let ip = session.peer.ip();
    let name = std::str::from_utf8(user).ok().and_then(|name| normalize_user_name(name).ok());
    let record = match &name {
        Some(name) => match server.store.read().and_then(|reader| reader.user(name)) {
            Ok(record) => record,
            Err(error) => {
                log::error!("login lookup failed: {error}");
                session.tagged(tag, Status::No, Some("UNAVAILABLE"), "Login temporarily unavailable");
                return Ok(());
            }
        },
        None => None,
    };
    // Account protection (auth::protect): a name locked after a burst of
    // failures refuses unknown addresses without a check, answered below
    // as a wrong password.
    let user_id = record.as_ref().map(|record| record.id);
    let locked = name.as_deref().is_some_and(|name| protect::check(&server, name, user_id, ip) == Gate::Locked);
    // A login verified lately is remembered by a keyed hash (auth::LoginCache).
    let remembered =
        record.as_ref().map(|record| server.login_cache.borrow().tag(record.id, &password, &record.password_hash));
    let cached = remembered.is_some_and(|login| server.login_cache.borrow().hit(&login));
    let verdict = if locked {
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
    if let (Verdict::Verified, false, Some(login)) = (verdict, cached, remembered) {
        server.login_cache.borrow_mut().remember(login);
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
        session.tagged(tag, Status::No, Some("UNAVAILABLE"), "Too many logins are being checked; please retry shortly");
        return Ok(());
    }
    let verified = verdict == Verdict::Verified;
    let shown = name.clone().unwrap_or_else(|| String::from_utf8_lossy(user).chars().take(64).collect());
    if let (false, Some(name)) = (verified, &name) {
        protect::failed(&server, name, user_id, ip);
    }
    let (Some(name), Some(record), true) = (name, record, verified) else {
        // Never summarised: every failed login has its own line, in a
        // stable form for tools (systemd/fail2ban): the address first, so a
        // user name cannot put a fake one before it, and the name quoted
        // with its control characters and quotes escaped, at most 64
        // characters.
        let locked = if locked { ", account locked" } else { "" };
        log::warn!("login failed from {ip}: user {shown:?} ({how}{locked})");
        smol::Timer::after(Duration::from_millis(server.config.limits.auth_failure_delay)).await;
        session.failed_logins += 1;
        if session.failed_logins >= MAX_FAILURES {
            session.conn.write(b"* BYE Too many failed logins\r\n");
            session.state = State::Logout;
        }
        session.tagged(tag, Status::No, Some("AUTHENTICATIONFAILED"), "Authentication failed");
        return Ok(());
    };
    let Some(slot) = server.user_slot(record.id) else {
        log::warn!("login refused: user {name} from {ip} has too many connections");
        session.tagged(tag, Status::No, Some("LIMIT"), "Too many connections for this user");
        return Ok(());
    };
    let tls = if session.conn.stream.is_tls() { "TLS" } else { "plaintext" };
    let checked = if cached { ", remembered: no hash" } else { "" };
    log::info!("login: user {name} from {ip} ({how}, {tls}{checked})");
    protect::succeeded(&server, record.id, &name, ip, None);
    session.slot.logged_in();
    session.state = State::Authenticated(User::new(record.id, name, slot));
    let code = format!("CAPABILITY {}", session.capabilities());
    session.tagged(tag, Status::Ok, Some(&code), "Logged in");
    Ok(())
}

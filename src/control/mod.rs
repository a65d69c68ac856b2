//! The control socket: how CLI commands reach a running server.
//!
//! The store lets one process open the database, and that process is the
//! server, so `roost user add` and friends send their request here instead
//! of opening the file. The socket lives in the data directory with mode
//! 0600: whoever can use it could read the mail files anyway.
//!
//! One request line per connection, words separated by spaces; the answer
//! is lines of text ending with `ok` or `error: <why>`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::rc::{Rc, Weak};

use smol::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use smol::{Async, LocalExecutor};

use crate::auth::{device, history};
use crate::server::Server;
use crate::store::{check, Op, StoreError};

pub mod backup;
pub mod export;
pub mod import;
pub mod public;
pub mod quota;
pub mod share;
pub mod status;

/// Longest request line.
const MAX_REQUEST: usize = 4096;

pub fn bind(path: &Path) -> Result<Async<UnixListener>, String> {
    use std::os::unix::fs::PermissionsExt;
    // The server holds the database lock, so no other server owns a socket
    // still on disk: it is a leftover of a crash.
    let _ = std::fs::remove_file(path);
    let listener =
        Async::<UnixListener>::bind(path).map_err(|error| format!("cannot create {}: {error}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|error| format!("cannot restrict {}: {error}", path.display()))?;
    Ok(listener)
}

pub async fn serve(server: Rc<Server>, executor: Weak<LocalExecutor<'static>>, listener: Async<UnixListener>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let Some(executor) = executor.upgrade() else { return };
                let server = server.clone();
                executor
                    .spawn(async move {
                        if let Err(error) = handle(&server, stream).await {
                            log::warn!("control request failed: {error}");
                        }
                    })
                    .detach();
            }
            Err(error) => {
                log::error!("control socket: {error}");
                smol::Timer::after(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn handle(server: &Server, stream: Async<UnixStream>) -> std::io::Result<()> {
    let mut reader = smol::io::BufReader::new(&stream);
    let mut line = String::new();
    (&mut reader).take(MAX_REQUEST as u64).read_line(&mut line).await?;
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.is_empty() {
        // `server_running` connects and hangs up to see whether a server
        // answers: no request, nothing to answer (writing would only fail).
        return Ok(());
    }
    if let ["import", user] = words.as_slice() {
        // A streamed request: frames follow on this connection.
        let user = user.to_string();
        return import::serve(server, reader, &stream, &user).await;
    }
    let answer = match execute(server, &words).await {
        Ok(text) if text.is_empty() => "ok\n".to_string(),
        Ok(text) => format!("{text}\nok\n"),
        Err(text) => format!("error: {}\n", text.replace('\n', " ")),
    };
    let mut stream = stream;
    stream.write_all(answer.as_bytes()).await?;
    stream.flush().await
}

async fn execute(server: &Server, words: &[&str]) -> Result<String, String> {
    let store = &server.store;
    let done = |result: Result<_, StoreError>| result.map(|()| String::new()).map_err(|error| error.to_string());
    match words {
        ["user-add", name, hash] => {
            let op = Op::AddUser { name: name.to_string(), password_hash: hash.to_string() };
            let result = done(store.execute(op).await);
            if result.is_ok() {
                log::info!("user {name} added");
            }
            result
        }
        ["user-passwd", name, hash] => {
            let op = Op::SetPassword { name: name.to_string(), password_hash: hash.to_string() };
            let result = done(store.execute(op).await);
            if result.is_ok() {
                log::info!("password of user {name} changed");
            }
            result
        }
        ["user-del", name] => {
            let result = done(store.execute(Op::DeleteUser { name: name.to_string() }).await);
            if result.is_ok() {
                log::info!("user {name} deleted");
            }
            result
        }
        ["user-list"] => {
            let users = store.read().and_then(|reader| reader.users()).map_err(|error| error.to_string())?;
            Ok(users.into_iter().map(|(name, _)| name).collect::<Vec<_>>().join("\n"))
        }
        ["ban-list"] => Ok(ban_list(server)),
        ["ban-add", address, rest @ ..] if rest.len() <= 1 => {
            let prefix = crate::auth::ban::parse_target(address)?;
            let seconds = match rest.first() {
                Some(seconds) => {
                    Some(seconds.parse::<u64>().map_err(|_| format!("{seconds:?} is not a number of seconds"))?)
                }
                None => None,
            };
            let ban = server.ban(prefix, seconds);
            Ok(format!("{prefix} banned until {} (ban {})", crate::auth::ban::date(ban.until), ban.bans))
        }
        ["ban-del", address] => {
            let prefix = crate::auth::ban::parse_target(address)?;
            if server.lift_ban(prefix) {
                Ok(format!("ban of {prefix} lifted"))
            } else {
                Err(format!("{prefix} is not banned"))
            }
        }
        ["device-add", user, name, record] => {
            let device = device::decode_name(name)?;
            let op = Op::AddDevice {
                user: user.to_string(),
                device: device.clone(),
                record: device::decode_record(record)?,
            };
            let result = done(store.execute(op).await);
            if result.is_ok() {
                log::info!("device password {device:?} added for user {user}");
            }
            result
        }
        ["device-del", user, name] => {
            let device = device::decode_name(name)?;
            let id = store.read().and_then(|reader| reader.user(user)).map_err(|error| error.to_string())?;
            let op = Op::DeleteDevice { user: user.to_string(), device: device.clone() };
            done(store.execute(op).await)?;
            // The next login with it is refused (logins read the devices
            // afresh); the sessions logged in with it are closed now.
            let closed = id.map_or(0, |record| server.device_sessions.borrow_mut().revoke(record.id, &device));
            log::info!("device password {device:?} of user {user} deleted ({closed} session(s) closed)");
            Ok(String::new())
        }
        ["device-only", user, on @ ("on" | "off")] => {
            let result = done(store.execute(Op::SetDeviceOnly { user: user.to_string(), on: *on == "on" }).await);
            if result.is_ok() {
                log::info!("device passwords only for user {user}: {on}");
            }
            result
        }
        ["device-list", user] => {
            let reader = store.read().map_err(|error| error.to_string())?;
            devices_text(&reader, user).map_err(|error| error.to_string())
        }
        ["user-log", user] => {
            // Logins counted in memory are written first, so none is missing.
            let id = store
                .read()
                .and_then(|reader| reader.user(user))
                .map_err(|error| error.to_string())?
                .map(|record| record.id);
            if let Some(id) = id {
                let ops = server.login_history.borrow_mut().take(Some(id), server.config.limits.login_history);
                for op in ops {
                    done(store.execute(op).await)?;
                }
            }
            let reader = store.read().map_err(|error| error.to_string())?;
            history_text(&reader, user).map_err(|error| error.to_string())
        }
        ["share-set", owner, mailbox, identifier, rights] => {
            let result = share::change(server, owner, mailbox, identifier, Some(rights)).await;
            if result.is_ok() {
                log::info!("share: {owner} {mailbox} {identifier} {rights}");
            }
            result
        }
        ["share-del", owner, mailbox, identifier] => {
            let result = share::change(server, owner, mailbox, identifier, None).await;
            if result.is_ok() {
                log::info!("share: {owner} {mailbox} {identifier} removed");
            }
            result
        }
        ["share-list"] => share::list(server),
        ["quota-show", name] => quota::request(server, &[name]).await,
        ["quota-set", name, storage, messages] => quota::request(server, &[name, storage, messages]).await,
        ["public-create", name, grants @ ..] => public::create(server, name, grants).await,
        ["public-del", name] => public::delete(server, name).await,
        ["public-list"] => public::list(server),
        ["export", user, format, dir] => export::run(server, user, format, dir).await,
        ["check"] => {
            // A full walk of the database: `Store::check` runs it off the session thread.
            let report = store.check().await.map_err(|error| error.to_string())?;
            Ok(report_text(&report))
        }
        ["backup", dest] => backup::backup(server, dest).await,
        ["reindex", who] => reindex(server, who).await,
        ["reindex-waiting"] => {
            let reader = store.read().map_err(|error| error.to_string())?;
            let (waiting, _) = reader.fts_counts().map_err(|error| error.to_string())?;
            Ok(waiting.to_string())
        }
        ["status", midnight] => status::answer(server, midnight).await,
        _ => Err(format!("unknown request {:?}", words.join(" "))),
    }
}

/// `roost reindex [--user NAME]` (`who` is the name, or `*` for everyone):
/// queues the mail for the indexer and wakes it. Answers how many
/// messages wait.
async fn reindex(server: &Server, who: &str) -> Result<String, String> {
    if !server.config.limits.search_index {
        return Err("the search index is off on this server (board or [limits] search_index = false)".into());
    }
    let user = match who {
        "*" => None,
        name => {
            let reader = server.store.read().map_err(|error| error.to_string())?;
            let record = reader.user(name).map_err(|error| error.to_string())?;
            Some(record.ok_or_else(|| StoreError::NoSuchUser.to_string())?.id)
        }
    };
    server.store.execute(Op::FtsEnqueue { user }).await.map_err(|error| error.to_string())?;
    crate::fts::indexer::wake(true);
    let reader = server.store.read().map_err(|error| error.to_string())?;
    let (waiting, _) = reader.fts_counts().map_err(|error| error.to_string())?;
    log::info!(
        "reindex of {}: {waiting} message(s) waiting for the search index",
        user.map_or("everyone".to_string(), |_| who.to_string())
    );
    Ok(waiting.to_string())
}

/// One line per ban: address, until, how many bans in a row, why.
fn ban_list(server: &Server) -> String {
    let now = u64::try_from(crate::util::datetime::DateTime::now().unix).unwrap_or(0);
    let bans = server.bans();
    if bans.is_empty() {
        return "no bans".into();
    }
    let width = bans.iter().map(|(prefix, _)| prefix.to_string().len()).max().unwrap_or(0);
    bans.iter()
        .map(|(prefix, ban)| {
            let state = if ban.until > now {
                format!("{} s left", ban.until - now)
            } else {
                "ended; remembered, a repeat bans longer".to_string()
            };
            let address = prefix.to_string();
            format!(
                "{address:width$}  until {} ({state})  bans: {}  reason: {}",
                crate::auth::ban::date(ban.until),
                ban.bans,
                ban.reason
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `roost user device list`, from a running server or the file.
pub fn devices_text(reader: &crate::store::Reader, user: &str) -> Result<String, StoreError> {
    let record = reader.user(user)?.ok_or(StoreError::NoSuchUser)?;
    let devices = reader.devices(record.id)?;
    Ok(history::devices_text(&devices, reader.user_settings(record.id)?.device_only))
}

/// `roost user log`, from a running server or the file.
pub fn history_text(reader: &crate::store::Reader, user: &str) -> Result<String, StoreError> {
    let record = reader.user(user)?.ok_or(StoreError::NoSuchUser)?;
    Ok(history::history_text(&reader.login_history(record.id)?))
}

fn report_text(report: &check::Report) -> String {
    let mut text = report.summary();
    if !report.is_clean() {
        text.push_str("\nDAMAGED");
    }
    text
}

/// Whether a server answers on `path`.
pub fn server_running(path: &Path) -> bool {
    UnixStream::connect(path).is_ok()
}

/// Sends one request to the running server; returns its text, or its error.
pub fn request(path: &Path, words: &[&str]) -> Result<String, String> {
    let mut stream = UnixStream::connect(path)
        .map_err(|error| format!("cannot reach the running server at {}: {error}", path.display()))?;
    stream
        .write_all(format!("{}\n", words.join(" ")).as_bytes())
        .map_err(|error| format!("control socket: {error}"))?;
    let mut lines = Vec::new();
    for line in BufReader::new(stream).lines() {
        let line = line.map_err(|error| format!("control socket: {error}"))?;
        if line == "ok" {
            return Ok(lines.join("\n"));
        }
        if let Some(error) = line.strip_prefix("error: ") {
            return Err(error.to_string());
        }
        lines.push(line);
    }
    Err("the server closed the control connection without an answer".into())
}

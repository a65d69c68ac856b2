//! LMTP (RFC 2033): how mail gets in. The local MTA (Postfix, OpenSMTPD,
//! Exim) hands each message over a Unix socket, or over TCP when
//! configured; `roost deliver` is a small client of the same socket for
//! MTAs that pipe to a command.
//!
//! LMTP has no authentication: whoever reaches the socket may deliver to
//! any user, and to the shared and public mailboxes that grant `anyone`
//! the `p` right (`route`). So the socket is mode 0660 (the MTA gets in through the
//! group, nobody else), and TCP is off unless configured.

pub mod data;
pub mod deliver;
pub mod parse;
pub mod route;
pub mod session;

use std::net::{IpAddr, Ipv6Addr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::rc::{Rc, Weak};
use std::time::Duration;

use smol::io::AsyncWriteExt;
use smol::{Async, LocalExecutor};

use crate::net::Stream;
use crate::server::{isolated, Server};

/// Counted as one address for the board's per-address connection limit.
const LOCAL: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

/// Creates the socket, mode 0660: the MTA runs as another user and comes
/// in through the group (systemd/roost.service puts it in /run/roost,
/// group roost). Inside the data directory (0700, the default place) only
/// the roost user reaches it, whatever its mode.
pub fn bind(path: &Path) -> Result<Async<UnixListener>, String> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    // The server holds the database lock, so a socket still on disk is a
    // leftover of a crash. Anything else there is not ours to remove.
    if let Ok(metadata) = std::fs::symlink_metadata(path) {
        if !metadata.file_type().is_socket() {
            return Err(format!("{} exists and is not a socket; not replacing it", path.display()));
        }
        let _ = std::fs::remove_file(path);
    }
    let listener = Async::<UnixListener>::bind(path)
        .map_err(|error| format!("cannot listen on {} (LMTP): {error}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|error| format!("cannot set the mode of {}: {error}", path.display()))?;
    Ok(listener)
}

pub async fn accept_unix(server: Rc<Server>, executor: Weak<LocalExecutor<'static>>, listener: Async<UnixListener>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                log::error!("lmtp accept failed: {error}");
                smol::Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(executor) = executor.upgrade() else { return };
        start(&server, &executor, LOCAL, "local".into(), Stream::Unix(stream));
    }
}

pub async fn accept_tcp(server: Rc<Server>, executor: Weak<LocalExecutor<'static>>, listener: Async<TcpListener>) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                log::error!("lmtp accept failed: {error}");
                smol::Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.get_ref().set_nodelay(true);
        let Some(executor) = executor.upgrade() else { return };
        start(&server, &executor, peer.ip(), peer.to_string(), Stream::Plain(tcp));
    }
}

/// Runs a session within the board's connection limits, like IMAP's.
fn start(server: &Rc<Server>, executor: &LocalExecutor<'static>, ip: IpAddr, peer: String, stream: Stream) {
    let slot = match server.connection_slot(ip) {
        Ok(slot) => slot,
        Err(reason) => {
            server.log_repeated("refused LMTP connections", ip, || {
                format!("refused LMTP connection from {peer}: {reason}")
            });
            executor.spawn(refuse(stream, reason)).detach();
            return;
        }
    };
    let session = Box::pin(session::run(server.clone(), stream, peer.clone()));
    executor
        .spawn(async move {
            let _slot = slot;
            isolated(&format!("lmtp {peer}"), session).await;
        })
        .detach();
}

/// RFC 5321 §3.8: 421 to a client we will not serve now; it retries later.
async fn refuse(stream: Stream, reason: &str) {
    let mut stream = stream;
    let _ = stream.write_all(format!("421 4.3.2 {reason}\r\n").as_bytes()).await;
    let _ = stream.close().await;
}

//! `roost serve`: opens the store, binds the listeners and runs every
//! session on one single-threaded executor.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use smol::channel::{Receiver, Sender};
use smol::future::FutureExt;
use smol::{Async, LocalExecutor};

use crate::auth::{Cost, Verifier};
use crate::config::Config;
use crate::net::tls::{self, Certificates};
use crate::net::Stream;
use crate::store::Store;

/// Open connections, counted for the board's limits.
#[derive(Default)]
pub struct Counters {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    per_user: HashMap<u32, usize>,
}

/// Held for the life of a connection; gives its place back when dropped.
pub struct ConnectionSlot {
    counters: Rc<RefCell<Counters>>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Ok(mut counters) = self.counters.try_borrow_mut() {
            counters.total -= 1;
            if let Some(count) = counters.per_ip.get_mut(&self.ip) {
                *count -= 1;
                if *count == 0 {
                    counters.per_ip.remove(&self.ip);
                }
            }
        }
    }
}

/// Held while a user is logged in on a connection.
pub struct UserSlot {
    counters: Rc<RefCell<Counters>>,
    user: u32,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        if let Ok(mut counters) = self.counters.try_borrow_mut() {
            if let Some(count) = counters.per_user.get_mut(&self.user) {
                *count -= 1;
                if *count == 0 {
                    counters.per_user.remove(&self.user);
                }
            }
        }
    }
}

/// What every session shares.
pub struct Server {
    pub config: Config,
    pub store: Rc<Store>,
    pub verifier: Verifier,
    pub certificates: Certificates,
    counters: Rc<RefCell<Counters>>,
    /// Dropped to tell every session the server is stopping: a closed
    /// channel wakes all its receivers at once.
    stopping: RefCell<Option<Sender<()>>>,
    stop_signal: Receiver<()>,
}

impl Server {
    /// Resolves when the server begins to stop.
    pub fn stop_signal(&self) -> Receiver<()> {
        self.stop_signal.clone()
    }

    fn open_connections(&self) -> usize {
        self.counters.borrow().total
    }

    pub fn connection_slot(&self, ip: IpAddr) -> Result<ConnectionSlot, &'static str> {
        let limits = &self.config.limits;
        let mut counters = self.counters.borrow_mut();
        if counters.total >= limits.max_connections {
            return Err("Too many connections to this server");
        }
        let from_ip = counters.per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= limits.max_connections_per_ip {
            return Err("Too many connections from your address");
        }
        counters.total += 1;
        *counters.per_ip.entry(ip).or_default() += 1;
        Ok(ConnectionSlot { counters: self.counters.clone(), ip })
    }

    /// A place for one more session of `user`, if the board allows it.
    pub fn user_slot(&self, user: u32) -> Option<UserSlot> {
        let mut counters = self.counters.borrow_mut();
        let count = counters.per_user.entry(user).or_default();
        if *count >= self.config.limits.max_connections_per_user {
            return None;
        }
        *count += 1;
        Some(UserSlot { counters: self.counters.clone(), user })
    }
}

/// Creates the data directory, readable by its owner only.
pub fn create_data_dir(config: &Config) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .map_err(|error| format!("cannot create data directory {}: {error}", config.data_dir.display()))
}

fn tls_paths(config: &Config) -> Result<(PathBuf, PathBuf), String> {
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Ok((cert.clone(), key.clone())),
        _ => {
            let cert = config.data_dir.join("tls").join("cert.pem");
            let key = config.data_dir.join("tls").join("key.pem");
            if tls::ensure_self_signed(&cert, &key, &config.tls_hostnames)? {
                log::info!(
                    "generated a self-signed certificate for {} in {}",
                    config.tls_hostnames.join(", "),
                    cert.display()
                );
            }
            Ok((cert, key))
        }
    }
}

fn bind(addresses: &[SocketAddr], what: &str) -> Result<Vec<(Async<TcpListener>, SocketAddr)>, String> {
    addresses
        .iter()
        .map(|address| {
            let listener = Async::<TcpListener>::bind(*address)
                .map_err(|error| format!("cannot listen on {address} ({what}): {error}"))?;
            let local = listener.get_ref().local_addr().map_err(|error| error.to_string())?;
            Ok((listener, local))
        })
        .collect()
}

pub fn serve(config: Config) -> Result<(), String> {
    create_data_dir(&config)?;
    let (cert, key) = tls_paths(&config)?;
    let certificates = Certificates::load(&cert, &key)?;
    let (store, pump) = Store::open(&config.database_path(), config.limits.cache_size, config.limits.min_free_disk)
        .map_err(|error| match error {
            crate::store::StoreError::Locked => format!(
                "{} is in use by another roost process (is the server already running?)",
                config.database_path().display()
            ),
            other => format!("cannot open {}: {other}", config.database_path().display()),
        })?;
    store.hub().borrow_mut().keep(config.limits.mailbox_cache);
    crate::store::set_expunge_history(config.limits.expunge_history);
    crate::util::pool::configure(config.limits.workers as usize);
    let verifier = Verifier::start(Cost::from_limits(&config.limits), config.limits.auth_threads)
        .map_err(|error| format!("cannot start the password thread: {error}"))?;
    let plain = bind(&config.imap_listen, "IMAP, STARTTLS")?;
    let implicit = bind(&config.imaps_listen, "IMAP over TLS")?;
    let control = crate::control::bind(&config.control_socket())?;
    let lmtp_unix = match &config.lmtp_socket {
        Some(path) => Some(crate::lmtp::bind(path)?),
        None => None,
    };
    let lmtp_tcp = bind(&config.lmtp_listen, "LMTP")?;

    log::info!(
        "roost {} starting: data {}, board {}",
        env!("CARGO_PKG_VERSION"),
        config.data_dir.display(),
        config.board
    );
    if let Some(path) = &config.lmtp_socket {
        log::info!("lmtp listening on {}", path.display());
    }
    for (_, address) in &lmtp_tcp {
        if !address.ip().is_loopback() {
            log::warn!("LMTP on {address} is not loopback: LMTP has no authentication, anyone reaching it can deliver");
        }
        log::info!("lmtp listening on {address} (TCP)");
    }
    for (_, address) in &plain {
        log::info!("imap listening on {address} (STARTTLS)");
    }
    for (_, address) in &implicit {
        log::info!("imaps listening on {address} (TLS)");
    }
    log::info!("TLS certificate {}", cert.display());

    let mut signals = async_signal::Signals::new([async_signal::Signal::Term, async_signal::Signal::Int])
        .map_err(|error| format!("cannot watch for SIGTERM: {error}"))?;
    let (stopping, stop_signal) = smol::channel::bounded(1);
    let server = Rc::new(Server {
        config,
        store,
        verifier,
        certificates,
        counters: Rc::default(),
        stopping: RefCell::new(Some(stopping)),
        stop_signal,
    });
    // Tasks hold the executor weakly: dropping it at the end drops them,
    // and with them every handle on the store.
    let executor = Rc::new(LocalExecutor::new());
    executor.spawn(pump).detach();
    executor.spawn(crate::control::serve(server.clone(), Rc::downgrade(&executor), control)).detach();
    for (listener, _) in plain {
        executor.spawn(accept(server.clone(), Rc::downgrade(&executor), listener, false)).detach();
    }
    for (listener, _) in implicit {
        executor.spawn(accept(server.clone(), Rc::downgrade(&executor), listener, true)).detach();
    }
    if let Some(listener) = lmtp_unix {
        executor.spawn(crate::lmtp::accept_unix(server.clone(), Rc::downgrade(&executor), listener)).detach();
    }
    for (listener, _) in lmtp_tcp {
        executor.spawn(crate::lmtp::accept_tcp(server.clone(), Rc::downgrade(&executor), listener)).detach();
    }
    let storage_failed = std::cell::Cell::new(false);
    let until_stopped = async {
        use smol::stream::StreamExt;
        let signal = async { signals.next().await };
        let failure = async {
            server.store.failed().await;
            None
        };
        match smol::future::or(signal, failure).await {
            Some(Ok(signal)) => log::info!("received {signal:?}: stopping"),
            _ => {
                log::error!("storage failed: stopping, so that a restart reopens and repairs the database");
                storage_failed.set(true);
            }
        }
        server.stopping.borrow_mut().take();
        // Sessions say BYE and end; give them a moment.
        let deadline = Instant::now() + Duration::from_secs(3);
        while server.open_connections() > 0 && Instant::now() < deadline {
            smol::Timer::after(Duration::from_millis(20)).await;
        }
    };
    smol::block_on(executor.run(until_stopped));
    drop(executor);
    // The last handle on the store: its drop lets the store thread finish
    // and closes the database cleanly.
    drop(server);
    if storage_failed.get() {
        return Err("stopped after a storage failure (see the log above)".into());
    }
    log::info!("stopped");
    Ok(())
}

async fn accept(
    server: Rc<Server>,
    executor: Weak<LocalExecutor<'static>>,
    listener: Async<TcpListener>,
    implicit_tls: bool,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, most likely: wait, then go on.
                log::error!("accept failed: {error}");
                smol::Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Without it a TLS handshake on loopback took ~43 ms instead of ~1 ms.
        let _ = tcp.get_ref().set_nodelay(true);
        let Some(executor) = executor.upgrade() else { return };
        let slot = match server.connection_slot(peer.ip()) {
            Ok(slot) => slot,
            Err(reason) => {
                log::warn!("refused connection from {peer}: {reason}");
                executor.spawn(refuse(tcp, reason, implicit_tls)).detach();
                continue;
            }
        };
        // Boxed once here: passed by value through the wrappers below, the
        // session future would be stored again at every layer (async
        // functions keep a moved argument and the future it moved into
        // side by side), tripling an idle connection's task.
        let session = Box::pin(crate::imap::session::run(server.clone(), Stream::Plain(tcp), peer, implicit_tls));
        executor
            .spawn(async move {
                let _slot = slot;
                isolated(peer, session).await;
            })
            .detach();
    }
}

/// Runs one session; a panic in it ends that session only, never the
/// executor and the other sessions on it. Its state is dropped as the
/// panic unwinds (views, slots), so nothing it held stays claimed.
pub async fn isolated(peer: impl std::fmt::Display, session: impl std::future::Future<Output = ()>) -> bool {
    match std::panic::AssertUnwindSafe(session).catch_unwind().await {
        Ok(()) => true,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|text| text.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            log::error!("session of {peer} panicked: {what}");
            false
        }
    }
}

/// Tells a client over the limit why it is turned away (RFC 3501 §7.1.5).
async fn refuse(tcp: Async<std::net::TcpStream>, reason: &str, implicit_tls: bool) {
    use smol::io::AsyncWriteExt;
    if implicit_tls {
        // Nothing readable can be said before a handshake we will not do.
        return;
    }
    let mut tcp = tcp;
    let _ = tcp.write_all(format!("* BYE [UNAVAILABLE] {reason}\r\n").as_bytes()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_session_leaves_the_others_running() {
        let executor = LocalExecutor::new();
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let finished = std::rc::Rc::new(std::cell::Cell::new(0));
        let healthy = |finished: std::rc::Rc<std::cell::Cell<u32>>| async move {
            for _ in 0..10 {
                smol::future::yield_now().await;
            }
            finished.set(finished.get() + 1);
        };
        let first = executor.spawn(isolated(peer, healthy(finished.clone())));
        let panicking = executor.spawn(isolated(peer, async {
            smol::future::yield_now().await;
            panic!("deliberate");
        }));
        let second = executor.spawn(isolated(peer, healthy(finished.clone())));
        let results = smol::block_on(executor.run(async { (first.await, panicking.await, second.await) }));
        assert_eq!(results, (true, false, true));
        assert_eq!(finished.get(), 2);
    }
}

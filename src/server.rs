//! `roost serve`: opens the store, binds the listeners and runs every
//! session on one single-threaded executor.
//!
//! ## Connection limits
//!
//! Every connection counts in `max_connections` and under its address
//! ([`limit_key`]: IPv4 as itself, IPv6 per /64) in
//! `max_connections_per_ip`. Connections not logged in yet ("pre-auth")
//! also count in `max_preauth_connections` and `max_preauth_per_ip`: the
//! rest of `max_connections` is kept for logged-in sessions, which a
//! stranger cannot fill. Every address counts alike, 127.0.0.2 and the rest
//! of 127/8 included; only addresses in `never_limit` (by default
//! 127.0.0.1 and ::1) skip the per-address and pre-auth counts (they still
//! count in the total).
//!
//! When the pre-auth slots (or all connections) are taken, the oldest
//! pre-auth connection is closed (`* BYE [UNAVAILABLE]`) to make room
//! rather than the newcomer refused, unless the newcomer's own address is
//! at its cap, which refuses it. So a slow flood from many addresses churns
//! through its own connections while a real user still gets in; a flood
//! from one address cannot push anyone out. A connection whose password
//! is being checked is not closed for room (the password queue bounds
//! those). What this does not stop: a flood that reconnects faster than a
//! real client sends its LOGIN after the greeting can close that client
//! before it logs in (the client reconnects; the per-address caps make
//! such a flood need `max_preauth_connections / max_preauth_per_ip`
//! addresses at least).
//!
//! The login deadline is set at connect from how full the pre-auth slots
//! are ([`login_timeout`]); the TLS handshake has its own, shorter one
//! (`tls_handshake_timeout`). Refusals and closings are logged once per
//! address per minute, then counted ([`LogSummary`]).
//!
//! ## Turned away at accept
//!
//! Before any of that, before a TLS handshake and before the connection
//! counts anywhere, an IMAP connection is closed at once when the
//! `[access]` rules do not admit its address (`deny`, or outside a
//! non-empty `allow`) or when its address is banned ([`crate::auth::ban`]).
//! On the STARTTLS port it gets one `* BYE` line, written without waiting
//! (a fresh socket's buffer has room), so a family member locked out by
//! mistake reads why; on the TLS port nothing can be said before a
//! handshake, so it is just closed. Such a connection costs an accept, a
//! hash-table lookup and a close: no task, no buffer, no password check.
//! LMTP is left alone: it has no login to guess, and its TCP listener is
//! meant for loopback (see `crate::lmtp`).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use smol::channel::{Receiver, Sender};
use smol::future::FutureExt;
use smol::{Async, LocalExecutor};

use crate::auth::ban::{self, BanEvent, Bans};
use crate::auth::{Cost, Verifier};
use crate::config::{Config, Limits};
use crate::net::tls::{self, Certificates};
use crate::net::Stream;
use crate::store::{BanRecord, Op, Store};
use crate::util::address::{limit_key, Prefix};
use crate::util::datetime::DateTime;
use crate::util::log_summary::{self, LogSummary};

/// One open connection, as the limits count it.
struct Entry {
    /// The address it counts under ([`limit_key`]); None for an address in
    /// `never_limit`, which no per-address limit counts.
    key: Option<IpAddr>,
    /// Not logged in yet.
    preauth: bool,
    /// Dropped to close the connection (oldest pre-auth first).
    evict: Option<Sender<()>>,
}

/// Open connections, counted for the board's limits.
#[derive(Default)]
pub struct Counters {
    connections: HashMap<u64, Entry>,
    next_id: u64,
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    preauth: usize,
    preauth_per_ip: HashMap<IpAddr, usize>,
    /// Pre-auth connections that may be closed to make room, oldest first
    /// (ids grow with time). One in a password check is left out: it is
    /// doing what a real user does, and the auth queue bounds those.
    evictable: BTreeSet<u64>,
    per_user: HashMap<u32, usize>,
    /// Repeated events (refusals, drops), summarised per address.
    pub log: LogSummary,
    /// Connections closed since the heap was last trimmed.
    closed_since_trim: usize,
}

fn decrement(map: &mut HashMap<IpAddr, usize>, key: IpAddr) {
    if let Some(count) = map.get_mut(&key) {
        *count -= 1;
        if *count == 0 {
            map.remove(&key);
        }
    }
}

impl Counters {
    /// Takes connection `id` out of the pre-auth count.
    fn leave_preauth(&mut self, id: u64) {
        let Some(entry) = self.connections.get_mut(&id) else { return };
        if !entry.preauth {
            return;
        }
        entry.preauth = false;
        entry.evict = None;
        let key = entry.key;
        self.evictable.remove(&id);
        if let Some(key) = key {
            self.preauth -= 1;
            decrement(&mut self.preauth_per_ip, key);
        }
    }

    /// Forgets connection `id`; false if it was already gone (evicted).
    fn release(&mut self, id: u64) -> bool {
        self.leave_preauth(id);
        let Some(entry) = self.connections.remove(&id) else { return false };
        self.total -= 1;
        if let Some(key) = entry.key {
            decrement(&mut self.per_ip, key);
        }
        true
    }

    /// Closes the oldest evictable pre-auth connection; its address.
    fn evict_oldest(&mut self) -> Option<IpAddr> {
        let id = self.evictable.pop_first()?;
        let key = self.connections.get(&id).and_then(|entry| entry.key);
        // Dropping its sender (in the entry) wakes the session, which says BYE.
        self.release(id);
        key
    }
}

/// The login deadline for a connection arriving when `taken` of `max`
/// pre-auth slots are taken (itself included): the board's login_timeout
/// while at most half are taken; below that, in proportion to the free
/// slots, down to min_login_timeout when none is free. So a flood that
/// fills the slots has its connections closed sooner, while a real
/// client (which logs in within a second) never notices.
pub fn login_timeout(limits: &Limits, taken: usize) -> Duration {
    let full = limits.login_timeout;
    let floor = limits.min_login_timeout.min(full);
    let max = limits.max_preauth_connections.max(1) as u64;
    let free = max.saturating_sub(taken as u64);
    let half = max.div_ceil(2);
    let seconds = if free >= half { full } else { floor + (full - floor) * free / half };
    Duration::from_secs(seconds)
}

/// Held for the life of a connection; gives its place back when dropped.
pub struct ConnectionSlot {
    counters: Rc<RefCell<Counters>>,
    id: u64,
}

impl ConnectionSlot {
    /// The session logged in: it leaves the pre-auth count (and can no
    /// longer be closed to make room).
    pub fn logged_in(&self) {
        self.counters.borrow_mut().leave_preauth(self.id);
    }

    /// While a password check runs, the connection is not closed to make room.
    pub fn set_checking(&self, checking: bool) {
        let mut counters = self.counters.borrow_mut();
        let preauth = counters.connections.get(&self.id).is_some_and(|entry| entry.preauth && entry.evict.is_some());
        if !preauth {
            return;
        }
        if checking {
            counters.evictable.remove(&self.id);
        } else {
            counters.evictable.insert(self.id);
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Ok(mut counters) = self.counters.try_borrow_mut() {
            counters.release(self.id);
            counters.closed_since_trim += 1;
            if counters.closed_since_trim >= TRIM_AFTER_CLOSED {
                counters.closed_since_trim = 0;
                crate::util::heap::trim();
            }
        }
    }
}

/// Connections closed before freed heap is handed back to the kernel (see
/// [`crate::util::heap::trim`]): often enough that a flood's buffers go back
/// soon after it, rarely enough that the walk over the heap costs nothing.
const TRIM_AFTER_CLOSED: usize = 64;

/// An IMAP connection admitted: its slot, what closes it to make room, its login deadline.
pub struct Admitted {
    pub slot: ConnectionSlot,
    pub evicted: Receiver<()>,
    pub login_timeout: Duration,
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
    /// Logins verified lately, so clients that log in per action skip argon2.
    pub login_cache: RefCell<crate::auth::LoginCache>,
    /// Logins on their way to the history (`auth::history`).
    pub login_history: RefCell<crate::auth::history::Recorder>,
    /// Sessions logged in with a device password, closed when it is deleted.
    pub device_sessions: RefCell<crate::auth::device::Sessions>,
    /// Per-account failure counts and locks, known addresses lately recorded.
    pub protect: RefCell<crate::auth::Protection>,
    /// Notices for users' INBOXes, delivered by `alert::run`.
    pub alerts: crate::alert::Alerts,
    /// The backup in progress, if any (`crate::backup`).
    pub backups: crate::backup::Backups,
    pub certificates: Certificates,
    /// Automatic and manual bans (`auth::ban`), kept in the store too.
    bans: RefCell<Bans>,
    counters: Rc<RefCell<Counters>>,
    /// Listeners, deliveries today, recent failed logins: `roost status`.
    pub activity: crate::control::status::Activity,
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

    /// A place for an LMTP connection: counted in the total and per
    /// address, never pre-auth (LMTP has no login; it comes from the MTA).
    pub fn connection_slot(&self, ip: IpAddr) -> Result<ConnectionSlot, &'static str> {
        let limits = &self.config.limits;
        // The LMTP Unix socket has no address (it shows as `::`): the MTA
        // on this machine, kept out by the socket's mode, not by counts.
        let limited = !ip.is_unspecified() && !limits.never_limit.contains(ip);
        let key = limit_key(ip);
        let mut counters = self.counters.borrow_mut();
        if counters.total >= limits.max_connections {
            return Err("Too many connections to this server");
        }
        if limited && counters.per_ip.get(&key).copied().unwrap_or(0) >= limits.max_connections_per_ip {
            return Err("Too many connections from your address");
        }
        Ok(self.add(&mut counters, key, limited, None))
    }

    fn add(&self, counters: &mut Counters, key: IpAddr, limited: bool, evict: Option<Sender<()>>) -> ConnectionSlot {
        let id = counters.next_id;
        counters.next_id += 1;
        counters.total += 1;
        let preauth = evict.is_some();
        if limited {
            *counters.per_ip.entry(key).or_default() += 1;
            if preauth {
                counters.preauth += 1;
                *counters.preauth_per_ip.entry(key).or_default() += 1;
                counters.evictable.insert(id);
            }
        }
        counters.connections.insert(id, Entry { key: limited.then_some(key), preauth, evict });
        ConnectionSlot { counters: self.counters.clone(), id }
    }

    /// A place for a new IMAP connection from `ip`, not logged in yet.
    ///
    /// Per-address caps come first: an address at its cap is refused
    /// (so one address cannot push others out). Then, if the pre-auth
    /// slots or all connections are taken, the oldest pre-auth connection
    /// is closed to make room rather than the newcomer refused: a flood
    /// from many addresses then cycles through its own connections, and a
    /// real user gets in. Addresses in `never_limit` are not counted per
    /// address nor as pre-auth (and are never closed for room); they
    /// still count in max_connections.
    pub fn imap_slot(&self, ip: IpAddr) -> Result<Admitted, &'static str> {
        let limits = &self.config.limits;
        let limited = !limits.never_limit.contains(ip);
        let key = limit_key(ip);
        let mut counters = self.counters.borrow_mut();
        if limited {
            if counters.per_ip.get(&key).copied().unwrap_or(0) >= limits.max_connections_per_ip {
                return Err("Too many connections from your address");
            }
            if counters.preauth_per_ip.get(&key).copied().unwrap_or(0) >= limits.max_preauth_per_ip {
                return Err("Too many connections from your address waiting to log in");
            }
        }
        while counters.total >= limits.max_connections
            || (limited && counters.preauth >= limits.max_preauth_connections)
        {
            let Some(dropped) = counters.evict_oldest() else {
                return Err("Too many connections to this server");
            };
            if counters.log.note("oldest pre-auth connections closed to make room", dropped) {
                log::warn!("closed the oldest connection waiting to log in, from {dropped}, to make room for {ip}");
            }
        }
        let (evict, evicted) = smol::channel::bounded(1);
        let slot = self.add(&mut counters, key, limited, Some(evict));
        let login_timeout = login_timeout(limits, counters.preauth);
        Ok(Admitted { slot, evicted, login_timeout })
    }

    /// Logs `text` unless it repeats `kind` from `ip` within the summary
    /// interval (then it is counted for one summary line).
    pub fn log_repeated(&self, kind: &'static str, ip: IpAddr, text: impl FnOnce() -> String) {
        if self.counters.borrow_mut().log.note(kind, limit_key(ip)) {
            log::warn!("{}", text());
        }
    }

    /// Until when (unix seconds) `ip` is banned, if it is.
    pub fn banned_until(&self, ip: IpAddr) -> Option<u64> {
        self.bans.borrow().banned(ip, now()).map(|ban| ban.until)
    }

    /// Counts a failed login from `ip` (`account`: the existing user it
    /// tried, if any). When that begins a ban, logs it, keeps it in the store
    /// and returns it: the caller closes the connection, and may tell the
    /// accounts it tried.
    pub fn login_failed(&self, ip: IpAddr, account: Option<u32>) -> Option<BanEvent> {
        let now = now();
        let event = self.bans.borrow_mut().failed(ip, account, now)?;
        let ban = self.bans.borrow().banned(ip, now).cloned()?;
        self.ban_started(event.address, &ban, now);
        Some(event)
    }

    /// Bans `prefix` by hand (`roost ban add`) for `seconds`, or as long
    /// as an automatic ban would be (repeats doubling).
    pub fn ban(&self, prefix: Prefix, seconds: Option<u64>) -> BanRecord {
        let now = now();
        let ban = self.bans.borrow_mut().ban(prefix, seconds, "roost ban add".into(), now);
        self.ban_started(prefix.masked(), &ban, now);
        ban
    }

    /// Lifts a ban (`roost ban del`) and forgets its repeats; false if there was none.
    pub fn lift_ban(&self, prefix: Prefix) -> bool {
        let lifted = self.bans.borrow_mut().lift(prefix);
        if lifted {
            log::warn!("ban of {} lifted", prefix.masked());
            self.forget_bans(vec![prefix.masked()]);
        }
        lifted
    }

    /// Every ban held, the soonest to end first (ended ones still
    /// remembered for their repeat count included).
    pub fn bans(&self) -> Vec<(Prefix, BanRecord)> {
        self.bans.borrow().list()
    }

    /// One line per ban, in a stable form for people and tools:
    /// `banned ADDRESS until DATE (N s, ban K): REASON`. Durable in the store
    /// before long (the store thread commits it; nobody waits).
    fn ban_started(&self, prefix: Prefix, ban: &BanRecord, now: u64) {
        let seconds = ban.until.saturating_sub(now);
        log::warn!("banned {prefix} until {} ({seconds} s, ban {}): {}", ban::date(ban.until), ban.bans, ban.reason);
        self.store.submit(Op::SetBan { address: prefix.to_string(), ban: ban.clone() });
        let forgotten = self.bans.borrow_mut().take_forgotten();
        self.forget_bans(forgotten);
    }

    fn forget_bans(&self, prefixes: Vec<Prefix>) {
        if !prefixes.is_empty() {
            let addresses = prefixes.iter().map(Prefix::to_string).collect();
            self.store.submit(Op::DeleteBans { addresses });
        }
    }

    /// Forgets what bans no longer need (run now and then).
    fn sweep_bans(&self) {
        let forgotten = {
            let mut bans = self.bans.borrow_mut();
            bans.sweep(now());
            bans.take_forgotten()
        };
        self.forget_bans(forgotten);
    }

    /// Why a new IMAP connection from `ip` is closed at once, if it is:
    /// (summary kind, log text, what the client is told).
    fn turned_away(&self, ip: IpAddr) -> Option<(&'static str, String, &'static str)> {
        if !self.config.access.admits(ip) {
            return Some((
                "connections refused by the [access] rules",
                format!("refused connection from {ip}: not allowed by the [access] rules"),
                "* BYE Connections from your address are not allowed\r\n",
            ));
        }
        let until = self.banned_until(ip)?;
        Some((
            "connections from banned addresses refused",
            format!("refused connection from {ip}: banned until {}", ban::date(until)),
            "* BYE Too many failed logins from your address; try again later\r\n",
        ))
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

/// Unix seconds now.
fn now() -> u64 {
    u64::try_from(DateTime::now().unix).unwrap_or(0)
}

/// The bans kept in the store (an unreadable entry is logged and left out).
fn load_bans(store: &Store, limits: &Limits) -> Result<Bans, String> {
    let kept =
        store.read().and_then(|reader| reader.bans()).map_err(|error| format!("cannot read the bans: {error}"))?;
    let mut bans = Bans::new(ban::Settings::from_limits(limits));
    let mut loaded = Vec::new();
    for (address, ban) in kept {
        match Prefix::parse(&address) {
            Ok(prefix) => loaded.push((prefix, ban)),
            Err(problem) => log::warn!("ignoring a stored ban: {problem}"),
        }
    }
    let count = loaded.len();
    bans.load(loaded, now());
    let forgotten = bans.take_forgotten();
    if count > forgotten.len() {
        log::info!("{} ban(s) kept from before", count - forgotten.len());
    }
    if !forgotten.is_empty() {
        store.submit(Op::DeleteBans { addresses: forgotten.iter().map(Prefix::to_string).collect() });
    }
    Ok(bans)
}

/// Creates the data directory, readable by its owner only, and makes
/// sure of it whatever existed before: the directory (and `tls/` in it)
/// 0700, every file in them 0600 — mail, password hashes and the TLS key
/// are nobody else's business. Files roost creates from here on are
/// private too (umask 077). A looser mode found is fixed and logged.
pub fn create_data_dir(config: &Config) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .map_err(|error| format!("cannot create data directory {}: {error}", config.data_dir.display()))?;
    make_private(&config.data_dir)
}

fn make_private(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let fix = |path: &std::path::Path, mode: u32| -> Result<(), String> {
        let metadata = std::fs::symlink_metadata(path).map_err(|error| format!("{}: {error}", path.display()))?;
        let current = metadata.permissions().mode() & 0o777;
        if current & 0o077 != 0 {
            log::warn!("{} could be read by other users (mode {current:o}): made {mode:o}", path.display());
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|error| format!("cannot make {} private: {error}", path.display()))?;
        }
        Ok(())
    };
    fix(dir, 0o700)?;
    for folder in [dir.to_path_buf(), dir.join("tls")] {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() && entry.file_name() == "tls" {
                fix(&entry.path(), 0o700)?;
            } else if kind.is_file() {
                // Sockets (LMTP's is 0660 on purpose) and links are left alone.
                fix(&entry.path(), 0o600)?;
            }
        }
    }
    Ok(())
}

/// The certificate and key the server uses: the configured pair, or the
/// self-signed one in the data directory (made on first use).
pub fn tls_paths(config: &Config) -> Result<(PathBuf, PathBuf), String> {
    if let Some(pair) = other_certificate(config) {
        Ok(pair)
    } else {
        let (cert, key, names) = own_certificate(config);
        if tls::ensure_self_signed(&cert, &key, &names)? {
            log::info!("generated a self-signed certificate for {} in {}", names.join(", "), cert.display());
        } else if tls::renew_if_due(&cert, &key, &names, crate::util::datetime::DateTime::now().unix)? {
            log::info!("renewed the server certificate {} (signed by roost's own authority)", cert.display());
        }
        Ok((cert, key))
    }
}

/// The certificate and key the server uses, found without making or
/// renewing anything (for `roost status`, which must not write).
pub fn tls_files(config: &Config) -> (PathBuf, PathBuf) {
    other_certificate(config).unwrap_or_else(|| {
        let (cert, key, _) = own_certificate(config);
        (cert, key)
    })
}

/// The configured pair, else systemd's LoadCredential= (see
/// systemd/roost.service: root-only files such as Let's Encrypt's private
/// key, handed to the service user in a private directory), else none:
/// roost's own.
fn other_certificate(config: &Config) -> Option<(PathBuf, PathBuf)> {
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        return Some((cert.clone(), key.clone()));
    }
    credentials()
}

/// The pair roost makes itself in the data directory, and the names it is
/// made for (rcgen makes an IP address entry of a name that parses as one).
fn own_certificate(config: &Config) -> (PathBuf, PathBuf, Vec<String>) {
    let cert = config.data_dir.join("tls").join("cert.pem");
    let key = config.data_dir.join("tls").join("key.pem");
    let mut names = config.tls_hostnames.clone();
    names.extend(config.tls_addresses.iter().map(std::string::ToString::to_string));
    (cert, key, names)
}

/// Twice a day, replaces roost's own server certificate before it ends
/// (`tls::renew_if_due`, off the executor: key generation and fsyncs);
/// the acceptor loads the new pair on the next connection. Phones trust
/// the authority that signs it, so they notice nothing.
async fn renew_certificate(cert: PathBuf, key: PathBuf, names: Vec<String>) {
    loop {
        smol::Timer::after(Duration::from_secs(12 * 3600)).await;
        let (path, key, names_now) = (cert.clone(), key.clone(), names.clone());
        let now = crate::util::datetime::DateTime::now().unix;
        match smol::unblock(move || tls::renew_if_due(&path, &key, &names_now, now)).await {
            Ok(true) => {
                log::info!("renewed the server certificate {} (signed by roost's own authority)", cert.display());
            }
            Ok(false) => {}
            Err(problem) => log::warn!("cannot renew the server certificate {}: {problem}", cert.display()),
        }
    }
}

/// `tls-cert` and `tls-key` in `$CREDENTIALS_DIRECTORY`, when both are there.
fn credentials() -> Option<(PathBuf, PathBuf)> {
    let directory = PathBuf::from(std::env::var_os("CREDENTIALS_DIRECTORY")?);
    let (cert, key) = (directory.join("tls-cert"), directory.join("tls-key"));
    (cert.is_file() && key.is_file()).then_some((cert, key))
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

/// Runs the server until SIGTERM or SIGINT. With `ports_file`, the
/// addresses it listens on are written there once every listener is
/// bound (see [`write_ports_file`]).
/// Personal mailboxes named `Shared` or `Family` (made before those names
/// became the namespace roots, `imap::namespace`) would be hidden by them:
/// each is renamed, with its children, to `Shared (personal)` or `Family
/// (personal)` (a number added if that is taken), and the log says so. A
/// one-time step at start; a store without such names costs one read of
/// the mailbox table.
async fn rename_namespace_roots(store: &Store) -> Result<(), String> {
    use crate::imap::namespace::{PUBLIC, SHARED};
    let failed =
        |error: crate::store::StoreError| format!("cannot rename mailboxes named {SHARED} or {PUBLIC}: {error}");
    let (found, names) = {
        let reader = store.read().map_err(failed)?;
        let mut found = Vec::new();
        for (_, record) in reader.all_mailboxes().map_err(failed)? {
            if record.user_id < crate::store::RESERVED_IDS && (record.name == SHARED || record.name == PUBLIC) {
                let mut to = format!("{} (personal)", record.name);
                let mut number = 2;
                while reader.mailbox_id(record.user_id, &to).map_err(failed)?.is_some() {
                    to = format!("{} (personal {number})", record.name);
                    number += 1;
                }
                found.push((record.user_id, record.name, to));
            }
        }
        (found, crate::imap::namespace::user_names(&reader).map_err(failed)?)
    };
    for (user, from, to) in found {
        let who = crate::imap::namespace::name_of(&names, user).unwrap_or("?").to_string();
        store.execute(Op::RenameMailbox { user, from: from.clone(), to: to.clone() }).await.map_err(failed)?;
        let why = if from == SHARED { "other people's shared folders" } else { "the household's folders" };
        log::warn!("renamed mailbox {from:?} of user {who} to {to:?}: {from}/ is now where {why} appear");
    }
    Ok(())
}

pub fn serve(config: Config, ports_file: Option<&std::path::Path>) -> Result<(), String> {
    // systemd's Type=notify (see `crate::systemd`); None outside systemd.
    let notifier = crate::systemd::Notifier::from_env().map(Rc::new);
    create_data_dir(&config)?;
    let (cert, key) = tls_paths(&config)?;
    let certificates = Certificates::load(&cert, &key)?;
    crate::store::quota::configure(config.quota.settings.clone());
    crate::store::set_ballast_size(config.limits.disk_ballast);
    crate::store::fts::set_search_index(config.limits.search_index);
    if let Some(notifier) = &notifier {
        notifier.extend_startup(&config.database_path());
    }
    let (store, pump) = Store::open(&config.database_path(), config.limits.cache_size, config.limits.min_free_disk)
        .map_err(|error| match error {
            crate::store::StoreError::Locked => format!(
                "{} is in use by another roost process (is the server already running?)",
                config.database_path().display()
            ),
            other => format!("cannot open {}: {other}", config.database_path().display()),
        })?;
    crate::store::log_disk_usage(&config.database_path(), config.limits.min_free_disk);
    store.hub().borrow_mut().keep(config.limits.mailbox_cache);
    crate::store::set_expunge_history(config.limits.expunge_history);
    let limits = &config.limits;
    crate::util::pool::configure(limits.workers as usize);
    let verifier =
        Verifier::start(Cost::from_limits(limits), limits.auth_threads, limits.auth_queue, limits.auth_queue_per_ip)
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
    // What is listened on, one `KIND ADDRESS` each: the ports file, and `roost status`.
    let mut listening = Vec::new();
    for (kind, listeners) in [("imap", &plain), ("imaps", &implicit), ("lmtp", &lmtp_tcp)] {
        listening.extend(listeners.iter().map(|(_, address)| format!("{kind} {address}")));
    }
    if let Some(socket) = &config.lmtp_socket {
        listening.push(format!("lmtp-socket {}", socket.display()));
    }
    if let Some(path) = ports_file {
        let mut text = listening.join("\n");
        text.push('\n');
        write_ports_file(path, &text)?;
    }
    // What a phone asking "trust this certificate?" can be compared with.
    match tls::fingerprint(&cert) {
        Ok(fingerprint) => log::info!("TLS certificate {} (SHA-256 fingerprint {fingerprint})", cert.display()),
        Err(problem) => log::info!("TLS certificate {} ({problem})", cert.display()),
    }

    let mut signals = async_signal::Signals::new([async_signal::Signal::Term, async_signal::Signal::Int])
        .map_err(|error| format!("cannot watch for SIGTERM: {error}"))?;
    let (stopping, stop_signal) = smol::channel::bounded(1);
    let login_cache = crate::auth::LoginCache::new(
        Duration::from_secs(config.limits.auth_cache_seconds),
        config.limits.auth_cache_entries,
    );
    let bans = load_bans(&store, &config.limits)?;
    let protect = crate::auth::Protection::new(&config.limits);
    let (alerts, alert_queue) = crate::alert::Alerts::new(&config.alerts);
    let server = Rc::new(Server {
        bans: RefCell::new(bans),
        login_cache: RefCell::new(login_cache),
        login_history: RefCell::default(),
        device_sessions: RefCell::default(),
        protect: RefCell::new(protect),
        alerts,
        backups: crate::backup::Backups::default(),
        config,
        store,
        verifier,
        certificates,
        counters: Rc::default(),
        activity: crate::control::status::Activity::new(listening),
        stopping: RefCell::new(Some(stopping)),
        stop_signal,
    });
    // Tasks hold the executor weakly: dropping it at the end drops them,
    // and with them every handle on the store.
    let executor = Rc::new(LocalExecutor::new());
    executor.spawn(pump).detach();
    // Before any session can list them (the executor runs the store's pump).
    smol::block_on(executor.run(rename_namespace_roots(&server.store)))?;
    // Summary lines of repeated events come out even if the flood stops.
    let counters = Rc::downgrade(&server.counters);
    executor
        .spawn(async move {
            loop {
                smol::Timer::after(log_summary::INTERVAL / 4).await;
                let Some(counters) = counters.upgrade() else { return };
                counters.borrow_mut().log.tick();
            }
        })
        .detach();
    // Ended bans past remembering, and stale failure counts, are dropped.
    let weak = Rc::downgrade(&server);
    executor
        .spawn(async move {
            loop {
                smol::Timer::after(log_summary::INTERVAL).await;
                let Some(server) = weak.upgrade() else { return };
                server.sweep_bans();
            }
        })
        .detach();
    executor.spawn(crate::alert::run(Rc::downgrade(&server), alert_queue)).detach();
    executor.spawn(crate::backup::schedule(Rc::downgrade(&server))).detach();
    executor.spawn(crate::quota_warning::run(Rc::downgrade(&server))).detach();
    executor.spawn(crate::retention::run(Rc::downgrade(&server))).detach();
    if server.config.limits.search_index {
        let memory = server.config.limits.search_index_memory;
        executor.spawn(crate::fts::indexer::run(Rc::downgrade(&server), memory)).detach();
    }
    if other_certificate(&server.config).is_none() {
        let (cert, key, names) = own_certificate(&server.config);
        executor.spawn(renew_certificate(cert, key, names)).detach();
    }
    executor.spawn(crate::control::serve(server.clone(), Rc::downgrade(&executor), control)).detach();
    let listening: Vec<String> = (plain.iter().map(|(_, address)| format!("{address} (STARTTLS)")))
        .chain(implicit.iter().map(|(_, address)| format!("{address} (TLS)")))
        .collect();
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
    if let Some(notifier) = &notifier {
        // Every listener is bound and the store is open: a client that
        // connects from now on waits in the backlog until the executor runs.
        let users = server.store.read().and_then(|reader| reader.users()).map(|users| users.len()).ok();
        notifier.ready(&crate::systemd::status_text(&listening, users));
        if let Some(interval) = crate::systemd::watchdog_interval() {
            let weak = Rc::downgrade(&server);
            let probe = move || {
                let server = weak.upgrade()?;
                Some(async move { server.store.ping().await.is_ok() })
            };
            executor.spawn(crate::systemd::watchdog(notifier.clone(), interval, probe)).detach();
        }
    }
    let storage_failed = std::cell::Cell::new(false);
    let until_stopped = async {
        use smol::stream::StreamExt;
        let signal = async { signals.next().await };
        let failure = async {
            server.store.failed().await;
            None
        };
        if let Some(Ok(signal)) = smol::future::or(signal, failure).await {
            log::info!("received {signal:?}: stopping");
        } else {
            log::error!("storage failed: stopping, so that a restart reopens and repairs the database");
            storage_failed.set(true);
        }
        if let Some(notifier) = &notifier {
            notifier.stopping();
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
    // What the current interval counted is told before the server goes.
    server.counters.borrow_mut().log.flush();
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
        if let Some((kind, text, bye)) = server.turned_away(peer.ip()) {
            server.log_repeated(kind, peer.ip(), || text);
            if !implicit_tls {
                // Not waited for: a fresh socket's send buffer has room.
                use std::io::Write;
                let mut socket = tcp.get_ref();
                let _ = socket.write(bye.as_bytes());
            }
            continue;
        }
        // Without it a TLS handshake on loopback took ~43 ms instead of ~1 ms.
        let _ = tcp.get_ref().set_nodelay(true);
        let Some(executor) = executor.upgrade() else { return };
        let admitted = match server.imap_slot(peer.ip()) {
            Ok(admitted) => admitted,
            Err(reason) => {
                // Summarised: a flood once wrote 30,118 of these lines in 5 s.
                server.log_repeated("refused connections", peer.ip(), || {
                    format!("refused connection from {peer}: {reason}")
                });
                executor.spawn(refuse(tcp, reason, implicit_tls)).detach();
                continue;
            }
        };
        // Boxed once here: passed by value through the wrappers below, the
        // session future would be stored again at every layer (async
        // functions keep a moved argument and the future it moved into
        // side by side), tripling an idle connection's task.
        let session =
            Box::pin(crate::imap::session::run(server.clone(), Stream::Plain(tcp), peer, implicit_tls, admitted));
        executor.spawn(isolated(peer, session)).detach();
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
                .map(std::string::ToString::to_string)
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

/// Writes what the server listens on, one `KIND ADDRESS` line each
/// (`imap`, `imaps`, `lmtp` for TCP; `lmtp-socket PATH`), for scripts and
/// test harnesses that start roost on port 0 and need the ports the
/// kernel chose, instead of reading them out of the log. Written to a
/// temporary name and renamed, so a reader sees the whole file or none.
fn write_ports_file(path: &std::path::Path, text: &str) -> Result<(), String> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|error| format!("cannot write the ports file {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A personal `Family` (and its children) made before the namespaces
    /// existed is renamed, not hidden; `Family (personal)` being taken, the
    /// next number is used; a nested `Shared` is no root and stays.
    #[test]
    fn personal_namespace_roots_are_renamed_at_start() {
        let directory = std::env::temp_dir().join(format!("roost-roots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        let (store, pump) = Store::open(&directory.join("db"), 1 << 20, 0).unwrap();
        let executor = LocalExecutor::new();
        executor.spawn(pump).detach();
        smol::block_on(executor.run(async {
            store.execute(Op::AddUser { name: "mom".into(), password_hash: "x".into() }).await.unwrap();
            let mom = store.read().unwrap().user("mom").unwrap().unwrap().id;
            for name in ["Family/Trips", "Family (personal)", "Work/Shared"] {
                store.create_mailbox(mom, name.into(), None).await.unwrap();
            }
            rename_namespace_roots(&store).await.unwrap();
            let names: Vec<String> =
                store.read().unwrap().mailboxes(mom).unwrap().into_iter().map(|(name, _)| name).collect();
            let made: Vec<&String> =
                names.iter().filter(|name| name.starts_with("Family") || name.starts_with("Work")).collect();
            assert_eq!(
                made,
                ["Family (personal 2)", "Family (personal 2)/Trips", "Family (personal)", "Work", "Work/Shared"]
            );
            // Nothing left to rename: a second start changes nothing.
            rename_namespace_roots(&store).await.unwrap();
            assert_eq!(store.read().unwrap().mailboxes(mom).unwrap().len(), names.len());
        }));
        drop(store);
        let _ = std::fs::remove_dir_all(&directory);
    }

    #[test]
    fn the_login_deadline_shortens_as_preauth_slots_fill() {
        let mut limits = crate::config::Board::named("generic").unwrap().limits;
        limits.max_preauth_connections = 100;
        limits.login_timeout = 60;
        limits.min_login_timeout = 10;
        let seconds = |limits: &Limits, taken| login_timeout(limits, taken).as_secs();
        assert_eq!(seconds(&limits, 1), 60);
        assert_eq!(seconds(&limits, 50), 60, "half taken: still the full time");
        assert_eq!(seconds(&limits, 51), 59);
        assert_eq!(seconds(&limits, 75), 35);
        assert_eq!(seconds(&limits, 99), 11);
        assert_eq!(seconds(&limits, 100), 10);
        assert_eq!(seconds(&limits, 150), 10, "never below the floor");
        // Deadlines never grow as slots fill.
        for taken in 1..=100 {
            assert!(seconds(&limits, taken + 1) <= seconds(&limits, taken));
        }
        // A floor above login_timeout does not lengthen it.
        limits.min_login_timeout = 120;
        assert_eq!(seconds(&limits, 100), 60);
    }

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

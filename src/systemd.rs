//! systemd integration: the service notifications of sd_notify(3), in a
//! few lines of our own rather than a daemon crate (the protocol is one
//! datagram of `KEY=VALUE` lines to the socket named by `$NOTIFY_SOCKET`).
//!
//! `systemd/roost.service` runs `roost serve` as `Type=notify` with a
//! watchdog. What `roost serve` tells systemd, and when:
//!
//! - `EXTEND_TIMEOUT_USEC=` before it opens an existing database. Opening is
//!   milliseconds for a file this roost wrote (quick-repair state is saved
//!   with every commit), but a file from an older roost or one redb must
//!   repair is walked whole once (seconds per GiB on a USB disk, more on
//!   an SD card), and a database from before quotas is counted once; both
//!   can outlast the default `TimeoutStartSec=` of 90 s. The extension is
//!   bounded by the file's size (the time to read it at
//!   [`SLOW_READ_BYTES_PER_SECOND`]), so a start-up that truly hangs still
//!   fails instead of waiting forever.
//! - `READY=1` (with a `STATUS=` line: the IMAP addresses and the number of
//!   users) once the store is open, the start-up steps that need it are
//!   done and every listener is bound, so a client that connects after
//!   READY is answered (connections wait in the kernel's backlog until the
//!   executor accepts them).
//! - `WATCHDOG=1` every half `$WATCHDOG_USEC` (when set, and
//!   `$WATCHDOG_PID` is unset or ours), from a task on the session
//!   executor ([`watchdog`]), and only after the store thread has answered
//!   a ping (`Store::ping`: a message through its queue, answered without
//!   a transaction once the work queued before it is committed, and handed
//!   back by the pump on the executor). So a wedged executor, a store
//!   thread stuck in a commit, or a dead store thread all stop the pings,
//!   and systemd kills and restarts roost after `WatchdogSec=`. The check
//!   costs one channel round trip; it never blocks the executor. systemd
//!   arms the watchdog at `READY=1` (systemd.service(5): "activated when
//!   the start-up is completed"), so a long start-up answers to
//!   `TimeoutStartSec=` and the extension above, not to the watchdog.
//! - `STOPPING=1` when SIGTERM (or SIGINT, or a storage failure) starts
//!   the shutdown.
//! - No `RELOADING=1`: roost has no reload; a changed configuration takes a
//!   restart.
//!
//! Decisions:
//! - `$NOTIFY_SOCKET` is read once and left in the environment: the server
//!   starts no other programs (threads only), `NotifyAccess=main` makes
//!   systemd ignore any other process anyway, and removing a variable
//!   while other threads run would race their reads of the environment.
//! - The socket is non-blocking: a full queue at systemd's end can never
//!   stall the executor. A lost `WATCHDOG=1` is followed by the next one
//!   half an interval later; `READY=1`, sent before the executor runs, is
//!   retried for a moment.
//! - Without `$NOTIFY_SOCKET` nothing is sent and nothing changes.

use std::ffi::OsStr;
use std::future::Future;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The read speed start-up is allowed for walking the whole database once
/// (a slow SD card reading redb's pages out of order).
pub const SLOW_READ_BYTES_PER_SECOND: u64 = 4 << 20;

/// What start-up is allowed beyond the database walk.
const STARTUP_MARGIN: Duration = Duration::from_secs(90);

/// Where `$NOTIFY_SOCKET` points.
#[derive(Debug, PartialEq, Eq)]
enum Address {
    /// A socket file (`/run/systemd/notify`).
    Path(PathBuf),
    /// A name in Linux's abstract namespace (`@name` in the variable).
    Abstract(Vec<u8>),
}

/// sd_notify(3): an absolute path, or `@` and an abstract name. Newer
/// systemd also knows `vsock:`, for virtual machines; roost does not run
/// in one as a guest systemd talks to, so it is refused with a reason.
fn parse_address(value: &OsStr) -> Result<Address, String> {
    let bytes = value.as_bytes();
    match bytes.first() {
        Some(b'/') => Ok(Address::Path(PathBuf::from(value))),
        Some(b'@') if bytes.len() > 1 => Ok(Address::Abstract(bytes[1..].to_vec())),
        _ => Err(format!("NOTIFY_SOCKET={value:?} is neither an absolute path nor an @abstract name")),
    }
}

/// `$WATCHDOG_USEC` and `$WATCHDOG_PID` as sd_watchdog_enabled(3) reads
/// them: the interval, when the watchdog is on and meant for process
/// `own`.
fn parse_watchdog(usec: Option<&str>, pid: Option<&str>, own: u32) -> Result<Option<Duration>, String> {
    let Some(usec) = usec else { return Ok(None) };
    let micros = usec.trim().parse::<u64>().map_err(|_| format!("WATCHDOG_USEC={usec:?} is not a number"))?;
    if micros == 0 {
        return Ok(None);
    }
    if let Some(pid) = pid {
        let pid = pid.trim().parse::<u32>().map_err(|_| format!("WATCHDOG_PID={pid:?} is not a process id"))?;
        if pid != own {
            // Set for another process (a parent that did not unset it).
            return Ok(None);
        }
    }
    Ok(Some(Duration::from_micros(micros)))
}

/// The watchdog interval systemd asked for, if any (`WatchdogSec=`).
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    parse_watchdog(usec.as_deref(), pid.as_deref(), std::process::id()).unwrap_or_else(|problem| {
        log::warn!("systemd watchdog off: {problem}");
        None
    })
}

/// How long opening a database of `size` bytes may take at worst.
pub fn startup_allowance(size: u64) -> Duration {
    STARTUP_MARGIN + Duration::from_secs(size / SLOW_READ_BYTES_PER_SECOND)
}

/// The socket to systemd, when there is one.
pub struct Notifier {
    socket: UnixDatagram,
    address: SocketAddr,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`; none when it is unset, or (logged) unusable.
    pub fn from_env() -> Option<Notifier> {
        let value = std::env::var_os("NOTIFY_SOCKET")?;
        match Notifier::to(&value) {
            Ok(notifier) => Some(notifier),
            Err(problem) => {
                log::warn!("systemd notifications off: {problem}");
                None
            }
        }
    }

    fn to(value: &OsStr) -> Result<Notifier, String> {
        use std::os::linux::net::SocketAddrExt;
        let address = match parse_address(value)? {
            Address::Path(path) => SocketAddr::from_pathname(path),
            Address::Abstract(name) => SocketAddr::from_abstract_name(name),
        }
        .map_err(|error| format!("NOTIFY_SOCKET={value:?}: {error}"))?;
        let socket = UnixDatagram::unbound().map_err(|error| format!("cannot make a socket for systemd: {error}"))?;
        socket.set_nonblocking(true).map_err(|error| format!("cannot make a socket for systemd: {error}"))?;
        Ok(Notifier { socket, address })
    }

    /// Sends `state` (newline-separated `KEY=VALUE` lines) now, or fails.
    pub fn send(&self, state: &str) -> std::io::Result<()> {
        self.socket.send_to_addr(state.as_bytes(), &self.address).map(|_| ())
    }

    /// [`Notifier::send`], retried for up to a second while systemd's queue
    /// is full. It sleeps: only for before the executor runs.
    fn send_waiting(&self, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            match self.send(state) {
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(error) => {
                    log::warn!("cannot tell systemd {:?}: {error}", state.lines().next().unwrap_or_default());
                    return;
                }
                Ok(()) => return,
            }
        }
    }

    /// Before opening the database at `path`: more time to start, if the
    /// file is large enough that walking it could take longer than
    /// `TimeoutStartSec=` (see the module documentation).
    pub fn extend_startup(&self, path: &Path) {
        let Ok(metadata) = std::fs::metadata(path) else { return };
        let allowance = startup_allowance(metadata.len());
        self.send_waiting(&format!("EXTEND_TIMEOUT_USEC={}", allowance.as_micros()));
    }

    /// Start-up is over: the listeners are bound and the store is open.
    pub fn ready(&self, status: &str) {
        self.send_waiting(&format!("READY=1\nSTATUS={status}"));
        log::debug!("told systemd: ready ({status})");
    }

    /// The shutdown has begun (on the executor: never waits).
    pub fn stopping(&self) {
        if let Err(error) = self.send("STOPPING=1\nSTATUS=stopping") {
            log::debug!("cannot tell systemd it is stopping: {error}");
        }
    }
}

/// The `STATUS=` text of `READY=1`.
pub fn status_text(listening: &[String], users: Option<usize>) -> String {
    let users = match users {
        Some(1) => ", 1 user".to_string(),
        Some(count) => format!(", {count} users"),
        None => String::new(),
    };
    if listening.is_empty() {
        format!("serving no IMAP port (none configured){users}")
    } else {
        format!("serving IMAP on {}{users}", listening.join(", "))
    }
}

/// Sends `WATCHDOG=1` every half `interval` for as long as `probe` says
/// the server is well: `probe` starts one check (none once the server is
/// gone, which ends the task), whose future answers whether the store
/// thread answered. A check that takes longer than half the interval is
/// waited for (logged), not repeated, and no `WATCHDOG=1` goes out
/// meanwhile: after `WatchdogSec=` without one, systemd restarts roost.
pub async fn watchdog<P, F>(notifier: std::rc::Rc<Notifier>, interval: Duration, probe: P)
where
    P: Fn() -> Option<F>,
    F: Future<Output = bool>,
{
    // sd_watchdog_enabled(3): ping at half the interval.
    let period = interval / 2;
    loop {
        let started = Instant::now();
        let Some(check) = probe() else { return };
        let mut check = std::pin::pin!(check);
        let alive = loop {
            let answered = smol::future::or(async { Some((&mut check).await) }, async {
                smol::Timer::after(period).await;
                None
            })
            .await;
            match answered {
                Some(alive) => break alive,
                None => log::warn!(
                    "the store thread has not answered for {} ms: systemd's watchdog is not told all is well",
                    started.elapsed().as_millis()
                ),
            }
        };
        if alive {
            if let Err(error) = notifier.send("WATCHDOG=1") {
                log::debug!("cannot ping systemd's watchdog: {error}");
            }
        } else {
            log::error!("the store thread has stopped: systemd's watchdog will restart roost");
        }
        if let Some(rest) = period.checked_sub(started.elapsed()) {
            smol::Timer::after(rest).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn a_path_and_an_abstract_name_are_told_apart() {
        assert_eq!(parse_address(OsStr::new("/run/systemd/notify")), Ok(Address::Path("/run/systemd/notify".into())));
        assert_eq!(parse_address(OsStr::new("@roost/notify")), Ok(Address::Abstract(b"roost/notify".to_vec())));
        for bad in ["", "@", "run/systemd/notify", "vsock:2:1234"] {
            let error = parse_address(OsStr::new(bad)).unwrap_err();
            assert!(error.contains("NOTIFY_SOCKET"), "{error}");
        }
    }

    #[test]
    fn a_path_too_long_for_a_socket_is_refused_not_truncated() {
        let long = format!("/{}", "x".repeat(200));
        let error = Notifier::to(OsStr::new(&long)).err().expect("refused");
        assert!(error.contains("NOTIFY_SOCKET"), "{error}");
    }

    #[test]
    fn the_watchdog_is_for_this_process_only() {
        let own = 4242;
        assert_eq!(parse_watchdog(None, None, own), Ok(None));
        assert_eq!(parse_watchdog(Some("200000"), None, own), Ok(Some(Duration::from_millis(200))));
        assert_eq!(parse_watchdog(Some("120000000"), Some("4242"), own), Ok(Some(Duration::from_secs(120))));
        assert_eq!(parse_watchdog(Some("200000"), Some("1"), own), Ok(None));
        assert_eq!(parse_watchdog(Some("0"), None, own), Ok(None));
        assert!(parse_watchdog(Some("soon"), None, own).is_err());
        assert!(parse_watchdog(Some("200000"), Some("me"), own).is_err());
    }

    #[test]
    fn start_up_may_take_as_long_as_reading_the_file_slowly() {
        assert_eq!(startup_allowance(0), STARTUP_MARGIN);
        let gib = 1u64 << 30;
        assert_eq!(startup_allowance(2 * gib), STARTUP_MARGIN + Duration::from_secs(512));
    }

    #[test]
    fn the_status_names_the_addresses_and_the_users() {
        let listening = vec!["0.0.0.0:143 (STARTTLS)".to_string(), "0.0.0.0:993 (TLS)".to_string()];
        assert_eq!(
            status_text(&listening, Some(3)),
            "serving IMAP on 0.0.0.0:143 (STARTTLS), 0.0.0.0:993 (TLS), 3 users"
        );
        assert_eq!(status_text(&listening[1..], Some(1)), "serving IMAP on 0.0.0.0:993 (TLS), 1 user");
        assert_eq!(status_text(&[], None), "serving no IMAP port (none configured)");
    }

    /// A socket in a fresh directory, and a notifier aimed at it.
    fn pair(label: &str) -> (UnixDatagram, Notifier, PathBuf) {
        let dir = std::env::temp_dir().join(format!("roost-sd-notify-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let receiver = UnixDatagram::bind(&path).unwrap();
        receiver.set_nonblocking(true).unwrap();
        let notifier = Notifier::to(path.as_os_str()).unwrap();
        (receiver, notifier, dir)
    }

    fn received(socket: &UnixDatagram) -> Vec<String> {
        let mut messages = Vec::new();
        let mut buffer = [0u8; 512];
        while let Ok(length) = socket.recv(&mut buffer) {
            messages.push(String::from_utf8_lossy(&buffer[..length]).into_owned());
        }
        messages
    }

    /// Runs the watchdog for `periods` half-intervals of 20 ms; the
    /// messages it sent.
    fn watch<F: Future<Output = bool> + 'static>(label: &str, check: impl Fn() -> F + 'static) -> Vec<String> {
        let (receiver, notifier, dir) = pair(label);
        let task = watchdog(Rc::new(notifier), Duration::from_millis(40), move || Some(check()));
        smol::block_on(smol::future::or(task, async {
            smol::Timer::after(Duration::from_millis(200)).await;
        }));
        let messages = received(&receiver);
        let _ = std::fs::remove_dir_all(dir);
        messages
    }

    #[test]
    fn the_watchdog_is_pinged_while_the_store_answers() {
        let messages = watch("alive", || async { true });
        assert!(messages.len() >= 2, "{messages:?}");
        assert!(messages.iter().all(|message| message == "WATCHDOG=1"), "{messages:?}");
    }

    #[test]
    fn no_ping_when_the_store_thread_is_gone_or_stuck() {
        assert_eq!(watch("dead", || async { false }), Vec::<String>::new());
        assert_eq!(watch("stuck", smol::future::pending::<bool>), Vec::<String>::new());
    }

    #[test]
    fn ready_and_stopping_reach_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("roost-sd-notify-test-{}", std::process::id());
        let receiver = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        receiver.set_nonblocking(true).unwrap();
        let notifier = Notifier::to(OsStr::new(&format!("@{name}"))).unwrap();
        notifier.ready("serving IMAP on 127.0.0.1:143 (STARTTLS)");
        notifier.stopping();
        assert_eq!(
            received(&receiver),
            vec!["READY=1\nSTATUS=serving IMAP on 127.0.0.1:143 (STARTTLS)", "STOPPING=1\nSTATUS=stopping"]
        );
    }
}

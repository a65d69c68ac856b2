//! Scenarios 11 to 17: one executor thread and one database file under
//! slow, greedy and hostile clients (issue 11, "How it is judged"; 17:
//! issue 12's bans).
//!
//! Every scenario but 17 has an adversary phase and a **bystander**, a family
//! member whose experience is what the scenario reports. The bystander runs
//! on OS threads of its own with blocking sockets, so the load generator's
//! executor, busy with hundreds of adversary connections, cannot delay it:
//! - one logged-in connection sends NOOP every 10 ms (NOOP p50/p99/max);
//! - once a second during the phase, a new connection is opened, logs in
//!   and logs out (login time, from `connect()` to the tagged OK of LOGIN;
//!   a refused or failed login counts as infinitely slow, so p99 is `inf`
//!   as soon as one in a hundred fails).
//!
//! The bystander connects from 127.0.0.200 and logs in as `bob`;
//! adversaries connect from 127.0.0.2 and up and act as `alice`. roost
//! exempts 127.0.0.1 and ::1 from its connection limits (`never_limit`),
//! so a bystander there would pass the pre-authentication scenarios
//! trivially. Both servers listen on 127.0.0.1, and Linux routes all of
//! 127/8 to lo, so a socket bound to any 127.0.0.x reaches them (checked by
//! every bystander login). roost runs with its generic board's own
//! connection limits here, not the lifted ones of scenarios 1 to 10.
//!
//! The server's memory (RSS and VmHWM from /proc/PID/status, summed over
//! its processes: one for roost, several to hundreds for Dovecot) is read
//! *before* the phase (peak of a quiet moment, the bystander connected),
//! *during* it (peak: RSS sampled every few ms, VmHWM reset with
//! /proc/PID/clear_refs when the phase starts and read when it ends) and
//! *after* it (the adversary's connections closed, a few quiet seconds).
//! A Dovecot process that exits during the phase takes its VmHWM with it;
//! the sampled RSS still saw it. Summed RSS counts the pages Dovecot's
//! processes share once per process (a thousand imap-login processes read
//! as gigabytes), so a PSS peak, read every 2 s, is reported beside it.
//! Dovecot's login processes live on until their pending password check
//! (and its failure penalty) is over, so "after" can still count some.
//!
//! The scenarios, (a) to (f) of the issue:
//! - 11 (a) LIST flood: `alice` has 1000 mailboxes with names of 200 bytes
//!   and sends `LIST "" (p1 ... p60)` (RFC 5258 multiple patterns) with 60
//!   never-matching 1000-character patterns, again and again.
//! - 12 (b) SEARCH flood: `UID SEARCH TEXT` and `UID SEARCH BODY` of an
//!   absent word, alternately, over a mailbox of 1 GiB (`--search-mb`).
//! - 13 (c) stalled reader: a client with a 4 KiB receive buffer sends
//!   `FETCH 1:* BODY.PEEK[]` on 200 messages of 100 KB and never reads,
//!   while another session sends 3000 STOREs toggling \Flagged on all 200;
//!   reports the data file's growth, against the same STOREs without the
//!   stalled client, and what the stalled client got.
//! - 14 (d) slow pre-auth flood: 1000 connections from 127.0.0.2-13 each
//!   sending one byte every 5 s (never a whole command), reconnecting when
//!   dropped or refused.
//! - 15 (e) password guessing: 2000 wrong passwords for `alice` from
//!   127.0.0.2-6, 40 connections per address, as fast as the server
//!   answers.
//! - 16 (f) pre-auth literals: 500 connections from 127.0.0.20-29 each
//!   send `a LOGIN {61440}` and 60 KiB, wait for the answer, and close
//!   together.
//!
//! - 17 (g) bans: from 127.0.0.40-44, wrong passwords for `alice` on 4
//!   connections per address until the address is refused at connect (or
//!   `ban_guess_seconds` pass), then 10,000 attempts (connect, and LOGIN
//!   if greeted; 50 at once) from those addresses. Reports the password
//!   checks and answers each address got (roost's target: its board's
//!   `ban_failures`, 10, per `ban_window`) and the server's CPU time for
//!   the 10,000 attempts (target: under 1 s). Dovecot has no bans: its
//!   `auth_penalty` delays the answers of an address that keeps failing (2 s
//!   doubling to 15 s) and every attempt is still checked, so it makes
//!   1000 of the attempts (200 at once) and its CPU time is scaled to
//!   10,000. No bystander: the CPU time is the attacker's alone.
//!
//! Every loop is bounded in count and in time; `--quick` shrinks them.
//! Data for 11 and 12 (1000 mailboxes, 1 GiB) is kept between runs in a
//! directory named after the data set (and, for roost, the binary), and
//! made again only when it is missing or incomplete (`--fresh`: always).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smol::Async;

use crate::client::{self, Client};
use crate::corpus::{Corpus, Sizes};
use crate::scenarios::{self, figure, milliseconds, percentile, settle, Better, Figure};
use crate::servers::{self, Server, PASSWORD, USER};

/// Where the bystander connects from: not 127.0.0.1 (exempt from limits).
pub const BYSTANDER_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 200);
/// The bystander's account; the adversaries use [`USER`].
pub const BYSTANDER_USER: &str = "bob";
/// Adversary address number `index` (0: 127.0.0.2).
pub fn adversary(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + (index % 190) as u8)
}

/// A word no message of the corpus contains, for the searches.
const ABSENT_WORD: &str = "quuxfrobnicated";

/// roost's targets (issue 11).
const NOOP_P99_MS: f64 = 20.0;
const NOOP_MAX_MS: f64 = 100.0;
const LOGIN_P99_MS: f64 = 1000.0;
const GROWTH_PERCENT: f64 = 5.0;
const RSS_AFTER_PERCENT: f64 = 110.0;
const START_HWM_MIB: f64 = 12.0;

/// The sizes of every scenario, from the command line.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long each adversary runs (a command under way is finished).
    pub phase: Duration,
    /// Quiet time before and after each phase, for the memory readings.
    pub settle: Duration,
    /// (a) mailboxes, patterns and their length.
    pub mailboxes: usize,
    pub patterns: usize,
    pub pattern_length: usize,
    /// (b) MiB in the searched mailbox.
    pub search_mib: u64,
    /// (c) messages, their size, STOREs and the most seconds they may take.
    pub stall_messages: usize,
    pub stall_message_size: usize,
    pub stores: usize,
    pub store_seconds: f64,
    /// (d) slow connections.
    pub slow_connections: usize,
    /// (e) wrong passwords, connections per address, the most seconds.
    pub guesses: usize,
    pub guessers_per_address: usize,
    pub guess_seconds: f64,
    /// (f) connections with a 60 KiB LOGIN literal.
    pub literals: usize,
    /// (g) the most seconds addresses guess before they are banned, and
    /// the attempts then made from them (Dovecot: `ban_attempts_dovecot`,
    /// its CPU time scaled up to `ban_attempts`).
    pub ban_guess_seconds: f64,
    pub ban_attempts: usize,
    pub ban_attempts_dovecot: usize,
}

impl Settings {
    pub fn new(quick: bool, phase: Option<f64>, search_mib: Option<u64>) -> Settings {
        let phase = Duration::from_secs_f64(phase.unwrap_or(if quick { 3.0 } else { 15.0 }).max(0.5));
        Settings {
            phase,
            settle: Duration::from_secs(if quick { 1 } else { 3 }),
            mailboxes: if quick { 100 } else { 1000 },
            patterns: 60,
            pattern_length: 1000,
            search_mib: search_mib.unwrap_or(if quick { 64 } else { 1024 }),
            stall_messages: 200,
            stall_message_size: 100 * 1000,
            stores: if quick { 300 } else { 3000 },
            store_seconds: if quick { 10.0 } else { 180.0 },
            slow_connections: 1000,
            guesses: if quick { 200 } else { 2000 },
            guessers_per_address: if quick { 8 } else { 40 },
            // Both servers hash every guess at the same argon2id cost and
            // delay each failure by 2 s: 2000 guesses take tens of seconds.
            guess_seconds: if quick { 5.0 } else { (phase.as_secs_f64() * 6.0).max(30.0) },
            literals: if quick { 100 } else { 500 },
            ban_guess_seconds: if quick { 30.0 } else { 60.0 },
            ban_attempts: if quick { 2000 } else { 10_000 },
            ban_attempts_dovecot: if quick { 200 } else { 1000 },
        }
    }

    /// The data of scenarios 11 and 12, as a directory name part.
    pub fn data_set(&self) -> String {
        format!("{}-{}", self.mailboxes, self.search_mib)
    }
}

fn other(text: impl Into<String>) -> io::Error {
    io::Error::other(text.into())
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim_end().chars().take(200).collect()
}

fn v4(address: SocketAddr) -> io::Result<SocketAddrV4> {
    match address {
        SocketAddr::V4(address) => Ok(address),
        SocketAddr::V6(_) => Err(other("the attack scenarios use IPv4 loopback")),
    }
}

/// A TCP socket bound to `source` (any port): std cannot bind a client
/// socket before connecting.
fn socket_from(source: Ipv4Addr, nonblocking: bool, receive_buffer: Option<usize>) -> io::Result<OwnedFd> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let flags = if nonblocking { SocketFlags::CLOEXEC | SocketFlags::NONBLOCK } else { SocketFlags::CLOEXEC };
    let socket = rustix::net::socket_with(AddressFamily::INET, SocketType::STREAM, flags, None)?;
    if let Some(size) = receive_buffer {
        // Before connect(): the window offered in the handshake follows it.
        rustix::net::sockopt::set_socket_recv_buffer_size(&socket, size)?;
    }
    rustix::net::bind(&socket, &SocketAddrV4::new(source, 0))?;
    Ok(socket)
}

/// A blocking connection from `source`, with `timeout` for the connect
/// (Linux honours SO_SNDTIMEO there) and for every read and write.
pub fn connect_blocking(
    source: Ipv4Addr,
    address: SocketAddr,
    timeout: Duration,
    receive_buffer: Option<usize>,
) -> io::Result<TcpStream> {
    let socket = socket_from(source, false, receive_buffer)?;
    rustix::net::sockopt::set_socket_timeout(&socket, rustix::net::sockopt::Timeout::Send, Some(timeout))?;
    rustix::net::connect(&socket, &v4(address)?)?;
    let stream = TcpStream::from(socket);
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// A non-blocking connection from `source`, for the executor.
pub async fn connect_async(source: Ipv4Addr, address: SocketAddr) -> io::Result<Async<TcpStream>> {
    let socket = socket_from(source, true, None)?;
    match rustix::net::connect(&socket, &v4(address)?) {
        Ok(()) => {}
        Err(error) if error == rustix::io::Errno::INPROGRESS => {}
        Err(error) => return Err(error.into()),
    }
    let stream = Async::new(TcpStream::from(socket))?;
    stream.writable().await?;
    if let Err(error) = rustix::net::sockopt::socket_error(stream.get_ref())? {
        return Err(error.into());
    }
    Ok(stream)
}

/// `future`, or a TimedOut error after `limit`.
async fn within<T>(limit: Duration, future: impl std::future::Future<Output = io::Result<T>>) -> io::Result<T> {
    smol::future::or(future, async {
        smol::Timer::after(limit).await;
        Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
    })
    .await
}

/// An IMAP client over a blocking socket, for the bystander's threads and
/// the stalled reader.
pub struct LineClient {
    reader: BufReader<TcpStream>,
    tag: u64,
}

impl LineClient {
    pub fn connect(source: Ipv4Addr, address: SocketAddr, timeout: Duration) -> io::Result<LineClient> {
        LineClient::over(connect_blocking(source, address, timeout, None)?)
    }

    fn over(stream: TcpStream) -> io::Result<LineClient> {
        let mut client = LineClient { reader: BufReader::new(stream), tag: 0 };
        let greeting = client.response()?;
        if !greeting.starts_with(b"* OK") {
            return Err(other(format!("greeting: {}", lossy(&greeting))));
        }
        Ok(client)
    }

    /// One response, its literals inline.
    fn response(&mut self) -> io::Result<Vec<u8>> {
        let mut response = Vec::new();
        loop {
            if self.reader.read_until(b'\n', &mut response)? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection"));
            }
            let line = response.strip_suffix(b"\r\n").unwrap_or(&response);
            let Some(length) = client::literal_length(line) else { return Ok(response) };
            let start = response.len();
            response.resize(start + length, 0);
            self.reader.read_exact(&mut response[start..])?;
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    /// Sends `command` and returns the tagged status (after the tag).
    pub fn command(&mut self, command: &str) -> io::Result<Vec<u8>> {
        self.tag += 1;
        let tag = format!("y{} ", self.tag);
        self.send(format!("{tag}{command}\r\n").as_bytes())?;
        loop {
            let response = self.response()?;
            if let Some(status) = response.strip_prefix(tag.as_bytes()) {
                return Ok(status.to_vec());
            }
        }
    }

    pub fn ok(&mut self, command: &str) -> io::Result<()> {
        let status = self.command(command)?;
        if !status.starts_with(b"OK") {
            return Err(other(format!("{}: {}", command.split(' ').next().unwrap_or(""), lossy(&status))));
        }
        Ok(())
    }

    pub fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.reader.get_ref().set_read_timeout(Some(timeout))?;
        self.reader.get_ref().set_write_timeout(Some(timeout))
    }
}

/// Timings of one kind of bystander action, in ms (a failure is +inf).
#[derive(Default)]
pub struct Samples {
    pub times: Vec<f64>,
    pub failures: usize,
    pub first_error: Option<String>,
}

impl Samples {
    fn fail(&mut self, error: String) {
        self.times.push(f64::INFINITY);
        self.failures += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error);
        }
    }
}

/// A bystander's time limits: a stalled server shows up as a slow answer
/// as long as it answers within these.
const BYSTANDER_TIMEOUT: Duration = Duration::from_secs(120);
const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);
const NOOP_EVERY: Duration = Duration::from_millis(10);
const LOGIN_EVERY: Duration = Duration::from_secs(1);
/// Bounds on samples, whatever the phase length (an hour of NOOPs).
const MAX_NOOPS: usize = 360_000;
/// roost keeps a login's password hash memory for half a second.
const HASH_MEMORY_HELD: Duration = Duration::from_millis(700);
const MAX_LOGINS: usize = 3600;

/// The family member (see the module docs). Samples are kept only while
/// `recording`, which brackets the adversary phase.
pub struct Bystander {
    stop: Arc<AtomicBool>,
    recording: Arc<AtomicBool>,
    /// Set while a login is under way.
    logging_in: Arc<AtomicBool>,
    noop: std::thread::JoinHandle<Samples>,
    login: std::thread::JoinHandle<Samples>,
}

fn bystander_session(address: SocketAddr) -> io::Result<LineClient> {
    let mut client = LineClient::connect(BYSTANDER_SOURCE, address, Duration::from_secs(10))?;
    client.ok(&format!("LOGIN {BYSTANDER_USER} \"{PASSWORD}\""))?;
    client.set_timeout(BYSTANDER_TIMEOUT)?;
    Ok(client)
}

/// One login as a phone would: connect, greeting, LOGIN; then LOGOUT.
fn login_once(address: SocketAddr) -> io::Result<()> {
    let mut client = LineClient::connect(BYSTANDER_SOURCE, address, LOGIN_TIMEOUT)?;
    client.ok(&format!("LOGIN {BYSTANDER_USER} \"{PASSWORD}\""))?;
    client.set_timeout(Duration::from_secs(5))?;
    let _ = client.command("LOGOUT");
    Ok(())
}

/// Sleeps until `until` or until `stop` is set.
fn sleep_until(until: Instant, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

impl Bystander {
    /// Logs the NOOP connection in (an error here fails the scenario: the
    /// server is not even usable before the adversary) and starts both
    /// threads.
    pub fn start(address: SocketAddr) -> io::Result<Bystander> {
        let session = bystander_session(address)?;
        let stop = Arc::new(AtomicBool::new(false));
        let recording = Arc::new(AtomicBool::new(false));
        let (noop_stop, noop_recording) = (stop.clone(), recording.clone());
        let noop = std::thread::Builder::new().name("bystander-noop".into()).spawn(move || {
            let mut samples = Samples::default();
            let mut session = Some(session);
            while !noop_stop.load(Ordering::Relaxed) && samples.times.len() < MAX_NOOPS {
                let recording = noop_recording.load(Ordering::Relaxed);
                let Some(client) = session.as_mut() else {
                    // The connection broke: reconnect, as a phone would.
                    std::thread::sleep(LOGIN_EVERY);
                    match bystander_session(address) {
                        Ok(client) => session = Some(client),
                        Err(error) if recording => samples.fail(format!("NOOP reconnect: {error}")),
                        Err(_) => {}
                    }
                    continue;
                };
                let start = Instant::now();
                let result = client.ok("NOOP");
                let elapsed = milliseconds(start.elapsed());
                match result {
                    Ok(()) if recording => samples.times.push(elapsed),
                    Ok(()) => {}
                    Err(error) => {
                        if recording {
                            samples.fail(format!("NOOP: {error}"));
                        }
                        session = None;
                    }
                }
                std::thread::sleep(NOOP_EVERY);
            }
            if let Some(mut client) = session {
                let _ = client.set_timeout(Duration::from_secs(5));
                let _ = client.command("LOGOUT");
            }
            samples
        })?;
        let logging_in = Arc::new(AtomicBool::new(false));
        let (login_stop, login_recording, login_busy) = (stop.clone(), recording.clone(), logging_in.clone());
        let login = std::thread::Builder::new().name("bystander-login".into()).spawn(move || {
            let mut samples = Samples::default();
            while !login_stop.load(Ordering::Relaxed) && samples.times.len() < MAX_LOGINS {
                // Logins only during the phase: each maps the password
                // hash's work memory for a while (roost: 19 MiB for half a
                // second), which would blur the readings before and after.
                if !login_recording.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let start = Instant::now();
                login_busy.store(true, Ordering::Relaxed);
                let result = login_once(address);
                login_busy.store(false, Ordering::Relaxed);
                match result {
                    Ok(()) => samples.times.push(milliseconds(start.elapsed())),
                    Err(error) => samples.fail(format!("login: {error}")),
                }
                sleep_until(start + LOGIN_EVERY, &login_stop);
            }
            samples
        })?;
        Ok(Bystander { stop, recording, logging_in, noop, login })
    }

    pub fn record(&self, on: bool) {
        self.recording.store(on, Ordering::Relaxed);
    }

    /// Stops recording and waits (at most a login's time limit) until no
    /// login is under way, then until roost has let go of the password
    /// hash's memory, so the reading after the phase is not the
    /// bystander's own login.
    pub fn quiesce(&self) {
        self.record(false);
        let deadline = Instant::now() + LOGIN_TIMEOUT + Duration::from_secs(5);
        while self.logging_in.load(Ordering::Relaxed) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(HASH_MEMORY_HELD);
    }

    /// Stops both threads (a login under way is finished) and returns the
    /// NOOP and login samples.
    pub fn finish(self) -> (Samples, Samples) {
        self.stop.store(true, Ordering::Relaxed);
        let noop = self.noop.join().unwrap_or_default();
        let login = self.login.join().unwrap_or_default();
        (noop, login)
    }
}

/// The server's processes, re-read on every call (Dovecot forks).
fn pid_source(server: &Server) -> impl Fn() -> Vec<u32> + Send + Clone + 'static {
    let tree = server.name == "dovecot";
    let root = server.pids().first().copied().unwrap_or(0);
    move || if tree { servers::process_tree(root) } else { vec![root] }
}

/// Samples the summed RSS and VmHWM of a server until finished, and its
/// PSS now and then.
struct PeakSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<Mutex<(u64, u64, u64)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often PSS is read: smaps_rollup walks every page table, which for
/// a thousand Dovecot processes costs a good part of a core.
const PSS_EVERY: Duration = Duration::from_secs(2);

impl PeakSampler {
    fn start(pids: impl Fn() -> Vec<u32> + Send + 'static, every: Duration) -> PeakSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(Mutex::new((0, 0, 0)));
        let (thread_stop, thread_peak) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            let mut pss_due = Instant::now() + PSS_EVERY / 4;
            loop {
                let pids = pids();
                let (rss, hwm) = servers::rss_and_peak(&pids);
                let pss = if Instant::now() >= pss_due {
                    pss_due = Instant::now() + PSS_EVERY;
                    servers::memory_of(&pids).pss
                } else {
                    0
                };
                let mut peak = thread_peak.lock().unwrap();
                *peak = (peak.0.max(rss), peak.1.max(hwm), peak.2.max(pss));
                drop(peak);
                if thread_stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(every);
            }
        });
        PeakSampler { stop, peak, thread: Some(thread) }
    }

    /// (RSS, VmHWM, PSS) peaks in KiB, with a last reading of the first two.
    fn finish(mut self) -> (u64, u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        *self.peak.lock().unwrap()
    }
}

/// What one adversary phase did to the bystander and the server.
pub struct Phase {
    pub noop: Samples,
    pub login: Samples,
    /// (RSS, VmHWM) in KiB: before, peak during, after.
    pub before: (u64, u64),
    pub peak: (u64, u64),
    pub after: (u64, u64),
    /// Highest PSS seen (sampled every 2 s): unlike summed RSS, it counts
    /// pages shared by Dovecot's processes once.
    pub peak_pss: u64,
    pub seconds: f64,
}

/// Runs `adversary` (which must have closed its connections when it
/// returns) with the bystander and the memory readings around it.
pub fn run_phase<T>(
    server: &Server,
    settings: &Settings,
    adversary: impl FnOnce() -> io::Result<T>,
) -> io::Result<(T, Phase)> {
    let pids = pid_source(server);
    let bystander = Bystander::start(server.imap)?;
    // The bystander's own login must not count as the server's peak
    // before the phase.
    std::thread::sleep(HASH_MEMORY_HELD);
    servers::reset_peak(&pids());
    std::thread::sleep(settings.settle);
    let before = servers::rss_and_peak(&pids());
    servers::reset_peak(&pids());
    // Reading hundreds of Dovecot processes costs CPU the servers share.
    let every = Duration::from_millis(if server.name == "dovecot" { 200 } else { 10 });
    let sampler = PeakSampler::start(pids.clone(), every);
    bystander.record(true);
    let start = Instant::now();
    let result = adversary();
    let seconds = start.elapsed().as_secs_f64();
    bystander.quiesce();
    let (peak_rss, peak_hwm, peak_pss) = sampler.finish();
    servers::reset_peak(&pids());
    std::thread::sleep(settings.settle);
    let after = servers::rss_and_peak(&pids());
    let (noop, login) = bystander.finish();
    let result = result?;
    for (what, samples) in [("NOOP", &noop), ("login", &login)] {
        if let Some(error) = &samples.first_error {
            eprintln!("[{}] bystander {what}: {} failed, first: {error}", server.name, samples.failures);
        }
    }
    Ok((result, Phase { noop, login, before, peak: (peak_rss, peak_hwm), after, peak_pss, seconds }))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn maximum(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(f64::NAN, f64::max)
}

/// The bystander's and the memory figures of one phase.
fn phase_figures(scenario: u32, label: &str, phase: &mut Phase, login_target: bool) -> Vec<Figure> {
    let name = |what: &str| format!("{label}: {what}");
    let noop_max = maximum(&phase.noop.times);
    let login_max = maximum(&phase.login.times);
    let login_p99 = percentile(&mut phase.login.times, 0.99);
    let login_p99 = figure(scenario, name("bystander login p99"), "ms", Better::Lower, login_p99);
    vec![
        figure(scenario, name("adversary phase"), "s", Better::Lower, phase.seconds),
        figure(scenario, name("bystander NOOPs"), "", Better::Higher, phase.noop.times.len() as f64),
        figure(scenario, name("bystander NOOP p50"), "ms", Better::Lower, percentile(&mut phase.noop.times, 0.5)),
        figure(scenario, name("bystander NOOP p99"), "ms", Better::Lower, percentile(&mut phase.noop.times, 0.99))
            .at_most(NOOP_P99_MS),
        figure(scenario, name("bystander NOOP max"), "ms", Better::Lower, noop_max).at_most(NOOP_MAX_MS),
        figure(scenario, name("bystander NOOPs failed"), "", Better::Lower, phase.noop.failures as f64).at_most(0.0),
        figure(scenario, name("bystander logins"), "", Better::Higher, phase.login.times.len() as f64),
        figure(scenario, name("bystander login p50"), "ms", Better::Lower, percentile(&mut phase.login.times, 0.5)),
        if login_target { login_p99.at_most(LOGIN_P99_MS) } else { login_p99 },
        figure(scenario, name("bystander login max"), "ms", Better::Lower, login_max),
        figure(scenario, name("bystander logins failed"), "", Better::Lower, phase.login.failures as f64).at_most(0.0),
        figure(scenario, name("server RSS before"), "MiB", Better::Lower, mib(phase.before.0)),
        figure(scenario, name("server RSS peak"), "MiB", Better::Lower, mib(phase.peak.0)),
        figure(scenario, name("server RSS after"), "MiB", Better::Lower, mib(phase.after.0)),
        figure(
            scenario,
            name("server RSS after / before"),
            "%",
            Better::Lower,
            100.0 * phase.after.0 as f64 / phase.before.0.max(1) as f64,
        )
        .at_most(RSS_AFTER_PERCENT),
        figure(scenario, name("server VmHWM before"), "MiB", Better::Lower, mib(phase.before.1)),
        figure(scenario, name("server VmHWM peak"), "MiB", Better::Lower, mib(phase.peak.1)),
        figure(scenario, name("server VmHWM after"), "MiB", Better::Lower, mib(phase.after.1)),
        figure(scenario, name("server PSS peak (read every 2 s)"), "MiB", Better::Lower, mib(phase.peak_pss)),
    ]
}

/// The server's memory right after it started (before any login: roost
/// is measured as it comes up; Dovecot's start-up script has logged in
/// once on each port to check it works), after `wait` for work started
/// in the background (roost's password threads).
pub fn start_memory(server: &Server, scenario: u32, wait: Duration) -> Vec<Figure> {
    std::thread::sleep(wait);
    let (rss, hwm) = servers::rss_and_peak(&server.pids());
    vec![
        figure(scenario, "server VmHWM at start, generic board", "MiB", Better::Lower, mib(hwm)).at_most(START_HWM_MIB),
        figure(scenario, "server RSS at start, generic board", "MiB", Better::Lower, mib(rss)),
    ]
}

/// `command` run until `deadline` (the last one under way is finished,
/// each bounded by `cap`); returns the times of those answered OK and the
/// first other answer, if any.
async fn repeat(
    client: &mut Client,
    commands: &[String],
    deadline: Instant,
    cap: Duration,
    check: impl Fn(&client::Reply) -> Result<(), String>,
) -> io::Result<(Vec<Vec<f64>>, usize, Option<String>)> {
    let mut times = vec![Vec::new(); commands.len()];
    let (mut refused, mut first_refusal) = (0, None);
    let mut index = 0;
    // Bounded in count as well as time.
    while Instant::now() < deadline && index < 100_000 {
        let which = index % commands.len();
        index += 1;
        let start = Instant::now();
        let reply = within(cap, client.command(&commands[which])).await?;
        let elapsed = milliseconds(start.elapsed());
        if !reply.ok() {
            refused += 1;
            first_refusal.get_or_insert_with(|| lossy(&reply.status));
            settle(0.1).await;
            continue;
        }
        check(&reply).map_err(other)?;
        times[which].push(elapsed);
    }
    Ok((times, refused, first_refusal))
}

/// A mailbox name of 200 bytes: an index and words, no hierarchy
/// delimiter and nothing a maildir++ directory name cannot hold.
pub fn long_mailbox_name(index: usize) -> String {
    const WORDS: &[&str] = &["garden", "photos", "holiday", "school", "recipes", "invoices", "letters", "archive"];
    let mut name = format!("lf{index:04}");
    let mut word = index;
    while name.len() < 200 {
        name.push('-');
        name.push_str(WORDS[word % WORDS.len()]);
        word = word / 3 + 5;
    }
    name.truncate(200);
    name
}

/// A pattern of `length` characters that matches none of the names: a
/// leading `*`, then text like the names' own (so a matcher compares for
/// a while at every position), then a `~`, which no name holds.
pub fn never_matching_pattern(index: usize, length: usize) -> String {
    let text = long_mailbox_name(index).split_off(7).replace('-', "");
    let mut pattern = String::from("*");
    while pattern.len() < length - 1 {
        pattern.push_str(&text);
    }
    pattern.truncate(length - 1);
    pattern.push('~');
    pattern
}

/// Sends `commands` pipelined (all out, then every answer read).
async fn pipelined(client: &mut Client, commands: &[String]) -> io::Result<Vec<client::Reply>> {
    let mut out = Vec::new();
    for (index, command) in commands.iter().enumerate() {
        out.extend_from_slice(format!("p{index} {command}\r\n").as_bytes());
    }
    client.send(&out).await?;
    let mut replies = Vec::new();
    for index in 0..commands.len() {
        replies.push(client.wait_for(&format!("p{index}")).await?);
    }
    Ok(replies)
}

/// Makes sure `alice` has the scenario's long-named mailboxes.
async fn ensure_mailboxes(server: &Server, count: usize) -> io::Result<()> {
    let mut client = scenarios::logged_in(server, None).await?;
    let reply = client.ok("LIST \"\" \"lf*\"").await?;
    let existing = reply.untagged.iter().filter(|line| line.starts_with(b"* LIST")).count();
    if existing < count {
        eprintln!("[{}] creating {count} mailboxes with 200-byte names", server.name);
        let names: Vec<String> = (0..count).map(|index| format!("CREATE \"{}\"", long_mailbox_name(index))).collect();
        for batch in names.chunks(50) {
            // Existing ones are answered NO; that is fine.
            pipelined(&mut client, batch).await?;
        }
        let reply = client.ok("LIST \"\" \"lf*\"").await?;
        let made = reply.untagged.iter().filter(|line| line.starts_with(b"* LIST")).count();
        if made < count {
            return Err(other(format!("only {made} of {count} mailboxes could be created")));
        }
    }
    client.logout().await;
    Ok(())
}

/// Scenario 11 (a): LIST with many long patterns over many mailboxes.
pub fn list_flood(server: &Server, settings: &Settings) -> io::Result<Vec<Figure>> {
    smol::block_on(ensure_mailboxes(server, settings.mailboxes))?;
    let patterns: Vec<String> = (0..settings.patterns)
        .map(|index| format!("\"{}\"", never_matching_pattern(index, settings.pattern_length)))
        .collect();
    // RFC 5258 §3: several patterns in one LIST (LIST-EXTENDED).
    let list = format!("LIST \"\" ({})", patterns.join(" "));
    let ((times, refused, first_refusal), mut phase) =
        run_phase(server, settings, || {
            smol::block_on(async {
                let mut client = Client::over(connect_async(adversary(0), server.imap).await?, None).await?;
                client.login(USER, PASSWORD).await?;
                let deadline = Instant::now() + settings.phase;
                let result =
                    repeat(&mut client, std::slice::from_ref(&list), deadline, Duration::from_secs(600), |reply| {
                        match reply.untagged.iter().filter(|line| line.starts_with(b"* LIST")).count() {
                            0 => Ok(()),
                            found => Err(format!("LIST: {found} mailboxes matched patterns that match none")),
                        }
                    })
                    .await;
                client.logout().await;
                result
            })
        })?;
    if let Some(refusal) = first_refusal {
        eprintln!("[{}] LIST refused {refused} times: {refusal}", server.name);
    }
    let label = "11 LIST flood";
    let mut times = times.into_iter().next().unwrap_or_default();
    let mut figures = phase_figures(11, label, &mut phase, false);
    figures.push(figure(11, format!("{label}: LISTs answered OK"), "", Better::Higher, times.len() as f64));
    figures.push(figure(11, format!("{label}: LISTs refused"), "", Better::Lower, refused as f64));
    figures.push(figure(11, format!("{label}: LIST time p50"), "ms", Better::Lower, percentile(&mut times, 0.5)));
    Ok(figures)
}

/// How many corpus messages (Sizes::Big) make `mib` MiB.
fn messages_for(mib: u64) -> u64 {
    let corpus = Corpus::new(7);
    let (mut count, mut bytes) = (0, 0u64);
    while bytes < mib << 20 {
        bytes += corpus.size_of(count, Sizes::Big) as u64;
        count += 1;
    }
    count
}

/// Makes sure `alice` has the mailbox `big` with the scenario's messages
/// (kept between runs: filling a gigabyte takes minutes).
async fn ensure_big_mailbox(server: &Server, count: u64) -> io::Result<()> {
    let mut client = scenarios::logged_in(server, None).await?;
    let reply = client.command("STATUS big (MESSAGES)").await?;
    let messages = reply
        .untagged
        .iter()
        .find_map(|line| {
            let text = String::from_utf8_lossy(line);
            let rest = text.split("MESSAGES ").nth(1)?;
            rest.trim_end_matches([')', '\r', '\n']).trim().parse::<u64>().ok()
        })
        .unwrap_or(0);
    if reply.ok() && messages == count {
        client.logout().await;
        return Ok(());
    }
    if reply.ok() {
        client.ok("DELETE big").await?;
    }
    client.logout().await;
    let start = Instant::now();
    eprintln!("[{}] filling mailbox big with {count} messages", server.name);
    let bytes = scenarios::populate(server, "big", count, Sizes::Big, 4, 4).await?;
    eprintln!(
        "[{}] filled: {:.0} MiB in {:.0} s",
        server.name,
        bytes as f64 / 1048576.0,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Scenario 12 (b): SEARCH TEXT and BODY of an absent word over a big mailbox.
pub fn search_flood(server: &Server, settings: &Settings) -> io::Result<Vec<Figure>> {
    let count = messages_for(settings.search_mib);
    smol::block_on(ensure_big_mailbox(server, count))?;
    let commands = [format!("UID SEARCH TEXT {ABSENT_WORD}"), format!("UID SEARCH BODY {ABSENT_WORD}")];
    let ((times, refused, first_refusal), mut phase) =
        run_phase(server, settings, || {
            smol::block_on(async {
                let mut client = Client::over(connect_async(adversary(0), server.imap).await?, None).await?;
                client.login(USER, PASSWORD).await?;
                client.ok("SELECT big").await?;
                let deadline = Instant::now() + settings.phase;
                let result = repeat(&mut client, &commands, deadline, Duration::from_secs(600), |reply| {
                    match client::search_numbers(reply).len() {
                        0 => Ok(()),
                        found => Err(format!("SEARCH of an absent word found {found} messages")),
                    }
                })
                .await;
                client.logout().await;
                result
            })
        })?;
    if let Some(refusal) = first_refusal {
        eprintln!("[{}] SEARCH refused {refused} times: {refusal}", server.name);
    }
    let label = "12 SEARCH flood";
    let mut figures = phase_figures(12, label, &mut phase, false);
    figures.push(figure(
        12,
        format!("{label}: mailbox size (nominal)"),
        "MiB",
        Better::Higher,
        settings.search_mib as f64,
    ));
    figures.push(figure(12, format!("{label}: mailbox messages"), "", Better::Higher, count as f64));
    let [mut text, mut body]: [Vec<f64>; 2] = times.try_into().unwrap_or_default();
    figures.push(figure(
        12,
        format!("{label}: SEARCHes answered OK"),
        "",
        Better::Higher,
        (text.len() + body.len()) as f64,
    ));
    figures.push(figure(12, format!("{label}: SEARCH TEXT time p50"), "ms", Better::Lower, percentile(&mut text, 0.5)));
    figures.push(figure(12, format!("{label}: SEARCH BODY time p50"), "ms", Better::Lower, percentile(&mut body, 0.5)));
    Ok(figures)
}

/// Up to `count` STOREs toggling \Flagged on every message of `stall`,
/// for at most `seconds`; returns how many were answered OK.
async fn toggle_flags(server: &Server, count: usize, seconds: f64) -> io::Result<usize> {
    let mut client = Client::over(connect_async(adversary(1), server.imap).await?, None).await?;
    client.login(USER, PASSWORD).await?;
    client.ok("SELECT stall").await?;
    client.keep_untagged = false;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut done = 0;
    while done < count && Instant::now() < deadline {
        let sign = if done % 2 == 0 { '+' } else { '-' };
        within(Duration::from_secs(120), client.ok(&format!("STORE 1:* {sign}FLAGS.SILENT (\\Flagged)"))).await?;
        done += 1;
    }
    client.logout().await;
    Ok(done)
}

/// What the stalled reader got, read once the STOREs were done.
struct Stalled {
    bytes: u64,
    bye: bool,
    closed_by_server: bool,
    completed: bool,
}

/// Reads what the server sends until it closes or stays silent for 3 s.
fn drain(client: &mut LineClient, tag: &str) -> Stalled {
    let _ = client.set_timeout(Duration::from_secs(3));
    let mut stalled = Stalled { bytes: 0, bye: false, closed_by_server: false, completed: false };
    let ok = format!("{tag} OK");
    // Enough of the previous chunk to find a marker split between reads.
    let mut carry: Vec<u8> = Vec::new();
    let mut buffer = vec![0; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        match client.reader.read(&mut buffer) {
            Ok(0) => {
                stalled.closed_by_server = true;
                break;
            }
            Ok(read) => {
                stalled.bytes += read as u64;
                carry.extend_from_slice(&buffer[..read]);
                let text = &carry[..];
                stalled.bye |= text.windows(5).any(|window| window == b"* BYE");
                stalled.completed |= text.windows(ok.len()).any(|window| window == ok.as_bytes());
                let keep = carry.len().saturating_sub(16);
                carry.drain(..keep);
            }
            Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => break,
            Err(_) => {
                stalled.closed_by_server = true;
                break;
            }
        }
    }
    stalled
}

/// Scenario 13 (c): a client that stops reading mid-FETCH while another
/// session changes flags; the data file's growth.
pub fn stalled_reader(server: &Server, settings: &Settings) -> io::Result<Vec<Figure>> {
    smol::block_on(async {
        let mut client = scenarios::logged_in(server, None).await?;
        client.ok("CREATE stall").await?;
        let messages: Vec<Vec<u8>> = (0..settings.stall_messages)
            .map(|index| scenarios::big_message(settings.stall_message_size, 1000 + index as u64))
            .collect();
        for batch in messages.chunks(20) {
            let batch: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            client.append("stall", &batch).await?;
        }
        client.logout().await;
        io::Result::Ok(())
    })?;
    std::thread::sleep(settings.settle);
    // Baseline: the same STOREs with nobody stalled.
    let base_before = server.data_bytes(USER);
    let base_start = Instant::now();
    let base_stores = smol::block_on(toggle_flags(server, settings.stores, settings.store_seconds))?;
    let base_seconds = base_start.elapsed().as_secs_f64();
    let base_after = server.data_bytes(USER);

    let ((sizes, stores, stalled), mut phase) = run_phase(server, settings, || {
        let stream = connect_blocking(adversary(0), server.imap, Duration::from_secs(30), Some(4096))?;
        let mut reader = LineClient::over(stream)?;
        reader.ok(&format!("LOGIN {USER} \"{PASSWORD}\""))?;
        reader.ok("SELECT stall")?;
        reader.send(b"stall1 FETCH 1:* BODY.PEEK[]\r\n")?;
        // Let the server fill every buffer between it and the reader.
        std::thread::sleep(Duration::from_secs(1));
        let before = server.data_bytes(USER);
        let stores = smol::block_on(toggle_flags(server, settings.stores, settings.store_seconds))?;
        let after = server.data_bytes(USER);
        let stalled = drain(&mut reader, "stall1");
        drop(reader);
        Ok(((before, after), stores, stalled))
    })?;
    let label = "13 stalled reader";
    let growth = |before: u64, after: u64| 100.0 * (after as f64 - before as f64) / before.max(1) as f64;
    let mut figures = phase_figures(13, label, &mut phase, false);
    figures.extend([
        figure(13, format!("{label}: data before the STOREs"), "MiB", Better::Lower, base_before as f64 / 1048576.0),
        figure(13, format!("{label}: STOREs, nobody stalled"), "", Better::Higher, base_stores as f64),
        figure(
            13,
            format!("{label}: STOREs/s, nobody stalled"),
            "STORE/s",
            Better::Higher,
            base_stores as f64 / base_seconds,
        ),
        figure(
            13,
            format!("{label}: data growth, nobody stalled"),
            "%",
            Better::Lower,
            growth(base_before, base_after),
        ),
        figure(13, format!("{label}: STOREs, reader stalled"), "", Better::Higher, stores as f64),
        figure(13, format!("{label}: data before, reader stalled"), "MiB", Better::Lower, sizes.0 as f64 / 1048576.0),
        figure(13, format!("{label}: data after, reader stalled"), "MiB", Better::Lower, sizes.1 as f64 / 1048576.0),
        figure(13, format!("{label}: data growth, reader stalled"), "%", Better::Lower, growth(sizes.0, sizes.1))
            .at_most(GROWTH_PERCENT),
        figure(13, format!("{label}: stalled reader got"), "MiB", Better::Lower, stalled.bytes as f64 / 1048576.0),
        figure(13, format!("{label}: stalled reader got BYE"), "", Better::Higher, stalled.bye as u8 as f64),
        figure(
            13,
            format!("{label}: stalled reader cut off"),
            "",
            Better::Higher,
            (stalled.closed_by_server && !stalled.completed) as u8 as f64,
        ),
    ]);
    Ok(figures)
}

/// Connects from `source` and reads the greeting; None if the server
/// refused (no connection, or a greeting other than `* OK`).
async fn attack_connection(source: Ipv4Addr, address: SocketAddr) -> Option<Client> {
    let tcp = within(Duration::from_secs(10), connect_async(source, address)).await.ok()?;
    within(Duration::from_secs(30), Client::over(tcp, None)).await.ok()
}

/// Scenario 14 (d): slow pre-authentication connections.
pub fn slow_preauth(server: &Server, settings: &Settings) -> io::Result<Vec<Figure>> {
    use std::cell::Cell;
    #[derive(Default)]
    struct Counts {
        attempts: Cell<u64>,
        open: Cell<u64>,
        peak: Cell<u64>,
        refused: Cell<u64>,
        dropped: Cell<u64>,
        open_at_end: Cell<u64>,
    }
    let counts = Counts::default();
    let (_, mut phase) = run_phase(server, settings, || {
        let executor = smol::LocalExecutor::new();
        let deadline = Instant::now() + settings.phase;
        let counts = &counts;
        smol::block_on(executor.run(async {
            let tasks: Vec<_> = (0..settings.slow_connections)
                .map(|index| {
                    executor.spawn(async move {
                        let source = adversary(index % 12);
                        // Waves of 64, so the listen backlog is not what refuses.
                        smol::Timer::after(Duration::from_millis(20 * (index / 64) as u64)).await;
                        while Instant::now() < deadline {
                            counts.attempts.set(counts.attempts.get() + 1);
                            let Some(mut client) = attack_connection(source, server.imap).await else {
                                counts.refused.set(counts.refused.get() + 1);
                                smol::Timer::after(Duration::from_secs(1)).await;
                                continue;
                            };
                            // A greeting after the deadline is not an open connection of the phase.
                            let in_time = Instant::now() < deadline;
                            counts.open.set(counts.open.get() + 1);
                            counts.peak.set(counts.peak.get().max(counts.open.get()));
                            let mut dropped = false;
                            while Instant::now() < deadline {
                                // One byte of a command that never ends.
                                if client.send(b"a").await.is_err() {
                                    dropped = true;
                                    break;
                                }
                                let wait =
                                    deadline.saturating_duration_since(Instant::now()).min(Duration::from_secs(5));
                                match within(wait, client.read_response()).await {
                                    Err(error) if error.kind() == io::ErrorKind::TimedOut => {}
                                    // EOF, a reset, or a line such as BYE: the server let go.
                                    _ => {
                                        dropped = true;
                                        break;
                                    }
                                }
                            }
                            if dropped {
                                counts.dropped.set(counts.dropped.get() + 1);
                            } else if in_time {
                                counts.open_at_end.set(counts.open_at_end.get() + 1);
                            }
                            counts.open.set(counts.open.get() - 1);
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
        }));
        Ok(())
    })?;
    let label = "14 slow pre-auth";
    let mut figures = phase_figures(14, label, &mut phase, true);
    figures.extend([
        figure(14, format!("{label}: attack connections tried"), "", Better::Lower, counts.attempts.get() as f64),
        figure(14, format!("{label}: attack connections open, peak"), "", Better::Lower, counts.peak.get() as f64),
        figure(
            14,
            format!("{label}: attack connections open at end"),
            "",
            Better::Lower,
            counts.open_at_end.get() as f64,
        ),
        figure(14, format!("{label}: attack connections refused"), "", Better::Higher, counts.refused.get() as f64),
        figure(14, format!("{label}: attack connections dropped"), "", Better::Higher, counts.dropped.get() as f64),
    ]);
    Ok(figures)
}

/// Scenario 15 (e): wrong passwords from five addresses.
pub fn guessing(server: &Server, settings: &Settings) -> io::Result<Vec<Figure>> {
    use std::cell::Cell;
    let (sent, answered, refused, closed) = (Cell::new(0usize), Cell::new(0usize), Cell::new(0u64), Cell::new(0u64));
    let accepted = Cell::new(0u64);
    // Answers that say "busy, retry" ([UNAVAILABLE]: roost's full password
    // queue) spent no password check: counted apart from real guesses.
    let unchecked = Cell::new(0u64);
    let ((), mut phase) = run_phase(server, settings, || {
        let executor = smol::LocalExecutor::new();
        let deadline = Instant::now() + Duration::from_secs_f64(settings.guess_seconds);
        let (sent, answered, refused, closed, accepted, unchecked) =
            (&sent, &answered, &refused, &closed, &accepted, &unchecked);
        smol::block_on(executor.run(async {
            let tasks: Vec<_> = (0..5 * settings.guessers_per_address)
                .map(|index| {
                    executor.spawn(async move {
                        let source = adversary(index % 5);
                        smol::Timer::after(Duration::from_millis(20 * (index / 64) as u64)).await;
                        'connections: while Instant::now() < deadline && sent.get() < settings.guesses {
                            let Some(mut client) = attack_connection(source, server.imap).await else {
                                refused.set(refused.get() + 1);
                                smol::Timer::after(Duration::from_secs(1)).await;
                                continue;
                            };
                            while Instant::now() < deadline && sent.get() < settings.guesses {
                                let guess = sent.get();
                                sent.set(guess + 1);
                                let command = format!("LOGIN {USER} \"wrong-{guess}\"");
                                let limit = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(5);
                                match within(limit, client.command(&command)).await {
                                    Ok(reply) if reply.ok() => {
                                        accepted.set(accepted.get() + 1);
                                        continue 'connections;
                                    }
                                    Ok(reply) if reply.status.windows(13).any(|code| code == b"[UNAVAILABLE]") => {
                                        answered.set(answered.get() + 1);
                                        unchecked.set(unchecked.get() + 1);
                                    }
                                    Ok(_) => answered.set(answered.get() + 1),
                                    // Not answered in time: not counted.
                                    Err(error) if error.kind() == io::ErrorKind::TimedOut => break 'connections,
                                    // roost answers the last guess a connection may make
                                    // with BYE and closes: a guess tried all the same.
                                    Err(_) => {
                                        answered.set(answered.get() + 1);
                                        closed.set(closed.get() + 1);
                                        continue 'connections;
                                    }
                                }
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
        }));
        Ok(())
    })?;
    if accepted.get() > 0 {
        return Err(other(format!("{} wrong passwords were accepted", accepted.get())));
    }
    let label = "15 password guessing";
    let mut figures = phase_figures(15, label, &mut phase, true);
    figures.extend([
        figure(15, format!("{label}: wrong passwords tried"), "", Better::Lower, answered.get() as f64),
        figure(
            15,
            format!("{label}: wrong passwords tried/s"),
            "guess/s",
            Better::Lower,
            answered.get() as f64 / phase.seconds,
        ),
        figure(
            15,
            format!("{label}: of them answered busy, unchecked ([UNAVAILABLE])"),
            "",
            Better::Higher,
            unchecked.get() as f64,
        ),
        figure(15, format!("{label}: attack connections refused"), "", Better::Higher, refused.get() as f64),
        figure(15, format!("{label}: attack connections closed"), "", Better::Higher, closed.get() as f64),
    ]);
    Ok(figures)
}

/// Bytes of the pre-authentication LOGIN literal in scenario 16.
const LITERAL: usize = 61440;

/// Scenario 16 (f): pre-authentication literals of 60 KiB.
pub fn preauth_literals(server: &Server, settings: &Settings) -> io::Result<Vec<Figure>> {
    use std::cell::Cell;
    let (sent, answered, refused, rejected, closed) =
        (Cell::new(0u64), Cell::new(0u64), Cell::new(0u64), Cell::new(0u64), Cell::new(0u64));
    let (_, mut phase) = run_phase(server, settings, || {
        let literal = vec![b'x'; LITERAL];
        let literal = &literal;
        let executor = smol::LocalExecutor::new();
        let (sent, answered, refused, rejected, closed) = (&sent, &answered, &refused, &rejected, &closed);
        smol::block_on(executor.run(async {
            let tasks: Vec<_> = (0..settings.literals)
                .map(|index| {
                    executor.spawn(async move {
                        // 50 per address, under roost's per-address limit,
                        // from 127.0.0.20 up: not the addresses that guessed
                        // passwords in scenario 15.
                        let source = adversary(18 + index % settings.literals.div_ceil(50).max(1));
                        smol::Timer::after(Duration::from_millis(20 * (index / 64) as u64)).await;
                        let Some(mut client) = attack_connection(source, server.imap).await else {
                            refused.set(refused.get() + 1);
                            return None;
                        };
                        let result = within(Duration::from_secs(60), async {
                            client.send(format!("a LOGIN {{{LITERAL}}}\r\n").as_bytes()).await?;
                            let answer = client.read_response().await?;
                            if !answer.starts_with(b"+") {
                                // Turned down before the literal came.
                                rejected.set(rejected.get() + 1);
                                return Ok(());
                            }
                            client.send(literal).await?;
                            client.send(b" \"x\"\r\n").await?;
                            sent.set(sent.get() + 1);
                            client.wait_for("a").await?;
                            answered.set(answered.get() + 1);
                            io::Result::Ok(())
                        })
                        .await;
                        if result.is_err() {
                            closed.set(closed.get() + 1);
                        }
                        // Held open until every connection is answered.
                        Some(client)
                    })
                })
                .collect();
            let mut held = Vec::new();
            for task in tasks {
                held.push(task.await);
            }
            // A moment with all of them open, then all close together.
            settle(1.0).await;
            drop(held);
        }));
        Ok(())
    })?;
    let label = "16 pre-auth literals";
    let mut figures = phase_figures(16, label, &mut phase, false);
    figures.extend([
        figure(16, format!("{label}: 60 KiB literals sent"), "", Better::Lower, sent.get() as f64),
        figure(16, format!("{label}: LOGINs answered"), "", Better::Lower, answered.get() as f64),
        figure(16, format!("{label}: literals turned down"), "", Better::Higher, rejected.get() as f64),
        figure(16, format!("{label}: connections refused"), "", Better::Higher, refused.get() as f64),
        figure(16, format!("{label}: connections closed by the server"), "", Better::Higher, closed.get() as f64),
    ]);
    Ok(figures)
}

/// The status of a wrong-password answer that a check stands behind.
fn refused_login(reply: &client::Reply) -> bool {
    reply.status.starts_with(b"NO") && !reply.status.windows(13).any(|code| code == b"[UNAVAILABLE]")
}

/// Scenario 17 (g): bans. See the module documentation.
pub fn bans(server: &Server, settings: &Settings) -> io::Result<Vec<Figure>> {
    use std::cell::Cell;
    const ADDRESSES: usize = 5;
    const PER_ADDRESS: usize = 4;
    let sources: Vec<Ipv4Addr> = (0..ADDRESSES).map(|index| adversary(38 + index)).collect();
    let dovecot = server.name == "dovecot";
    let label = "17 bans";
    // Guessing until refused.
    let answered: Vec<Cell<u64>> = (0..ADDRESSES).map(|_| Cell::new(0)).collect();
    let refused: Vec<Cell<bool>> = (0..ADDRESSES).map(|_| Cell::new(false)).collect();
    let checks_before = server.failed_logins.load(Ordering::Relaxed);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(settings.ban_guess_seconds);
    let executor = smol::LocalExecutor::new();
    let (answered, refused, sources) = (&answered, &refused, &sources);
    smol::block_on(executor.run(async {
        let tasks: Vec<_> = (0..ADDRESSES * PER_ADDRESS)
            .map(|index| {
                executor.spawn(async move {
                    let which = index % ADDRESSES;
                    let mut guess = 0;
                    while Instant::now() < deadline && !refused[which].get() {
                        let Some(mut client) = attack_connection(sources[which], server.imap).await else {
                            refused[which].set(true);
                            return;
                        };
                        loop {
                            guess += 1;
                            let command = format!("LOGIN {USER} \"wrong-{index}-{guess}\"");
                            let limit = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(20);
                            match within(limit, client.command(&command)).await {
                                Ok(reply) if reply.ok() => return,
                                Ok(reply) if refused_login(&reply) => answered[which].set(answered[which].get() + 1),
                                Ok(_) => {}
                                // Closed by the server (after its answer, or a BYE).
                                Err(_) => break,
                            }
                            if Instant::now() >= deadline {
                                return;
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    }));
    let guessing = start.elapsed().as_secs_f64();
    let per_address = |total: u64| total as f64 / ADDRESSES as f64;
    let answers = per_address(answered.iter().map(Cell::get).sum());
    let banned = refused.iter().filter(|refused| refused.get()).count();
    let mut figures = vec![
        figure(17, format!("{label}: guessing phase"), "s", Better::Lower, guessing),
        figure(
            17,
            format!("{label}: addresses refused at connect by its end (of {ADDRESSES})"),
            "",
            Better::Higher,
            banned as f64,
        ),
        figure(17, format!("{label}: wrong-password answers per address"), "", Better::Lower, answers),
    ];
    // roost: the failures it logged (each a password check); Dovecot: every
    // answer is a check. Per 15 min (roost's ban_window): addresses all
    // refused by the end (banned for longer than that) make no more in the
    // window; otherwise the rate goes on.
    let checks =
        if dovecot { answers } else { per_address(server.failed_logins.load(Ordering::Relaxed) - checks_before) };
    let per_window = if banned == ADDRESSES { checks } else { checks * 900.0 / guessing.max(1.0) };
    figures.push(figure(17, format!("{label}: password checks per address"), "", Better::Lower, checks).at_most(10.0));
    figures.push(
        figure(17, format!("{label}: password checks per address per 15 min"), "", Better::Lower, per_window)
            .at_most(10.0),
    );
    // The attempts from the (banned) addresses.
    let attempts = if dovecot { settings.ban_attempts_dovecot } else { settings.ban_attempts };
    let parallel = if dovecot { 200 } else { 50 };
    let (made, turned_away, checked) = (Cell::new(0usize), Cell::new(0u64), Cell::new(0u64));
    let pids = pid_source(server);
    let cpu_before = servers::cpu_seconds(&pids());
    let start = Instant::now();
    let executor = smol::LocalExecutor::new();
    let (made, turned_away, checked) = (&made, &turned_away, &checked);
    smol::block_on(executor.run(async {
        let tasks: Vec<_> = (0..parallel)
            .map(|index| {
                executor.spawn(async move {
                    while made.get() < attempts {
                        let attempt = made.get();
                        made.set(attempt + 1);
                        let source = sources[attempt % ADDRESSES];
                        let Some(mut client) = attack_connection(source, server.imap).await else {
                            turned_away.set(turned_away.get() + 1);
                            continue;
                        };
                        let command = format!("LOGIN {USER} \"again-{index}-{attempt}\"");
                        if let Ok(reply) = within(Duration::from_secs(60), client.command(&command)).await {
                            if refused_login(&reply) {
                                checked.set(checked.get() + 1);
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    }));
    let seconds = start.elapsed().as_secs_f64();
    // Work the server finishes after the last answer (Dovecot's processes
    // exiting) is counted too.
    std::thread::sleep(Duration::from_secs(2));
    let cpu = servers::cpu_seconds(&pids()) - cpu_before;
    let scale = settings.ban_attempts as f64 / attempts as f64;
    let cpu_name = format!(
        "{label}: server CPU for {} attempts (Dovecot: {} measured, scaled)",
        settings.ban_attempts, settings.ban_attempts_dovecot
    );
    figures.extend([
        figure(17, format!("{label}: attempts made"), "", Better::Lower, attempts as f64),
        figure(17, format!("{label}: of them closed at connect"), "", Better::Higher, turned_away.get() as f64),
        figure(
            17,
            format!("{label}: of them answered after a password check"),
            "",
            Better::Lower,
            checked.get() as f64,
        ),
        figure(17, format!("{label}: attempts/s"), "/s", Better::Higher, attempts as f64 / seconds),
        figure(17, cpu_name, "CPU-s", Better::Lower, cpu * scale).at_most(1.0),
    ]);
    Ok(figures)
}

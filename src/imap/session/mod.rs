//! One IMAP connection: NotAuthenticated → Authenticated → Selected → Logout.
//!
//! The session reads a command (assembling literals, refusing what exceeds
//! the board's limits before reading it), hands it to its handler in
//! `command/`, and before each tagged reply tells the client what other
//! sessions changed ([`Session::sync`], in `sync.rs`). Store errors
//! become response codes in `imap::code`. Before each command (and in
//! IDLE's and NOTIFY's waits) it looks the selected mailbox's rights up
//! again if any rights changed meanwhile (`rights.rs`, RFC 4314 §5.1.1).
//!
//! ## What a handler is handed
//!
//! Dispatch checks the state once ([`Session::refusal`]) and hands each
//! handler what the check proved, so no handler looks again (and none can
//! end a command silently because it found nothing):
//!
//! - commands of the Authenticated state (SELECT, CREATE, LIST, STATUS,
//!   NOTIFY, ...) get the logged-in user's id as an argument;
//! - commands of the Selected state (FETCH, STORE, SEARCH, SORT, THREAD,
//!   COPY/MOVE, EXPUNGE, CLOSE, UNSELECT, CANCELUPDATE) get a [`Selected`]:
//!   `&mut Session` wrapped with the proof that the state is Selected, so
//!   [`Selected::view`] and [`Selected::user`] answer without an Option.
//!   **Invariant:** while a `Selected` exists the state stays Selected.
//!   It is made only after a check (dispatch; [`Session::enter`] for
//!   SELECT; [`Session::selected`] for APPEND's REPLACE, which is read
//!   outside dispatch), and what can leave Selected state consumes it:
//!   [`Selected::deselect`]; [`Selected::sync`], which may find the
//!   mailbox deleted (then a BYE went out) and so gives a new proof or
//!   [`Replied`]; and [`Selected::finish`] and [`Selected::store_failed`],
//!   which sync and write the tagged reply.
//!   These shadow the `Session` methods of the same name, so
//!   `session.sync()` on a `Selected` is always the checked one. A helper
//!   given `&mut Selected` that answers for its caller through the
//!   `Session` (`Session::failed`) returns `Err(Replied)`, and the caller
//!   returns at once.
//! - every command with more than two arguments gets them as one struct
//!   the parser built (`types::FetchArguments`, `StoreArguments`, ...).
//!
//! A helper that may answer for its caller (a bad mailbox name, a bad
//! sequence set, a refused charset, a live search's tag in use, a failed
//! scan) returns `Result<T, Replied>`: [`Replied`] is made only by
//! [`Session::tagged`] (or by a sync that wrote BYE), so an early
//! `let Ok(..) = .. else { return Ok(()) }` in a handler always follows
//! a reply.
//!
//! Before login a session is a stranger's: its command, literals included,
//! is capped at `preauth_line_length` (refused before the bytes are read,
//! RFC 7888 §4), it must log in by its login deadline, and the server may
//! close it to make room for a newcomer (see `crate::server`). Its buffers
//! are released between commands like every session's.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::rc::Rc;
use std::time::{Duration, Instant};

use smol::channel::Receiver;

use super::code::{describe, Code};
use super::command;
use super::encode;
use super::parse::{self, AppendLine};
use super::types::{
    Command, CommandBody, CopyArguments, FetchArguments, SearchArguments, SequenceSet, SetAclArguments, SortArguments,
    StoreArguments, ThreadArguments,
};
use super::view::View;
use crate::config::PlaintextAuth;
use crate::net::{Connection, LineStatus, Stream};
use crate::server::{Admitted, ConnectionSlot, Server, UserSlot};
use crate::store::StoreError;

pub mod condstore;
pub mod mailbox_arg;
pub mod notify;
pub mod qresync;
pub mod rights;
mod sync;

pub struct User {
    pub id: u32,
    pub name: String,
    _slot: UserSlot,
}

impl User {
    pub fn new(id: u32, name: String, slot: UserSlot) -> User {
        User { id, name, _slot: slot }
    }
}

pub enum State {
    NotAuthenticated,
    Authenticated(User),
    Selected(User, View),
    Logout,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

/// How much of other sessions' changes may be reported before a tagged reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// EXISTS, EXPUNGE, FLAGS: everything.
    Full,
    /// RFC 3501 §7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH
    /// (their UID forms excepted), so only flag changes.
    NoExpunge,
}

/// What the connection read: a complete command, or the start of an APPEND
/// whose message must stream.
enum Incoming {
    Command,
    Append {
        tag: String,
        mailbox: Vec<u8>,
        message: AppendLine,
        /// REPLACE (RFC 8508): the message the new one replaces.
        replacing: Option<parse::Replacing>,
    },
    /// Already answered (too long, bad literal); read the next one.
    Answered,
}

pub struct Session {
    pub server: Rc<Server>,
    pub conn: Connection,
    pub peer: SocketAddr,
    pub state: State,
    /// The assembled command (line plus inline literals).
    command: Vec<u8>,
    /// The STARTTLS listener's connections may upgrade; implicit TLS ones are already TLS.
    pub starttls_allowed: bool,
    /// How the current command lets sync report changes.
    pub sync_mode: SyncMode,
    /// Whether the current command is a UID command (unsolicited FETCH
    /// responses then carry UIDs, as clients expect).
    pub uid_command: bool,
    /// Failed LOGIN/AUTHENTICATE attempts on this connection.
    pub failed_logins: u32,
    /// The name the client gave in ID (RFC 2971), for the login history.
    pub client_name: Option<String>,
    /// Logged in with a device password: closes when it is deleted
    /// (`auth::device::Sessions`).
    pub revoked: Option<Receiver<()>>,
    /// `ENABLE IMAP4rev2` was given: RFC 9051 behaviour (no \Recent,
    /// ESEARCH answers, UTF-8 mailbox names).
    pub imap4rev2: bool,
    /// `ENABLE UTF8=ACCEPT` was given (RFC 6855, RFC 9755): UTF-8 mailbox
    /// names for an IMAP4rev1 client, and SEARCH without CHARSET.
    pub utf8_accept: bool,
    /// RFC 7162: CONDSTORE enabled (explicitly or by a command using it),
    /// and QRESYNC enabled (which implies it); see `command::enable`.
    pub condstore: bool,
    pub qresync: bool,
    /// RFC 9586: `ENABLE UIDONLY` was given: messages are named by UID
    /// only, both ways (see `command::uidonly`).
    pub uid_only: bool,
    /// Logging in must be done by then (a deadline, not an idle timer).
    login_deadline: Instant,
    /// RFC 5465 NOTIFY, once set (boxed: most sessions never use it).
    pub notify: Option<Box<notify::Notify>>,
    /// This connection's place in the board's limits; leaves the pre-auth
    /// count at login.
    pub slot: ConnectionSlot,
    /// Closes (resolves) when the server closes this connection, not yet
    /// logged in, to make room for a newcomer.
    evicted: Receiver<()>,
    /// The hub's count of rights changes when the selected mailbox's
    /// rights were last looked up (see `rights`).
    pub rights_generation: u64,
    /// The selected mailbox was opened with EXAMINE: read-only whatever
    /// the rights (see `rights`).
    pub examined: bool,
}

/// What ended a wait for the next command.
enum Woken {
    Read(io::Result<Incoming>),
    Stop,
    Evicted,
}

/// Resolves when what `listener` listens for happens; never without one.
/// One of the waits IDLE and a NOTIFY session's wait for a command race
/// against the client's input.
pub async fn until_changed(listener: Option<event_listener::EventListener>) {
    match listener {
        Some(listener) => listener.await,
        None => std::future::pending().await,
    }
}

/// Resolves when the session must end while it waits: the server stops,
/// or the device password it logged in with is revoked (which ends the
/// session as a stop does).
pub async fn until_stopped(stop: &Receiver<()>, revoked: Option<Receiver<()>>) {
    match revoked {
        Some(revoked) => smol::future::or(stop.recv(), revoked.recv()).await,
        None => stop.recv().await,
    }
    .ok();
}

/// Runs a connection to its end. `implicit_tls`: the TLS handshake comes
/// first. `admitted` is its place in the limits and its login deadline,
/// which is shorter when pre-auth slots are scarce
/// ([`crate::server::login_timeout`]).
pub async fn run(server: Rc<Server>, stream: Stream, peer: SocketAddr, implicit_tls: bool, admitted: Admitted) {
    let Admitted { slot, evicted, login_timeout } = admitted;
    let limits = &server.config.limits;
    // From connect: the TLS handshake counts against the time to log in.
    let login_deadline = Instant::now() + login_timeout;
    let write_timeout = Duration::from_secs(limits.write_timeout);
    let stream = if implicit_tls {
        let Stream::Plain(tcp) = stream else { return };
        // Boxed: the handshake state is large and is over before the
        // session starts; it must not size every idle session's future.
        let handshake = Box::pin(server.certificates.acceptor().accept(tcp));
        // A handshake needs well under a second; a client that dawdles
        // holds a pre-auth slot and a TLS state for nothing.
        let timeout = Duration::from_secs(limits.tls_handshake_timeout).min(login_timeout);
        let closed = async {
            let _ = evicted.recv().await;
            None
        };
        match smol::future::or(with_timeout(timeout, handshake), closed).await {
            Some(Ok(tls)) => Stream::Tls(Box::new(tls)),
            Some(Err(error)) => {
                log::debug!("TLS handshake with {peer} failed: {error}");
                return;
            }
            None => return,
        }
    } else {
        stream
    };
    let conn = Connection::new(stream, limits.read_buffer, limits.write_buffer, write_timeout);
    let mut session = Session {
        server,
        conn,
        peer,
        state: State::NotAuthenticated,
        command: Vec::new(),
        starttls_allowed: !implicit_tls,
        sync_mode: SyncMode::Full,
        uid_command: false,
        failed_logins: 0,
        client_name: None,
        revoked: None,
        imap4rev2: false,
        utf8_accept: false,
        condstore: false,
        qresync: false,
        uid_only: false,
        login_deadline,
        notify: None,
        slot,
        evicted,
        rights_generation: 0,
        examined: false,
    };
    let greeting = format!("* OK [CAPABILITY {}] roost ready\r\n", session.capabilities());
    session.conn.write(greeting.as_bytes());
    match session.serve().await {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
            log::debug!("{peer}: client disconnected");
        }
        Err(error) if error.kind() == io::ErrorKind::TimedOut => {
            // Silent too long, wherever it was in a command (RFC 3501 §5.4).
            let text = match session.state {
                State::NotAuthenticated => "* BYE Login timed out\r\n",
                _ => "* BYE Autologout; idle for too long\r\n",
            };
            session.conn.write(text.as_bytes());
            log::debug!("{peer}: {error}");
        }
        Err(error) => log::debug!("{peer}: connection ended: {error}"),
    }
    session.conn.close().await;
}

/// Said to a session whose device password was deleted.
pub const REVOKED: &[u8] = b"* BYE [AUTHENTICATIONFAILED] This device's password was revoked\r\n";

/// Resolves to None if `future` takes longer than `timeout`.
pub async fn with_timeout<T>(timeout: Duration, future: impl std::future::Future<Output = T>) -> Option<T> {
    smol::future::or(async { Some(future.await) }, async {
        smol::Timer::after(timeout).await;
        None
    })
    .await
}

impl Session {
    /// Whether this session's device password was deleted.
    pub fn device_revoked(&self) -> bool {
        self.revoked.as_ref().is_some_and(Receiver::is_closed)
    }

    async fn serve(&mut self) -> io::Result<()> {
        loop {
            self.conn.flush().await?;
            if matches!(self.state, State::Logout) {
                return Ok(());
            }
            self.conn.release_buffers();
            self.command = Vec::new();
            let limits = &self.server.config.limits;
            match self.state {
                State::NotAuthenticated => {
                    let idle = Duration::from_secs(limits.login_timeout);
                    self.conn.set_read_limits(idle, Some(self.login_deadline));
                }
                _ => self.conn.set_read_limits(Duration::from_secs(limits.idle_timeout), None),
            }
            if self.notify.is_some() && !self.conn.has_input() {
                // Boxed: sessions that never use NOTIFY keep their task small.
                if !Box::pin(self.wait_for_command()).await? {
                    let text = if self.device_revoked() { REVOKED } else { b"* BYE Server shutting down\r\n" };
                    self.conn.write(text);
                    return Ok(());
                }
                if matches!(self.state, State::Logout) {
                    continue;
                }
            }
            let stop = self.server.stop_signal();
            let stopped = async {
                let _ = stop.recv().await;
                Woken::Stop
            };
            // Only a connection not logged in may be closed to make room
            // (its receiver also closes when it logs in: not an eviction);
            // one logged in with a device password closes when it is deleted.
            let evicted = match self.state {
                State::NotAuthenticated => Some(self.evicted.clone()),
                _ => self.revoked.clone(),
            };
            let closed = async {
                match evicted {
                    Some(evicted) => {
                        let _ = evicted.recv().await;
                        Woken::Evicted
                    }
                    None => std::future::pending().await,
                }
            };
            let read = async { Woken::Read(self.read_command().await) };
            let incoming = match smol::future::or(read, smol::future::or(stopped, closed)).await {
                Woken::Read(incoming) => incoming?,
                Woken::Stop => {
                    self.conn.write(b"* BYE Server shutting down\r\n");
                    return Ok(());
                }
                Woken::Evicted if !matches!(self.state, State::NotAuthenticated) => {
                    self.conn.write(REVOKED);
                    return Ok(());
                }
                Woken::Evicted => {
                    self.conn
                        .write(b"* BYE [UNAVAILABLE] Too many connections waiting to log in; please reconnect\r\n");
                    return Ok(());
                }
            };
            self.sync_mode = SyncMode::Full;
            self.uid_command = false;
            // RFC 4314 §5.1.1: rights changed meanwhile count from this command on.
            self.recheck_rights();
            if matches!(self.state, State::Logout) {
                continue;
            }
            match incoming {
                Incoming::Answered => {}
                Incoming::Append { tag, mailbox, message, replacing } => {
                    // Boxed, like dispatch: an idle session's task then holds
                    // only the state of waiting for a line, not the largest
                    // command's.
                    self.uid_command = replacing.is_some_and(|replacing| replacing.uid);
                    Box::pin(command::append::run(self, &tag, &mailbox, message, replacing)).await?;
                }
                Incoming::Command => match parse::parse_command(&self.command) {
                    Ok(command) => Box::pin(self.dispatch(command)).await?,
                    Err(error) => {
                        let tag = error.tag.as_deref().unwrap_or("*");
                        let text = format!("Error in IMAP command: {}", error.message);
                        self.tagged(tag, Status::Bad, None, &text);
                    }
                },
            }
        }
    }

    /// With NOTIFY: reports changes as they come until the client sends
    /// something (then the command is read as usual, not raced: a command
    /// read is never cancelled midway). False if the server is stopping.
    async fn wait_for_command(&mut self) -> io::Result<bool> {
        enum Woken {
            Input(io::Result<()>),
            Changed,
            Stop,
        }
        let stop = self.server.stop_signal();
        loop {
            self.recheck_rights();
            if matches!(self.state, State::Logout) {
                return Ok(true);
            }
            // Listening first: a change landing during the report wakes the next wait.
            let listener = notify::listen(self);
            notify::report(self, false).await?;
            self.conn.flush().await?;
            if matches!(self.state, State::Logout) || self.notify.is_none() {
                return Ok(true);
            }
            self.conn.release_buffers();
            let input = async { Woken::Input(self.conn.wait_input().await) };
            let changed = async {
                until_changed(listener).await;
                Woken::Changed
            };
            let stopped = until_stopped(&stop, self.revoked.clone());
            let stopped = async {
                stopped.await;
                Woken::Stop
            };
            match smol::future::or(input, smol::future::or(changed, stopped)).await {
                Woken::Input(result) => {
                    result?;
                    return Ok(true);
                }
                Woken::Changed => {}
                Woken::Stop => return Ok(false),
            }
        }
    }

    /// Reads one command into `self.command`. Before login the command,
    /// literals included, is capped far lower (`preauth_line_length`): a
    /// stranger must not make the server buffer more than that.
    async fn read_command(&mut self) -> io::Result<Incoming> {
        let limits = &self.server.config.limits;
        let preauth = matches!(self.state, State::NotAuthenticated);
        let max = if preauth { limits.preauth_line_length } else { limits.line_length };
        let mut line_start = 0;
        loop {
            let status = self.conn.read_line(&mut self.command, max).await?;
            if let LineStatus::TooLong { tail } = status {
                return self.reject_long_line(&tail).await;
            }
            let Some((length, non_synchronizing)) = parse::trailing_literal(&self.command[line_start..]) else {
                // RFC 4469: an APPEND whose CATENATE holds only URLs has no literal.
                return match parse::append_prefix(&self.command) {
                    Some(Ok((tag, mailbox, message, replacing))) => {
                        Ok(Incoming::Append { tag, mailbox, message, replacing })
                    }
                    Some(Err(error)) => {
                        let tag = error.tag.unwrap_or_else(|| "*".into());
                        self.tagged(&tag, Status::Bad, None, &format!("Error in IMAP command: {}", error.message));
                        Ok(Incoming::Answered)
                    }
                    None => Ok(Incoming::Command),
                };
            };
            let too_long = self.command.len() as u64 + length + 2 > max as u64;
            if let Some(prefix) = parse::append_prefix(&self.command).filter(|_| !(preauth && too_long)) {
                return match prefix {
                    Ok((tag, mailbox, message, replacing)) => Ok(Incoming::Append { tag, mailbox, message, replacing }),
                    Err(error) => {
                        let tag = error.tag.unwrap_or_else(|| "*".into());
                        let text = format!("Error in IMAP command: {}", error.message);
                        self.tagged(&tag, Status::Bad, None, &text);
                        if non_synchronizing {
                            self.skip_literal(length).await?;
                        }
                        Ok(Incoming::Answered)
                    }
                };
            }
            if too_long {
                // RFC 7888 §4 / RFC 3501 §7.1.5: refuse before the bytes are
                // read. A synchronizing literal is simply not invited; the
                // bytes of a non-synchronizing one are already on their way.
                let tag = parse::tag_and_name(&self.command).map(|(tag, _)| String::from_utf8_lossy(tag).into_owned());
                let tag = tag.unwrap_or_else(|| "*".into());
                if non_synchronizing {
                    self.tagged(&tag, Status::Bad, Some(Code::TooBig), "Literal too large");
                    return self.close_with_bye("Literal too large for a command");
                }
                self.tagged(&tag, Status::Bad, Some(Code::TooBig), "Literal too large");
                return Ok(Incoming::Answered);
            }
            if !non_synchronizing {
                self.conn.write(b"+ Ready for literal data\r\n");
                self.conn.flush().await?;
            }
            self.command.extend_from_slice(b"\r\n");
            self.conn.read_exact_into(length as usize, &mut self.command).await?;
            line_start = self.command.len();
        }
    }

    /// A line over the limit was read and dropped (only its start kept).
    async fn reject_long_line(&mut self, tail: &[u8]) -> io::Result<Incoming> {
        let tag = parse::tag_and_name(&self.command)
            .map_or_else(|| "*".into(), |(tag, _)| String::from_utf8_lossy(tag).into_owned());
        self.tagged(&tag, Status::Bad, Some(Code::TooBig), "Command line too long");
        if let Some((_, true)) = parse::trailing_literal(tail) {
            // Its literal is coming and the line it belongs to is gone:
            // nothing after it can be read as a command.
            return self.close_with_bye("Command line too long");
        }
        Ok(Incoming::Answered)
    }

    fn close_with_bye(&mut self, text: &str) -> io::Result<Incoming> {
        self.conn.write(format!("* BYE {text}\r\n").as_bytes());
        self.state = State::Logout;
        Ok(Incoming::Answered)
    }

    /// Reads and drops a non-synchronizing literal the client sends
    /// regardless of our answer; an absurd one ends the connection.
    pub async fn skip_literal(&mut self, length: u64) -> io::Result<()> {
        let cap = self.server.config.limits.literal_size.saturating_mul(2);
        if length > cap {
            self.close_with_bye("Literal too large")?;
            return Ok(());
        }
        self.conn.skip(length).await
    }

    /// Why the current state does not allow `body`, or None if it does.
    fn refusal(&self, body: &CommandBody) -> Option<&'static str> {
        let allowed = match (&self.state, body) {
            (_, CommandBody::Capability | CommandBody::Noop | CommandBody::Logout | CommandBody::Id(_)) => true,
            (
                State::NotAuthenticated,
                CommandBody::StartTls | CommandBody::Login { .. } | CommandBody::Authenticate { .. },
            ) => true,
            (State::NotAuthenticated, _) => false,
            (_, CommandBody::StartTls | CommandBody::Login { .. } | CommandBody::Authenticate { .. }) => false,
            (
                State::Authenticated(_),
                CommandBody::Check
                | CommandBody::Close
                | CommandBody::Unselect
                | CommandBody::Expunge { .. }
                | CommandBody::Search(_)
                | CommandBody::Sort(_)
                | CommandBody::CancelUpdate { .. }
                | CommandBody::Thread(_)
                | CommandBody::Fetch(_)
                | CommandBody::Store(_)
                | CommandBody::Copy(_),
            ) => false,
            _ => true,
        };
        if allowed {
            return None;
        }
        Some(match self.state {
            State::NotAuthenticated => "Please log in first",
            State::Authenticated(_)
                if matches!(
                    body,
                    CommandBody::StartTls | CommandBody::Login { .. } | CommandBody::Authenticate { .. }
                ) =>
            {
                "Already logged in"
            }
            State::Authenticated(_) => "No mailbox selected",
            _ => "Already logged in",
        })
    }

    async fn dispatch(&mut self, command: Command) -> io::Result<()> {
        let Command { tag, body } = command;
        if self.refusal(&body).is_some() {
            return self.refuse(&tag, &body);
        }
        if self.uid_only {
            if let Some(text) = command::uidonly::refusal(&body) {
                // RFC 9586 §3: BAD, and the session goes on.
                self.tagged(&tag, Status::Bad, Some(Code::UidRequired), text);
                return Ok(());
            }
        }
        self.sync_mode = match &body {
            CommandBody::Fetch(FetchArguments { uid: false, .. })
            | CommandBody::Store(StoreArguments { uid: false, .. })
            | CommandBody::Search(SearchArguments { uid: false, .. })
            | CommandBody::Sort(SortArguments { uid: false, .. })
            | CommandBody::Thread(ThreadArguments { uid: false, .. }) => SyncMode::NoExpunge,
            _ => SyncMode::Full,
        };
        self.uid_command = matches!(
            &body,
            CommandBody::Fetch(FetchArguments { uid: true, .. })
                | CommandBody::Store(StoreArguments { uid: true, .. })
                | CommandBody::Search(SearchArguments { uid: true, .. })
                | CommandBody::Sort(SortArguments { uid: true, .. })
                | CommandBody::Thread(ThreadArguments { uid: true, .. })
                | CommandBody::Copy(CopyArguments { uid: true, .. })
        );
        match body {
            CommandBody::Capability => {
                let line = format!("* CAPABILITY {}\r\n", self.capabilities());
                self.conn.write(line.as_bytes());
                self.finish(&tag, Status::Ok, None, "CAPABILITY completed").await
            }
            CommandBody::Noop => self.finish(&tag, Status::Ok, None, "NOOP completed").await,
            CommandBody::Check => {
                self.finish(&tag, Status::Ok, None, "CHECK completed (changes are always durable)").await
            }
            CommandBody::Logout => {
                self.conn.write(b"* BYE Logging out\r\n");
                self.tagged(&tag, Status::Ok, None, "LOGOUT completed");
                self.state = State::Logout;
                Ok(())
            }
            CommandBody::Id(parameters) => command::id::run(self, &tag, parameters).await,
            CommandBody::StartTls => command::starttls::run(self, &tag).await,
            CommandBody::Login { user, password } => command::login::login(self, &tag, user, password).await,
            CommandBody::Authenticate { mechanism, initial } => {
                command::login::authenticate(self, &tag, &mechanism, initial).await
            }
            CommandBody::Namespace => {
                // RFC 2342 §5: personal, other users', shared (`imap::namespace`).
                self.conn.write(crate::imap::namespace::NAMESPACE_LINE.as_bytes());
                self.finish(&tag, Status::Ok, None, "NAMESPACE completed").await
            }
            CommandBody::Enable { capabilities } => command::enable::run(self, &tag, &capabilities).await,
            CommandBody::Idle => command::idle::run(self, &tag).await,
            CommandBody::Compress { mechanism } => command::compress::run(self, &tag, &mechanism).await,
            // Allowed above only once logged in: the user is there to take.
            body => match self.user().map(|user| user.id) {
                Some(user) => self.logged_in(user, &tag, body).await,
                None => self.refuse(&tag, &body),
            },
        }
    }

    /// The commands that act for the logged-in user, who is handed to them
    /// (see the module docs).
    async fn logged_in(&mut self, user: u32, tag: &str, body: CommandBody) -> io::Result<()> {
        match body {
            CommandBody::Notify(argument) => command::notify::run(self, tag, user, argument).await,
            CommandBody::Select(arguments) => command::select::run(self, tag, user, arguments).await,
            CommandBody::Create { mailbox } => command::mailbox::create(self, tag, user, &mailbox).await,
            CommandBody::Delete { mailbox } => command::mailbox::delete(self, tag, user, &mailbox).await,
            CommandBody::Rename { from, to } => command::mailbox::rename(self, tag, user, &from, &to).await,
            CommandBody::Subscribe { mailbox, subscribed } => {
                command::mailbox::subscribe(self, tag, user, &mailbox, subscribed).await
            }
            CommandBody::List(arguments) => command::list::run(self, tag, user, arguments).await,
            CommandBody::Status { mailbox, items } => command::status::run(self, tag, user, &mailbox, &items).await,
            CommandBody::SetAcl(SetAclArguments { mailbox, identifier, change }) => {
                command::acl::set(self, tag, user, &mailbox, identifier, change).await
            }
            CommandBody::DeleteAcl { mailbox, identifier } => {
                command::acl::delete(self, tag, user, &mailbox, identifier).await
            }
            CommandBody::GetAcl { mailbox } => command::acl::get(self, tag, user, &mailbox).await,
            CommandBody::ListRights { mailbox, identifier } => {
                command::acl::list(self, tag, user, &mailbox, identifier).await
            }
            CommandBody::MyRights { mailbox } => command::acl::mine(self, tag, user, &mailbox).await,
            CommandBody::GetQuota { root } => command::quota::get(self, tag, user, &root).await,
            CommandBody::GetQuotaRoot { mailbox } => command::quota::root(self, tag, user, &mailbox).await,
            CommandBody::SetQuota { root, limits } => command::quota::set(self, tag, user, &root, &limits).await,
            // Allowed above only in Selected state: the view is there to take.
            body => match Selected::new(self) {
                Some(selected) => selected_command(selected, tag, body).await,
                None => self.refuse(tag, &body),
            },
        }
    }

    /// Answers a command the state does not allow (see [`Session::refusal`]).
    fn refuse(&mut self, tag: &str, body: &CommandBody) -> io::Result<()> {
        let text = self.refusal(body).unwrap_or("No mailbox selected");
        self.tagged(tag, Status::Bad, None, &format!("{} not allowed now: {text}", body.name()));
        Ok(())
    }

    /// The CAPABILITY list for the current state (RFC 3501 §7.2.1).
    pub fn capabilities(&self) -> String {
        let mut capabilities = String::from("IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE BINARY");
        if let State::NotAuthenticated = self.state {
            if self.starttls_allowed && !self.conn.stream.is_tls() {
                capabilities.push_str(" STARTTLS");
            }
            if self.may_send_password() {
                capabilities.push_str(" AUTH=PLAIN");
            } else {
                capabilities.push_str(" LOGINDISABLED");
            }
        } else {
            capabilities.push_str(
                " NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE LIST-EXTENDED LIST-STATUS MULTIAPPEND STATUS=SIZE ESEARCH SEARCHRES SORT SORT=DISPLAY ESORT CONTEXT=SEARCH CONTEXT=SORT PARTIAL THREAD=ORDEREDSUBJECT THREAD=REFERENCES CONDSTORE QRESYNC NOTIFY",
            );
            capabilities.push_str(&format!(" APPENDLIMIT={}", self.server.config.limits.literal_size));
            capabilities.push_str(" UTF8=ACCEPT REPLACE");
            // RFC 8474 (imap::object_id) and RFC 8514.
            capabilities.push_str(" OBJECTID SAVEDATE");
            // RFC 4978: offered after login only (see command::compress).
            if self.server.config.limits.max_compressed_connections > 0 {
                capabilities.push_str(" COMPRESS=DEFLATE");
            }
            // RFC 8970: FETCH PREVIEW (src/mime/preview.rs).
            capabilities.push_str(" PREVIEW");
            // RFC 9586 (command::uidonly).
            capabilities.push_str(" UIDONLY");
            // RFC 4469 and RFC 5550: APPEND ... CATENATE, URLs with ;PARTIAL= (command::append).
            capabilities.push_str(" CATENATE URL-PARTIAL");
            // RFC 4314 §2, §5.1.1: the ACL commands (command::acl); RIGHTS=
            // names the rights beyond RFC 2086's (t e x k).
            capabilities.push_str(" ACL RIGHTS=texk");
            // RFC 9208 (command::quota): STORAGE and MESSAGE; SETQUOTA for
            // the `[quota] admins` (others get NO [NOPERM]).
            capabilities.push_str(" QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE QUOTASET");
        }
        capabilities
    }

    /// Mailbox names travel as UTF-8 (IMAP4rev2 or UTF8=ACCEPT enabled),
    /// not in modified UTF-7.
    pub fn utf8_names(&self) -> bool {
        self.imap4rev2 || self.utf8_accept
    }

    /// RFC 3501 §6.2.3: passwords only over TLS, except where configured.
    pub fn may_send_password(&self) -> bool {
        password_allowed(self.conn.stream.is_tls(), self.server.config.plaintext_auth, self.peer.ip())
    }

    pub fn user(&self) -> Option<&User> {
        match &self.state {
            State::Authenticated(user) | State::Selected(user, _) => Some(user),
            _ => None,
        }
    }

    pub fn view(&self) -> Option<&View> {
        match &self.state {
            State::Selected(_, view) => Some(view),
            _ => None,
        }
    }

    /// The proof of Selected state for a command that runs outside
    /// dispatch (APPEND's REPLACE), or None.
    pub fn selected(&mut self) -> Option<Selected<'_>> {
        Selected::new(self)
    }

    /// Enters Selected state with `view` (SELECT, EXAMINE): the proof
    /// [`Selected`], or None (nothing changed) if not logged in.
    pub fn enter(&mut self, view: View) -> Option<Selected<'_>> {
        let state = std::mem::replace(&mut self.state, State::Logout);
        self.state = match state {
            State::Authenticated(user) | State::Selected(user, _) => State::Selected(user, view),
            other => other,
        };
        Selected::new(self)
    }

    /// Leaves Selected state (the view's drop stops watching the mailbox).
    pub fn deselect(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Logout);
        self.state = match state {
            State::Selected(user, _) => State::Authenticated(user),
            other => other,
        };
    }

    /// Writes a tagged response now (no sync).
    pub fn tagged(&mut self, tag: &str, status: Status, code: Option<Code>, text: &str) -> Replied {
        let out = self.conn.out();
        out.extend_from_slice(tag.as_bytes());
        out.extend_from_slice(match status {
            Status::Ok => b" OK ",
            Status::No => b" NO ",
            Status::Bad => b" BAD ",
        });
        if let Some(code) = code {
            out.push(b'[');
            out.extend_from_slice(code.as_str().as_bytes());
            out.extend_from_slice(b"] ");
        }
        encode::text(out, text);
        out.extend_from_slice(b"\r\n");
        Replied(())
    }

    /// Reports other sessions' changes, then the tagged response.
    pub async fn finish(&mut self, tag: &str, status: Status, code: Option<Code>, text: &str) -> io::Result<()> {
        self.sync().await?;
        self.tagged(tag, status, code, text);
        Ok(())
    }

    /// Answers a failed store operation with the matching response code.
    pub async fn store_failed(&mut self, tag: &str, error: StoreError, target_mailbox: bool) -> io::Result<()> {
        self.failed(tag, error, target_mailbox).await.map(drop)
    }

    /// [`Session::store_failed`], for a helper that answers for its
    /// caller: the proof that it did.
    pub async fn failed(&mut self, tag: &str, error: StoreError, target_mailbox: bool) -> io::Result<Replied> {
        let (code, text) = describe(&error, target_mailbox);
        if matches!(error, StoreError::Io(_) | StoreError::DiskFull(_) | StoreError::Bug(_) | StoreError::Corrupt(_)) {
            log::error!("{}: {error}", self.user().map_or("-", |user| user.name.as_str()));
        }
        self.sync().await?;
        Ok(self.tagged(tag, Status::No, Some(code), &text))
    }
}

/// The selected-state commands, each handed the session as [`Selected`].
async fn selected_command(mut session: Selected<'_>, tag: &str, body: CommandBody) -> io::Result<()> {
    match body {
        CommandBody::Close => command::close::close(session, tag).await,
        CommandBody::Unselect => command::close::unselect(session, tag).await,
        CommandBody::Expunge { uids } => command::expunge::run(session, tag, uids).await,
        CommandBody::Search(arguments) => command::search::run(session, tag, arguments).await,
        CommandBody::Sort(arguments) => command::sort::run(session, tag, arguments).await,
        CommandBody::CancelUpdate { tags } => command::context::cancel_update(session, tag, tags).await,
        CommandBody::Thread(arguments) => command::thread::run(session, tag, arguments).await,
        CommandBody::Fetch(arguments) => command::fetch::run(session, tag, arguments).await,
        CommandBody::Store(arguments) => command::store::run(session, tag, arguments).await,
        CommandBody::Copy(arguments) => command::copy_move::run(session, tag, arguments).await,
        // Every other command was dispatched before (CHECK among them).
        body => session.refuse(tag, &body),
    }
}

/// Proof that a command has been answered: a tagged reply was written
/// ([`Session::tagged`] is the only maker outside this module), or the
/// session ended with a BYE (a [`Selected::sync`] that found the mailbox
/// deleted). Helpers that may answer for their caller return
/// `Result<T, Replied>`, so the caller's early return says why it may end
/// the command there.
#[derive(Debug)]
pub struct Replied(());

/// A session that dispatch found in Selected state, handed whole to the
/// handler of a selected-state command: its user and view are always
/// there ([`Selected::user`], [`Selected::view`]). It derefs to the
/// [`Session`] for writing and for the helpers that take one; what may
/// leave Selected state is its own, consuming: [`Selected::sync`] (which
/// gives the proof back only if the mailbox is still selected),
/// [`Selected::finish`], [`Selected::store_failed`] and
/// [`Selected::deselect`].
pub struct Selected<'a> {
    session: &'a mut Session,
}

/// The invariant the accessors of [`Selected`] rest on, said where it
/// would break (see the module docs).
const LEFT_SELECTED: &str = "a Selected session left Selected state without consuming its proof";

impl<'a> Selected<'a> {
    /// Made after looking, only here: by dispatch, [`Selected::sync`],
    /// [`Session::enter`] and [`Session::selected`].
    fn new(session: &'a mut Session) -> Option<Selected<'a>> {
        matches!(session.state, State::Selected(..)).then_some(Selected { session })
    }

    #[allow(dead_code)] // COPY/MOVE's targets now resolve through mailbox_arg; kept for handlers
    pub fn user(&self) -> &User {
        match &self.session.state {
            State::Selected(user, _) => user,
            _ => unreachable!("{LEFT_SELECTED}"),
        }
    }

    pub fn view(&self) -> &View {
        match &self.session.state {
            State::Selected(_, view) => view,
            _ => unreachable!("{LEFT_SELECTED}"),
        }
    }

    pub fn view_mut(&mut self) -> &mut View {
        self.view_and_conn().0
    }

    /// The view and the connection, borrowed apart: answers about the
    /// view written as they are found.
    pub fn view_and_conn(&mut self) -> (&mut View, &mut Connection) {
        match &mut self.session.state {
            State::Selected(_, view) => (view, &mut self.session.conn),
            _ => unreachable!("{LEFT_SELECTED}"),
        }
    }

    /// [`Session::sync`], after which the mailbox may be gone: then a BYE
    /// went out and the session is ending (RFC 3501 §7.1.5), the command
    /// gets no tagged reply, and `Err(Replied)` says so.
    pub async fn sync(self) -> io::Result<Result<Selected<'a>, Replied>> {
        self.session.sync().await?;
        Ok(Selected::new(self.session).ok_or(Replied(())))
    }

    /// [`Session::finish`]: the tagged reply ends the command.
    pub async fn finish(self, tag: &str, status: Status, code: Option<Code>, text: &str) -> io::Result<()> {
        self.session.finish(tag, status, code, text).await
    }

    /// [`Session::store_failed`]: the tagged NO ends the command.
    pub async fn store_failed(self, tag: &str, error: StoreError, target_mailbox: bool) -> io::Result<()> {
        self.session.store_failed(tag, error, target_mailbox).await
    }

    /// Leaves Selected state (the view's drop stops watching the mailbox).
    pub fn deselect(self) -> &'a mut Session {
        self.session.deselect();
        self.session
    }

    /// The selected messages `set` names, or a tagged BAD.
    pub fn resolve_or_bad(&mut self, tag: &str, set: &SequenceSet, by_uid: bool) -> Result<Vec<Range<usize>>, Replied> {
        match self.view().resolve(set, by_uid) {
            Ok(ranges) => Ok(ranges),
            Err(text) => Err(self.session.tagged(tag, Status::Bad, None, text)),
        }
    }

    /// Answers `NO [READ-ONLY]` if the selected mailbox was EXAMINEd.
    pub fn refuse_if_read_only(&mut self, tag: &str) -> bool {
        let read_only = self.view().read_only;
        if read_only {
            self.session.tagged(tag, Status::No, Some(Code::ReadOnly), "Mailbox is read-only");
        }
        read_only
    }
}

impl std::ops::Deref for Selected<'_> {
    type Target = Session;

    fn deref(&self) -> &Session {
        self.session
    }
}

impl std::ops::DerefMut for Selected<'_> {
    fn deref_mut(&mut self) -> &mut Session {
        self.session
    }
}

/// Whether a password may be sent on a connection (LOGINDISABLED otherwise).
pub fn password_allowed(tls: bool, plaintext_auth: PlaintextAuth, peer: std::net::IpAddr) -> bool {
    tls || match plaintext_auth {
        PlaintextAuth::Always => true,
        PlaintextAuth::Never => false,
        // An IPv4 peer on a dual-stack socket shows as ::ffff:127.0.0.1.
        PlaintextAuth::Loopback => match peer {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(v6.is_loopback(), |v4| v4.is_loopback()),
            std::net::IpAddr::V4(v4) => v4.is_loopback(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_without_tls_only_from_loopback_by_default() {
        let lan: std::net::IpAddr = "192.168.1.20".parse().unwrap();
        let loopback: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: std::net::IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let mapped_lan: std::net::IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        assert!(!password_allowed(false, PlaintextAuth::Loopback, lan));
        assert!(!password_allowed(false, PlaintextAuth::Loopback, mapped_lan));
        assert!(password_allowed(false, PlaintextAuth::Loopback, loopback));
        assert!(password_allowed(false, PlaintextAuth::Loopback, "::1".parse().unwrap()));
        assert!(password_allowed(false, PlaintextAuth::Loopback, mapped));
        assert!(password_allowed(true, PlaintextAuth::Loopback, lan));
        assert!(password_allowed(true, PlaintextAuth::Never, lan));
        assert!(!password_allowed(false, PlaintextAuth::Never, loopback));
        assert!(password_allowed(false, PlaintextAuth::Always, lan));
    }
}

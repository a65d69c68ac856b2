//! IDLE (RFC 2177): the client waits, the server pushes what changes.
//!
//! While idling a session holds its view (shared with other sessions on
//! the mailbox), an event listener on the mailbox's hub state and a timer.
//! Every change another session, an LMTP delivery or an expunge makes is
//! applied to the hub in commit order; the hub notifies the listener, and
//! the session reports it at once with the same `sync` every command ends
//! with (EXISTS, EXPUNGE, FETCH FLAGS). `DONE` ends the command.
//!
//! Each wait races the change listener, the keep-alive timer and shutdown
//! against a cancel-safe wait for a whole input line
//! ([`crate::net::Connection::wait_line`]); the line is read only once it
//! is buffered. Racing `read_line` itself lost a `DONE` split across a
//! change: the bytes read before the change stayed in a line that the next
//! read could not trim (`DONE\r`, change, `\n` gave BAD).
//!
//! IDLE lasts until `idle_timeout` (at least 30 minutes, RFC 2177 asks
//! clients to re-issue IDLE every 29), with an optional `* OK Still here`
//! every `idle_keepalive` seconds so that NAT routers keep the connection.

use std::io;
use std::time::{Duration, Instant};

use crate::imap::session::{until_changed, until_stopped, Session, State, Status, SyncMode};
use crate::net::LineStatus;

/// Longest line IDLE reads: `DONE` and room for whatever else a client
/// sends instead (answered BAD).
const MAX_LINE: usize = 64;

/// What ended one wait.
enum Woken {
    /// A whole line (or `MAX_LINE` bytes of one) is buffered.
    Line(io::Result<()>),
    Changed,
    Keepalive,
    Stop,
}

pub async fn run(session: &mut Session, tag: &str) -> io::Result<()> {
    session.conn.write(b"+ idling\r\n");
    let limits = &session.server.config.limits;
    let keepalive = (limits.idle_keepalive > 0).then(|| Duration::from_secs(limits.idle_keepalive));
    // A deadline from the start of IDLE: changes and keep-alives the server
    // sends do not make a silent client active.
    let idle = Duration::from_secs(limits.idle_timeout);
    session.conn.set_read_limits(idle, Some(Instant::now() + idle));
    let stop = session.server.stop_signal();
    loop {
        // RFC 4314 §5.1.1: rights changed under the session (the hub wakes
        // the mailbox's idlers), and lost `r` ends it at once.
        session.recheck_rights();
        if matches!(session.state, State::Logout) {
            return Ok(());
        }
        // RFC 5465 §4: with NOTIFY, IDLE sends what NOTIFY asked for.
        let notifying = session.notify.is_some();
        let mut listener = None;
        if notifying {
            listener = crate::imap::session::notify::listen(session);
            // Boxed: it can FETCH, a large future IDLE would otherwise always carry.
            Box::pin(crate::imap::session::notify::report(session, true)).await?;
        } else {
            session.sync_mode = SyncMode::Full;
            session.sync().await?;
        }
        session.conn.flush().await?;
        if matches!(session.state, State::Logout) {
            // The mailbox was deleted: sync said BYE.
            return Ok(());
        }
        session.conn.release_buffers();
        if !notifying {
            listener = listen(session);
            if listener.is_some() && changes_pending(session) {
                // Landed between the sync and the listen: report it first.
                continue;
            }
        }
        let changed = async {
            until_changed(listener).await;
            Woken::Changed
        };
        let tick = async {
            match keepalive {
                Some(every) => smol::Timer::after(every).await,
                None => std::future::pending().await,
            };
            Woken::Keepalive
        };
        let stopped = until_stopped(&stop, session.revoked.clone());
        let stopped = async {
            stopped.await;
            Woken::Stop
        };
        // Only a cancel-safe wait takes part in the race: a line arriving
        // in pieces (`DONE\r`, then a change, then `\n`) stays buffered in
        // the connection, and is read below once it is whole.
        let read = async { Woken::Line(session.conn.wait_line(MAX_LINE).await) };
        let woken = smol::future::or(read, smol::future::or(changed, smol::future::or(tick, stopped))).await;
        match woken {
            Woken::Changed => {}
            Woken::Keepalive => session.conn.write(b"* OK Still here\r\n"),
            Woken::Stop => {
                let text = if session.device_revoked() {
                    crate::imap::session::REVOKED
                } else {
                    b"* BYE Server shutting down\r\n"
                };
                session.conn.write(text);
                session.state = State::Logout;
                return Ok(());
            }
            Woken::Line(waited) => {
                waited?;
                // Buffered already; an overlong line is read to its end
                // (within the IDLE deadline) and answered BAD.
                let mut line = Vec::new();
                let status = session.conn.read_line(&mut line, MAX_LINE).await?;
                let done = matches!(status, LineStatus::Complete) && line.eq_ignore_ascii_case(b"DONE");
                if done {
                    return session.finish(tag, Status::Ok, None, "IDLE completed").await;
                }
                session.tagged(tag, Status::Bad, None, "Expected DONE");
                return Ok(());
            }
        }
    }
}

/// A listener on the selected mailbox's changes (None when no mailbox is
/// selected: then only DONE, a keep-alive or shutdown end a wait).
fn listen(session: &Session) -> Option<event_listener::EventListener> {
    let State::Selected(_, view) = &session.state else { return None };
    let hub = session.server.store.hub().borrow();
    hub.get(view.mailbox).map(|state| state.changed.listen())
}

/// Whether the hub holds something the client has not been told.
fn changes_pending(session: &Session) -> bool {
    let State::Selected(_, view) = &session.state else { return false };
    let hub = session.server.store.hub().borrow();
    hub.acl_generation() != session.rights_generation
        || hub.get(view.mailbox).is_some_and(|state| {
            state.deleted
                || state.modseq != view.flags_modseq
                || !std::rc::Rc::ptr_eq(&state.uids, &view.uids)
                || !std::rc::Rc::ptr_eq(&state.keywords, &view.keywords)
        })
}

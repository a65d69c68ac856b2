//! Alerts: short notices, in plain words, delivered into a user's INBOX
//! when something happens to their account that they should know about:
//!
//! - someone made a burst of wrong guesses at the password, from addresses
//!   the account never used, and the account was locked against them
//!   (`auth::protect`);
//! - an address was banned for guessing at the account ([`banned`], for
//!   the automatic bans to call);
//! - the account logged in from an address it had never used, or with a
//!   device password used for the first time. Not on the account's very
//!   first login ever (it has nothing to compare with: that is whoever set
//!   it up), not from an address in `never_limit` (the machine, the LAN if
//!   the admin put it there), and not for a known device's password from a
//!   new address (a phone on mobile data changes address all day; the
//!   device identifies it better than the address).
//!
//! If `[alerts] admin` names a user, that user's INBOX gets the same
//! message (stored once), which says so.
//!
//! Bounded and never in the way of a login: [`Alerts::raise`] only queues
//! (a bounded channel; what does not fit is dropped and logged), and one
//! task on the executor delivers them one at a time, through the store
//! thread like an LMTP delivery (`Incoming`, then a durable
//! `Store::deliver`), so IDLE and NOTIFY sessions see the new message. At
//! most one alert of each kind per account per hour: checked in memory
//! before queueing (so a flood of events queues one), and against the time
//! of the last one sent, kept in the store (`ALERTS_SENT`), so a restart
//! (or a crash loop) does not send them again.
//!
//! The message: RFC 5322 headers (From `roost <postmaster@host>`, host
//! being the first of `[tls] hostnames`), `Auto-Submitted: auto-generated`
//! (RFC 3834: nothing should auto-reply to it), text/plain UTF-8.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::rc::Weak;
use std::time::{Duration, Instant};

use smol::channel::{self, Receiver, Sender};

use crate::server::Server;
use crate::store::incoming::Incoming;
use crate::store::{Delivered, Op, StoreError, INBOX};
use crate::util::datetime::DateTime;

/// At most one alert of a kind per account per this.
pub const INTERVAL: Duration = Duration::from_secs(3600);
/// Alerts waiting for delivery at most.
const QUEUE: usize = 32;
/// Kinds raised lately, remembered at most (per account and kind).
const RAISED_MAX: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A burst of failures locked the account against new addresses.
    Locked,
    /// An address was banned for guessing at the account.
    Banned,
    NewAddress,
    NewDevice,
}

impl Kind {
    /// The code kept in the store (`ALERTS_SENT`); never reuse one.
    fn code(self) -> u8 {
        match self {
            Kind::Locked => 1,
            Kind::Banned => 2,
            Kind::NewAddress => 3,
            Kind::NewDevice => 4,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Locked => "account locked against new addresses",
            Kind::Banned => "address banned",
            Kind::NewAddress => "login from a new address",
            Kind::NewDevice => "login with a new device password",
        }
    }
}

/// One event to tell a user about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub kind: Kind,
    pub user: u32,
    pub name: String,
    pub address: IpAddr,
    pub at: DateTime,
    pub device: Option<String>,
    /// When the lock or ban ends (unix seconds).
    pub until: Option<u64>,
    /// Failed logins that led to it.
    pub failures: Option<u32>,
}

impl Alert {
    pub fn new(kind: Kind, user: u32, name: &str, address: IpAddr, at: DateTime) -> Alert {
        Alert { kind, user, name: name.to_string(), address, at, device: None, until: None, failures: None }
    }

    pub fn device(mut self, device: &str) -> Alert {
        self.device = Some(device.to_string());
        self
    }

    pub fn until(mut self, until: u64) -> Alert {
        self.until = Some(until);
        self
    }

    pub fn failures(mut self, failures: u32) -> Alert {
        self.failures = Some(failures);
        self
    }
}

/// The alerts' queue and rate limit, shared through the [`Server`].
pub struct Alerts {
    enabled: bool,
    queue: Sender<Alert>,
    /// (user, kind) → when last queued.
    raised: RefCell<HashMap<(u32, Kind), Instant>>,
}

impl Alerts {
    /// The alerts and the queue [`run`] takes them from.
    pub fn new(settings: &crate::config::Alerts) -> (Alerts, Receiver<Alert>) {
        let (queue, receiver) = channel::bounded(QUEUE);
        (Alerts { enabled: settings.enabled, queue, raised: RefCell::new(HashMap::new()) }, receiver)
    }

    /// Queues `alert` unless alerts are off or one of its kind was raised
    /// for its user within the hour. Never waits.
    pub fn raise(&self, alert: Alert) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        {
            let mut raised = self.raised.borrow_mut();
            let key = (alert.user, alert.kind);
            if raised.get(&key).is_some_and(|when| now.saturating_duration_since(*when) < INTERVAL) {
                return;
            }
            if raised.len() >= RAISED_MAX {
                raised.retain(|_, when| now.saturating_duration_since(*when) < INTERVAL);
            }
            if raised.len() >= RAISED_MAX {
                log::warn!("alert for {} dropped: too many alerts at once", alert.name);
                return;
            }
            raised.insert(key, now);
        }
        let (name, kind) = (alert.name.clone(), alert.kind);
        if self.queue.try_send(alert).is_err() {
            log::warn!("alert for {name} ({}) dropped: too many alerts waiting", kind.describe());
        }
    }
}

/// Tells the accounts (user ids) an address tried that it is banned now
/// until `until` (unix seconds), from the ban that `auth::ban` reports.
/// The household has a handful of users: they are read once, by name.
pub fn banned(server: &Server, accounts: &[u32], address: IpAddr, until: u64) {
    if accounts.is_empty() {
        return;
    }
    match server.store.read().and_then(|reader| reader.users()) {
        Ok(users) => {
            for (name, record) in users.iter().filter(|(_, record)| accounts.contains(&record.id)) {
                let alert = Alert::new(Kind::Banned, record.id, name, address, DateTime::now()).until(until);
                server.alerts.raise(alert);
            }
        }
        Err(error) => log::error!("alert: cannot read the users: {error}"),
    }
}

/// Delivers queued alerts, one at a time, for as long as the server lives.
pub async fn run(server: Weak<Server>, queue: Receiver<Alert>) {
    while let Ok(alert) = queue.recv().await {
        let Some(server) = server.upgrade() else { return };
        match deliver(&server, &alert).await {
            Ok(true) => log::info!("alert: told {} ({}, {})", alert.name, alert.kind.describe(), alert.address),
            Ok(false) => log::debug!("alert for {} not sent ({})", alert.name, alert.kind.describe()),
            Err(error) => log::error!("alert for {} could not be delivered: {error}", alert.name),
        }
    }
}

/// Stores `alert`'s message in its user's INBOX (and the admin's); false
/// when not sent (the user is gone, or was told of this kind within the hour).
async fn deliver(server: &Server, alert: &Alert) -> Result<bool, StoreError> {
    let now = DateTime::now().unix.max(0) as u64;
    let (mailboxes, admin) = {
        let reader = server.store.read()?;
        // The user may have been deleted (or re-created: a new id) since.
        if reader.user(&alert.name)?.is_none_or(|record| record.id != alert.user) {
            return Ok(false);
        }
        let Some(inbox) = reader.mailbox_id(alert.user, INBOX)? else { return Ok(false) };
        if reader
            .alert_sent(alert.user, alert.kind.code())?
            .is_some_and(|last| now.saturating_sub(last) < INTERVAL.as_secs())
        {
            return Ok(false);
        }
        let mut mailboxes = vec![inbox];
        let mut admin = None;
        if let Some(name) = server.config.alerts.admin.as_deref().filter(|admin| *admin != alert.name) {
            match reader.user(name)? {
                Some(record) => {
                    if let Some(inbox) = reader.mailbox_id(record.id, INBOX)? {
                        mailboxes.push(inbox);
                        admin = Some(name.to_string());
                    }
                }
                None => log::warn!("[alerts] admin names {name:?}, who is not a user: no copy sent"),
            }
        }
        (mailboxes, admin)
    };
    server.store.execute(Op::RecordAlert { user: alert.user, kind: alert.kind.code(), at: now }).await?;
    let host = host(&server.config.tls_hostnames);
    let text =
        compose(alert, &host, admin.as_deref(), &message_id(alert.at.unix, alert.user, alert.kind.code(), &host));
    store_message(server, &text, mailboxes).await.map(|_| true)
}

/// A notice that is not about a login (a quota warning, a failed backup):
/// its own subject and paragraphs (plain ASCII subject), for user `name`.
/// Not rate-limited here: the caller decides when one is due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub name: String,
    pub subject: String,
    pub paragraphs: Vec<String>,
    /// Whether `[alerts] admin` (if set, and not `name`) gets a copy.
    pub copy_admin: bool,
}

/// Stores `notice` in its user's INBOX (and the admin's, if asked), like
/// an alert: durably, through the store thread, so IDLE sessions see it.
/// Sent whether or not `[alerts] enabled` is on (a quota warning or a
/// failed backup is not optional). Ok(false) when the user has no INBOX
/// (gone); an error when the store refused it.
pub async fn send_notice(server: &Server, notice: &Notice) -> Result<bool, StoreError> {
    let (user, mailboxes, admin) = {
        let reader = server.store.read()?;
        let Some(record) = reader.user(&notice.name)? else { return Ok(false) };
        let Some(inbox) = reader.mailbox_id(record.id, INBOX)? else { return Ok(false) };
        let mut mailboxes = vec![inbox];
        let mut admin = None;
        if let Some(name) =
            server.config.alerts.admin.as_deref().filter(|admin| notice.copy_admin && *admin != notice.name)
        {
            if let Some(record) = reader.user(name)? {
                if let Some(inbox) = reader.mailbox_id(record.id, INBOX)? {
                    mailboxes.push(inbox);
                    admin = Some(name.to_string());
                }
            }
        }
        (record.id, mailboxes, admin)
    };
    let host = host(&server.config.tls_hostnames);
    let at = DateTime::now();
    let letter = Letter {
        name: &notice.name,
        subject: &notice.subject,
        paragraphs: &notice.paragraphs,
        admin: admin.as_deref(),
        at,
    };
    let text = message(&letter, &host, &message_id(at.unix, user, 0, &host));
    store_message(server, &text, mailboxes).await.map(|_| true)
}

/// Stores `text` as one message in `mailboxes` (stored once).
async fn store_message(server: &Server, text: &str, mailboxes: Vec<u64>) -> Result<Delivered, StoreError> {
    let mut incoming = Incoming::new(&server.store, server.config.limits.append_chunk, text.len() as u64);
    incoming.write(text.as_bytes()).await;
    let message = incoming.finish().await?;
    let blob = message.blob;
    // Past any quota: an alert or a quota warning must reach a full mailbox.
    let delivered = server.store.deliver_notice(message, mailboxes).await;
    if delivered.is_err() {
        server.store.submit(Op::DiscardBlobs { blobs: vec![blob] });
    }
    delivered
}

/// The name the messages come from: the first configured host name that
/// is a plain domain, else "localhost".
fn host(hostnames: &[String]) -> String {
    hostnames
        .iter()
        .find(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .cloned()
        .unwrap_or_else(|| "localhost".into())
}

/// A fresh Message-ID: time, user, kind (0 for a [`Notice`]), randomness.
fn message_id(unix: i64, user: u32, kind: u8, host: &str) -> String {
    use ring::rand::SecureRandom;
    let mut random = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut random);
    let random: String = random.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    });
    format!("<alert.{unix}.{user}.{kind}.{random}@{host}>")
}

/// `name` as an address: itself if it has a domain, else at `host`.
fn address_of(name: &str, host: &str) -> String {
    if name.contains('@') {
        name.to_string()
    } else {
        format!("{name}@{host}")
    }
}

/// A device name as it may appear in the text: no control characters, at
/// most 64 characters.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

fn time_text(unix: i64) -> String {
    let text = DateTime { unix, offset_minutes: 0 }.to_rfc5322();
    // "Sun, 6 Dec 2026 07:01:26 +0000" reads better as "... 07:01:26 UTC".
    match text.strip_suffix(" +0000") {
        Some(text) => format!("{text} UTC"),
        None => text,
    }
}

/// The whole message, CRLF line ends.
pub fn compose(alert: &Alert, host: &str, admin: Option<&str>, message_id: &str) -> String {
    let name = &alert.name;
    let when = time_text(alert.at.unix);
    let until = alert.until.map(|until| time_text(until.min(i64::MAX as u64) as i64)).unwrap_or_default();
    let address = alert.address;
    let device = alert.device.as_deref().map(printable).unwrap_or_default();
    let change = format!(
        "If it was not you, someone else may know your password. Ask whoever runs \
         this mail server to give you a new one (they type: roost user passwd {name}), \
         change it on your phones and computers, and tell them about this message."
    );
    let (subject, paragraphs): (String, Vec<String>) = match alert.kind {
        Kind::Locked => (
            "Someone is trying to guess your mail password".into(),
            vec![
                format!(
                    "Someone made {} wrong guesses at the password of your mail account \
                     \"{name}\", from internet addresses your devices have never used. \
                     The last guess came on {when} from {address}.",
                    alert.failures.unwrap_or(0)
                ),
                format!(
                    "To keep them out, the server refuses logins to your account from new \
                     addresses until {until}. Phones and computers that logged in to your \
                     account before are not affected: they keep working."
                ),
                "If this was you (a new phone, a computer with an old password), nothing \
                 to do: wait until then, or use a device that worked before."
                    .into(),
                "If it was not you, your password is still safe if it is long and you use \
                 it nowhere else. If it is short or you use it elsewhere too, ask whoever \
                 runs this mail server for a new one, and tell them about this message."
                    .into(),
            ],
        ),
        Kind::Banned => (
            format!("Blocked {address} after wrong passwords for your mail"),
            vec![
                format!(
                    "The internet address {address} tried wrong passwords for your mail \
                     account \"{name}\" too many times. On {when} the server blocked it \
                     until {until}."
                ),
                "If this was you (a phone or computer with an old password), nothing to \
                 do but put the right password in that device; it can connect again \
                 when the block ends."
                    .into(),
                change.clone(),
            ],
        ),
        Kind::NewAddress => (
            format!("New login to your mail from {address}"),
            vec![
                format!(
                    "Your mail account \"{name}\" was logged in to on {when} from the \
                     internet address {address}, which it had not been used from before."
                ),
                "If this was you (a new phone, a laptop at work or on holiday, a new \
                 internet connection at home), nothing to do."
                    .into(),
                change.clone(),
            ],
        ),
        Kind::NewDevice => (
            "New device logged in to your mail".into(),
            vec![
                format!(
                    "Your mail account \"{name}\" was logged in to on {when} with the \
                     password of the device \"{device}\", for the first time, from the \
                     internet address {address}."
                ),
                "If this was you (you have just set up that device), nothing to do.".into(),
                format!(
                    "If it was not you, someone else has that device's password. Ask whoever \
                     runs this mail server to remove it (they type: roost user device del \
                     {name} \"{device}\") and tell them about this message."
                ),
            ],
        ),
    };
    message(&Letter { name, subject: &subject, paragraphs: &paragraphs, admin, at: alert.at }, host, message_id)
}

/// What a notice says, to whom; [`message`] makes the mail of it.
struct Letter<'a> {
    name: &'a str,
    subject: &'a str,
    paragraphs: &'a [String],
    /// Who gets a copy (named in the text and in Cc).
    admin: Option<&'a str>,
    at: DateTime,
}

/// The whole message of `letter`, CRLF line ends.
fn message(letter: &Letter, host: &str, message_id: &str) -> String {
    let name = letter.name;
    let mut body = format!("Hello {name},\r\n\r\n");
    for paragraph in letter.paragraphs {
        body.push_str(&wrap(paragraph, 72));
        body.push_str("\r\n");
    }
    if let Some(admin) = letter.admin {
        body.push_str(&wrap(&format!("A copy of this notice went to {admin}, who looks after this mail server."), 72));
        body.push_str("\r\n");
    }
    body.push_str("-- \r\nroost, your mail server (this message was written automatically)\r\n");
    let mut message = String::new();
    message.push_str(&format!("From: roost <postmaster@{host}>\r\n"));
    message.push_str(&format!("To: {}\r\n", address_of(name, host)));
    if let Some(admin) = letter.admin {
        message.push_str(&format!("Cc: {}\r\n", address_of(admin, host)));
    }
    message.push_str(&format!("Subject: {}\r\n", letter.subject));
    message.push_str(&format!("Date: {}\r\n", letter.at.to_rfc5322()));
    message.push_str(&format!("Message-ID: {message_id}\r\n"));
    message.push_str("MIME-Version: 1.0\r\n");
    message.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    message.push_str("Content-Transfer-Encoding: 8bit\r\n");
    // RFC 3834 §5: a message made by a machine, not to be answered by one.
    message.push_str("Auto-Submitted: auto-generated\r\n");
    message.push_str("\r\n");
    message.push_str(&body);
    message
}

/// `text` as lines of at most `width` characters (longer words stand
/// alone), each ended by CRLF.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push_str("\r\n");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&line);
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime {
        DateTime { unix: 1_796_540_486, offset_minutes: 0 }
    }

    #[test]
    fn a_new_address_alert_is_a_proper_message() {
        let alert = Alert::new(Kind::NewAddress, 3, "alice", "203.0.113.7".parse().unwrap(), at());
        let text = compose(&alert, "pi.local", Some("dad"), "<x@pi.local>");
        let (header, body) = text.split_once("\r\n\r\n").unwrap();
        let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
        for field in [
            "From: roost <postmaster@pi.local>",
            "To: alice@pi.local",
            "Cc: dad@pi.local",
            "Subject: New login to your mail from 203.0.113.7",
            "Message-ID: <x@pi.local>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Auto-Submitted: auto-generated",
        ] {
            assert!(header.lines().any(|line| line == field), "{field} missing in\n{header}");
        }
        let date = header.lines().find_map(|line| line.strip_prefix("Date: ")).unwrap();
        assert_eq!(DateTime::parse_rfc5322(date.as_bytes()), Some(at()));
        assert!(body.contains("203.0.113.7"), "{body}");
        assert!(body.contains("If this was you"), "{body}");
        assert!(body.contains("roost user passwd alice"), "{body}");
        assert!(body.contains("A copy of this notice went to dad"), "{body}");
        // CRLF everywhere, no line over 78 characters (RFC 5322 §2.1.1).
        assert!(!text.replace("\r\n", "").contains('\n'));
        assert!(text.split("\r\n").all(|line| line.chars().count() <= 78), "{text}");
    }

    #[test]
    fn every_kind_reads_and_device_names_cannot_break_the_message() {
        let address: IpAddr = "2001:db8::7".parse().unwrap();
        for kind in [Kind::Locked, Kind::Banned, Kind::NewAddress, Kind::NewDevice] {
            let alert = Alert::new(kind, 1, "bob", address, at())
                .until(1_796_541_386)
                .failures(20)
                .device("Bob's phone\r\nBcc: x@evil");
            let text = compose(&alert, "localhost", None, "<x@localhost>");
            let (header, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(!header.contains("Bcc"), "{kind:?}: {header}");
            assert!(!header.contains("Cc:"), "{kind:?}");
            assert!(body.contains("Hello bob,"), "{kind:?}");
            assert!(body.contains("nothing to do") || body.contains("nothing"), "{kind:?}: {body}");
            assert!(header.is_ascii(), "{kind:?}");
        }
        let locked = compose(
            &Alert::new(Kind::Locked, 1, "bob", address, at()).until(1_796_541_386).failures(20),
            "localhost",
            None,
            "<x@localhost>",
        );
        assert!(locked.contains("20 wrong guesses"), "{locked}");
        assert!(locked.contains("07:16:26 UTC"), "{locked}");
    }

    #[test]
    fn wrapping_keeps_words_whole() {
        assert_eq!(wrap("a bb ccc dddd", 6), "a bb\r\nccc\r\ndddd\r\n");
        assert_eq!(wrap("averyveryverylongword x", 5), "averyveryverylongword\r\nx\r\n");
        assert_eq!(wrap("", 5), "");
    }

    #[test]
    fn a_kind_is_raised_once_an_hour_per_account() {
        let (alerts, queue) = Alerts::new(&crate::config::Alerts { enabled: true, admin: None });
        let address: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..5 {
            alerts.raise(Alert::new(Kind::NewAddress, 1, "alice", address, at()));
            alerts.raise(Alert::new(Kind::Locked, 1, "alice", address, at()));
            alerts.raise(Alert::new(Kind::NewAddress, 2, "bob", address, at()));
        }
        assert_eq!(queue.len(), 3);
        let (off, queue) = Alerts::new(&crate::config::Alerts { enabled: false, admin: None });
        off.raise(Alert::new(Kind::NewAddress, 1, "alice", address, at()));
        assert!(queue.is_empty());
    }
}

//! One LMTP connection (RFC 2033): LHLO, then transactions of MAIL, RCPT
//! and DATA, each DATA answered once per accepted recipient.
//!
//! The message streams from the socket through dot-unstuffing into the
//! store's [`Incoming`] sink and is never held whole. It is stored once,
//! whatever the number of recipients, and each 250 is sent only after the
//! commit that adds it to the recipients' mailboxes is durable: a user's
//! INBOX, or a shared or public mailbox that takes mail (`lmtp::route`).
//!
//! Every refusal for good (550 unknown user or mailbox, 550 5.7.1 no `p`
//! right, 552 too big or over quota) is logged at info level, one line per
//! recipient: `lmtp PEER: refused mail from <SENDER> to <RECIPIENT>: CODE
//! ENHANCED TEXT` (a SIZE refused at MAIL has no recipient yet). The MTA
//! bounces such mail, and the log is where the household's admin finds
//! why. Temporary failures are logged as errors where they happen.

use std::io;
use std::rc::Rc;
use std::time::Duration;

use super::data::Unstuffer;
use super::parse::{self, Command};
use super::route::{self, Target};
use crate::net::{Connection, LineStatus, Stream};
use crate::server::Server;
use crate::store::incoming::Incoming;
use crate::store::{Delivered, NewMessage, Op, Reader, StoreError, INBOX};

/// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets with its CRLF.
/// Command lines are held to it too (§4.5.3.1.4 says 512, but SIZE and
/// BODY parameters after a long address need more, as RFC 1869 allows).
const MAX_COMMAND_LINE: usize = 998;
/// RFC 5321 §4.5.3.1.8: at least 100 recipients must be accepted.
const MAX_RECIPIENTS: usize = 100;

struct Recipient {
    /// As the client wrote it (for the replies and Delivered-To); empty
    /// for `roost deliver --mailbox` to a public mailbox.
    address: String,
    mailbox: u64,
    /// A shared or public mailbox: its `p` right is checked again at DATA.
    posted: bool,
}

struct Transaction {
    from: String,
    declared_size: Option<u64>,
    recipients: Vec<Recipient>,
}

struct Session {
    server: Rc<Server>,
    conn: Connection,
    peer: String,
    greeted: bool,
    transaction: Option<Transaction>,
}

/// What became of a DATA stream.
enum Received {
    Message(NewMessage),
    TooBig,
    Failed(StoreError),
}

pub async fn run(server: Rc<Server>, stream: Stream, peer: String) {
    let limits = &server.config.limits;
    let timeout = Duration::from_secs(limits.idle_timeout);
    let mut conn = Connection::new(stream, limits.read_buffer, limits.write_buffer, timeout);
    conn.set_read_limits(timeout, None);
    let mut session = Session { server, conn, peer, greeted: false, transaction: None };
    let greeting = format!("220 {} roost LMTP ready\r\n", session.hostname());
    session.conn.write(greeting.as_bytes());
    match session.serve().await {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
            log::debug!("lmtp {}: client disconnected", session.peer);
        }
        Err(error) if error.kind() == io::ErrorKind::TimedOut => {
            session.conn.write(b"421 4.4.2 Timeout; closing the connection\r\n");
            log::debug!("lmtp {}: {error}", session.peer);
        }
        Err(error) => log::debug!("lmtp {}: connection ended: {error}", session.peer),
    }
    session.conn.close().await;
}

impl Session {
    fn hostname(&self) -> &str {
        self.server.config.tls_hostnames.first().map_or("localhost", String::as_str)
    }

    /// One reply line. RFC 2034: every 2xx, 4xx and 5xx reply after the
    /// greeting and LHLO carries an enhanced status code.
    fn reply(&mut self, code: u16, enhanced: &str, text: &str) {
        self.conn.write(format!("{code} {enhanced} {text}\r\n").as_bytes());
    }

    async fn serve(&mut self) -> io::Result<()> {
        let mut line = Vec::with_capacity(128);
        loop {
            // PIPELINING (RFC 2920): replies to commands already received go
            // out together, once the client waits for them.
            if !self.conn.has_input() {
                self.conn.flush().await?;
                self.conn.release_buffers();
            }
            line.clear();
            let stop = self.server.stop_signal();
            let read =
                smol::future::or(async { Some(self.conn.read_line(&mut line, MAX_COMMAND_LINE).await) }, async {
                    let _ = stop.recv().await;
                    None
                })
                .await;
            let Some(status) = read else {
                self.reply(421, "4.3.2", "Server shutting down");
                return Ok(());
            };
            if let LineStatus::TooLong { .. } = status? {
                self.reply(500, "5.5.2", "Line too long");
                continue;
            }
            match parse::parse(&line) {
                Ok(Command::Quit) => {
                    self.reply(221, "2.0.0", "Bye");
                    return Ok(());
                }
                Ok(command) => self.dispatch(command).await?,
                Err(error) => self.reply(error.code, error.enhanced, &error.text),
            }
        }
    }

    async fn dispatch(&mut self, command: Command) -> io::Result<()> {
        match command {
            Command::Lhlo { host } => {
                log::debug!("lmtp {}: LHLO {host}", self.peer);
                self.greeted = true;
                self.transaction = None;
                let limit = self.server.config.limits.literal_size;
                let text = format!(
                    "250-{}\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-X-MAILBOX\r\n250 SIZE {limit}\r\n",
                    self.hostname()
                );
                self.conn.write(text.as_bytes());
            }
            Command::Helo => self.reply(500, "5.5.1", "This is LMTP: use LHLO"),
            Command::Mail { from, size } => self.mail(from, size),
            Command::Rcpt { to, mailbox } => self.rcpt(to, mailbox),
            Command::Data => self.data().await?,
            Command::Rset => {
                self.transaction = None;
                self.reply(250, "2.0.0", "OK");
            }
            Command::Noop => self.reply(250, "2.0.0", "OK"),
            // RFC 5321 §3.5.3: 252 when the server will not say.
            Command::Vrfy => self.reply(252, "2.5.0", "Cannot VRFY; send the message and delivery will be tried"),
            Command::Quit => {}
            Command::Unknown { verb } => self.reply(500, "5.5.1", &format!("Command {verb:?} not implemented")),
        }
        Ok(())
    }

    fn mail(&mut self, from: String, size: Option<u64>) {
        if !self.greeted {
            return self.reply(503, "5.5.1", "Send LHLO first");
        }
        if self.transaction.is_some() {
            return self.reply(503, "5.5.1", "Nested MAIL command");
        }
        let limit = self.server.config.limits.literal_size;
        if let Some(size) = size.filter(|size| *size > limit) {
            // RFC 1870 §6.2: refused at once, before any data.
            log::info!(
                "lmtp {}: refused mail from <{from}>: 552 5.3.4 declared size {size} over the limit of {limit} bytes",
                self.peer
            );
            return self.reply(552, "5.3.4", &format!("Message size exceeds the limit of {limit} bytes"));
        }
        self.transaction = Some(Transaction { from, declared_size: size, recipients: Vec::new() });
        self.reply(250, "2.1.0", "Sender OK");
    }

    fn rcpt(&mut self, to: String, mailbox: Option<String>) {
        let Some(transaction) = &self.transaction else {
            return self.reply(503, "5.5.1", "Send MAIL first");
        };
        if transaction.recipients.len() >= MAX_RECIPIENTS {
            return self.reply(452, "4.5.3", "Too many recipients");
        }
        let found = self.server.store.read().and_then(|reader| self.target(&reader, &to, mailbox.as_deref()));
        match found {
            Ok(Some((Target::Mailbox(id), posted))) => {
                if let Some(transaction) = &mut self.transaction {
                    transaction.recipients.push(Recipient { address: to, mailbox: id, posted });
                }
                self.reply(250, "2.1.5", "Recipient OK");
            }
            Ok(Some((Target::Missing, _))) => self.refuse(&to, 550, "5.1.1", "No such mailbox"),
            Ok(Some((Target::NoPost, _))) => self.refuse(&to, 550, "5.7.1", NO_POST),
            Ok(None) => self.refuse(&to, 550, "5.1.1", "User unknown"),
            Err(error) => {
                log::error!("lmtp {}: cannot look up {to}: {error}", self.peer);
                self.reply(451, "4.3.0", "Temporary failure looking up the recipient; try again later");
            }
        }
    }

    /// A recipient refused for good, told to the client and logged: the
    /// MTA bounces the mail, and the log is where the household's admin
    /// finds why.
    fn refuse(&mut self, to: &str, code: u16, enhanced: &'static str, text: &str) {
        let from = self.transaction.as_ref().map_or("", |transaction| transaction.from.as_str());
        log::info!("lmtp {}: refused mail from <{from}> to <{to}>: {code} {enhanced} {text}", self.peer);
        self.reply(code, enhanced, &format!("<{to}> {text}"));
    }

    /// Where mail for `to` goes: the mailbox `X-MAILBOX=` names, else a
    /// configured route's, else the INBOX of the user `to` names (None:
    /// no such user). True for a mailbox that needs `p` (all but INBOXes
    /// reached by address).
    fn target(&self, reader: &Reader, to: &str, mailbox: Option<&str>) -> Result<Option<(Target, bool)>, StoreError> {
        if let Some(name) = mailbox {
            if crate::imap::namespace::place(name) != crate::imap::namespace::Place::Personal {
                return Ok(Some((route::resolve(reader, name)?, true)));
            }
            // A personal name: the mailbox of the user `to` names.
            let Some(owner) = find_user(reader, to)? else { return Ok(None) };
            return Ok(Some((route::personal(reader, owner, name)?, true)));
        }
        if let Some(found) = route::route_for(&self.server.config.lmtp_routes, to) {
            return Ok(Some((route::resolve(reader, &found.mailbox)?, true)));
        }
        Ok(find_inbox(reader, to)?.map(|inbox| (Target::Mailbox(inbox), false)))
    }

    async fn data(&mut self) -> io::Result<()> {
        let Some(transaction) = &self.transaction else {
            self.reply(503, "5.5.1", "Send MAIL first");
            return Ok(());
        };
        if transaction.recipients.is_empty() {
            // RFC 2033 §4.2: no valid recipients, so no DATA.
            self.reply(503, "5.5.1", "No valid recipients");
            return Ok(());
        }
        self.conn.write(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n");
        self.conn.flush().await?;
        let Some(transaction) = self.transaction.take() else { return Ok(()) };
        let received = self.receive(&transaction).await?;
        // Per recipient: None, or the refusal of a mailbox that stopped
        // taking mail since RCPT.
        let mut refusals: Vec<Option<(u16, &'static str, String)>> = vec![None; transaction.recipients.len()];
        let outcome = match received {
            Received::Message(message) => {
                let size = message.size;
                refusals = self.recheck(&transaction.recipients);
                let mut mailboxes: Vec<u64> = Vec::with_capacity(transaction.recipients.len());
                for (recipient, refusal) in transaction.recipients.iter().zip(&refusals) {
                    // Two addresses of one user (alice, alice+lists): one copy.
                    if refusal.is_none() && !mailboxes.contains(&recipient.mailbox) {
                        mailboxes.push(recipient.mailbox);
                    }
                }
                let blob = message.blob;
                if mailboxes.is_empty() {
                    self.server.store.submit(Op::DiscardBlobs { blobs: vec![blob] });
                    Ok(Vec::new())
                } else {
                    self.deliver(message, mailboxes, &transaction, size).await
                }
            }
            Received::TooBig => {
                let limit = self.server.config.limits.literal_size;
                for recipient in &transaction.recipients {
                    log::info!(
                        "lmtp {}: refused mail from <{}> to <{}>: 552 5.3.4 over the limit of {limit} bytes",
                        self.peer,
                        transaction.from,
                        recipient.address
                    );
                    let text = format!("<{}> Message size exceeds the limit of {limit} bytes", recipient.address);
                    self.reply(552, "5.3.4", &text);
                }
                return Ok(());
            }
            Received::Failed(error) => Err(error),
        };
        // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
        for (recipient, refusal) in transaction.recipients.iter().zip(refusals) {
            let address = &recipient.address;
            if let Some((code, enhanced, text)) = refusal {
                log::info!(
                    "lmtp {}: refused mail from <{}> to <{address}>: {code} {enhanced} {text}",
                    self.peer,
                    transaction.from
                );
                self.reply(code, enhanced, &format!("<{address}> {text}"));
                continue;
            }
            let over_quota = match &outcome {
                Ok(refused) => refused.iter().find(|(mailbox, _)| *mailbox == recipient.mailbox).map(|(_, why)| why),
                Err(StoreError::OverQuota(reason)) => Some(reason),
                Err(_) => None,
            };
            if let Some(reason) = over_quota {
                // RFC 3463 X.2.2 "mailbox full": permanent (the sender gets
                // it back now) or temporary (the MTA retries while the user
                // makes room), as `[quota] lmtp_over_quota` says.
                let (code, enhanced) =
                    if self.server.config.quota.lmtp_permanent { (552, "5.2.2") } else { (452, "4.2.2") };
                log::info!(
                    "lmtp {}: refused mail from <{}> to <{address}>: over quota: {reason}",
                    self.peer,
                    transaction.from
                );
                self.reply(code, enhanced, &format!("<{address}> Mailbox full: {reason}"));
                continue;
            }
            match &outcome {
                Ok(_) => {
                    self.server.activity.delivered(1);
                    self.reply(250, "2.0.0", &format!("<{address}> Delivered"));
                }
                Err(error) => {
                    let (code, enhanced, text) = temporary_failure(error);
                    self.reply(code, enhanced, &format!("<{address}> {text}"));
                }
            }
        }
        // Quota refusals were logged per recipient above.
        if let Some(error) = outcome.as_ref().err().filter(|error| !matches!(error, StoreError::OverQuota(_))) {
            log::error!("lmtp {}: delivery from <{}> failed: {error}", self.peer, transaction.from);
        }
        Ok(())
    }

    /// Each recipient's refusal now, if its mailbox stopped taking mail
    /// since RCPT (deleted, or its `p` taken away): the check made again
    /// just before the commit, on the same thread, so a SETACL answered
    /// before it is seen and one answered after it came later.
    fn recheck(&self, recipients: &[Recipient]) -> Vec<Option<(u16, &'static str, String)>> {
        // Unreadable: the commit will fail the same way and answer for them all.
        let Ok(reader) = self.server.store.read() else { return vec![None; recipients.len()] };
        recipients
            .iter()
            .map(|recipient| {
                if !recipient.posted {
                    return None;
                }
                match route::postable(&reader, recipient.mailbox) {
                    Ok(Target::Mailbox(_)) | Err(_) => None,
                    Ok(Target::Missing) => Some((550, "5.1.1", "No such mailbox".to_string())),
                    Ok(Target::NoPost) => Some((550, "5.7.1", NO_POST.to_string())),
                }
            })
            .collect()
    }

    /// One durable commit of `message` into `mailboxes`; answers the
    /// mailboxes the quota refused, with the reasons.
    async fn deliver(
        &mut self,
        message: NewMessage,
        mailboxes: Vec<u64>,
        transaction: &Transaction,
        size: u64,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let blob = message.blob;
        match self.server.store.deliver(message, mailboxes).await {
            Ok(Delivered { refused, .. }) => {
                let to: Vec<&str> = transaction
                    .recipients
                    .iter()
                    .filter(|r| !refused.iter().any(|(mailbox, _)| *mailbox == r.mailbox))
                    .map(|r| r.address.as_str())
                    .collect();
                log::info!(
                    "lmtp {}: delivered {size} bytes from <{}> to {}",
                    self.peer,
                    transaction.from,
                    to.join(", ")
                );
                Ok(refused)
            }
            Err(error) => {
                self.server.store.submit(Op::DiscardBlobs { blobs: vec![blob] });
                Err(error)
            }
        }
    }

    /// Reads the DATA stream to its end marker, into a pending blob. A
    /// message over the limit is read to the end and dropped; a client
    /// that leaves mid-stream returns an error and the blob is discarded
    /// (by `Incoming`'s drop).
    async fn receive(&mut self, transaction: &Transaction) -> io::Result<Received> {
        let store = self.server.store.clone();
        let limits = &self.server.config.limits;
        let limit = limits.literal_size;
        let mut header = format!("Return-Path: <{}>\r\n", transaction.from);
        // Only for a single recipient: the message is stored once for all
        // of them, and naming every recipient would tell each one the
        // others (Bcc included). Dovecot does the same.
        if let [only] = transaction.recipients.as_slice() {
            if !only.address.is_empty() {
                header.push_str(&format!("Delivered-To: {}\r\n", only.address));
            }
        }
        let expected = transaction.declared_size.unwrap_or(0) + header.len() as u64;
        let mut incoming = Some(Incoming::new(&store, limits.append_chunk, expected));
        if let Some(incoming) = &mut incoming {
            incoming.write(header.as_bytes()).await;
        }
        let mut unstuffer = Unstuffer::default();
        let mut out = Vec::with_capacity(limits.read_buffer);
        loop {
            out.clear();
            let input = self.conn.peek().await?;
            let (used, done) = unstuffer.feed(input, &mut out);
            self.conn.consume(used);
            if let Some(sink) = &mut incoming {
                sink.write(&out).await;
                if sink.size() > limit {
                    // Dropped: its blob is discarded; keep reading to the end.
                    incoming = None;
                }
            }
            if done {
                break;
            }
        }
        let Some(incoming) = incoming else { return Ok(Received::TooBig) };
        Ok(match incoming.finish().await {
            Ok(message) => Received::Message(message),
            Err(error) => Received::Failed(error),
        })
    }
}

/// The reply for a delivery the store could not make: temporary, so the
/// MTA keeps the message and tries again.
fn temporary_failure(error: &StoreError) -> (u16, &'static str, &'static str) {
    match error {
        // The disk reserve (min_free_disk): IMAP's OVERQUOTA.
        StoreError::NoSpace | StoreError::DiskFull(_) => (452, "4.3.1", "Insufficient system storage; try again later"),
        _ => (451, "4.3.0", "Temporary storage failure; try again later"),
    }
}

/// The INBOX of the user an address names, if any.
pub fn find_inbox(reader: &Reader, address: &str) -> Result<Option<u64>, StoreError> {
    match find_user(reader, address)? {
        Some(user) => reader.mailbox_id(user, INBOX),
        None => Ok(None),
    }
}

/// The user an address names, if any. User names are kept in lower case;
/// an address matches as a whole (`alice@example.org`) or by its local
/// part (`alice`), each also without a `+detail` suffix (Dovecot's
/// recipient_delimiter convention).
fn find_user(reader: &Reader, address: &str) -> Result<Option<u32>, StoreError> {
    for name in candidate_names(address) {
        if let Some(user) = reader.user(&name)? {
            return Ok(Some(user.id));
        }
    }
    Ok(None)
}

/// Why a mailbox refuses mail: it does not grant `anyone` the `p` right.
const NO_POST: &str = "Mailbox does not accept mail";

fn candidate_names(address: &str) -> Vec<String> {
    let address = address.to_lowercase();
    let without_detail =
        |local: &str| local.split_once('+').map(|(base, _)| base.to_string()).filter(|base| !base.is_empty());
    let mut names = vec![address.clone()];
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            names.extend(without_detail(local).map(|base| format!("{base}@{domain}")));
            names.push(local.to_string());
            names.extend(without_detail(local));
        }
        None => names.extend(without_detail(&address)),
    }
    let mut unique: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !name.is_empty() && !unique.contains(&name) {
            unique.push(name);
        }
    }
    unique
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_map_to_user_names() {
        assert_eq!(candidate_names("Alice"), vec!["alice"]);
        assert_eq!(candidate_names("alice+lists"), vec!["alice+lists", "alice"]);
        assert_eq!(candidate_names("Alice@Example.org"), vec!["alice@example.org", "alice"]);
        assert_eq!(
            candidate_names("alice+news@example.org"),
            vec!["alice+news@example.org", "alice@example.org", "alice+news", "alice"]
        );
        assert_eq!(candidate_names("+x@example.org"), vec!["+x@example.org", "+x"]);
    }

    #[test]
    fn store_failures_are_temporary() {
        assert_eq!(temporary_failure(&StoreError::NoSpace).0, 452);
        assert_eq!(
            temporary_failure(&StoreError::Io("disk".into())),
            (451, "4.3.0", "Temporary storage failure; try again later")
        );
        assert_eq!(temporary_failure(&StoreError::NoSuchBlob).0, 451);
    }
}

//! `roost import` on the server's side: messages streamed over the
//! control socket by the CLI process (which reads the files: it may run
//! as a user the server cannot read as), appended as APPEND appends them
//! (`store::incoming::Incoming`, then one durable `Store::import` per
//! batch). When no server runs, the CLI drives the same [`Importer`] on
//! the database directly.
//!
//! The request line `import USER` turns the connection into a stream of
//! frames, each a line, one carrying bytes after it:
//!
//! ```text
//! mailbox NAME        -> ok ID | error: why   (NAME base64; created if missing)
//! have ID DIGEST      -> yes UID | no         (an earlier import added it)
//! data N              followed by N bytes of the message (N <= MAX_DATA)
//! end ID DIGEST FLAGS UNIX OFFSET KEYWORDS    (message done; queued; no answer)
//! commit              -> ok added:UID|present:UID ... | error: why
//! ```
//!
//! DIGEST is hex (`store::import`), FLAGS the flag bits, UNIX and OFFSET
//! the internal date, KEYWORDS base64 of the space-separated keywords
//! (`-`: none). One message is in flight at a time and the batch the CLI
//! queues is bounded ([`BATCH_MESSAGES`], [`BATCH_BYTES`]): the server
//! holds one board-sized piece and the batch's small records. Blobs of
//! messages not committed when the connection ends are discarded.
//!
//! The frames are handled on the session executor: each `data` frame is
//! at most [`MAX_DATA`] bytes of parsing, a full piece waits for the
//! store thread, and each message ends with a yield. Measured (release,
//! the loaded 2-core VM of `import.rs`'s figures): a NOOP every 10 ms
//! from another client, idle p50 0.20 ms / p99 0.32 ms; during a
//! 5,000-message import through the server p50 0.31 ms, p99 12 ms, max
//! 112 ms (not yet told apart from the machine's noise; a yield per
//! `data` frame is the next step if it is the import).

use smol::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::server::Server;
use crate::store::import::{ImportMessage, Imported};
use crate::store::incoming::Incoming;
use crate::store::{Flags, Op, Store, StoreError};
use crate::util::datetime::DateTime;

/// Messages queued before the CLI asks for a commit (one durable commit
/// for all of them: the fsync per message would otherwise set the pace).
pub const BATCH_MESSAGES: usize = 256;
/// Bytes queued before the CLI asks for a commit.
pub const BATCH_BYTES: u64 = 16 << 20;
/// Largest `data` frame.
pub const MAX_DATA: usize = 256 * 1024;
/// Longest frame line.
const MAX_LINE: u64 = 16 * 1024;

/// A message's end: what the source said of it.
#[derive(Clone, Debug)]
pub struct Finished {
    pub mailbox: u64,
    pub digest: [u8; 32],
    pub flags: Flags,
    pub date: DateTime,
    pub keywords: Vec<String>,
}

/// One import's state on the store's side: the message being received
/// and the batch waiting for its commit.
pub struct Importer<'a> {
    store: &'a Store,
    user: u32,
    piece: usize,
    incoming: Option<Incoming<'a>>,
    batch: Vec<ImportMessage>,
    batch_mailbox: Option<u64>,
    /// The mailboxes this import resolved (the only ids it may name).
    mailboxes: Vec<u64>,
}

impl Drop for Importer<'_> {
    fn drop(&mut self) {
        self.discard();
    }
}

impl<'a> Importer<'a> {
    /// An import for `user`; `piece` is the board's `append_chunk`.
    pub fn new(store: &'a Store, user: &str, piece: usize) -> Result<Importer<'a>, String> {
        let record = store.read().and_then(|reader| reader.user(user)).map_err(|error| error.to_string())?;
        let user = record.ok_or_else(|| format!("no user {user:?}"))?.id;
        Ok(Importer {
            store,
            user,
            piece,
            incoming: None,
            batch: Vec::new(),
            batch_mailbox: None,
            mailboxes: Vec::new(),
        })
    }

    /// The id of the user's mailbox `name`, created (with any missing
    /// parents) if it does not exist.
    pub async fn mailbox(&mut self, name: &str) -> Result<u64, String> {
        let name = crate::imap::mailbox_name::canonical(name.to_string())?;
        if !matches!(crate::imap::namespace::place(&name), crate::imap::namespace::Place::Personal) {
            return Err(format!(
                "{name:?} would be in the shared or public namespace; choose another name with --into"
            ));
        }
        let existing = self.store.read().and_then(|reader| {
            let Some(id) = reader.mailbox_id(self.user, &name)? else { return Ok(None) };
            Ok(Some((id, reader.mailbox(id)?.is_some_and(|record| record.noselect))))
        });
        let id = match existing.map_err(|error| error.to_string())? {
            Some((_, true)) => return Err(format!("{name:?} exists only as a \\Noselect placeholder")),
            Some((id, false)) => id,
            None => {
                let id = self.store.create_child(self.user, name.clone()).await;
                let id = id.map_err(|error| format!("{name:?}: {error}"))?;
                // A migrated folder should show in every client, and many
                // show only subscribed ones: the new mailbox is subscribed.
                let subscribe = Op::Subscribe { user: self.user, name: name.clone(), subscribed: true };
                self.store.execute(subscribe).await.map_err(|error| format!("{name:?}: {error}"))?;
                id
            }
        };
        self.mailboxes.push(id);
        Ok(id)
    }

    fn check(&self, mailbox: u64) -> Result<(), String> {
        if self.mailboxes.contains(&mailbox) {
            Ok(())
        } else {
            Err(format!("mailbox {mailbox} was not opened by this import"))
        }
    }

    /// The UID an earlier import gave this message in `mailbox`, if any.
    pub fn has(&self, mailbox: u64, digest: &[u8; 32]) -> Result<Option<u32>, String> {
        self.check(mailbox)?;
        self.store.read().and_then(|reader| reader.imported(mailbox, digest)).map_err(|error| error.to_string())
    }

    /// More bytes of the message being received (the first start it).
    pub async fn data(&mut self, bytes: &[u8]) {
        let (store, piece) = (self.store, self.piece);
        let incoming = self.incoming.get_or_insert_with(|| Incoming::new(store, piece, bytes.len() as u64));
        incoming.write(bytes).await;
    }

    /// The message received is complete: queued for the next commit.
    pub async fn end(&mut self, finished: Finished) -> Result<(), String> {
        self.check(finished.mailbox)?;
        if self.batch_mailbox.is_some_and(|mailbox| mailbox != finished.mailbox) {
            return Err("a batch holds messages of one mailbox: commit first".into());
        }
        let incoming = self.incoming.take().ok_or("a message without bytes")?;
        let received = incoming.finish().await.map_err(|error| error.to_string())?;
        let message = crate::store::NewMessage {
            flags: finished.flags,
            keywords: finished.keywords,
            internal_date: finished.date,
            ..received
        };
        self.batch.push(ImportMessage { message, digest: finished.digest });
        self.batch_mailbox = Some(finished.mailbox);
        Ok(())
    }

    /// Stores the batch, durably; answers what became of each message.
    pub async fn commit(&mut self) -> Result<Vec<Imported>, StoreError> {
        let Some(mailbox) = self.batch_mailbox.take() else { return Ok(Vec::new()) };
        let batch = std::mem::take(&mut self.batch);
        let blobs: Vec<u64> = batch.iter().map(|message| message.message.blob).collect();
        let result = self.store.import(mailbox, batch).await;
        if result.is_err() {
            // Refused whole (quota, disk, a mailbox deleted meanwhile): its blobs go.
            self.store.submit(Op::DiscardBlobs { blobs });
        }
        result
    }

    /// Drops what is received but not committed.
    pub fn discard(&mut self) {
        self.incoming = None;
        self.batch_mailbox = None;
        let blobs: Vec<u64> = self.batch.drain(..).map(|message| message.message.blob).collect();
        if !blobs.is_empty() {
            self.store.submit(Op::DiscardBlobs { blobs });
        }
    }
}

/// Serves `import USER` on a control connection (see the module docs).
pub async fn serve(
    server: &Server,
    mut reader: impl smol::io::AsyncBufRead + Unpin,
    mut writer: impl smol::io::AsyncWrite + Unpin,
    user: &str,
) -> std::io::Result<()> {
    let mut importer = match Importer::new(&server.store, user, server.config.limits.append_chunk) {
        Ok(importer) => importer,
        Err(error) => return answer(&mut writer, &format!("error: {error}")).await,
    };
    answer(&mut writer, "ok").await?;
    let (mut added, mut present) = (0u64, 0u64);
    let mut line = String::new();
    let mut data = Vec::new();
    loop {
        line.clear();
        if (&mut reader).take(MAX_LINE).read_line(&mut line).await? == 0 {
            break;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["mailbox", name] => {
                let reply = match decode_name(name) {
                    Ok(name) => match importer.mailbox(&name).await {
                        Ok(id) => format!("ok {id}"),
                        Err(error) => format!("error: {error}"),
                    },
                    Err(error) => format!("error: {error}"),
                };
                answer(&mut writer, &reply).await?;
            }
            ["have", mailbox, digest] => {
                let reply = match (mailbox.parse(), parse_digest(digest)) {
                    (Ok(mailbox), Some(digest)) => match importer.has(mailbox, &digest) {
                        Ok(Some(uid)) => format!("yes {uid}"),
                        Ok(None) => "no".to_string(),
                        Err(error) => format!("error: {error}"),
                    },
                    _ => "error: bad have frame".to_string(),
                };
                answer(&mut writer, &reply).await?;
            }
            ["data", length] => {
                let Some(length) = length.parse::<usize>().ok().filter(|length| *length <= MAX_DATA) else {
                    return answer(&mut writer, "error: bad data frame").await;
                };
                data.resize(length, 0);
                reader.read_exact(&mut data).await?;
                importer.data(&data).await;
            }
            ["end", mailbox, digest, flags, unix, offset, keywords] => {
                let Some(finished) = parse_end(mailbox, digest, flags, unix, offset, keywords) else {
                    return answer(&mut writer, "error: bad end frame").await;
                };
                if let Err(error) = importer.end(finished).await {
                    return answer(&mut writer, &format!("error: {error}")).await;
                }
                // One message done: let the sessions run before the next.
                smol::future::yield_now().await;
            }
            ["commit"] => {
                let reply = match importer.commit().await {
                    Ok(outcomes) => {
                        let mut reply = String::from("ok");
                        for outcome in outcomes {
                            match outcome {
                                Imported::Added(uid) => {
                                    added += 1;
                                    reply.push_str(&format!(" added:{uid}"));
                                }
                                Imported::Present(uid) => {
                                    present += 1;
                                    reply.push_str(&format!(" present:{uid}"));
                                }
                            }
                        }
                        reply
                    }
                    Err(error) => format!("error: {error}"),
                };
                answer(&mut writer, &reply).await?;
            }
            _ => {
                let shown: String = line.chars().take(40).collect();
                return answer(&mut writer, &format!("error: unknown import frame {shown:?}")).await;
            }
        }
    }
    importer.discard();
    log::info!("import for user {user}: {added} message(s) added, {present} already there");
    Ok(())
}

async fn answer(writer: &mut (impl smol::io::AsyncWrite + Unpin), line: &str) -> std::io::Result<()> {
    writer.write_all(format!("{}\n", line.replace('\n', " ")).as_bytes()).await?;
    writer.flush().await
}

pub fn decode_name(text: &str) -> Result<String, String> {
    crate::util::base64::decode_unpadded(text.as_bytes())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| "bad mailbox name encoding".to_string())
}

/// The hex of a digest.
pub fn hex(digest: &[u8; 32]) -> String {
    use std::fmt::Write;
    digest.iter().fold(String::with_capacity(64), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

pub fn parse_digest(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut digest = [0u8; 32];
    for (index, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(digest)
}

/// The `end` frame's words for a message.
pub fn end_frame(finished: &Finished) -> String {
    let keywords = if finished.keywords.is_empty() {
        "-".to_string()
    } else {
        crate::util::base64::encode_unpadded(finished.keywords.join(" ").as_bytes())
    };
    format!(
        "end {} {} {} {} {} {keywords}\n",
        finished.mailbox,
        hex(&finished.digest),
        finished.flags.0,
        finished.date.unix,
        finished.date.offset_minutes
    )
}

fn parse_end(mailbox: &str, digest: &str, flags: &str, unix: &str, offset: &str, keywords: &str) -> Option<Finished> {
    let keywords = if keywords == "-" {
        Vec::new()
    } else {
        let text = String::from_utf8(crate::util::base64::decode_unpadded(keywords.as_bytes())?).ok()?;
        let keywords: Vec<String> = text.split(' ').map(str::to_string).collect();
        if !keywords.iter().all(|keyword| crate::mailfile::is_keyword(keyword)) {
            return None;
        }
        keywords
    };
    Some(Finished {
        mailbox: mailbox.parse().ok()?,
        digest: parse_digest(digest)?,
        flags: Flags(flags.parse::<u8>().ok()? & 0x1f),
        date: DateTime { unix: unix.parse().ok()?, offset_minutes: offset.parse().ok()? },
        keywords,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_frames_read_back() {
        let finished = Finished {
            mailbox: 7,
            digest: [0xab; 32],
            flags: Flags::SEEN.union(Flags::DRAFT),
            date: DateTime { unix: 820631134, offset_minutes: -300 },
            keywords: vec!["$Junk".into(), "work".into()],
        };
        let frame = end_frame(&finished);
        let words: Vec<&str> = frame.split_whitespace().collect();
        let back = parse_end(words[1], words[2], words[3], words[4], words[5], words[6]).unwrap();
        assert_eq!((back.mailbox, back.digest, back.flags, back.date), (7, [0xab; 32], finished.flags, finished.date));
        assert_eq!(back.keywords, finished.keywords);
        assert!(parse_digest("zz").is_none());
    }
}

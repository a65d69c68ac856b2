//! Retention: the store's side of expunging old messages by themselves.
//!
//! The task that decides which mailboxes and ages is `crate::retention`;
//! here are the two steps it takes per batch. Finding candidates
//! ([`Store::expired`]) walks a mailbox's records on a blocking thread with
//! its own read transaction, never on the session executor, and stops
//! after a batch so no transaction stays open long. Expunging them
//! ([`Store::expire`]) is one ordinary expunge on the store thread: the
//! expunge history, modseqs and the hub's EXPUNGE/VANISHED responses are
//! those of an EXPUNGE, and on a full disk it is a delete like any other
//! (see `ballast`).
//!
//! A message's age is counted from its save date (RFC 8514: when it was
//! put into this mailbox, so a message moved into Trash today waits its
//! full term there, as Dovecot's autoexpunge counts it), or from its
//! internal date when it has none (stored by a roost from before save
//! dates). The store thread checks the age again: a candidate found in an
//! older snapshot may have been expunged and its UID is never reused, so
//! the check only guards against a caller's mistake.

use redb::ReadableDatabase;

use super::ops::{self, Tables};
use super::{Change, Expunged, Request, Store, StoreError, UidSet};

/// The seconds since 1970 that count as a message's arrival in its mailbox.
fn saved_at(save_date: Option<i64>, internal_date: i64) -> i64 {
    save_date.unwrap_or(internal_date)
}

impl Store {
    /// Up to `limit` UIDs of `mailbox` from `from` on whose messages
    /// arrived before `before` (unix seconds), and where the next walk
    /// starts (None: the mailbox was walked to its end). Runs on a
    /// blocking thread.
    pub async fn expired(
        &self,
        mailbox: u64,
        before: i64,
        from: u32,
        limit: usize,
    ) -> Result<(Vec<u32>, Option<u32>), StoreError> {
        let database = self.database();
        smol::unblock(move || {
            let reader = super::Reader::new(database.begin_read()?);
            let messages = reader.messages()?;
            let mut save_dates = reader.save_dates(mailbox, from, u32::MAX)?;
            let mut found = Vec::new();
            for entry in messages.range(mailbox, from, u32::MAX)? {
                let (uid, record) = entry?;
                if found.len() == limit {
                    return Ok((found, Some(uid)));
                }
                if saved_at(save_dates.find(uid)?, record.internal_date.unix) < before {
                    found.push(uid);
                }
            }
            Ok((found, None))
        })
        .await
    }

    /// Expunges the messages `uids` of `mailbox` that arrived before
    /// `before` (unix seconds), whatever their flags, in one transaction.
    pub async fn expire(&self, mailbox: u64, uids: UidSet, before: i64) -> Result<Expunged, StoreError> {
        self.call(|reply| Request::Expire { mailbox, uids, before, reply }).await
    }
}

/// The store thread's half of [`Store::expire`].
pub(super) fn expire(
    tables: &mut Tables,
    mailbox: u64,
    uids: &UidSet,
    before: i64,
    changes: &mut Vec<Change>,
) -> Result<Expunged, StoreError> {
    let record = tables.selectable_mailbox(mailbox)?;
    let mut doomed = Vec::new();
    for (uid, message) in tables.messages_in(mailbox, uids)? {
        let save_date = tables.save_dates.get((mailbox, uid))?.map(|saved| saved.value());
        if saved_at(save_date, message.internal_date.unix) < before {
            doomed.push((uid, message));
        }
    }
    let uids = ops::expunge(tables, mailbox, record, &doomed, changes)?;
    Ok(Expunged { uids })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fill, message_in, run, store_on, unbounded_store, SmallDisk};
    use super::super::*;

    /// A store with user alice; answers her Trash.
    async fn alice_trash(store: &Store) -> u64 {
        store.execute(Op::AddUser { name: "alice".into(), password_hash: "x".into() }).await.unwrap();
        let reader = store.read().unwrap();
        let user = reader.user("alice").unwrap().unwrap().id;
        reader.mailbox_id(user, "Trash").unwrap().unwrap()
    }

    #[test]
    fn old_messages_go_and_young_ones_stay() {
        let disk = SmallDisk::with_capacity(64 << 20);
        let (store, pump) = store_on(&disk, 0);
        run(&store, pump, async {
            let trash = alice_trash(&store).await;
            let now = crate::util::datetime::DateTime::now().unix;
            // Internal dates from 40 days ago to today, one a day; save
            // dates are now (they were just appended).
            let mut messages = Vec::new();
            for day in 0..40 {
                let blob = store.write_blob(None, 0, vec![b'z'; 100]).await.unwrap();
                let mut message = message_in(blob, 100);
                message.internal_date.unix = now - (40 - day) * 86_400;
                messages.push(message);
            }
            store.append(trash, messages).await.unwrap();
            // Every message was saved just now: nothing is 30 days old.
            let (found, next) = store.expired(trash, now - 30 * 86_400, 0, 100).await.unwrap();
            assert_eq!((found, next), (Vec::new(), None));
            // Without save dates the internal date counts.
            let reader = store.read().unwrap();
            assert_eq!(reader.save_date_uids(trash).unwrap().len(), 40);
            drop(reader);
            let database = store.database();
            let transaction = database.begin_write().unwrap();
            super::super::schema::SAVE_DATES.open(&transaction).unwrap().retain(|_, _| false).unwrap();
            transaction.commit().unwrap();
            // In batches of 4: UIDs 1..=10 are older than 30 days.
            let before = now - 30 * 86_400 - 60;
            let mut from = 0;
            let mut all = Vec::new();
            loop {
                let (found, next) = store.expired(trash, before, from, 4).await.unwrap();
                all.extend(found);
                match next {
                    Some(uid) => from = uid,
                    None => break,
                }
            }
            assert_eq!(all, (1..=10).collect::<Vec<u32>>());
            // The store thread checks again: UID 11 is younger and stays.
            let Expunged { uids } = store.expire(trash, UidSet(vec![(1, 11)]), before).await.unwrap();
            assert_eq!(uids, (1..=10).collect::<Vec<u32>>());
            let reader = store.read().unwrap();
            assert_eq!(reader.mailbox(trash).unwrap().unwrap().messages, 30);
            assert!(check::run(&reader).unwrap().is_clean());
        });
    }

    /// What retention costs per batch on a big Trash. Run by hand:
    /// `cargo test --release --lib store::retention::tests::retention_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a cost measurement; run by hand"]
    fn retention_cost() {
        let (_disk, store, pump) = unbounded_store();
        run(&store, pump, async {
            let trash = alice_trash(&store).await;
            fill(&store, &[trash], 100, 200, 2000).await;
            // Everything counts as old.
            let before = crate::util::datetime::DateTime::now().unix + 10;
            let (mut scanning, mut expiring, mut batches) = (std::time::Duration::ZERO, std::time::Duration::ZERO, 0);
            let mut worst = std::time::Duration::ZERO;
            loop {
                let started = std::time::Instant::now();
                let (uids, next) = store.expired(trash, before, 0, 250).await.unwrap();
                scanning += started.elapsed();
                if uids.is_empty() {
                    break;
                }
                let started = std::time::Instant::now();
                store.expire(trash, UidSet::from_sorted(uids), before).await.unwrap();
                let took = started.elapsed();
                expiring += took;
                worst = worst.max(took);
                batches += 1;
                if next.is_none() {
                    break;
                }
            }
            println!(
                "20,000 messages in {batches} batches of 250: finding {scanning:?} in all, expunging {expiring:?} in all (worst batch {worst:?})"
            );
        });
    }
}

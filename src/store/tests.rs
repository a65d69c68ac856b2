//! Store tests that need control the network cannot give: a disk that
//! fills up, an operation that panics.

use std::sync::Mutex;

use super::*;

/// An in-memory disk that behaves like a filesystem with sparse files (as
/// ext4 on an SD card): growing the file is free, writing a block takes a
/// block, and past `capacity` bytes of blocks a write fails with ENOSPC.
#[derive(Debug, Default)]
pub(super) struct SmallDisk {
    bytes: Mutex<Vec<u8>>,
    blocks: Mutex<std::collections::HashSet<u64>>,
    pub(super) capacity: std::sync::atomic::AtomicU64,
    /// Bytes redb has written, for measuring what a commit costs.
    pub(super) written: std::sync::atomic::AtomicU64,
    /// Bytes a ballast holds on this disk ([`DiskBallast`]).
    pub(super) ballast: std::sync::atomic::AtomicU64,
}

const BLOCK: u64 = 4096;

impl SmallDisk {
    pub(super) fn with_capacity(capacity: u64) -> std::sync::Arc<SmallDisk> {
        let disk = SmallDisk::default();
        disk.capacity.store(capacity, std::sync::atomic::Ordering::SeqCst);
        std::sync::Arc::new(disk)
    }

    /// Blocks written at least once: what the file takes on the disk.
    pub(super) fn used(&self) -> u64 {
        self.blocks.lock().unwrap().len() as u64 * BLOCK
    }

    pub(super) fn free(&self) -> u64 {
        let used =
            self.blocks.lock().unwrap().len() as u64 * BLOCK + self.ballast.load(std::sync::atomic::Ordering::SeqCst);
        self.capacity.load(std::sync::atomic::Ordering::SeqCst).saturating_sub(used)
    }
}

/// The backend handed to redb; the test keeps another handle to the disk.
#[derive(Debug)]
struct Shared(std::sync::Arc<SmallDisk>);

impl redb::StorageBackend for Shared {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.0.bytes.lock().unwrap().len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let bytes = self.0.bytes.lock().unwrap();
        let start = offset as usize;
        let source = bytes.get(start..start + out.len()).ok_or_else(|| std::io::Error::other("read past the end"))?;
        out.copy_from_slice(source);
        Ok(())
    }

    fn set_len(&self, length: u64) -> Result<(), std::io::Error> {
        self.0.bytes.lock().unwrap().resize(length as usize, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        let mut blocks = self.0.blocks.lock().unwrap();
        let new: Vec<u64> = (offset / BLOCK..(offset + data.len() as u64).div_ceil(BLOCK))
            .filter(|block| !blocks.contains(block))
            .collect();
        let capacity = self.0.capacity.load(std::sync::atomic::Ordering::SeqCst);
        let ballast = self.0.ballast.load(std::sync::atomic::Ordering::SeqCst);
        if (blocks.len() + new.len()) as u64 * BLOCK + ballast > capacity {
            return Err(std::io::Error::from_raw_os_error(28));
        }
        blocks.extend(new);
        self.0.written.fetch_add(data.len() as u64, std::sync::atomic::Ordering::SeqCst);
        let mut bytes = self.0.bytes.lock().unwrap();
        let end = offset as usize + data.len();
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
}

/// A ballast taking blocks of a [`SmallDisk`].
struct DiskBallast(std::sync::Arc<SmallDisk>);

impl ballast::Space for DiskBallast {
    fn held(&self) -> u64 {
        self.0.ballast.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn release(&self) -> std::io::Result<()> {
        self.0.ballast.store(0, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    fn fill(&self, size: u64) -> std::io::Result<()> {
        let missing = size.saturating_sub(self.held());
        if self.0.free() < missing {
            return Err(std::io::Error::from_raw_os_error(28));
        }
        self.0.ballast.store(size, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

pub(super) fn store_on(disk: &std::sync::Arc<SmallDisk>, reserve: u64) -> (Rc<Store>, Pump) {
    let measured = disk.clone();
    Store::open_with_backend(Shared(disk.clone()), Box::new(move || measured.free()), reserve).unwrap()
}

async fn inbox_of_new_user(store: &Store) -> u64 {
    store.execute(Op::AddUser { name: "alice".into(), password_hash: "x".into() }).await.unwrap();
    let reader = store.read().unwrap();
    let user = reader.user("alice").unwrap().unwrap();
    reader.mailbox_id(user.id, INBOX).unwrap().unwrap()
}

/// The flag change that marks messages \Deleted.
pub(super) fn deleted() -> FlagChange {
    FlagChange { action: FlagAction::Add, flags: Flags::DELETED, keywords: Vec::new(), unchanged_since: None }
}

pub(super) fn run<T>(store: &Store, pump: Pump, work: impl std::future::Future<Output = T>) -> T {
    let executor = smol::LocalExecutor::new();
    executor.spawn(pump).detach();
    let _ = store;
    smol::block_on(executor.run(work))
}

/// A message of `size` bytes, all body, in blob `blob`.
pub(super) fn message_in(blob: u64, size: usize) -> NewMessage {
    NewMessage {
        blob,
        size: size as u64,
        header_size: 0,
        structure: Vec::new(),
        summary: None,
        preview: None,
        flags: Flags::default(),
        keywords: Vec::new(),
        internal_date: DateTime::now(),
    }
}

pub(super) async fn append(store: &Store, mailbox: u64, size: usize) -> Result<u32, StoreError> {
    let data = vec![b'x'; size];
    let blob = store.write_blob(None, 0, data).await?;
    Ok(store.append(mailbox, vec![message_in(blob, size)]).await?.first_uid)
}

#[test]
fn a_nearly_full_disk_refuses_new_mail_and_keeps_working() {
    let disk = SmallDisk::with_capacity(8 << 20);
    let (store, pump) = store_on(&disk, 2 << 20);
    run(&store, pump, async {
        let inbox = inbox_of_new_user(&store).await;
        let mut acknowledged = Vec::new();
        let error = loop {
            match append(&store, inbox, 100_000).await {
                Ok(uid) => acknowledged.push(uid),
                Err(error) => break error,
            }
            assert!(acknowledged.len() < 1000, "the disk never filled up");
        };
        // Refused before redb ran out of space, so nothing is poisoned.
        assert_eq!(error, StoreError::NoSpace);
        assert!(acknowledged.len() > 10, "only {} messages fit", acknowledged.len());
        let reader = store.read().unwrap();
        let messages = reader.messages().unwrap();
        let chunks = reader.chunks().unwrap();
        for &uid in &acknowledged {
            let record = messages.get(inbox, uid).unwrap().expect("acknowledged message kept");
            let mut bytes = Vec::new();
            chunks.read(record.blob, 0, record.size, &mut bytes).unwrap();
            assert_eq!(bytes, vec![b'x'; 100_000]);
        }
        assert!(check::run(&reader).unwrap().is_clean());
        drop((messages, chunks, reader));
        // Deleting mail still works on a full disk...
        let doomed = UidSet(vec![(acknowledged[0], acknowledged[4])]);
        store.set_flags(inbox, doomed, deleted()).await.unwrap();
        let Expunged { uids } = store.expunge(inbox, None).await.unwrap();
        assert_eq!(uids.len(), 5);
        // ...and with room again, so does new mail.
        disk.capacity.store(64 << 20, std::sync::atomic::Ordering::SeqCst);
        let uid = append(&store, inbox, 1000).await.unwrap();
        assert!(uid > *acknowledged.last().unwrap());
        assert!(check_database(&store.database()).unwrap().is_clean());
    });
}

#[test]
fn a_storage_error_fails_the_store_and_says_so() {
    // Free space unknown (or taken by another process between the check
    // and the write): redb itself meets ENOSPC, which poisons the database.
    let disk = SmallDisk::with_capacity(4 << 20);
    let (store, pump) = Store::open_with_backend(Shared(disk), Box::new(|| u64::MAX), 0).unwrap();
    run(&store, pump, async {
        let inbox = inbox_of_new_user(&store).await;
        let error = loop {
            if let Err(error) = append(&store, inbox, 100_000).await {
                break error;
            }
        };
        // Known by its kind (ENOSPC), not by the text.
        assert!(matches!(&error, StoreError::DiskFull(_)), "{error:?}");
        // The server is told, so it can stop and be restarted.
        store.failed().await;
        let again = store.execute(Op::AddUser { name: "bob".into(), password_hash: "x".into() }).await;
        assert!(matches!(again, Err(StoreError::Io(ref text)) if text.contains("restart")), "{again:?}");
    });
}

#[test]
fn a_panicking_operation_fails_alone() {
    let disk = SmallDisk::with_capacity(64 << 20);
    let (store, pump) = store_on(&disk, 0);
    run(&store, pump, async {
        // Queued together so they share a group: the panic must not take
        // the other two down with it.
        let first = store.execute(Op::AddUser { name: "a".into(), password_hash: "x".into() });
        let panicking = store.execute(Op::Panic);
        let second = store.execute(Op::AddUser { name: "b".into(), password_hash: "x".into() });
        let (first, (panicking, second)) = smol::future::zip(first, smol::future::zip(panicking, second)).await;
        assert_eq!(first, Ok(()));
        assert!(matches!(panicking, Err(StoreError::Bug(ref text)) if text.contains("deliberate")), "{panicking:?}");
        assert_eq!(second, Ok(()));
        let users: Vec<String> = store.read().unwrap().users().unwrap().into_iter().map(|(name, _)| name).collect();
        assert_eq!(users, vec!["a".to_string(), "b".to_string()]);
        // The store thread still works afterwards.
        store.execute(Op::AddUser { name: "c".into(), password_hash: "x".into() }).await.unwrap();
    });
}

/// The watchdog's ping (`crate::systemd`): answered once the work queued
/// before it is committed (the store thread takes what queued while it
/// committed as one group, pings included), and writing nothing itself.
#[test]
fn a_ping_waits_for_the_work_before_it_and_writes_nothing() {
    use std::sync::atomic::Ordering;
    let disk = SmallDisk::with_capacity(64 << 20);
    let (store, pump) = store_on(&disk, 0);
    run(&store, pump, async {
        for number in 0..50 {
            store.submit(Op::AddUser { name: format!("u{number}"), password_hash: "x".into() });
        }
        store.ping().await.unwrap();
        let users = store.read().unwrap().users().unwrap().len();
        assert_eq!(users, 50, "the ping was answered before the work queued before it was committed");
        let written = disk.written.load(Ordering::SeqCst);
        for _ in 0..3 {
            store.ping().await.unwrap();
        }
        assert_eq!(disk.written.load(Ordering::SeqCst), written);
    });
}

/// Operations of every kind queued together, with a panic among them that
/// makes the store thread apply the rest again in a fresh transaction:
/// each caller gets its own operation's answer, as of the queue's order.
#[test]
fn a_mixed_group_answers_each_caller_with_its_own_result() {
    let disk = SmallDisk::with_capacity(64 << 20);
    let (store, pump) = store_on(&disk, 0);
    run(&store, pump, async {
        let inbox = inbox_of_new_user(&store).await;
        let (user, archive) = {
            let reader = store.read().unwrap();
            let user = reader.user("alice").unwrap().unwrap().id;
            (user, reader.mailbox_id(user, "Archive").unwrap().unwrap())
        };
        for size in [10, 20] {
            append(&store, inbox, size).await.unwrap();
        }
        let blob = store.write_blob(None, 0, vec![b'y'; 30]).await.unwrap();
        // Each request is sent when first polled, and `zip` polls in
        // order: they queue in this order before any is answered.
        let created = store.create_mailbox(user, "Projects".into(), None);
        let flagged = store.set_flags(inbox, UidSet(vec![(1, 1)]), deleted());
        let panicking = store.execute(Op::Panic);
        let copied = store.copy(inbox, archive, UidSet(vec![(1, 2)]), false);
        let expunged = store.expunge(inbox, None);
        let appended = store.append(inbox, vec![message_in(blob, 30)]);
        let written = store.write_blob(None, 0, b"more".to_vec());
        use smol::future::zip;
        let (created, (flagged, (panicking, (copied, (expunged, (appended, written)))))) =
            zip(created, zip(flagged, zip(panicking, zip(copied, zip(expunged, zip(appended, written)))))).await;
        let reader = store.read().unwrap();
        assert_eq!(reader.mailbox_id(user, "Projects").unwrap(), Some(created.unwrap()));
        let modseq = reader.mailbox(inbox).unwrap().unwrap().highest_modseq;
        assert_eq!(flagged.unwrap(), Stored { modseq: modseq - 2, changed: 1, modified: Vec::new() });
        assert!(matches!(panicking, Err(StoreError::Bug(ref text)) if text.contains("deliberate")), "{panicking:?}");
        let uid_validity = reader.mailbox(archive).unwrap().unwrap().uid_validity;
        assert_eq!(copied.unwrap(), Copied { uid_validity, source: vec![1, 2], first_uid: 1 });
        assert_eq!(expunged.unwrap(), Expunged { uids: vec![1] });
        let uid_validity = reader.mailbox(inbox).unwrap().unwrap().uid_validity;
        assert_eq!(appended.unwrap(), Appended { uid_validity, first_uid: 3, last_uid: 3 });
        assert!(written.unwrap() > blob);
        assert_eq!(reader.messages().unwrap().uids(inbox).unwrap(), [2, 3]);
        assert!(check_database(&store.database()).unwrap().is_clean());
    });
}

/// Damages a database on purpose, one way per call, and expects `check` to
/// say so.
#[test]
fn check_finds_each_kind_of_damage() {
    use super::schema::*;
    use redb::ReadableTable;

    type Damage = fn(&redb::WriteTransaction, u64);
    let damages: [(&str, &str, Damage); 9] = [
        ("a missing chunk", "chunk(s) expected", |transaction, _| {
            let mut chunks = transaction.open_table(BLOB_CHUNKS).unwrap();
            let first = chunks.first().unwrap().map(|(key, _)| key.value()).unwrap();
            chunks.remove(first).unwrap();
        }),
        ("a missing blob record", "points at missing blob", |transaction, _| {
            let mut blobs = transaction.open_table(BLOBS).unwrap();
            let first = blobs.first().unwrap().map(|(key, _)| key.value()).unwrap();
            blobs.remove(first).unwrap();
        }),
        ("a wrong counter", "counters say", |transaction, inbox| {
            let mut mailboxes = transaction.open_table(MAILBOX_INFO).unwrap();
            let mut record = MailboxRecord::decode(mailboxes.get(inbox).unwrap().unwrap().value()).unwrap();
            record.unseen += 1;
            mailboxes.insert(inbox, record.encode().as_slice()).unwrap();
        }),
        ("a UID at or above UIDNEXT", "not below UIDNEXT", |transaction, inbox| {
            let mut messages = transaction.open_table(MESSAGES).unwrap();
            let (uid, bytes) =
                messages.first().unwrap().map(|(key, value)| (key.value().1, value.value().to_vec())).unwrap();
            messages.remove((inbox, uid)).unwrap();
            messages.insert((inbox, 1_000_000), bytes.as_slice()).unwrap();
        }),
        ("a wrong reference count", "reference count", |transaction, _| {
            let mut blobs = transaction.open_table(BLOBS).unwrap();
            let (id, bytes) = blobs.first().unwrap().map(|(key, value)| (key.value(), value.value().to_vec())).unwrap();
            let mut record = BlobRecord::decode(&bytes).unwrap();
            record.references += 1;
            blobs.insert(id, record.encode().as_slice()).unwrap();
        }),
        ("a stale flag index", "flag index", |transaction, inbox| {
            let mut index = FLAG_INDEX.open(transaction).unwrap();
            index.insert((inbox, 2, 1), ()).unwrap();
        }),
        ("an orphan header summary", "belong to no message", |transaction, inbox| {
            let mut summaries = transaction.open_table(SUMMARIES).unwrap();
            summaries.insert((inbox, 999), b"".as_slice()).unwrap();
        }),
        ("an orphan save date", "save dates belong to no message", |transaction, inbox| {
            let mut save_dates = SAVE_DATES.open(transaction).unwrap();
            save_dates.insert((inbox, 999), 0).unwrap();
        }),
        ("a modseq above HIGHESTMODSEQ", "modseq", |transaction, inbox| {
            let mut messages = transaction.open_table(MESSAGES).unwrap();
            let (uid, bytes) =
                messages.first().unwrap().map(|(key, value)| (key.value().1, value.value().to_vec())).unwrap();
            let mut record = MessageRecord::decode(&bytes).unwrap();
            record.modseq = u64::MAX / 2;
            messages.insert((inbox, uid), record.encode().as_slice()).unwrap();
        }),
    ];
    for (what, expected, damage) in damages {
        let disk = SmallDisk::with_capacity(64 << 20);
        let (store, pump) = store_on(&disk, 0);
        run(&store, pump, async {
            let inbox = inbox_of_new_user(&store).await;
            for size in [10, 9000, 20_000] {
                append(&store, inbox, size).await.unwrap();
            }
            assert!(check_database(&store.database()).unwrap().is_clean(), "clean before {what}");
            let database = store.database();
            let transaction = database.begin_write().unwrap();
            damage(&transaction, inbox);
            transaction.commit().unwrap();
            let report = check_database(&database).unwrap();
            assert!(!report.is_clean(), "{what} went unnoticed");
            let summary = report.summary();
            assert!(summary.contains(expected), "{what}: {summary}");
        });
    }
}

/// A message stored before roost kept MIME structures (an empty structure
/// in its blob record, as `append` above stores) still gets one: FETCH and
/// SEARCH re-parse it from its chunks.
#[test]
fn a_message_stored_without_a_structure_gets_one_from_its_bytes() {
    let disk = SmallDisk::with_capacity(64 << 20);
    let (store, pump) = store_on(&disk, 0);
    run(&store, pump, async {
        let inbox = inbox_of_new_user(&store).await;
        let mut text =
            b"Subject: old\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n".to_vec();
        // A second part bigger than one read piece, so the re-parse streams.
        text.extend_from_slice(b"Content-Type: text/html\r\n\r\n");
        text.extend(std::iter::repeat_n(b'x', PIECE as usize + 100));
        text.extend_from_slice(b"\r\n--b--\r\n");
        let blob = store.write_blob(None, 0, text.clone()).await.unwrap();
        let message = NewMessage {
            blob,
            size: text.len() as u64,
            header_size: 0,
            structure: Vec::new(),
            summary: None,
            preview: None,
            flags: Flags::default(),
            keywords: Vec::new(),
            internal_date: DateTime::now(),
        };
        let Appended { first_uid, .. } = store.append(inbox, vec![message]).await.unwrap();
        let reader = store.read().unwrap();
        let record = reader.messages().unwrap().get(inbox, first_uid).unwrap().unwrap();
        let blobs = reader.blobs().unwrap();
        let mut cursor = blobs.cursor();
        let blob_record = cursor.get(record.blob).unwrap().clone();
        assert!(blob_record.structure.is_empty());
        let structure = super::structure_of(&record, &blob_record, &reader.chunks().unwrap()).unwrap();
        assert_eq!(structure.parts.len(), 3);
        let html = &structure.parts[2];
        assert_eq!(html.body_end - html.body_start, PIECE + 100);
        assert_eq!(structure.envelope(0).and_then(|envelope| envelope.subject.clone()), Some(b"old".to_vec()));
    });
}

/// LMTP to several users: one blob, one reference per INBOX, and the count
/// stays right through COPY, MOVE and EXPUNGE until the last copy frees it.
#[test]
fn a_delivery_to_several_users_is_stored_once_and_counted_right() {
    let disk = SmallDisk::with_capacity(64 << 20);
    let (store, pump) = store_on(&disk, 0);
    run(&store, pump, async {
        let mut inboxes = Vec::new();
        let mut archives = Vec::new();
        for name in ["alice", "bob", "carol"] {
            store.execute(Op::AddUser { name: name.into(), password_hash: "x".into() }).await.unwrap();
            let reader = store.read().unwrap();
            let user = reader.user(name).unwrap().unwrap();
            inboxes.push(reader.mailbox_id(user.id, INBOX).unwrap().unwrap());
            archives.push(reader.mailbox_id(user.id, "Archive").unwrap().unwrap());
        }
        let text = b"Subject: family\r\n\r\nhello\r\n".to_vec();
        let blob = store.write_blob(None, 0, text.clone()).await.unwrap();
        let message = NewMessage {
            blob,
            size: text.len() as u64,
            header_size: 19,
            structure: Vec::new(),
            summary: None,
            preview: None,
            flags: Flags::default(),
            keywords: Vec::new(),
            internal_date: DateTime::now(),
        };
        // A mailbox named twice is a caller's bug, refused before any write.
        let twice = store.deliver(message.clone(), vec![inboxes[0], inboxes[0]]).await;
        assert!(matches!(twice, Err(StoreError::Bug(_))));
        let delivered = store.deliver(message, inboxes.clone()).await.unwrap();
        assert_eq!(delivered, Delivered { uids: vec![1, 1, 1], refused: Vec::new() });

        let references = |store: &Store| store.read().unwrap().blob(blob).unwrap().map(|record| record.references);
        let clean = |store: &Store| {
            let report = check_database(&store.database()).unwrap();
            assert!(report.is_clean(), "{}", report.summary());
            report
        };
        assert_eq!(references(&store), Some(3));
        assert_eq!(clean(&store).blobs, 1);

        let store: &Store = &store;
        let delete_all = |mailbox: u64| async move {
            let all = UidSet(vec![(1, u32::MAX)]);
            store.set_flags(mailbox, all, deleted()).await.unwrap();
            store.expunge(mailbox, None).await.unwrap()
        };
        // COPY adds a reference; MOVE adds one and drops one.
        let all = UidSet(vec![(1, 1)]);
        store.copy(inboxes[0], archives[0], all.clone(), false).await.unwrap();
        assert_eq!(references(store), Some(4));
        store.copy(inboxes[1], archives[1], all, true).await.unwrap();
        assert_eq!(references(store), Some(4));
        clean(store);
        // EXPUNGE of one copy drops one reference and keeps the bytes.
        assert_eq!(delete_all(inboxes[0]).await, Expunged { uids: vec![1] });
        assert_eq!(references(store), Some(3));
        clean(store);
        for mailbox in [archives[0], archives[1], inboxes[2]] {
            delete_all(mailbox).await;
        }
        // The last copy gone: the blob and its chunks are freed.
        assert_eq!(references(store), None);
        let report = clean(store);
        assert_eq!((report.blobs, report.messages), (0, 0));
        assert!(store.read().unwrap().chunk_summary().unwrap().is_empty());
    });
}

#[test]
fn a_uid_list_read_in_steps_is_taken_only_if_nothing_changed_since() {
    let disk = SmallDisk::with_capacity(1 << 30);
    let (store, pump) = store_on(&disk, 0);
    run(&store.clone(), pump, async move {
        let inbox = inbox_of_new_user(&store).await;
        const BATCH: usize = 4;
        let count = BATCH * 2 + 3;
        for _ in 0..count {
            append(&store, inbox, 10).await.unwrap();
        }
        // Read in three batches; nothing changed since: it becomes the state.
        let preloaded = store.preload_in(inbox, BATCH).await.unwrap().expect("the hub does not hold it yet");
        assert_eq!(preloaded.uids.len(), count);
        assert_eq!(preloaded.uids, (1..=count as u32).collect::<Vec<_>>());
        {
            let reader = store.read().unwrap();
            let mut hub = store.hub().borrow_mut();
            let state = hub.watch(inbox, &reader, Some(preloaded)).unwrap();
            assert_eq!(state.uids.len(), count);
        }
        store.hub().borrow_mut().unwatch(inbox);
        store.hub().borrow_mut().keep(0);
        assert!(store.hub().borrow().get(inbox).is_none());
        // A message arrives after the list was read: the stale list is not
        // taken, the state is read again and holds the new message.
        let stale = store.preload_in(inbox, BATCH).await.unwrap().expect("released above");
        let newest = append(&store, inbox, 10).await.unwrap();
        let reader = store.read().unwrap();
        let mut hub = store.hub().borrow_mut();
        let state = hub.watch(inbox, &reader, Some(stale)).unwrap();
        assert_eq!(state.uids.last().copied(), Some(newest));
        assert_eq!(state.uids.len(), count + 1);
    });
}

#[test]
fn the_login_history_merges_alike_logins_stays_bounded_and_goes_with_its_user() {
    let disk = SmallDisk::with_capacity(64 << 20);
    let (store, pump) = store_on(&disk, 0);
    run(&store, pump, async {
        inbox_of_new_user(&store).await;
        let id = store.read().unwrap().user("alice").unwrap().unwrap().id;
        let entry = |address: &str, outcome: LoginOutcome, last: i64| LoginEntry {
            first: last,
            last,
            count: 1,
            outcome,
            address: address.into(),
            device: String::new(),
            device_source: DeviceSource::None,
            tls: true,
        };
        let record = |entry: LoginEntry| Op::RecordLogin { user: id, entry, keep: 3 };
        let wrong = LoginOutcome::Failure(FailureReason::WrongPassword);
        // Alike within the hour: one entry, counted.
        store.execute(record(entry("192.0.2.1", LoginOutcome::Success, 1000))).await.unwrap();
        store.execute(record(entry("192.0.2.1", LoginOutcome::Success, 1500))).await.unwrap();
        store.execute(record(entry("192.0.2.1", wrong, 1600))).await.unwrap();
        // Alike but more than an hour later: a new entry.
        store.execute(record(entry("192.0.2.1", LoginOutcome::Success, 9000))).await.unwrap();
        let history = store.read().unwrap().login_history(id).unwrap();
        let summary: Vec<(i64, i64, u32)> =
            history.iter().map(|entry| (entry.first, entry.last, entry.count)).collect();
        assert_eq!(summary, [(9000, 9000, 1), (1600, 1600, 1), (1000, 1500, 2)]);
        // Bounded: the oldest goes.
        store.execute(record(entry("192.0.2.2", LoginOutcome::Success, 9100))).await.unwrap();
        let history = store.read().unwrap().login_history(id).unwrap();
        assert_eq!(history.len(), 3);
        assert_eq!(history[0].address, "192.0.2.2");
        assert_eq!(history[2].last, 1600);
        // Nothing is recorded for a user id that does not exist.
        store.execute(Op::RecordLogin { user: id + 1, entry: entry("192.0.2.3", wrong, 1), keep: 3 }).await.unwrap();
        assert!(store.read().unwrap().login_history(id + 1).unwrap().is_empty());
        // Devices, settings and history go with the user.
        let device =
            DeviceRecord { salt: vec![1], hash: vec![2], created: 3, last_used: 0, last_address: String::new() };
        let add = Op::AddDevice { user: "alice".into(), device: "Phone".into(), record: device.clone() };
        store.execute(add.clone()).await.unwrap();
        assert_eq!(store.execute(add).await, Err(StoreError::DeviceExists));
        let used = Op::DeviceUsed { user: id, device: "Phone".into(), when: 77, address: "192.0.2.9".into() };
        store.execute(used).await.unwrap();
        store.execute(Op::SetDeviceOnly { user: "alice".into(), on: true }).await.unwrap();
        let reader = store.read().unwrap();
        let devices = reader.devices(id).unwrap();
        assert_eq!((devices[0].1.last_used, devices[0].1.last_address.as_str()), (77, "192.0.2.9"));
        assert!(reader.user_settings(id).unwrap().device_only);
        drop(reader);
        store.execute(Op::DeleteUser { name: "alice".into() }).await.unwrap();
        let reader = store.read().unwrap();
        assert!(reader.devices(id).unwrap().is_empty());
        assert!(!reader.user_settings(id).unwrap().device_only);
        assert!(reader.login_history(id).unwrap().is_empty());
        drop(reader);
        let delete = Op::DeleteDevice { user: "alice".into(), device: "Phone".into() };
        assert_eq!(store.execute(delete).await, Err(StoreError::NoSuchUser));
    });
}

#[test]
fn known_logins_keep_the_most_recent_per_user_and_go_with_the_user() {
    let disk = SmallDisk::with_capacity(64 << 20);
    let (store, pump) = store_on(&disk, 0);
    run(&store, pump, async {
        inbox_of_new_user(&store).await;
        let alice = store.read().unwrap().user("alice").unwrap().unwrap().id;
        let total = schema::KNOWN_PER_USER as u64 + 8;
        for index in 0..total {
            let device = (index % 2 == 0).then(|| format!("device {index}"));
            let op =
                Op::RecordKnownLogin { user: alice, address: format!("192.0.2.{index}"), device, at: 1000 + index };
            store.execute(op).await.unwrap();
        }
        // Seen again, later: kept although it was among the first.
        store
            .execute(Op::RecordKnownLogin { user: alice, address: "192.0.2.0".into(), device: None, at: 5000 })
            .await
            .unwrap();
        store.execute(Op::RecordAlert { user: alice, kind: 3, at: 7000 }).await.unwrap();
        let known = store.read().unwrap().known_logins(alice).unwrap();
        assert_eq!(known.addresses.len(), schema::KNOWN_PER_USER);
        assert!(known.addresses.contains(&("192.0.2.0".to_string(), 5000)));
        assert!(!known.addresses.iter().any(|(address, _)| address == "192.0.2.1"), "the least recent went");
        assert!(known.addresses.contains(&(format!("192.0.2.{}", total - 1), 1000 + total - 1)));
        assert_eq!(known.devices.len(), (total as usize).div_ceil(2).min(schema::KNOWN_PER_USER));
        assert_eq!(store.read().unwrap().alert_sent(alice, 3).unwrap(), Some(7000));
        assert_eq!(store.read().unwrap().alert_sent(alice, 1).unwrap(), None);
        store.execute(Op::DeleteUser { name: "alice".into() }).await.unwrap();
        assert_eq!(store.read().unwrap().known_logins(alice).unwrap(), KnownLogins::default());
        assert_eq!(store.read().unwrap().alert_sent(alice, 3).unwrap(), None);
    });
}

/// RFC 8514 save dates live in their own table: every way a message comes
/// into a mailbox writes one (a copy its own), and every way it goes
/// removes it.
#[test]
fn save_dates_come_and_go_with_their_messages() {
    let disk = SmallDisk::with_capacity(64 << 20);
    let (store, pump) = store_on(&disk, 0);
    run(&store, pump, async {
        let inbox = inbox_of_new_user(&store).await;
        let before = DateTime::now().unix;
        for size in [10, 20, 30] {
            append(&store, inbox, size).await.unwrap();
        }
        let archive = {
            let reader = store.read().unwrap();
            let user = reader.user("alice").unwrap().unwrap();
            reader.mailbox_id(user.id, "Archive").unwrap().unwrap()
        };
        store.copy(inbox, archive, UidSet(vec![(1, 2)]), false).await.unwrap();
        store.copy(inbox, archive, UidSet(vec![(3, 3)]), true).await.unwrap();
        let reader = store.read().unwrap();
        assert_eq!(reader.save_date_uids(inbox).unwrap(), [1, 2]);
        assert_eq!(reader.save_date_uids(archive).unwrap(), [1, 2, 3]);
        let mut cursor = reader.save_dates(archive, 1, 3).unwrap();
        for uid in 1..=3 {
            let saved = cursor.find(uid).unwrap().expect("a save date");
            assert!(saved >= before && saved <= DateTime::now().unix);
            // Asked again (two SAVED* keys of one message): the same.
            assert_eq!(cursor.find(uid).unwrap(), Some(saved));
        }
        // Asked past the end, or for a UID skipped over: none.
        assert_eq!(cursor.find(9).unwrap(), None);
        drop((cursor, reader));
        assert!(check_database(&store.database()).unwrap().is_clean());
        let name = {
            let reader = store.read().unwrap();
            reader.mailbox(archive).unwrap().unwrap().name
        };
        let user = store.read().unwrap().user("alice").unwrap().unwrap().id;
        store.execute(Op::DeleteMailbox { user, name }).await.unwrap();
        assert!(store.read().unwrap().save_date_uids(archive).unwrap().is_empty());
        assert!(check_database(&store.database()).unwrap().is_clean());
    });
}

/// What a save date costs per message, kept in its own table (chosen)
/// against a wider message record (8 more bytes in every record that
/// every FETCH FLAGS reads). Run by hand:
/// `cargo test --release --bin roost save_date_cost -- --ignored --nocapture`.
#[test]
#[ignore = "a cost measurement; run by hand"]
fn save_date_cost() {
    use super::schema::*;
    const COUNT: u32 = 100_000;
    let directory = std::env::temp_dir().join(format!("roost-save-date-cost-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let record = MessageRecord {
        blob: 1,
        internal_date: DateTime::now(),
        size: 5000,
        flags: Flags::SEEN,
        keywords: 0,
        modseq: 7,
    };
    let narrow = record.encode();
    let mut wide = narrow.clone();
    wide.extend_from_slice(&DateTime::now().unix.to_le_bytes());
    let build = |label: &str, value: &[u8], save_dates: bool| {
        let path = directory.join(format!("{label}.redb"));
        let _ = std::fs::remove_file(&path);
        let mut database = redb::Database::create(&path).unwrap();
        let started = std::time::Instant::now();
        let transaction = database.begin_write().unwrap();
        {
            let mut messages = transaction.open_table(MESSAGES).unwrap();
            let mut dates = SAVE_DATES.open(&transaction).unwrap();
            for uid in 1..=COUNT {
                messages.insert((1, uid), value).unwrap();
                if save_dates {
                    dates.insert((1, uid), 1_700_000_000 + i64::from(uid)).unwrap();
                }
            }
        }
        transaction.commit().unwrap();
        let written = started.elapsed();
        database.compact().unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        // A FETCH FLAGS of every message: read and decode each record.
        let started = std::time::Instant::now();
        let transaction = database.begin_read().unwrap();
        let messages = transaction.open_table(MESSAGES).unwrap();
        let mut seen = 0u32;
        for entry in messages.range((1, 0)..=(1, u32::MAX)).unwrap() {
            let (_, value) = entry.unwrap();
            let bytes = value.value();
            let decoded = MessageRecord::decode(&bytes[..narrow.len()]).unwrap();
            seen += u32::from(decoded.flags.contains(Flags::SEEN));
        }
        assert_eq!(seen, COUNT);
        let scanned = started.elapsed();
        println!(
            "{label}: {size} bytes ({:.1} per message), insert {:?}, FETCH FLAGS scan {:?}",
            size as f64 / f64::from(COUNT),
            written,
            scanned
        );
        size
    };
    let base = build("record v1 (today)", &narrow, false);
    let table = build("v1 + save_dates table", &narrow, true);
    let wider = build("record + 8 bytes", &wide, false);
    println!(
        "per message: table {:+.1} bytes, wider record {:+.1} bytes",
        (table as f64 - base as f64) / f64::from(COUNT),
        (wider as f64 - base as f64) / f64::from(COUNT)
    );
    let _ = std::fs::remove_dir_all(&directory);
}

/// A store on a disk that never fills, for cost measurements.
pub(super) fn unbounded_store() -> (std::sync::Arc<SmallDisk>, Rc<Store>, Pump) {
    let disk = SmallDisk::with_capacity(u64::MAX / 2);
    let (store, pump) = store_on(&disk, 0);
    (disk, store, pump)
}

/// Appends `rounds` groups of `each` messages of `size` bytes, one group
/// a commit, to each of `targets` in turn (cost measurements).
pub(super) async fn fill(store: &Store, targets: &[u64], rounds: usize, each: usize, size: usize) {
    for round in 0..rounds {
        let mut messages = Vec::with_capacity(each);
        for _ in 0..each {
            let blob = store.write_blob(None, 0, vec![b'y'; size]).await.unwrap();
            messages.push(message_in(blob, size));
        }
        store.append(targets[round % targets.len()], messages).await.unwrap();
    }
}

/// Runs `work` and prints what it cost `disk`.
async fn cost<T>(disk: &SmallDisk, what: &str, work: impl std::future::Future<Output = Result<T, StoreError>>) {
    use std::sync::atomic::Ordering::SeqCst;
    let (used, written) = (disk.used(), disk.written.load(SeqCst));
    work.await.unwrap();
    println!(
        "{what}: file {} KiB, new blocks {} KiB, written {} KiB",
        disk.bytes.lock().unwrap().len() / 1024,
        (disk.used() - used) / 1024,
        (disk.written.load(SeqCst) - written) / 1024
    );
}

/// What delete commits cost on the disk (new blocks: where the sparse file
/// had holes; written: every byte redb wrote). Run by hand:
/// `cargo test --lib store::tests::measure_delete_commits -- --ignored --nocapture`.
#[test]
#[ignore = "a cost measurement; run by hand"]
fn measure_delete_commits() {
    let (disk, store, pump) = unbounded_store();
    run(&store, pump, async {
        let inbox = inbox_of_new_user(&store).await;
        let user = store.read().unwrap().user("alice").unwrap().unwrap().id;
        let trash = store.create_mailbox(user, "Big".into(), None).await.unwrap();
        fill(&store, &[inbox, trash], 60, 50, 20_000).await;
        println!("database of 3000 messages of 20 KB: used {} KiB", disk.used() / 1024);
        cost(&disk, "STORE \\Deleted on 1", store.set_flags(inbox, UidSet(vec![(1, 1)]), deleted())).await;
        cost(&disk, "EXPUNGE of 1", store.expunge(inbox, None)).await;
        cost(&disk, "STORE \\Deleted on 300", store.set_flags(inbox, UidSet(vec![(2, 301)]), deleted())).await;
        cost(&disk, "EXPUNGE of 300", store.expunge(inbox, None)).await;
        cost(&disk, "DELETE of a mailbox of 1500", store.execute(Op::DeleteMailbox { user, name: "Big".into() })).await;
        cost(&disk, "user del (1199 messages left)", store.execute(Op::DeleteUser { name: "alice".into() })).await;
    });
}

/// Issue 16: another program filled the disk to the last byte. New mail
/// is refused as before, but deleting works: STORE \Deleted, EXPUNGE,
/// DELETE of a mailbox and `user del` commit on the ballast's room, and
/// nothing else is lost. Without the ballast every one of them was refused
/// (NoSpace: the writer will not let redb meet ENOSPC).
#[test]
fn deleting_works_at_zero_bytes_free() {
    use std::sync::atomic::Ordering::SeqCst;
    let disk = SmallDisk::with_capacity(64 << 20);
    let ballast = ballast::Ballast::new(std::sync::Arc::new(DiskBallast(disk.clone())), 2 << 20);
    let measured = disk.clone();
    let (store, pump) =
        Store::open_with_ballast(Shared(disk.clone()), Box::new(move || measured.free()), 4 << 20, Some(ballast))
            .unwrap();
    assert_eq!(disk.ballast.load(SeqCst), 2 << 20, "the ballast is made at start");
    run(&store, pump, async {
        let inbox = inbox_of_new_user(&store).await;
        store.execute(Op::AddUser { name: "bob".into(), password_hash: "x".into() }).await.unwrap();
        let user = store.read().unwrap().user("alice").unwrap().unwrap().id;
        let old = store.create_mailbox(user, "Old".into(), None).await.unwrap();
        let mut bodies = std::collections::BTreeMap::new();
        for index in 0..40u8 {
            let target = if index % 4 == 0 { old } else { inbox };
            let body = vec![b'a' + index % 26; 50_000 + usize::from(index)];
            let blob = store.write_blob(None, 0, body.clone()).await.unwrap();
            let uid = store.append(target, vec![message_in(blob, body.len())]).await.unwrap().first_uid;
            bodies.insert((target, uid), body);
        }
        // Another program takes every free block.
        disk.capacity.store(disk.used() + disk.ballast.load(SeqCst), SeqCst);
        assert_eq!(disk.free(), 0);
        assert_eq!(append(&store, inbox, 1000).await, Err(StoreError::NoSpace), "new mail is refused");

        store.set_flags(inbox, UidSet(vec![(1, 4)]), deleted()).await.expect("STORE \\Deleted at 0 bytes free");
        assert_eq!(disk.ballast.load(SeqCst), 0, "the ballast gave its room");
        let Expunged { uids } = store.expunge(inbox, None).await.expect("EXPUNGE at 0 bytes free");
        assert_eq!(uids, vec![1, 2, 3, 4]);
        store.execute(Op::DeleteMailbox { user, name: "Old".into() }).await.expect("DELETE at 0 bytes free");
        store.execute(Op::DeleteUser { name: "bob".into() }).await.expect("user del at 0 bytes free");
        assert_eq!(append(&store, inbox, 1000).await, Err(StoreError::NoSpace), "still no new mail");

        // Nothing else was lost: every other message reads back whole.
        let reader = store.read().unwrap();
        let messages = reader.messages().unwrap();
        let chunks = reader.chunks().unwrap();
        let mut kept = 0;
        for (&(mailbox, uid), body) in &bodies {
            let record = messages.get(mailbox, uid).unwrap();
            if mailbox == old || uid <= 4 {
                // (INBOX's first four, and all of Old.)
                assert!(record.is_none(), "{mailbox}/{uid} was deleted");
                continue;
            }
            let record = record.expect("an untouched message is kept");
            let mut bytes = Vec::new();
            chunks.read(record.blob, 0, record.size, &mut bytes).unwrap();
            assert_eq!(&bytes, body);
            kept += 1;
        }
        assert_eq!(kept, 26);
        assert!(check::run(&reader).unwrap().is_clean());
        drop((messages, chunks, reader));

        // Room again (the other program's file deleted): new mail works,
        // and the ballast is made again.
        disk.capacity.store(64 << 20, SeqCst);
        append(&store, inbox, 1000).await.unwrap();
        for _ in 0..500 {
            if disk.ballast.load(SeqCst) == 2 << 20 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(disk.ballast.load(SeqCst), 2 << 20, "the ballast is made again");
        assert!(check_database(&store.database()).unwrap().is_clean());
    });
}

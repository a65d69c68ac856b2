//! `roost check`: verifies a database snapshot without changing it.
//!
//! Checks what must hold after any crash: every message's bytes are present
//! and complete, UIDs ascend below UIDNEXT, modseqs stay at or below the
//! mailbox's HIGHESTMODSEQ, the counters kept for STATUS agree with the
//! messages, and every blob's reference count matches the messages that
//! point at it. Access control: the ACL and its by-grantee index hold the
//! same pairs, and no entry or private \Seen names a mailbox, user or
//! message that is gone.

use std::collections::{HashMap, HashSet};

use super::acl::Identifier;
use super::schema::{Flags, INDEXED_FLAGS, PUBLIC_OWNER};
use super::{Reader, StoreError};

#[derive(Debug, Default)]
pub struct Report {
    pub users: usize,
    pub mailboxes: usize,
    pub messages: u64,
    pub blobs: usize,
    pub bytes: u64,
    pub pending_blobs: u64,
    /// What the full-text index holds (`store::fts`), when it is kept.
    pub search_index: Option<String>,
    pub problems: Vec<String>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} user(s), {} mailbox(es), {} message(s), {} blob(s), {} byte(s) of mail",
            self.users, self.mailboxes, self.messages, self.blobs, self.bytes
        );
        if self.pending_blobs > 0 {
            text.push_str(&format!(", {} unfinished upload(s) (discarded at the next start)", self.pending_blobs));
        }
        if let Some(index) = &self.search_index {
            text.push_str(&format!("\nsearch index: {index}"));
        }
        if self.is_clean() {
            text.push_str("\nno damage found");
        } else {
            text.push_str(&format!("\n{} problem(s):", self.problems.len()));
            for problem in &self.problems {
                text.push_str("\n  ");
                text.push_str(problem);
            }
        }
        text
    }
}

pub fn run(reader: &Reader) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let users = reader.users()?;
    report.users = users.len();
    let user_ids: HashSet<u32> = users.iter().map(|(_, user)| user.id).collect();
    let mut references: HashMap<u64, u32> = HashMap::new();
    let messages = reader.messages()?;

    for (id, mailbox) in reader.all_mailboxes()? {
        report.mailboxes += 1;
        let label = format!("mailbox {id} ({:?} of user {})", mailbox.name, mailbox.user_id);
        let mut problem = |text: String| report.problems.push(format!("{label}: {text}"));
        if !user_ids.contains(&mailbox.user_id) && mailbox.user_id != PUBLIC_OWNER {
            problem("belongs to no user".into());
        }
        if reader.mailbox_id(mailbox.user_id, &mailbox.name)? != Some(id) {
            problem("its name does not lead back to it".into());
        }
        let (mut count, mut unseen, mut deleted, mut size) = (0u32, 0u32, 0u32, 0u64);
        let mut deleted_size = 0u64;
        let mut previous = 0u32;
        let index: HashSet<(u64, u32)> = reader.change_index(id)?.into_iter().collect();
        let mut flag_rows: HashSet<(u8, u32)> = HashSet::new();
        for (condition, _, _) in INDEXED_FLAGS {
            for uid in reader.flag_index(id, condition, 0, u32::MAX)? {
                flag_rows.insert((condition, uid?));
            }
        }
        let mut summaries: HashSet<u32> = reader.summary_uids(id)?.into_iter().collect();
        let mut save_dates: HashSet<u32> = reader.save_date_uids(id)?.into_iter().collect();
        let mut expected_rows = 0;
        for entry in messages.range(id, 0, u32::MAX)? {
            let (uid, message) = entry?;
            count += 1;
            for (condition, flag, set) in INDEXED_FLAGS {
                if message.flags.contains(flag) == set {
                    expected_rows += 1;
                    if !flag_rows.contains(&(condition, uid)) {
                        problem(format!("UID {uid} is missing from the flag index"));
                    }
                }
            }
            if uid == 0 || uid <= previous || uid >= mailbox.uid_next {
                problem(format!("UID {uid} out of order or not below UIDNEXT {}", mailbox.uid_next));
            }
            previous = uid;
            summaries.remove(&uid);
            // A message without a save date is one from before they were kept.
            save_dates.remove(&uid);
            if message.modseq > mailbox.highest_modseq {
                problem(format!("UID {uid} has modseq {} above {}", message.modseq, mailbox.highest_modseq));
            }
            if !index.contains(&(message.modseq, uid)) {
                problem(format!("UID {uid} is missing from the change index"));
            }
            let defined = mailbox.keywords.len();
            if defined < 64 && message.keywords >> defined != 0 {
                problem(format!("UID {uid} has keywords the mailbox does not define"));
            }
            if !message.flags.contains(Flags::SEEN) {
                unseen += 1;
            }
            if message.flags.contains(Flags::DELETED) {
                deleted += 1;
                deleted_size += message.size;
            }
            size += message.size;
            *references.entry(message.blob).or_default() += 1;
            match reader.blob(message.blob)? {
                None => problem(format!("UID {uid} points at missing blob {}", message.blob)),
                Some(blob) if blob.size != message.size => problem(format!(
                    "UID {uid} says {} bytes, its blob {} holds {}",
                    message.size, message.blob, blob.size
                )),
                Some(_) => {}
            }
        }
        if !summaries.is_empty() {
            problem(format!("{} header summaries belong to no message", summaries.len()));
        }
        if !save_dates.is_empty() {
            problem(format!("{} save dates belong to no message", save_dates.len()));
        }
        if index.len() != count as usize {
            problem(format!("change index has {} rows for {count} messages", index.len()));
        }
        if flag_rows.len() != expected_rows {
            problem(format!("flag index has {} rows where the messages give {expected_rows}", flag_rows.len()));
        }
        if let Some(text) = super::quota::check_deleted(reader, id, deleted_size)? {
            problem(text);
        }
        let expected = (mailbox.messages, mailbox.unseen, mailbox.deleted, mailbox.size);
        if (count, unseen, deleted, size) != expected {
            problem(format!(
                "counters say messages/unseen/deleted/size {expected:?}, messages give {:?}",
                (count, unseen, deleted, size)
            ));
        }
        report.messages += u64::from(count);
    }

    let chunks: HashMap<u64, (u32, u64)> =
        reader.chunk_summary()?.into_iter().map(|(blob, count, bytes)| (blob, (count, bytes))).collect();
    let mut known_blobs = HashSet::new();
    for (id, blob) in reader.all_blobs()? {
        report.blobs += 1;
        report.bytes += blob.size;
        known_blobs.insert(id);
        let referenced = references.get(&id).copied().unwrap_or(0);
        if referenced != blob.references {
            report.problems.push(format!(
                "blob {id}: reference count {} but {referenced} message(s) point at it",
                blob.references
            ));
        }
        let (count, bytes) = chunks.get(&id).copied().unwrap_or((0, 0));
        if count != blob.chunks() || bytes != blob.size {
            report.problems.push(format!(
                "blob {id}: {} bytes in {} chunk(s) expected, {bytes} bytes in {count} found",
                blob.size,
                blob.chunks()
            ));
        }
        if blob.header_size > blob.size {
            report.problems.push(format!("blob {id}: header longer than the message"));
        }
    }
    check_access(reader, &user_ids, &mut report)?;
    super::quota::check_usage(reader, &mut report.problems)?;
    report.pending_blobs = reader.pending_blobs()?;
    let orphans = chunks.keys().filter(|blob| !known_blobs.contains(blob)).count() as u64;
    if orphans > report.pending_blobs {
        report.problems.push(format!(
            "{} blob(s) have chunks but neither a record nor a pending upload",
            orphans - report.pending_blobs
        ));
    }
    let (summary, problems) = super::fts::verify(reader)?;
    report.search_index = summary;
    report.problems.extend(problems);
    Ok(report)
}

/// The ACL tables and the private \Seen tables (see `store::acl`).
fn check_access(reader: &Reader, user_ids: &HashSet<u32>, report: &mut Report) -> Result<(), StoreError> {
    let (forward, reverse) = reader.acl_rows()?;
    let reverse: HashSet<(u32, u64)> = reverse.into_iter().collect();
    let mut owners: HashMap<u64, Option<u32>> = HashMap::new();
    let mut owner_of = |mailbox: u64| -> Result<Option<u32>, StoreError> {
        if let Some(owner) = owners.get(&mailbox) {
            return Ok(*owner);
        }
        let owner = reader.mailbox(mailbox)?.map(|record| record.user_id);
        owners.insert(mailbox, owner);
        Ok(owner)
    };
    for &(mailbox, key, value) in &forward {
        let label = format!("ACL entry {key} of mailbox {mailbox}");
        let owner = owner_of(mailbox)?;
        if owner.is_none() {
            report.problems.push(format!("{label}: the mailbox does not exist"));
        }
        match Identifier::from_key(key) {
            None => report.problems.push(format!("{label}: names a reserved id")),
            Some(Identifier::User(user)) if !user_ids.contains(&user) => {
                report.problems.push(format!("{label}: names a user who does not exist"));
            }
            Some(Identifier::User(user)) if owner == Some(user) => {
                report.problems.push(format!("{label}: names the mailbox's owner"));
            }
            Some(_) => {}
        }
        if value == 0 || value & !0x07ff_07ff != 0 {
            report.problems.push(format!("{label}: holds no rights or unknown bits ({value:#x})"));
        }
        if !reverse.contains(&(key, mailbox)) {
            report.problems.push(format!("{label}: missing from the by-grantee index"));
        }
    }
    let pairs: HashSet<(u32, u64)> = forward.iter().map(|&(mailbox, key, _)| (key, mailbox)).collect();
    for (key, mailbox) in reverse.difference(&pairs) {
        report.problems.push(format!("by-grantee index row ({key}, mailbox {mailbox}) has no ACL entry"));
    }

    let (rows, by_user) = reader.private_seen_rows()?;
    let messages = reader.messages()?;
    let by_user: HashSet<(u32, u64)> = by_user.into_iter().collect();
    // A private row of `user` on `uid` of `mailbox` names a user, not the
    // owner, and a message that exist.
    let mut check_row = |label: &str, mailbox: u64, user: u32, uid: u32| -> Result<(), StoreError> {
        if !user_ids.contains(&user) {
            report.problems.push(format!("{label}: the user does not exist"));
        }
        if owner_of(mailbox)? == Some(user) {
            report.problems.push(format!("{label}: the user owns the mailbox"));
        }
        if messages.get(mailbox, uid)?.is_none() {
            report.problems.push(format!("{label}: the message does not exist"));
        }
        Ok(())
    };
    for &(mailbox, user, uid) in &rows {
        check_row(&format!("private \\Seen of user {user} on UID {uid} of mailbox {mailbox}"), mailbox, user, uid)?;
    }
    let private = reader.private_change_rows()?;
    for &(mailbox, user, uid, _) in &private.flags {
        check_row(&format!("private flags of user {user} on UID {uid} of mailbox {mailbox}"), mailbox, user, uid)?;
    }
    let mut readers_in: HashSet<(u32, u64)> = HashSet::new();
    let seen_rows: HashSet<(u64, u32, u32)> = rows.into_iter().collect();
    let indexed: HashSet<(u64, u32, u64, u32)> = private.changes.iter().copied().collect();
    for &(mailbox, user, uid, flags) in &private.flags {
        let label = format!("private flags of user {user} on UID {uid} of mailbox {mailbox}");
        if flags.seen != seen_rows.contains(&(mailbox, user, uid)) {
            report.problems.push(format!("{label}: \\Seen disagrees with the private \\Seen rows"));
        }
        if !indexed.contains(&(mailbox, user, flags.modseq, uid)) {
            report.problems.push(format!("{label}: missing from the private change index"));
        }
        match reader.mailbox(mailbox)? {
            Some(record) if flags.modseq == 0 || flags.modseq > record.highest_modseq => {
                report.problems.push(format!("{label}: modseq {} outside 1..={}", flags.modseq, record.highest_modseq));
            }
            _ => {}
        }
        readers_in.insert((user, mailbox));
    }
    let keyed: HashSet<(u64, u32, u64, u32)> =
        private.flags.iter().map(|&(mailbox, user, uid, flags)| (mailbox, user, flags.modseq, uid)).collect();
    for (mailbox, user, modseq, uid) in indexed.difference(&keyed) {
        report.problems.push(format!(
            "private change index row (mailbox {mailbox}, user {user}, modseq {modseq}, UID {uid}) has no private flags row"
        ));
    }
    let with_flags: HashSet<(u64, u32, u32)> =
        private.flags.iter().map(|&(mailbox, user, uid, _)| (mailbox, user, uid)).collect();
    for (mailbox, user, uid) in seen_rows.difference(&with_flags) {
        {
            report
                .problems
                .push(format!("private \\Seen of user {user} on UID {uid} of mailbox {mailbox}: no private flags row"));
        }
    }
    for (user, mailbox) in readers_in.symmetric_difference(&by_user) {
        report.problems.push(format!(
            "private rows of user {user} in mailbox {mailbox}: the per-user table disagrees with the rows"
        ));
    }
    for &(mailbox, (shared, counter)) in &private.shared {
        let label = format!("shared modseq of mailbox {mailbox}");
        match reader.mailbox(mailbox)? {
            None => report.problems.push(format!("{label}: the mailbox does not exist")),
            Some(record) if counter > record.highest_modseq || shared >= counter => {
                report
                    .problems
                    .push(format!("{label}: ({shared}, {counter}) against HIGHESTMODSEQ {}", record.highest_modseq));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

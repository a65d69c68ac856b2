//! Quotas (RFC 9208): what each owner uses, the limits, and the refusal
//! of mail that would go over them.
//!
//! Usage is counted per owner of mailboxes, as RFC 9208's STORAGE (the
//! sum of RFC822.SIZE) and MESSAGE (the number of messages), in
//! [`QUOTA_USAGE`](super::schema::QUOTA_USAGE). A message stored once for
//! several users (an LMTP delivery to the family, a COPY across owners,
//! an alert copied to the admin) counts fully in each mailbox it is in,
//! as Dovecot counts it: what a user sees is what they are charged for,
//! and deleting it frees exactly that, whoever else keeps a copy. The
//! household's mailboxes (`Family/…`) are counted for
//! [`PUBLIC_OWNER`](super::schema::PUBLIC_OWNER), and every owner
//! together (those included) makes the household's total.
//!
//! Kept incrementally, in the transaction that changes the mailboxes:
//! `Tables::save_mailbox` and `Tables::drop_mailbox` (the only writers of
//! a record's `messages` and `size`) add the difference to the owner's
//! row ([`account`]), so no operation can forget it, and deletions
//! (EXPUNGE, DELETE, `user del`, retention) are accounted like appends.
//! A database from before quotas gets its rows built once from the
//! mailbox records when it is first opened for writing ([`prepare`]);
//! `roost check` compares the rows with the records and `--repair`
//! rebuilds them.
//!
//! Limits: the `[quota]` defaults (given to the store by [`configure`]:
//! the store thread reads them when it checks) and per-user overrides
//! kept in the store ([`QUOTA_LIMITS`](super::schema::QUOTA_LIMITS)),
//! set by SETQUOTA or `roost user quota`. 0 means no limit.
//!
//! Enforcement happens in the store thread, in the transaction that adds
//! the mail ([`Admission`]), so two sessions appending at once cannot
//! both slip under a limit: APPEND (MULTIAPPEND and CATENATE are
//! appends), REPLACE (by its net growth), COPY, a MOVE to another owner,
//! and each LMTP recipient (one over quota is refused, the others get the
//! message). A MOVE within one owner changes no usage and is never
//! refused; nothing that deletes is ever refused. A refusal is
//! [`StoreError::OverQuota`] with the reason in plain words. Alerts and
//! quota warnings themselves are delivered past the limit
//! (`Store::deliver_notice`): a full mailbox must still be told it is full.
//!
//! Warnings: when an owner's use (the higher of the two resources, in
//! percent of the limit) reaches a `[quota] warn` level above the one
//! already warned of, the level is recorded in
//! [`QUOTA_WARNED`](super::schema::QUOTA_WARNED) in the same transaction
//! and a [`Change::QuotaWarning`] goes out; `crate::quota_warning` turns
//! it into a notice in the user's INBOX. Falling below a level lowers the
//! record, so the next crossing warns again; a restart does not repeat a
//! warning. A warning whose notice was lost to a crash between the commit
//! and the delivery is not sent again until the next crossing (the notice
//! is not worth a second durable step). The household's total has a
//! limit but no warnings: nobody in particular could act on one.
//!
//! STATUS DELETED-STORAGE (RFC 9208 §4.2, what an EXPUNGE would free) is
//! kept here too, per mailbox, in
//! [`DELETED_SIZES`](super::schema::DELETED_SIZES): `Tables::index_flags`,
//! which sees every message arrive, go, or change its flags, adds or
//! takes off a message's size when it gains or loses \Deleted. A table
//! rather than a field of the mailbox record, whose encoding every reader
//! of the file shares; built once from the flag index for an older file.

use std::sync::RwLock;

use redb::ReadableTable;

use super::ops::Tables;
use super::schema::{
    indexed_condition, Flags, MailboxRecord, MessageRecord, DELETED_SIZES, META, QUOTA_DEFAULT, QUOTA_LIMITS,
    QUOTA_USAGE, RESERVED_IDS,
};
use super::{Change, StoreError};

/// The `[quota]` settings the store enforces (0: no limit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Default per-user limit of bytes (RFC822.SIZE summed).
    pub storage: u64,
    /// Default per-user limit of messages.
    pub messages: u64,
    /// Limits of all owners together.
    pub household_storage: u64,
    pub household_messages: u64,
    /// Percent levels at which the user is warned, ascending.
    pub warn: Vec<u8>,
}

static SETTINGS: RwLock<Settings> =
    RwLock::new(Settings { storage: 0, messages: 0, household_storage: 0, household_messages: 0, warn: Vec::new() });

/// Sets the `[quota]` settings the store enforces. Process-wide, like
/// the expunge history: one server has one store.
pub fn configure(settings: Settings) {
    let mut settings = settings;
    settings.warn.sort_unstable();
    settings.warn.dedup();
    *SETTINGS.write().unwrap_or_else(std::sync::PoisonError::into_inner) = settings;
}

/// What an owner uses (or an operation adds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub messages: u64,
}

impl Usage {
    fn plus(self, other: Usage) -> Usage {
        Usage { bytes: self.bytes.saturating_add(other.bytes), messages: self.messages.saturating_add(other.messages) }
    }
}

/// A user's own limits as set (None: the `[quota]` default; 0: none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Override {
    pub storage: Option<u64>,
    pub messages: Option<u64>,
}

impl Override {
    pub(super) fn from_row(row: (u64, u64)) -> Override {
        let own = |value: u64| (value != QUOTA_DEFAULT).then_some(value);
        Override { storage: own(row.0), messages: own(row.1) }
    }

    fn row(self) -> (u64, u64) {
        (self.storage.unwrap_or(QUOTA_DEFAULT), self.messages.unwrap_or(QUOTA_DEFAULT))
    }

    /// The limits in force under `settings`.
    pub fn limits(self, settings: &Settings) -> Limits {
        Limits {
            storage: self.storage.unwrap_or(settings.storage),
            messages: self.messages.unwrap_or(settings.messages),
        }
    }
}

/// Limits in force (0: no limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub storage: u64,
    pub messages: u64,
}

impl Limits {
    pub fn any(self) -> bool {
        self.storage > 0 || self.messages > 0
    }

    /// The higher of the two resources' use in percent of its limit
    /// (rounded down; 0 without limits).
    pub fn percent(self, usage: Usage) -> u64 {
        let of =
            |used: u64, limit: u64| if limit == 0 { 0 } else { (u128::from(used) * 100 / u128::from(limit)) as u64 };
        of(usage.bytes, self.storage).max(of(usage.messages, self.messages))
    }
}

/// How one limit changes (`roost user quota`, SETQUOTA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    Keep,
    /// Back to the `[quota]` default.
    Default,
    /// This many (bytes or messages); 0: no limit.
    To(u64),
}

/// A user's quota as `roost user quota` and GETQUOTA show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    pub usage: Usage,
    pub own: Override,
    pub limits: Limits,
}

/// `bytes` in words: "512 B", "12.0 KiB", "1.5 GiB".
pub fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut unit = 0;
    while unit + 1 < UNITS.len() && bytes >= 1u64 << (10 * (unit + 2)) {
        unit += 1;
    }
    // Tenths of the unit, rounded down: "9.9 KiB" never reads as a full 10.
    let tenths = u128::from(bytes) * 10 / (1u128 << (10 * (unit + 1)));
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

/// A size as the config and the CLI write it: a number of bytes with an
/// optional unit `K`, `M`, `G` or `T` (powers of 1024, `KiB`/`KB` too).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is not a size like \"2G\", \"500M\" or \"0\""))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use K, M, G or T)")),
    };
    number
        .checked_mul(1 << shift)
        .filter(|bytes| *bytes != QUOTA_DEFAULT)
        .ok_or_else(|| format!("{text:?} is too large"))
}

fn owner_usage(tables: &Tables, owner: u32) -> Result<Usage, StoreError> {
    Ok(tables.quota_usage.get(owner)?.map_or_else(Usage::default, |row| {
        let (bytes, messages) = row.value();
        Usage { bytes, messages }
    }))
}

fn household_usage(tables: &Tables) -> Result<Usage, StoreError> {
    let mut total = Usage::default();
    // A household has a handful of owners: one short walk.
    for row in tables.quota_usage.iter()? {
        let (bytes, messages) = row?.1.value();
        total = total.plus(Usage { bytes, messages });
    }
    Ok(total)
}

fn own_limits(tables: &Tables, user: u32, settings: &Settings) -> Result<Limits, StoreError> {
    let own = tables.quota_limits.get(user)?.map(|row| Override::from_row(row.value())).unwrap_or_default();
    Ok(own.limits(settings))
}

/// Adds the difference between `old` and `new` (a mailbox record before
/// and after a change; None: none) to its owner's usage, and warns if
/// that crossed a level.
pub(super) fn account(
    tables: &mut Tables,
    old: Option<&MailboxRecord>,
    new: Option<&MailboxRecord>,
    changes: &mut Vec<Change>,
) -> Result<(), StoreError> {
    let counts = |record: Option<&MailboxRecord>| record.map_or((0, 0), |r| (r.size, u64::from(r.messages)));
    let owner = match (old, new) {
        (Some(record), _) | (None, Some(record)) => record.user_id,
        (None, None) => return Ok(()),
    };
    let (old_bytes, old_messages) = counts(old);
    let (new_bytes, new_messages) = counts(new);
    if (old_bytes, old_messages) == (new_bytes, new_messages) {
        return Ok(());
    }
    let mut usage = owner_usage(tables, owner)?;
    usage.bytes = (usage.bytes + new_bytes).saturating_sub(old_bytes);
    usage.messages = (usage.messages + new_messages).saturating_sub(old_messages);
    tables.quota_usage.insert(owner, (usage.bytes, usage.messages))?;
    reassess(tables, owner, usage, changes)
}

/// Records the warning level `owner` is at now: higher than the one
/// warned of sends a warning ([`Change::QuotaWarning`]), lower re-arms.
fn reassess(tables: &mut Tables, owner: u32, usage: Usage, changes: &mut Vec<Change>) -> Result<(), StoreError> {
    if owner >= RESERVED_IDS {
        return Ok(());
    }
    let settings = SETTINGS.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    let limits = own_limits(tables, owner, &settings)?;
    let percent = limits.percent(usage);
    let level = settings.warn.iter().copied().filter(|level| u64::from(*level) <= percent).max().unwrap_or(0);
    drop(settings);
    let warned = tables.quota_warned.get(owner)?.map_or(0, |value| value.value());
    if level == warned {
        return Ok(());
    }
    if level == 0 {
        tables.quota_warned.remove(owner)?;
    } else {
        tables.quota_warned.insert(owner, level)?;
    }
    if level > warned {
        changes.push(Change::QuotaWarning { user: owner, percent: level });
    }
    Ok(())
}

/// What one operation adds, owner by owner, checked against the limits
/// before anything is written: an operation that adds to several
/// mailboxes (a delivery to the family) counts each addition on top of
/// the ones before it.
#[derive(Default)]
pub(super) struct Admission {
    owners: Vec<(u32, Usage)>,
    household: Usage,
}

impl Admission {
    /// Admits `add` to `owner`'s usage and `household` to the household's
    /// total (what the operation adds overall: nothing for a MOVE between
    /// owners), or refuses with the reason.
    pub fn admit(&mut self, tables: &Tables, owner: u32, add: Usage, household: Usage) -> Result<(), StoreError> {
        let settings = SETTINGS.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let pending = self.owners.iter().find(|(known, _)| *known == owner).map_or_else(Usage::default, |(_, u)| *u);
        if owner < RESERVED_IDS && (add.bytes > 0 || add.messages > 0) {
            let limits = own_limits(tables, owner, &settings)?;
            let used = owner_usage(tables, owner)?.plus(pending);
            // Worded for whoever reads it: the user, a sharer copying into
            // the owner's folder, or an MTA's bounce.
            refuse_over(limits, used, add, "this account")?;
        }
        let household_limits = Limits { storage: settings.household_storage, messages: settings.household_messages };
        if household_limits.any() && (household.bytes > 0 || household.messages > 0) {
            let used = household_usage(tables)?.plus(self.household);
            refuse_over(household_limits, used, household, "the household (all accounts together)")?;
        }
        match self.owners.iter_mut().find(|(known, _)| *known == owner) {
            Some((_, pending)) => *pending = pending.plus(add),
            None => self.owners.push((owner, add)),
        }
        self.household = self.household.plus(household);
        Ok(())
    }
}

/// [`StoreError::OverQuota`] if `used` plus `add` goes over `limits`.
fn refuse_over(limits: Limits, used: Usage, add: Usage, whose: &str) -> Result<(), StoreError> {
    if limits.storage > 0 && add.bytes > 0 && used.bytes.saturating_add(add.bytes) > limits.storage {
        return Err(StoreError::OverQuota(format!(
            "{whose} would go over its storage limit of {} ({} used, {} more needed)",
            size_text(limits.storage),
            size_text(used.bytes),
            size_text(add.bytes)
        )));
    }
    if limits.messages > 0 && add.messages > 0 && used.messages.saturating_add(add.messages) > limits.messages {
        return Err(StoreError::OverQuota(format!(
            "{whose} would go over its message limit of {} ({} kept, {} more)",
            limits.messages, used.messages, add.messages
        )));
    }
    Ok(())
}

/// Sets user `name`'s own limits; their warning level follows at once.
pub(super) fn set_limits(
    tables: &mut Tables,
    user: u32,
    storage: Setting,
    messages: Setting,
    changes: &mut Vec<Change>,
) -> Result<(), StoreError> {
    let mut own = tables.quota_limits.get(user)?.map(|row| Override::from_row(row.value())).unwrap_or_default();
    let apply = |current: Option<u64>, setting: Setting| match setting {
        Setting::Keep => current,
        Setting::Default => None,
        Setting::To(value) => Some(value.min(QUOTA_DEFAULT - 1)),
    };
    own.storage = apply(own.storage, storage);
    own.messages = apply(own.messages, messages);
    if own == Override::default() {
        tables.quota_limits.remove(user)?;
    } else {
        tables.quota_limits.insert(user, own.row())?;
    }
    let usage = owner_usage(tables, user)?;
    reassess(tables, user, usage, changes)
}

/// Drops a deleted user's rows (their usage is zero by then).
pub(super) fn forget_user(tables: &mut Tables, user: u32) -> Result<(), StoreError> {
    tables.quota_usage.remove(user)?;
    tables.quota_limits.remove(user)?;
    tables.quota_warned.remove(user)?;
    Ok(())
}

/// The key in META that says the usage rows are kept (absent in a
/// database from before quotas).
const KEPT: &str = "quota_usage_kept";

/// Builds the usage rows from the mailbox records if this database has
/// not kept them yet (one pass over the records, not the messages).
pub(super) fn prepare(tables: &mut Tables) -> Result<(), StoreError> {
    if tables.meta.get(DELETED_KEPT)?.is_none() {
        let mailboxes = rebuild_deleted(tables)?;
        log::info!("quota: sizes of \\Deleted messages counted in {mailboxes} mailbox(es)");
        tables.meta.insert(DELETED_KEPT, 1)?;
    }
    if tables.meta.get(KEPT)?.is_some() {
        return Ok(());
    }
    let rebuilt = rebuild(tables)?;
    log::info!("quota: usage counted for {rebuilt} owner(s) from the mailbox records");
    tables.meta.insert(KEPT, 1)?;
    Ok(())
}

/// The key in META that says the \Deleted sizes are kept.
const DELETED_KEPT: &str = "deleted_sizes_kept";

/// Adds (`deleted`) or takes off `size` bytes of `mailbox`'s \Deleted
/// messages (`Tables::index_flags`, when a message gains or loses
/// \Deleted, arrives with it or goes).
pub(super) fn count_deleted(tables: &mut Tables, mailbox: u64, size: u64, deleted: bool) -> Result<(), StoreError> {
    let current = tables.deleted_sizes.get(mailbox)?.map_or(0, |value| value.value());
    let next = if deleted { current.saturating_add(size) } else { current.saturating_sub(size) };
    if next == 0 {
        tables.deleted_sizes.remove(mailbox)?;
    } else {
        tables.deleted_sizes.insert(mailbox, next)?;
    }
    Ok(())
}

/// Rewrites the \Deleted sizes from the flag index (one lookup per
/// \Deleted message, usually few); answers how many mailboxes have some.
fn rebuild_deleted(tables: &mut Tables) -> Result<usize, StoreError> {
    let code =
        indexed_condition(Flags::DELETED, true).ok_or_else(|| StoreError::Bug("\\Deleted not indexed".into()))?;
    let mut sizes: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
    for row in tables.flag_index.iter()? {
        let (mailbox, condition, uid) = row?.0.value();
        if condition != code {
            continue;
        }
        if let Some(bytes) = tables.messages.get((mailbox, uid))? {
            *sizes.entry(mailbox).or_default() += MessageRecord::decode(bytes.value())?.size;
        }
    }
    tables.deleted_sizes.retain(|_, _| false)?;
    for (mailbox, size) in &sizes {
        tables.deleted_sizes.insert(*mailbox, *size)?;
    }
    Ok(sizes.len())
}

/// Rewrites every usage row from the mailbox records; answers how many
/// owners have mail.
pub(super) fn rebuild(tables: &mut Tables) -> Result<usize, StoreError> {
    let sums = sums_of(tables.mailbox_info.iter()?.map(|row| {
        let (_, value) = row?;
        MailboxRecord::decode(value.value())
    }))?;
    tables.quota_usage.retain(|_, _| false)?;
    for (owner, usage) in &sums {
        tables.quota_usage.insert(*owner, (usage.bytes, usage.messages))?;
    }
    Ok(sums.len())
}

/// Per-owner sums of mailbox records (owners without mail left out).
pub(super) fn sums_of(
    records: impl Iterator<Item = Result<MailboxRecord, StoreError>>,
) -> Result<std::collections::BTreeMap<u32, Usage>, StoreError> {
    let mut sums = std::collections::BTreeMap::new();
    for record in records {
        let record = record?;
        if record.messages == 0 && record.size == 0 {
            continue;
        }
        let entry: &mut Usage = sums.entry(record.user_id).or_default();
        *entry = entry.plus(Usage { bytes: record.size, messages: u64::from(record.messages) });
    }
    Ok(sums)
}

impl super::Reader {
    /// Whether this database keeps usage rows (a database from before
    /// quotas, read without being opened for writing, does not).
    fn usage_kept(&self) -> Result<bool, StoreError> {
        Ok(self.table(META)?.get(KEPT)?.is_some())
    }

    /// The usage rows, or the sums of the mailbox records where the
    /// database does not keep them yet.
    fn usage_rows(&self) -> Result<std::collections::BTreeMap<u32, Usage>, StoreError> {
        if !self.usage_kept()? {
            return sums_of(self.all_mailboxes()?.into_iter().map(|(_, record)| Ok(record)));
        }
        let mut rows = std::collections::BTreeMap::new();
        if let Some(table) = self.table_if_any(QUOTA_USAGE)? {
            for row in table.iter()? {
                let (owner, value) = row?;
                let (bytes, messages) = value.value();
                rows.insert(owner.value(), Usage { bytes, messages });
            }
        }
        Ok(rows)
    }

    /// The bytes of `mailbox`'s \Deleted messages (STATUS DELETED-STORAGE):
    /// what an EXPUNGE would free. Summed from the flag index in a
    /// database from before the sizes were kept.
    pub fn deleted_storage(&self, mailbox: u64) -> Result<u64, StoreError> {
        if self.table(META)?.get(DELETED_KEPT)?.is_some() {
            return Ok(match self.table_if_any(DELETED_SIZES)? {
                Some(table) => table.get(mailbox)?.map_or(0, |value| value.value()),
                None => 0,
            });
        }
        let code = indexed_condition(Flags::DELETED, true).unwrap_or(3);
        let messages = self.messages()?;
        let mut total = 0;
        for uid in self.flag_index(mailbox, code, 0, u32::MAX)? {
            total += messages.get(mailbox, uid?)?.map_or(0, |message| message.size);
        }
        Ok(total)
    }

    /// What `owner` uses now.
    pub fn quota_usage(&self, owner: u32) -> Result<Usage, StoreError> {
        Ok(self.usage_rows()?.get(&owner).copied().unwrap_or_default())
    }

    /// What every owner together uses now (the household's total).
    pub fn household_usage(&self) -> Result<Usage, StoreError> {
        Ok(self.usage_rows()?.values().fold(Usage::default(), |total, usage| total.plus(*usage)))
    }

    /// `user`'s usage, own limits and limits in force under `settings`.
    pub fn quota(&self, user: u32, settings: &Settings) -> Result<Quota, StoreError> {
        let own = match self.table_if_any(QUOTA_LIMITS)? {
            Some(table) => table.get(user)?.map(|row| Override::from_row(row.value())).unwrap_or_default(),
            None => Override::default(),
        };
        Ok(Quota { usage: self.quota_usage(user)?, own, limits: own.limits(settings) })
    }
}

/// `roost check`: every usage row equals the sum of its owner's mailbox
/// records, and no owner with mail lacks one.
pub(super) fn check_usage(reader: &super::Reader, problems: &mut Vec<String>) -> Result<(), StoreError> {
    if !reader.usage_kept()? {
        return Ok(());
    }
    let expected = sums_of(reader.all_mailboxes()?.into_iter().map(|(_, record)| Ok(record)))?;
    let kept = reader.usage_rows()?;
    for owner in expected.keys().chain(kept.keys()).collect::<std::collections::BTreeSet<_>>() {
        let want = expected.get(owner).copied().unwrap_or_default();
        let have = kept.get(owner).copied().unwrap_or_default();
        if want != have {
            problems.push(format!(
                "quota usage of owner {owner}: {} bytes in {} messages recorded, the mailboxes hold {} in {} \
                 (`roost check --repair` recounts it)",
                have.bytes, have.messages, want.bytes, want.messages
            ));
        }
    }
    Ok(())
}

/// `roost check --repair`: recounts every owner's usage from the mailbox
/// records (with the server stopped).
pub(super) fn repair(database: &redb::Database) -> Result<(), StoreError> {
    let transaction = database.begin_write()?;
    {
        let mut tables = Tables::open(&transaction)?;
        rebuild(&mut tables)?;
        tables.meta.insert(KEPT, 1)?;
        rebuild_deleted(&mut tables)?;
        tables.meta.insert(DELETED_KEPT, 1)?;
    }
    let mut transaction = transaction;
    transaction.set_quick_repair(true);
    transaction.commit()?;
    Ok(())
}

/// `roost check`: the \Deleted size kept for `mailbox` equals `expected`,
/// the sum over its \Deleted messages.
pub(super) fn check_deleted(reader: &super::Reader, mailbox: u64, expected: u64) -> Result<Option<String>, StoreError> {
    let kept = reader.deleted_storage(mailbox)?;
    Ok((kept != expected).then(|| {
        format!("\\Deleted messages hold {expected} bytes, {kept} recorded (`roost check --repair` recounts it)")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("64 KiB"), Ok(64 << 10));
        assert_eq!(parse_size("1t"), Ok(1 << 40));
        assert!(parse_size("").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("5X").is_err());
        assert!(parse_size("-5M").is_err());
        assert!(parse_size("99999999999999999999T").is_err());
        assert!(parse_size("16777216T").is_err());
    }

    #[test]
    fn sizes_read_in_words() {
        assert_eq!(size_text(512), "512 B");
        assert_eq!(size_text(1536), "1.5 KiB");
        assert_eq!(size_text(500 << 20), "500.0 MiB");
        assert_eq!(size_text(2 << 30), "2.0 GiB");
        assert_eq!(size_text(10239), "9.9 KiB");
        assert_eq!(size_text(3 << 40), "3.0 TiB");
    }

    #[test]
    fn percent_takes_the_fuller_resource() {
        let limits = Limits { storage: 1000, messages: 10 };
        assert_eq!(limits.percent(Usage { bytes: 500, messages: 9 }), 90);
        assert_eq!(limits.percent(Usage { bytes: 960, messages: 1 }), 96);
        assert_eq!(Limits::default().percent(Usage { bytes: 5, messages: 5 }), 0);
        assert!(!Limits::default().any());
    }

    #[test]
    fn refusals_say_which_limit() {
        let limits = Limits { storage: 1000, messages: 2 };
        assert!(refuse_over(limits, Usage { bytes: 900, messages: 0 }, Usage { bytes: 100, messages: 1 }, "x").is_ok());
        let error = refuse_over(limits, Usage { bytes: 900, messages: 0 }, Usage { bytes: 101, messages: 1 }, "x");
        assert!(matches!(error, Err(StoreError::OverQuota(text)) if text.contains("storage limit")));
        let error = refuse_over(limits, Usage { bytes: 0, messages: 2 }, Usage { bytes: 1, messages: 1 }, "x");
        assert!(matches!(error, Err(StoreError::OverQuota(text)) if text.contains("message limit of 2")));
        // Already over, but adding nothing (a MOVE within the owner): fine.
        assert!(refuse_over(limits, Usage { bytes: 5000, messages: 9 }, Usage::default(), "x").is_ok());
    }

    #[test]
    fn overrides_round_trip_their_row() {
        for own in [
            Override::default(),
            Override { storage: Some(0), messages: None },
            Override { storage: Some(5 << 20), messages: Some(100) },
        ] {
            assert_eq!(Override::from_row(own.row()), own);
        }
        let settings = Settings { storage: 10, messages: 20, ..Settings::default() };
        assert_eq!(
            Override { storage: Some(0), messages: None }.limits(&settings),
            Limits { storage: 0, messages: 20 }
        );
    }
}

/// The accounting and the enforcement through the store's own API.
#[cfg(test)]
mod store_tests {
    use super::super::schema::{DELETED_SIZES, META, QUOTA_LIMITS, QUOTA_USAGE, QUOTA_WARNED};
    use super::super::tests::{append, deleted, message_in, run, store_on, SmallDisk};
    use super::super::{check_database, check_offline, run_offline, Op, Reader, Store, UidSet, INBOX};
    use super::*;

    async fn user(store: &Store, name: &str) -> (u32, u64, u64) {
        store.execute(Op::AddUser { name: name.into(), password_hash: "x".into() }).await.unwrap();
        let reader = store.read().unwrap();
        let id = reader.user(name).unwrap().unwrap().id;
        (id, reader.mailbox_id(id, INBOX).unwrap().unwrap(), reader.mailbox_id(id, "Archive").unwrap().unwrap())
    }

    fn usage(store: &Store, owner: u32) -> Usage {
        store.read().unwrap().quota_usage(owner).unwrap()
    }

    fn clean(store: &Store) {
        let report = check_database(&store.database()).unwrap();
        assert!(report.is_clean(), "{}", report.summary());
    }

    /// A store on a disk with room to spare: only the quota refuses.
    fn roomy_store() -> (std::rc::Rc<Store>, super::super::Pump) {
        store_on(&SmallDisk::with_capacity(64 << 20), 0)
    }

    fn limit(name: &str, storage: u64, messages: u64) -> Op {
        Op::SetQuota { name: name.into(), storage: Setting::To(storage), messages: Setting::To(messages) }
    }

    async fn delivery(store: &Store, size: usize, mailboxes: Vec<u64>) -> Result<super::super::Delivered, StoreError> {
        let blob = store.write_blob(None, 0, vec![b'x'; size]).await.unwrap();
        store.deliver(message_in(blob, size), mailboxes).await
    }

    #[test]
    fn usage_follows_every_change_and_a_shared_message_counts_for_each() {
        let (store, pump) = roomy_store();
        run(&store, pump, async {
            let (alice, alice_inbox, alice_archive) = user(&store, "alice").await;
            let (bob, bob_inbox, _) = user(&store, "bob").await;
            append(&store, alice_inbox, 1000).await.unwrap();
            append(&store, alice_inbox, 500).await.unwrap();
            assert_eq!(usage(&store, alice), Usage { bytes: 1500, messages: 2 });
            // Stored once, counted in each mailbox it is in.
            delivery(&store, 300, vec![alice_inbox, bob_inbox]).await.unwrap();
            assert_eq!(usage(&store, alice), Usage { bytes: 1800, messages: 3 });
            assert_eq!(usage(&store, bob), Usage { bytes: 300, messages: 1 });
            store.copy(alice_inbox, alice_archive, UidSet(vec![(1, 1)]), false).await.unwrap();
            assert_eq!(usage(&store, alice), Usage { bytes: 2800, messages: 4 });
            store.copy(alice_inbox, bob_inbox, UidSet(vec![(2, 2)]), true).await.unwrap();
            assert_eq!(usage(&store, alice), Usage { bytes: 2300, messages: 3 });
            assert_eq!(usage(&store, bob), Usage { bytes: 800, messages: 2 });
            let deleted_storage = |store: &Store, mailbox| store.read().unwrap().deleted_storage(mailbox).unwrap();
            assert_eq!(deleted_storage(&store, alice_inbox), 0);
            store.set_flags(alice_inbox, UidSet(vec![(1, 1)]), deleted()).await.unwrap();
            assert_eq!(deleted_storage(&store, alice_inbox), 1000);
            clean(&store);
            store.expunge(alice_inbox, None).await.unwrap();
            assert_eq!(deleted_storage(&store, alice_inbox), 0);
            assert_eq!(usage(&store, alice), Usage { bytes: 1300, messages: 2 });
            // A \Deleted message copied stays \Deleted: counted in the target too.
            store.set_flags(alice_archive, UidSet(vec![(1, 1)]), deleted()).await.unwrap();
            store.copy(alice_archive, bob_inbox, UidSet(vec![(1, 1)]), false).await.unwrap();
            assert_eq!(deleted_storage(&store, bob_inbox), 1000);
            clean(&store);
            store.execute(Op::DeleteMailbox { user: bob, name: "INBOX".into() }).await.unwrap_err();
            assert_eq!(usage(&store, bob), Usage { bytes: 1800, messages: 3 });
            store.execute(Op::DeleteMailbox { user: alice, name: "Archive".into() }).await.unwrap();
            assert_eq!(usage(&store, alice), Usage { bytes: 300, messages: 1 });
            assert_eq!(store.read().unwrap().household_usage().unwrap(), Usage { bytes: 2100, messages: 4 });
            clean(&store);
            store.execute(Op::DeleteUser { name: "bob".into() }).await.unwrap();
            assert_eq!(usage(&store, bob), Usage::default());
            clean(&store);
        });
    }

    #[test]
    fn limits_refuse_growth_but_never_a_move_within_the_owner_or_a_deletion() {
        let (store, pump) = roomy_store();
        run(&store, pump, async {
            let (alice, inbox, archive) = user(&store, "alice").await;
            let (_, bob_inbox, _) = user(&store, "bob").await;
            store.execute(limit("alice", 2000, 3)).await.unwrap();
            append(&store, inbox, 1500).await.unwrap();
            let refused = append(&store, inbox, 600).await;
            assert!(
                matches!(&refused, Err(StoreError::OverQuota(why)) if why.contains("storage limit")),
                "{refused:?}"
            );
            append(&store, inbox, 500).await.unwrap();
            // Exactly at the limit: a MOVE within alice's mailboxes is fine, a COPY is not.
            store.copy(inbox, archive, UidSet(vec![(1, 1)]), true).await.unwrap();
            let copy = store.copy(archive, inbox, UidSet(vec![(1, 1)]), false).await;
            assert!(matches!(copy, Err(StoreError::OverQuota(_))), "{copy:?}");
            // A delivery refuses the full mailbox only.
            let delivered = delivery(&store, 10, vec![inbox, bob_inbox]).await.unwrap();
            assert_eq!(delivered.refused.len(), 1);
            assert_eq!(delivered.refused[0].0, inbox);
            assert_eq!(delivered.uids.len(), 1);
            let all_refused = delivery(&store, 10, vec![inbox]).await;
            assert!(matches!(all_refused, Err(StoreError::OverQuota(_))));
            // A notice is delivered past the quota.
            let blob = store.write_blob(None, 0, b"notice".to_vec()).await.unwrap();
            store.deliver_notice(message_in(blob, 6), vec![inbox]).await.unwrap();
            assert_eq!(usage(&store, alice), Usage { bytes: 2006, messages: 3 });
            // Deleting always works, and frees room.
            store.set_flags(inbox, UidSet(vec![(1, u32::MAX)]), deleted()).await.unwrap();
            store.expunge(inbox, None).await.unwrap();
            append(&store, inbox, 400).await.unwrap();
            // The message limit: 3 kept (1500 in Archive, 400) + 1 ok, then refused.
            append(&store, inbox, 1).await.unwrap();
            let refused = append(&store, inbox, 1).await;
            assert!(
                matches!(&refused, Err(StoreError::OverQuota(why)) if why.contains("message limit of 3")),
                "{refused:?}"
            );
            // Back to the defaults (none in this process's tests): no limit.
            let op = Op::SetQuota { name: "alice".into(), storage: Setting::Default, messages: Setting::Default };
            store.execute(op).await.unwrap();
            append(&store, inbox, 5000).await.unwrap();
            clean(&store);
        });
    }

    #[test]
    fn a_multiappend_and_a_replace_are_judged_whole() {
        let (store, pump) = roomy_store();
        run(&store, pump, async {
            let (_, inbox, _) = user(&store, "alice").await;
            store.execute(limit("alice", 1000, 0)).await.unwrap();
            let mut messages = Vec::new();
            for _ in 0..3 {
                let blob = store.write_blob(None, 0, vec![b'x'; 400]).await.unwrap();
                messages.push(message_in(blob, 400));
            }
            // 1200 bytes at once: refused whole, nothing stored.
            assert!(matches!(store.append(inbox, messages).await, Err(StoreError::OverQuota(_))));
            assert_eq!(usage(&store, store.read().unwrap().mailbox(inbox).unwrap().unwrap().user_id).messages, 0);
            append(&store, inbox, 900).await.unwrap();
            // A replacement of the same size adds nothing.
            let blob = store.write_blob(None, 0, vec![b'y'; 900]).await.unwrap();
            store.replace(inbox, message_in(blob, 900), inbox, 1).await.unwrap();
            let blob = store.write_blob(None, 0, vec![b'y'; 1001]).await.unwrap();
            assert!(matches!(
                store.replace(inbox, message_in(blob, 1001), inbox, 2).await,
                Err(StoreError::OverQuota(_))
            ));
            clean(&store);
        });
    }

    #[test]
    fn warnings_go_out_once_per_upward_crossing() {
        configure(Settings { warn: vec![50, 90], ..Settings::default() });
        let (store, pump) = roomy_store();
        run(&store, pump, async {
            let (alice, inbox, _) = user(&store, "alice").await;
            store.execute(limit("alice", 1000, 0)).await.unwrap();
            let warned = |store: &Store| store.hub().borrow_mut().take_quota_warnings();
            append(&store, inbox, 400).await.unwrap();
            assert_eq!(warned(&store), vec![]);
            append(&store, inbox, 200).await.unwrap();
            assert_eq!(warned(&store), vec![(alice, 50)]);
            append(&store, inbox, 100).await.unwrap();
            assert_eq!(warned(&store), vec![], "no second warning at the same level");
            append(&store, inbox, 250).await.unwrap();
            assert_eq!(warned(&store), vec![(alice, 90)]);
            // Falling below 50 re-arms both; crossing again warns again.
            store.set_flags(inbox, UidSet(vec![(2, 4)]), deleted()).await.unwrap();
            store.expunge(inbox, None).await.unwrap();
            assert_eq!(warned(&store), vec![]);
            append(&store, inbox, 200).await.unwrap();
            assert_eq!(warned(&store), vec![(alice, 50)]);
            // A lower limit crosses too.
            store.execute(limit("alice", 600, 0)).await.unwrap();
            assert_eq!(warned(&store), vec![(alice, 90)]);
        });
    }

    fn reopen(path: &std::path::Path) -> redb::Database {
        // The store thread closes the file once the last handle went.
        (0..200)
            .find_map(|_| {
                redb::Database::create(path).ok().or_else(|| {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    None
                })
            })
            .expect("the database reopens")
    }

    /// A database from before quotas: `roost check` reads it as it is,
    /// and the first open for writing counts the usage from the records.
    #[test]
    fn a_database_from_before_quotas_gets_its_usage_counted() {
        let directory = std::env::temp_dir().join(format!("roost-old-quota-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("roost.redb");
        let made = run_offline(&path, 1 << 20, 0, async |store| {
            let (_, inbox, archive) = user(store, "alice").await;
            append(store, inbox, 700).await?;
            append(store, archive, 300).await?;
            store.set_flags(inbox, UidSet(vec![(1, 1)]), deleted()).await?;
            Ok(inbox)
        })
        .unwrap();
        let inbox = made;
        let database = reopen(&path);
        let txn = database.begin_write().unwrap();
        txn.delete_table(DELETED_SIZES.raw()).unwrap();
        META.open(&txn).unwrap().remove(DELETED_KEPT).unwrap();
        txn.delete_table(QUOTA_USAGE.raw()).unwrap();
        txn.delete_table(QUOTA_LIMITS.raw()).unwrap();
        txn.delete_table(QUOTA_WARNED.raw()).unwrap();
        META.open(&txn).unwrap().remove(KEPT).unwrap();
        txn.commit().unwrap();
        drop(database);
        let report = check_offline(&path, 1 << 20, false).unwrap();
        assert!(report.is_clean(), "{}", report.summary());
        // Read without the rows: summed from the records.
        let database = reopen(&path);
        let reader = Reader::new(redb::ReadableDatabase::begin_read(&database).unwrap());
        let alice = reader.user("alice").unwrap().unwrap().id;
        assert_eq!(reader.quota_usage(alice).unwrap(), Usage { bytes: 1000, messages: 2 });
        assert_eq!(reader.deleted_storage(inbox).unwrap(), 700);
        drop(reader);
        drop(database);
        let counted = run_offline(&path, 1 << 20, 0, async |store| {
            let reader = store.read()?;
            Ok((
                reader.quota_usage(alice)?,
                reader.deleted_storage(inbox)?,
                check_database(&store.database())?.is_clean(),
            ))
        })
        .unwrap();
        assert_eq!(counted, (Usage { bytes: 1000, messages: 2 }, 700, true));
        // Counted into the rows, not only summed on reading.
        let database = reopen(&path);
        let txn = redb::ReadableDatabase::begin_read(&database).unwrap();
        let row = QUOTA_USAGE.open_read(&txn).unwrap().get(alice).unwrap().map(|row| row.value());
        assert_eq!(row, Some((1000, 2)));
        let row = DELETED_SIZES.open_read(&txn).unwrap().get(inbox).unwrap().map(|row| row.value());
        assert_eq!(row, Some(700));
        drop(txn);
        drop(database);
        // A damaged row is found by check, and `--repair` recounts it.
        let database = reopen(&path);
        let txn = database.begin_write().unwrap();
        QUOTA_USAGE.open(&txn).unwrap().insert(alice, (5, 5)).unwrap();
        DELETED_SIZES.open(&txn).unwrap().insert(inbox, 5).unwrap();
        txn.commit().unwrap();
        drop(database);
        let report = check_offline(&path, 1 << 20, false).unwrap();
        assert!(report.problems.iter().any(|problem| problem.contains("quota usage")), "{}", report.summary());
        assert!(
            report.problems.iter().any(|problem| problem.contains("Deleted messages hold")),
            "{}",
            report.summary()
        );
        let report = check_offline(&path, 1 << 20, true).unwrap();
        assert!(report.is_clean(), "{}", report.summary());
        let _ = std::fs::remove_dir_all(&directory);
    }
}

//! GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208 §4.1), over the usage
//! and limits of `store::quota`.
//!
//! Quota roots, as roost names them:
//! - `""`: the logged-in user's own mailboxes (every personal mailbox has
//!   it as its root);
//! - `Shared/NAME`: user NAME's mailboxes, the root of every mailbox of
//!   theirs the user sees under `Shared/NAME/` (the same name as the
//!   namespace level), so a client learns why a COPY into a shared folder
//!   was refused. GETQUOTA on it is answered to the `[quota] admins` and
//!   to users to whom NAME shares something (who see the `Shared/NAME`
//!   level); to anyone else it does not exist. Admins name any user's
//!   root this way, shared or not, to read it or SETQUOTA it;
//! - `household`: all owners together (the `Family/` mailboxes included),
//!   a root of every mailbox while `[quota] household_storage` or
//!   `household_messages` is set; the family's one total, shown to every
//!   user. Its limits are set in the config file, not by SETQUOTA.
//!
//! A root exists while it has a limit: one without any (RFC 9208 §5.1's
//! `quota-list` needs a resource) is not listed by GETQUOTAROOT, and
//! GETQUOTA answers `NO [NONEXISTENT]` for it. Resources: STORAGE (in
//! units of 1024 octets, usage rounded up) and MESSAGE. SETQUOTA sets the
//! root's limits to exactly those listed (RFC 9208 §4.1.3: the others are
//! removed, so no limit), and is refused (`NO [NOPERM]`) to anyone not in
//! `[quota] admins`; a resource roost does not have, or a limit of 0
//! (which roost cannot keep apart from no limit), is a NO.

use std::io;

use crate::imap::code::Code;
use crate::imap::encode;
use crate::imap::namespace::{self, Lookup, SHARED};
use crate::imap::session::mailbox_arg::{name_or_no, Role};
use crate::imap::session::{Session, Status};
use crate::store::quota::{Limits, Setting, Usage};
use crate::store::{Op, Reader, StoreError, PUBLIC_OWNER};

/// The root of the household's total.
const HOUSEHOLD: &str = "household";

/// A quota root (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Root {
    /// A user's own mailboxes: their id, and the root's name as shown.
    Owner {
        user: u32,
        name: String,
    },
    Household,
}

impl Root {
    fn name(&self) -> &str {
        match self {
            Root::Owner { name, .. } => name,
            Root::Household => HOUSEHOLD,
        }
    }
}

/// GETQUOTA (RFC 9208 §4.1.1).
pub async fn get(session: &mut Session, tag: &str, user: u32, raw: &[u8]) -> io::Result<()> {
    let root = match resolve(session, user, raw) {
        Ok(Some(root)) => root,
        Ok(None) => return session.finish(tag, Status::No, Some(Code::NonExistent), "No such quota root").await,
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    match quota_of(session, &root) {
        Ok(Some((usage, limits))) => {
            quota_line(session.conn.out(), root.name(), usage, limits);
            session.finish(tag, Status::Ok, None, "GETQUOTA completed").await
        }
        Ok(None) => {
            session.finish(tag, Status::No, Some(Code::NonExistent), "No quota limits are set for this root").await
        }
        Err(error) => session.store_failed(tag, error, false).await,
    }
}

/// GETQUOTAROOT (RFC 9208 §4.1.2): the mailbox's roots, then each one's QUOTA.
pub async fn root(session: &mut Session, tag: &str, user: u32, raw: &[u8]) -> io::Result<()> {
    let Ok(name) = name_or_no(session, tag, raw, Role::Existing) else { return Ok(()) };
    let roots = session.server.store.read().and_then(|reader| {
        let access = match namespace::lookup(&reader, user, &name)? {
            Lookup::Found(access) => access,
            Lookup::Missing | Lookup::Level => return Err(StoreError::NoSuchMailbox),
        };
        let mut roots = Vec::new();
        if access.owner == user {
            roots.push(Root::Owner { user, name: String::new() });
        } else if access.owner != PUBLIC_OWNER {
            if let Some(owner) = namespace::name_of(&namespace::user_names(&reader)?, access.owner) {
                roots.push(Root::Owner { user: access.owner, name: format!("{SHARED}/{owner}") });
            }
        }
        roots.push(Root::Household);
        Ok(roots)
    });
    let roots = match roots {
        Ok(roots) => roots,
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    let mut shown = Vec::with_capacity(roots.len());
    for root in roots {
        match quota_of(session, &root) {
            Ok(Some(quota)) => shown.push((root, quota)),
            Ok(None) => {}
            Err(error) => return session.store_failed(tag, error, false).await,
        }
    }
    let utf8 = session.utf8_names();
    let out = session.conn.out();
    out.extend_from_slice(b"* QUOTAROOT ");
    encode::mailbox_for(out, &name, utf8);
    for (root, _) in &shown {
        out.push(b' ');
        encode::astring(out, root.name().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    for (root, (usage, limits)) in &shown {
        quota_line(session.conn.out(), root.name(), *usage, *limits);
    }
    session.finish(tag, Status::Ok, None, "GETQUOTAROOT completed").await
}

/// SETQUOTA (RFC 9208 §4.1.3), for the `[quota] admins`.
pub async fn set(session: &mut Session, tag: &str, user: u32, raw: &[u8], limits: &[(String, u64)]) -> io::Result<()> {
    let admin = session.user().is_some_and(|me| session.server.config.quota.admins.contains(&me.name));
    if !admin {
        let text = "Only the server's administrators may set quotas ([quota] admins)";
        return session.finish(tag, Status::No, Some(Code::NoPerm), text).await;
    }
    let (storage, messages) = match requested(limits) {
        Ok(settings) => settings,
        Err(text) => return session.finish(tag, Status::No, Some(Code::Cannot), &text).await,
    };
    let root = match resolve(session, user, raw) {
        Ok(Some(root)) => root,
        Ok(None) => return session.finish(tag, Status::No, Some(Code::NonExistent), "No such quota root").await,
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    let Root::Owner { user: owner, .. } = &root else {
        let text = "The household's limits are set in the config file ([quota] household_storage, household_messages)";
        return session.finish(tag, Status::No, Some(Code::Cannot), text).await;
    };
    let name = match session.server.store.read().and_then(|reader| namespace::user_names(&reader)) {
        Ok(names) => namespace::name_of(&names, *owner).map(str::to_string),
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    let Some(name) = name else {
        return session.finish(tag, Status::No, Some(Code::NonExistent), "No such quota root").await;
    };
    if let Err(error) = session.server.store.execute(Op::SetQuota { name: name.clone(), storage, messages }).await {
        return session.store_failed(tag, error, false).await;
    }
    log::info!("quota: {} set the limits of {name} by SETQUOTA", session.user().map_or("-", |me| me.name.as_str()));
    match quota_of(session, &root) {
        Ok(Some((usage, limits))) => quota_line(session.conn.out(), root.name(), usage, limits),
        Ok(None) => {}
        Err(error) => return session.store_failed(tag, error, false).await,
    }
    session.finish(tag, Status::Ok, None, "SETQUOTA completed").await
}

/// The store settings a SETQUOTA list asks for, or why it cannot be.
fn requested(limits: &[(String, u64)]) -> Result<(Setting, Setting), String> {
    // RFC 9208 §4.1.3: resources left out lose their limit.
    let (mut storage, mut messages) = (Setting::To(0), Setting::To(0));
    for (resource, limit) in limits {
        if *limit == 0 {
            return Err(format!("A {resource} limit of 0 is not supported; leave {resource} out for no limit"));
        }
        match resource.as_str() {
            // RFC 9208 §5.1: STORAGE counts units of 1024 octets.
            "STORAGE" => {
                let bytes = limit.checked_mul(1024).ok_or_else(|| "STORAGE limit too large".to_string())?;
                storage = Setting::To(bytes);
            }
            "MESSAGE" => messages = Setting::To(*limit),
            other => return Err(format!("Resource {other} is not supported (STORAGE and MESSAGE are)")),
        }
    }
    Ok((storage, messages))
}

/// The root `raw` names, if it exists for `user` (see the module docs).
fn resolve(session: &Session, user: u32, raw: &[u8]) -> Result<Option<Root>, StoreError> {
    let Ok(text) = std::str::from_utf8(raw) else { return Ok(None) };
    if text.is_empty() {
        return Ok(Some(Root::Owner { user, name: String::new() }));
    }
    if text.eq_ignore_ascii_case(HOUSEHOLD) {
        return Ok(Some(Root::Household));
    }
    let Some(owner) = text.strip_prefix(SHARED).and_then(|rest| rest.strip_prefix('/')) else { return Ok(None) };
    let Ok(owner) = crate::auth::normalize_user_name(owner) else { return Ok(None) };
    let reader = session.server.store.read()?;
    let Some(record) = reader.user(&owner)? else { return Ok(None) };
    let admin = session.user().is_some_and(|me| session.server.config.quota.admins.contains(&me.name));
    if record.id != user && !admin && !shares_with(&reader, user, text)? {
        return Ok(None);
    }
    Ok(Some(Root::Owner { user: record.id, name: format!("{SHARED}/{owner}") }))
}

/// Whether `user` sees the level `Shared/NAME` (NAME shares with them).
fn shares_with(reader: &Reader, user: u32, level: &str) -> Result<bool, StoreError> {
    Ok(matches!(namespace::lookup(reader, user, level)?, Lookup::Level | Lookup::Found(_)))
}

/// The root's usage and limits, None when it has no limit (no root then).
fn quota_of(session: &Session, root: &Root) -> Result<Option<(Usage, Limits)>, StoreError> {
    let settings = &session.server.config.quota.settings;
    let reader = session.server.store.read()?;
    let (usage, limits) = match root {
        Root::Owner { user, .. } => {
            let quota = reader.quota(*user, settings)?;
            (quota.usage, quota.limits)
        }
        Root::Household => (
            reader.household_usage()?,
            Limits { storage: settings.household_storage, messages: settings.household_messages },
        ),
    };
    Ok(limits.any().then_some((usage, limits)))
}

/// `* QUOTA root (STORAGE used limit MESSAGE used limit)` (RFC 9208
/// §5.1), the resources that have a limit.
fn quota_line(out: &mut Vec<u8>, root: &str, usage: Usage, limits: Limits) {
    out.extend_from_slice(b"* QUOTA ");
    encode::astring(out, root.as_bytes());
    let mut resources = Vec::new();
    if limits.storage > 0 {
        resources.push(format!("STORAGE {} {}", usage.bytes.div_ceil(1024), limits.storage / 1024));
    }
    if limits.messages > 0 {
        resources.push(format!("MESSAGE {} {}", usage.messages, limits.messages));
    }
    out.extend_from_slice(format!(" ({})\r\n", resources.join(" ")).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_lines_count_storage_in_kibibytes() {
        let mut out = Vec::new();
        let usage = Usage { bytes: 1025, messages: 3 };
        quota_line(&mut out, "", usage, Limits { storage: 512 * 1024, messages: 0 });
        assert_eq!(String::from_utf8(out).unwrap(), "* QUOTA \"\" (STORAGE 2 512)\r\n");
        let mut out = Vec::new();
        quota_line(&mut out, "Shared/bob", usage, Limits { storage: 2048, messages: 10 });
        assert_eq!(String::from_utf8(out).unwrap(), "* QUOTA Shared/bob (STORAGE 2 2 MESSAGE 3 10)\r\n");
    }

    #[test]
    fn setquota_lists_become_store_settings() {
        assert_eq!(requested(&[]), Ok((Setting::To(0), Setting::To(0))));
        assert_eq!(requested(&[("STORAGE".into(), 512)]), Ok((Setting::To(512 * 1024), Setting::To(0))));
        assert_eq!(requested(&[("MESSAGE".into(), 7), ("STORAGE".into(), 1)]), Ok((Setting::To(1024), Setting::To(7))));
        assert!(requested(&[("MAILBOX".into(), 5)]).unwrap_err().contains("not supported"));
        assert!(requested(&[("STORAGE".into(), 0)]).unwrap_err().contains("of 0"));
        assert!(requested(&[("STORAGE".into(), u64::MAX)]).is_err());
    }
}

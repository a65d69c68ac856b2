//! Delivery into shared and public mailboxes (issue 15, RFC 4314's `p`).
//!
//! Two ways in: a configured route (`[[lmtp.route]]`: an address whose
//! mail goes to `Family/Bills` or `Shared/mom/School`), resolved before
//! user names; and `roost deliver --mailbox`, whose RCPT carries the
//! mailbox in roost's own parameter `X-MAILBOX=` (`lmtp::parse`).
//!
//! Either way the mailbox must grant `anyone` the `p` right (RFC 4314
//! §2.1: "post", which IMAP never checks): for a personal mailbox that is
//! its owner's consent, for a public one the administrator's. `anyone`
//! because LMTP has no login: the sender is nobody in particular, so
//! `authenticated p` or `dad p` does not count. Checked at RCPT and again
//! just before the commit (an ACL may change in between); a mailbox
//! missing is `550 5.1.1`, one without `p` `550 5.7.1` (RFC 3463 X.7.1:
//! delivery not authorized). Messages arrive with no flags: unseen for
//! every reader, whose \Seen is their own.

use crate::config::Route;
use crate::imap::namespace::{self, Name, Place};
use crate::mail::rights::Rights;
use crate::store::{Identifier, Reader, StoreError, PUBLIC_OWNER};

/// Where a recipient's mail may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Mailbox(u64),
    Missing,
    /// It exists, but `anyone` lacks `p`.
    NoPost,
}

/// The route for `address`, if any: matched lower-cased, with a
/// `+detail` dropped from its local part; a route without `@` matches its
/// local part at any domain.
pub fn route_for<'a>(routes: &'a [Route], address: &str) -> Option<&'a Route> {
    let address = address.to_lowercase();
    let (local, domain) = match address.rsplit_once('@') {
        Some((local, domain)) => (local, Some(domain)),
        None => (address.as_str(), None),
    };
    let local = local.split_once('+').map_or(local, |(base, _)| base);
    let whole = domain.map(|domain| format!("{local}@{domain}"));
    routes.iter().find(|route| route.address == local || Some(&route.address) == whole.as_ref())
}

/// The mailbox an administrator names `name` (`Family/NAME` or
/// `Shared/USER/NAME`), and whether it takes mail.
pub fn resolve(reader: &Reader, name: &str) -> Result<Target, StoreError> {
    let Ok(name) = crate::imap::mailbox_name::decode_for(name.as_bytes(), true) else { return Ok(Target::Missing) };
    if namespace::place(&name) == Place::Personal {
        return Ok(Target::Missing);
    }
    // Seen by nobody in particular: the public owner is no user, so
    // `Shared/<user>/...` names every user's mailboxes.
    match namespace::parse(reader, PUBLIC_OWNER, &name)? {
        Name::Mailbox { owner, name } => personal(reader, owner, &name),
        Name::Level | Name::Nothing => Ok(Target::Missing),
    }
}

/// `owner`'s mailbox `name` (as the store keys it), and whether it takes mail.
pub fn personal(reader: &Reader, owner: u32, name: &str) -> Result<Target, StoreError> {
    let Ok(name) = crate::imap::mailbox_name::decode_for(name.as_bytes(), true) else { return Ok(Target::Missing) };
    match reader.mailbox_id(owner, &name)? {
        Some(id) => postable(reader, id),
        None => Ok(Target::Missing),
    }
}

/// Whether mailbox `id` grants `anyone` the `p` right, now.
pub fn postable(reader: &Reader, id: u64) -> Result<Target, StoreError> {
    let Some(acl) = reader.acl(id)? else { return Ok(Target::Missing) };
    if reader.mailbox(id)?.is_none_or(|record| record.noselect) {
        return Ok(Target::Missing);
    }
    let anyone = acl.entries.iter().find(|entry| entry.identifier == Identifier::Anyone);
    let rights = anyone.map_or(Rights::NONE, |entry| entry.granted.difference(entry.denied));
    Ok(if rights.contains(Rights::POST) { Target::Mailbox(id) } else { Target::NoPost })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_whole_addresses_or_local_parts_without_detail() {
        let routes = [
            Route { address: "bills@home.example".into(), mailbox: "Family/Bills".into() },
            Route { address: "school".into(), mailbox: "Shared/mom/School".into() },
        ];
        let found = |address: &str| route_for(&routes, address).map(|route| route.mailbox.as_str());
        assert_eq!(found("bills@home.example"), Some("Family/Bills"));
        assert_eq!(found("Bills+March@Home.Example"), Some("Family/Bills"));
        assert_eq!(found("bills@other.example"), None);
        assert_eq!(found("bills"), None);
        assert_eq!(found("school@anywhere.example"), Some("Shared/mom/School"));
        assert_eq!(found("SCHOOL+x"), Some("Shared/mom/School"));
        assert_eq!(found("schools@home.example"), None);
        assert_eq!(found("mom@home.example"), None);
    }
}

//! Quota warnings: the notice a user finds in their INBOX when their mail
//! reaches a `[quota] warn` level (default 80 % and 95 %).
//!
//! The store decides when one is due, in the transaction that crossed the
//! level, and records it so it is sent once per upward crossing and not
//! again after a restart (`store::quota`); it reaches this task as a
//! `Change::QuotaWarning` through the hub. This task reads the user's
//! usage and limits at that moment and delivers the notice with
//! `alert::send_notice`, which stores it past any quota: the warning that
//! a mailbox is full must still arrive. At the highest level (95 % by
//! default) `[alerts] admin` gets a copy, since the user may need help.

use std::rc::Weak;

use crate::alert::{self, Notice};
use crate::server::Server;
use crate::store::quota::{size_text, Quota};

/// Sends the warnings the store raises, for as long as the server lives.
pub async fn run(server: Weak<Server>) {
    loop {
        let (listener, due) = {
            let Some(server) = server.upgrade() else { return };
            let mut hub = server.store.hub().borrow_mut();
            // Listen before taking, so a warning committed in between wakes us.
            (hub.quota_warned(), hub.take_quota_warnings())
        };
        if due.is_empty() {
            listener.await;
            continue;
        }
        let Some(server) = server.upgrade() else { return };
        for (user, percent) in due {
            if let Err(error) = warn(&server, user, percent).await {
                log::error!("quota: the {percent}% warning for user {user} could not be delivered: {error}");
            }
        }
    }
}

/// Delivers the warning that `user` reached `percent` of their quota.
async fn warn(server: &Server, user: u32, percent: u8) -> Result<(), String> {
    let settings = &server.config.quota.settings;
    let (name, quota) = {
        let reader = server.store.read().map_err(|error| error.to_string())?;
        let users = reader.users().map_err(|error| error.to_string())?;
        // Deleted since: nobody to tell.
        let Some((name, _)) = users.into_iter().find(|(_, record)| record.id == user) else { return Ok(()) };
        let quota = reader.quota(user, settings).map_err(|error| error.to_string())?;
        (name, quota)
    };
    let highest = settings.warn.last().is_some_and(|top| percent >= *top);
    let notice = notice(&name, percent, &quota, highest);
    match alert::send_notice(server, &notice).await {
        Ok(true) => {
            log::info!("quota: warned {name} at {percent}% ({})", usage_line(&quota));
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}

/// "450.0 MiB of 500.0 MiB, 120 of 10000 messages" (the limits in force).
fn usage_line(quota: &Quota) -> String {
    let mut parts = Vec::new();
    if quota.limits.storage > 0 {
        parts.push(format!("{} of {}", size_text(quota.usage.bytes), size_text(quota.limits.storage)));
    }
    if quota.limits.messages > 0 {
        parts.push(format!("{} of {} messages", quota.usage.messages, quota.limits.messages));
    }
    parts.join(", ")
}

/// The warning in plain words: how full, what happens when it is full,
/// and what to do.
fn notice(name: &str, percent: u8, quota: &Quota, highest: bool) -> Notice {
    let mut paragraphs = vec![
        format!("Your mailbox on this server is {percent}% full: your mail takes {}.", usage_line(quota)),
        "When it is full, new mail to you is refused (the senders get it back) and your mail programs cannot \
         save drafts, sent mail or copies."
            .to_string(),
        "To make room: empty the Trash and Junk folders, and delete large messages you no longer need (most \
         mail programs can sort a folder by size). Deleting always works, even when the mailbox is full."
            .to_string(),
    ];
    if highest {
        paragraphs.push("A copy of this notice went to the person who runs the server, who can also help.".into());
    }
    Notice {
        name: name.to_string(),
        subject: format!("Your mailbox is {percent}% full"),
        paragraphs,
        copy_admin: highest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::quota::{Limits, Override, Usage};

    #[test]
    fn the_notice_says_how_full_and_what_to_do() {
        let quota = Quota {
            usage: Usage { bytes: 96 << 20, messages: 10 },
            own: Override::default(),
            limits: Limits { storage: 100 << 20, messages: 0 },
        };
        let notice = notice("alice", 95, &quota, true);
        assert_eq!(notice.subject, "Your mailbox is 95% full");
        assert!(notice.paragraphs[0].contains("96.0 MiB of 100.0 MiB"), "{:?}", notice.paragraphs);
        assert!(notice.paragraphs.iter().any(|text| text.contains("empty the Trash")));
        assert!(notice.copy_admin);
        assert!(!super::notice("alice", 80, &quota, false).copy_admin);
    }
}

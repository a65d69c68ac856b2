//! The `status` control request (`roost status` with the server running),
//! and the little the server remembers for it ([`Activity`]).
//!
//! What a running server knows that its files do not tell:
//! - the addresses it really listens on (port 0 in the configuration
//!   becomes a port here);
//! - how many messages LMTP delivered today: counted per recipient as
//!   each 250 goes out, in 15-minute slots over the last two days
//!   ([`SLOTS`], 768 bytes), so the CLI can ask for "since local
//!   midnight" in any time zone (every zone's offset is a whole number of
//!   quarter hours) without the server knowing the zone. Counting in the
//!   store instead would mean walking every INBOX's dates (unbounded) or
//!   a new table written on every delivery (a write per message); the
//!   counter costs nothing, and is lost on a restart: the answer says
//!   since when it counts. `roost deliver` goes through LMTP, so it counts;
//!   `roost import` and IMAP APPEND do not (they are not deliveries);
//! - the last few failed logins ([`RECENT_FAILURES`]), whatever the name
//!   tried (the per-user histories keep only existing users' logins);
//! - the bans (`auth::ban`), which the server holds anyway.
//!
//! The request is `status MIDNIGHT` (unix seconds of the CLI's local
//! midnight); the answer is the text `crate::status::render` makes, the
//! same the CLI prints when the server is stopped. File-system facts (the
//! certificate, disk usage) are read through `smol::unblock`: an SD card
//! or USB disk may stall, and the executor must not.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::IpAddr;

use crate::server::Server;
use crate::status::{self, Facts, Failure, Running};

/// Length of a delivery-count slot.
const SLOT_SECONDS: i64 = 15 * 60;
/// Slots kept: two days, enough for "today" in any zone.
const SLOTS: usize = 192;
/// Failed logins remembered for `roost status` (about 100 bytes each).
pub const RECENT_FAILURES: usize = 8;

/// Deliveries per slot, the newest slot being `latest`.
struct Deliveries {
    counts: [u32; SLOTS],
    latest: i64,
}

impl Deliveries {
    fn new(now: i64) -> Deliveries {
        Deliveries { counts: [0; SLOTS], latest: now.div_euclid(SLOT_SECONDS) }
    }

    fn add(&mut self, now: i64, count: u32) {
        let slot = now.div_euclid(SLOT_SECONDS);
        if slot > self.latest {
            // Slots passed without a delivery are emptied (at most all of them).
            let passed = (slot - self.latest).min(SLOTS as i64);
            for step in 1..=passed {
                self.counts[(self.latest + step).rem_euclid(SLOTS as i64) as usize] = 0;
            }
            self.latest = slot;
        }
        if self.latest - slot < SLOTS as i64 {
            let index = slot.rem_euclid(SLOTS as i64) as usize;
            self.counts[index] = self.counts[index].saturating_add(count);
        }
    }

    /// Deliveries from `start` (unix seconds, rounded down to its slot)
    /// until now; only the last [`SLOTS`] slots are known.
    fn since(&self, start: i64, now: i64) -> u64 {
        let first = start.div_euclid(SLOT_SECONDS).max(self.latest - SLOTS as i64 + 1);
        let last = now.div_euclid(SLOT_SECONDS).min(self.latest);
        (first..=last).map(|slot| u64::from(self.counts[slot.rem_euclid(SLOTS as i64) as usize])).sum()
    }
}

/// What the running server remembers for `roost status`.
pub struct Activity {
    /// Unix seconds the server started.
    started: i64,
    /// `KIND ADDRESS` per listener, as the ports file has them.
    listeners: Vec<String>,
    deliveries: RefCell<Deliveries>,
    failures: RefCell<VecDeque<Failure>>,
}

fn now() -> i64 {
    crate::util::datetime::DateTime::now().unix
}

impl Activity {
    pub fn new(listeners: Vec<String>) -> Activity {
        let started = now();
        Activity {
            started,
            listeners,
            deliveries: RefCell::new(Deliveries::new(started)),
            failures: RefCell::new(VecDeque::with_capacity(RECENT_FAILURES)),
        }
    }

    /// LMTP answered 250 for `count` recipients.
    pub fn delivered(&self, count: u32) {
        self.deliveries.borrow_mut().add(now(), count);
    }

    /// A login failed from `ip`, trying `user` (as the log shows it).
    pub fn login_failed(&self, ip: IpAddr, user: &str) {
        let mut failures = self.failures.borrow_mut();
        if failures.len() == RECENT_FAILURES {
            failures.pop_front();
        }
        failures.push_back(Failure { time: now(), ip, user: user.chars().take(64).collect() });
    }
}

/// Answers `status MIDNIGHT`.
pub async fn answer(server: &Server, midnight: &str) -> Result<String, String> {
    let midnight: i64 = midnight.parse().map_err(|_| format!("{midnight:?} is not a time (unix seconds)"))?;
    let activity = &server.activity;
    let now = now();
    let (users, search_index) = server
        .store
        .read()
        .and_then(|reader| Ok((reader.users()?, crate::status::search_index_facts(&reader)?)))
        .map_err(|error| error.to_string())?;
    let config = server.config.clone();
    // The certificate and the disk: file-system calls, off the executor.
    let files = smol::unblock(move || {
        let certificate = Ok(crate::server::tls_files(&config).0);
        status::file_facts(&config, certificate)
    })
    .await;
    let facts = Facts {
        version: env!("CARGO_PKG_VERSION").to_string(),
        board: server.config.board.clone(),
        running: Some(Running {
            started: activity.started,
            delivered_today: activity.deliveries.borrow().since(midnight.max(activity.started), now),
            counted_since: midnight.max(activity.started),
            failures: activity.failures.borrow().iter().rev().cloned().collect(),
        }),
        listeners: activity.listeners.clone(),
        users: users.into_iter().map(|(name, _)| name).collect(),
        bans: server.bans().into_iter().map(|(prefix, ban)| (prefix.to_string(), ban)).collect(),
        files,
        now,
        search_index,
    };
    Ok(status::render(&facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_count_since_a_start_and_forget_after_two_days() {
        let day = 86_400;
        let midnight = 20_000 * day;
        let mut deliveries = Deliveries::new(midnight - 3600);
        deliveries.add(midnight - 3600, 5); // yesterday
        deliveries.add(midnight + 60, 2);
        deliveries.add(midnight + 8 * 3600, 1);
        assert_eq!(deliveries.since(midnight, midnight + 9 * 3600), 3);
        assert_eq!(deliveries.since(midnight - day, midnight + 9 * 3600), 8);
        // A zone 5 h 30 min east: its midnight is 18:30 UTC the day before.
        assert_eq!(deliveries.since(midnight - 5 * 3600 - 1800, midnight + 9 * 3600), 8);
        // Three days later the old slots are empty again.
        deliveries.add(midnight + 3 * day, 4);
        assert_eq!(deliveries.since(midnight - day, midnight + 3 * day), 4);
        assert_eq!(deliveries.since(midnight + 3 * day, midnight + 3 * day + 60), 4);
        // A clock set back does not panic; old slots beyond the window are dropped.
        deliveries.add(midnight - 10 * day, 1);
        assert_eq!(deliveries.since(midnight - 20 * day, midnight + 3 * day), 4);
    }

    #[test]
    fn failures_keep_the_last_few() {
        let activity = Activity::new(Vec::new());
        for n in 0..20 {
            activity.login_failed("127.0.0.1".parse().unwrap(), &format!("user{n}"));
        }
        let failures = activity.failures.borrow();
        assert_eq!(failures.len(), RECENT_FAILURES);
        assert_eq!(failures.back().unwrap().user, "user19");
    }
}

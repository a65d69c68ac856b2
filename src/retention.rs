//! Retention: Trash and Junk empty themselves.
//!
//! Messages in a mailbox marked `\Trash` or `\Junk` (RFC 6154) are
//! expunged once they have been there 30 days; `\Sent`, `\Archive` and
//! `\Drafts` keep everything unless told otherwise. The `[retention]` table
//! sets the household's ages, `[retention.user.NAME]` one user's:
//!
//! ```toml
//! [retention]
//! trash = "30d"      # "off", or a number and s, m, h, d or w
//! junk = "30d"
//! sent = "off"
//! every = "1h"       # how often to look ("off": never)
//! batch = 250        # messages expunged per commit
//!
//! [retention.user.dad]
//! trash = "7d"
//! junk = "off"
//! ```
//!
//! Per-user ages live in the config file, beside the per-user address rules
//! (`[access.user.NAME]`), rather than behind a `roost user retention`
//! command: they are household policy the admin writes once, they need no
//! table in the database (a backup or an export carries nothing of them),
//! and a typo is caught when the server starts. The public mailboxes
//! (`Family/…`) belong to no one user: the household's ages apply to them.
//!
//! A message's age counts from when it was put into the mailbox (its save
//! date), so a message deleted today stays 30 days in Trash whatever its
//! date; see `store::retention`. Every `every`, [`run`] walks the mailboxes
//! with an age set: candidates are found on a blocking thread in batches of
//! `batch`, and each batch is one expunge through the store thread, so
//! sessions that have the mailbox selected get their EXPUNGE (or VANISHED)
//! at once and the store thread never holds a long transaction. Each
//! mailbox emptied is logged: `retention: expunged 12 messages from
//! alice/Trash (older than 30 days)`.

use std::collections::BTreeMap;
use std::rc::Weak;
use std::time::Duration;

use crate::server::Server;
use crate::store::{SpecialUse, UidSet, PUBLIC_OWNER};

/// The special-uses retention knows, by their config key.
pub const KINDS: [(&str, SpecialUse); 5] = [
    ("trash", SpecialUse::Trash),
    ("junk", SpecialUse::Junk),
    ("sent", SpecialUse::Sent),
    ("archive", SpecialUse::Archive),
    ("drafts", SpecialUse::Drafts),
];

/// How long messages stay in each kind of mailbox: seconds, or None (kept
/// for ever); for a user, unset kinds follow the household's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ages(pub [Option<Option<u64>>; KINDS.len()]);

impl Ages {
    /// The household's defaults: Trash and Junk 30 days, the rest kept.
    pub fn household_defaults() -> Ages {
        let month = Some(Some(30 * 86_400));
        Ages([month, month, Some(None), Some(None), Some(None)])
    }

    /// Ages from the config's values by key (`KINDS`); unset keys stay unset.
    pub fn parse(values: &[(&'static str, Option<String>)]) -> Result<Ages, (&'static str, String)> {
        let mut ages = Ages::default();
        for (key, value) in values {
            let Some(index) = KINDS.iter().position(|(kind, _)| kind == key) else { continue };
            if let Some(text) = value {
                ages.0[index] = Some(parse_duration(text).map_err(|problem| (*key, problem))?);
            }
        }
        Ok(ages)
    }

    fn get(&self, special_use: SpecialUse) -> Option<Option<u64>> {
        let index = KINDS.iter().position(|(_, kind)| *kind == special_use)?;
        self.0[index]
    }
}

/// The `[retention]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// How often mailboxes are looked at (None: never).
    pub every: Option<Duration>,
    /// Messages expunged per commit.
    pub batch: usize,
    pub household: Ages,
    /// `[retention.user.NAME]`, by user name.
    pub users: BTreeMap<String, Ages>,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            every: Some(Duration::from_secs(3600)),
            batch: 250,
            household: Ages::household_defaults(),
            users: BTreeMap::new(),
        }
    }
}

impl Retention {
    /// Seconds messages stay in a mailbox of `special_use` owned by `user`
    /// (None: a public mailbox); None: kept for ever.
    pub fn age(&self, user: Option<&str>, special_use: SpecialUse) -> Option<u64> {
        let own = user.and_then(|name| self.users.get(name)).and_then(|ages| ages.get(special_use));
        own.or_else(|| self.household.get(special_use)).flatten()
    }
}

/// `"30d"`, `"12h"`, `"90m"`, `"45s"`, `"2w"` as seconds; `"off"` as None.
pub fn parse_duration(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let problem = || format!("{text:?} is not a duration: write \"off\" or a number and s, m, h, d or w (\"30d\")");
    let unit = text.chars().last().ok_or_else(problem)?;
    let scale = match unit.to_ascii_lowercase() {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(problem()),
    };
    let number = &text[..text.len() - unit.len_utf8()];
    if number.is_empty() || !number.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(problem());
    }
    let count: u64 = number.parse().map_err(|_| problem())?;
    let seconds = count.checked_mul(scale).filter(|seconds| *seconds > 0 && *seconds <= 100 * 365 * 86_400);
    seconds.map(Some).ok_or_else(|| format!("{text:?}: a duration must be more than 0 and at most 100 years"))
}

/// An age for the log: `30 days`, `12 hours`, `90 seconds`.
fn describe(seconds: u64) -> String {
    let (count, unit) = match seconds {
        seconds if seconds % 86_400 == 0 => (seconds / 86_400, "day"),
        seconds if seconds % 3600 == 0 => (seconds / 3600, "hour"),
        seconds if seconds % 60 == 0 => (seconds / 60, "minute"),
        seconds => (seconds, "second"),
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

/// A mailbox retention looks at.
struct Target {
    mailbox: u64,
    /// `alice/Trash`, or `Family/Trash`.
    label: String,
    age: u64,
}

/// Runs for as long as the server does: a sweep every `every`, the first
/// soon after start (a minute at most).
pub async fn run(server: Weak<Server>) {
    let Some(every) = server.upgrade().and_then(|server| server.config.retention.every) else { return };
    let mut wait = every.min(Duration::from_secs(60));
    loop {
        smol::Timer::after(wait).await;
        wait = every;
        let Some(server) = server.upgrade() else { return };
        if let Err(error) = sweep(&server).await {
            log::warn!("retention: {error}");
        }
    }
}

/// One pass over every mailbox with an age set.
async fn sweep(server: &Server) -> Result<(), crate::store::StoreError> {
    let settings = &server.config.retention;
    let targets = {
        let reader = server.store.read()?;
        let names: BTreeMap<u32, String> = reader.users()?.into_iter().map(|(name, user)| (user.id, name)).collect();
        let mut targets = Vec::new();
        for (mailbox, record) in reader.all_mailboxes()? {
            let Some(special_use) = record.special_use else { continue };
            if record.noselect || record.messages == 0 {
                continue;
            }
            let (owner, label) = if record.user_id == PUBLIC_OWNER {
                (None, format!("{}/{}", crate::imap::namespace::PUBLIC, record.name))
            } else {
                let Some(name) = names.get(&record.user_id) else { continue };
                (Some(name.as_str()), format!("{name}/{}", record.name))
            };
            if let Some(age) = settings.age(owner, special_use) {
                targets.push(Target { mailbox, label, age });
            }
        }
        targets
    };
    let looked_at = targets.len();
    for target in targets {
        let expunged = expire_mailbox(server, &target, settings.batch.max(1)).await;
        match expunged {
            Ok(0) => {}
            Ok(count) => log::info!(
                "retention: expunged {count} message{} from {} (older than {})",
                if count == 1 { "" } else { "s" },
                target.label,
                describe(target.age)
            ),
            // Deleted meanwhile, or became a placeholder: nothing to do.
            Err(crate::store::StoreError::NoSuchMailbox | crate::store::StoreError::NotSelectable) => {}
            Err(error) => return Err(error),
        }
    }
    log::debug!("retention: looked at {looked_at} mailboxes");
    Ok(())
}

/// Expunges `target`'s old messages, `batch` per commit; answers how many.
async fn expire_mailbox(server: &Server, target: &Target, batch: usize) -> Result<usize, crate::store::StoreError> {
    let now = crate::util::datetime::DateTime::now().unix;
    let before = now.saturating_sub(i64::try_from(target.age).unwrap_or(i64::MAX));
    let mut from = 0;
    let mut expunged = 0;
    loop {
        let (uids, next) = server.store.expired(target.mailbox, before, from, batch).await?;
        if !uids.is_empty() {
            expunged += server.store.expire(target.mailbox, UidSet::from_sorted(uids), before).await?.uids.len();
        }
        match next {
            Some(uid) => from = uid,
            None => return Ok(expunged),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30d"), Ok(Some(30 * 86_400)));
        assert_eq!(parse_duration(" 12h "), Ok(Some(12 * 3600)));
        assert_eq!(parse_duration("90m"), Ok(Some(5400)));
        assert_eq!(parse_duration("2w"), Ok(Some(14 * 86_400)));
        assert_eq!(parse_duration("45s"), Ok(Some(45)));
        assert_eq!(parse_duration("OFF"), Ok(None));
        for bad in ["", "d", "30", "30x", "-3d", "3.5d", "0d", "99999999999999999999d", "1000000w", "30 d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_user_setting_wins_over_the_household() {
        let mut retention = Retention::default();
        let dad = Ages::parse(&[("trash", Some("7d".into())), ("junk", Some("off".into())), ("sent", None)]).unwrap();
        retention.users.insert("dad".into(), dad);
        assert_eq!(retention.age(Some("dad"), SpecialUse::Trash), Some(7 * 86_400));
        assert_eq!(retention.age(Some("dad"), SpecialUse::Junk), None);
        assert_eq!(retention.age(Some("dad"), SpecialUse::Sent), None, "unset: the household's (off)");
        assert_eq!(retention.age(Some("mum"), SpecialUse::Trash), Some(30 * 86_400));
        assert_eq!(retention.age(None, SpecialUse::Junk), Some(30 * 86_400), "public: the household's");
        assert_eq!(retention.age(Some("mum"), SpecialUse::Flagged), None, "not a kind retention knows");
        assert_eq!(Ages::parse(&[("trash", Some("soon".into()))]).unwrap_err().0, "trash");
    }

    fn config(text: &str) -> Result<Retention, String> {
        crate::config::Config::parse("test.toml", text, crate::config::Overrides::default())
            .map(|config| config.retention)
            .map_err(|error| error.0)
    }

    #[test]
    fn the_config_sets_household_and_user_ages() {
        assert_eq!(config("").unwrap(), Retention::default());
        let text = "[retention]\ntrash = \"7d\"\nsent = \"1w\"\nevery = \"10m\"\nbatch = 50\n\
                    [retention.user.Dad]\njunk = \"off\"\n";
        let retention = config(text).unwrap();
        assert_eq!(retention.every, Some(Duration::from_secs(600)));
        assert_eq!(retention.batch, 50);
        assert_eq!(retention.age(Some("mum"), SpecialUse::Trash), Some(7 * 86_400));
        assert_eq!(retention.age(Some("mum"), SpecialUse::Junk), Some(30 * 86_400), "default kept");
        assert_eq!(retention.age(Some("mum"), SpecialUse::Sent), Some(7 * 86_400));
        assert_eq!(retention.age(Some("dad"), SpecialUse::Junk), None);
        assert_eq!(retention.age(Some("dad"), SpecialUse::Trash), Some(7 * 86_400));
        assert_eq!(config("[retention]\nevery = \"off\"").unwrap().every, None);
        for (bad, says) in [
            ("[retention]\ntrash = \"30\"", "[retention] trash: \"30\" is not a duration"),
            ("[retention]\nflagged = \"30d\"", "flagged"),
            ("[retention]\nbatch = 0", "[retention] batch: must be from 1"),
            ("[retention.user.dad]\njunk = \"soon\"", "[retention.user.dad] junk"),
            ("[retention.users.dad]\njunk = \"1d\"", "unknown table"),
        ] {
            let error = config(bad).unwrap_err();
            assert!(error.contains(says), "{bad:?}: {error}");
        }
    }

    #[test]
    fn ages_read_well_in_the_log() {
        assert_eq!(describe(30 * 86_400), "30 days");
        assert_eq!(describe(86_400), "1 day");
        assert_eq!(describe(7200), "2 hours");
        assert_eq!(describe(90), "90 seconds");
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_says_why(text in "\\PC{0,12}") {
            if let Ok(Some(seconds)) = parse_duration(&text) {
                proptest::prop_assert!(seconds > 0);
            }
        }

        #[test]
        fn a_number_and_a_unit_round_trip(count in 1u64..5000, unit in 0usize..5) {
            let (suffix, scale) = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800)][unit];
            proptest::prop_assert_eq!(parse_duration(&format!("{count}{suffix}")), Ok(Some(count * scale)));
        }
    }
}

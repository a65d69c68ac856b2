//! `roost user quota` on the server's side (and, with the server
//! stopped, on the database directly through [`show`] and [`setting`]):
//! a user's usage and limits, and their own limits changed by the
//! administrator (the same store operation SETQUOTA uses).
//!
//! Request words: `quota-show NAME` and `quota-set NAME STORAGE MESSAGES`,
//! each limit `keep`, `default` or a number (bytes, messages; 0: none).
//! The answer is [`show`]'s text.

use crate::server::Server;
use crate::store::quota::{size_text, Setting, Settings};
use crate::store::{Op, Reader, StoreError};

/// A limit word of `quota-set` as the store takes it.
pub fn setting(word: &str) -> Result<Setting, String> {
    match word {
        "keep" => Ok(Setting::Keep),
        "default" => Ok(Setting::Default),
        number => number.parse().map(Setting::To).map_err(|_| format!("{number:?} is not a limit")),
    }
}

/// A [`Setting`] as a `quota-set` word.
pub fn word(setting: Setting) -> String {
    match setting {
        Setting::Keep => "keep".into(),
        Setting::Default => "default".into(),
        Setting::To(value) => value.to_string(),
    }
}

/// What `roost user quota NAME` prints: usage, each limit and where it
/// comes from, the warning level reached, and the household's total.
pub fn show(reader: &Reader, name: &str, settings: &Settings) -> Result<String, String> {
    let failed = |error: StoreError| error.to_string();
    let user = reader.user(name).map_err(failed)?.ok_or_else(|| format!("no user {name:?}"))?;
    let quota = reader.quota(user.id, settings).map_err(failed)?;
    let mut lines = vec![format!("{name}: {} in {} message(s)", size_text(quota.usage.bytes), quota.usage.messages)];
    let origin = |own: Option<u64>| if own.is_some() { "set for this user" } else { "the [quota] default" };
    let storage = match quota.limits.storage {
        0 => "none".to_string(),
        limit => format!("{} ({}% used)", size_text(limit), quota.usage.bytes.saturating_mul(100) / limit),
    };
    lines.push(format!("storage limit: {storage}, {}", origin(quota.own.storage)));
    let messages = match quota.limits.messages {
        0 => "none".to_string(),
        limit => format!("{limit} ({}% used)", quota.usage.messages.saturating_mul(100) / limit),
    };
    lines.push(format!("message limit: {messages}, {}", origin(quota.own.messages)));
    if settings.household_storage > 0 || settings.household_messages > 0 {
        let total = reader.household_usage().map_err(failed)?;
        let mut limits = Vec::new();
        if settings.household_storage > 0 {
            limits.push(size_text(settings.household_storage));
        }
        if settings.household_messages > 0 {
            limits.push(format!("{} messages", settings.household_messages));
        }
        lines.push(format!(
            "household: {} in {} message(s), limit {}",
            size_text(total.bytes),
            total.messages,
            limits.join(" and ")
        ));
    }
    Ok(lines.join("\n"))
}

/// `quota-show` and `quota-set`.
pub async fn request(server: &Server, words: &[&str]) -> Result<String, String> {
    let settings = &server.config.quota.settings;
    match words {
        [name] => {
            let reader = server.store.read().map_err(|error| error.to_string())?;
            show(&reader, name, settings)
        }
        [name, storage, messages] => {
            let (storage, messages) = (setting(storage)?, setting(messages)?);
            let op = Op::SetQuota { name: name.to_string(), storage, messages };
            server.store.execute(op).await.map_err(|error| error.to_string())?;
            log::info!("quota: limits of {name} changed (storage {}, messages {})", word(storage), word(messages));
            let reader = server.store.read().map_err(|error| error.to_string())?;
            show(&reader, name, settings)
        }
        _ => Err("usage: quota-show NAME | quota-set NAME STORAGE MESSAGES".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_words_round_trip() {
        for setting in [Setting::Keep, Setting::Default, Setting::To(0), Setting::To(5 << 20)] {
            assert_eq!(super::setting(&word(setting)), Ok(setting));
        }
        assert!(super::setting("lots").is_err());
    }
}

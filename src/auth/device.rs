//! Device passwords: one generated password per phone or laptop, so a lost
//! phone is revoked alone and the main password never sits in a mail app.
//!
//! `roost user device add alice "Alice's iPhone"` makes 16 characters from
//! a 32-letter alphabet (Crockford's base 32: digits and lower-case letters
//! without i, l, o and u), 80 bits from the system's random source, shown
//! once as `xxxx-xxxx-xxxx-xxxx`. What is typed is read generously: case,
//! dashes and spaces do not matter, and `o`, `i`, `l` read as `0`, `1`, `1`,
//! so the space of passwords stays 2^80 while a phone's auto-capitalisation
//! or a misread letter does not lock anyone out.
//!
//! Only a salted SHA-256 of the canonical form is stored, not argon2: a
//! random 80-bit secret cannot be guessed from a dictionary, and a stolen
//! database still leaves 2^79 SHA-256 evaluations per device on average,
//! so a slow hash would only make every login of a phone cost a Pi Zero
//! hundreds of milliseconds for nothing. Checking a login against a user's
//! devices ([`MAX_DEVICES`](crate::store::MAX_DEVICES) at most) costs
//! microseconds. A match logs in at once; a miss goes on to the argon2
//! check of the main password (or the decoy for an unknown user), so a
//! wrong password costs and takes what it did before: the answer's timing
//! says neither whether the user exists nor whether it has devices.
//!
//! Device logins are never put in the verified-login cache
//! ([`super::LoginCache`]): they are cheap to check anyway, and reading the
//! devices afresh at every login means a deleted device password is refused
//! at the very next login, with nothing to forget. Sessions already logged
//! in with it are closed too ([`Sessions`]; Dovecot would leave them open):
//! a stolen phone in IDLE would otherwise keep receiving mail for good.
//!
//! A user may be set to device passwords only (`roost user device-only
//! alice on`): the main password then no longer logs in over IMAP (it still
//! serves the CLI). Such a login is refused like a wrong password, after the
//! same argon2 check, so the history can say "main password refused: device
//! passwords only" when it was right; the cache is not consulted for that
//! user's main password.

use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

use std::collections::HashMap;
use std::net::IpAddr;

use smol::channel::{self, Receiver, Sender};

use crate::config::Config;
use crate::store::UserRecord;
use crate::store::{DeviceRecord, FailureReason, LoginOutcome, Reader, StoreError};

/// Crockford's base 32, lower case: no i, l, o, u.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Characters of a device password (5 bits each: 80 bits).
pub const LENGTH: usize = 16;
const SALT_LENGTH: usize = 16;
/// Longest device name, in characters.
pub const MAX_NAME: usize = 64;

/// A fresh device password, grouped for reading: `xxxx-xxxx-xxxx-xxxx`.
pub fn generate() -> Result<String, String> {
    let mut random = [0u8; LENGTH];
    SystemRandom::new().fill(&mut random).map_err(|_| "no randomness available".to_string())?;
    Ok(group(random.iter().map(|byte| ALPHABET[usize::from(byte & 31)])))
}

fn group(characters: impl Iterator<Item = u8>) -> String {
    let mut text = String::with_capacity(LENGTH + 3);
    for (index, character) in characters.enumerate() {
        if index > 0 && index % 4 == 0 {
            text.push('-');
        }
        text.push(char::from(character));
    }
    text
}

/// The canonical form of what was typed, or None when it cannot be a
/// device password (then no hashing is done for it).
fn canonical(typed: &[u8]) -> Option<[u8; LENGTH]> {
    let mut out = [0u8; LENGTH];
    let mut length = 0;
    for &byte in typed {
        let character = match byte.to_ascii_lowercase() {
            b'-' | b' ' => continue,
            b'o' => b'0',
            b'i' | b'l' => b'1',
            other if ALPHABET.contains(&other) => other,
            _ => return None,
        };
        *out.get_mut(length)? = character;
        length += 1;
    }
    (length == LENGTH).then_some(out)
}

fn digest_of(salt: &[u8], canonical: &[u8]) -> Vec<u8> {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(b"roost device password\0");
    context.update(salt);
    context.update(canonical);
    context.finish().as_ref().to_vec()
}

/// The record to store for a new device `password` (as [`generate`] made it).
pub fn record(password: &str, created: i64) -> Result<DeviceRecord, String> {
    let canonical = canonical(password.as_bytes()).ok_or("not a device password")?;
    let mut salt = vec![0u8; SALT_LENGTH];
    SystemRandom::new().fill(&mut salt).map_err(|_| "no randomness available".to_string())?;
    let hash = digest_of(&salt, &canonical);
    Ok(DeviceRecord { salt, hash, created, last_used: 0, last_address: String::new() })
}

/// The name of the device whose password `typed` is, if any. Every device
/// is hashed, match or not, so the time taken depends only on how many
/// devices there are.
pub fn matching<'a>(devices: &'a [(String, DeviceRecord)], typed: &[u8]) -> Option<&'a str> {
    let canonical = canonical(typed)?;
    let mut found = None;
    for (name, record) in devices {
        let hash = digest_of(&record.salt, &canonical);
        if super::equal_in_constant_time(&hash, &record.hash) && found.is_none() {
            found = Some(name.as_str());
        }
    }
    found
}

/// What a login needs to know of a user besides the main password's hash.
#[derive(Default)]
pub struct Account {
    devices: Vec<(String, DeviceRecord)>,
    device_only: bool,
}

impl Account {
    /// The devices and settings of `user` (nothing for an unknown user).
    pub fn load(reader: &Reader, user: Option<&UserRecord>) -> Result<Account, StoreError> {
        let Some(user) = user else { return Ok(Account::default()) };
        Ok(Account { devices: reader.devices(user.id)?, device_only: reader.user_settings(user.id)?.device_only })
    }

    /// The name of the device whose password `typed` is.
    pub fn device(&self, typed: &[u8]) -> Option<String> {
        matching(&self.devices, typed).map(str::to_string)
    }

    /// Whether the verified-login cache may answer for this login: only for
    /// the main password of a user not limited to device passwords, from an
    /// address the user's rules allow (device logins are never cached, so a
    /// deleted one cannot be remembered; and a refusal must cost the argon2
    /// check a wrong password costs).
    pub fn may_use_cache(&self, config: &Config, user: &str, ip: IpAddr, device: Option<&str>) -> bool {
        device.is_none() && !self.device_only && config.user_allowed(user, ip)
    }

    /// How the login of `user` from `ip` ends, once its password check is
    /// over (`verified`: the main password or `device`'s was right).
    /// The address rules are applied after the check, not instead of it:
    /// skipping the hash would answer sooner for a user with rules than for
    /// an unknown one (an enumeration oracle), and the history can then
    /// tell the user "right password, address not allowed".
    pub fn judge(&self, config: &Config, user: &str, ip: IpAddr, verified: bool, device: Option<&str>) -> LoginOutcome {
        if !verified {
            LoginOutcome::Failure(FailureReason::WrongPassword)
        } else if device.is_none() && self.device_only {
            LoginOutcome::Failure(FailureReason::DeviceOnly)
        } else if !config.user_allowed(user, ip) {
            LoginOutcome::Failure(FailureReason::AddressRefused)
        } else {
            LoginOutcome::Success
        }
    }
}

/// The sessions logged in with each device password, so deleting it
/// closes them: a stolen phone left in IDLE would otherwise keep receiving
/// mail (keep-alives hold it open for good). Each session holds a receiver
/// that closes when its device is revoked.
#[derive(Default)]
pub struct Sessions {
    watching: HashMap<(u32, String), Vec<Sender<()>>>,
}

impl Sessions {
    /// A receiver that closes when `user`'s device password `device` is revoked.
    pub fn watch(&mut self, user: u32, device: &str) -> Receiver<()> {
        // Senders whose session has ended (receiver dropped) go first, so
        // the map holds no more than the sessions open.
        if self.watching.len() >= 64 {
            self.watching.retain(|_, senders| {
                senders.retain(|sender| !sender.is_closed());
                !senders.is_empty()
            });
        }
        let (sender, receiver) = channel::bounded(1);
        let senders = self.watching.entry((user, device.to_string())).or_default();
        senders.retain(|sender| !sender.is_closed());
        senders.push(sender);
        receiver
    }

    /// Closes the sessions of `user` logged in with `device`; returns how many.
    pub fn revoke(&mut self, user: u32, device: &str) -> usize {
        let senders = self.watching.remove(&(user, device.to_string())).unwrap_or_default();
        senders.iter().filter(|sender| !sender.is_closed()).count()
    }
}

/// Checks a device name given on the command line: printable, at most
/// [`MAX_NAME`] characters, not blank.
pub fn check_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a device needs a name, e.g. \"Alice's iPhone\"".into());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!("a device name has at most {MAX_NAME} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("a device name cannot hold control characters".into());
    }
    Ok(name.to_string())
}

/// Device names cross the control socket (one line, words split at spaces)
/// as unpadded base64.
pub fn encode_name(name: &str) -> String {
    crate::util::base64::encode_unpadded(name.as_bytes())
}

pub fn decode_name(word: &str) -> Result<String, String> {
    crate::util::base64::decode_unpadded(word.as_bytes())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| "bad device name encoding".to_string())
        .and_then(|name| check_name(&name))
}

/// A device record crosses the control socket as base64 of its encoding.
pub fn encode_record(record: &DeviceRecord) -> String {
    crate::util::base64::encode_unpadded(&record.encode())
}

pub fn decode_record(word: &str) -> Result<DeviceRecord, String> {
    let bytes = crate::util::base64::decode_unpadded(word.as_bytes()).ok_or("bad device record encoding")?;
    DeviceRecord::decode(&bytes).map_err(|error: StoreError| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_passwords_are_grouped_and_distinct() {
        let first = generate().unwrap();
        assert_eq!(first.len(), 19);
        assert_eq!(first.matches('-').count(), 3);
        for (index, character) in first.chars().enumerate() {
            if index % 5 == 4 {
                assert_eq!(character, '-');
            } else {
                assert!(ALPHABET.contains(&(character as u8)), "{first}");
            }
        }
        // 80 bits: a repeat among a few hundred means a broken generator.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            assert!(seen.insert(generate().unwrap()));
        }
    }

    #[test]
    fn every_letter_of_the_alphabet_turns_up() {
        // The byte & 31 mapping reaches all 32 characters (uniformly: 256 is a multiple of 32).
        let mut seen = [false; 32];
        for _ in 0..200 {
            for character in generate().unwrap().bytes().filter(|&byte| byte != b'-') {
                seen[ALPHABET.iter().position(|&letter| letter == character).unwrap()] = true;
            }
        }
        assert!(seen.iter().all(|&seen| seen));
    }

    #[test]
    fn typing_is_read_generously_but_exactly() {
        let password = "0123-4567-89ab-cdef";
        let devices = vec![("Phone".to_string(), record(password, 1).unwrap())];
        for typed in ["0123-4567-89ab-cdef", "0123456789abcdef", "O123 4567 89AB CDEF", "0i23-4567-89ab-cdef"] {
            assert_eq!(matching(&devices, typed.as_bytes()), Some("Phone"), "{typed}");
        }
        for typed in ["0123-4567-89ab-cdeg", "0123-4567-89ab-cde", "0123-4567-89ab-cdeff", "", "0123-4567-89ab-cdeü"] {
            assert_eq!(matching(&devices, typed.as_bytes()), None, "{typed}");
        }
        // Salted: the same password stored twice is stored differently.
        let again = record(password, 1).unwrap();
        assert_ne!(again.hash, devices[0].1.hash);
    }

    #[test]
    fn the_right_device_is_named() {
        let (first, second) = (generate().unwrap(), generate().unwrap());
        let devices = vec![
            ("Alice's iPhone".to_string(), record(&first, 1).unwrap()),
            ("Laptop".to_string(), record(&second, 2).unwrap()),
        ];
        assert_eq!(matching(&devices, first.as_bytes()), Some("Alice's iPhone"));
        assert_eq!(matching(&devices, second.as_bytes()), Some("Laptop"));
        assert_eq!(matching(&[], second.as_bytes()), None);
    }

    #[test]
    fn names_and_records_cross_the_control_socket() {
        assert_eq!(decode_name(&encode_name("Alice's iPhone")).unwrap(), "Alice's iPhone");
        assert!(check_name("   ").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
        assert!(check_name("a\tb").is_err());
        assert_eq!(check_name(&"é".repeat(64)).unwrap().chars().count(), 64);
        assert!(decode_name("!!!").is_err());
        let record = record(&generate().unwrap(), 5).unwrap();
        assert_eq!(decode_record(&encode_record(&record)).unwrap(), record);
        assert!(decode_record("AAAA").is_err());
    }

    #[test]
    fn revoking_a_device_closes_its_sessions_only() {
        let mut sessions = Sessions::default();
        let phone = sessions.watch(1, "Phone");
        let phone_again = sessions.watch(1, "Phone");
        let laptop = sessions.watch(1, "Laptop");
        let bobs = sessions.watch(2, "Phone");
        drop(phone_again);
        assert_eq!(sessions.revoke(1, "Phone"), 1);
        assert!(phone.is_closed());
        assert!(!laptop.is_closed() && !bobs.is_closed());
        assert_eq!(sessions.revoke(1, "Phone"), 0);
        // Ended sessions do not pile up.
        for index in 0..200 {
            drop(sessions.watch(3, &format!("device {index}")));
        }
        assert!(sessions.watching.len() <= 65);
    }

    proptest! {
        #[test]
        fn any_typed_text_is_handled(typed in proptest::collection::vec(any::<u8>(), 0..40)) {
            let devices = vec![("Phone".to_string(), record("0123-4567-89ab-cdef", 1).unwrap())];
            let _ = matching(&devices, &typed);
        }

        #[test]
        fn any_generated_password_matches_itself(seed in any::<[u8; 16]>()) {
            let password = group(seed.iter().map(|byte| ALPHABET[usize::from(byte & 31)]));
            let devices = vec![("Phone".to_string(), record(&password, 1).unwrap())];
            prop_assert_eq!(matching(&devices, password.as_bytes()), Some("Phone"));
            prop_assert_eq!(matching(&devices, password.to_uppercase().as_bytes()), Some("Phone"));
        }
    }
}

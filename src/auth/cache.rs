//! The verified-login cache: clients that log in again for every action
//! (webmail, some phones) skip argon2 for a while after a successful check.
//!
//! After a password verifies, a keyed hash (HMAC-SHA256 under a key made
//! at start, never stored) of the user, the password and the user's stored
//! password hash is kept, with the time, for `auth_cache_seconds`. A later
//! login whose keyed hash is there and fresh is accepted without hashing.
//! Failures are never cached. Because the stored hash is part of what is
//! hashed, a changed password (or a deleted and re-created user) misses the
//! cache by itself: nothing has to be told to forget. Memory is bounded by
//! `auth_cache_entries` (48 bytes an entry); when full, expired entries go
//! first, then the oldest.
//!
//! What a fast answer tells: only that this exact user and password logged
//! in lately, which whoever sends them already knows. Wrong passwords are
//! always hashed and delayed as before.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

pub struct LoginCache {
    key: hmac::Key,
    verified: HashMap<[u8; 32], Instant>,
    lifetime: Duration,
    capacity: usize,
}

impl LoginCache {
    /// A cache of at most `capacity` logins, each good for `lifetime`
    /// (zero of either: no cache).
    pub fn new(lifetime: Duration, capacity: usize) -> LoginCache {
        let mut secret = [0u8; 32];
        // Without randomness the cache stays empty (a key of zeros is
        // never used: remember() refuses).
        let keyed = SystemRandom::new().fill(&mut secret).is_ok();
        LoginCache {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            verified: HashMap::new(),
            lifetime,
            capacity: if keyed { capacity } else { 0 },
        }
    }

    /// The keyed hash a login is remembered by: computed once per login,
    /// before the password goes to the check.
    pub fn tag(&self, user: u32, password: &[u8], stored_hash: &str) -> [u8; 32] {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(&user.to_le_bytes());
        context.update(&(password.len() as u64).to_le_bytes());
        context.update(password);
        context.update(stored_hash.as_bytes());
        let mut tag = [0u8; 32];
        tag.copy_from_slice(context.sign().as_ref());
        tag
    }

    /// Whether `user` logged in with `password` (its stored hash then being
    /// `stored_hash`) within the lifetime.
    pub fn hit(&self, tag: &[u8; 32]) -> bool {
        if self.capacity == 0 || self.lifetime.is_zero() {
            return false;
        }
        self.verified.get(tag).is_some_and(|when| when.elapsed() < self.lifetime)
    }

    /// Remembers a successful check.
    pub fn remember(&mut self, tag: [u8; 32]) {
        if self.capacity == 0 || self.lifetime.is_zero() {
            return;
        }
        if self.verified.len() >= self.capacity && !self.verified.contains_key(&tag) {
            let lifetime = self.lifetime;
            self.verified.retain(|_, when| when.elapsed() < lifetime);
            if self.verified.len() >= self.capacity {
                let oldest = self.verified.iter().min_by_key(|(_, when)| **when).map(|(tag, _)| *tag);
                if let Some(oldest) = oldest {
                    self.verified.remove(&oldest);
                }
            }
        }
        self.verified.insert(tag, Instant::now());
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.verified.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_user_password_and_stored_hash_hit() {
        let mut cache = LoginCache::new(Duration::from_secs(60), 8);
        assert!(!cache.hit(&cache.tag(1, b"secret", "$hash1")));
        cache.remember(cache.tag(1, b"secret", "$hash1"));
        assert!(cache.hit(&cache.tag(1, b"secret", "$hash1")));
        assert!(!cache.hit(&cache.tag(1, b"secreT", "$hash1")));
        assert!(!cache.hit(&cache.tag(2, b"secret", "$hash1")));
        // The password was changed: the stored hash differs.
        assert!(!cache.hit(&cache.tag(1, b"secret", "$hash2")));
    }

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let mut cache = LoginCache::new(Duration::from_millis(30), 4);
        for user in 0..10 {
            cache.remember(cache.tag(user, b"pw", "$h"));
            assert!(cache.len() <= 4);
        }
        // The newest are kept, the oldest went.
        assert!(cache.hit(&cache.tag(9, b"pw", "$h")));
        assert!(!cache.hit(&cache.tag(0, b"pw", "$h")));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!cache.hit(&cache.tag(9, b"pw", "$h")));
        let off = LoginCache::new(Duration::ZERO, 4);
        assert!(!off.hit(&off.tag(9, b"pw", "$h")));
    }
}

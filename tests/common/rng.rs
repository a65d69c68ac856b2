//! The one pseudo-random generator of the tests and the benchmark
//! (xorshift64*): seeded, so a failing run replays from the seed it prints
//! and the benchmark corpus is the same bytes every time. Included by
//! `tests/common` and by `tests/bench/imap_load.rs` (`#[path]`).
#![allow(dead_code)]

#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`; any seed, even 0, gives a usable state.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    /// A generator whose state is `state` itself (0 read as 1): the
    /// benchmark corpus is defined by this.
    pub fn from_state(state: u64) -> Rng {
        Rng(state.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    /// An index into something `len` long (0 when it is empty).
    pub fn index(&mut self, len: usize) -> usize {
        (self.next() % len.max(1) as u64) as usize
    }

    /// A number in `low..high` (low < high).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// `length` pseudo-random bytes.
    pub fn bytes(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| (self.next() >> 56) as u8).collect()
    }
}

//! Trigrams of folded text: what a message's text holds, what a needle
//! needs.

use std::collections::HashSet;

use crate::mime::matcher::{fold, for_each_folded};

/// Set on ASCII trigrams, which are stored exactly (three 7-bit codes);
/// clear on the others, which are hashed into the remaining 31 bits.
const ASCII: u32 = 1 << 31;

/// The trigram of three consecutive folded characters. ASCII trigrams are
/// exact; others are a fixed 31-bit hash of the three code points, so two
/// different trigrams may share a value: that only adds candidates. The
/// values are stored, so this function must never change once an index
/// has been written (a change would need a reindex).
pub fn trigram(first: char, second: char, third: char) -> u32 {
    if first.is_ascii() && second.is_ascii() && third.is_ascii() {
        return ASCII | (first as u32) << 14 | (second as u32) << 7 | third as u32;
    }
    let mut mixed = u64::from(first) << 42 | u64::from(second) << 21 | u64::from(third);
    // splitmix64's finaliser: every input bit reaches every output bit.
    mixed ^= mixed >> 30;
    mixed = mixed.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed ^= mixed >> 27;
    mixed = mixed.wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^= mixed >> 31;
    (mixed as u32) & !ASCII
}

/// The distinct trigrams of `needle`'s fold, sorted; None when the fold
/// has fewer than three characters (the needle is then searched by
/// scanning). `needle` is the search string after its CHARSET decoding.
pub fn needle_trigrams(needle: &str) -> Option<Vec<u32>> {
    let folded: Vec<char> = fold(needle).chars().collect();
    if folded.len() < 3 {
        return None;
    }
    let mut trigrams: Vec<u32> = folded.windows(3).map(|three| trigram(three[0], three[1], three[2])).collect();
    trigrams.sort_unstable();
    trigrams.dedup();
    Some(trigrams)
}

/// The trigrams of one message's text, fed piece by piece as
/// [`crate::mime::matcher::Matcher::feed`] is: a trigram may straddle
/// pieces. [`Trigrams::end_stream`] marks where the matcher starts afresh
/// (the next part, the next header field), so no trigram straddles it.
///
/// Memory: at most `cap` distinct trigrams (see the module docs); over
/// it the set is dropped and the message is [`Indexed::Unindexed`].
#[derive(Debug, Clone)]
pub struct Trigrams {
    /// The last two folded characters of the stream, oldest first.
    window: [char; 2],
    /// How many of `window` hold characters of the current stream (0..=2).
    filled: usize,
    set: HashSet<u32>,
    cap: usize,
    over: bool,
}

/// What a message's trigrams came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Indexed {
    /// Its distinct trigrams, sorted.
    Trigrams(Vec<u32>),
    /// More than the cap: a candidate for every needle.
    Unindexed,
}

impl Trigrams {
    /// An empty set that holds at most `cap` distinct trigrams.
    pub fn new(cap: usize) -> Trigrams {
        Trigrams { window: ['\0'; 2], filled: 0, set: HashSet::new(), cap, over: false }
    }

    /// Feeds the next piece of the current stream. The fold is
    /// [`crate::mime::matcher::fold`], applied to the piece: it folds
    /// character by character and concatenates, so folding piece by piece
    /// gives the characters the matcher steps through, in order.
    pub fn feed(&mut self, text: &str) {
        if self.over {
            return;
        }
        for character in text.chars() {
            for_each_folded(character, |folded| self.push(folded));
            if self.over {
                return;
            }
        }
    }

    /// Ends the current stream: the next character starts a new one.
    pub fn end_stream(&mut self) {
        self.filled = 0;
    }

    /// Whether the cap was passed.
    pub fn is_over(&self) -> bool {
        self.over
    }

    #[cfg(test)]
    /// How many distinct trigrams are held (0 once over the cap).
    pub fn len(&self) -> usize {
        self.set.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    #[cfg(test)]
    /// Whether `trigram` is held (false once over the cap).
    pub fn contains(&self, trigram: u32) -> bool {
        self.set.contains(&trigram)
    }

    /// The sorted trigrams, or Unindexed when over the cap.
    pub fn finish(self) -> Indexed {
        if self.over {
            return Indexed::Unindexed;
        }
        let mut trigrams: Vec<u32> = self.set.into_iter().collect();
        trigrams.sort_unstable();
        Indexed::Trigrams(trigrams)
    }

    fn push(&mut self, character: char) {
        if self.filled < 2 {
            self.window[self.filled] = character;
            self.filled += 1;
            return;
        }
        let value = trigram(self.window[0], self.window[1], character);
        self.window = [self.window[1], character];
        if self.set.len() >= self.cap && !self.set.contains(&value) {
            self.over = true;
            self.set = HashSet::new();
            return;
        }
        self.set.insert(value);
    }
}

impl Indexed {
    #[cfg(test)]
    /// Whether a message indexed so may hold a needle with these
    /// trigrams (sorted, as [`needle_trigrams`] gives them).
    pub fn may_hold(&self, needle: &[u32]) -> bool {
        match self {
            Indexed::Unindexed => true,
            Indexed::Trigrams(held) => needle.iter().all(|wanted| held.binary_search(wanted).is_ok()),
        }
    }
}

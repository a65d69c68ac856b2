//! Case-insensitive substring matching for SEARCH (RFC 3501 §6.4.4,
//! RFC 9051 §6.4.4), over text that arrives in pieces.
//!
//! Both sides are compared after the same per-character fold, in the
//! spirit of RFC 5051's i;unicode-casemap (titlecase, then NFKD):
//!
//! 1. Canonical decomposition (NFD, from `unicode-normalization`): `é` becomes `e` and a
//!    combining acute, so text sent precomposed and text sent decomposed
//!    (as some Apple software does) match each other. Accents are kept, as
//!    separate marks: `ete` does not find `été`, but `cafe` finds `café`,
//!    since its mark comes after the match. Dovecot 2.3 behaves exactly
//!    so (checked live: `cafe`/`andre` found `Café`/`André`, `ete` and
//!    `naive` did not find `été` and `naïve`, `été` found NFD `été`).
//!    Dropping the marks instead would make `ano` find `año`; we do not.
//! 2. Case: lower case, upper case, lower case again, with std's full
//!    Unicode mappings. Going through upper case is what makes `ς`/`σ`/`Σ`,
//!    `ı`/`i`/`I`, `ß`/`ẞ`/`ss` meet, and `ﬁ` match `fi`; it is close to
//!    Unicode's full case folding (CaseFolding.txt, C+F) without a table
//!    of our own. Turkish `İ` folds to plain `i`, so `istanbul` finds
//!    `İstanbul`. Dovecot titlecases with simple mappings instead, so there
//!    `ß` does not find `ss`, `i` does not find `İ`, `file` not `ﬁle`.
//!
//! Compatibility decompositions (the K of NFKD: fullwidth letters,
//! superscripts, most ligatures) are not applied: that table would be
//! three times larger, for text mail rarely has.
//!
//! A search string is usually a word or two; the text is a whole body.
//! [`Matcher`] runs Knuth–Morris–Pratt over the folded characters, so it
//! keeps O(needle) state (the folded needle, its failure table, and how
//! much of it the text just ended with) and never the text itself, and a
//! match may straddle any number of pieces.

/// Calls `each` with every folded character of `character` (see the
/// module documentation), without allocating: this runs for every
/// character of every searched body.
pub(crate) fn for_each_folded(character: char, mut each: impl FnMut(char)) {
    if character.is_ascii() {
        each(character.to_ascii_lowercase());
        return;
    }
    if character == '\u{130}' {
        // Turkish İ: plain i (its Turkish lower case), not i and a
        // combining dot (its decomposition and its lower case elsewhere).
        each('i');
        return;
    }
    for_each_decomposed(character, |part| fold_case(part, &mut each));
}

/// Step 2 of the fold: case.
fn fold_case(character: char, each: &mut impl FnMut(char)) {
    if character.is_ascii() {
        each(character.to_ascii_lowercase());
        return;
    }
    for lower in character.to_lowercase() {
        for upper in lower.to_uppercase() {
            upper.to_lowercase().for_each(&mut *each);
        }
    }
}

/// Step 1 of the fold: the canonical decomposition of `character` (itself
/// if it has none), Hangul syllables included.
fn for_each_decomposed(character: char, each: impl FnMut(char)) {
    unicode_normalization::char::decompose_canonical(character, each);
}

/// Appends the case fold of `character` to `out`.
fn fold_into(character: char, out: &mut Vec<char>) {
    for_each_folded(character, |folded| out.push(folded));
}

/// The case fold of `text` (see the module documentation), for callers
/// that need a folded string rather than a match.
pub fn fold(text: &str) -> String {
    let mut folded = Vec::with_capacity(text.len());
    for character in text.chars() {
        fold_into(character, &mut folded);
    }
    folded.into_iter().collect()
}

/// A search for one string in a text fed piece by piece.
///
/// Memory: the folded needle and one `usize` per needle character; the
/// needle comes from a SEARCH command, so the command's own length limit
/// bounds it.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The needle, case folded.
    needle: Vec<char>,
    /// `failure[i]`: length of the longest proper prefix of
    /// `needle[..=i]` that is also its suffix.
    failure: Vec<usize>,
    /// How many needle characters the folded text fed so far ends with.
    matched: usize,
    found: bool,
}

impl Matcher {
    /// A matcher for `needle`. An empty needle matches every text, even
    /// an empty one: RFC 3501 makes SEARCH with "" match every message
    /// that has the field (or a body) at all.
    pub fn new(needle: &str) -> Matcher {
        let mut folded = Vec::with_capacity(needle.len());
        for character in needle.chars() {
            fold_into(character, &mut folded);
        }
        let failure = failure_table(&folded);
        let found = folded.is_empty();
        Matcher { needle: folded, failure, matched: 0, found }
    }

    /// Feeds the next piece of text; true once the needle has been seen
    /// in everything fed since [`Matcher::new`] or [`Matcher::reset`].
    pub fn feed(&mut self, text: &str) -> bool {
        if self.found {
            return true;
        }
        for character in text.chars() {
            for_each_folded(character, |folded| self.step(folded));
            if self.found {
                return true;
            }
        }
        false
    }

    /// Whether the needle has been seen.
    #[cfg(test)]
    pub fn found(&self) -> bool {
        self.found
    }

    /// Forgets the text fed so far (for the next message or part), keeping
    /// the needle.
    pub fn reset(&mut self) {
        self.matched = 0;
        self.found = self.needle.is_empty();
    }

    /// One Knuth–Morris–Pratt step over one folded text character.
    fn step(&mut self, character: char) {
        if self.found {
            return;
        }
        while self.matched > 0 && self.needle[self.matched] != character {
            self.matched = self.failure[self.matched - 1];
        }
        if self.needle[self.matched] == character {
            self.matched += 1;
        }
        if self.matched == self.needle.len() {
            self.found = true;
        }
    }
}

/// The Knuth–Morris–Pratt failure function of `needle`.
fn failure_table(needle: &[char]) -> Vec<usize> {
    let mut failure = vec![0; needle.len()];
    let mut length = 0;
    for index in 1..needle.len() {
        while length > 0 && needle[index] != needle[length] {
            length = failure[length - 1];
        }
        if needle[index] == needle[length] {
            length += 1;
        }
        failure[index] = length;
    }
    failure
}

/// Whether `haystack` contains `needle`, case-insensitively (one-shot
/// [`Matcher`]). An empty needle is always found.
pub fn contains(haystack: &str, needle: &str) -> bool {
    Matcher::new(needle).feed(haystack)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ascii_case_insensitive() {
        assert!(contains("Hello World", "world"));
        assert!(contains("Hello World", "O W"));
        assert!(!contains("Hello", "hola"));
        assert!(!contains("ab", "abc"));
    }

    #[test]
    fn empty_needle_matches_everything() {
        assert!(contains("", ""));
        assert!(contains("anything", ""));
        let mut matcher = Matcher::new("");
        assert!(matcher.found());
        matcher.reset();
        assert!(matcher.found());
    }

    #[test]
    fn unicode_folding() {
        assert!(contains("Crème BRÛLÉE", "crème brûlée"));
        assert!(contains("ÉTÉ", "été"));
        // Greek final sigma meets capital and medial sigma.
        assert!(contains("ΟΔΟΣ", "οδος"));
        assert!(contains("οδος", "ΟΔΟΣ"));
        // ß folds to ss (as in Unicode full case folding).
        assert!(contains("Straße", "STRASSE"));
        assert!(contains("STRASSE", "straße"));
        // Dotless i meets i; Turkish capital İ folds to i.
        assert!(contains("KIRMIZI", "kırmızı"));
        assert!(contains("İstanbul", "istanbul"));
        assert!(contains("istanbul", "İSTANBUL"));
        // Ligature.
        assert!(contains("ﬁle", "FILE"));
        // Cyrillic.
        assert!(contains("Привет, МИР", "мир"));
    }

    #[test]
    fn accents_are_kept_as_marks() {
        // Precomposed and decomposed forms meet, either way round.
        assert!(contains("e\u{301}te\u{301}", "été"));
        assert!(contains("ÉTÉ", "e\u{301}te\u{301}"));
        assert!(contains("Ångström", "A\u{30a}NGSTRO\u{308}M"));
        // A base letter finds an accented one only when the mark follows
        // the match (as in Dovecot).
        assert!(contains("café", "cafe"));
        assert!(contains("André", "andre"));
        assert!(!contains("été", "ete"));
        assert!(!contains("naïve", "naive"));
        assert!(!contains("cafe", "café"));
        assert!(!contains("año", "ano"));
    }

    #[test]
    fn canonical_decomposition() {
        let decomposed = |character: char| {
            let mut parts = String::new();
            for_each_decomposed(character, |part| parts.push(part));
            parts
        };
        assert_eq!(decomposed('é'), "e\u{301}");
        assert_eq!(decomposed('ǖ'), "u\u{308}\u{304}");
        assert_eq!(decomposed('\u{212B}'), "A\u{30a}");
        assert_eq!(decomposed('한'), "\u{1112}\u{1161}\u{11AB}");
        assert_eq!(decomposed('가'), "\u{1100}\u{1161}");
        assert_eq!(decomposed('x'), "x");
        assert_eq!(decomposed('ﬁ'), "ﬁ");
    }

    #[test]
    fn straddles_pieces_and_backtracks() {
        let mut matcher = Matcher::new("abab");
        assert!(!matcher.feed("xxab"));
        assert!(!matcher.feed("a"));
        assert!(matcher.feed("bzz"));
        assert!(matcher.feed("anything"));
        matcher.reset();
        assert!(!matcher.feed("aba"));
        assert!(!matcher.feed("c"));
        assert!(!matcher.feed("bab"));
        assert!(matcher.feed("ab"));
        // Overlapping prefixes: "aab" in "aaab".
        assert!(contains("aaab", "aab"));
        assert!(contains("ABCABDABCABCABD", "abcabcabd"));
    }

    #[test]
    fn fold_is_stable() {
        assert_eq!(fold("Straße ẞ ΣΑΣ İ ſ É"), "strasse ss σασ i s e\u{301}");
    }

    fn split_feed(text: &str, needle: &str, cuts: &[usize]) -> bool {
        let mut matcher = Matcher::new(needle);
        let mut result = false;
        let mut start = 0;
        let mut boundaries: Vec<usize> = cuts.iter().map(|cut| cut % (text.len() + 1)).collect();
        boundaries.sort_unstable();
        for cut in boundaries.into_iter().chain([text.len()]) {
            if cut < start || !text.is_char_boundary(cut) {
                continue;
            }
            result = matcher.feed(&text[start..cut]);
            start = cut;
        }
        result
    }

    /// The obvious, quadratic answer to compare with.
    fn naive(haystack: &str, needle: &str) -> bool {
        fold(haystack).contains(&fold(needle))
    }

    proptest! {
        #[test]
        fn planted_needle_found_under_any_split(
            before in "[a-zA-Zéß ΣσςİıΩ]{0,30}",
            needle in "[a-zA-Zéß ΣσςİıΩ]{0,8}",
            after in "[a-zA-Zéß ΣσςİıΩ]{0,30}",
            upper in any::<bool>(),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let planted = if upper { needle.to_uppercase() } else { needle.clone() };
            let text = format!("{before}{planted}{after}");
            prop_assert!(split_feed(&text, &needle, &cuts));
        }

        #[test]
        fn agrees_with_naive_search_under_any_split(
            text in "[abAB ßsSΣσς]{0,40}",
            needle in "[abAB ßsSΣσς]{0,5}",
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            prop_assert_eq!(split_feed(&text, &needle, &cuts), naive(&text, &needle));
        }

        #[test]
        fn absent_needle_never_found(
            text in "[a-y ]{0,60}",
            needle in "[a-z]{0,5}z[a-z]{0,5}",
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            prop_assert!(!split_feed(&text, &needle, &cuts));
        }

        #[test]
        fn never_panics(text in any::<String>(), needle in any::<String>()) {
            let _ = contains(&text, &needle);
        }
    }
}

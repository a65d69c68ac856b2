//! Maildir and Maildir++ (Dovecot, Courier): what a file's name and a
//! folder's name say.
//!
//! - A message file in `cur/` is `UNIQUE:2,LETTERS` (`;` or `!` in place of
//!   `:` on systems that forbid colons; Dovecot's `maildir_broken_filename`
//!   style). Upper-case letters are flags (D \Draft, F \Flagged, P passed:
//!   `$Forwarded`, R \Answered, S \Seen, T \Deleted); lower-case `a`..`z`
//!   are keywords, named by the folder's `dovecot-keywords` (`N name` per
//!   line, `a` is 0). A file in `new/` usually has no info yet, but
//!   Dovecot gives one to a file whose flags change before it moves.
//! - Folders are Maildir++'s `.A.B` directories beside `cur`/`new`/`tmp`:
//!   `A/B` here, each level in modified UTF-7 (RFC 3501 §5.1.3) on disk.
//! - `dovecot-uidlist` lists the files in UID order; the import keeps that
//!   order, so the messages keep their relative UIDs.

use crate::mail::Flags;
use crate::util::mutf7;

use super::{is_keyword, FORWARDED};

/// What a message file's name says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileName {
    /// The name without its `:2,` info (what `dovecot-uidlist` lists).
    pub base: String,
    pub flags: Flags,
    /// Keyword letters: bit 0 is `a`.
    pub keyword_letters: u32,
    /// `P`: passed (forwarded).
    pub passed: bool,
}

/// Reads a message file's name (the info part only for `cur/` files:
/// `with_info`).
pub fn parse_file_name(name: &str, with_info: bool) -> FileName {
    let info =
        if with_info { [":2,", ";2,", "!2,"].iter().filter_map(|separator| name.rfind(separator)).max() } else { None };
    let Some(at) = info else {
        return FileName { base: name.to_string(), ..FileName::default() };
    };
    let mut parsed = FileName { base: name[..at].to_string(), ..FileName::default() };
    for letter in name[at + 3..].chars() {
        match letter {
            'D' => parsed.flags = parsed.flags.union(Flags::DRAFT),
            'F' => parsed.flags = parsed.flags.union(Flags::FLAGGED),
            'P' => parsed.passed = true,
            'R' => parsed.flags = parsed.flags.union(Flags::ANSWERED),
            'S' => parsed.flags = parsed.flags.union(Flags::SEEN),
            'T' => parsed.flags = parsed.flags.union(Flags::DELETED),
            'a'..='z' => parsed.keyword_letters |= 1 << (letter as u32 - 'a' as u32),
            // Other letters (experimental ones, a stray ',') mean nothing to IMAP.
            _ => {}
        }
    }
    parsed
}

/// A folder's `dovecot-keywords`: the keyword of each letter (`a` first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keywords(pub Vec<Option<String>>);

impl Keywords {
    /// Reads `dovecot-keywords` (`N name` lines); lines that are not, and
    /// names that are no IMAP atom, are skipped.
    pub fn parse(text: &str) -> Keywords {
        let mut names = vec![None; 26];
        for line in text.lines() {
            let Some((number, name)) = line.split_once(' ') else { continue };
            let (Ok(index), name) = (number.parse::<usize>(), name.trim()) else { continue };
            if index < names.len() && is_keyword(name) {
                names[index] = Some(name.to_string());
            }
        }
        Keywords(names)
    }

    /// The keywords of a file name; letters with no name are left out.
    pub fn of(&self, name: &FileName) -> Vec<String> {
        let mut keywords: Vec<String> = (0..26)
            .filter(|bit| name.keyword_letters & (1 << bit) != 0)
            .filter_map(|bit| self.0.get(bit).cloned().flatten())
            .collect();
        if name.passed && !keywords.iter().any(|keyword| keyword.eq_ignore_ascii_case(FORWARDED)) {
            keywords.push(FORWARDED.to_string());
        }
        keywords
    }
}

/// A Maildir++ folder directory's name (`.A.B`) as a mailbox name
/// (`A/B`); None for a name that is no folder (no leading dot, an empty
/// level, a level that is not modified UTF-7 nor UTF-8).
pub fn folder_name(directory: &str) -> Option<String> {
    let name = directory.strip_prefix('.')?;
    if name.is_empty() || name == "." {
        return None;
    }
    let mut levels = Vec::new();
    for level in name.split('.') {
        if level.is_empty() {
            return None;
        }
        let decoded = level_name(level);
        if decoded.contains('/') {
            return None;
        }
        levels.push(decoded);
    }
    Some(levels.join("/"))
}

/// One level of a folder name on disk: Dovecot writes modified UTF-7
/// (`Caf&AOk-`); a name that is not strict modified UTF-7 (UTF-8 names of
/// `maildir_utf8`, Thunderbird, `roost export --mbox`; `R&D`) is taken as
/// it is. Then the `\NN` escapes of Dovecot's `listescape` plugin (which
/// `roost export` writes for a `.` inside a name, `v1\2e2`) become the
/// ASCII characters they stand for.
pub fn level_name(level: &str) -> String {
    unescape(&mutf7::decode(level.as_bytes()).unwrap_or_else(|_| level.to_string()))
}

/// `listescape`'s `\NN` (two hex digits, an ASCII character) decoded; a
/// backslash not followed by such an escape stays as it is.
fn unescape(level: &str) -> String {
    let mut out = String::with_capacity(level.len());
    let mut rest = level;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escaped = rest.get(at + 1..at + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok()).filter(u8::is_ascii);
        match escaped {
            Some(byte) if !rest[at + 1..at + 3].starts_with('+') => {
                out.push(char::from(byte));
                rest = &rest[at + 3..];
            }
            _ => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `dovecot-uidlist`: each listed file's base name with its UID.
pub fn parse_uidlist(text: &str) -> Vec<(String, u32)> {
    // Version 3: a header line, then `UID [extensions] :BASE` per file.
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let (uid, rest) = line.split_once(' ')?;
            let uid = uid.parse::<u32>().ok()?;
            // The name follows the first colon; Dovecot lists it without
            // its `:2,` info, an older writer with.
            let (_, name) = rest.split_once(':')?;
            let base = name.split(':').next().unwrap_or(name);
            (!base.is_empty()).then(|| (base.to_string(), uid))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_keyword_letters_come_from_the_info() {
        let name = parse_file_name("1700000000.M1P2.host,S=120,W=123:2,FRSTabz", true);
        assert_eq!(name.base, "1700000000.M1P2.host,S=120,W=123");
        assert_eq!(name.flags, Flags::FLAGGED.union(Flags::ANSWERED).union(Flags::SEEN).union(Flags::DELETED));
        assert_eq!(name.keyword_letters, 1 | 2 | 1 << 25);
        assert!(!name.passed);
        assert_eq!(parse_file_name("x;2,DP", true).flags, Flags::DRAFT);
        assert!(parse_file_name("x;2,DP", true).passed);
        // new/ files carry no info, whatever their name holds.
        assert_eq!(parse_file_name("x:2,S", false), FileName { base: "x:2,S".into(), ..FileName::default() });
        assert_eq!(parse_file_name("plain", true).base, "plain");
    }

    #[test]
    fn keywords_name_the_letters() {
        let keywords = Keywords::parse("0 $Junk\n1 work stuff\n2 Important\nbroken\n30 far\n");
        let name = parse_file_name("x:2,Sabc", true);
        assert_eq!(keywords.of(&name), vec!["$Junk".to_string(), "Important".to_string()]);
        let passed = parse_file_name("x:2,P", true);
        assert_eq!(keywords.of(&passed), vec![FORWARDED.to_string()]);
    }

    #[test]
    fn folder_names_are_decoded() {
        assert_eq!(folder_name(".Sent").as_deref(), Some("Sent"));
        assert_eq!(folder_name(".Lists.rust").as_deref(), Some("Lists/rust"));
        assert_eq!(folder_name(".Caf&AOk-").as_deref(), Some("Café"));
        assert_eq!(folder_name(".Café").as_deref(), Some("Café"));
        assert_eq!(folder_name(".R&D").as_deref(), Some("R&D"));
        // listescape, as `roost export` writes a dot inside a name.
        assert_eq!(folder_name(".v1\\2e2.notes").as_deref(), Some("v1.2/notes"));
        assert_eq!(folder_name(".a\\5cb\\zz\\").as_deref(), Some("a\\b\\zz\\"));
        for bad in ["Sent", ".", "..", ".a..b", "cur"] {
            assert_eq!(folder_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn uidlist_gives_each_base_its_uid() {
        let text = "3 V1700000000 N5 G0123\n1 :first\n4 G9a W200 :second:2,S\n";
        assert_eq!(parse_uidlist(text), vec![("first".to_string(), 1), ("second".to_string(), 4)]);
    }

    proptest::proptest! {
        #[test]
        fn parsing_a_written_name_gives_its_flags(
            base in "[0-9A-Za-z.,=]{1,20}",
            flags in 0u8..32,
            letters in 0u32..(1 << 26),
            passed: bool,
        ) {
            let mut info = String::new();
            for (bit, letter) in [(Flags::DRAFT, 'D'), (Flags::FLAGGED, 'F')] {
                if Flags(flags).contains(bit) { info.push(letter); }
            }
            if passed { info.push('P'); }
            for (bit, letter) in [(Flags::ANSWERED, 'R'), (Flags::SEEN, 'S'), (Flags::DELETED, 'T')] {
                if Flags(flags).contains(bit) { info.push(letter); }
            }
            for bit in 0..26 {
                if letters & (1 << bit) != 0 { info.push((b'a' + bit as u8) as char); }
            }
            let parsed = parse_file_name(&format!("{base}:2,{info}"), true);
            proptest::prop_assert_eq!(parsed, FileName { base, flags: Flags(flags), keyword_letters: letters, passed });
        }

        #[test]
        fn any_name_parses_without_panic(name in "\\PC{0,40}") {
            let _ = parse_file_name(&name, true);
            let _ = folder_name(&name);
        }
    }
}

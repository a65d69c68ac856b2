//! Mail files other programs write: mbox files ([`mbox`]) and Maildir
//! folders ([`maildir`]), read for `roost import` (`crate::import`).
//! Parsing only: no file system walk and no store here, so the property
//! tests and the fuzz targets reach every decision.

pub mod maildir;
pub mod mbox;

/// RFC 5788's keyword for a forwarded message: what Maildir's `P` and
/// Thunderbird's forwarded bit become.
pub const FORWARDED: &str = "$Forwarded";

/// Whether `keyword` may be stored as an IMAP keyword (RFC 3501 §9:
/// `flag-keyword = atom`; a leading `\` would make it a system flag).
pub fn is_keyword(keyword: &str) -> bool {
    !keyword.is_empty()
        && keyword.len() <= 255
        && !keyword.starts_with('\\')
        && keyword.bytes().all(|byte| byte > 0x20 && byte < 0x7f && !b"(){%*\"\\]".contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::is_keyword;

    #[test]
    fn keywords_are_atoms() {
        assert!(is_keyword("$Forwarded") && is_keyword("NonJunk") && is_keyword("$label1"));
        for bad in ["", "two words", "\\Seen", "a(b", "quote\"d", "brace]", "naïve"] {
            assert!(!is_keyword(bad), "{bad:?}");
        }
    }
}

/// The committed fuzz seeds (`fuzz/seeds/mbox_split`, `maildir_name`) run
/// through the fuzz targets' checks in the ordinary test run.
#[cfg(test)]
mod seeds {
    #[test]
    fn fuzz_seeds_hold() {
        for target in ["mbox_split", "maildir_name"] {
            let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(target);
            for entry in std::fs::read_dir(&directory).unwrap() {
                let data = std::fs::read(entry.unwrap().path()).unwrap();
                match target {
                    "mbox_split" => crate::fuzzing::mbox_split(&data),
                    _ => crate::fuzzing::maildir_name(&data),
                }
            }
        }
    }
}

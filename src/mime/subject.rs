//! RFC 5256 §2.1 base subject: what SORT SUBJECT compares and what THREAD
//! groups by, with "Re:", "Fwd:", "[list]" and "(fwd)" taken off.
//!
//! The grammar of the RFC, spelled out (strings are case-insensitive):
//!
//! ```text
//! subj-refwd   = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
//! subj-blob    = "[" *BLOBCHAR "]" *WSP
//! subj-fwd-hdr = "[fwd:"      subj-fwd-trl = "]"
//! subj-leader  = (*subj-blob subj-refwd) / WSP
//! subj-trailer = "(fwd)" / WSP
//! ```

/// Longest subject (in bytes, after whitespace is collapsed) that is looked
/// at; the rest is cut at a character boundary. Real subjects are far
/// shorter, and the cap keeps a hostile one ("[a][b][c]..." thousands of
/// times) from costing more than a few microseconds per message when a
/// mailbox of 100,000 is sorted.
pub const SUBJECT_LIMIT: usize = 2048;

/// The base subject of `subject` (already RFC 2047-decoded to UTF-8; folding
/// may remain) and whether it looked like a reply or forward: a "Re:"/"Fw:"
/// leader, a "(fwd)" trailer or a "[fwd: ...]" wrapper was removed (what
/// THREAD=REFERENCES step 5 and ORDEREDSUBJECT call "a reply or forward").
///
/// The result keeps its letter case; compare base subjects with
/// [`crate::imap::sort::casemap`] applied, as RFC 5256 §2.1 asks.
pub fn base_subject(subject: &str) -> (String, bool) {
    // Step 1: tabs and line breaks become spaces, runs of spaces one space.
    let text = collapse_whitespace(subject);
    let mut rest = text.as_str();
    let mut reply_or_forward = false;
    loop {
        // Step 2: trailers, repeatedly.
        rest = strip_trailers(rest, &mut reply_or_forward);
        // Steps 3 to 5: leaders and blobs, repeatedly.
        rest = strip_leaders(rest, &mut reply_or_forward);
        // Step 6: a "[fwd: ...]" wrapper, then all over again from step 2.
        match strip_forward_wrapper(rest) {
            Some(inner) => {
                reply_or_forward = true;
                rest = inner;
            }
            None => break,
        }
    }
    (rest.to_string(), reply_or_forward)
}

/// RFC 5256 §2.1 step 1 (the decoding was done by the caller), capped at
/// [`SUBJECT_LIMIT`] bytes.
fn collapse_whitespace(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len().min(SUBJECT_LIMIT));
    let mut last_was_space = false;
    for character in subject.chars() {
        let character = if matches!(character, '\t' | '\r' | '\n') { ' ' } else { character };
        if character == ' ' && last_was_space {
            continue;
        }
        if out.len() + character.len_utf8() > SUBJECT_LIMIT {
            break;
        }
        last_was_space = character == ' ';
        out.push(character);
    }
    out
}

/// Step 2: remove "(fwd)" and whitespace from the end until neither is left.
fn strip_trailers<'a>(mut text: &'a str, reply_or_forward: &mut bool) -> &'a str {
    loop {
        if let Some(shorter) = text.strip_suffix(' ') {
            text = shorter;
        } else if ends_with_ignore_case(text, "(fwd)") {
            *reply_or_forward = true;
            text = &text[..text.len() - "(fwd)".len()];
        } else {
            return text;
        }
    }
}

/// Steps 3 to 5: remove leaders (whitespace, or blobs followed by "re:",
/// "fw:", "fwd:"), and single blobs as long as something is left after
/// them, until neither applies.
///
/// Step 3 looks past a run of blobs for a "re:"; when none follows, step 4
/// takes the blobs off one by one and step 3 would look past the same run
/// again and fail again. So one scan of the run decides both: all of it
/// goes (with the "re:" when there is one, or when text follows it), or all
/// but its last blob goes when that blob is the whole remaining subject.
fn strip_leaders<'a>(mut text: &'a str, reply_or_forward: &mut bool) -> &'a str {
    loop {
        text = text.trim_start_matches(' ');
        let mut after_blobs = text;
        let mut last_blob = None;
        while let Some(after) = blob(after_blobs) {
            last_blob = Some(after_blobs);
            after_blobs = after;
        }
        if let Some(after) = refwd(after_blobs) {
            *reply_or_forward = true;
            text = after;
            continue;
        }
        match last_blob {
            // The blob run is followed by text: the blobs all go (step 4).
            Some(_) if !after_blobs.is_empty() => return after_blobs,
            // The last blob is all that would be left: it is the base.
            Some(last) => return last,
            None => return text,
        }
    }
}

/// The text after a leading subj-blob (`"[" *BLOBCHAR "]" *WSP`), if `text`
/// starts with one.
fn blob(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('[')?;
    let close = inner.find([']', '['])?;
    if inner.as_bytes()[close] != b']' {
        return None;
    }
    Some(inner[close + 1..].trim_start_matches(' '))
}

/// The text after a leading subj-refwd ("re", "fw" or "fwd", spaces, an
/// optional blob, then ":"), if `text` starts with one.
fn refwd(text: &str) -> Option<&str> {
    let rest = if starts_with_ignore_case(text, "re") {
        &text[2..]
    } else if starts_with_ignore_case(text, "fwd") {
        &text[3..]
    } else if starts_with_ignore_case(text, "fw") {
        &text[2..]
    } else {
        return None;
    };
    let rest = rest.trim_start_matches(' ');
    let rest = blob(rest).unwrap_or(rest);
    rest.strip_prefix(':')
}

/// Step 6: the inside of "[fwd: ...]", if the whole text is one.
fn strip_forward_wrapper(text: &str) -> Option<&str> {
    if !starts_with_ignore_case(text, "[fwd:") {
        return None;
    }
    text["[fwd:".len()..].strip_suffix(']')
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.as_bytes().get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len() && text.as_bytes()[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn base(subject: &str) -> (&'static str, bool) {
        let (text, reply) = base_subject(subject);
        (Box::leak(text.into_boxed_str()), reply)
    }

    #[test]
    fn plain_subjects_stay() {
        assert_eq!(base("Hello world"), ("Hello world", false));
        assert_eq!(base(""), ("", false));
        assert_eq!(base("   "), ("", false));
        assert_eq!(base("Reply needed"), ("Reply needed", false));
        assert_eq!(base("Fwding rules"), ("Fwding rules", false));
        assert_eq!(base("re"), ("re", false));
    }

    #[test]
    fn whitespace_is_collapsed() {
        assert_eq!(base("  a\t\tlong\r\n  folded   subject  "), ("a long folded subject", false));
    }

    #[test]
    fn reply_and_forward_leaders() {
        assert_eq!(base("Re: hello"), ("hello", true));
        assert_eq!(base("RE: Re: re:hello"), ("hello", true));
        assert_eq!(base("Fwd: hello"), ("hello", true));
        assert_eq!(base("FW: hello"), ("hello", true));
        assert_eq!(base("Re : hello"), ("hello", true));
        assert_eq!(base("Re[2]: hello"), ("hello", true));
        assert_eq!(base("Re [list]: hello"), ("hello", true));
        assert_eq!(base("Re:"), ("", true));
        assert_eq!(base("Reply: hello"), ("Reply: hello", false));
    }

    #[test]
    fn blobs() {
        assert_eq!(base("[list] hello"), ("hello", false));
        assert_eq!(base("[list] Re: hello"), ("hello", true));
        assert_eq!(base("Re: [list] Re: hello"), ("hello", true));
        assert_eq!(base("[a][b] [c] hello"), ("hello", false));
        // A blob that is all there is stays: it is the base subject.
        assert_eq!(base("[list]"), ("[list]", false));
        assert_eq!(base("[a] [b]"), ("[b]", false));
        assert_eq!(base("Re: [list]"), ("[list]", true));
        // Unterminated or nested brackets are not blobs.
        assert_eq!(base("[list hello"), ("[list hello", false));
        assert_eq!(base("[a[b] hello"), ("[a[b] hello", false));
    }

    #[test]
    fn trailers_and_forward_wrappers() {
        assert_eq!(base("hello (fwd)"), ("hello", true));
        assert_eq!(base("hello (FWD) (fwd)  "), ("hello", true));
        assert_eq!(base("[Fwd: hello]"), ("hello", true));
        assert_eq!(base("[fwd: Re: hello (fwd)]"), ("hello", true));
        assert_eq!(base("Re: [list] Fwd: subject (fwd)"), ("subject", true));
        assert_eq!(base("[fwd: hello"), ("[fwd: hello", false));
    }

    #[test]
    fn long_subjects_are_capped_at_a_character_boundary() {
        let long = "é".repeat(SUBJECT_LIMIT);
        let (text, _) = base_subject(&long);
        assert!(text.len() <= SUBJECT_LIMIT && text.len() >= SUBJECT_LIMIT - 1);
    }

    /// The RFC's steps, written as literally as possible (slow, no cap):
    /// the oracle for the single-pass leader removal above.
    fn literal_base_subject(subject: &str) -> (String, bool) {
        let mut text = collapse_whitespace(subject);
        let mut reply = false;
        loop {
            text = strip_trailers(&text, &mut reply).to_string();
            loop {
                let before = text.clone();
                // Step 3: subj-leader, as often as it matches.
                loop {
                    if let Some(rest) = text.strip_prefix(' ') {
                        text = rest.to_string();
                        continue;
                    }
                    let mut after = text.as_str();
                    while let Some(rest) = blob(after) {
                        after = rest;
                    }
                    match refwd(after) {
                        Some(rest) => {
                            reply = true;
                            text = rest.to_string();
                        }
                        None => break,
                    }
                }
                // Step 4: one blob, if a non-empty subj-base is left.
                if let Some(rest) = blob(&text) {
                    if !rest.is_empty() {
                        text = rest.to_string();
                    }
                }
                if text == before {
                    break;
                }
            }
            match strip_forward_wrapper(&text) {
                Some(inner) => {
                    reply = true;
                    text = inner.to_string();
                }
                None => break,
            }
        }
        (text, reply)
    }

    proptest! {
        #[test]
        fn never_panics(subject in any::<String>()) {
            let _ = base_subject(&subject);
        }

        #[test]
        fn matches_the_literal_steps(subject in "(re|Re|fw|FWD|\\[|\\]|\\[fwd:|\\(fwd\\)|:| |\t|a|é){0,24}") {
            prop_assert_eq!(base_subject(&subject), literal_base_subject(&subject));
        }

        #[test]
        fn is_idempotent(subject in "(re|fw|\\[|\\]|\\[fwd:|\\(fwd\\)|:| |a|b){0,24}") {
            let (once, _) = base_subject(&subject);
            let (twice, _) = base_subject(&once);
            prop_assert_eq!(once, twice);
        }
    }
}

//! RFC 8474 OBJECTID: the ids a client uses to recognise a mailbox that
//! was renamed and a message that was copied or moved, instead of
//! downloading it again.
//!
//! # What each id is
//!
//! - MAILBOXID is the store's mailbox id: allocated from a counter that
//!   never goes back, so never reused, kept by RENAME (the id stays, only
//!   the name row moves), and new for a mailbox made again after DELETE
//!   (a new row; also when DELETE left a \Noselect placeholder because the
//!   name had children: CREATE then replaces the placeholder by a new
//!   mailbox). RENAME of INBOX makes a new mailbox for the messages and
//!   INBOX keeps its id (RFC 8474 §4.2 wants exactly that).
//! - EMAILID is the id of the message's blob in the single-instance
//!   store. COPY and MOVE add a reference to the same blob, and an LMTP
//!   delivery to several recipients stores one blob for all of them, so
//!   every copy of one message has the same EMAILID (RFC 8474 §5.1), and a
//!   blob never changes while a message holds it, so the id is immutable.
//!   Blob ids come from a counter too, so two different messages never
//!   share one, not even after the first was expunged. Two APPENDs of the
//!   same bytes are two blobs, so two EMAILIDs: RFC 8474 §5.1 only asks
//!   that one message keep its id, and finding equal bytes would mean
//!   hashing every upload and an index of hashes, for a case (a client
//!   uploading the same message twice) where a second download is cheap.
//!   A message delivered to two users has the same EMAILID in both
//!   accounts; each user sees only their own, so nothing is revealed.
//! - THREADID is NIL for every message: RFC 8474 §5.2 allows a server
//!   without threads to answer NIL, and SEARCH THREADID then matches
//!   nothing. A real one would have to be fixed at delivery (the id may
//!   never change) from References/In-Reply-To through a per-user
//!   Message-ID index (one more row per message and a lookup per
//!   reference at every delivery), and it could not follow when a missing
//!   middle message arrives later and joins two threads, so it would
//!   disagree with THREAD=REFERENCES, which roost computes per mailbox
//!   from the same headers. A client that wants threads asks THREAD.
//!
//! # Form
//!
//! RFC 8474 §3 lets an id be 1 to 255 of `[A-Za-z0-9_-]`, opaque to the
//! client. Ours are a letter naming the kind (`M` mailbox, `E` message)
//! followed by the number in lower-case hexadecimal without leading
//! zeros: short, and one spelling per id, so an id sent back in SEARCH
//! EMAILID is read back to its number and anything else matches nothing.

/// The MAILBOXID of mailbox `id`.
pub fn mailbox_id(id: u64) -> String {
    format!("M{id:x}")
}

/// The EMAILID of a message whose bytes are blob `blob`.
pub fn email_id(blob: u64) -> String {
    format!("E{blob:x}")
}

/// The blob an EMAILID names, if `text` is one of ours.
pub fn email_blob(text: &str) -> Option<u64> {
    number_after(text, 'E')
}

fn number_after(text: &str, kind: char) -> Option<u64> {
    let digits = text.strip_prefix(kind)?;
    let canonical = !digits.is_empty()
        && !digits.starts_with('0')
        && digits.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    if !canonical {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// Whether `text` is an objectid (RFC 8474 §7: 1*255 of ALPHA, DIGIT, "_", "-").
pub fn is_object_id(text: &[u8]) -> bool {
    (1..=255).contains(&text.len())
        && text.iter().all(|&byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_have_one_spelling() {
        assert_eq!(mailbox_id(26), "M1a");
        assert_eq!(email_id(1), "E1");
        assert_eq!(email_blob("E1"), Some(1));
        assert_eq!(email_blob("Effffffffffffffff"), Some(u64::MAX));
        // Other spellings of the same number, other kinds, overflow: not ours.
        for other in ["E01", "E1A", "e1", "M1", "E", "E10000000000000000", "E-1", ""] {
            assert_eq!(email_blob(other), None, "{other}");
        }
        assert!(is_object_id(b"E1"));
        assert!(is_object_id(b"a_B-9"));
        assert!(!is_object_id(b""));
        assert!(!is_object_id(b"E.1"));
        assert!(!is_object_id(&[b'x'; 256]));
        assert!(is_object_id(&[b'x'; 255]));
    }

    proptest! {
        #[test]
        fn every_id_is_a_valid_object_id_and_reads_back(number in any::<u64>()) {
            let email = email_id(number);
            prop_assert!(is_object_id(email.as_bytes()));
            prop_assert_eq!(email_blob(&email), Some(number));
            prop_assert!(is_object_id(mailbox_id(number).as_bytes()));
        }
    }
}

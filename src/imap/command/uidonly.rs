//! UIDONLY (RFC 9586): once a client has enabled it, messages are named
//! by UID only, both ways.
//!
//! What it changes, and where:
//! - `ENABLE UIDONLY` (`command::enable`) sets `Session::uid_only` and the
//!   selected view's `View::uid_only` (SELECT copies it into each new view).
//! - Requests (§3): a command that names messages by sequence number is
//!   refused with `BAD [UIDREQUIRED]` before it runs ([`refusal`], called
//!   from `Session::dispatch`): FETCH, STORE, SEARCH, SORT, THREAD, COPY
//!   and MOVE without UID; a sequence-set search key inside UID SEARCH,
//!   UID SORT or UID THREAD; QRESYNC's message sequence match data in
//!   SELECT/EXAMINE. REPLACE by number is refused the same way by
//!   `append::find_replaced`, which already refuses before any literal is
//!   invited. `$` (RFC 5182) stays usable: it names the saved result, which
//!   only UID SEARCH can have saved, not numbers the client typed.
//! - Responses: every FETCH response becomes `* uid UIDFETCH (...)` (§3.3;
//!   the one writer of each kind asks [`View::uid_only`]: `fetch::respond`,
//!   `View::write_flags`, STORE's .SILENT answer). The UID item then
//!   repeats the leading UID: it is sent only where the client asked for
//!   it by name. Expunges are reported with VANISHED, not EXPUNGE, whether
//!   or not QRESYNC is enabled (§3.4; `Session::sync_selected`), so also
//!   during IDLE and NOTIFY, which report through the same sync. SELECT
//!   leaves out `[UNSEEN n]`, a sequence number.
//! - Unchanged: EXISTS and RECENT (counts, not message numbers); the
//!   answers of UID SEARCH, UID SORT and UID THREAD (they list UIDs: UID
//!   SEARCH without RETURN still answers `* SEARCH`, as RFC 4731 has
//!   ESEARCH only where RETURN asks for it, and RFC 9586 changes only
//!   FETCH and EXPUNGE responses); EXPUNGE and UID EXPUNGE
//!   themselves (they take no message numbers), `*` in a UID set (the
//!   highest UID).
//!
//! A client that never enables UIDONLY sees nothing of this.
//!
//! [`View::uid_only`]: crate::imap::view::View::uid_only

use crate::imap::types::{
    CommandBody, CopyArguments, FetchArguments, SearchArguments, SearchKey, SelectArguments, SequenceNumber,
    SortArguments, StoreArguments, ThreadArguments,
};

/// Why `body` cannot run once UIDONLY is enabled, or None if it may.
pub fn refusal(body: &CommandBody) -> Option<&'static str> {
    match body {
        // RFC 9586 §3: commands that take (or answer with) message numbers
        // have to be used in their UID form.
        CommandBody::Fetch(FetchArguments { uid: false, .. })
        | CommandBody::Store(StoreArguments { uid: false, .. })
        | CommandBody::Search(SearchArguments { uid: false, .. })
        | CommandBody::Sort(SortArguments { uid: false, .. })
        | CommandBody::Thread(ThreadArguments { uid: false, .. })
        | CommandBody::Copy(CopyArguments { uid: false, .. }) => {
            Some("Message sequence numbers are not allowed once UIDONLY is enabled; use the UID form of this command")
        }
        // RFC 9586 §3: not as a search key either; UID <set> says the same by UID.
        CommandBody::Search(SearchArguments { key, .. })
        | CommandBody::Sort(SortArguments { key, .. })
        | CommandBody::Thread(ThreadArguments { key, .. })
            if names_sequence_numbers(key) =>
        {
            Some("Message sequence numbers are not allowed in a search once UIDONLY is enabled; use UID <set>")
        }
        // RFC 9586 §3: QRESYNC's message sequence match data pairs
        // sequence numbers with UIDs.
        CommandBody::Select(SelectArguments { parameters, .. })
            if parameters.qresync.as_ref().is_some_and(|qresync| qresync.sequence_match.is_some()) =>
        {
            Some("QRESYNC message sequence match data is not allowed once UIDONLY is enabled")
        }
        _ => None,
    }
}

/// Whether `key` holds a sequence-set key other than `$` (the saved
/// result names messages, not numbers the client chose).
pub fn names_sequence_numbers(key: &SearchKey) -> bool {
    match key {
        SearchKey::Sequence(set) => set.0.iter().any(|&(first, _)| first != SequenceNumber::Saved),
        SearchKey::And(keys) => keys.iter().any(names_sequence_numbers),
        SearchKey::Or(left, right) => names_sequence_numbers(left) || names_sequence_numbers(right),
        SearchKey::Not(key) => names_sequence_numbers(key),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::parse::parse_command;
    use proptest::prelude::*;

    fn body(line: &str) -> CommandBody {
        parse_command(format!("a {line}").as_bytes()).expect("parses").body
    }

    #[test]
    fn sequence_number_commands_are_refused() {
        for line in [
            "FETCH 1 FLAGS",
            "FETCH 1:* (UID)",
            "STORE 1 +FLAGS (\\Seen)",
            "SEARCH ALL",
            "SEARCH RETURN (COUNT) ALL",
            "SORT (DATE) UTF-8 ALL",
            "THREAD REFERENCES UTF-8 ALL",
            "COPY 1 Archive",
            "MOVE 1:2 Trash",
            "FETCH $ FLAGS",
        ] {
            assert!(refusal(&body(line)).is_some(), "{line} should be refused");
        }
    }

    #[test]
    fn uid_commands_pass() {
        for line in [
            "UID FETCH 1:* FLAGS",
            "UID STORE * +FLAGS (\\Seen)",
            "UID SEARCH UID 1:5 NOT DELETED",
            "UID SEARCH $",
            "UID SEARCH OR $ UID 3",
            "UID SORT (DATE) UTF-8 ALL",
            "UID THREAD REFERENCES UTF-8 UID 1:*",
            "UID COPY 1 Archive",
            "UID MOVE 1:* Trash",
            "UID EXPUNGE 1:3",
            "EXPUNGE",
            "UID FETCH $ FLAGS",
            "SELECT INBOX (QRESYNC (1 2 1:5))",
            "EXAMINE INBOX",
            "NOOP",
            "ENABLE UIDONLY",
            "STATUS INBOX (MESSAGES)",
        ] {
            assert_eq!(refusal(&body(line)), None, "{line} should pass");
        }
    }

    #[test]
    fn sequence_keys_inside_uid_searches_are_refused() {
        for line in [
            "UID SEARCH 1:3",
            "UID SEARCH NOT 2",
            "UID SEARCH OR UID 1 *",
            "UID SEARCH (SEEN (1,3))",
            "UID SORT (ARRIVAL) UTF-8 1:*",
            "UID THREAD ORDEREDSUBJECT UTF-8 NOT 4",
        ] {
            assert!(refusal(&body(line)).is_some(), "{line} should be refused");
        }
    }

    #[test]
    fn qresync_sequence_match_data_is_refused() {
        assert!(refusal(&body("SELECT INBOX (QRESYNC (1 2 1:5 (1:2 1:2)))")).is_some());
        assert!(refusal(&body("EXAMINE INBOX (QRESYNC (1 2 (1:2 3:4)))")).is_some());
    }

    #[test]
    fn enable_parses_uidonly() {
        assert_eq!(body("ENABLE UIDONLY"), CommandBody::Enable { capabilities: vec!["UIDONLY".into()] });
        assert_eq!(
            body("ENABLE uidonly QRESYNC"),
            CommandBody::Enable { capabilities: vec!["UIDONLY".into(), "QRESYNC".into()] }
        );
    }

    /// A search key as text, and whether it holds a sequence set other than `$`.
    fn search_key() -> impl Strategy<Value = (String, bool)> {
        let leaf = prop_oneof![
            Just(("ALL".to_string(), false)),
            Just(("SEEN".to_string(), false)),
            Just(("$".to_string(), false)),
            (1u32..50).prop_map(|n| (format!("UID {n}:*"), false)),
            (1u32..50).prop_map(|n| (n.to_string(), true)),
            (1u32..50, 1u32..50).prop_map(|(a, b)| (format!("{a}:{b}"), true)),
            Just(("*".to_string(), true)),
        ];
        leaf.prop_recursive(4, 16, 3, |inner| {
            prop_oneof![
                inner.clone().prop_map(|(key, numbers)| (format!("NOT {key}"), numbers)),
                (inner.clone(), inner.clone()).prop_map(|((a, x), (b, y))| (format!("OR {a} {b}"), x || y)),
                prop::collection::vec(inner, 1..3).prop_map(|keys| {
                    let numbers = keys.iter().any(|(_, numbers)| *numbers);
                    let text: Vec<String> = keys.into_iter().map(|(key, _)| key).collect();
                    (format!("({})", text.join(" ")), numbers)
                }),
            ]
        })
    }

    proptest! {
        /// A UID SEARCH is refused exactly when some key names sequence numbers.
        #[test]
        fn uid_search_refused_iff_it_names_numbers((key, numbers) in search_key()) {
            let body = body(&format!("UID SEARCH {key}"));
            prop_assert_eq!(refusal(&body).is_some(), numbers);
            // Without UID it is refused whatever the key.
            let body = super::tests::body(&format!("SEARCH {key}"));
            prop_assert!(refusal(&body).is_some());
        }
    }
}

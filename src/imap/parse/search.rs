//! SEARCH keys (RFC 3501 §6.4.4, RFC 9051 §6.4.4).

use super::{FlagWord, Parser, Result, MAX_DEPTH};
use crate::imap::sort::{SortCriterion, SortKey};
use crate::imap::types::{DateField, DateRelation, Flag, PartialRange, SearchKey, SearchReturn};
use crate::mail::Flags;

/// `RETURN (option ...) SP`, if present (RFC 4731 §3.1, RFC 5182 §2,
/// RFC 5267 §4, RFC 9394 §3.1).
pub fn search_return(parser: &mut Parser) -> Result<Option<SearchReturn>> {
    if !parser.try_keyword("RETURN ") {
        return Ok(None);
    }
    parser.byte(b'(')?;
    let mut options = SearchReturn::default();
    let mut any = false;
    while !parser.try_byte(b')') {
        if any {
            parser.sp()?;
        }
        any = true;
        let word = parser.atom()?.to_ascii_uppercase();
        let option = match word.as_slice() {
            b"MIN" => &mut options.min,
            b"MAX" => &mut options.max,
            b"COUNT" => &mut options.count,
            b"ALL" => &mut options.all,
            b"SAVE" => &mut options.save,
            b"UPDATE" => &mut options.update,
            b"CONTEXT" => &mut options.context,
            b"PARTIAL" => {
                // RFC 9394 §3.1: one PARTIAL at most.
                if options.partial.is_some() {
                    return Err("PARTIAL given twice".into());
                }
                parser.sp()?;
                options.partial = Some(partial_range(parser)?);
                continue;
            }
            _ => return Err(format!("unknown search return option {}", String::from_utf8_lossy(&word))),
        };
        *option = true;
    }
    // RFC 9394 §3.1: either one PARTIAL or one ALL, not both.
    if options.partial.is_some() && options.all {
        return Err("PARTIAL and ALL cannot be combined (RFC 9394)".into());
    }
    // RFC 4731: an empty list means ALL; so does one with only the
    // CONTEXT hint (RFC 5267 §4.2: it changes no answer; as Dovecot).
    let hint_only = SearchReturn { context: false, ..options } == SearchReturn::default();
    if !any || hint_only {
        options.all = true;
    }
    parser.sp()?;
    Ok(Some(options))
}

/// RFC 9394 §4 partial-range: `m:n` (from the first result) or `-m:-n`
/// (from the last), both ends above zero, no `*`; `5:3` is `3:5`.
pub fn partial_range(parser: &mut Parser) -> Result<PartialRange> {
    let from_end = parser.try_byte(b'-');
    let first = parser.nz_number().map_err(|_| "PARTIAL wants a range like 1:100 or -1:-100".to_string())?;
    parser.byte(b':')?;
    if parser.try_byte(b'-') != from_end {
        return Err("both ends of a PARTIAL range have the same sign (RFC 9394)".into());
    }
    let second = parser.nz_number().map_err(|_| "PARTIAL wants a range like 1:100 or -1:-100".to_string())?;
    let (low, high) = (first.min(second), first.max(second));
    Ok(if from_end { PartialRange::Last(low, high) } else { PartialRange::First(low, high) })
}

/// `CANCELUPDATE "tag" ...` arguments (RFC 5267 §4.3.5: 1*(SP quoted)).
pub fn cancel_update(parser: &mut Parser) -> Result<Vec<String>> {
    let mut tags = Vec::new();
    while parser.try_byte(b' ') {
        if parser.peek() != Some(b'"') {
            return Err("CANCELUPDATE takes quoted tags".into());
        }
        tags.push(String::from_utf8_lossy(&parser.string()?).into_owned());
        if tags.len() > 64 {
            return Err("too many tags".into());
        }
    }
    if tags.is_empty() {
        return Err("CANCELUPDATE needs at least one tag".into());
    }
    Ok(tags)
}

/// `(criterion ...)` of SORT (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO).
pub fn sort_criteria(parser: &mut Parser) -> Result<Vec<SortCriterion>> {
    parser.byte(b'(')?;
    let mut criteria = Vec::new();
    loop {
        let mut reverse = false;
        let mut word = parser.atom()?.to_ascii_uppercase();
        if word == b"REVERSE" {
            reverse = true;
            parser.sp()?;
            word = parser.atom()?.to_ascii_uppercase();
        }
        let key = match word.as_slice() {
            b"ARRIVAL" => SortKey::Arrival,
            b"CC" => SortKey::Cc,
            b"DATE" => SortKey::Date,
            b"FROM" => SortKey::From,
            b"SIZE" => SortKey::Size,
            b"SUBJECT" => SortKey::Subject,
            b"TO" => SortKey::To,
            b"DISPLAYFROM" => SortKey::DisplayFrom,
            b"DISPLAYTO" => SortKey::DisplayTo,
            _ => return Err(format!("unknown sort criterion {}", String::from_utf8_lossy(&word))),
        };
        criteria.push(SortCriterion { key, reverse });
        if parser.try_byte(b')') {
            return Ok(criteria);
        }
        parser.sp()?;
        if criteria.len() > 16 {
            return Err("too many sort criteria".into());
        }
    }
}

/// `[CHARSET astring SP] search-key *(SP search-key)`.
pub fn search_program(parser: &mut Parser) -> Result<(Option<String>, SearchKey)> {
    let mut charset = None;
    if parser.try_keyword("CHARSET ") {
        charset = Some(String::from_utf8_lossy(&parser.astring()?).to_ascii_uppercase());
        parser.sp()?;
    }
    let mut keys = vec![search_key(parser, 0)?];
    while parser.try_byte(b' ') {
        keys.push(search_key(parser, 0)?);
    }
    Ok((charset, and(keys)))
}

fn and(mut keys: Vec<SearchKey>) -> SearchKey {
    if keys.len() == 1 {
        keys.pop().expect("one key")
    } else {
        SearchKey::And(keys)
    }
}

fn search_key(parser: &mut Parser, depth: usize) -> Result<SearchKey> {
    if depth > MAX_DEPTH {
        return Err("search keys nested too deeply".into());
    }
    if parser.try_byte(b'(') {
        let mut keys = vec![search_key(parser, depth + 1)?];
        while parser.try_byte(b' ') {
            keys.push(search_key(parser, depth + 1)?);
        }
        parser.byte(b')')?;
        return Ok(and(keys));
    }
    if parser.peek().is_some_and(|byte| byte.is_ascii_digit() || byte == b'*' || byte == b'$') {
        return Ok(SearchKey::Sequence(parser.sequence_set()?));
    }
    let word = parser.atom()?.to_ascii_uppercase();
    let key = match word.as_slice() {
        b"ALL" => SearchKey::All,
        b"ANSWERED" => SearchKey::Flag(Flags::ANSWERED, true),
        b"DELETED" => SearchKey::Flag(Flags::DELETED, true),
        b"DRAFT" => SearchKey::Flag(Flags::DRAFT, true),
        b"FLAGGED" => SearchKey::Flag(Flags::FLAGGED, true),
        b"SEEN" => SearchKey::Flag(Flags::SEEN, true),
        b"UNANSWERED" => SearchKey::Flag(Flags::ANSWERED, false),
        b"UNDELETED" => SearchKey::Flag(Flags::DELETED, false),
        b"UNDRAFT" => SearchKey::Flag(Flags::DRAFT, false),
        b"UNFLAGGED" => SearchKey::Flag(Flags::FLAGGED, false),
        b"UNSEEN" => SearchKey::Flag(Flags::SEEN, false),
        b"RECENT" => SearchKey::Recent(true),
        // RFC 3501: OLD is NOT RECENT; NEW is RECENT UNSEEN.
        b"OLD" => SearchKey::Recent(false),
        b"NEW" => SearchKey::New,
        b"KEYWORD" | b"UNKEYWORD" => {
            parser.sp()?;
            let set = word == b"KEYWORD";
            match parser.flag()? {
                FlagWord::Flag(Flag::Keyword(keyword)) => SearchKey::Keyword(keyword, set),
                // RFC 3501 lets only keywords follow; Dovecot also takes a
                // system flag here, and so do we.
                FlagWord::Flag(Flag::System(flag)) => SearchKey::Flag(flag, set),
                FlagWord::Flag(Flag::Recent) => SearchKey::Recent(set),
                FlagWord::Wildcard => return Err("\\* is not a keyword".into()),
            }
        }
        b"BEFORE" | b"ON" | b"SINCE" | b"SENTBEFORE" | b"SENTON" | b"SENTSINCE" | b"SAVEDBEFORE" | b"SAVEDON"
        | b"SAVEDSINCE" => {
            parser.sp()?;
            let days = parser.date()?;
            let (field, relation) = match word.as_slice() {
                b"BEFORE" => (DateField::Internal, DateRelation::Before),
                b"ON" => (DateField::Internal, DateRelation::On),
                b"SINCE" => (DateField::Internal, DateRelation::Since),
                b"SENTBEFORE" => (DateField::Sent, DateRelation::Before),
                b"SENTON" => (DateField::Sent, DateRelation::On),
                b"SENTSINCE" => (DateField::Sent, DateRelation::Since),
                // RFC 8514 §4.3.
                b"SAVEDBEFORE" => (DateField::Saved, DateRelation::Before),
                b"SAVEDON" => (DateField::Saved, DateRelation::On),
                _ => (DateField::Saved, DateRelation::Since),
            };
            SearchKey::Date { field, relation, days }
        }
        b"LARGER" | b"SMALLER" => {
            parser.sp()?;
            let size = parser.number64()?;
            if word == b"LARGER" {
                SearchKey::Larger(size)
            } else {
                SearchKey::Smaller(size)
            }
        }
        b"FROM" | b"TO" | b"CC" | b"BCC" | b"SUBJECT" => {
            parser.sp()?;
            let field = String::from_utf8_lossy(&word).into_owned();
            SearchKey::Header { field, value: parser.astring()? }
        }
        b"HEADER" => {
            parser.sp()?;
            let field = parser.astring()?;
            if field.iter().any(|&byte| !(33..=126).contains(&byte) || byte == b':') {
                return Err("invalid header field name".into());
            }
            parser.sp()?;
            let field = String::from_utf8_lossy(&field).to_ascii_uppercase();
            SearchKey::Header { field, value: parser.astring()? }
        }
        b"BODY" => {
            parser.sp()?;
            SearchKey::Body(parser.astring()?)
        }
        b"TEXT" => {
            parser.sp()?;
            SearchKey::Text(parser.astring()?)
        }
        b"UID" => {
            parser.sp()?;
            SearchKey::Uid(parser.sequence_set()?)
        }
        b"MODSEQ" => {
            parser.sp()?;
            // RFC 7162 §3.1.5: [entry-name entry-type-req] mod-sequence-valzer.
            if parser.peek() == Some(b'"') {
                let entry = parser.string()?;
                if !entry.to_ascii_lowercase().starts_with(b"/flags/") {
                    return Err("MODSEQ entry names are /flags/<flag>".into());
                }
                parser.sp()?;
                let kind = parser.atom()?.to_ascii_lowercase();
                if !matches!(kind.as_slice(), b"priv" | b"shared" | b"all") {
                    return Err("MODSEQ entry type is priv, shared or all".into());
                }
                parser.sp()?;
            }
            SearchKey::Modseq(parser.mod_sequence()?)
        }
        b"SAVEDATESUPPORTED" => SearchKey::SaveDateSupported,
        b"EMAILID" | b"THREADID" => {
            parser.sp()?;
            // RFC 8474 §7: objectid = 1*255(ALPHA / DIGIT / "_" / "-").
            let id = parser.atom()?;
            if !crate::imap::object_id::is_object_id(id) {
                return Err("an object id is 1 to 255 letters, digits, '_' or '-' (RFC 8474)".into());
            }
            let id = String::from_utf8_lossy(id).into_owned();
            if word == b"EMAILID" {
                SearchKey::EmailId(id)
            } else {
                SearchKey::ThreadId(id)
            }
        }
        b"NOT" => {
            parser.sp()?;
            SearchKey::Not(Box::new(search_key(parser, depth + 1)?))
        }
        b"OR" => {
            parser.sp()?;
            let left = search_key(parser, depth + 1)?;
            parser.sp()?;
            let right = search_key(parser, depth + 1)?;
            SearchKey::Or(Box::new(left), Box::new(right))
        }
        _ => return Err(format!("unknown search key {}", String::from_utf8_lossy(&word))),
    };
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::super::parse_command;
    use crate::imap::types::{
        CommandBody, FetchArguments, FetchModifiers, PartialRange, SearchArguments, SearchReturn, SortArguments,
    };
    use proptest::prelude::*;

    fn search_return(text: &str) -> Result<Option<SearchReturn>, String> {
        match parse_command(text.as_bytes()).map_err(|error| format!("{error:?}"))?.body {
            CommandBody::Search(SearchArguments { ret, .. }) | CommandBody::Sort(SortArguments { ret, .. }) => Ok(ret),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn partial_update_and_context_options() {
        let partial = |range| Some(SearchReturn { partial: Some(range), ..SearchReturn::default() });
        assert_eq!(search_return("a SEARCH RETURN (PARTIAL 1:100) ALL"), Ok(partial(PartialRange::First(1, 100))));
        assert_eq!(search_return("a SEARCH RETURN (partial -1:-100) ALL"), Ok(partial(PartialRange::Last(1, 100))));
        // RFC 9394 §4: 500:400 is 400:500, -500:-400 is -400:-500.
        assert_eq!(search_return("a SEARCH RETURN (PARTIAL 500:400) ALL"), Ok(partial(PartialRange::First(400, 500))));
        assert_eq!(search_return("a SEARCH RETURN (PARTIAL -500:-400) ALL"), Ok(partial(PartialRange::Last(400, 500))));
        let expected = SearchReturn {
            count: true,
            update: true,
            context: true,
            partial: Some(PartialRange::Last(1, 5)),
            ..SearchReturn::default()
        };
        assert_eq!(
            search_return("a UID SORT RETURN (UPDATE CONTEXT COUNT PARTIAL -5:-1) (DATE) UTF-8 ALL"),
            Ok(Some(expected))
        );
        // UPDATE alone is not ALL (only an empty list is, or the CONTEXT hint alone).
        let update = search_return("a SEARCH RETURN (UPDATE) UNSEEN").unwrap().unwrap();
        assert!(update.update && !update.all);
        let hint = search_return("a SEARCH RETURN (CONTEXT) UNSEEN").unwrap().unwrap();
        assert!(hint.context && hint.all);
        for bad in [
            "a SEARCH RETURN (PARTIAL) ALL",
            "a SEARCH RETURN (PARTIAL ) ALL",
            "a SEARCH RETURN (PARTIAL 0:1) ALL",
            "a SEARCH RETURN (PARTIAL 1:0) ALL",
            "a SEARCH RETURN (PARTIAL 1:*) ALL",
            "a SEARCH RETURN (PARTIAL *:1) ALL",
            "a SEARCH RETURN (PARTIAL -1:1) ALL",
            "a SEARCH RETURN (PARTIAL 1:-1) ALL",
            "a SEARCH RETURN (PARTIAL --1:-2) ALL",
            "a SEARCH RETURN (PARTIAL 1) ALL",
            "a SEARCH RETURN (PARTIAL 1:4294967296) ALL",
            "a SEARCH RETURN (PARTIAL (1:2)) ALL",
            "a SEARCH RETURN (PARTIAL 1:2 ALL) ALL",
            "a SEARCH RETURN (ALL PARTIAL 1:2) ALL",
            "a SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL",
            "a SORT RETURN (PARTIAL 1:2 ALL) (DATE) UTF-8 ALL",
        ] {
            assert!(search_return(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cancel_update_and_fetch_partial() {
        let tags = |text: &str| match parse_command(text.as_bytes()).map(|command| command.body) {
            Ok(CommandBody::CancelUpdate { tags }) => Ok(tags),
            Ok(other) => panic!("{other:?}"),
            Err(error) => Err(format!("{error:?}")),
        };
        assert_eq!(tags("a CANCELUPDATE \"B01\""), Ok(vec!["B01".to_string()]));
        assert_eq!(tags("a cancelupdate \"B01\" \"c 2\""), Ok(vec!["B01".to_string(), "c 2".to_string()]));
        for bad in ["a CANCELUPDATE", "a CANCELUPDATE B01", "a CANCELUPDATE \"B01\" B02", "a CANCELUPDATE {3}\r\nB01"] {
            assert!(tags(bad).is_err(), "{bad}");
        }
        let CommandBody::Fetch(FetchArguments { modifiers, .. }) =
            parse_command(b"a UID FETCH 1:* (FLAGS) (PARTIAL -1:-3 CHANGEDSINCE 5)").unwrap().body
        else {
            panic!()
        };
        let expected =
            FetchModifiers { changed_since: Some(5), vanished: false, partial: Some(PartialRange::Last(1, 3)) };
        assert_eq!(modifiers, expected);
        assert!(parse_command(b"a UID FETCH 1:* (FLAGS) (PARTIAL 1:2 PARTIAL 1:2)").is_err());
        assert!(parse_command(b"a UID FETCH 1:* (FLAGS) (PARTIAL 1:*)").is_err());
    }

    #[test]
    fn partial_windows() {
        assert_eq!(PartialRange::First(1, 3).indexes(10), 0..3);
        assert_eq!(PartialRange::First(9, 20).indexes(10), 8..10);
        assert_eq!(PartialRange::First(11, 20).indexes(10), 0..0);
        assert_eq!(PartialRange::Last(1, 3).indexes(10), 7..10);
        assert_eq!(PartialRange::Last(9, 20).indexes(10), 0..2);
        assert_eq!(PartialRange::Last(11, 20).indexes(10), 0..0);
        assert_eq!(PartialRange::Last(1, 1).indexes(0), 0..0);
        assert_eq!(PartialRange::Last(2, 3).to_string(), "-2:-3");
    }

    proptest! {
        /// Any valid range, any mix of the other options in any order and
        /// case, parses to what was written; the range prints back as it is
        /// normalised.
        #[test]
        fn return_options_round_trip(
            first in 1u32..=u32::MAX,
            second in 1u32..=u32::MAX,
            from_end: bool,
            options in proptest::sample::subsequence(vec!["MIN", "max", "Count", "SAVE", "update", "CONTEXT"], 0..=6),
            position in 0usize..7,
        ) {
            let sign = if from_end { "-" } else { "" };
            let mut words: Vec<String> = options.iter().map(std::string::ToString::to_string).collect();
            let at = position.min(words.len());
            words.insert(at, format!("PARTIAL {sign}{first}:{sign}{second}"));
            let text = format!("a UID SEARCH RETURN ({}) ALL", words.join(" "));
            let parsed = search_return(&text).unwrap().unwrap();
            let (low, high) = (first.min(second), first.max(second));
            let range = if from_end { PartialRange::Last(low, high) } else { PartialRange::First(low, high) };
            let has = |name: &str| options.iter().any(|word| word.eq_ignore_ascii_case(name));
            let expected = SearchReturn {
                min: has("MIN"),
                max: has("MAX"),
                count: has("COUNT"),
                all: false,
                save: has("SAVE"),
                partial: Some(range),
                update: has("UPDATE"),
                context: has("CONTEXT"),
            };
            prop_assert_eq!(parsed, expected);
            let printed = format!("a SEARCH RETURN (PARTIAL {range}) ALL");
            prop_assert_eq!(search_return(&printed).unwrap().unwrap().partial, Some(range));
        }

        /// Ranges with mixed signs, zeros or stray characters are refused,
        /// never taken for something else, never a panic.
        #[test]
        fn malformed_ranges_are_refused(left in "-?[0-9*]{0,11}", right in "-?[0-9*]{0,11}") {
            let text = format!("a SEARCH RETURN (PARTIAL {left}:{right}) ALL");
            let valid = |part: &str| {
                let digits = part.strip_prefix('-').unwrap_or(part);
                !digits.is_empty() && !digits.starts_with('0') && digits.parse::<u32>().is_ok()
            };
            let same_sign = left.starts_with('-') == right.starts_with('-');
            prop_assert_eq!(search_return(&text).is_ok(), valid(&left) && valid(&right) && same_sign, "{}", text);
        }
    }
}

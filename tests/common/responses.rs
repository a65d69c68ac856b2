//! A small typed reader of server responses, for assertions that say what
//! they mean (`responses.one("ESEARCH")`, `tagged.code()`,
//! `status_items("INBOX")`) instead of searching raw text for a substring
//! that may also stand somewhere else in the reply (a subject, a mailbox
//! name, the human-readable text).
//!
//! It reads the response grammar of RFC 9051 §7 / RFC 3501 §7 as far as the
//! tests need: a transcript splits into responses (a line plus the literals
//! it announces, §4.3), each tagged (`tag status [code] text`), untagged
//! (`* [number] NAME data`) or a continuation (`+ text`). It is not an
//! oracle of the grammar (the session fuzzer has imap-codec for that): data
//! stays as sent, and [`values`] splits it into atoms, strings and lists.
//! Its own tests are in `responses_tests.rs`, run by `tests/kit.rs`.
#![allow(dead_code)]

use std::collections::BTreeMap;

/// A response code, `[NAME data]` (RFC 9051 §7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code {
    /// As sent (codes are case-insensitive; compare with [`Code::is`]).
    pub name: String,
    /// What follows the name inside the brackets, "" when nothing does.
    pub data: String,
}

impl Code {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The data as a number (`[UIDNEXT 5]`); panics if it is not one.
    pub fn number(&self) -> u64 {
        self.data.parse().unwrap_or_else(|_| panic!("[{} {}] has no number", self.name, self.data))
    }

    /// The data split into values (`[COPYUID 7 1:2 5:6]` → 7, 1:2, 5:6).
    pub fn values(&self) -> Vec<String> {
        values(&self.data)
    }
}

/// A status (`OK`, `NO`, `BAD`, `PREAUTH`, `BYE`) with its optional code
/// and its text: the tagged reply, or the data of an untagged status response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub status: String,
    pub code: Option<Code>,
    pub text: String,
}

impl Status {
    /// Reads `OK [CODE data] text` (the tagged reply without its tag, as
    /// [`Client::command`](super::Client::command) returns it).
    pub fn parse(reply: &str) -> Status {
        let (status, rest) = reply.split_once(' ').unwrap_or((reply, ""));
        let (code, text) = match rest.strip_prefix('[') {
            Some(inside) => {
                let close = closing_bracket(inside).unwrap_or_else(|| panic!("unclosed response code in {reply:?}"));
                let (name, data) = inside[..close].split_once(' ').unwrap_or((&inside[..close], ""));
                let code = Code { name: name.to_string(), data: data.to_string() };
                (Some(code), inside[close + 1..].trim_start())
            }
            None => (None, rest),
        };
        Status { status: status.to_string(), code, text: text.to_string() }
    }

    pub fn is(&self, status: &str) -> bool {
        self.status.eq_ignore_ascii_case(status)
    }

    /// The response code; panics (with the reply) if there is none.
    pub fn code(&self) -> &Code {
        self.code.as_ref().unwrap_or_else(|| panic!("no response code in {self:?}"))
    }

    /// The code if it is `name`.
    pub fn code_named(&self, name: &str) -> Option<&Code> {
        self.code.as_ref().filter(|code| code.is(name))
    }
}

/// `* [number] NAME data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Untagged {
    /// `* 3 EXISTS` → 3; `* SEARCH 1 2` → none.
    pub number: Option<u32>,
    pub name: String,
    /// The rest, literals inline as read (`{n}\r\n` and their bytes).
    pub data: String,
    /// The whole response as read.
    pub text: String,
}

impl Untagged {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The data of a status response (`* OK [UNSEEN 1] ...`).
    pub fn status(&self) -> Status {
        assert!(is_status(&self.name), "not a status response: {:?}", self.text);
        Status::parse(&format!("{} {}", self.name, self.data))
    }

    /// The data split into values.
    pub fn values(&self) -> Vec<String> {
        values(&self.data)
    }

    /// The data as numbers (`* SEARCH 2 5` → [2, 5]).
    pub fn numbers(&self) -> Vec<u32> {
        self.data
            .split_whitespace()
            .map(|number| number.parse().unwrap_or_else(|_| panic!("{:?}", self.text)))
            .collect()
    }

    /// The (name, value) items of a FETCH response.
    pub fn fetch_items(&self) -> Vec<(String, String)> {
        assert!(self.is("FETCH") || self.is("UIDFETCH"), "not a FETCH response: {:?}", self.text);
        super::fetch_items(&self.text)
    }

    /// A FETCH item that is an nstring (RFC 9051 §9): None for NIL, the
    /// string's contents otherwise; panics if the item is missing.
    pub fn fetch_nstring(&self, name: &str) -> Option<String> {
        assert!(self.is("FETCH") || self.is("UIDFETCH"), "not a FETCH response: {:?}", self.text);
        let spans = super::fetch_item_spans(&self.text);
        let (_, value, start) = spans
            .into_iter()
            .find(|(found, _, _)| found.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.text));
        let nil = self.text[start..].starts_with("NIL");
        assert!(nil || matches!(self.text.as_bytes()[start], b'"' | b'{'), "{name} is not an nstring: {:?}", self.text);
        (!nil).then_some(value)
    }

    /// A FETCH item's value, if present.
    pub fn fetch_item(&self, name: &str) -> Option<String> {
        self.fetch_items().into_iter().find(|(found, _)| found.eq_ignore_ascii_case(name)).map(|(_, value)| value)
    }

    /// The items of `* STATUS mailbox (NAME value ...)` by upper-cased
    /// name, values as [`values`] reads them (`MAILBOXID (F1)` keeps its list).
    pub fn status_values(&self) -> BTreeMap<String, String> {
        assert!(self.is("STATUS"), "not a STATUS response: {:?}", self.text);
        let values = self.values();
        assert_eq!(values.len(), 2, "STATUS is a mailbox and a list: {:?}", self.text);
        pairs(&values[1]).into_iter().map(|(name, value)| (name.to_ascii_uppercase(), value)).collect()
    }

    /// The numeric items of `* STATUS mailbox (NAME n ...)`, by upper-cased name.
    pub fn status_items(&self) -> BTreeMap<String, u64> {
        let text = &self.text;
        let numbers = self.status_values().into_iter().map(|(name, value)| {
            let number = value.parse().unwrap_or_else(|_| panic!("{name} is not a number in {text:?}"));
            (name, number)
        });
        numbers.collect()
    }

    /// `* ESEARCH (TAG "t1") UID MIN 3 ...` read.
    pub fn esearch(&self) -> Esearch {
        assert!(self.is("ESEARCH"), "not an ESEARCH response: {:?}", self.text);
        let mut values = self.values().into_iter().peekable();
        let mut tag = None;
        if values.peek().is_some_and(|value| value.starts_with('(')) {
            let correlator = pairs(&values.next().unwrap());
            tag = correlator.into_iter().find(|(name, _)| name.eq_ignore_ascii_case("TAG")).map(|(_, tag)| tag);
        }
        let uid = values.peek().is_some_and(|value| value.eq_ignore_ascii_case("UID"));
        if uid {
            values.next();
        }
        let mut items = Vec::new();
        while let Some(name) = values.next() {
            let value = values.next().unwrap_or_else(|| panic!("{name} has no value in {:?}", self.text));
            items.push((name.to_ascii_uppercase(), value));
        }
        Esearch { tag, uid, items }
    }

    /// `* LIST (attributes) delimiter name` (or LSUB).
    pub fn list(&self) -> Listed {
        let values = self.values();
        assert!(values.len() >= 3, "not a LIST response: {:?}", self.text);
        let attributes = values[0].strip_prefix('(').and_then(|list| list.strip_suffix(')')).expect("attribute list");
        Listed {
            attributes: attributes.split_whitespace().map(str::to_string).collect(),
            delimiter: values[1].clone(),
            name: values[2].clone(),
            extended: values[3..].to_vec(),
        }
    }
}

/// An ESEARCH response (RFC 4731 §3.1, RFC 9051 §7.3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Esearch {
    pub tag: Option<String>,
    pub uid: bool,
    /// (upper-cased name, value) in the order sent.
    pub items: Vec<(String, String)>,
}

impl Esearch {
    pub fn item(&self, name: &str) -> Option<&str> {
        self.items.iter().find(|(found, _)| found.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The data after the correlator, written back with single spaces
    /// (`UID MIN 3 PARTIAL (1:3 5,6)`), for comparing whole answers.
    pub fn data(&self) -> String {
        let uid = self.uid.then(|| "UID".to_string());
        let items = self.items.iter().map(|(name, value)| format!("{name} {value}"));
        uid.into_iter().chain(items).collect::<Vec<_>>().join(" ")
    }
}

/// A LIST response read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub attributes: Vec<String>,
    /// The delimiter as a value (`/`, or `NIL`).
    pub delimiter: String,
    pub name: String,
    /// Extended data (RFC 5258 §3.5), as values.
    pub extended: Vec<String>,
}

/// One response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Tagged { tag: String, status: Status },
    Untagged(Untagged),
    Continuation(String),
}

/// Responses in the order they came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Responses(pub Vec<Reply>);

impl Responses {
    /// Responses as the client's `command`/`ok` returns them (one per
    /// element, literals inline).
    pub fn of(responses: &[String]) -> Responses {
        Responses(responses.iter().map(|response| parse_one(response)).collect())
    }

    /// A raw transcript: CRLF-separated responses with their literals.
    pub fn transcript(text: &str) -> Responses {
        let mut found = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let mut end = 0;
            loop {
                let line_end = rest[end..].find("\r\n").map_or(rest.len(), |at| end + at);
                match super::literal_length(&rest[..line_end]) {
                    // A literal the transcript cut short takes what is left.
                    Some(length) if line_end < rest.len() => end = (line_end + 2 + length).min(rest.len()),
                    _ => {
                        end = line_end;
                        break;
                    }
                }
            }
            found.push(parse_one(&rest[..end]));
            rest = rest[end..].strip_prefix("\r\n").unwrap_or(&rest[end..]);
        }
        Responses(found)
    }

    pub fn all_untagged(&self) -> impl Iterator<Item = &Untagged> {
        self.0.iter().filter_map(|reply| match reply {
            Reply::Untagged(untagged) => Some(untagged),
            _ => None,
        })
    }

    /// The untagged responses named `name` (`EXISTS`, `ESEARCH`, `OK`...).
    pub fn untagged(&self, name: &str) -> Vec<&Untagged> {
        self.all_untagged().filter(|untagged| untagged.is(name)).collect()
    }

    /// The one untagged response named `name`; panics unless there is exactly one.
    pub fn one(&self, name: &str) -> &Untagged {
        let found = self.untagged(name);
        assert_eq!(found.len(), 1, "one {name} response in {self:#?}");
        found[0]
    }

    /// The numbers of `* n NAME` responses (`EXISTS`, `EXPUNGE`...).
    pub fn numbered(&self, name: &str) -> Vec<u32> {
        self.untagged(name).into_iter().map(|untagged| untagged.number.expect("a number")).collect()
    }

    /// The tagged reply with `tag`; panics if there is none.
    pub fn tagged(&self, tag: &str) -> &Status {
        self.0
            .iter()
            .find_map(|reply| match reply {
                Reply::Tagged { tag: found, status } if found == tag => Some(status),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no tagged reply {tag} in {self:#?}"))
    }

    /// The response codes of the untagged status responses, in order.
    pub fn codes(&self) -> Vec<Code> {
        self.all_untagged()
            .filter(|untagged| is_status(&untagged.name))
            .filter_map(|untagged| untagged.status().code)
            .collect()
    }

    /// The untagged status response with code `name` if one came (to
    /// check its status and text too); panics if it came twice.
    pub fn status_with(&self, name: &str) -> Option<Status> {
        let found: Vec<Status> = self
            .all_untagged()
            .filter(|untagged| is_status(&untagged.name))
            .map(Untagged::status)
            .filter(|status| status.code_named(name).is_some())
            .collect();
        assert!(found.len() <= 1, "{name} came {} times in {self:#?}", found.len());
        found.into_iter().next()
    }

    /// The untagged response code `name` (`UIDVALIDITY`, `PERMANENTFLAGS`...)
    /// if one came; panics if it came twice.
    pub fn code(&self, name: &str) -> Option<Code> {
        self.status_with(name).and_then(|status| status.code)
    }

    /// The items of the one `* STATUS` response for `mailbox`, named as
    /// in the command (an atom, or quoted); INBOX in any case (RFC 9051 §5.1).
    pub fn status_items(&self, mailbox: &str) -> BTreeMap<String, u64> {
        self.status_of(mailbox).status_items()
    }

    /// The items of the one `* STATUS` for `mailbox`, values as sent.
    pub fn status_values(&self, mailbox: &str) -> BTreeMap<String, String> {
        self.status_of(mailbox).status_values()
    }

    /// The one `* STATUS` response for `mailbox`.
    pub fn status_of(&self, mailbox: &str) -> &Untagged {
        let wanted = if mailbox.starts_with('"') { values(mailbox).remove(0) } else { mailbox.to_string() };
        let same =
            |name: &str| name == wanted || (name.eq_ignore_ascii_case("INBOX") && wanted.eq_ignore_ascii_case("INBOX"));
        let found: Vec<&Untagged> =
            self.untagged("STATUS").into_iter().filter(|untagged| same(&untagged.values()[0])).collect();
        assert_eq!(found.len(), 1, "one STATUS for {mailbox} in {self:#?}");
        found[0]
    }

    /// The FETCH responses, by sequence number.
    pub fn fetches(&self) -> Vec<&Untagged> {
        self.untagged("FETCH")
    }

    /// The one FETCH response for sequence number `sequence`.
    pub fn fetch(&self, sequence: u32) -> &Untagged {
        let found: Vec<&Untagged> =
            self.fetches().into_iter().filter(|untagged| untagged.number == Some(sequence)).collect();
        assert_eq!(found.len(), 1, "one FETCH for {sequence} in {self:#?}");
        found[0]
    }
}

/// Reads one response (a line with its literals inline).
pub fn parse_one(response: &str) -> Reply {
    if let Some(rest) = response.strip_prefix("* ") {
        let (first, after) = rest.split_once(' ').unwrap_or((rest, ""));
        let (number, name, data) = match first.parse::<u32>() {
            Ok(number) => {
                let (name, data) = after.split_once(' ').unwrap_or((after, ""));
                (Some(number), name, data)
            }
            Err(_) => (None, first, after),
        };
        Reply::Untagged(Untagged { number, name: name.to_string(), data: data.to_string(), text: response.to_string() })
    } else if let Some(rest) = response.strip_prefix('+') {
        Reply::Continuation(rest.trim_start().to_string())
    } else {
        let (tag, rest) = response.split_once(' ').unwrap_or_else(|| panic!("not a response: {response:?}"));
        Reply::Tagged { tag: tag.to_string(), status: Status::parse(rest) }
    }
}

fn is_status(name: &str) -> bool {
    ["OK", "NO", "BAD", "BYE", "PREAUTH"].iter().any(|status| status.eq_ignore_ascii_case(name))
}

/// Where the `]` that closes a response code stands in `inside` (the text
/// after `[`): brackets inside quoted strings or lists do not count.
fn closing_bracket(inside: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    let mut depth = 0usize;
    for (at, byte) in inside.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth = depth.saturating_sub(1),
            b']' if !quoted && depth == 0 => return Some(at),
            _ => {}
        }
    }
    None
}

/// `text` split into values: atoms and numbers as sent, quoted strings and
/// literals as their contents, parenthesised lists as sent (parentheses
/// included); `NIL` stays `NIL`.
pub fn values(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut position = 0;
    while position < text.len() {
        if text.as_bytes()[position] == b' ' {
            position += 1;
            continue;
        }
        let (value, next) = super::parse_value(text, position);
        assert!(next > position, "no value at {position} in {text:?}");
        found.push(value);
        position = next;
    }
    found
}

/// `(NAME value NAME value)` as pairs.
pub fn pairs(list: &str) -> Vec<(String, String)> {
    let inner = list
        .strip_prefix('(')
        .and_then(|list| list.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not a list: {list:?}"));
    let values = values(inner);
    assert!(values.len() % 2 == 0, "not name-value pairs: {list:?}");
    values.chunks(2).map(|pair| (pair[0].clone(), pair[1].clone())).collect()
}

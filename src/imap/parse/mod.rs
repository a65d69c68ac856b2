//! The IMAP command parser (RFC 3501 §9 grammar, with the extensions roost
//! implements).
//!
//! It works on one whole command as the connection assembled it: the
//! command line, with each literal's bytes inline after its `{n}` and
//! CRLF, exactly as they came off the wire. APPEND is the exception: its
//! message literals (and CATENATE's TEXT parts) stream to the store, so
//! [`append_prefix`] parses only the part before the first of them, and
//! the rest is read line by line ([`append_line`]).
//!
//! Every function either consumes input and returns a value, or returns an
//! error; nothing panics on any input (the property tests feed it bytes).

pub mod acl;
mod append;
mod fetch;
mod list;
mod notify;
mod quota;
mod search;

pub use append::{append_line, url_section, AppendEvent, AppendLine, AppendState, Literal};

use super::types::{
    Command, CommandBody, CopyArguments, FetchArguments, FetchModifiers, Flag, ListArguments, Qresync, SearchArguments,
    SelectArguments, SelectParameters, SequenceNumber, SequenceSet, SortArguments, StatusItem, StoreArguments,
    ThreadArguments,
};
use crate::imap::thread::ThreadAlgorithm;
use crate::mail::{FlagAction, Flags};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The tag, when the command got that far (else the reply is `* BAD`).
    pub tag: Option<String>,
    pub message: String,
}

pub(crate) type Result<T> = std::result::Result<T, String>;

/// Deepest nesting of parentheses or NOT/OR the parser follows.
const MAX_DEPTH: usize = 64;

pub(crate) struct Parser<'a> {
    input: &'a [u8],
    position: usize,
}

fn is_atom_char(byte: u8) -> bool {
    byte > 0x20 && byte < 0x7f && !b"(){%*\"\\]".contains(&byte)
}

fn is_astring_char(byte: u8) -> bool {
    is_atom_char(byte) || byte == b']'
}

impl<'a> Parser<'a> {
    pub fn new(input: &'a [u8]) -> Parser<'a> {
        Parser { input, position: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.position).copied()
    }

    pub fn at_end(&self) -> bool {
        self.position >= self.input.len()
    }

    fn rest(&self) -> &'a [u8] {
        &self.input[self.position.min(self.input.len())..]
    }

    pub fn expect_end(&self) -> Result<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(format!("unexpected text at the end: {:?}", preview(self.rest())))
        }
    }

    fn byte(&mut self, expected: u8) -> Result<()> {
        if self.peek() == Some(expected) {
            self.position += 1;
            Ok(())
        } else {
            Err(format!("expected {:?}", expected as char))
        }
    }

    fn try_byte(&mut self, expected: u8) -> bool {
        self.byte(expected).is_ok()
    }

    pub fn sp(&mut self) -> Result<()> {
        self.byte(b' ').map_err(|_| "expected a space".to_string())
    }

    /// Consumes `word` (case-insensitive) if it is next.
    fn try_keyword(&mut self, word: &str) -> bool {
        let rest = self.rest();
        if rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word.as_bytes()) {
            self.position += word.len();
            true
        } else {
            false
        }
    }

    fn take_while(&mut self, accept: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.position;
        while self.peek().is_some_and(&accept) {
            self.position += 1;
        }
        &self.input[start..self.position]
    }

    pub fn atom(&mut self) -> Result<&'a [u8]> {
        let atom = self.take_while(is_atom_char);
        if atom.is_empty() {
            Err("expected an atom".into())
        } else {
            Ok(atom)
        }
    }

    pub fn number(&mut self) -> Result<u32> {
        let digits = self.take_while(|byte| byte.is_ascii_digit());
        if digits.is_empty() {
            return Err("expected a number".into());
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|text| text.parse::<u32>().ok())
            .ok_or_else(|| "number too large".to_string())
    }

    fn number64(&mut self) -> Result<u64> {
        let digits = self.take_while(|byte| byte.is_ascii_digit());
        if digits.is_empty() {
            return Err("expected a number".into());
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| "number too large".to_string())
    }

    /// mod-sequence-valzer (RFC 7162 §7): at most 2^63 - 1. Zero is taken
    /// where the grammar wants a value above it too; it matches everything.
    pub fn mod_sequence(&mut self) -> Result<u64> {
        let value = self.number64()?;
        if value > i64::MAX as u64 {
            return Err("mod-sequence too large".into());
        }
        Ok(value)
    }

    pub fn nz_number(&mut self) -> Result<u32> {
        if self.peek() == Some(b'0') {
            return Err("expected a number above zero".into());
        }
        self.number()
    }

    /// `"..."` with `\"` and `\\` escapes. 8-bit bytes are accepted, as
    /// clients send UTF-8 search strings whether or not they should.
    fn quoted(&mut self) -> Result<Vec<u8>> {
        self.byte(b'"')?;
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r' | b'\n' | 0) => return Err("unterminated quoted string".into()),
                Some(b'"') => {
                    self.position += 1;
                    return Ok(value);
                }
                Some(b'\\') => {
                    self.position += 1;
                    match self.peek() {
                        Some(escaped @ (b'"' | b'\\')) => {
                            value.push(escaped);
                            self.position += 1;
                        }
                        _ => return Err("bad escape in quoted string".into()),
                    }
                }
                Some(byte) => {
                    value.push(byte);
                    self.position += 1;
                }
            }
        }
    }

    /// `{n}` or `{n+}`, CRLF, then n bytes (already inline in the buffer).
    fn literal(&mut self) -> Result<&'a [u8]> {
        self.byte(b'{')?;
        let length = self.number()? as usize;
        self.try_byte(b'+');
        self.byte(b'}')?;
        if !self.rest().starts_with(b"\r\n") {
            return Err("expected CRLF after a literal's length".into());
        }
        self.position += 2;
        if self.rest().len() < length {
            return Err("literal shorter than announced".into());
        }
        let value = &self.input[self.position..self.position + length];
        self.position += length;
        Ok(value)
    }

    pub fn string(&mut self) -> Result<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(self.literal()?.to_vec()),
            _ => Err("expected a string".into()),
        }
    }

    pub fn astring(&mut self) -> Result<Vec<u8>> {
        if let Some(b'"' | b'{') = self.peek() {
            self.string()
        } else {
            let atom = self.take_while(is_astring_char);
            if atom.is_empty() {
                Err("expected an atom or a string".into())
            } else {
                Ok(atom.to_vec())
            }
        }
    }

    pub fn nstring(&mut self) -> Result<Option<Vec<u8>>> {
        if self.try_nil() {
            Ok(None)
        } else {
            self.string().map(Some)
        }
    }

    fn try_nil(&mut self) -> bool {
        let rest = self.rest();
        let is_nil = rest.len() >= 3
            && rest[..3].eq_ignore_ascii_case(b"NIL")
            && !rest.get(3).is_some_and(|&byte| is_astring_char(byte));
        if is_nil {
            self.position += 3;
        }
        is_nil
    }

    pub fn mailbox(&mut self) -> Result<Vec<u8>> {
        self.astring()
    }

    /// list-mailbox: like an astring but `%` and `*` may appear unquoted.
    fn list_mailbox(&mut self) -> Result<Vec<u8>> {
        if let Some(b'"' | b'{') = self.peek() {
            self.string()
        } else {
            let pattern = self.take_while(|byte| is_astring_char(byte) || byte == b'%' || byte == b'*');
            if pattern.is_empty() {
                Err("expected a mailbox pattern".into())
            } else {
                Ok(pattern.to_vec())
            }
        }
    }

    fn sequence_number(&mut self) -> Result<SequenceNumber> {
        if self.peek() == Some(b'$') {
            return Err("$ cannot be the end of a range".into());
        }
        if self.try_byte(b'*') {
            Ok(SequenceNumber::Star)
        } else {
            self.nz_number().map(SequenceNumber::Value).map_err(|_| "invalid sequence set".into())
        }
    }

    pub fn sequence_set(&mut self) -> Result<SequenceSet> {
        let mut ranges = Vec::new();
        loop {
            // RFC 5182: `$` stands for the saved search result.
            if self.try_byte(b'$') {
                ranges.push((SequenceNumber::Saved, SequenceNumber::Saved));
            } else {
                let low = self.sequence_number()?;
                let high = if self.try_byte(b':') { self.sequence_number()? } else { low };
                ranges.push((low, high));
            }
            if !self.try_byte(b',') {
                return Ok(SequenceSet(ranges));
            }
        }
    }

    /// A flag as in a flag list; `\Recent` and `\*` are returned so the
    /// caller can decide whether they are allowed.
    pub fn flag(&mut self) -> Result<FlagWord> {
        if self.try_byte(b'\\') {
            if self.try_byte(b'*') {
                return Ok(FlagWord::Wildcard);
            }
            let name = self.atom()?;
            let flag = match name.to_ascii_lowercase().as_slice() {
                b"seen" => Flag::System(Flags::SEEN),
                b"answered" => Flag::System(Flags::ANSWERED),
                b"flagged" => Flag::System(Flags::FLAGGED),
                b"deleted" => Flag::System(Flags::DELETED),
                b"draft" => Flag::System(Flags::DRAFT),
                b"recent" => Flag::Recent,
                _ => return Err(format!("unknown system flag \\{}", String::from_utf8_lossy(name))),
            };
            Ok(FlagWord::Flag(flag))
        } else {
            let name = self.atom()?;
            // An atom is 7-bit by construction, so this cannot fail.
            Ok(FlagWord::Flag(Flag::Keyword(String::from_utf8_lossy(name).into_owned())))
        }
    }

    /// `(flag flag ...)`, possibly empty.
    pub fn flag_list(&mut self) -> Result<Vec<Flag>> {
        self.byte(b'(')?;
        let mut flags = Vec::new();
        if self.try_byte(b')') {
            return Ok(flags);
        }
        loop {
            match self.flag()? {
                FlagWord::Flag(flag) => flags.push(flag),
                FlagWord::Wildcard => return Err("\\* is not a flag".into()),
            }
            if self.try_byte(b')') {
                return Ok(flags);
            }
            self.sp()?;
        }
    }

    /// A quoted RFC 3501 date-time.
    pub fn date_time(&mut self) -> Result<crate::util::datetime::DateTime> {
        let text = self.quoted()?;
        crate::util::datetime::DateTime::parse_imap(&text).ok_or_else(|| "invalid date-time".to_string())
    }

    /// A date (SEARCH): atom or quoted, "1-Feb-1994".
    fn date(&mut self) -> Result<i64> {
        let text = if self.peek() == Some(b'"') { self.quoted()? } else { self.atom()?.to_vec() };
        crate::util::datetime::parse_imap_date(&text).ok_or_else(|| "invalid date".to_string())
    }
}

pub enum FlagWord {
    Flag(Flag),
    /// `\*` (only meaningful in PERMANENTFLAGS).
    Wildcard,
}

fn preview(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(24)];
    String::from_utf8_lossy(shown).into_owned()
}

/// Reads the tag: any ASTRING-CHAR but `+`.
fn tag<'a>(parser: &mut Parser<'a>) -> Result<&'a [u8]> {
    let tag = parser.take_while(|byte| is_astring_char(byte) && byte != b'+');
    if tag.is_empty() {
        Err("missing or invalid tag".into())
    } else {
        Ok(tag)
    }
}

/// Parses one complete command.
pub fn parse_command(input: &[u8]) -> std::result::Result<Command, ParseError> {
    let mut parser = Parser::new(input);
    let tag = match tag(&mut parser).and_then(|tag| parser.sp().map(|()| tag)) {
        Ok(tag) => String::from_utf8_lossy(tag).into_owned(),
        Err(message) => return Err(ParseError { tag: None, message }),
    };
    let body = command_body(&mut parser).and_then(|body| parser.expect_end().map(|()| body));
    body.map(|body| Command { tag: tag.clone(), body }).map_err(|message| ParseError { tag: Some(tag), message })
}

/// The tag and command name of a line, if it has them (for APPEND
/// detection and for answering lines too long to parse).
pub fn tag_and_name(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut parser = Parser::new(line);
    let tag = tag(&mut parser).ok()?;
    parser.sp().ok()?;
    let name = parser.atom().ok()?;
    Some((tag, name))
}

fn command_body(parser: &mut Parser) -> Result<CommandBody> {
    let name = parser.atom()?.to_ascii_uppercase();
    let body = match name.as_slice() {
        b"CAPABILITY" => CommandBody::Capability,
        b"NOOP" => CommandBody::Noop,
        b"LOGOUT" => CommandBody::Logout,
        b"ID" => {
            parser.sp()?;
            CommandBody::Id(id_parameters(parser)?)
        }
        b"STARTTLS" => CommandBody::StartTls,
        b"LOGIN" => {
            parser.sp()?;
            let user = parser.astring()?;
            parser.sp()?;
            let password = parser.astring()?;
            CommandBody::Login { user, password }
        }
        b"AUTHENTICATE" => {
            parser.sp()?;
            let mechanism = String::from_utf8_lossy(parser.atom()?).to_ascii_uppercase();
            let initial = if parser.try_byte(b' ') {
                if parser.try_byte(b'=') {
                    Some(Vec::new())
                } else {
                    let base64 = parser.take_while(|byte| {
                        byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/' || byte == b'='
                    });
                    if base64.is_empty() {
                        return Err("expected a base64 initial response".into());
                    }
                    Some(base64.to_vec())
                }
            } else {
                None
            };
            CommandBody::Authenticate { mechanism, initial }
        }
        b"SELECT" | b"EXAMINE" => {
            parser.sp()?;
            let mailbox = parser.mailbox()?;
            let parameters =
                if parser.try_byte(b' ') { select_parameters(parser)? } else { SelectParameters::default() };
            CommandBody::Select(SelectArguments { mailbox, read_only: name == b"EXAMINE", parameters })
        }
        b"CREATE" => {
            parser.sp()?;
            CommandBody::Create { mailbox: parser.mailbox()? }
        }
        b"DELETE" => {
            parser.sp()?;
            CommandBody::Delete { mailbox: parser.mailbox()? }
        }
        b"RENAME" => {
            parser.sp()?;
            let from = parser.mailbox()?;
            parser.sp()?;
            CommandBody::Rename { from, to: parser.mailbox()? }
        }
        b"SUBSCRIBE" | b"UNSUBSCRIBE" => {
            parser.sp()?;
            CommandBody::Subscribe { mailbox: parser.mailbox()?, subscribed: name == b"SUBSCRIBE" }
        }
        b"LSUB" => {
            parser.sp()?;
            let reference = parser.mailbox()?;
            parser.sp()?;
            let patterns = vec![parser.list_mailbox()?];
            CommandBody::List(ListArguments { reference, patterns, subscribed_only: true, options: None })
        }
        b"LIST" => list::list(parser)?,
        b"STATUS" => {
            parser.sp()?;
            let mailbox = parser.mailbox()?;
            parser.sp()?;
            CommandBody::Status { mailbox, items: status_items(parser)? }
        }
        b"NAMESPACE" => CommandBody::Namespace,
        b"CANCELUPDATE" => CommandBody::CancelUpdate { tags: search::cancel_update(parser)? },
        b"NOTIFY" => notify::notify(parser)?,
        b"SETACL" | b"DELETEACL" | b"GETACL" | b"LISTRIGHTS" | b"MYRIGHTS" => acl::acl_command(parser, &name)?,
        b"GETQUOTA" | b"GETQUOTAROOT" | b"SETQUOTA" => quota::quota_command(parser, &name)?,
        b"ENABLE" => {
            let mut capabilities = Vec::new();
            while parser.try_byte(b' ') {
                capabilities.push(String::from_utf8_lossy(parser.atom()?).to_ascii_uppercase());
            }
            if capabilities.is_empty() {
                return Err("ENABLE needs at least one capability".into());
            }
            CommandBody::Enable { capabilities }
        }
        b"CHECK" => CommandBody::Check,
        b"CLOSE" => CommandBody::Close,
        b"UNSELECT" => CommandBody::Unselect,
        b"IDLE" => CommandBody::Idle,
        b"EXPUNGE" => CommandBody::Expunge { uids: None },
        b"UID" => {
            parser.sp()?;
            let name = parser.atom()?.to_ascii_uppercase();
            parser.sp()?;
            match name.as_slice() {
                b"EXPUNGE" => CommandBody::Expunge { uids: Some(parser.sequence_set()?) },
                b"FETCH" | b"STORE" | b"COPY" | b"MOVE" | b"SEARCH" | b"SORT" | b"THREAD" => {
                    selected_command(parser, &name, true)?
                }
                _ => return Err(format!("unknown UID command {}", String::from_utf8_lossy(&name))),
            }
        }
        b"FETCH" | b"STORE" | b"COPY" | b"MOVE" | b"SEARCH" | b"SORT" | b"THREAD" => {
            parser.sp()?;
            selected_command(parser, &name, false)?
        }
        b"APPEND" => return Err("APPEND needs a message literal".into()),
        // RFC 4978 §5: compress = "COMPRESS" SP algorithm.
        b"COMPRESS" => {
            parser.sp()?;
            CommandBody::Compress { mechanism: String::from_utf8_lossy(parser.atom()?).to_ascii_uppercase() }
        }
        _ => return Err(unknown_command(&name)),
    };
    Ok(body)
}

/// What a command name the parser does not know gets (upper-cased).
fn unknown_command(name: &[u8]) -> String {
    format!("unknown command {}", String::from_utf8_lossy(name))
}

fn selected_command(parser: &mut Parser, name: &[u8], uid: bool) -> Result<CommandBody> {
    Ok(match name {
        b"FETCH" => {
            let set = parser.sequence_set()?;
            parser.sp()?;
            let items = fetch::fetch_items(parser)?;
            let modifiers =
                if parser.try_byte(b' ') { fetch::fetch_modifiers(parser)? } else { FetchModifiers::default() };
            CommandBody::Fetch(FetchArguments { uid, set, items, modifiers })
        }
        b"STORE" => {
            let set = parser.sequence_set()?;
            parser.sp()?;
            // RFC 7162 §3.1.3: `(UNCHANGEDSINCE n)` before the flags.
            let mut unchanged_since = None;
            if parser.try_byte(b'(') {
                if !parser.try_keyword("UNCHANGEDSINCE ") {
                    return Err("unknown STORE modifier".into());
                }
                unchanged_since = Some(parser.mod_sequence()?);
                parser.byte(b')')?;
                parser.sp()?;
            }
            let action = if parser.try_byte(b'+') {
                FlagAction::Add
            } else if parser.try_byte(b'-') {
                FlagAction::Remove
            } else {
                FlagAction::Replace
            };
            if !parser.try_keyword("FLAGS") {
                return Err("expected FLAGS, +FLAGS or -FLAGS".into());
            }
            let silent = parser.try_keyword(".SILENT");
            parser.sp()?;
            let flags = if parser.peek() == Some(b'(') {
                parser.flag_list()?
            } else {
                let mut flags = Vec::new();
                loop {
                    match parser.flag()? {
                        FlagWord::Flag(flag) => flags.push(flag),
                        FlagWord::Wildcard => return Err("\\* is not a flag".into()),
                    }
                    if !parser.try_byte(b' ') {
                        break;
                    }
                }
                flags
            };
            CommandBody::Store(StoreArguments { uid, set, action, silent, flags, unchanged_since })
        }
        b"COPY" | b"MOVE" => {
            let set = parser.sequence_set()?;
            parser.sp()?;
            CommandBody::Copy(CopyArguments { uid, set, mailbox: parser.mailbox()?, remove: name == b"MOVE" })
        }
        b"SORT" => {
            let ret = search::search_return(parser)?;
            let criteria = search::sort_criteria(parser)?;
            parser.sp()?;
            let charset = String::from_utf8_lossy(&parser.astring()?).to_ascii_uppercase();
            parser.sp()?;
            let (_, key) = search::search_program(parser)?;
            CommandBody::Sort(SortArguments { uid, ret, criteria, charset, key })
        }
        b"THREAD" => {
            let algorithm = match parser.atom()?.to_ascii_uppercase().as_slice() {
                b"ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
                b"REFERENCES" => ThreadAlgorithm::References,
                _ => return Err("unknown THREAD algorithm".into()),
            };
            parser.sp()?;
            let charset = String::from_utf8_lossy(&parser.astring()?).to_ascii_uppercase();
            parser.sp()?;
            let (_, key) = search::search_program(parser)?;
            CommandBody::Thread(ThreadArguments { uid, algorithm, charset, key })
        }
        _ => {
            let ret = search::search_return(parser)?;
            let (charset, key) = search::search_program(parser)?;
            CommandBody::Search(SearchArguments { uid, ret, charset, key })
        }
    })
}

pub(crate) fn status_items(parser: &mut Parser) -> Result<Vec<StatusItem>> {
    parser.byte(b'(')?;
    let mut items = Vec::new();
    loop {
        let word = parser.atom()?.to_ascii_uppercase();
        items.push(match word.as_slice() {
            b"MESSAGES" => StatusItem::Messages,
            b"RECENT" => StatusItem::Recent,
            b"UIDNEXT" => StatusItem::UidNext,
            b"UIDVALIDITY" => StatusItem::UidValidity,
            b"UNSEEN" => StatusItem::Unseen,
            b"SIZE" => StatusItem::Size,
            b"DELETED" => StatusItem::Deleted,
            b"HIGHESTMODSEQ" => StatusItem::HighestModseq,
            b"MAILBOXID" => StatusItem::MailboxId,
            b"DELETED-STORAGE" => StatusItem::DeletedStorage,
            _ => return Err(format!("unknown STATUS item {}", String::from_utf8_lossy(&word))),
        });
        if parser.try_byte(b')') {
            return Ok(items);
        }
        parser.sp()?;
    }
}

/// `(CONDSTORE)`, `(QRESYNC (...))` or both (RFC 7162 §3.1.8, §3.2.5).
fn select_parameters(parser: &mut Parser) -> Result<SelectParameters> {
    parser.byte(b'(')?;
    let mut parameters = SelectParameters::default();
    loop {
        let word = parser.atom()?.to_ascii_uppercase();
        match word.as_slice() {
            b"CONDSTORE" => parameters.condstore = true,
            b"QRESYNC" if parameters.qresync.is_none() => {
                parser.sp()?;
                parameters.qresync = Some(qresync(parser)?);
            }
            _ => return Err(format!("unknown SELECT parameter {}", String::from_utf8_lossy(&word))),
        }
        if parser.try_byte(b')') {
            return Ok(parameters);
        }
        parser.sp()?;
    }
}

/// `(uidvalidity modseq [known-uids] [(known-sequence-set known-uid-set)])`.
fn qresync(parser: &mut Parser) -> Result<Qresync> {
    parser.byte(b'(')?;
    let uid_validity = parser.nz_number()?;
    parser.sp()?;
    let modseq = parser.mod_sequence()?;
    let mut known_uids = None;
    let mut sequence_match = None;
    if parser.try_byte(b' ') {
        if parser.peek() == Some(b'(') {
            sequence_match = Some(sequence_match_data(parser)?);
        } else {
            known_uids = Some(plain_set(parser)?);
            if parser.try_byte(b' ') {
                sequence_match = Some(sequence_match_data(parser)?);
            }
        }
    }
    parser.byte(b')')?;
    Ok(Qresync { uid_validity, modseq, known_uids, sequence_match })
}

/// seq-match-data: `(known-sequence-set known-uid-set)`.
fn sequence_match_data(parser: &mut Parser) -> Result<(SequenceSet, SequenceSet)> {
    parser.byte(b'(')?;
    let sequences = plain_set(parser)?;
    parser.sp()?;
    let uids = plain_set(parser)?;
    parser.byte(b')')?;
    Ok((sequences, uids))
}

/// A sequence set of numbers only (RFC 7162 known-uids: no `*`, no `$`).
fn plain_set(parser: &mut Parser) -> Result<SequenceSet> {
    let set = parser.sequence_set()?;
    let plain =
        set.0.iter().all(|&(low, high)| matches!((low, high), (SequenceNumber::Value(_), SequenceNumber::Value(_))));
    if !plain {
        return Err("* and $ are not allowed here".into());
    }
    Ok(set)
}

/// RFC 2971: `NIL` or `("name" "value" ...)`; at most 30 pairs.
/// ID's field/value pairs.
pub type IdParameters = Vec<(String, Option<String>)>;

fn id_parameters(parser: &mut Parser) -> Result<Option<IdParameters>> {
    if parser.try_nil() {
        return Ok(None);
    }
    parser.byte(b'(')?;
    let mut pairs = Vec::new();
    if parser.try_byte(b')') {
        return Ok(Some(pairs));
    }
    loop {
        let field = String::from_utf8_lossy(&parser.string()?).into_owned();
        parser.sp()?;
        let value = parser.nstring()?.map(|value| String::from_utf8_lossy(&value).into_owned());
        if pairs.len() >= 30 {
            return Err("too many ID fields".into());
        }
        pairs.push((field, value));
        if parser.try_byte(b')') {
            return Ok(Some(pairs));
        }
        parser.sp()?;
    }
}

/// APPEND's arguments before a message literal (RFC 3501 §6.3.11, RFC 3502).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendMessage {
    pub flags: Vec<Flag>,
    pub date: Option<crate::util::datetime::DateTime>,
    pub length: u64,
    /// `{n+}`: the client sends the bytes without waiting (RFC 7888).
    pub non_synchronizing: bool,
    /// `~{n}` (literal8, RFC 3516 §4.4): the message may hold raw binary
    /// parts, which APPEND re-encodes before storing (see `mime::binary`).
    pub binary: bool,
    /// `UTF8 (~{n})` (RFC 6855 §4, RFC 9755): a message with UTF-8 header
    /// fields (RFC 6532); the `)` follows the literal's bytes.
    pub utf8: bool,
}

/// What [`append_prefix`] finds: the tag, the mailbox, what the rest of
/// the line holds (see [`append_line`]), and for REPLACE the message it
/// replaces.
pub type AppendStart = (String, Vec<u8>, AppendLine, Option<Replacing>);

/// `[UID] REPLACE number mailbox ...` (RFC 8508): the message of the
/// selected mailbox the new one replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replacing {
    /// UID REPLACE: `number` is a UID, else a sequence number.
    pub uid: bool,
    /// `*` (the last message) or a number.
    pub number: SequenceNumber,
}

/// `tag APPEND mailbox ...` up to the end of the line, which ends at a
/// literal whose bytes are not yet read (the message, a CATENATE part) or
/// at the end of the command (a CATENATE of URLs only): what the
/// connection has when it must decide whether to stream. Returns None when
/// `input` is not an APPEND (or not yet one: its mailbox is the literal
/// that ends the line).
pub fn append_prefix(input: &[u8]) -> Option<std::result::Result<AppendStart, ParseError>> {
    let mut parser = Parser::new(input);
    let tag = String::from_utf8_lossy(tag(&mut parser).ok()?).into_owned();
    parser.sp().ok()?;
    let name = parser.atom().ok()?;
    // RFC 8508 §5: replace = "REPLACE" SP seq-number SP mailbox append-message,
    // and UID REPLACE with a UID in its place.
    let uid = name.eq_ignore_ascii_case(b"UID");
    let replace = if uid {
        parser.sp().ok()?;
        if !parser.atom().ok()?.eq_ignore_ascii_case(b"REPLACE") {
            return None;
        }
        true
    } else if name.eq_ignore_ascii_case(b"REPLACE") {
        true
    } else if name.eq_ignore_ascii_case(b"APPEND") {
        false
    } else {
        return None;
    };
    let failed = |message: String| Some(Err(ParseError { tag: Some(tag.clone()), message }));
    if let Err(message) = parser.sp() {
        return failed(message);
    }
    let replacing = if replace {
        let Ok(number) = parser.sequence_number() else { return failed("expected a message number".into()) };
        if let Err(message) = parser.sp() {
            return failed(message);
        }
        Some(Replacing { uid, number })
    } else {
        None
    };
    // The mailbox may itself be a literal; if this literal is that one, the
    // caller reads it inline and asks again.
    let mailbox_start = parser.position;
    let mailbox = match parser.mailbox() {
        Ok(mailbox) => mailbox,
        Err(_) if input.get(mailbox_start) == Some(&b'{') => return None,
        Err(message) => return failed(message),
    };
    if let Err(message) = parser.sp() {
        return failed(message);
    }
    match append_line(&mut parser, AppendState::Message) {
        Ok(line) => Some(Ok((tag, mailbox, line, replacing))),
        Err(message) => failed(message),
    }
}

/// APPEND's optional `flag-list SP` and `date-time SP` (RFC 3501 §6.3.11).
fn flags_and_date(parser: &mut Parser) -> Result<(Vec<Flag>, Option<crate::util::datetime::DateTime>)> {
    let flags = if parser.peek() == Some(b'(') {
        let flags = parser.flag_list()?;
        parser.sp()?;
        flags
    } else {
        Vec::new()
    };
    let date = if parser.peek() == Some(b'"') {
        let date = parser.date_time()?;
        parser.sp()?;
        Some(date)
    } else {
        None
    };
    Ok((flags, date))
}

/// ` [flags] [date-time] {n}` at the end of an APPEND line; for the second
/// and later messages of a MULTIAPPEND (RFC 3502), the whole line.
pub fn append_message(parser: &mut Parser) -> Result<AppendMessage> {
    let (flags, date) = flags_and_date(parser)?;
    // RFC 6855 §4: `UTF8 (` literal8 `)`, the closing parenthesis after
    // the literal's bytes (read with the line that follows them).
    let utf8 = parser.try_keyword("UTF8 (");
    // RFC 3516 §4.4: `~{n}` (literal8) may hold any bytes, NUL included;
    // the message streams to the store either way, its binary parts
    // re-encoded on the way.
    let binary = parser.try_byte(b'~');
    if utf8 && !binary {
        return Err("UTF8 takes a literal8 (~{n})".into());
    }
    parser.byte(b'{').map_err(|_| "expected a message literal".to_string())?;
    let length = parser.number64()?;
    let non_synchronizing = parser.try_byte(b'+');
    parser.byte(b'}')?;
    parser.expect_end()?;
    Ok(AppendMessage { flags, date, length, non_synchronizing, binary, utf8 })
}

/// What ends a line: `{n}` or `{n+}` announces a literal.
pub fn trailing_literal(line: &[u8]) -> Option<(u64, bool)> {
    let body = line.strip_suffix(b"}")?;
    let (body, non_synchronizing) = match body.strip_suffix(b"+") {
        Some(body) => (body, true),
        None => (body, false),
    };
    let open = body.iter().rposition(|&byte| byte == b'{')?;
    let digits = &body[open + 1..];
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let length = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((length, non_synchronizing))
}

#[cfg(test)]
mod tests;

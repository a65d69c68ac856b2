//! RFC 5322 address lists, read the way ENVELOPE needs them (RFC 3501
//! §7.4.2): each address as (display name, route, mailbox, host), groups as
//! a start marker (mailbox = group name, host NIL) and an end marker (all
//! NIL).
//!
//! Values are kept raw: encoded words (RFC 2047) are not decoded, because
//! IMAP sends them to the client as they were sent. Quoting and folding are
//! removed, the way Dovecot does it. Real mail is full of junk (missing
//! angle brackets, unquoted dots in names, lone names, stray brackets), so
//! the parser never fails: whatever it cannot read becomes a best-effort
//! address, never an error.

/// One element of an ENVELOPE address list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// Display name (phrase), quotes removed, words joined by one space.
    pub name: Option<Vec<u8>>,
    /// Obsolete source route (`@a,@b`), without the final colon.
    pub route: Option<Vec<u8>>,
    /// Local part; the group name for a group start; None for a group end.
    pub mailbox: Option<Vec<u8>>,
    /// Domain; None for group start and end markers.
    pub host: Option<Vec<u8>>,
}

/// Most addresses kept from one header field. An envelope of a message
/// sent to thousands of people stays bounded; the rest are dropped.
pub const MAX_ADDRESSES: usize = 1000;

/// Dovecot fills a missing domain with this, so that an address without a
/// host is not mistaken for a group start (RFC 3501: NIL host = group).
pub const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";
/// Likewise for an address with a domain but no local part.
pub const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";

/// Lexical pieces of an address header.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// A run of atext, dots and 8-bit bytes.
    Atom(Vec<u8>),
    /// A quoted string, unquoted.
    Quoted(Vec<u8>),
    /// A comment's text (outer parentheses removed).
    Comment(Vec<u8>),
    /// `[...]`, kept with its brackets.
    Literal(Vec<u8>),
    /// One of `< > @ , : ;`.
    Special(u8),
}

fn is_special(byte: u8) -> bool {
    b"<>@,:;()\"[]\\".contains(&byte)
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits `value` into tokens. Unterminated quotes, comments and literals
/// run to the end of the value.
fn tokens(value: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut position = 0;
    while position < value.len() {
        let byte = value[position];
        if is_space(byte) {
            position += 1;
        } else if byte == b'"' {
            let (text, next) = quoted(value, position + 1);
            out.push(Token::Quoted(text));
            position = next;
        } else if byte == b'(' {
            let (text, next) = comment(value, position + 1);
            out.push(Token::Comment(text));
            position = next;
        } else if byte == b'[' {
            let end = value[position..].iter().position(|&b| b == b']').map_or(value.len(), |at| position + at + 1);
            out.push(Token::Literal(
                value[position..end].iter().copied().filter(|&b| b != b'\r' && b != b'\n').collect(),
            ));
            position = end;
        } else if b"<>@,:;".contains(&byte) {
            out.push(Token::Special(byte));
            position += 1;
        } else if byte == b')' || byte == b']' || byte == b'\\' {
            // Stray closing bracket or backslash: junk, skipped.
            position += 1;
        } else {
            let start = position;
            while position < value.len() && !is_space(value[position]) && !is_special(value[position]) {
                position += 1;
            }
            out.push(Token::Atom(value[start..position].to_vec()));
        }
    }
    out
}

/// A quoted string from just after its opening quote: (content, next position).
fn quoted(value: &[u8], mut position: usize) -> (Vec<u8>, usize) {
    let mut text = Vec::new();
    while position < value.len() {
        match value[position] {
            b'"' => return (text, position + 1),
            b'\\' if position + 1 < value.len() => {
                text.push(value[position + 1]);
                position += 2;
                continue;
            }
            b'\r' | b'\n' => {}
            byte => text.push(byte),
        }
        position += 1;
    }
    (text, position)
}

/// A comment from just after its `(`: (content, next position). Nested
/// comments are kept inside the text.
fn comment(value: &[u8], mut position: usize) -> (Vec<u8>, usize) {
    let mut text = Vec::new();
    let mut level = 1usize;
    while position < value.len() {
        let byte = value[position];
        match byte {
            b'(' => level += 1,
            b')' => {
                level -= 1;
                if level == 0 {
                    return (text, position + 1);
                }
            }
            b'\\' if position + 1 < value.len() => {
                text.push(value[position + 1]);
                position += 2;
                continue;
            }
            b'\r' | b'\n' => {
                position += 1;
                continue;
            }
            _ => {}
        }
        text.push(byte);
        position += 1;
    }
    (text, position)
}

/// Parses an address-list header value (From, To, Cc, ...). An empty or
/// blank value gives an empty list (ENVELOPE shows NIL).
pub fn parse_list(value: &[u8]) -> Vec<Address> {
    let tokens = tokens(value);
    let mut parser = Parser { tokens: &tokens, position: 0, out: Vec::new() };
    parser.list();
    parser.out
}

struct Parser<'a> {
    tokens: &'a [Token],
    position: usize,
    out: Vec<Address>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.position)
    }

    fn push(&mut self, address: Address) {
        if self.out.len() < MAX_ADDRESSES {
            self.out.push(address);
        }
    }

    fn list(&mut self) {
        let mut in_group = false;
        while self.position < self.tokens.len() {
            match self.peek() {
                Some(Token::Special(b',')) => self.position += 1,
                Some(Token::Special(b';')) => {
                    self.position += 1;
                    if in_group {
                        self.push(Address::default());
                        in_group = false;
                    }
                }
                _ => {
                    if self.address(in_group) {
                        in_group = true;
                    }
                }
            }
        }
        if in_group {
            // RFC 3501: every group start has its end marker.
            self.push(Address::default());
        }
    }

    /// One mailbox, or a group start. Returns true when a group began.
    fn address(&mut self, in_group: bool) -> bool {
        let start = self.position;
        let mut words: Vec<&'a Token> = Vec::new();
        let mut comments: Vec<&'a [u8]> = Vec::new();
        loop {
            match self.peek() {
                Some(token @ (Token::Atom(_) | Token::Quoted(_) | Token::Literal(_))) => {
                    words.push(token);
                    self.position += 1;
                }
                Some(Token::Comment(text)) => {
                    comments.push(text);
                    self.position += 1;
                }
                Some(Token::Special(b':')) if !in_group && !words.is_empty() => {
                    self.position += 1;
                    let name = phrase(&words);
                    self.push(Address { mailbox: Some(name), ..Address::default() });
                    return true;
                }
                Some(Token::Special(b'<')) => {
                    self.position += 1;
                    let mut address = self.angle();
                    let name = phrase(&words);
                    address.name =
                        if name.is_empty() { comments.first().map(|text| text.to_vec()) } else { Some(name) };
                    self.push(address);
                    self.skip_to_separator();
                    return false;
                }
                Some(Token::Special(b'@')) => {
                    self.position += 1;
                    let mailbox = local_part(&words);
                    let host = self.domain(false);
                    // Only a comment after the address names the person
                    // (`a@b (Name)`); one before it does not (as Dovecot).
                    let name = self.trailing_comment();
                    self.push(filled(Address { name, route: None, mailbox: Some(mailbox), host: Some(host) }));
                    self.skip_to_separator();
                    return false;
                }
                Some(Token::Special(b'>' | b':')) => {
                    // Stray bracket or colon: skipped as junk.
                    self.position += 1;
                }
                _ => break,
            }
        }
        if words.len() > 1 {
            // A phrase and no address (`No Address`): Dovecot reads the
            // phrase as the name of an address with neither mailbox nor host.
            self.push(filled(Address { name: Some(phrase(&words)), ..Address::default() }));
        } else if !words.is_empty() {
            // A bare word with no `@`: a local part without host.
            let name = comments.first().map(|text| text.to_vec());
            self.push(filled(Address { name, route: None, mailbox: Some(local_part(&words)), host: None }));
        } else if !comments.is_empty() {
            // Only a comment (`(undisclosed)`): an address with nothing in
            // it, as Dovecot's ENVELOPE has it.
            self.push(filled(Address::default()));
        }
        if self.position == start {
            // Nothing consumed (cannot happen with the cases above, but a
            // parser must never loop forever on junk).
            self.position += 1;
        }
        false
    }

    /// Inside `<...>`: optional route, addr-spec, closing `>` (if any).
    fn angle(&mut self) -> Address {
        let mut route: Vec<u8> = Vec::new();
        // obs-route: 1#("@" domain) ":"
        while let Some(Token::Special(b'@')) = self.peek() {
            let save = self.position;
            self.position += 1;
            let domain = self.domain(true);
            if !route.is_empty() {
                route.push(b',');
            }
            route.push(b'@');
            route.extend_from_slice(&domain);
            while let Some(Token::Special(b',')) = self.peek() {
                self.position += 1;
            }
            if let Some(Token::Special(b':')) = self.peek() {
                self.position += 1;
                break;
            }
            if !matches!(self.peek(), Some(Token::Special(b'@'))) {
                // Not a route after all (`<@host>`): read again as a domain.
                self.position = save;
                route.clear();
                break;
            }
        }
        let mut words: Vec<&'a Token> = Vec::new();
        while let Some(token) = self.peek() {
            match token {
                Token::Atom(_) | Token::Quoted(_) | Token::Literal(_) => words.push(token),
                Token::Comment(_) => {}
                Token::Special(_) => break,
            }
            self.position += 1;
        }
        let mailbox = local_part(&words);
        let host = if let Some(Token::Special(b'@')) = self.peek() {
            self.position += 1;
            Some(self.domain(true))
        } else {
            None
        };
        while let Some(token) = self.peek() {
            self.position += 1;
            if *token == Token::Special(b'>') {
                break;
            }
        }
        let route = if route.is_empty() { None } else { Some(route) };
        filled(Address { name: None, route, mailbox: Some(mailbox), host })
    }

    /// A domain: atoms, dots and literals up to the next special.
    /// RFC 5322 §3.4.1 allows comments (CFWS) around the domain: one
    /// before it (`a@ (c) b.org`) is skipped; inside `<...>` (`in_angle`)
    /// every comment is; after a bare addr-spec a comment ends the domain,
    /// since it may name the person (`a@b.org (Name)`).
    fn domain(&mut self, in_angle: bool) -> Vec<u8> {
        let mut domain = Vec::new();
        while let Some(token) = self.peek() {
            match token {
                Token::Atom(text) | Token::Literal(text) => domain.extend_from_slice(text),
                Token::Quoted(text) => domain.extend_from_slice(text),
                Token::Comment(_) if in_angle || domain.is_empty() => {}
                _ => break,
            }
            self.position += 1;
        }
        domain
    }

    /// A comment right after an addr-spec (`a@b (Name)`): the old way of
    /// giving a name.
    fn trailing_comment(&mut self) -> Option<Vec<u8>> {
        let mut found = None;
        while let Some(Token::Comment(text)) = self.peek() {
            if found.is_none() {
                found = Some(text.clone());
            }
            self.position += 1;
        }
        found
    }

    /// Skips junk after a complete address, up to `,` `;` or the end.
    fn skip_to_separator(&mut self) {
        while let Some(token) = self.peek() {
            if matches!(token, Token::Special(b',' | b';')) {
                return;
            }
            self.position += 1;
        }
    }
}

/// Display-name words joined by single spaces.
fn phrase(words: &[&Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in words {
        if !out.is_empty() {
            out.push(b' ');
        }
        match word {
            Token::Atom(text) | Token::Quoted(text) | Token::Literal(text) => out.extend_from_slice(text),
            _ => {}
        }
    }
    out
}

/// Local-part words joined without spaces (`john . doe` is `john.doe`).
fn local_part(words: &[&Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in words {
        if let Token::Atom(text) | Token::Quoted(text) | Token::Literal(text) = word {
            out.extend_from_slice(text);
        }
    }
    out
}

/// Fills a missing mailbox or host the way Dovecot does, so the address
/// never reads as a group marker.
fn filled(mut address: Address) -> Address {
    if address.mailbox.as_ref().is_none_or(std::vec::Vec::is_empty) {
        address.mailbox = Some(MISSING_MAILBOX.to_vec());
    }
    if address.host.as_ref().is_none_or(std::vec::Vec::is_empty) {
        address.host = Some(MISSING_DOMAIN.to_vec());
    }
    address
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn address(name: Option<&str>, route: Option<&str>, mailbox: Option<&str>, host: Option<&str>) -> Address {
        let bytes = |value: Option<&str>| value.map(|text| text.as_bytes().to_vec());
        Address { name: bytes(name), route: bytes(route), mailbox: bytes(mailbox), host: bytes(host) }
    }

    #[test]
    fn plain_and_named() {
        assert_eq!(parse_list(b"alice@example.org"), vec![address(None, None, Some("alice"), Some("example.org"))]);
        assert_eq!(
            parse_list(b"Alice Example <alice@example.org>, \"Bob, Jr.\" <bob@x.y>"),
            vec![
                address(Some("Alice Example"), None, Some("alice"), Some("example.org")),
                address(Some("Bob, Jr."), None, Some("bob"), Some("x.y")),
            ]
        );
        assert_eq!(
            parse_list(b"=?utf-8?q?J=C3=BCrgen?= <j@x>"),
            vec![address(Some("=?utf-8?q?J=C3=BCrgen?="), None, Some("j"), Some("x"))]
        );
    }

    #[test]
    fn groups() {
        assert_eq!(
            parse_list(b"undisclosed-recipients:;"),
            vec![address(None, None, Some("undisclosed-recipients"), None), Address::default()]
        );
        assert_eq!(
            parse_list(b"Friends: a@x, B <b@y>; c@z"),
            vec![
                address(None, None, Some("Friends"), None),
                address(None, None, Some("a"), Some("x")),
                address(Some("B"), None, Some("b"), Some("y")),
                Address::default(),
                address(None, None, Some("c"), Some("z")),
            ]
        );
        // No closing semicolon: the group still ends.
        assert_eq!(
            parse_list(b"G: a@x"),
            vec![address(None, None, Some("G"), None), address(None, None, Some("a"), Some("x")), Address::default()]
        );
    }

    #[test]
    fn routes_comments_junk() {
        assert_eq!(
            parse_list(b"<@relay.a,@relay.b:joe@c.d>"),
            vec![address(None, Some("@relay.a,@relay.b"), Some("joe"), Some("c.d"))]
        );
        assert_eq!(parse_list(b"joe@c.d (Joe Doe)"), vec![address(Some("Joe Doe"), None, Some("joe"), Some("c.d"))]);
        assert_eq!(
            parse_list(b"John Q. Public <jqp@x>"),
            vec![address(Some("John Q. Public"), None, Some("jqp"), Some("x"))]
        );
        assert_eq!(parse_list(b"alice"), vec![address(None, None, Some("alice"), Some("MISSING_DOMAIN"))]);
        // Dovecot: the null path reads as an address with nothing in it.
        assert_eq!(parse_list(b"<>"), vec![address(None, None, Some("MISSING_MAILBOX"), Some("MISSING_DOMAIN"))]);
        assert_eq!(parse_list(b""), vec![]);
        assert_eq!(parse_list(b" , ,"), vec![]);
        assert_eq!(
            parse_list(b"Doe, John <john@x>"),
            vec![
                address(None, None, Some("Doe"), Some("MISSING_DOMAIN")),
                address(Some("John"), None, Some("john"), Some("x"))
            ]
        );
        assert_eq!(parse_list(b"\"a\\\"b\" <q@x"), vec![address(Some("a\"b"), None, Some("q"), Some("x"))]);
        assert_eq!(parse_list(b"@x"), vec![address(None, None, Some("MISSING_MAILBOX"), Some("x"))]);
    }

    /// RFC 5322 §3.4.1: CFWS may sit around the `@` and inside `<...>`.
    #[test]
    fn comments_around_the_at_sign() {
        assert_eq!(
            parse_list(b"<user-from (comment)@ (comment) domain.org>"),
            vec![address(None, None, Some("user-from"), Some("domain.org"))]
        );
        assert_eq!(
            parse_list(b"Joe <joe@(c)example.org(d)>"),
            vec![address(Some("Joe"), None, Some("joe"), Some("example.org"))]
        );
        assert_eq!(
            parse_list(b"joe (c) @ (d) example.org (Joe Doe)"),
            vec![address(Some("Joe Doe"), None, Some("joe"), Some("example.org"))]
        );
        assert_eq!(
            parse_list(b"<@(c)relay.a:joe@c.d>"),
            vec![address(None, Some("@relay.a"), Some("joe"), Some("c.d"))]
        );
    }

    proptest! {
        #[test]
        fn never_panics_and_is_bounded(value in proptest::collection::vec(any::<u8>(), 0..300)) {
            let list = parse_list(&value);
            prop_assert!(list.len() <= MAX_ADDRESSES);
        }

        #[test]
        fn address_junk_never_panics(value in proptest::collection::vec(prop_oneof![
            Just(b'<'), Just(b'>'), Just(b'@'), Just(b','), Just(b':'), Just(b';'), Just(b'"'),
            Just(b'('), Just(b')'), Just(b'['), Just(b']'), Just(b'\\'), Just(b'a'), Just(b' ')], 0..60)) {
            let _ = parse_list(&value);
        }
    }
}

//! The small subset of TOML 1.0 that roost's config files and board profiles use.
//!
//! We parse it ourselves instead of pulling in serde and a full TOML crate:
//! the files are tiny, the subset is easy to get exactly right, and every
//! construct we do not support is rejected with a message naming its line,
//! so a user never has a setting silently misread.
//!
//! Supported: comments, `[table]` and `[dotted.table]` headers, `key = value`
//! with bare keys, basic and literal single-line strings, decimal integers,
//! booleans, and arrays of those (nested arrays included). Arrays of tables
//! (`[[lmtp.route]]`) too: each `[[name]]` is the table `name[N]` (N from
//! 0, in file order) of [`Document::tables`]; a `[` can be in no bare key,
//! so these names never clash with a dotted one.

use std::collections::BTreeMap;
use std::fmt;

/// Deep enough for any real config, shallow enough that hostile input
/// like "a = [[[[[..." cannot exhaust the stack.
const MAX_ARRAY_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    String(String),
    Integer(i64),
    Bool(bool),
    Array(Vec<Value>),
}

impl Value {
    /// The TOML name of this value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Integer(_) => "integer",
            Value::Bool(_) => "boolean",
            Value::Array(_) => "array",
        }
    }
}

/// A parsed document: table path ("" for the top level, "imap", "limits", "a.b") → key → value, in file order is not needed; use BTreeMap.
///
/// The top-level table "" is always present after [`parse`], even when the
/// file has no top-level keys, so callers can look it up unconditionally.
/// Tables that only exist implicitly (the "a" in `[a.b]`) are not listed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    pub tables: BTreeMap<String, BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TomlError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for TomlError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for TomlError {}

/// Parse a whole document.
pub fn parse(text: &str) -> Result<Document, TomlError> {
    let mut parser = Parser { characters: text.chars().collect(), position: 0, line: 1 };
    // A byte-order mark is not TOML, but editors on some systems add one and
    // rejecting a config for an invisible character helps nobody.
    if parser.peek() == Some('\u{feff}') {
        parser.position += 1;
    }
    let mut document = Document::default();
    document.tables.insert(String::new(), BTreeMap::new());
    let mut current_table = String::new();

    loop {
        parser.skip_whitespace();
        match parser.peek() {
            None => break,
            Some('#') => parser.skip_comment()?,
            Some('\n' | '\r') => parser.expect_newline()?,
            Some('[') if parser.characters.get(parser.position + 1) == Some(&'[') => {
                parser.position += 1;
                let name = parser.parse_table_header()?;
                if parser.peek() != Some(']') {
                    return Err(parser.error("an array of tables' header ends with ']]'"));
                }
                parser.position += 1;
                current_table = define_array_table(&mut document, &name, parser.line)?;
                parser.expect_end_of_line("table header")?;
            }
            Some('[') => {
                let name = parser.parse_table_header()?;
                define_table(&mut document, &name, parser.line)?;
                parser.expect_end_of_line("table header")?;
                current_table = name;
            }
            Some(character) if is_bare_key_character(character) => {
                let line = parser.line;
                let (key, value) = parser.parse_key_value()?;
                insert_key(&mut document, &current_table, key, value, line)?;
                parser.expect_end_of_line("value")?;
            }
            Some('"' | '\'') => return Err(parser.error("quoted keys are not supported")),
            Some(character) => {
                return Err(parser.error(format!(
                    "unexpected {}; expected a key, a [table] header or a comment",
                    describe(character)
                )))
            }
        }
    }
    Ok(document)
}

/// TOML 1.0 "Keys": bare keys may only contain ASCII letters, ASCII digits,
/// underscores and dashes.
fn is_bare_key_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '_' || character == '-'
}

/// A character as it should appear in an error message.
fn describe(character: char) -> String {
    if character.is_control() || character.is_whitespace() {
        format!("character U+{:04X}", u32::from(character))
    } else {
        format!("'{character}'")
    }
}

/// The dotted path a key would occupy if it were a table.
fn child_path(table: &str, key: &str) -> String {
    if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

/// Whether any defined table lies at `path` or below it.
fn table_exists_at_or_below(document: &Document, path: &str) -> bool {
    // A linear scan: config files hold a handful of tables, and an ordered
    // range would miss names like "a-b" that sort between "a" and "a.".
    let prefix = format!("{path}.");
    let element = format!("{path}[");
    document.tables.keys().any(|name| name == path || name.starts_with(&prefix) || name.starts_with(&element))
}

/// The name of the next table of the array of tables `name` (`[[name]]`):
/// `name[N]`, N counting from 0.
fn define_array_table(document: &mut Document, name: &str, line: usize) -> Result<String, TomlError> {
    if document.tables.contains_key(name) {
        return Err(TomlError { line, message: format!("[[{name}]] conflicts with the table [{name}]") });
    }
    let element = format!("{name}[");
    let count = document.tables.keys().filter(|table| table.starts_with(&element)).count();
    let indexed = format!("{name}[{count}]");
    check_ancestors(document, name, line)?;
    document.tables.insert(indexed.clone(), BTreeMap::new());
    Ok(indexed)
}

fn define_table(document: &mut Document, name: &str, line: usize) -> Result<(), TomlError> {
    if document.tables.contains_key(name) {
        // TOML 1.0 "Table": defining a table more than once is invalid.
        return Err(TomlError { line, message: format!("duplicate table [{name}]") });
    }
    let element = format!("{name}[");
    if document.tables.keys().any(|table| table.starts_with(&element)) {
        return Err(TomlError { line, message: format!("[{name}] conflicts with the array of tables [[{name}]]") });
    }
    check_ancestors(document, name, line)?;
    document.tables.insert(name.to_string(), BTreeMap::new());
    Ok(())
}

fn check_ancestors(document: &Document, name: &str, line: usize) -> Result<(), TomlError> {
    // A table may not reuse a name that an ancestor already holds as a plain
    // key: after `[a]` `b = 1`, the header `[a.b.c]` would redefine `b`.
    let segments: Vec<&str> = name.split('.').collect();
    let mut parent = String::new();
    for segment in segments {
        if let Some(value) = document.tables.get(&parent).and_then(|keys| keys.get(segment)) {
            return Err(TomlError {
                line,
                message: format!(
                    "table [{name}] conflicts with the {} key '{segment}' in {}",
                    value.type_name(),
                    table_label(&parent)
                ),
            });
        }
        parent = child_path(&parent, segment);
    }
    Ok(())
}

fn insert_key(document: &mut Document, table: &str, key: String, value: Value, line: usize) -> Result<(), TomlError> {
    // The reverse of the check in `define_table`: `[a.b]` followed later by
    // `[a]` `b = 1` would make `b` both a table and a value.
    if table_exists_at_or_below(document, &child_path(table, &key)) {
        return Err(TomlError {
            line,
            message: format!(
                "key '{key}' in {} conflicts with table [{}]",
                table_label(table),
                child_path(table, &key)
            ),
        });
    }
    let keys = document.tables.entry(table.to_string()).or_default();
    if keys.contains_key(&key) {
        // TOML 1.0 "Keys": defining a key multiple times is invalid.
        return Err(TomlError { line, message: format!("duplicate key '{key}' in {}", table_label(table)) });
    }
    keys.insert(key, value);
    Ok(())
}

fn table_label(table: &str) -> String {
    if table.is_empty() {
        "the top-level table".to_string()
    } else {
        format!("table [{table}]")
    }
}

struct Parser {
    /// Whole characters, so that positions never fall inside a UTF-8 sequence.
    characters: Vec<char>,
    position: usize,
    /// 1-based line of `position`, advanced whenever a newline is consumed.
    line: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.characters.get(self.position).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.characters.get(self.position + ahead).copied()
    }

    fn error(&self, message: impl Into<String>) -> TomlError {
        self.error_at(self.line, message)
    }

    fn error_at(&self, line: usize, message: impl Into<String>) -> TomlError {
        TomlError { line, message: message.into() }
    }

    /// TOML whitespace is only space and tab; newlines are significant.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.position += 1;
        }
    }

    /// Consume "#..." up to, not including, the newline.
    fn skip_comment(&mut self) -> Result<(), TomlError> {
        self.position += 1;
        while let Some(character) = self.peek() {
            if character == '\n' || (character == '\r' && self.peek_at(1) == Some('\n')) {
                break;
            }
            // TOML 1.0 "Comment": control characters other than tab are not
            // permitted in comments.
            if is_forbidden_control(character) {
                return Err(self.error(format!("{} in a comment", describe(character))));
            }
            self.position += 1;
        }
        Ok(())
    }

    /// TOML 1.0 "Spec": a newline is LF or CRLF; a lone CR is an error.
    fn expect_newline(&mut self) -> Result<(), TomlError> {
        match (self.peek(), self.peek_at(1)) {
            (Some('\n'), _) => self.position += 1,
            (Some('\r'), Some('\n')) => self.position += 2,
            _ => return Err(self.error("carriage return not followed by a line feed")),
        }
        self.line += 1;
        Ok(())
    }

    /// After a header or a value only whitespace and a comment may follow on
    /// the same line.
    fn expect_end_of_line(&mut self, after: &str) -> Result<(), TomlError> {
        self.skip_whitespace();
        match self.peek() {
            None => Ok(()),
            Some('#') => self.skip_comment(),
            Some('\n' | '\r') => self.expect_newline(),
            Some(character) => Err(self
                .error(format!("unexpected {} after the {after}; expected the end of the line", describe(character)))),
        }
    }

    /// Whitespace, newlines and comments, as allowed between array elements.
    fn skip_blank_space(&mut self) -> Result<(), TomlError> {
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some('#') => self.skip_comment()?,
                Some('\n' | '\r') => self.expect_newline()?,
                _ => return Ok(()),
            }
        }
    }

    fn parse_bare_key(&mut self, context: &str) -> Result<String, TomlError> {
        let start = self.position;
        while self.peek().is_some_and(is_bare_key_character) {
            self.position += 1;
        }
        if self.position == start {
            return Err(match self.peek() {
                Some('"' | '\'') => self.error("quoted keys are not supported"),
                Some(character) => self.error(format!(
                    "unexpected {} in {context}; expected a bare key (A-Z a-z 0-9 _ -)",
                    describe(character)
                )),
                None => self.error(format!("unexpected end of file in {context}")),
            });
        }
        Ok(self.characters[start..self.position].iter().collect())
    }

    /// "[a.b.c]" → "a.b.c". Whitespace around the name and the dots is
    /// allowed, as TOML 1.0 "Table" permits.
    fn parse_table_header(&mut self) -> Result<String, TomlError> {
        self.position += 1;
        if self.peek() == Some('[') {
            return Err(self.error("a table header has at most two brackets"));
        }
        let mut segments = Vec::new();
        loop {
            self.skip_whitespace();
            segments.push(self.parse_bare_key("a table header")?);
            self.skip_whitespace();
            match self.peek() {
                Some('.') => self.position += 1,
                Some(']') => {
                    self.position += 1;
                    return Ok(segments.join("."));
                }
                Some(character) => {
                    return Err(self
                        .error(format!("unexpected {} in a table header; expected '.' or ']'", describe(character))))
                }
                None => return Err(self.error("unterminated table header")),
            }
        }
    }

    fn parse_key_value(&mut self) -> Result<(String, Value), TomlError> {
        let key = self.parse_bare_key("a key")?;
        self.skip_whitespace();
        match self.peek() {
            Some('=') => self.position += 1,
            Some('.') => return Err(self.error("dotted keys are not supported; use a [table] header")),
            Some(character) => {
                return Err(self.error(format!("unexpected {} after key '{key}'; expected '='", describe(character))))
            }
            None => return Err(self.error(format!("expected '=' after key '{key}'"))),
        }
        self.skip_whitespace();
        let value = self.parse_value(0)?;
        Ok((key, value))
    }

    fn parse_value(&mut self, depth: usize) -> Result<Value, TomlError> {
        match self.peek() {
            Some('"') => {
                if self.peek_at(1) == Some('"') && self.peek_at(2) == Some('"') {
                    return Err(self.error("multi-line strings are not supported"));
                }
                self.parse_basic_string().map(Value::String)
            }
            Some('\'') => {
                if self.peek_at(1) == Some('\'') && self.peek_at(2) == Some('\'') {
                    return Err(self.error("multi-line strings are not supported"));
                }
                self.parse_literal_string().map(Value::String)
            }
            Some('[') => self.parse_array(depth),
            Some('{') => Err(self.error("inline tables are not supported")),
            Some(character) if character.is_ascii_alphanumeric() || "+-_".contains(character) => {
                self.parse_bare_value()
            }
            Some('\n' | '\r' | '#') | None => Err(self.error("expected a value")),
            Some(character) => {
                Err(self.error(format!("unexpected {} where a value was expected", describe(character))))
            }
        }
    }

    /// TOML 1.0 "String": basic strings, with escapes, on one line.
    fn parse_basic_string(&mut self) -> Result<String, TomlError> {
        self.position += 1;
        let mut text = String::new();
        loop {
            let character = match self.peek() {
                Some('"') => {
                    self.position += 1;
                    return Ok(text);
                }
                Some('\n' | '\r') | None => return Err(self.error("unterminated string")),
                Some(character) => character,
            };
            self.position += 1;
            if character == '\\' {
                text.push(self.parse_escape()?);
            } else if is_forbidden_control(character) {
                return Err(self.error(format!("{} in a string; use an escape", describe(character))));
            } else {
                text.push(character);
            }
        }
    }

    /// The character after a backslash. TOML 1.0 defines exactly these
    /// escapes; anything else "must produce an error".
    fn parse_escape(&mut self) -> Result<char, TomlError> {
        let escape = self.peek();
        self.position += 1;
        match escape {
            Some('"') => Ok('"'),
            Some('\\') => Ok('\\'),
            Some('n') => Ok('\n'),
            Some('t') => Ok('\t'),
            Some('r') => Ok('\r'),
            Some('b') => Ok('\u{8}'),
            Some('f') => Ok('\u{c}'),
            Some('u') => self.parse_unicode_escape(4),
            Some('U') => self.parse_unicode_escape(8),
            Some(character) => Err(self.error(format!("invalid escape '\\{}' in a string", character.escape_debug()))),
            None => Err(self.error("unterminated string")),
        }
    }

    /// \uXXXX or \UXXXXXXXX: the code point must be a Unicode scalar value,
    /// so surrogates and values above U+10FFFF are rejected (TOML 1.0 "String").
    fn parse_unicode_escape(&mut self, length: usize) -> Result<char, TomlError> {
        let mut code = 0_u32;
        for _ in 0..length {
            let digit = self
                .peek()
                .and_then(|character| character.to_digit(16))
                .ok_or_else(|| self.error(format!("\\u escape needs {length} hexadecimal digits")))?;
            code = code * 16 + digit;
            self.position += 1;
        }
        char::from_u32(code).ok_or_else(|| self.error(format!("escape U+{code:X} is not a Unicode scalar value")))
    }

    /// TOML 1.0 "String": literal strings take every character as is.
    fn parse_literal_string(&mut self) -> Result<String, TomlError> {
        self.position += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                Some('\'') => {
                    self.position += 1;
                    return Ok(text);
                }
                Some('\n' | '\r') | None => return Err(self.error("unterminated string")),
                Some(character) if is_forbidden_control(character) => {
                    return Err(self.error(format!("{} in a string", describe(character))))
                }
                Some(character) => {
                    text.push(character);
                    self.position += 1;
                }
            }
        }
    }

    /// TOML 1.0 "Array": values separated by commas, any whitespace, newlines
    /// and comments between them, and an optional trailing comma.
    fn parse_array(&mut self, depth: usize) -> Result<Value, TomlError> {
        if depth >= MAX_ARRAY_DEPTH {
            return Err(self.error(format!("arrays nested more than {MAX_ARRAY_DEPTH} deep")));
        }
        let opening_line = self.line;
        self.position += 1;
        let mut elements = Vec::new();
        loop {
            self.skip_blank_space()?;
            match self.peek() {
                Some(']') => break,
                None => return Err(self.error_at(opening_line, "unterminated array")),
                Some(',') => return Err(self.error("expected a value before ',' in an array")),
                Some(_) => elements.push(self.parse_value(depth + 1)?),
            }
            self.skip_blank_space()?;
            match self.peek() {
                Some(',') => self.position += 1,
                Some(']') => break,
                None => return Err(self.error_at(opening_line, "unterminated array")),
                Some(character) => {
                    return Err(
                        self.error(format!("unexpected {} in an array; expected ',' or ']'", describe(character)))
                    )
                }
            }
        }
        self.position += 1;
        Ok(Value::Array(elements))
    }

    /// Booleans and integers, plus recognisable unsupported forms (floats,
    /// dates, non-decimal integers) so each gets its own message.
    fn parse_bare_value(&mut self) -> Result<Value, TomlError> {
        let start = self.position;
        while self.peek().is_some_and(|character| character.is_ascii_alphanumeric() || "+-_.:".contains(character)) {
            self.position += 1;
        }
        let token: String = self.characters[start..self.position].iter().collect();
        match token.as_str() {
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            _ => {}
        }
        let unsigned = token.trim_start_matches(['+', '-']);
        if matches!(unsigned, "inf" | "nan") {
            return Err(self.error("floats are not supported"));
        }
        if !unsigned.starts_with(|character: char| character.is_ascii_digit()) {
            return Err(self.error(format!("invalid value '{token}' (strings must be quoted)")));
        }
        // A four-digit year followed by '-', or any ':', can only be a date
        // or time (TOML 1.0 "Offset Date-Time" and friends).
        let starts_like_date = unsigned.len() > 4
            && unsigned.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && unsigned.as_bytes()[4] == b'-';
        if unsigned.contains(':') || starts_like_date {
            return Err(self.error("dates and times are not supported"));
        }
        if unsigned.len() > 1 && unsigned.starts_with('0') && matches!(unsigned.as_bytes()[1], b'x' | b'o' | b'b') {
            return Err(self.error("hexadecimal, octal and binary integers are not supported"));
        }
        if unsigned.contains(['.', 'e', 'E']) {
            return Err(self.error("floats are not supported"));
        }
        parse_decimal_integer(&token).map(Value::Integer).map_err(|message| self.error(message))
    }
}

/// TOML 1.0 "Comment" and "String": control characters other than tab
/// (U+0000 to U+001F and U+007F) may not appear literally.
fn is_forbidden_control(character: char) -> bool {
    (character.is_ascii_control() && character != '\t') || character == '\u{7f}'
}

/// TOML 1.0 "Integer": optional sign, digits, single underscores only between
/// digits, and no leading zeros.
fn parse_decimal_integer(token: &str) -> Result<i64, String> {
    let (negative, digits) = match token.as_bytes().first() {
        Some(b'-') => (true, &token[1..]),
        Some(b'+') => (false, &token[1..]),
        _ => (false, token),
    };
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit() || byte == b'_') {
        return Err(format!("invalid integer '{token}'"));
    }
    if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return Err(format!("invalid integer '{token}': each underscore must sit between two digits"));
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(format!("invalid integer '{token}': leading zeros are not allowed"));
    }
    // Accumulate towards the sign so i64::MIN, whose magnitude has no
    // positive i64, still parses.
    let mut value = 0_i64;
    for digit in digits.bytes().filter(u8::is_ascii_digit) {
        let digit = i64::from(digit - b'0');
        value = value
            .checked_mul(10)
            .and_then(|value| if negative { value.checked_sub(digit) } else { value.checked_add(digit) })
            .ok_or_else(|| format!("integer '{token}' does not fit in 64 bits"))?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table<const N: usize>(entries: [(&str, Value); N]) -> BTreeMap<String, Value> {
        entries.into_iter().map(|(key, value)| (key.to_string(), value)).collect()
    }

    fn string(text: &str) -> Value {
        Value::String(text.to_string())
    }

    fn error_of(text: &str) -> TomlError {
        match parse(text) {
            Ok(document) => panic!("expected an error for {text:?}, got {document:?}"),
            Err(error) => error,
        }
    }

    #[track_caller]
    fn assert_error(text: &str, line: usize, fragment: &str) {
        let error = error_of(text);
        assert_eq!(error.line, line, "{text:?} gave {error}");
        assert!(error.message.contains(fragment), "{text:?} gave {error}, expected it to mention {fragment:?}");
    }

    #[test]
    fn arrays_of_tables_are_numbered_in_file_order() {
        let text = "[[lmtp.route]]\naddress = \"a\"\n[lmtp]\nsocket = \"\"\n[[lmtp.route]]\naddress = \"b\"\n";
        let document = parse(text).unwrap();
        let address = |table: &str| document.tables[table]["address"].clone();
        assert_eq!(address("lmtp.route[0]"), Value::String("a".into()));
        assert_eq!(address("lmtp.route[1]"), Value::String("b".into()));
        assert_eq!(document.tables["lmtp"]["socket"], Value::String(String::new()));
        assert!(!document.tables.contains_key("lmtp.route"));
        assert_error("[[[a]]]", 1, "at most two brackets");
    }

    #[test]
    fn empty_documents_have_the_top_level_table() {
        for text in ["", "\n\n", "# only a comment\n", "  \t\n# x\r\n", "\u{feff}"] {
            let document = parse(text).unwrap();
            assert_eq!(document.tables.len(), 1, "{text:?}");
            assert!(document.tables[""].is_empty());
        }
    }

    #[test]
    fn parses_a_realistic_config() {
        let text = r#"
# roost configuration
hostname = "mail.example.org"   # trailing comment
port = 993

[imap]
idle_timeout = 1_800
allow_plaintext = false
capabilities = [ "IDLE", "MOVE", ]

[limits]

[storage.blobs]
path = '/var/lib/roost/blobs'
sizes = [
    1,   # small
    -2,

    +3, # comment after the last
]
"#;
        let document = parse(text).unwrap();
        let mut expected = Document::default();
        expected
            .tables
            .insert(String::new(), table([("hostname", string("mail.example.org")), ("port", Value::Integer(993))]));
        expected.tables.insert(
            "imap".to_string(),
            table([
                ("idle_timeout", Value::Integer(1800)),
                ("allow_plaintext", Value::Bool(false)),
                ("capabilities", Value::Array(vec![string("IDLE"), string("MOVE")])),
            ]),
        );
        expected.tables.insert("limits".to_string(), BTreeMap::new());
        expected.tables.insert(
            "storage.blobs".to_string(),
            table([
                ("path", string("/var/lib/roost/blobs")),
                ("sizes", Value::Array(vec![Value::Integer(1), Value::Integer(-2), Value::Integer(3)])),
            ]),
        );
        assert_eq!(document, expected);
    }

    #[test]
    fn string_escapes() {
        let document = parse(
            r#"a = "q\" b\\ n\n t\t r\r b\b f\f u\u00e9 U\U0001F426"
b = "tab	inside"
c = 'C:\path\"raw"'
d = ""
e = ''
f = "ünïcödé 🐦"
"#,
        )
        .unwrap();
        let top = &document.tables[""];
        assert_eq!(top["a"], string("q\" b\\ n\n t\t r\r b\u{8} f\u{c} u\u{e9} U\u{1F426}"));
        assert_eq!(top["b"], string("tab\tinside"));
        assert_eq!(top["c"], string("C:\\path\\\"raw\""));
        assert_eq!(top["d"], string(""));
        assert_eq!(top["e"], string(""));
        assert_eq!(top["f"], string("ünïcödé 🐦"));
    }

    #[test]
    fn integers() {
        let document =
            parse("a = 0\nb = +0\nc = -0\nd = 1_000_000\ne = 9223372036854775807\nf = -9223372036854775808\ng = 42\n")
                .unwrap();
        let top = &document.tables[""];
        assert_eq!(top["a"], Value::Integer(0));
        assert_eq!(top["b"], Value::Integer(0));
        assert_eq!(top["c"], Value::Integer(0));
        assert_eq!(top["d"], Value::Integer(1_000_000));
        assert_eq!(top["e"], Value::Integer(i64::MAX));
        assert_eq!(top["f"], Value::Integer(i64::MIN));
        assert_eq!(top["g"], Value::Integer(42));
    }

    #[test]
    fn arrays() {
        let document = parse(
            "empty = []\nnested = [[1, 2], ['a'], [], [true, [false]]]\nmixed = [1, \"x\", true]\nblank = [\n\n]\n",
        )
        .unwrap();
        let top = &document.tables[""];
        assert_eq!(top["empty"], Value::Array(vec![]));
        assert_eq!(
            top["nested"],
            Value::Array(vec![
                Value::Array(vec![Value::Integer(1), Value::Integer(2)]),
                Value::Array(vec![string("a")]),
                Value::Array(vec![]),
                Value::Array(vec![Value::Bool(true), Value::Array(vec![Value::Bool(false)])]),
            ])
        );
        assert_eq!(top["mixed"], Value::Array(vec![Value::Integer(1), string("x"), Value::Bool(true)]));
        assert_eq!(top["blank"], Value::Array(vec![]));
    }

    #[test]
    fn headers_keys_and_whitespace() {
        let document = parse("[ a . b ]\n\tkey-1 = 1\n[A_b-9]\n1234 = true\r\n[a]\n").unwrap();
        assert_eq!(document.tables["a.b"], table([("key-1", Value::Integer(1))]));
        assert_eq!(document.tables["A_b-9"], table([("1234", Value::Bool(true))]));
        assert!(document.tables["a"].is_empty());
        assert_eq!(document.tables.len(), 4);
    }

    #[test]
    fn unsupported_features_name_their_line() {
        assert_error("a = 1\n\nb = 3.14\n", 3, "floats are not supported");
        assert_error("b = 1e5", 1, "floats are not supported");
        assert_error("b = -inf", 1, "floats are not supported");
        assert_error("b = nan", 1, "floats are not supported");
        assert_error("b = 1e-5", 1, "floats are not supported");
        assert_error("b = 6.626e-34", 1, "floats are not supported");
        assert_error("b = [1, 2.5]", 1, "floats are not supported");
        assert_error("\n\nb = 1979-05-27", 3, "dates and times are not supported");
        assert_error("b = 07:32:00", 1, "dates and times are not supported");
        assert_error("b = 1979-05-27T07:32:00Z", 1, "dates and times are not supported");
        assert_error("b = 0xff", 1, "hexadecimal");
        assert_error("b = 0o7", 1, "hexadecimal");
        assert_error("b = 0b1", 1, "hexadecimal");
        assert_error("x = 1\nb = { a = 1 }", 2, "inline tables are not supported");
        assert_error("b = \"\"\"text\"\"\"", 1, "multi-line strings are not supported");
        assert_error("b = '''text'''", 1, "multi-line strings are not supported");
        assert_error("a.b = 1", 1, "dotted keys are not supported");
        assert_error("\"a\" = 1", 1, "quoted keys are not supported");
        assert_error("['a']", 1, "quoted keys are not supported");
        assert_error("\n[[servers]", 2, "ends with ']]'");
        assert_error("[[a]]\n[a]", 2, "conflicts with the array of tables [[a]]");
        assert_error("[a]\n[[a]]", 2, "conflicts with the table [a]");
        assert_error("[a]\nb = 1\n[[a.b]]", 3, "conflicts with the integer key 'b'");
        assert_error("[[a.b]]\n[a]\nb = 1", 3, "conflicts with table [a.b]");
    }

    #[test]
    fn malformed_input_names_its_line() {
        assert_error("a = 1\na = 2", 2, "duplicate key 'a' in the top-level table");
        assert_error("[t]\na = 1\n\na = 2", 4, "duplicate key 'a' in table [t]");
        assert_error("[t]\n[u]\n[t]", 3, "duplicate table [t]");
        assert_error("[a]\nb = 1\n[a.b]", 3, "conflicts with the integer key 'b'");
        assert_error("[a.b]\n[a]\nb = 1", 3, "conflicts with table [a.b]");
        assert_error("b = 1\n[b.c]", 2, "conflicts");
        assert_error("a = 01", 1, "leading zeros");
        assert_error("a = -01", 1, "leading zeros");
        assert_error("a = 1__0", 1, "underscore");
        assert_error("a = _1", 1, "strings must be quoted");
        assert_error("a = 1_", 1, "underscore");
        assert_error("a = 9223372036854775808", 1, "64 bits");
        assert_error("a = -9223372036854775809", 1, "64 bits");
        assert_error("a = +", 1, "strings must be quoted");
        assert_error("a = 1 2", 1, "expected the end of the line");
        assert_error("a = true false", 1, "expected the end of the line");
        assert_error("a = True", 1, "strings must be quoted");
        assert_error("a = hello", 1, "strings must be quoted");
        assert_error("a =", 1, "expected a value");
        assert_error("a = # comment", 1, "expected a value");
        assert_error("a", 1, "expected '='");
        assert_error("a 1", 1, "expected '='");
        assert_error("= 1", 1, "expected a key");
        assert_error("\na = \"open", 2, "unterminated string");
        assert_error("a = \"line\nbreak\"", 1, "unterminated string");
        assert_error("a = 'open", 1, "unterminated string");
        assert_error("a = \"bad \\x escape\"", 1, "invalid escape");
        assert_error("a = \"\\u12\"", 1, "hexadecimal digits");
        assert_error("a = \"\\uD800\"", 1, "not a Unicode scalar value");
        assert_error("a = \"\\U00110000\"", 1, "not a Unicode scalar value");
        assert_error("a = \"bell\u{7}\"", 1, "in a string");
        assert_error("a = 'del\u{7f}'", 1, "in a string");
        assert_error("# nul \u{0} here", 1, "in a comment");
        assert_error("a = 1\r", 1, "carriage return");
        assert_error("\n\na = [1,\n2,\n", 3, "unterminated array");
        assert_error("a = [1 2]", 1, "expected ',' or ']'");
        assert_error("a = [,]", 1, "expected a value before ','");
        assert_error("a = [1,,2]", 1, "expected a value before ','");
        assert_error("a = [\n1,\n{}]", 3, "inline tables");
        assert_error("[]", 1, "bare key");
        assert_error("[a.]", 1, "bare key");
        assert_error("[.a]", 1, "bare key");
        assert_error("[a b]", 1, "expected '.' or ']'");
        assert_error("[a", 1, "unterminated table header");
        assert_error("[a] b = 1", 1, "expected the end of the line");
        assert_error("a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]", 1, "nested");
        assert_error("  ! = 1", 1, "'!'");
    }

    #[test]
    fn implicit_parent_tables_may_be_defined_once_later() {
        let document = parse("[a.b]\nx = 1\n[a]\ny = 2\n").unwrap();
        assert_eq!(document.tables["a"], table([("y", Value::Integer(2))]));
        assert_error("[a.b]\n[a]\n[a]", 3, "duplicate table [a]");
    }

    #[test]
    fn error_display() {
        let error = error_of("\n\n\n\n\n\nport = 1.5");
        assert_eq!(error.to_string(), "line 7: floats are not supported");
    }

    #[test]
    fn type_names() {
        assert_eq!(string("x").type_name(), "string");
        assert_eq!(Value::Integer(1).type_name(), "integer");
        assert_eq!(Value::Bool(true).type_name(), "boolean");
        assert_eq!(Value::Array(vec![]).type_name(), "array");
    }

    /// Test-only serialiser: the inverse of `parse` for documents within the
    /// supported subset.
    fn write_document(document: &Document) -> String {
        let mut output = String::new();
        if let Some(keys) = document.tables.get("") {
            write_keys(&mut output, keys);
        }
        for (name, keys) in &document.tables {
            if name.is_empty() {
                continue;
            }
            output.push_str(&format!("\n[{name}]\n"));
            write_keys(&mut output, keys);
        }
        output
    }

    fn write_keys(output: &mut String, keys: &BTreeMap<String, Value>) {
        for (key, value) in keys {
            output.push_str(key);
            output.push_str(" = ");
            write_value(output, value);
            output.push_str("  # comment\n");
        }
    }

    fn write_value(output: &mut String, value: &Value) {
        match value {
            Value::String(text) => {
                output.push('"');
                for character in text.chars() {
                    match character {
                        '"' => output.push_str("\\\""),
                        '\\' => output.push_str("\\\\"),
                        '\n' => output.push_str("\\n"),
                        character if is_forbidden_control(character) => {
                            output.push_str(&format!("\\u{:04X}", u32::from(character)));
                        }
                        character => output.push(character),
                    }
                }
                output.push('"');
            }
            Value::Integer(number) => output.push_str(&number.to_string()),
            Value::Bool(flag) => output.push_str(if *flag { "true" } else { "false" }),
            Value::Array(elements) => {
                // Spread over lines with a trailing comma to exercise both.
                output.push_str("[\n");
                for element in elements {
                    output.push_str("  ");
                    write_value(output, element);
                    output.push_str(",\n");
                }
                output.push(']');
            }
        }
    }

    fn value_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<i64>().prop_map(Value::Integer),
            any::<bool>().prop_map(Value::Bool),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| proptest::collection::vec(inner, 0..4).prop_map(Value::Array))
    }

    fn keys_strategy() -> impl Strategy<Value = BTreeMap<String, Value>> {
        proptest::collection::btree_map("k[a-z0-9_-]{0,6}", value_strategy(), 0..5)
    }

    fn document_strategy() -> impl Strategy<Value = Document> {
        // Keys and table segments come from disjoint alphabets (keys start
        // with "k", segments with "t") so a generated key can never collide
        // with a generated table, which TOML would rightly reject.

        let table_name = proptest::collection::vec("t[a-zA-Z0-9_-]{0,4}", 1..3).prop_map(|segments| segments.join("."));
        (keys_strategy(), proptest::collection::btree_map(table_name, keys_strategy(), 0..5)).prop_map(
            |(top, named)| {
                let mut document = Document::default();
                document.tables.insert(String::new(), top);
                document.tables.extend(named);
                document
            },
        )
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn toml_like_text_never_panics(text in "[a-z0-9 =\\[\\]\"'.,#_+:{}\\\\\n\r\t-]{0,80}") {
            let _ = parse(&text);
        }

        #[test]
        fn written_documents_parse_back_equal(document in document_strategy()) {
            let text = write_document(&document);
            prop_assert_eq!(parse(&text), Ok(document), "{}", text);
        }
    }
}

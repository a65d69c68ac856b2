//! Dates and times as IMAP needs them, using only fixed UTC offsets.
//!
//! There is deliberately no timezone database: IMAP (RFC 3501) and Internet
//! mail (RFC 5322) only ever carry a numeric offset, and a household server on
//! a small board should not need tzdata to store and echo them back.
//!
//! All calendar arithmetic uses the proleptic Gregorian calendar, which is what
//! both RFCs assume.

use std::time::{SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: i64 = 86_400;

/// Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar.
///
/// Counting from a March 1st puts the leap day at the very end of the
/// computational year, so the month lengths before it never depend on whether
/// the year is a leap year.
const DAYS_FROM_MARCH_ZERO_TO_EPOCH: i128 = 719_468;

/// Days in one 400-year Gregorian cycle, after which the calendar repeats.
const DAYS_PER_ERA: i128 = 146_097;

const MONTH_NAMES: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Indexed by day of week with Sunday as 0.
const WEEKDAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// A moment plus the UTC offset it was expressed in (kept so INTERNALDATE round-trips the client's zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since 1970-01-01 00:00:00 UTC.
    pub unix: i64,
    /// The offset east of UTC that the moment was written in, in minutes.
    pub offset_minutes: i16,
}

/// The broken-down local fields of a [`DateTime`], in its own offset.
struct LocalFields {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    weekday: usize,
}

impl DateTime {
    /// The current moment in UTC (offset 0).
    pub fn now() -> DateTime {
        let unix = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            // A clock set before 1970 is unusual but must not panic a server.
            Err(before) => 0_i64.saturating_sub(i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX)),
        };
        DateTime { unix, offset_minutes: 0 }
    }

    /// Seconds since the epoch as the wall clock in this offset reads them.
    fn local_seconds(&self) -> i64 {
        self.unix.saturating_add(i64::from(self.offset_minutes) * 60)
    }

    /// Local calendar date (in its own offset) as days since 1970-01-01.
    pub fn local_days(&self) -> i64 {
        // SEARCH BEFORE/ON/SINCE compare dates "disregarding time and timezone"
        // (RFC 3501 §6.4.4), which means the date as the sender wrote it.
        self.local_seconds().div_euclid(SECONDS_PER_DAY)
    }

    fn local_fields(&self) -> LocalFields {
        let seconds = self.local_seconds();
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        LocalFields {
            year,
            month,
            day,
            hour: second_of_day / 3600,
            minute: second_of_day / 60 % 60,
            second: second_of_day % 60,
            // 1970-01-01 was a Thursday (index 4 with Sunday as 0).
            weekday: (days.rem_euclid(7) as usize + 4) % 7,
        }
    }

    /// The offset as "+hhmm" / "-hhmm", the form both RFC 3501 and RFC 5322 use.
    fn zone_text(&self) -> String {
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let magnitude = i32::from(self.offset_minutes).abs();
        format!("{sign}{:02}{:02}", magnitude / 60, magnitude % 60)
    }

    /// RFC 3501 date-time: "17-Jul-1996 02:44:25 -0700" (day padded with a space: " 7-Jul-1996 ...").
    ///
    /// Only years 0..=9999 produce text that [`DateTime::parse_imap`] accepts,
    /// because RFC 3501 §9 fixes date-year at four digits.
    #[cfg(test)]
    pub fn to_imap(self) -> String {
        let mut out = Vec::with_capacity(26);
        self.write_imap(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// [`DateTime::to_imap`] appended to `out`, without formatting
    /// machinery: FETCH writes one per message.
    pub fn write_imap(self, out: &mut Vec<u8>) {
        let fields = self.local_fields();
        if !(0..=9999).contains(&fields.year) {
            out.extend_from_slice(self.to_imap_formatted().as_bytes());
            return;
        }
        let digits = |out: &mut Vec<u8>, value: i64, width: u32| {
            for place in (0..width).rev() {
                out.push(b'0' + (value / 10_i64.pow(place) % 10) as u8);
            }
        };
        // RFC 3501 §9: date-day-fixed = (SP DIGIT) / 2DIGIT.
        if fields.day < 10 {
            out.push(b' ');
            digits(out, i64::from(fields.day), 1);
        } else {
            digits(out, i64::from(fields.day), 2);
        }
        out.push(b'-');
        out.extend_from_slice(MONTH_NAMES[fields.month as usize - 1].as_bytes());
        out.push(b'-');
        digits(out, fields.year, 4);
        out.push(b' ');
        digits(out, fields.hour, 2);
        out.push(b':');
        digits(out, fields.minute, 2);
        out.push(b':');
        digits(out, fields.second, 2);
        out.push(b' ');
        out.push(if self.offset_minutes < 0 { b'-' } else { b'+' });
        let magnitude = i64::from(self.offset_minutes).abs();
        digits(out, magnitude / 60, 2);
        digits(out, magnitude % 60, 2);
    }

    fn to_imap_formatted(self) -> String {
        let fields = self.local_fields();
        // RFC 3501 §9: date-day-fixed = (SP DIGIT) / 2DIGIT.
        format!(
            "{:>2}-{}-{:04} {:02}:{:02}:{:02} {}",
            fields.day,
            MONTH_NAMES[fields.month as usize - 1],
            fields.year,
            fields.hour,
            fields.minute,
            fields.second,
            self.zone_text()
        )
    }

    /// Parse RFC 3501 date-time (the text between the quotes). Accepts 1- or 2-digit day, with or without the leading space (clients send both). Strict otherwise (month names case-insensitive). None on any error, including out-of-range fields (day 31 in April, hour 24, zone +2400...).
    ///
    /// A seconds value of 60 is accepted, because a leap second is a real time
    /// a client clock may report; it lands on the first second of the next minute.
    pub fn parse_imap(text: &[u8]) -> Option<DateTime> {
        // RFC 3501 §9: date-time = DQUOTE date-day-fixed "-" date-month "-"
        // date-year SP time SP zone DQUOTE. The fixed width is relaxed only for
        // the day, since many clients send "7-Jul-..." without the space.
        let text = text.strip_prefix(b" ").unwrap_or(text);
        let dash = text.iter().position(|&byte| byte == b'-')?;
        let (day_text, rest) = text.split_at(dash);
        if day_text.is_empty() || day_text.len() > 2 {
            return None;
        }
        let day = parse_digits(day_text)?;
        let rest = &rest[1..];
        // Everything after the day has a fixed layout:
        // "Jul-1996 02:44:25 -0700" is exactly 23 bytes.
        if rest.len() != 23 {
            return None;
        }
        let month = month_from_name(&rest[0..3])?;
        expect_byte(rest, 3, b'-')?;
        let year = i64::from(parse_digits(&rest[4..8])?);
        expect_byte(rest, 8, b' ')?;
        let hour = parse_digits(&rest[9..11])?;
        expect_byte(rest, 11, b':')?;
        let minute = parse_digits(&rest[12..14])?;
        expect_byte(rest, 14, b':')?;
        let second = parse_digits(&rest[15..17])?;
        expect_byte(rest, 17, b' ')?;
        let offset_minutes = parse_numeric_zone(&rest[18..23])?;
        build(year, month, day, hour, minute, second, offset_minutes)
    }

    /// Parse an RFC 5322 Date header value, leniently as real mail needs (RFC 5322 §3.3 and §4.3 obsolete syntax): optional day-of-week, comments in parentheses, folding whitespace, 2-digit years (<50 → 20xx, else 19xx) and 3-digit years (+1900), seconds optional, obsolete zones UT/GMT/Z/EST/EDT/CST/CDT/MST/MDT/PST/PDT and military single letters (treated as +0000 per RFC 5322 §4.3), missing zone → +0000. None if unparseable.
    ///
    /// The North American zone names get the offsets RFC 5322 §4.3 assigns
    /// them (EST is -0500, PDT is -0700, ...); only the military letters and
    /// unknown alphabetic zones are read as +0000, as §4.3 says to. A numeric
    /// zone outside ±23:59 is likewise treated as unknown. The asctime() layout
    /// "Wed Jul 17 02:44:25 1996" that some broken mailers emit is accepted too.
    pub fn parse_rfc5322(text: &[u8]) -> Option<DateTime> {
        let without_comments = strip_comments(text);
        let tokens = tokenize(&without_comments);
        let mut cursor = TokenCursor { tokens: &tokens, index: 0 };

        // RFC 5322 §3.3: day-of-week is optional and followed by a comma; the
        // comma is often missing in the wild, so it stays optional here.
        if let Some(Token::Word(word)) = cursor.peek() {
            if weekday_from_name(word) {
                cursor.index += 1;
                cursor.skip_punctuation(b',');
            }
        }

        let (day, month, year) = match cursor.next()? {
            Token::Number(day_text) => {
                let day = parse_digits_max(day_text, 2)?;
                cursor.skip_punctuation(b'-');
                let month = cursor.next_month()?;
                cursor.skip_punctuation(b'-');
                let year = cursor.next_year()?;
                (day, month, Some(year))
            }
            // asctime() order: month day time year.
            Token::Word(word) => {
                let month = month_from_word(word)?;
                let day = parse_digits_max(cursor.next_number()?, 2)?;
                (day, month, None)
            }
            Token::Punctuation(_) => return None,
        };

        let (hour, minute, second) = cursor.next_time()?;

        let (year, zone) = if let Some(year) = year {
            (year, None)
        } else {
            // asctime() carries no zone, but mailers that add one put it
            // either before or after the year.
            let zone = match cursor.peek() {
                Some(Token::Word(_) | Token::Punctuation(b'+' | b'-')) => Some(cursor.next_zone()),
                _ => None,
            };
            (cursor.next_year()?, zone)
        };

        // Anything after the zone (a stray "PDT" without parentheses, say) is
        // ignored: the date itself is already complete. An absent zone reads
        // as "-0000" per RFC 5322 §4.3, which for storage purposes is UTC.
        let offset = match zone {
            Some(offset) => offset,
            None if cursor.peek().is_some() => cursor.next_zone(),
            None => 0,
        };
        build(year, month, day, hour, minute, second, offset)
    }

    /// RFC 5322 format, e.g. "Wed, 17 Jul 1996 02:44:25 -0700" (used for Received/Date headers we generate).
    // For the Received header of LMTP delivery (next issue); tested now.
    #[allow(dead_code)]
    pub fn to_rfc5322(self) -> String {
        let fields = self.local_fields();
        // RFC 5322 §3.3: day = ([FWS] 1*2DIGIT FWS), so no padding is needed.
        format!(
            "{}, {} {} {:04} {:02}:{:02}:{:02} {}",
            WEEKDAY_NAMES[fields.weekday],
            fields.day,
            MONTH_NAMES[fields.month as usize - 1],
            fields.year,
            fields.hour,
            fields.minute,
            fields.second,
            self.zone_text()
        )
    }
}

/// RFC 3501 date (SEARCH BEFORE/ON/SINCE...): "1-Feb-1994" or "01-Feb-1994" → days since 1970-01-01. None on error.
///
/// The text is the date-text without the optional surrounding quotes, which the
/// command parser removes as it would for any quoted string.
pub fn parse_imap_date(text: &[u8]) -> Option<i64> {
    // RFC 3501 §9: date-text = date-day "-" date-month "-" date-year, with
    // date-day = 1*2DIGIT and date-year = 4DIGIT.
    let mut parts = text.split(|&byte| byte == b'-');
    let day_text = parts.next()?;
    let month_text = parts.next()?;
    let year_text = parts.next()?;
    if parts.next().is_some() || day_text.is_empty() || day_text.len() > 2 {
        return None;
    }
    if month_text.len() != 3 || year_text.len() != 4 {
        return None;
    }
    let day = parse_digits(day_text)?;
    let month = month_from_name(month_text)?;
    let year = i64::from(parse_digits(year_text)?);
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Whether `year` has a February 29th in the proleptic Gregorian calendar.
pub fn is_leap_year(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

/// Number of days in `month` (1..=12) of `year`; 0 for a month out of range.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days before the first day of month `month_index` (0 = March ... 11 =
/// February) within a March-based year.
///
/// Month lengths from March run 31,30,31,30,31 and then repeat, which the
/// linear formula (153 m + 2) / 5 reproduces exactly.
fn days_before_march_month(month_index: i128) -> i128 {
    (153 * month_index + 2) / 5
}

/// Days from the start of era-relative March-based year 0 to the start of
/// `year_of_era` (0..=400), counting the leap days in between.
fn days_before_year_of_era(year_of_era: i128) -> i128 {
    // Leap days fall at the end of each March-based year, so the count only
    // includes years strictly before `year_of_era`; the 400-year term can only
    // matter at the very end of an era.
    365 * year_of_era + year_of_era / 4 - year_of_era / 100 + year_of_era / 400
}

/// Proleptic Gregorian conversions, valid for at least years 1..=9999.
///
/// Months and days outside their ranges are not rejected; they just count on
/// from the month's start, which callers avoid by validating first.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (march_year, month_index) = if month <= 2 {
        (i128::from(year) - 1, i128::from(month) + 9)
    } else {
        (i128::from(year), i128::from(month) - 3)
    };
    let era = march_year.div_euclid(400);
    let year_of_era = march_year.rem_euclid(400);
    let days_since_march_zero = era * DAYS_PER_ERA
        + days_before_year_of_era(year_of_era)
        + days_before_march_month(month_index)
        + i128::from(day)
        - 1;
    // Only absurd years can overflow i64 here; wrapping keeps that panic-free.
    (days_since_march_zero - DAYS_FROM_MARCH_ZERO_TO_EPOCH) as i64
}

/// Inverse of [`days_from_civil`]: days since 1970-01-01 → (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days_since_march_zero = i128::from(days) + DAYS_FROM_MARCH_ZERO_TO_EPOCH;
    let era = days_since_march_zero.div_euclid(DAYS_PER_ERA);
    let day_of_era = days_since_march_zero.rem_euclid(DAYS_PER_ERA);

    // An average year is 146097/400 days long, so this estimate is within one
    // of the right year; correct it by comparing against exact year starts.
    let mut year_of_era = (day_of_era * 400 / DAYS_PER_ERA).min(399);
    while year_of_era > 0 && days_before_year_of_era(year_of_era) > day_of_era {
        year_of_era -= 1;
    }
    while year_of_era < 399 && days_before_year_of_era(year_of_era + 1) <= day_of_era {
        year_of_era += 1;
    }

    let day_of_year = day_of_era - days_before_year_of_era(year_of_era);
    let mut month_index = (5 * day_of_year + 2) / 153;
    while month_index > 0 && days_before_march_month(month_index) > day_of_year {
        month_index -= 1;
    }
    let day = day_of_year - days_before_march_month(month_index) + 1;
    let (month, year_carry) = if month_index < 10 {
        (month_index + 3, 0)
    } else {
        // January and February belong to the next calendar year.
        (month_index - 9, 1)
    };
    let year = era * 400 + year_of_era + year_carry;
    (year as i64, month as u32, day as u32)
}

/// Assemble a validated moment from local fields and an offset.
fn build(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    offset_minutes: i16,
) -> Option<DateTime> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    // RFC 5322 §3.3 allows second 60 for a leap second; hours and minutes are
    // the usual ranges.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let local = days_from_civil(year, month, day) * SECONDS_PER_DAY
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    // A leap second at the very end of 9999 would land in year 10000,
    // which no date text can write back (four-digit years): refused, so
    // every date read can be written and read again (found by fuzzing).
    if local >= days_from_civil(9999, 12, 31) * SECONDS_PER_DAY + SECONDS_PER_DAY {
        return None;
    }
    Some(DateTime { unix: local - i64::from(offset_minutes) * 60, offset_minutes })
}

/// All bytes ASCII digits (and at least one) → their value. Callers keep the
/// slices short enough that u32 cannot overflow.
fn parse_digits(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0, |value, &digit| value * 10 + u32::from(digit - b'0')))
}

fn parse_digits_max(text: &[u8], max_length: usize) -> Option<u32> {
    if text.len() > max_length {
        return None;
    }
    parse_digits(text)
}

fn expect_byte(text: &[u8], index: usize, expected: u8) -> Option<()> {
    (text.get(index) == Some(&expected)).then_some(())
}

/// "+hhmm" / "-hhmm" → minutes east of UTC, rejecting hours above 23 and
/// minutes above 59 (RFC 5322 §3.3 restricts the minutes; no real zone is a
/// day or more away from UTC).
fn parse_numeric_zone(text: &[u8]) -> Option<i16> {
    let (&sign, digits) = text.split_first()?;
    if digits.len() != 4 {
        return None;
    }
    let hours = parse_digits(&digits[0..2])?;
    let minutes = parse_digits(&digits[2..4])?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    let magnitude = (hours * 60 + minutes) as i16;
    match sign {
        b'+' => Some(magnitude),
        b'-' => Some(-magnitude),
        _ => None,
    }
}

/// Three-letter English month abbreviation, any case → 1..=12.
fn month_from_name(name: &[u8]) -> Option<u32> {
    MONTH_NAMES.iter().position(|month| month.as_bytes().eq_ignore_ascii_case(name)).map(|index| index as u32 + 1)
}

/// Like [`month_from_name`] but also takes full names ("July"), which some
/// mailers write.
fn month_from_word(word: &[u8]) -> Option<u32> {
    const FULL_NAMES: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    month_from_name(word).or_else(|| {
        FULL_NAMES.iter().position(|name| name.as_bytes().eq_ignore_ascii_case(word)).map(|index| index as u32 + 1)
    })
}

/// Whether `word` names a day of the week, abbreviated or in full.
fn weekday_from_name(word: &[u8]) -> bool {
    const FULL_NAMES: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
    WEEKDAY_NAMES.iter().chain(FULL_NAMES.iter()).any(|name| name.as_bytes().eq_ignore_ascii_case(word))
}

/// Offset for an alphabetic zone per RFC 5322 §4.3 (obs-zone).
fn offset_from_zone_name(name: &[u8]) -> i16 {
    let upper = name.to_ascii_uppercase();
    match upper.as_slice() {
        b"EDT" => -4 * 60,
        b"EST" | b"CDT" => -5 * 60,
        b"CST" | b"MDT" => -6 * 60,
        b"MST" | b"PDT" => -7 * 60,
        b"PST" => -8 * 60,
        // UT, GMT, UTC and Z are UTC itself; the military letters and any
        // unknown name "SHOULD be considered equivalent to -0000" (§4.3).
        _ => 0,
    }
}

/// Replace every comment (RFC 5322 §3.2.2: nested parentheses, with
/// backslash quoted-pairs inside) by a space. An unterminated comment simply
/// runs to the end, since dropping the tail is kinder than rejecting the date.
fn strip_comments(text: &[u8]) -> Vec<u8> {
    let mut output = Vec::with_capacity(text.len());
    let mut depth = 0_usize;
    let mut bytes = text.iter();
    while let Some(&byte) = bytes.next() {
        match byte {
            b'(' => {
                depth += 1;
                if depth == 1 {
                    output.push(b' ');
                }
            }
            b')' if depth > 0 => depth -= 1,
            b'\\' if depth > 0 => {
                bytes.next();
            }
            _ if depth > 0 => {}
            _ => output.push(byte),
        }
    }
    output
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Number(&'a [u8]),
    Word(&'a [u8]),
    Punctuation(u8),
}

/// Split into runs of digits, runs of letters and single punctuation bytes.
/// Whitespace of any kind (FWS, RFC 5322 §3.2.2) only separates tokens.
fn tokenize(text: &[u8]) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < text.len() {
        let byte = text[index];
        if byte.is_ascii_whitespace() {
            index += 1;
        } else if byte.is_ascii_digit() {
            let length = text[index..].iter().take_while(|byte| byte.is_ascii_digit()).count();
            tokens.push(Token::Number(&text[index..index + length]));
            index += length;
        } else if byte.is_ascii_alphabetic() {
            let length = text[index..].iter().take_while(|byte| byte.is_ascii_alphabetic()).count();
            tokens.push(Token::Word(&text[index..index + length]));
            index += length;
        } else {
            tokens.push(Token::Punctuation(byte));
            index += 1;
        }
    }
    tokens
}

struct TokenCursor<'tokens, 'text> {
    tokens: &'tokens [Token<'text>],
    index: usize,
}

impl<'text> TokenCursor<'_, 'text> {
    fn peek(&self) -> Option<Token<'text>> {
        self.tokens.get(self.index).copied()
    }

    fn next(&mut self) -> Option<Token<'text>> {
        let token = self.peek()?;
        self.index += 1;
        Some(token)
    }

    fn skip_punctuation(&mut self, expected: u8) -> bool {
        if self.peek() == Some(Token::Punctuation(expected)) {
            self.index += 1;
            true
        } else {
            false
        }
    }

    fn next_number(&mut self) -> Option<&'text [u8]> {
        match self.next()? {
            Token::Number(digits) => Some(digits),
            _ => None,
        }
    }

    fn next_month(&mut self) -> Option<u32> {
        match self.next()? {
            Token::Word(word) => month_from_word(word),
            _ => None,
        }
    }

    /// RFC 5322 §4.3 obs-year: two digits are 1950..=2049 and three digits
    /// are added to 1900.
    fn next_year(&mut self) -> Option<i64> {
        let digits = self.next_number()?;
        let value = i64::from(parse_digits_max(digits, 4)?);
        match digits.len() {
            2 if value < 50 => Some(2000 + value),
            2 => Some(1900 + value),
            3 => Some(1900 + value),
            4 => Some(value),
            _ => None,
        }
    }

    /// hour ":" minute [":" second]; RFC 5322 §4.3 allows FWS around the
    /// colons, which tokenizing already absorbed.
    fn next_time(&mut self) -> Option<(u32, u32, u32)> {
        let hour = parse_digits_max(self.next_number()?, 2)?;
        if !self.skip_punctuation(b':') {
            return None;
        }
        let minute = parse_digits_max(self.next_number()?, 2)?;
        let second = if self.skip_punctuation(b':') { parse_digits_max(self.next_number()?, 2)? } else { 0 };
        Some((hour, minute, second))
    }

    /// A zone in any form the RFC or common practice produces. Never fails:
    /// anything unrecognisable reads as UTC per RFC 5322 §4.3.
    fn next_zone(&mut self) -> i16 {
        match self.peek() {
            Some(Token::Punctuation(sign @ (b'+' | b'-'))) => {
                self.index += 1;
                match self.next() {
                    Some(Token::Number(digits)) => {
                        let mut zone = vec![sign];
                        zone.extend_from_slice(digits);
                        parse_numeric_zone(&zone).unwrap_or(0)
                    }
                    _ => 0,
                }
            }
            Some(Token::Word(name)) => {
                self.index += 1;
                let offset = offset_from_zone_name(name);
                // "GMT+0200" and "UTC-0500" appear in real mail; the number is
                // the meaningful part there.
                let is_utc_prefix = [&b"GMT"[..], b"UT", b"UTC"].iter().any(|prefix| prefix.eq_ignore_ascii_case(name));
                if is_utc_prefix {
                    if let Some(Token::Punctuation(b'+' | b'-')) = self.peek() {
                        return self.next_zone();
                    }
                }
                offset
            }
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(year: i64, month: u32, day: u32, hour: i64, minute: i64, second: i64, offset: i16) -> DateTime {
        let local = days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
        DateTime { unix: local - i64::from(offset) * 60, offset_minutes: offset }
    }

    #[test]
    fn known_day_numbers() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(1900, 1, 1), -25_567);
        assert_eq!(days_from_civil(1900, 2, 28), -25_509);
        assert_eq!(civil_from_days(-25_509), (1900, 2, 28));
        // 1900 is not a leap year: the day after Feb 28 is Mar 1.
        assert_eq!(civil_from_days(-25_508), (1900, 3, 1));
        // The 32-bit time_t rollover, 2038-01-19 03:14:08 UTC.
        assert_eq!(days_from_civil(2038, 1, 19) * SECONDS_PER_DAY + 3 * 3600 + 14 * 60 + 8, 1 << 31);
        assert_eq!(days_from_civil(2100, 3, 1) - days_from_civil(2100, 2, 28), 1);
        assert_eq!(days_from_civil(1, 1, 1), -719_162);
        assert_eq!(civil_from_days(-719_162), (1, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(9999, 12, 31)), (9999, 12, 31));
    }

    #[test]
    fn every_day_from_year_1_to_9999() {
        // Walk the calendar one day at a time with plain month lengths, so the
        // closed-form conversions are checked against simple counting.
        let mut days = days_from_civil(1, 1, 1);
        for year in 1..=9999 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(days_from_civil(year, month, day), days);
                    assert_eq!(civil_from_days(days), (year, month, day));
                    days += 1;
                }
            }
        }
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2000));
        assert!(!is_leap_year(1900));
        assert!(is_leap_year(2024));
        assert!(!is_leap_year(2023));
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2023, 13), 0);
    }

    #[test]
    fn formats_imap() {
        let moment = at(1996, 7, 17, 2, 44, 25, -7 * 60);
        assert_eq!(moment.to_imap(), "17-Jul-1996 02:44:25 -0700");
        let single_digit = at(1996, 7, 7, 2, 44, 25, 5 * 60 + 30);
        assert_eq!(single_digit.to_imap(), " 7-Jul-1996 02:44:25 +0530");
        let epoch = DateTime { unix: 0, offset_minutes: 0 };
        assert_eq!(epoch.to_imap(), " 1-Jan-1970 00:00:00 +0000");
        let far = at(2040, 2, 29, 23, 59, 59, 0);
        assert_eq!(far.to_imap(), "29-Feb-2040 23:59:59 +0000");
    }

    #[test]
    fn formats_rfc5322() {
        let moment = at(1996, 7, 17, 2, 44, 25, -7 * 60);
        assert_eq!(moment.to_rfc5322(), "Wed, 17 Jul 1996 02:44:25 -0700");
        let epoch = DateTime { unix: 0, offset_minutes: 0 };
        assert_eq!(epoch.to_rfc5322(), "Thu, 1 Jan 1970 00:00:00 +0000");
        let negative = DateTime { unix: -1, offset_minutes: -30 };
        assert_eq!(negative.to_rfc5322(), "Wed, 31 Dec 1969 23:29:59 -0030");
        assert_eq!(DateTime::parse_rfc5322(negative.to_rfc5322().as_bytes()), Some(negative));
    }

    #[test]
    fn local_days_uses_own_offset() {
        // 2024-03-01 01:00 +0200 is still 2024-02-29 in UTC.
        let moment = at(2024, 3, 1, 1, 0, 0, 120);
        assert_eq!(moment.local_days(), days_from_civil(2024, 3, 1));
        let utc = DateTime { unix: moment.unix, offset_minutes: 0 };
        assert_eq!(utc.local_days(), days_from_civil(2024, 2, 29));
        let before_epoch = DateTime { unix: -1, offset_minutes: 0 };
        assert_eq!(before_epoch.local_days(), -1);
    }

    #[test]
    fn now_is_recent_and_utc() {
        let now = DateTime::now();
        assert_eq!(now.offset_minutes, 0);
        // After 2020-01-01; a sanity check that the clock source is wired.
        assert!(now.unix > 1_577_836_800);
    }

    #[test]
    fn parses_imap_variants() {
        let expected = at(1996, 7, 7, 2, 44, 25, -7 * 60);
        for text in [
            " 7-Jul-1996 02:44:25 -0700",
            "7-Jul-1996 02:44:25 -0700",
            "07-Jul-1996 02:44:25 -0700",
            "07-JUL-1996 02:44:25 -0700",
            "07-jul-1996 02:44:25 -0700",
        ] {
            assert_eq!(DateTime::parse_imap(text.as_bytes()), Some(expected), "{text}");
        }
        assert_eq!(DateTime::parse_imap(b"17-Jul-1996 02:44:25 +0000"), Some(at(1996, 7, 17, 2, 44, 25, 0)));
        assert_eq!(DateTime::parse_imap(b"29-Feb-2000 23:59:60 +2359"), Some(at(2000, 3, 1, 0, 0, 0, 23 * 60 + 59)));
        // The last leap second of year 9999 would be year 10000: refused
        // by both parsers (fuzz target `dates`, input `31Dec9999 23:59:60`).
        assert_eq!(DateTime::parse_imap(b"31-Dec-9999 23:59:60 +0000"), None);
        assert_eq!(DateTime::parse_rfc5322(b"31 Dec 9999 23:59:60 +0000"), None);
        assert_eq!(DateTime::parse_rfc5322(b"31Dec9999 23:59:60"), None);
        assert!(DateTime::parse_rfc5322(b"31 Dec 9999 23:59:59 +0000").is_some());
    }

    #[test]
    fn rejects_bad_imap() {
        for text in [
            "",
            "31-Apr-2001 00:00:00 +0000",
            "29-Feb-1900 00:00:00 +0000",
            "00-Jan-2001 00:00:00 +0000",
            "01-Jan-2001 24:00:00 +0000",
            "01-Jan-2001 00:60:00 +0000",
            "01-Jan-2001 00:00:61 +0000",
            "01-Jan-2001 00:00:00 +2400",
            "01-Jan-2001 00:00:00 +0060",
            "01-Jan-2001 00:00:00 0000",
            "01-Jan-2001 00:00:00 *0000",
            "01-Jan-2001 00:00:00",
            "01-Jan-2001 0:00:00 +0000",
            "01-Jan-01 00:00:00 +0000",
            "01-Jan-2001  00:00:00 +0000",
            "01-Jan-2001 00:00:00 +0000 ",
            "\"01-Jan-2001 00:00:00 +0000\"",
            "001-Jan-2001 00:00:00 +0000",
            "  1-Jan-2001 00:00:00 +0000",
            "01-January-2001 00:00:00 +0000",
            "01-Foo-2001 00:00:00 +0000",
            "01 Jan 2001 00:00:00 +0000",
            "+1-Jan-2001 00:00:00 +0000",
            "01-Jan-2001 00:00:00 +00a0",
            "01-Jan-2001 00:00:00 +-100",
        ] {
            assert_eq!(DateTime::parse_imap(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn parses_imap_dates() {
        assert_eq!(parse_imap_date(b"1-Feb-1994"), Some(days_from_civil(1994, 2, 1)));
        assert_eq!(parse_imap_date(b"01-Feb-1994"), Some(days_from_civil(1994, 2, 1)));
        assert_eq!(parse_imap_date(b"01-feb-1994"), Some(days_from_civil(1994, 2, 1)));
        assert_eq!(parse_imap_date(b"1-Jan-1970"), Some(0));
        assert_eq!(parse_imap_date(b"29-Feb-2000"), Some(11_016));
        for text in [
            "",
            "29-Feb-1900",
            "31-Jun-2020",
            "0-Jan-2020",
            "001-Jan-2020",
            "1-Jan-20",
            "1-Jan-02020",
            "1-Janu-2020",
            "1 Jan 2020",
            "1-Jan-2020-",
            " 1-Jan-2020",
            "1-Jan-2020 ",
            "-Jan-2020",
            "1-Jan-+020",
        ] {
            assert_eq!(parse_imap_date(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn parses_real_world_date_headers() {
        let pacific = at(1996, 7, 17, 2, 44, 25, -7 * 60);
        let cases: &[(&str, DateTime)] = &[
            ("Wed, 17 Jul 1996 02:44:25 -0700", pacific),
            ("17 Jul 1996 02:44:25 -0700", pacific),
            ("Wed, 17 Jul 1996 02:44:25 -0700 (PDT)", pacific),
            ("Wed, 17 Jul 1996 02:44:25 PDT", pacific),
            ("Wed,17 Jul 1996 02:44:25 -0700", pacific),
            ("Wed 17 Jul 1996 02:44:25 -0700", pacific),
            ("  Wed,   17  Jul   1996   02:44:25   -0700  ", pacific),
            ("Wed, 17 Jul 1996\r\n 02:44:25 -0700", pacific),
            ("Wed, 17 Jul 96 02:44:25 -0700", pacific),
            ("Wed, 17 Jul 096 02:44:25 -0700", pacific),
            ("Wed, 17 jul 1996 02 : 44 : 25 -0700", pacific),
            ("Wednesday, 17 July 1996 02:44:25 -0700", pacific),
            ("(comment) Wed, (another (nested) one) 17 Jul 1996 02:44:25 -0700", pacific),
            ("Wed, 17 Jul 1996 02:44:25 -0700 PDT", pacific),
            ("Wed, 17-Jul-1996 02:44:25 -0700", pacific),
            ("Wed Jul 17 02:44:25 1996 -0700", pacific),
            ("Wed Jul 17 02:44:25 1996", at(1996, 7, 17, 2, 44, 25, 0)),
            ("Wed Jul 17 02:44:25 PDT 1996", pacific),
            ("Wed, 17 Jul 1996 02:44 -0700", at(1996, 7, 17, 2, 44, 0, -7 * 60)),
            ("Mon, 3 Jun 2024 10:00:00 +0000 (UTC)", at(2024, 6, 3, 10, 0, 0, 0)),
            ("Mon, 3 Jun 2024 10:00:00 GMT", at(2024, 6, 3, 10, 0, 0, 0)),
            ("Mon, 3 Jun 2024 10:00:00 UT", at(2024, 6, 3, 10, 0, 0, 0)),
            ("Mon, 3 Jun 2024 10:00:00 Z", at(2024, 6, 3, 10, 0, 0, 0)),
            ("Mon, 3 Jun 2024 10:00:00 A", at(2024, 6, 3, 10, 0, 0, 0)),
            ("Mon, 3 Jun 2024 10:00:00 CEST", at(2024, 6, 3, 10, 0, 0, 0)),
            ("Mon, 3 Jun 2024 10:00:00", at(2024, 6, 3, 10, 0, 0, 0)),
            ("Mon, 3 Jun 2024 10:00:00 GMT+0200", at(2024, 6, 3, 10, 0, 0, 120)),
            ("Mon, 3 Jun 2024 10:00:00 +0530 (IST)", at(2024, 6, 3, 10, 0, 0, 330)),
            ("Mon, 3 Jun 2024 10:00:00 +2500", at(2024, 6, 3, 10, 0, 0, 0)),
            ("Mon, 3 Jun 2024 10:00:00 EST", at(2024, 6, 3, 10, 0, 0, -300)),
            ("Mon, 3 Jun 2024 10:00:00 edt", at(2024, 6, 3, 10, 0, 0, -240)),
            ("Mon, 3 Jun 2024 10:00:00 CST", at(2024, 6, 3, 10, 0, 0, -360)),
            ("Mon, 3 Jun 2024 10:00:00 CDT", at(2024, 6, 3, 10, 0, 0, -300)),
            ("Mon, 3 Jun 2024 10:00:00 MST", at(2024, 6, 3, 10, 0, 0, -420)),
            ("Mon, 3 Jun 2024 10:00:00 MDT", at(2024, 6, 3, 10, 0, 0, -360)),
            ("Mon, 3 Jun 2024 10:00:00 PST", at(2024, 6, 3, 10, 0, 0, -480)),
            ("Fri, 1 Jan 49 00:00:00 +0000", at(2049, 1, 1, 0, 0, 0, 0)),
            ("1 Jan 50 00:00:00 +0000", at(1950, 1, 1, 0, 0, 0, 0)),
            ("Sat, 31 Dec 2016 23:59:60 +0000", at(2017, 1, 1, 0, 0, 0, 0)),
            ("Tue, 19 Jan 2038 03:14:08 +0000", DateTime { unix: 1 << 31, offset_minutes: 0 }),
            ("Thu, 13 Feb 2020 18:31:30 +0100 (CET", at(2020, 2, 13, 18, 31, 30, 60)),
            ("Thu, 13 Feb 2020 18:31:30 +0100 (a \\) b)", at(2020, 2, 13, 18, 31, 30, 60)),
        ];
        for (text, expected) in cases {
            assert_eq!(DateTime::parse_rfc5322(text.as_bytes()), Some(*expected), "{text:?}");
        }
    }

    #[test]
    fn rejects_unparseable_date_headers() {
        for text in [
            "",
            "   ",
            "(only a comment)",
            "yesterday",
            "Wed, 17 Jul",
            "Wed, 17 Jul 1996",
            "Wed, 32 Jul 1996 02:44:25 -0700",
            "Wed, 29 Feb 1900 02:44:25 -0700",
            "Wed, 17 Foo 1996 02:44:25 -0700",
            "Wed, 17 Jul 1996 24:00:00 -0700",
            "Wed, 17 Jul 1996 02:60:00 -0700",
            "Wed, 17 Jul 1996 02:44:61 -0700",
            "Wed, 17 Jul 1 02:44:25 -0700",
            "Wed, 17 Jul 19960 02:44:25 -0700",
            "Wed, 117 Jul 1996 02:44:25 -0700",
            "Wed, 17 Jul 1996 02 -0700",
            "Wed, 17 Jul 1996 002:44:25 -0700",
            "1996-07-17T02:44:25Z",
            ", 17 Jul 1996 02:44:25 -0700",
        ] {
            assert_eq!(DateTime::parse_rfc5322(text.as_bytes()), None, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn fast_imap_text_matches_the_formatted_one(unix in -100_000_000_000i64..400_000_000_000i64, offset in -1439i16..=1439) {
            let date = DateTime { unix, offset_minutes: offset };
            prop_assert_eq!(date.to_imap(), date.to_imap_formatted());
        }

        #[test]
        fn civil_round_trip(days in days_from_civil(1, 1, 1)..=days_from_civil(9999, 12, 31)) {
            let (year, month, day) = civil_from_days(days);
            prop_assert!((1..=9999).contains(&year));
            prop_assert!((1..=12).contains(&month));
            prop_assert!(day >= 1 && day <= days_in_month(year, month));
            prop_assert_eq!(days_from_civil(year, month, day), days);
        }

        #[test]
        fn imap_round_trip(
            local in days_from_civil(1, 1, 1) * SECONDS_PER_DAY..days_from_civil(10_000, 1, 1) * SECONDS_PER_DAY,
            offset in -(23 * 60 + 59)..=(23 * 60 + 59_i16),
        ) {
            let moment = DateTime { unix: local - i64::from(offset) * 60, offset_minutes: offset };
            let text = moment.to_imap();
            prop_assert_eq!(DateTime::parse_imap(text.as_bytes()), Some(moment), "{}", text);
            let header = moment.to_rfc5322();
            prop_assert_eq!(DateTime::parse_rfc5322(header.as_bytes()), Some(moment), "{}", header);
            let date = text.trim_start();
            let date = &date[..date.find(' ').unwrap_or(date.len())];
            prop_assert_eq!(parse_imap_date(date.as_bytes()), Some(moment.local_days()));
        }

        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = DateTime::parse_imap(&bytes);
            let _ = DateTime::parse_rfc5322(&bytes);
            let _ = parse_imap_date(&bytes);
        }

        #[test]
        fn parsers_never_panic_on_near_misses(text in "[ 0-9A-Za-z:+,()\\\\-]{0,40}") {
            let _ = DateTime::parse_imap(text.as_bytes());
            let _ = DateTime::parse_rfc5322(text.as_bytes());
            let _ = parse_imap_date(text.as_bytes());
        }

        #[test]
        fn formatting_never_panics(unix in any::<i64>(), offset in any::<i16>()) {
            let moment = DateTime { unix, offset_minutes: offset };
            let _ = moment.to_imap();
            let _ = moment.to_rfc5322();
            let _ = moment.local_days();
        }
    }
}

//! What SEARCH and SORT gather of their matches when RETURN options are
//! given ([`Gathered`]), and the `* ESEARCH` response they answer with
//! (RFC 4731, RFC 5267 §3.2 for ESORT, RFC 9394 for PARTIAL), the `$` it
//! keeps (RFC 5182), and the number sets live searches write too. Part of
//! the search engine (`imap::search`).

use std::io;

use super::live as context;
use crate::imap::encode;
use crate::imap::types::SearchReturn;
use crate::net::Connection;

/// Whether RETURN (...) asks for an ESEARCH response: any result option,
/// or UPDATE alone (RFC 5267 §4.3: the client then learns the search's
/// correlator, and the results come as ADDTO later; an empty ESEARCH, as
/// for SAVE alone, would say nothing).
pub(crate) fn writes_esearch(ret: &SearchReturn) -> bool {
    ret.min || ret.max || ret.count || ret.all || ret.partial.is_some() || ret.update
}

/// What a SEARCH with result options collects as matches come, in
/// ascending order: only what the options ask for, numbers as ranges.
#[derive(Default)]
pub(crate) struct Gathered {
    count: u32,
    /// (number, UID, modseq) of the first and last match.
    first: Option<(u32, u32, u64)>,
    last: Option<(u32, u32, u64)>,
    /// The highest modseq of all matches (with a MODSEQ key).
    pub(crate) highest: u64,
    /// Every match's number (ALL).
    numbers: Vec<(u32, u32)>,
    /// Every match's UID (SAVE, unless only MIN/MAX are asked for).
    pub(crate) uids: Vec<(u32, u32)>,
}

impl Gathered {
    pub(crate) fn add(&mut self, ret: &SearchReturn, number: u32, uid: u32, modseq: u64) {
        self.count += 1;
        self.first.get_or_insert((number, uid, modseq));
        self.last = Some((number, uid, modseq));
        self.highest = self.highest.max(modseq);
        if ret.all || ret.partial.is_some() {
            push_number(&mut self.numbers, number);
        }
        // SAVE of more than MIN/MAX, and UPDATE (the live search starts
        // from every match), keep the UIDs.
        if (ret.save && (!saves_only_ends(ret) || ret.partial.is_some())) || ret.update {
            push_number(&mut self.uids, uid);
        }
    }

    /// `* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL set]`;
    /// RFC 4731 §3.1: MIN, MAX and ALL are left out when nothing matched.
    pub(crate) async fn write(
        &self,
        conn: &mut Connection,
        tag: &str,
        uid: bool,
        ret: &SearchReturn,
        with_modseq: bool,
    ) -> io::Result<()> {
        let out = conn.out();
        out.extend_from_slice(b"* ESEARCH (TAG ");
        encode::string(out, tag.as_bytes());
        out.push(b')');
        if uid {
            out.extend_from_slice(b" UID");
        }
        if let (true, Some((number, ..))) = (ret.min, self.first) {
            out.extend_from_slice(b" MIN ");
            encode::number(out, number);
        }
        if let (true, Some((number, ..))) = (ret.max, self.last) {
            out.extend_from_slice(b" MAX ");
            encode::number(out, number);
        }
        if ret.count {
            out.extend_from_slice(b" COUNT ");
            encode::number(out, self.count);
        }
        if ret.all && !self.numbers.is_empty() {
            out.extend_from_slice(b" ALL ");
            write_set(conn, &self.numbers).await?;
        }
        if let Some(partial) = ret.partial {
            write_partial(conn, partial, &self.numbers).await?;
        }
        let out = conn.out();
        // RFC 7162 §3.1.5 / RFC 4731 §3.2: the highest modseq of what is
        // returned: with only MIN and/or MAX, of those messages.
        if with_modseq && self.count > 0 {
            let only_ends = !(ret.all || ret.count || ret.partial.is_some());
            let ends = [ret.min.then_some(self.first), ret.max.then_some(self.last)];
            let of_ends = ends.iter().flatten().flatten().map(|&(_, _, modseq)| modseq).max().unwrap_or(0);
            let modseq = if only_ends && of_ends > 0 { of_ends } else { self.highest };
            out.extend_from_slice(b" MODSEQ ");
            encode::number(out, modseq);
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// The UIDs `$` keeps. RFC 5182 §2.4: with only MIN and/or MAX, just
    /// those messages; otherwise every match. RFC 9394 §3.2: with PARTIAL
    /// (and no COUNT), the messages in its window, and MIN's and MAX's.
    pub(crate) fn saved(&mut self, ret: &SearchReturn) -> Vec<(u32, u32)> {
        if !saves_only_ends(ret) {
            return std::mem::take(&mut self.uids);
        }
        let mut saved = match ret.partial {
            // SEARCH matches come in UID order: the window of the numbers
            // is the same window of the UIDs.
            Some(partial) => context::window(&self.uids, partial),
            None => Vec::new(),
        };
        if let (true, Some((_, uid, _))) = (ret.min, self.first) {
            saved.push((uid, uid));
        }
        if let (true, Some((_, uid, _))) = (ret.max, self.last) {
            saved.push((uid, uid));
        }
        context::normalize(&mut saved);
        saved
    }
}

/// Whether `$` keeps only some matches (MIN's, MAX's, PARTIAL's window):
/// RFC 5182 §2.4 and RFC 9394 §3.2; COUNT or ALL make it every match.
fn saves_only_ends(ret: &SearchReturn) -> bool {
    !(ret.all || ret.count) && (ret.min || ret.max || ret.partial.is_some())
}

/// ` PARTIAL (range set)`, or `NIL` for the set when the window holds no
/// result (RFC 9394 §3.1, §4), the range echoed as the client gave it.
async fn write_partial(
    conn: &mut Connection,
    partial: crate::imap::types::PartialRange,
    numbers: &[(u32, u32)],
) -> io::Result<()> {
    let window = context::window(numbers, partial);
    conn.out().extend_from_slice(format!(" PARTIAL ({partial} ").as_bytes());
    if window.is_empty() {
        conn.out().extend_from_slice(b"NIL");
    } else {
        write_set(conn, &window).await?;
    }
    conn.out().push(b')');
    Ok(())
}

/// Appends `number` (ascending) to a list of ranges, extending the last.
pub(crate) fn push_number(ranges: &mut Vec<(u32, u32)>, number: u32) {
    match ranges.last_mut() {
        Some(last) if last.1.checked_add(1) == Some(number) => last.1 = number,
        _ => ranges.push((number, number)),
    }
}

/// `1:3,7,9:10`, sent as the buffer fills.
pub(crate) async fn write_set(conn: &mut Connection, ranges: &[(u32, u32)]) -> io::Result<()> {
    for (position, &(low, high)) in ranges.iter().enumerate() {
        let out = conn.out();
        if position > 0 {
            out.push(b',');
        }
        encode::number(out, low);
        if high != low {
            out.push(b':');
            encode::number(out, high);
        }
        conn.flush_if_full().await?;
    }
    Ok(())
}

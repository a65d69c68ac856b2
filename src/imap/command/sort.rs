//! SORT and UID SORT (RFC 5256 §3) with ESORT's RETURN options (RFC 5267)
//! and PARTIAL (RFC 9394). The scan that finds the matches and reads
//! their sort values is the search engine's (`imap::search`); the sort itself
//! (`imap::sort`) runs inline for up to [`INLINE_WORK`] messages and on the
//! worker pool beyond.

use std::io;

use crate::imap::code::Code;
use crate::imap::encode;
use crate::imap::search::live as context;
use crate::imap::session::{Selected, Status};
use crate::imap::sort::sort_keyed;
use crate::imap::types::SortArguments;
use crate::util::pool;

use crate::imap::search::{
    expunge_issued, job_failed, mentions_modseq, needs_of, scan, utf8_charset_allowed, write_numbers, writes_esearch,
    Collect, Gathered, INLINE_WORK,
};

/// SORT and UID SORT (RFC 5256 §3), with ESORT's RETURN (RFC 5267).
pub async fn run(mut session: Selected<'_>, tag: &str, arguments: SortArguments) -> io::Result<()> {
    let SortArguments { uid, ret, criteria, charset, key } = arguments;
    let Ok(()) = utf8_charset_allowed(&mut session, tag, &charset) else { return Ok(()) };
    // RFC 5182 §2.1, as for SEARCH: a failed SAVE leaves `$` empty.
    if ret.is_some_and(|ret| ret.save) {
        session.view_mut().saved = Vec::new();
    }
    let needs = needs_of(&criteria);
    // RFC 5267 §4.3 (CONTEXT=SORT): UPDATE keeps the sort live.
    let Ok(live) = context::admit(&mut session, tag, ret.as_ref(), &key) else { return Ok(()) };
    let live_charset = charset.clone();
    let mut collect =
        Collect::Inputs { needs, criteria: criteria.clone(), keyed: Vec::new(), highest: 0, provoke: false };
    let with_modseq = mentions_modseq(&key);
    let Ok(skipped) = scan(&mut session, tag, Some(&charset), key, &mut collect).await? else { return Ok(()) };
    let Collect::Inputs { mut keyed, highest, provoke, .. } = collect else {
        // `scan` keeps the collector it is given: a server bug, said so.
        return session.finish(tag, Status::No, Some(Code::ServerBug), "SORT lost its collector").await;
    };
    let live_criteria = live.as_ref().map(|_| criteria.clone());
    // Sorting 100,000 keys takes tens of milliseconds: on the worker pool,
    // so the other sessions go on meanwhile.
    let inputs = if keyed.len() <= INLINE_WORK && !provoke {
        sort_keyed(&criteria, &mut keyed);
        keyed
    } else {
        let sorted = pool::run(move || {
            assert!(!provoke, "a test asked this job to panic");
            sort_keyed(&criteria, &mut keyed);
            keyed
        });
        match sorted.await {
            Ok(inputs) => inputs,
            Err(error) => return job_failed(&mut session, tag, error).await,
        }
    };
    let numbers = inputs.iter().map(|input| if uid { input.uid } else { input.sequence });
    match ret {
        None => {
            session.conn.write(b"* SORT");
            write_numbers(&mut session.conn, numbers).await?;
            // RFC 7162 §7 sort-data: as for SEARCH.
            let out = session.conn.out();
            if with_modseq && highest > 0 {
                out.extend_from_slice(b" (MODSEQ ");
                encode::number(out, highest);
                out.push(b')');
            }
            out.extend_from_slice(b"\r\n");
        }
        Some(ret) => {
            // RFC 5267 §3.2: MIN and MAX are the first and last in sort
            // order; ALL keeps the sort order (ranges only join numbers
            // that follow each other in it).
            let mut gathered = Gathered::default();
            for (number, input) in numbers.zip(&inputs) {
                gathered.add(&ret, number, input.uid, 0);
            }
            let order: Option<Vec<u32>> = live.is_some().then(|| inputs.iter().map(|input| input.uid).collect());
            drop(inputs);
            // The modseqs of single matches are not kept through the
            // sort: MODSEQ is the highest of all matches.
            gathered.highest = highest;
            if writes_esearch(&ret) {
                gathered.write(&mut session.conn, tag, uid, &ret, with_modseq).await?;
            }
            if let (Some(key), Some(criteria), Some(order)) = (live, live_criteria, order) {
                let results = context::Results::Sort { criteria, order };
                context::register(&mut session, tag, uid, key, live_charset, results);
            }
            if ret.save {
                let saved = gathered.saved(&ret);
                session.view_mut().saved = saved;
            }
        }
    }
    session.finish(tag, Status::Ok, expunge_issued(uid, skipped), "SORT completed").await
}

//! SEARCH and UID SEARCH (RFC 3501 §6.4.4; ESEARCH, RFC 4731; RFC 9051
//! §6.4.4): the command. It checks the charset and RETURN options, has the
//! search engine (`imap::search`) scan the mailbox, and answers with
//! `* SEARCH` (numbers streamed as found) or `* ESEARCH`, keeps `$`
//! (SEARCHRES, RFC 5182) and, with `RETURN (UPDATE)`, the live search
//! (RFC 5267, `imap::search::live`).
//!
//! How the scan is paced, how it keeps its snapshots short, and how it
//! reads long headers is the engine's, documented there.

use std::io;

use crate::imap::encode;
use crate::imap::search::live as context;
use crate::imap::search::{expunge_issued, mentions_modseq, scan, writes_esearch, Collect, Gathered};
use crate::imap::session::{Selected, Status};
use crate::imap::types::{SearchArguments, SearchReturn};

pub async fn run(mut session: Selected<'_>, tag: &str, arguments: SearchArguments) -> io::Result<()> {
    let SearchArguments { uid, ret, charset, key } = arguments;
    // RFC 6855 §3 (erratum 4029), RFC 9755: once UTF8=ACCEPT is enabled the
    // strings are UTF-8 and a CHARSET label conflicts with that.
    if session.utf8_accept && charset.is_some() {
        session.tagged(tag, Status::Bad, None, "SEARCH takes no CHARSET once UTF8=ACCEPT is enabled");
        return Ok(());
    }
    // RFC 5182 §2.1: a failed SEARCH ... RETURN (SAVE) leaves `$` empty.
    if ret.is_some_and(|ret| ret.save) {
        session.view_mut().saved = Vec::new();
    }
    // RFC 9051 §6.4.4: an IMAP4rev2 SEARCH answers with ESEARCH, ALL
    // when no RETURN option is given.
    let ret = if session.imap4rev2 {
        Some(ret.unwrap_or(SearchReturn { all: true, ..SearchReturn::default() }))
    } else {
        ret
    };
    // RFC 5267 §4.3: UPDATE keeps the search live (see `context`).
    let Ok(live) = context::admit(&mut session, tag, ret.as_ref(), &key) else { return Ok(()) };
    let mut collect = match ret {
        None => Collect::Stream { uid, highest: 0 },
        Some(ret) => Collect::Gather { uid, ret, gathered: Gathered::default() },
    };
    let with_modseq = mentions_modseq(&key);
    let live_charset = charset.clone().unwrap_or_else(|| "UTF-8".into());
    let Ok(skipped) = scan(&mut session, tag, charset.as_deref(), key, &mut collect).await? else { return Ok(()) };
    match collect {
        Collect::Stream { highest, .. } => {
            // RFC 7162 §3.1.5: a search by MODSEQ ends with the highest
            // modseq of the messages found (none found: nothing).
            if with_modseq && highest > 0 {
                let out = session.conn.out();
                out.extend_from_slice(b" (MODSEQ ");
                encode::number(out, highest);
                out.push(b')');
            }
            session.conn.write(b"\r\n");
        }
        Collect::Gather { uid, ret, mut gathered } => {
            if writes_esearch(&ret) {
                gathered.write(&mut session.conn, tag, uid, &ret, with_modseq).await?;
            }
            if let Some(key) = live {
                let results = context::Results::Search(gathered.uids.clone());
                context::register(&mut session, tag, uid, key, live_charset, results);
            }
            if ret.save {
                let saved = gathered.saved(&ret);
                session.view_mut().saved = saved;
            }
        }
        Collect::Inputs { .. } | Collect::Thread { .. } => {}
    }
    session.finish(tag, Status::Ok, expunge_issued(uid, skipped), "SEARCH completed").await
}

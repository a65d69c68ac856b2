//! THREAD and UID THREAD (RFC 5256 §3, §4). The scan is the search
//! engine's (`imap::search`); the threader (`imap::thread`) keeps only hashes of
//! each match's fields and runs on the worker pool for large answers.

use std::io;

use crate::imap::code::Code;
use crate::imap::session::{Selected, Status};
use crate::imap::thread::{Numbering, Renderer, ThreadAlgorithm, Threader};
use crate::imap::types::ThreadArguments;
use crate::util::pool;

use crate::imap::search::{expunge_issued, job_failed, scan, utf8_charset_allowed, Collect, Needs, INLINE_WORK};

/// THREAD and UID THREAD (RFC 5256 §3, §4).
pub async fn run(mut session: Selected<'_>, tag: &str, arguments: ThreadArguments) -> io::Result<()> {
    let ThreadArguments { uid, algorithm, charset, key } = arguments;
    let Ok(()) = utf8_charset_allowed(&mut session, tag, &charset) else { return Ok(()) };
    let references = algorithm == ThreadAlgorithm::References;
    let needs = Needs { date: true, subject: true, message_id: references, references, ..Needs::default() };
    let numbering = if uid { Numbering::Uid } else { Numbering::Sequence };
    let mut collect = Collect::Thread { needs, threader: Threader::new(algorithm, numbering) };
    let Ok(skipped) = scan(&mut session, tag, Some(&charset), key, &mut collect).await? else { return Ok(()) };
    let Collect::Thread { threader, .. } = collect else {
        // `scan` keeps the collector it is given: a server bug, said so.
        return session.finish(tag, Status::No, Some(Code::ServerBug), "THREAD lost its collector").await;
    };
    let threads = if threader.len() <= INLINE_WORK {
        threader.finish()
    } else {
        match pool::run(move || threader.finish()).await {
            Ok(threads) => threads,
            Err(error) => return job_failed(&mut session, tag, error).await,
        }
    };
    // RFC 5256 §5: thread-data = "THREAD" [SP 1*thread-list], so no space
    // when nothing matched (found by the session fuzzer's response oracle).
    session.conn.write(if threads.is_empty() { b"* THREAD".as_slice() } else { b"* THREAD " });
    // A piece at a time, each sent once the buffer is full: one huge
    // thread is no exception (the renderer keeps its place in a stack).
    let mut renderer = Renderer::new(&threads);
    let limit = session.conn.write_limit();
    while !renderer.write(session.conn.out(), limit) {
        session.conn.flush_if_full().await?;
    }
    session.conn.write(b"\r\n");
    session.finish(tag, Status::Ok, expunge_issued(uid, skipped), "THREAD completed").await
}

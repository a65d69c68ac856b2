//! THREAD and UID THREAD (RFC 5256 §3, §4). The scan is SEARCH's
//! (`command::search`); the threader (`imap::thread`) keeps only hashes of
//! each match's fields and runs on the worker pool for large answers.

use std::io;

use crate::imap::session::{Session, Status};
use crate::imap::thread::{Numbering, Renderer, ThreadAlgorithm, Threader};
use crate::imap::types::SearchKey;
use crate::util::pool;

use super::search::*;
use super::sort::INLINE_WORK;

/// THREAD and UID THREAD (RFC 5256 §3, §4).
pub async fn run(
    session: &mut Session,
    tag: &str,
    uid: bool,
    algorithm: ThreadAlgorithm,
    charset: String,
    key: SearchKey,
) -> io::Result<()> {
    if !utf8_charset_allowed(session, tag, &charset) {
        return Ok(());
    }
    let references = algorithm == ThreadAlgorithm::References;
    let needs = Needs { date: true, subject: true, message_id: references, references, ..Needs::default() };
    let numbering = if uid { Numbering::Uid } else { Numbering::Sequence };
    let mut collect = Collect::Thread { needs, threader: Threader::new(algorithm, numbering) };
    let Some(skipped) = scan(session, tag, Some(&charset), key, &mut collect).await? else { return Ok(()) };
    let Collect::Thread { threader, .. } = collect else { return Ok(()) };
    let threads = if threader.len() <= INLINE_WORK {
        threader.finish()
    } else {
        match pool::run(move || threader.finish()).await {
            Ok(threads) => threads,
            Err(error) => return job_failed(session, tag, error).await,
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

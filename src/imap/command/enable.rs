//! ENABLE (RFC 5161). roost has no extension that needs enabling yet, so
//! the answer names nothing: RFC 5161 §3 says unknown capabilities are
//! ignored, not refused.

use std::io;

use crate::imap::session::{Session, Status};

pub async fn run(session: &mut Session, tag: &str, _capabilities: &[String]) -> io::Result<()> {
    session.conn.write(b"* ENABLED\r\n");
    session.finish(tag, Status::Ok, None, "ENABLE completed").await
}

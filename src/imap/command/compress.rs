//! COMPRESS (RFC 4978): DEFLATE both ways from the byte after the tagged
//! OK (the server's) and after the command's CRLF (the client's).
//!
//! Offered once logged in (as Dovecot: nothing before login is worth
//! compressing, and an inflater is not handed to strangers). Over TLS the
//! compression goes inside it. A board caps how many sessions compress at
//! once (`max_compressed_connections`, 0: not offered); see
//! [`crate::net`]'s compress module for what each one costs.

use std::io;

use crate::imap::code::Code;
use crate::imap::session::{Session, Status};
use crate::net::CompressSlot;

pub async fn run(session: &mut Session, tag: &str, mechanism: &str) -> io::Result<()> {
    let max = session.server.config.limits.max_compressed_connections;
    // RFC 4978 §3: BAD for an unknown mechanism; DEFLATE is the only one.
    if mechanism != "DEFLATE" || max == 0 {
        session.tagged(tag, Status::Bad, None, &format!("Unknown compression mechanism {mechanism}"));
        return Ok(());
    }
    if session.conn.is_compressed() {
        // RFC 4978 §3 and RFC 5530 §3: already active (Dovecot says NO too).
        session.tagged(tag, Status::No, Some(Code::CompressionActive), "DEFLATE is already active");
        return Ok(());
    }
    let Some(slot) = CompressSlot::take(max) else {
        session.tagged(tag, Status::No, Some(Code::Limit), "Too many compressed connections; go on uncompressed");
        return Ok(());
    };
    session.tagged(tag, Status::Ok, None, "DEFLATE active");
    // The OK itself goes out uncompressed (RFC 4978 §3).
    session.conn.flush().await?;
    session.conn.start_deflate(slot, session.server.config.limits.compress_level);
    Ok(())
}

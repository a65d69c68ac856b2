//! STARTTLS (RFC 3501 §6.2.1).

use std::io;

use crate::imap::session::{with_timeout, Session, Status};
use crate::net::Stream;

pub async fn run(session: &mut Session, tag: &str) -> io::Result<()> {
    if session.conn.stream.is_tls() || !session.starttls_allowed {
        session.tagged(tag, Status::Bad, None, "TLS is already active");
        return Ok(());
    }
    // Anything the client pipelined after STARTTLS was sent in the clear
    // and must not be executed as if it came over TLS (CVE-2011-0411).
    session.conn.discard_input();
    session.tagged(tag, Status::Ok, None, "Begin TLS negotiation now");
    session.conn.flush().await?;
    let Stream::Plain(tcp) = std::mem::replace(&mut session.conn.stream, Stream::Closed) else {
        return Err(io::Error::other("STARTTLS on a stream that is not plain TCP"));
    };
    let timeout = std::time::Duration::from_secs(session.server.config.limits.tls_handshake_timeout);
    match with_timeout(timeout, session.server.certificates.acceptor().accept(tcp)).await {
        Some(Ok(tls)) => {
            session.conn.stream = Stream::Tls(Box::new(tls));
            session.conn.discard_input();
            Ok(())
        }
        Some(Err(error)) => Err(io::Error::other(format!("TLS negotiation failed: {error}"))),
        None => Err(io::Error::new(io::ErrorKind::TimedOut, "TLS negotiation timed out")),
    }
}

//! ENABLE (RFC 5161). IMAP4rev2 (RFC 9051 §6.3.1) is the one capability
//! that can be enabled; RFC 5161 §3 says unknown capabilities are ignored,
//! not refused.

use std::io;

use crate::imap::session::{Session, State, Status};

pub async fn run(session: &mut Session, tag: &str, capabilities: &[String]) -> io::Result<()> {
    let mut enabled = String::from("* ENABLED");
    // The parser upper-cases capability names.
    if capabilities.iter().any(|name| name == "IMAP4REV2") && !session.imap4rev2 {
        session.imap4rev2 = true;
        enabled.push_str(" IMAP4rev2");
        // RFC 9051 has no \Recent; a client enabling it while a mailbox
        // is selected (RFC 5161 expects ENABLE before) sees none from now.
        if let State::Selected(_, view) = &mut session.state {
            view.recent.clear();
        }
    }
    enabled.push_str("\r\n");
    session.conn.write(enabled.as_bytes());
    session.finish(tag, Status::Ok, None, "ENABLE completed").await
}

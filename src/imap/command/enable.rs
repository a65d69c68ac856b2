//! ENABLE (RFC 5161) of IMAP4rev2 (RFC 9051 §6.3.1), UTF8=ACCEPT (RFC
//! 6855, RFC 9755), CONDSTORE and QRESYNC
//! (RFC 7162), UIDONLY (RFC 9586). The implicit enabling of CONDSTORE by
//! the commands that use it (RFC 7162 §3.1) is `session::condstore`.
//!
//! Other capabilities are ignored, not refused (RFC 5161 §3).

use std::io;

use crate::imap::session::condstore::condstore;
use crate::imap::session::{Session, State, Status};

pub async fn run(session: &mut Session, tag: &str, capabilities: &[String]) -> io::Result<()> {
    // RFC 5161 §3.2: ENABLED lists what this command newly enabled. The
    // parser upper-cases capability names.
    let mut line = String::from("* ENABLED");
    for capability in capabilities {
        match capability.as_str() {
            "IMAP4REV2" if !session.imap4rev2 => {
                session.imap4rev2 = true;
                line.push_str(" IMAP4rev2");
                // RFC 9051 has no \Recent; a client enabling it while a mailbox
                // is selected (RFC 5161 expects ENABLE before) sees none from now.
                if let State::Selected(_, view) = &mut session.state {
                    view.recent.clear();
                }
            }
            // RFC 6855 §3 / RFC 9755: UTF-8 mailbox names and header
            // values for an IMAP4rev1 client (IMAP4rev2 has them already).
            "UTF8=ACCEPT" if !session.utf8_accept => {
                session.utf8_accept = true;
                line.push_str(" UTF8=ACCEPT");
            }
            "CONDSTORE" if !session.condstore => {
                condstore(session);
                line.push_str(" CONDSTORE");
            }
            // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
            "QRESYNC" if !session.qresync => {
                condstore(session);
                session.qresync = true;
                line.push_str(" QRESYNC");
            }
            // RFC 9586 §3.1: UIDs only, both ways (command::uidonly).
            "UIDONLY" if !session.uid_only => {
                session.uid_only = true;
                if let State::Selected(_, view) = &mut session.state {
                    view.uid_only = true;
                }
                line.push_str(" UIDONLY");
            }
            _ => {}
        }
    }
    line.push_str("\r\n");
    session.conn.write(line.as_bytes());
    session.finish(tag, Status::Ok, None, "ENABLE completed").await
}

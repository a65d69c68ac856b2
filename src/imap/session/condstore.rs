//! Enabling CONDSTORE (RFC 7162 §3.1): by ENABLE, and implicitly by every
//! CONDSTORE enabling command (FETCH and SEARCH with MODSEQ, STORE with
//! UNCHANGEDSINCE, STATUS HIGHESTMODSEQ, SELECT (CONDSTORE), NOTIFY's
//! MODSEQ). Below the commands, so each reaches it without reaching into
//! ENABLE's file; it may use the session and `imap::encode`.

use crate::imap::encode;
use crate::imap::session::{Session, State};

/// Enables CONDSTORE, as every CONDSTORE enabling command does (RFC 7162
/// §3.1). The first one with a mailbox selected also reports its
/// HIGHESTMODSEQ, the point from which the client now gets MODSEQs.
pub fn condstore(session: &mut Session) {
    if session.condstore {
        return;
    }
    session.condstore = true;
    if let State::Selected(_, view) = &session.state {
        // Everything up to it has been reported to the client (the lower
        // of the UID list's and the flags' points, as this user sees it).
        let highest = view.highest_modseq();
        let out = session.conn.out();
        out.extend_from_slice(b"* OK [HIGHESTMODSEQ ");
        encode::number(out, highest);
        out.extend_from_slice(b"] Highest\r\n");
    }
}

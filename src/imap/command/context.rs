//! CANCELUPDATE (RFC 5267 §4.3.5): ends live searches by their tags. The
//! live searches themselves (`RETURN (UPDATE)` of SEARCH and SORT, their
//! ADDTO and REMOVEFROM updates) are the search engine's
//! (`imap::search::live`).

use std::io;

use crate::imap::session::{Selected, Status};

/// CANCELUPDATE "tag" ... (RFC 5267 §4.3.5).
pub async fn cancel_update(mut session: Selected<'_>, tag: &str, tags: Vec<String>) -> io::Result<()> {
    let view = session.view_mut();
    let live = &mut view.live_searches.list;
    if let Some(unknown) = tags.iter().find(|wanted| !live.iter().any(|search| &search.tag == *wanted)) {
        // The syntax is right, the tag just names nothing live: NO, as
        // Dovecot answers (BAD is for syntax errors).
        let text = format!("No live search has the tag {unknown:?}");
        return session.finish(tag, Status::No, None, &text).await;
    }
    live.retain(|search| !tags.contains(&search.tag));
    session.finish(tag, Status::Ok, None, "CANCELUPDATE completed").await
}

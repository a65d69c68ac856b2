//! `roost export` on the server's side: the request
//! `export USER FORMAT DIR` (FORMAT `maildir` or `mbox`, DIR an absolute
//! path in unpadded base64: a path may hold spaces) runs one export on a
//! std thread of its own and answers its summary when it is done.
//!
//! The export walks whole mailboxes and writes files: that must never run
//! on the session executor. Its thread reads through a `Snapshot` that it
//! closes after every batch (see `crate::export`), so sessions and the
//! store thread go on as usual meanwhile; the request's task only waits
//! for the answer.

use std::path::PathBuf;

use crate::export::{self, Format};
use crate::server::Server;

pub async fn run(server: &Server, user: &str, format: &str, dir: &str) -> Result<String, String> {
    let format = Format::from_word(format).ok_or_else(|| format!("unknown export format {format:?}"))?;
    let dir = crate::util::base64::decode_unpadded(dir.as_bytes())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(PathBuf::from)
        .ok_or("bad directory encoding")?;
    if !dir.is_absolute() {
        return Err(format!("{} is not an absolute path", dir.display()));
    }
    let user = crate::auth::normalize_user_name(user)?;
    let snapshot = server.store.snapshot();
    let (answer, answered) = smol::channel::bounded(1);
    let (name, path) = (user.clone(), dir.clone());
    std::thread::Builder::new()
        .name("roost-export".into())
        .spawn(move || {
            let result = export::run(snapshot, &name, &path, format);
            let _ = answer.send_blocking(result);
        })
        .map_err(|error| format!("cannot start the export thread: {error}"))?;
    let result = answered.recv().await.map_err(|_| "the export thread stopped without an answer".to_string())?;
    match result {
        Ok(summary) => {
            let text = summary.text(&user, &dir, format);
            log::info!("{}", text.replace('\n', "; "));
            Ok(text)
        }
        Err(error) => {
            log::warn!("export of {user} to {} failed: {error}", dir.display());
            Err(error)
        }
    }
}

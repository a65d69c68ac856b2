//! `roost backup` on the server's side: the request `backup DEST`, DEST
//! the absolute path (base64, as a path may hold spaces) of a new file or
//! of a directory that gets a dated name. The answer comes once the copy
//! is written and verified (`crate::backup::run`); the CLI waits for it.

use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use crate::server::Server;

/// The request's words for `dest` (absolute).
pub fn request_words(dest: &std::path::Path) -> [String; 2] {
    use std::os::unix::ffi::OsStrExt;
    ["backup".into(), crate::util::base64::encode_unpadded(dest.as_os_str().as_bytes())]
}

pub async fn backup(server: &Server, dest: &str) -> Result<String, String> {
    let dest = crate::util::base64::decode_unpadded(dest.as_bytes())
        .map(|bytes| PathBuf::from(std::ffi::OsString::from_vec(bytes)))
        .ok_or("bad backup path encoding")?;
    if !dest.is_absolute() {
        return Err(format!("{}: the server needs an absolute path", dest.display()));
    }
    crate::backup::run(server, &dest).await.map(|backup| backup.summary())
}

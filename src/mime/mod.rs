//! MIME: header fields, content decoding for SEARCH and BINARY; the
//! streaming structure pass (ENVELOPE, BODYSTRUCTURE) joins this module
//! with the MIME issue.

// Not called yet: SEARCH and FETCH BINARY take these up when they are
// wired in; drop the allows then.
#[allow(dead_code)]
pub mod charset;
#[allow(dead_code)]
pub mod decode;
pub mod header;
#[allow(dead_code)]
pub mod matcher;

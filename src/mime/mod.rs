//! MIME: header fields, the streaming structure pass (ENVELOPE,
//! BODYSTRUCTURE, part offsets) computed once at delivery, content
//! decoding for SEARCH and BINARY, and base subjects for SORT and THREAD.

pub mod address;
// Not all of it is called yet: SEARCH and FETCH BINARY take the rest up.
#[allow(dead_code)]
pub mod charset;
#[allow(dead_code)]
pub mod decode;
pub mod header;
#[allow(dead_code)]
pub mod matcher;
pub mod render;
pub mod structure;
pub mod subject;

//! MIME: header fields, the streaming structure pass (ENVELOPE,
//! BODYSTRUCTURE, part offsets) computed once at delivery, content
//! decoding for SEARCH and BINARY, message previews (RFC 8970), and base
//! subjects for SORT and THREAD.

pub mod address;
pub mod binary;
pub mod charset;
pub mod decode;
pub mod header;
pub mod matcher;
pub mod preview;
pub mod structure;
pub mod subject;

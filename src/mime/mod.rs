//! MIME: header fields, the streaming structure pass (ENVELOPE,
//! BODYSTRUCTURE, part offsets) computed once at delivery, and base
//! subjects for SORT and THREAD.

pub mod address;
pub mod header;
pub mod render;
pub mod structure;
pub mod subject;

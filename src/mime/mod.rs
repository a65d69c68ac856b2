//! MIME: header fields, and the streaming structure pass (ENVELOPE,
//! BODYSTRUCTURE, part offsets) computed once at delivery.

pub mod address;
pub mod header;
pub mod render;
pub mod structure;

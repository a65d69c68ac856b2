//! MIME: header fields, and the streaming structure pass (ENVELOPE,
//! BODYSTRUCTURE, part offsets) computed once at delivery.

// The structure pass and its renderers are not called by APPEND/LMTP and
// FETCH yet; the allowances go when they are wired in.
#[allow(dead_code)]
pub mod address;
pub mod header;
#[allow(dead_code)]
pub mod render;
#[allow(dead_code)]
pub mod structure;

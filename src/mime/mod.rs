//! MIME: header fields now; the streaming structure pass (ENVELOPE,
//! BODYSTRUCTURE) joins this module with the MIME issue.

pub mod header;
pub mod subject;

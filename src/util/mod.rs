//! Small self-contained helpers used by several layers: codecs, address
//! keys for limits, log summaries.

pub mod address;
pub mod base64;
pub mod datetime;
pub mod heap;
pub mod log_summary;
pub mod mutf7;
pub mod pool;

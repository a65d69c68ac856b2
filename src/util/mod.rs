//! Small self-contained helpers used by several layers: codecs, address
//! keys for limits, log summaries.

pub mod address;
pub mod base64;
pub mod datetime;
// malloc_trim is a C function of glibc: calling it is unsafe by definition
// (it takes no pointer and is sound from any thread; see the SAFETY note).
#[allow(unsafe_code)]
pub mod heap;
pub mod log_summary;
pub mod mutf7;
pub mod pool;

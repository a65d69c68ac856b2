//! Small self-contained codecs used by several layers.

pub mod base64;
pub mod datetime;
pub mod mutf7;
pub mod pool;

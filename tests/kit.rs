//! The test kit's own tests: the shared harness in `tests/common` is
//! included by every suite, so its unit tests live here, run once.

mod common;

#[path = "common/responses_tests.rs"]
mod responses_tests;

#![no_main]
// See roost::fuzzing::maildir_name for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| roost::fuzzing::maildir_name(data));

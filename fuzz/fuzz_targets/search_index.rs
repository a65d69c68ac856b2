#![no_main]
// See roost::fuzzing::search_index for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| roost::fuzzing::search_index(data));

#![no_main]
// See roost::fuzzing::mutf7 for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| roost::fuzzing::mutf7(data));

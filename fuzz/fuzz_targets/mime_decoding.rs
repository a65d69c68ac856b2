#![no_main]
// See roost::fuzzing::mime_decoding for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| roost::fuzzing::mime_decoding(data));

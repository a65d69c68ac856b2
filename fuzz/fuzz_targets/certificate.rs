#![no_main]
// See roost::fuzzing::certificate for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| roost::fuzzing::certificate(data));

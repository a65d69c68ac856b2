#![no_main]
// See roost::fuzzing::mbox_split for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| roost::fuzzing::mbox_split(data));

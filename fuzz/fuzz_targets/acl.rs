#![no_main]
// See roost::fuzzing::acl for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| roost::fuzzing::acl(data));

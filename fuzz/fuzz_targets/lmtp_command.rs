#![no_main]
// See roost::fuzzing::lmtp_command for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| roost::fuzzing::lmtp_command(data));

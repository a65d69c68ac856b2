#![no_main]
// See roost::fuzzing::imap_command for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| roost::fuzzing::imap_command(data));

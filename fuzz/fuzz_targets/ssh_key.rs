//! Fuzzes `rpack::fuzzing::ssh_key` (see that function for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| rpack::fuzzing::ssh_key(bytes));

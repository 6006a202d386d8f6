//! Fuzzes `rpack::fuzzing::console_output` (see that function for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| rpack::fuzzing::console_output(bytes));

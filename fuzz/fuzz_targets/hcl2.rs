//! Fuzzes `rpack::fuzzing::hcl2` (see that function for what it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| rpack::fuzzing::hcl2(bytes));

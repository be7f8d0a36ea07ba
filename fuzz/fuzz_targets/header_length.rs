//! Fuzz target `header_length`: see `tus_conformance::fuzzing::header_length`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::header_length(data));

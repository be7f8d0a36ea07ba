//! Fuzz target `header_concat`: see `tus_conformance::fuzzing::header_concat`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::header_concat(data));

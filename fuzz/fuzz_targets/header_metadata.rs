//! Fuzz target `header_metadata`: see `tus_conformance::fuzzing::header_metadata`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::header_metadata(data));

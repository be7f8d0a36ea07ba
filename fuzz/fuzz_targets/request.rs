//! Fuzz target `request`: see `tus_conformance::fuzzing::request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::request(data));

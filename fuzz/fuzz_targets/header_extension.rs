//! Fuzz target `header_extension`: see `tus_conformance::fuzzing::header_extension`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::header_extension(data));

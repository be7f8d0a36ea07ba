//! Fuzz target `header_version`: see `tus_conformance::fuzzing::header_version`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::header_version(data));

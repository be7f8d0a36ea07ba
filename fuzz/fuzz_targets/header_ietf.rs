//! Fuzz target `header_ietf`: see `tus_conformance::fuzzing::header_ietf`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::header_ietf(data));

//! Fuzz target `header_expires`: see `tus_conformance::fuzzing::header_expires`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::header_expires(data));

//! Fuzz target `header_method_override`: see `tus_conformance::fuzzing::header_method_override`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::header_method_override(data));

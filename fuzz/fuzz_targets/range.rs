//! Fuzz target `range`: see `tus_conformance::fuzzing::range`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::range(data));

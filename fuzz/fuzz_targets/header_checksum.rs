//! Fuzz target `header_checksum`: see `tus_conformance::fuzzing::header_checksum`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::header_checksum(data));

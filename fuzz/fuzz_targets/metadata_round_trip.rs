//! Fuzz target `metadata_round_trip`: see `tus_conformance::fuzzing::metadata_round_trip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::metadata_round_trip(data));

//! Fuzz target `stateful`: see `tus_conformance::fuzzing::stateful`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tus_conformance::fuzzing::stateful(data));

//! See `sso_filters::fuzzing::discovered_issuer` for the input format and the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::discovered_issuer(data));

//! See `sso_filters::fuzzing::id_token_signature` for the input format and the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::id_token_signature(data));

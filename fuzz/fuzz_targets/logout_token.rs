//! See `sso_filters::fuzzing::logout_token` for the input format and the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::logout_token(data));

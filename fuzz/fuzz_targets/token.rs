//! Gateway bearer tokens: ES256 verification of presented and tampered tokens.
//! The input format and invariants are documented on `sso_filters::fuzzing::token`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::token(data));

//! The headers that decide whether a request may start a login
//! (`sso_filters::navigation`). The input format and invariants are documented on
//! `sso_filters::fuzzing::navigation`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::navigation(data));

//! Request-targets: path canonicalisation and route matching
//! (`sso_filters::request_path`). The input format and invariants are documented on
//! `sso_filters::fuzzing::request_path`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::request_path(data));

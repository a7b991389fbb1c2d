//! Incoming `X-Request-Id` headers (`sso_filters::request_id`). The input format and
//! invariants are documented on `sso_filters::fuzzing::request_id`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::request_id(data));

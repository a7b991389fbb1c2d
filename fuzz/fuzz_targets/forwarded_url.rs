//! The URL a proxy asks forward-auth about (`sso_filters::forwarded_url::forwarded_url`).
//! The input format and invariants are documented on `sso_filters::fuzzing::forwarded_url`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sso_filters::fuzzing::forwarded_url(data));
